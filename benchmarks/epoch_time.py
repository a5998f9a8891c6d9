"""Time one step-7 epoch (+ test pass): ``mnistlite train`` against the classic pipeline.

Usage: python benchmarks/epoch_time.py --data ../shared/data [--rounds 3] [--variants defaults]

Each measurement is a whole process (imports, loading the dataset, one training epoch of
the step-7 recipe from a fresh seed-1 network, the test pass): ``benchmarks/classic.py
--epochs 1`` (the seed's notebook code path) and ``mnistlite train step7 --epochs 1`` with
the command line's defaults, plus each variant (extra CLI switches). The pipelines are
interleaved for ``--rounds`` rounds and their medians compared, so a load that comes and
goes on a shared machine hits all of them alike. Writes benchmarks/epoch_time.json and
its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import results_md
import torch
from machine import describe_cpu, load_average, save_result, timed, train

HERE = Path(__file__).resolve().parent
VARIANTS = {"defaults": [], "--no-bf16": ["--no-bf16"]}


def run(name: str, root: str, workers: int) -> tuple[float, float, str]:
    """Seconds, epoch-1 test accuracy and the CLI's precision line of one pipeline."""
    if name == "classic":
        command = [sys.executable, str(HERE / "classic.py"), "--data", root, "--epochs", "1"]
        seconds, stdout = timed([*command, "--workers", str(workers)])
        last = stdout.strip().splitlines()[-1]  # "classic epoch 1: test 97.72% at 38.1 s"
        return seconds, float(last.split("test ")[1].split("%")[0]), ""
    seconds, history, stdout = train(root, "step7", "--epochs", "1", *VARIANTS[name])
    precision = next((line for line in stdout.splitlines() if "precision:" in line), "")
    return seconds, history["epochs"][-1]["test_acc"], precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="MNIST root")
    parser.add_argument("--workers", type=int, default=2, help="classic DataLoader workers")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    args = parser.parse_args()
    names = ["classic", *args.variants.split(",")]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    precision = ""
    for round_ in range(1, args.rounds + 1):
        for name in names:
            load = load_average()
            seconds, acc, line = run(name, args.data, args.workers)
            precision = line if name == "defaults" else precision
            runs[name].append({"seconds": seconds, "test_acc": acc, "load_before": load})
            print(f"round {round_}: {name}: {seconds:.1f} s, {acc:.2f}% (load {load})", flush=True)
    base = statistics.median(r["seconds"] for r in runs["classic"])
    rows = []
    for name, measured in runs.items():
        median = statistics.median(r["seconds"] for r in measured)
        rows.append({
            "pipeline": "classic (PIL + DataLoader)" if name == "classic"
            else f"mnistlite train {name}",
            **{key: [r[key] for r in measured] for key in ("seconds", "test_acc", "load_before")},
            "median_seconds": median, "ratio": median / base,
        })  # fmt: skip
    save_result(HERE / "epoch_time.json", {
        "cpu": describe_cpu(), "torch": str(torch.__version__),
        "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "rounds": args.rounds, "precision": precision, "rows": rows,
    })  # fmt: skip
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
