"""What every measurement shares: the machine it ran on, timing a whole process, its JSON.

Usage (from another script)::

    from machine import describe_cpu, save_result, timed, train
    seconds, history, stdout = train("../shared/data", "fast", "--seed", "2")
    save_result("benchmarks/NAME.json", {"cpu": describe_cpu(), "rows": rows})
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mnistlite.atomic import save_json
from mnistlite.training import cpu_bf16_flags

REPO = Path(__file__).resolve().parents[1]


def cpu_flags() -> tuple[str, set[str]]:
    """The CPU's model name and its flags, from /proc/cpuinfo where there is one."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return model, flags


def describe_cpu() -> dict:
    """Model name, cores, avx512_bf16 and AMX flags, and a one-line summary."""
    model = cpu_flags()[0]
    flags = cpu_bf16_flags()
    avx512_bf16, amx = "avx512_bf16" in flags, "amx_bf16" in flags
    yes = {True: "yes", False: "no"}
    summary = f"{model}, {os.cpu_count()} cores, avx512_bf16 {yes[avx512_bf16]}, AMX {yes[amx]}"
    return {"model": model, "cores": os.cpu_count(), "avx512_bf16": avx512_bf16, "amx": amx,
            "summary": summary}  # fmt: skip


def load_average() -> float | None:
    """The one-minute load average (how busy the shared machine is), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def command_line() -> str:
    """The running script's command, as a reader types it from the repository root."""
    return " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def timed(command: list[str]) -> tuple[float, str]:
    """Run ``command`` as its own process, on this checkout's package; return its wall time
    and stdout (exit if it fails)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, done.stdout


def train(root: str, recipe: str, *extra: str) -> tuple[float, dict, str]:
    """Time ``mnistlite train RECIPE`` as a whole process; return seconds, history, stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "mnistlite", "train", recipe, "--data", root]
        seconds, stdout = timed([*command, "--out", str(out), "--no-progress", *extra])
        return seconds, json.loads((out / "history.json").read_text()), stdout


def save_result(path: str | Path, result: dict) -> Path:
    """Write a measurement's JSON: its name and command first, then ``result``."""
    name = Path(path).stem
    return save_json(path, {"name": name, "command": command_line(), **result})
