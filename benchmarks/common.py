"""What every benchmark shares: the machine, timing a process, the JSON, tables, templates.

One JSON shape (:func:`save_result`), pages as templates (:func:`fill`): benchmarks/README.md.
"""

import json
import os
import platform
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from mnistlite.atomic import atomic_write, save_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGETS = json.loads((HERE / "targets.json").read_text())
STD_NOTE = "± is the sample standard deviation (n − 1) over seeds."


def load(path: str | Path, default: object = None) -> object:
    """The JSON at ``path``, or ``default`` (when given) where there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() or default is None else default


def cpu_flags() -> tuple[str, set[str]]:
    """The CPU's model name and its flags, from /proc/cpuinfo where there is one."""
    model, cpuinfo = platform.processor() or platform.machine(), Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            return model, set(line.split(":", 1)[1].split())
    return model, set()


def describe_machine(threads: bool = True) -> dict:
    """The CPU (model, cores, native bf16), torch, its threads, the load, a one-line summary."""
    model, flags = cpu_flags()
    bf16 = {"avx512_bf16": "avx512_bf16" in flags, "amx": "amx_bf16" in flags}
    yes = {True: "yes", False: "no"}
    summary = (f"{model}, {os.cpu_count()} cores, avx512_bf16 {yes[bf16['avx512_bf16']]}, "
               f"AMX {yes[bf16['amx']]}; torch {torch.__version__}"
               + (f", {torch.get_num_threads()} threads" if threads else ""))  # fmt: skip
    return {"summary": summary, "cpu": model, "cores": os.cpu_count(), **bf16,
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "load_before": load_average()}  # fmt: skip


def load_average() -> float | None:
    """The one-minute load average (how busy the shared machine is), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def save_result(path: str | Path, rows: list, settings: dict | None = None,
                machine: dict | None = None, command: str = "") -> Path:  # fmt: skip
    """Write a benchmark's JSON: name, command (default: the running one), machine, settings,
    rows."""
    command = command or " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    return save_json(path, {"name": Path(path).stem, "command": command,
                            "machine": machine or describe_machine(),
                            "settings": settings or {}, "rows": rows})  # fmt: skip


def timed(command: list[str]) -> tuple[float, str]:
    """Run ``command`` on this checkout's package; its wall time and stdout (exit on failure)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path})  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return time.perf_counter() - start, done.stdout


def train(root: str, *args: str) -> tuple[float, list[dict], str]:
    """Time ``mnistlite train ARGS`` as a whole process; seconds, histories (by seed), stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "mnistlite", "train", *args, "--data", root]
        seconds, stdout = timed([*command, "--out", tmp, "--no-progress"])
        paths = sorted(Path(tmp).glob("seed-*/history.json")) or [Path(tmp, "history.json")]
        histories = sorted(map(load, paths), key=lambda h: h["meta"]["seed"])
        return seconds, histories, stdout


def mean_std(values: Sequence[float]) -> str:
    """'m ± s' with the sample standard deviation (n − 1); just m for one value."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


class _Cells(string.Formatter):
    """``str.format`` where a list is its items joined by ", ", None is "–", and a bool's
    spec ``text if true|text if false`` picks one."""

    def format_field(self, value: object, spec: str) -> str:
        if isinstance(value, list):
            return ", ".join(self.format_field(v, spec) for v in value)
        if isinstance(value, bool) and "|" in spec:
            return spec.split("|")[not value]
        return "–" if value is None else format(value, spec)


CELLS = _Cells()


def fill(template: str, **fields: object) -> str:
    """``templates/TEMPLATE`` (or the text ``template`` if it has a newline), filled in.

    :class:`_Cells` text (``{{`` is a brace). A line ``@NAME TEXT`` is a table's row
    template: TEXT once per row of ``fields[NAME]`` (a list of dicts; a row's keys come
    first). A paragraph naming a field not given (a part not measured) is left out.
    """
    text = template if "\n" in template else (HERE / "templates" / template).read_text()
    paragraphs = []
    for paragraph in text.split("\n\n"):
        try:
            paragraphs.append("\n".join(line for each in paragraph.split("\n")
                                         for line in _lines(each, fields)))  # fmt: skip
        except (KeyError, IndexError):
            continue
    return "\n\n".join(paragraphs)


def _lines(line: str, fields: dict) -> list[str]:
    """One template line, filled: a row template (``@NAME TEXT``) gives a line per row."""
    if not line.startswith("@"):
        return [CELLS.vformat(line, (), fields)]
    name, text = line[1:].split(" ", 1)
    return [CELLS.vformat(text, (), {**fields, **row}) for row in fields[name]]


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically: an interrupted run leaves the old page whole."""
    return atomic_write(path, lambda f: f.write(text.encode()))


def write_section(path: Path, key: str, text: str) -> Path:
    """Rewrite the part of ``path`` between ``<!-- begin KEY -->`` and ``<!-- end KEY -->``
    (appended where absent), atomically."""
    begin, end = f"<!-- begin {key} -->", f"<!-- end {key} -->"
    page, block = path.read_text() if path.is_file() else "", f"{begin}\n{text}\n{end}"
    start, stop = page.find(begin), page.find(end)
    if start < 0 or stop < start:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    else:
        page = page[:start] + block + page[stop + len(end) :]
    return write_text(path, page)
