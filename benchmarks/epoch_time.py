"""Time one step-7 epoch (+ test pass): mnistlite against the classic pipeline.

Usage::

    python benchmarks/epoch_time.py --data ../shared/data [--workers 2] [--out FILE.json]

Both pipelines run in this one process, one after the other, on the same machine,
each from a fresh seed-1 step-7 network and including the dataset's loading. The
classic one is the seed's notebook code path (``benchmarks/classic.py``); mnistlite's
is ``recipes.train(step7, epochs=1)`` with each speed switch. Prints the seconds,
the ratio to the classic pipeline and the epoch's test accuracy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import torch

from mnistlite import recipes
from mnistlite.atomic import save_json
from mnistlite.data import load_mnist

try:
    from benchmarks import classic
except ImportError:  # run as a script from the repo root
    import classic  # type: ignore[no-redef]

VARIANTS = {
    "fp32": {},
    "channels_last": {"channels_last": True},
    "bf16": {"bf16": True},
    "bf16+channels_last": {"bf16": True, "channels_last": True},
    "compile": {"compile": True},
    "compile+bf16+channels_last": {"compile": True, "bf16": True, "channels_last": True},
}


def time_mnistlite(root: str, switches: dict) -> tuple[float, float]:
    """Seconds and test accuracy of one step-7 epoch through mnistlite."""
    start = time.perf_counter()
    data = (load_mnist(root, train=True), load_mnist(root, train=False))
    _, history = recipes.train(
        recipes.get_recipe("step7", epochs=1), data=data, seed=1, progress=False, **switches
    )
    return time.perf_counter() - start, history.final["test_acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="MNIST root")
    parser.add_argument("--workers", type=int, default=2, help="classic DataLoader workers")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {machine}")
    (_, classic_seconds, classic_acc), *_ = classic.run(args.data, epochs=1, workers=args.workers)
    rows = [
        {
            "pipeline": "classic (PIL + DataLoader)",
            "seconds": classic_seconds,
            "ratio": 1.0,
            "test_acc": classic_acc,
        }
    ]
    for name in args.variants.split(","):
        seconds, acc = time_mnistlite(args.data, VARIANTS[name])
        rows.append(
            {
                "pipeline": f"mnistlite {name}",
                "seconds": seconds,
                "ratio": seconds / classic_seconds,
                "test_acc": acc,
            }
        )
        print(f"mnistlite {name}: {seconds:.1f} s", flush=True)
    print("\n| pipeline | seconds | ratio | epoch-1 test acc |\n|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['pipeline']} | {row['seconds']:.1f} | {row['ratio']:.2f}x "
            f"| {row['test_acc']:.2f}% |"
        )
    if args.out:
        save_json(
            args.out,
            {
                "machine": machine,
                "torch": str(torch.__version__),
                "threads": torch.get_num_threads(),
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
