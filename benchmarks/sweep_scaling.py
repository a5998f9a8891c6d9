"""Sweep throughput: complete trials per minute with 1, 2 and 4 local workers on one study.

Usage: python benchmarks/sweep_scaling.py --data ../shared/data [--postgres URL]
       python benchmarks/sweep_scaling.py --render   # only rewrite the RESULTS.md section

Each configuration runs ``mnistlite.sweep.run_sweep(workers=N, threads=1)`` on a fresh study
of 1-epoch trials on a slice of the training images, on PostgreSQL (a throwaway cluster
on a unix socket unless ``--postgres`` names a database) and on Optuna's journal file.
Trials per minute are counted in the steady state: from the moment the last worker began
its first trial to the last completion (each worker first spends seconds loading MNIST).
Writes benchmarks/sweep_scaling.json and the section between the sweep-scaling markers
of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import torch
from machine import describe_cpu, load_average

from mnistlite import sweep
from mnistlite.atomic import atomic_write, save_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "sweep_scaling.json"
PAGE = HERE / "RESULTS.md"
BEGIN, END = "<!-- sweep-scaling: begin -->", "<!-- sweep-scaling: end -->"
SETTINGS = dict(budget=3000, epochs=1, limit_train=2048, val_size=512, threads=1)


def _postgres(base: Path) -> tuple[str, list[str]]:
    """Start a throwaway cluster in ``base``; return its URL and the command that stops it."""
    programs = [shutil.which(n) or f"/usr/lib/postgresql/15/bin/{n}" for n in ("initdb", "pg_ctl")]
    user = {}
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
        user = {"user": entry.pw_uid, "group": entry.pw_gid}
    data = str(base / "data")
    run = [programs[0], "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]
    subprocess.run(run, check=True, capture_output=True, **user)
    options = f"-k {base} -c listen_addresses='' -c fsync=off"
    start = [programs[1], "-D", data, "-w", "-s", "-l", str(base / "log"), "-o", options, "start"]
    subprocess.run(start, check=True, capture_output=True, **user)
    stop = [programs[1], "-D", data, "-s", "-m", "immediate", "stop"]
    return f"postgresql+psycopg2://postgres@/postgres?host={base}", stop


def _measure(storage: str, workers: int, trials: int, root: str) -> dict:
    name = f"scaling-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    study = sweep.run_sweep(
        **SETTINGS, trials=trials, root=root, storage=storage, study_name=name,
        workers=workers, progress=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    firsts = {}
    for t in study.get_trials(deepcopy=False):
        worker = t.user_attrs.get("worker")
        if worker and t.datetime_start:
            firsts[worker] = min(firsts.get(worker, t.datetime_start), t.datetime_start)
    begin = max(firsts.values())
    steady = [t.datetime_complete for t in done if t.datetime_complete > begin]
    minutes = (max(steady) - begin).total_seconds() / 60
    return {
        "workers": workers,
        "complete": len(done),
        "steady_trials": len(steady),
        "trials_per_minute": round(len(steady) / minutes, 1),
        "wall_seconds": round(wall, 1),
    }


def render(data: dict) -> str:
    lines = [
        BEGIN,
        "## Sweep workers: complete trials per minute",
        "",
        f"Machine: {data['cpu']['summary']}; torch {data['torch']}, 1 torch thread per worker; "
        f"load average {data['load_before']} before, {data['load_after']} after "
        "(the machine was shared).",
        f"Trials: 1 epoch on {SETTINGS['limit_train']:,} images, validation on "
        f"{SETTINGS['val_size']} held-out training images, budget {SETTINGS['budget']:,}.",
        *(
            [
                "",
                "Other jobs kept the 2 cores busy during this run, so every figure is a lower "
                "bound and the ratios between rows are mostly noise from that load; on an idle "
                "machine, rerun the command above.",
            ]
            if (data["load_before"] or 0) > 1
            else []
        ),
        "",
        "```bash",
        data["command"],
        "```",
        "",
        "| storage | workers | trials / min | vs 1 worker | complete trials | wall (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for storage, rows in data["rows"].items():
        one = rows[0]["trials_per_minute"]
        for row in rows:
            ratio = row["trials_per_minute"] / one
            lines.append(
                f"| {storage} | {row['workers']} | {row['trials_per_minute']} | {ratio:.2f}× "
                f"| {row['complete']} | {row['wall_seconds']} |"
            )
    lines += ["", END]
    return "\n".join(lines)


def write_page(data: dict) -> None:
    page = PAGE.read_text() if PAGE.is_file() else ""
    section = render(data)
    if BEGIN in page and END in page:
        page = page[: page.index(BEGIN)] + section + page[page.index(END) + len(END) :]
    else:
        page = page.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write(PAGE, lambda f: f.write(page.encode()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--postgres", metavar="URL", help="a database to use (default: start one)")
    parser.add_argument("--per-worker", type=int, default=6, help="trials per worker")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        return write_page(json.loads(OUT.read_text()))
    load_before = load_average()
    base = Path(tempfile.mkdtemp(prefix="mnl-scale-"))
    stop = None
    try:
        url = args.postgres
        if url is None:
            url, stop = _postgres(base)
        storages = {"PostgreSQL": url, "journal file": f"journal:///{base / 'sweep.journal'}"}
        rows: dict[str, list] = {}
        for label, storage in storages.items():
            for workers in (1, 2, 4):
                row = _measure(storage, workers, args.per_worker * workers, args.data)
                print(label, row, flush=True)
                rows.setdefault(label, []).append(row)
    finally:
        if stop:
            subprocess.run(
                stop, capture_output=True, **({"user": "postgres"} if os.geteuid() == 0 else {})
            )
        shutil.rmtree(base, ignore_errors=True)
    data = {
        "name": "sweep_scaling",
        "command": "python " + " ".join(["benchmarks/sweep_scaling.py", *sys.argv[1:]]),
        "cpu": describe_cpu(),
        "torch": torch.__version__,
        "settings": SETTINGS,
        "load_before": load_before,
        "load_after": load_average(),
        "rows": rows,
    }
    save_json(OUT, data)
    write_page(data)


if __name__ == "__main__":
    main()
