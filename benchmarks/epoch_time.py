"""Time one step-7 epoch (+ test pass): ``mnistlite train`` against the classic pipeline.

Usage::

    python benchmarks/epoch_time.py --data ../shared/data [--rounds 3] [--out FILE.json]

Each measurement is a whole process, from its start to its end (imports, loading the
dataset, one training epoch of the step-7 recipe from a fresh seed-1 network, the
test pass): ``benchmarks/classic.py --epochs 1`` (the seed's notebook code path) and
``python -m mnistlite train step7 --epochs 1`` with the command line's defaults, plus
each variant in ``--variants`` (extra CLI switches). The machine may be shared with
other jobs, so the pipelines are interleaved (classic, mnistlite, variants, classic,
...) for ``--rounds`` rounds and the medians are compared: a load that comes and goes
then hits all of them alike. Writes the JSON and ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mnistlite.atomic import save_json

try:
    from benchmarks import results_md
    from benchmarks.machine import describe_cpu, load_average
except ImportError:  # run as a script from the repo root
    import results_md  # type: ignore[no-redef]
    from machine import describe_cpu, load_average  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
VARIANTS = {"defaults": [], "--no-bf16": ["--no-bf16"]}


def timed(command: list[str]) -> tuple[float, str]:
    """Run a command; return its wall time and stdout; exit loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, done.stdout


def classic(root: str, workers: int) -> tuple[float, float]:
    """Seconds and epoch-1 test accuracy of the classic pipeline."""
    command = [sys.executable, str(HERE / "classic.py"), "--data", root, "--epochs", "1"]
    seconds, stdout = timed([*command, "--workers", str(workers)])
    last = stdout.strip().splitlines()[-1]  # "classic epoch 1: test 97.72% at 38.1 s"
    return seconds, float(last.split("test ")[1].split("%")[0])


def mnistlite(root: str, extra: list[str]) -> tuple[float, float, str]:
    """Seconds, epoch-1 test accuracy and precision line of ``mnistlite train step7``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "mnistlite", "train", "step7", "--epochs", "1"]
        command += ["--data", root, "--out", str(out), "--no-progress", *extra]
        seconds, stdout = timed(command)
        history = json.loads((out / "history.json").read_text())
    precision = next((line for line in stdout.splitlines() if "precision:" in line), "")
    return seconds, history["epochs"][-1]["test_acc"], precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="MNIST root")
    parser.add_argument("--workers", type=int, default=2, help="classic DataLoader workers")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", default=str(HERE / "epoch_time.json"))
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()

    cpu = describe_cpu()
    print(f"{cpu['summary']}; torch {torch.__version__}", flush=True)
    names = ["classic", *args.variants.split(",")]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    precision = ""
    for round_ in range(1, args.rounds + 1):
        for name in names:
            load = load_average()
            if name == "classic":
                seconds, acc = classic(args.data, args.workers)
            else:
                seconds, acc, line = mnistlite(args.data, VARIANTS[name])
                precision = line if name == "defaults" else precision
            runs[name].append({"seconds": seconds, "test_acc": acc, "load_before": load})
            print(f"round {round_}: {name}: {seconds:.1f} s, {acc:.2f}% (load {load})", flush=True)
    base = statistics.median(r["seconds"] for r in runs["classic"])
    rows = []
    for name in names:
        median = statistics.median(r["seconds"] for r in runs[name])
        label = "classic (PIL + DataLoader)" if name == "classic" else f"mnistlite train {name}"
        rows.append(
            {
                "pipeline": label,
                "seconds": [r["seconds"] for r in runs[name]],
                "median_seconds": median,
                "ratio": median / base,
                "test_acc": [r["test_acc"] for r in runs[name]],
                "load_before": [r["load_before"] for r in runs[name]],
            }
        )
        print(f"{label}: median {median:.1f} s, {median / base:.2f}x the classic pipeline")
    save_json(
        args.out,
        {
            "command": "python benchmarks/epoch_time.py " + " ".join(sys.argv[1:]),
            "cpu": cpu,
            "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "rounds": args.rounds,
            "precision": precision,
            "rows": rows,
        },
    )
    results_md.write(args.results)
    print(f"wrote {args.out} and {args.results}")


if __name__ == "__main__":
    main()
