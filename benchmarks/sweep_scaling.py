"""Sweep throughput: complete trials per minute with 1, 2 and 4 local workers on one study.

Usage: python benchmarks/sweep_scaling.py --data ../shared/data [--postgres URL]

``sweep.run_sweep(workers=N, threads=1)`` on PostgreSQL (a throwaway cluster unless
``--postgres`` names one) and on a journal file; trials per minute in the steady state (from
the last worker's first trial to the last completion).
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import results_md
from common import HERE, describe_machine, load_average, save_result

from mnistlite import sweep

SETTINGS = dict(budget=3000, epochs=1, limit_train=2048, val_size=512, threads=1)


def _as_postgres() -> dict:
    """subprocess.run's arguments that run a command as the postgres user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _postgres(base: Path) -> tuple[str, list[str]]:
    """Start a throwaway cluster in ``base``; return its URL and the command that stops it."""
    initdb, pg_ctl = (shutil.which(n) or f"/usr/lib/postgresql/15/bin/{n}"
                      for n in ("initdb", "pg_ctl"))  # fmt: skip
    user, data = _as_postgres(), str(base / "data")
    if user:
        os.chown(base, user["user"], user["group"])
    run = [initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]
    subprocess.run(run, check=True, capture_output=True, **user)
    options = f"-k {base} -c listen_addresses='' -c fsync=off"
    start = [pg_ctl, "-D", data, "-w", "-s", "-l", str(base / "log"), "-o", options, "start"]
    subprocess.run(start, check=True, capture_output=True, **user)
    stop = [pg_ctl, "-D", data, "-s", "-m", "immediate", "stop"]
    return f"postgresql+psycopg2://postgres@/postgres?host={base}", stop


def _measure(storage: str, workers: int, trials: int, root: str) -> dict:
    """One sweep of ``trials`` trials with ``workers`` workers: its steady trials per minute."""
    start = time.perf_counter()
    study = sweep.run_sweep(**SETTINGS, trials=trials, root=root, storage=storage,
                            workers=workers, study_name=f"scaling-{uuid.uuid4().hex[:8]}",
                            progress=False)  # fmt: skip
    wall = time.perf_counter() - start
    trials_ = study.get_trials(deepcopy=False)
    done = [t for t in trials_ if t.state.name == "COMPLETE"]
    firsts: dict = {}
    for t in trials_:
        worker = t.user_attrs.get("worker")
        if worker and t.datetime_start:
            firsts[worker] = min(firsts.get(worker, t.datetime_start), t.datetime_start)
    begin = max(firsts.values())
    steady = [t.datetime_complete for t in done if t.datetime_complete > begin]
    minutes = (max(steady) - begin).total_seconds() / 60
    return {"workers": workers, "complete": len(done), "steady_trials": len(steady),
            "trials_per_minute": round(len(steady) / minutes, 1),
            "wall_seconds": round(wall, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--postgres", metavar="URL", help="a database to use (default: start one)")
    parser.add_argument("--per-worker", type=int, default=6, help="trials per worker")
    args = parser.parse_args()
    machine, rows = describe_machine(threads=False), []
    base, stop = Path(tempfile.mkdtemp(prefix="mnl-scale-")), None
    try:
        url = args.postgres
        if url is None:
            url, stop = _postgres(base)
        storages = {"PostgreSQL": url, "journal file": f"journal:///{base / 'sweep.journal'}"}
        for label, storage in storages.items():
            for workers in (1, 2, 4):
                row = _measure(storage, workers, args.per_worker * workers, args.data)
                first = next((r for r in rows if r["storage"] == label), row)["trials_per_minute"]
                rows.append({"storage": label, **row, "vs_one": row["trials_per_minute"] / first})
                print(rows[-1], flush=True)
    finally:
        if stop:
            subprocess.run(stop, capture_output=True, **_as_postgres())
        shutil.rmtree(base, ignore_errors=True)
    machine["load_after"] = load_average()
    save_result(HERE / "sweep_scaling.json", rows, SETTINGS, machine)
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
