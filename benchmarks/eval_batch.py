"""Time one pass over the 10,000 test images at several batch sizes, on the CPU.

Usage: python benchmarks/eval_batch.py --data ../shared/data

Best of three ``Trainer.evaluate`` passes in fp32 per model (random weights) and batch size.
"""

import argparse
import time

import results_md
from common import HERE, describe_machine, save_result

from mnistlite import data, models
from mnistlite.training import Trainer

MODELS = ("fast", "step7", "lite10k", "lite1k")
BATCHES = (64, 128, 256, 500, 1000)


def best_of_three(trainer: Trainer, test, batch: int) -> float:
    """The fastest of three passes of ``Trainer.evaluate`` at ``batch``, after a warm-up."""
    trainer.evaluate(test, batch_size=batch)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        trainer.evaluate(test, batch_size=batch)
        runs.append(time.perf_counter() - start)
    return round(min(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    test = data.load_mnist(parser.parse_args().data, train=False)
    machine, rows = describe_machine(), []
    for name in MODELS:
        trainer = Trainer(models.get_model(name), progress=False)
        rows.append({"model": name, **{f"batch_{b}": best_of_three(trainer, test, b) for b in BATCHES}})
        print(rows[-1], flush=True)
    save_result(HERE / "eval_batch.json", rows, {"batches": list(BATCHES)}, machine)
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
