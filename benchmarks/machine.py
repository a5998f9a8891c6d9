"""The CPU a benchmark ran on: model name, core count and the flags that matter.

Usage (from another script): ``from machine import describe_cpu, load_average``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from mnistlite.training import cpu_bf16_flags


def describe_cpu() -> dict:
    """Model name, cores, avx512_bf16 and AMX flags, and a one-line summary."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    flags = cpu_bf16_flags()
    avx512_bf16, amx = "avx512_bf16" in flags, "amx_bf16" in flags
    summary = (
        f"{model}, {os.cpu_count()} cores, avx512_bf16 {'yes' if avx512_bf16 else 'no'}, "
        f"AMX {'yes' if amx else 'no'}"
    )
    return {
        "model": model,
        "cores": os.cpu_count(),
        "avx512_bf16": avx512_bf16,
        "amx": amx,
        "summary": summary,
    }


def load_average() -> float | None:
    """The one-minute load average (how busy the shared machine is), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
