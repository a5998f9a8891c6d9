"""Profile and time one step-7 training step on the CPU, for each speed change.

Usage::

    python benchmarks/profile_step.py [--batch-sizes 512 128] [--out benchmarks/profile_step.json]

For each batch size and variant (the seed's ``nn.Dropout`` against mnistlite's
:class:`~mnistlite.blocks.FastDropout`, fp32 against bf16 autocast, NCHW against
channels_last), times the median of ``--steps`` training steps (forward, cross-entropy,
backward, SGD step) on random images, interleaving the variants, and prints
``torch.profiler``'s table of the operators that take the most self CPU time in one step.

With ``--threads 1`` (the default) a step is timed by the CPU time of its thread,
which a machine shared with other jobs does not inflate as it does wall time; with
more threads it is timed by the wall clock.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from mnistlite import models
from mnistlite.atomic import save_json
from mnistlite.blocks import FastDropout

try:
    from benchmarks.machine import describe_cpu
except ImportError:  # run as a script from the repo root
    from machine import describe_cpu  # type: ignore[no-redef]

VARIANTS = {
    "fp32, nn.Dropout (seed)": {"fast_dropout": False, "bf16": False, "channels_last": False},
    "fp32, FastDropout": {"fast_dropout": True, "bf16": False, "channels_last": False},
    "fp32, FastDropout, channels_last": {
        "fast_dropout": True,
        "bf16": False,
        "channels_last": True,
    },
    "bf16, FastDropout": {"fast_dropout": True, "bf16": True, "channels_last": False},
}


def build(fast_dropout: bool, channels_last: bool) -> nn.Module:
    """A seed-1 step-7 network with mnistlite's or torch's dropout layers."""
    torch.manual_seed(1)
    model = models.step7()
    if not fast_dropout:
        for module in model.modules():
            for name, child in module.named_children():
                if isinstance(child, FastDropout):
                    setattr(module, name, nn.Dropout(child.p))
    return model.to(memory_format=torch.channels_last) if channels_last else model


def make_step(model: nn.Module, batch: int, bf16: bool, channels_last: bool):
    """A closure running one training step on a fixed random batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 1, 28, 28)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))

    def step() -> None:
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with cast:
            logits = model(images).float()
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[512, 128])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--top", type=int, default=12, help="profiler rows to keep")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    cpu = describe_cpu()
    print(f"{cpu['summary']}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    result = {
        "command": "python benchmarks/profile_step.py " + " ".join(sys.argv[1:]),
        "cpu": cpu,
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "clock": "thread CPU time" if args.threads == 1 else "wall time",
    }
    result["batches"] = []
    for batch in args.batch_sizes:
        steps = {}
        for name, v in VARIANTS.items():
            model = build(v["fast_dropout"], v["channels_last"])
            steps[name] = make_step(model, batch, v["bf16"], v["channels_last"])
            steps[name]()  # warm up
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):  # interleave: the machine is shared
            for name, step in steps.items():
                for _ in range(args.steps // args.rounds or 1):
                    start = clock()
                    step()
                    times[name].append(1000 * (clock() - start))
        rows = []
        base = statistics.median(times["fp32, nn.Dropout (seed)"])
        for name, values in times.items():
            ms = statistics.median(values)
            rows.append({"variant": name, "ms": ms, "ratio": ms / base})
            print(f"batch {batch}: {name}: {ms:.1f} ms/step ({ms / base:.2f}x)", flush=True)
        profiles = {}
        for name in ("fp32, nn.Dropout (seed)", "bf16, FastDropout"):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                steps[name]()
            events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
            total = sum(e.self_cpu_time_total for e in events)
            profiles[name] = [
                {
                    "op": e.key,
                    "self_ms": e.self_cpu_time_total / 1000,
                    "share": e.self_cpu_time_total / total,
                }
                for e in events[: args.top]
            ]
            print(f"\nbatch {batch}, {name}: top operators by self CPU time")
            for row in profiles[name]:
                print(f"  {row['op']:<45} {row['self_ms']:8.1f} ms {100 * row['share']:5.1f}%")
        result["batches"].append({"batch": batch, "rows": rows, "profiles": profiles})
    if args.out:
        save_json(args.out, result)


if __name__ == "__main__":
    main()
