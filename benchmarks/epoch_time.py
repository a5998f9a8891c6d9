"""Time one step-7 epoch (+ test pass): ``mnistlite train`` against the classic pipeline.

Usage: python benchmarks/epoch_time.py --data ../shared/data [--rounds 3] [--variants defaults]

Whole processes (``classic.py --epochs 1``; ``mnistlite train step7 --epochs 1`` with the
CLI's defaults and each variant), interleaved over ``--rounds``; medians compared.
"""

import argparse
import statistics
import sys

import results_md
from classic import last_epoch
from common import HERE, load_average, save_result, timed, train

VARIANTS = {"defaults": [], "--no-bf16": ["--no-bf16"]}


def run(name: str, root: str, workers: int) -> tuple[float, float, str]:
    """Seconds, epoch-1 test accuracy and the CLI's precision line of one pipeline."""
    if name == "classic":
        command = [sys.executable, str(HERE / "classic.py"), "--data", root, "--epochs", "1"]
        seconds, stdout = timed([*command, "--workers", str(workers)])
        return seconds, last_epoch(stdout)[1], ""
    seconds, (history,), stdout = train(root, "step7", "--epochs", "1", *VARIANTS[name])
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
    runs: dict[str, list[tuple]] = {name: [] for name in names}
    precision = ""
    for round_ in range(1, args.rounds + 1):
        for name in names:
            load = load_average()
            seconds, acc, line = run(name, args.data, args.workers)
            precision = line or precision
            runs[name].append((seconds, acc, load))
            print(f"round {round_}: {name}: {seconds:.1f} s, {acc:.2f}% (load {load})", flush=True)
    base = statistics.median(r[0] for r in runs["classic"])
    rows = []
    for name, measured in runs.items():
        seconds, acc, load = (list(column) for column in zip(*measured, strict=True))
        pipeline = "classic (PIL + DataLoader)" if name == "classic" else f"mnistlite train {name}"
        rows.append({"pipeline": pipeline, "seconds": seconds, "test_acc": acc, "load_before": load,
                     "median_seconds": statistics.median(seconds),
                     "ratio": statistics.median(seconds) / base})  # fmt: skip
    save_result(HERE / "epoch_time.json", rows, {"rounds": args.rounds, "precision": precision})
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
