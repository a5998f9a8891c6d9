"""Time one pass over the 10,000 test images at several batch sizes, on the CPU.

Usage: python benchmarks/eval_batch.py --data ../shared/data

``Trainer.evaluate`` runs after every epoch, so its batch size matters for short recipes
such as ``fast``. For each model (random weights: speed does not depend on them) and batch
size, the best of three passes of ``Trainer.evaluate`` in fp32 (after one warm-up) is
recorded. Writes benchmarks/eval_batch.json and its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import results_md
import torch
from machine import describe_cpu, load_average, save_result

from mnistlite import data, models
from mnistlite.training import Trainer

MODELS = ("fast", "step7", "lite10k", "lite1k")
BATCHES = (64, 128, 256, 500, 1000)


def best_of_three(trainer: Trainer, test, batch: int) -> float:
    trainer.evaluate(test, batch_size=batch)  # warm up
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        trainer.evaluate(test, batch_size=batch)
        runs.append(time.perf_counter() - start)
    return round(min(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    test = data.load_mnist(args.data, train=False)
    load, rows = load_average(), []
    for name in MODELS:
        trainer = Trainer(models.get_model(name), progress=False)
        seconds = {str(batch): best_of_three(trainer, test, batch) for batch in BATCHES}
        rows.append({"model": name, "seconds": seconds})
        print(name, seconds, flush=True)
    save_result(Path(__file__).resolve().parent / "eval_batch.json", {
        "cpu": describe_cpu(), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "load_before": load, "rows": rows,
    })  # fmt: skip
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
