"""How a stacked model's copies run on the CPU: vmap, grouped, a loop, or separate models.

Usage: python benchmarks/stack_modes.py [--models step7 lite1k] [--copies 3] [--steps 20]

Median milliseconds of one training step of ``--copies`` copies on random batches;
``StackedModel``'s ``mode="auto"`` follows it on the CPU (on CUDA: ``gpu_speed.py``).
"""

import argparse
import statistics
import time

import results_md
import torch
import torch.nn.functional as F
from common import HERE, save_result

from mnistlite import models, recipes
from mnistlite.stacked import StackedModel


def median_ms(step, steps: int) -> float:
    """Median wall milliseconds of ``step()`` after three warm-up calls."""
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(name: str, copies: int, steps: int) -> dict:
    """Milliseconds per step of each way to run ``copies`` copies of model ``name``."""
    batch, separate = recipes.get_recipe(name).batch_size, []
    for seed in range(1, copies + 1):
        torch.manual_seed(seed)
        separate.append(models.get_model(name))
    x, y = torch.randn(copies, batch, 1, 28, 28), torch.randint(0, 10, (copies, batch))

    def stacked_step(model: StackedModel) -> None:
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), reduction="none")
        loss.view(copies, -1).mean(1).sum().backward()

    def separate_step() -> None:
        for s, model in enumerate(separate):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[s]), y[s]).backward()

    row = {"model": name, "copies": copies, "batch_size": batch}
    for mode in ("vmap", "grouped", "loop"):
        stacked = StackedModel(separate, mode=mode)
        row[f"{mode}_ms"] = median_ms(lambda m=stacked: stacked_step(m), steps)
    row["separate_ms"] = median_ms(separate_step, steps)
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["step7", "lite1k"])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rows = [measure(name, args.copies, args.steps) for name in args.models]
    save_result(HERE / "stack_modes.json", rows, {"copies": args.copies, "steps": args.steps})
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
