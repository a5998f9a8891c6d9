"""How a stacked model's copies run on the CPU: vmap, grouped, a loop, or separate models.

Usage::

    python benchmarks/stack_modes.py [--models step7 lite1k] [--copies 3] [--steps 20]

One training step (forward, cross-entropy, backward) of ``--copies`` copies of each model on
random batches of the recipe's batch size: a ``StackedModel`` in ``mode="vmap"``, in
``mode="grouped"`` (the copies side by side along the channels), in ``mode="loop"`` (one
call per copy), and the copies as separate models one after another. Median milliseconds per
step, on this machine's threads. ``StackedModel``'s ``mode="auto"`` follows this comparison on
the CPU: grouped for the networks with depthwise convolutions (lite2k, lite1k, lite600), the
loop for the rest (on CUDA: ``benchmarks/gpu_speed.py``). Writes
``benchmarks/stack_modes.json`` and its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import describe_cpu, save_result
from tables import markdown_table, write_section

from mnistlite import models, recipes
from mnistlite.stacked import StackedModel

REPO = Path(__file__).resolve().parents[1]


def step_ms(step, steps: int) -> float:
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
    batch = recipes.get_recipe(name).batch_size
    separate = []
    for seed in range(1, copies + 1):
        torch.manual_seed(seed)
        separate.append(models.get_model(name))
    x = torch.randn(copies, batch, 1, 28, 28)
    y = torch.randint(0, 10, (copies, batch))

    def stacked_step(model: StackedModel) -> None:
        model.zero_grad(set_to_none=True)
        out = model(x).flatten(0, 1)
        F.cross_entropy(out, y.flatten(), reduction="none").view(copies, -1).mean(
            1
        ).sum().backward()

    def separate_step() -> None:
        for s, model in enumerate(separate):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[s]), y[s]).backward()

    row = {"model": name, "copies": copies, "batch_size": batch}
    for mode in ("vmap", "grouped", "loop"):
        stacked = StackedModel(separate, mode=mode)
        row[f"{mode}_ms"] = step_ms(lambda m=stacked: stacked_step(m), steps)
    row["separate_ms"] = step_ms(separate_step, steps)
    print(row, flush=True)
    return row


def render(result: dict) -> list[str]:
    """RESULTS.md's section."""
    rows = [
        [r["model"], f"{r['copies']} × {r['batch_size']}", f"{r['vmap_ms']:.1f}",
         f"{r['grouped_ms']:.1f}", f"{r['loop_ms']:.1f}", f"{r['separate_ms']:.1f}"]
        for r in result["rows"]
    ]  # fmt: skip
    return [
        "## How stacked copies run on the CPU",
        "",
        f"Written by `{result['command']}`; {result['cpu']['summary']}, torch {result['torch']}, "
        f"{result['threads']} threads. Median milliseconds per training step (forward, "
        "cross-entropy, backward) on random batches.",
        "",
        *markdown_table(
            ["model", "copies × batch", "vmap", "grouped", "loop", "separate models"],
            rows,
            "llrrrr",
        ),
    ]


def main() -> None:
    """Measure, write the JSON and the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["step7", "lite1k"])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rows = [measure(name, args.copies, args.steps) for name in args.models]
    result = {"cpu": describe_cpu(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "rows": rows}  # fmt: skip
    path = save_result(REPO / "benchmarks" / "stack_modes.json", result)
    write_section(
        REPO / "benchmarks" / "RESULTS.md",
        "stack_modes",
        render(json.loads(Path(path).read_text())),
    )


if __name__ == "__main__":
    main()
