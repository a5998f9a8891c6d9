"""Profile and time one step-7 training step on the CPU, for each speed change.

Usage: python benchmarks/profile_step.py [--batch-sizes 512 128] [--steps 10] [--rounds 3]

For each batch size and variant (the seed's ``nn.Dropout`` against mnistlite's
:class:`~mnistlite.blocks.FastDropout`, fp32 against bf16 autocast, NCHW against
channels_last), times the median of ``--steps`` training steps (forward, cross-entropy,
backward, SGD step) on random images, interleaving the variants, and keeps
``torch.profiler``'s operators that take the most self CPU time in one step. With
``--threads 1`` (the default) a step is timed by the CPU time of its thread, which other
jobs on a shared machine do not inflate as they do wall time. Writes
benchmarks/profile_step.json and its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import results_md
import torch
import torch.nn.functional as F
from machine import describe_cpu, save_result
from torch import nn

from mnistlite import models
from mnistlite.blocks import FastDropout

SEED, BF16 = "fp32, nn.Dropout (seed)", "bf16, FastDropout"
#: name: (FastDropout, bf16, channels_last)
VARIANTS = {
    SEED: (False, False, False),
    "fp32, FastDropout": (True, False, False),
    "fp32, FastDropout, channels_last": (True, False, True),
    BF16: (True, True, False),
}


def make_step(batch: int, fast_dropout: bool, bf16: bool, channels_last: bool):
    """A closure running one training step of a seed-1 step-7 network on a fixed batch."""
    torch.manual_seed(1)
    model = models.step7()
    for module in [] if fast_dropout else list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, FastDropout):
                setattr(module, name, nn.Dropout(child.p))
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 1, 28, 28).contiguous(memory_format=memory)
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


def profile(step, top: int) -> list[dict]:
    """The ``top`` operators by self CPU time in one step, with their shares."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "self_ms": e.self_cpu_time_total / 1000,
             "share": e.self_cpu_time_total / total} for e in events[:top]]  # fmt: skip


def measure(batch: int, args, clock) -> dict:
    """One batch size: each variant's median step time, and two variants' profiles."""
    steps = {name: make_step(batch, *v) for name, v in VARIANTS.items()}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for step in steps.values():
        step()  # warm up
    for _ in range(args.rounds):  # interleave: the machine is shared
        for name, step in steps.items():
            for _ in range(args.steps // args.rounds or 1):
                start = clock()
                step()
                times[name].append(1000 * (clock() - start))
    base = statistics.median(times[SEED])
    rows = [{"variant": name, "ms": statistics.median(v), "ratio": statistics.median(v) / base}
            for name, v in times.items()]  # fmt: skip
    print(f"batch {batch}:", *(f"{r['variant']}: {r['ms']:.1f} ms" for r in rows), flush=True)
    profiles = {name: profile(steps[name], args.top) for name in (SEED, BF16)}
    return {"batch": batch, "rows": rows, "profiles": profiles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[512, 128])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--top", type=int, default=12, help="profiler rows to keep")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=Path(__file__).resolve().parent / "profile_step.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    save_result(args.out, {
        "cpu": describe_cpu(), "torch": str(torch.__version__), "threads": args.threads,
        "clock": "thread CPU time" if args.threads == 1 else "wall time",
        "batches": [measure(batch, args, clock) for batch in args.batch_sizes],
    })  # fmt: skip
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
