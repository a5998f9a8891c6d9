"""Time one pass over the 10,000 test images at several batch sizes, on the CPU.

Usage: python benchmarks/eval_batch.py --data ../shared/data [--out benchmarks/eval_batch.json]

``Trainer.evaluate`` runs after every epoch, so its batch size matters for short
recipes such as ``fast``. For each model (random weights: speed does not depend on
them) and batch size, the best of three passes of ``Trainer.evaluate`` in fp32 (after
one warm-up) is recorded; ``benchmarks/RESULTS.md`` shows the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mnistlite import data, models
from mnistlite.atomic import save_json
from mnistlite.training import Trainer

try:
    from benchmarks import results_md
    from benchmarks.machine import describe_cpu, load_average
except ImportError:  # run as a script from the repo root
    import results_md  # type: ignore[no-redef]
    from machine import describe_cpu, load_average  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
MODELS = ("fast", "step7", "lite10k", "lite1k")
BATCHES = (64, 128, 256, 500, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=str(HERE / "eval_batch.json"))
    args = parser.parse_args()
    test = data.load_mnist(args.data, train=False)
    rows = []
    for name in MODELS:
        trainer = Trainer(models.get_model(name), progress=False)
        seconds = {}
        for batch in BATCHES:
            trainer.evaluate(test, batch_size=batch)
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                trainer.evaluate(test, batch_size=batch)
                runs.append(time.perf_counter() - start)
            seconds[str(batch)] = round(min(runs), 3)
        rows.append({"model": name, "seconds": seconds})
        print(name, seconds, flush=True)
    record = {
        "command": "python benchmarks/eval_batch.py --data ../shared/data",
        "cpu": describe_cpu(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_before": load_average(),
        "rows": rows,
    }
    save_json(args.out, record)
    results_md.write()


if __name__ == "__main__":
    main()
