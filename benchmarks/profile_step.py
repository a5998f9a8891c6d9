"""Profile and time one step-7 training step on the CPU, for each speed change.

Usage: python benchmarks/profile_step.py [--batch-sizes 512 128] [--steps 10] [--rounds 3]

For each batch size and variant (the seed's ``nn.Dropout`` against ``FastDropout``, fp32
against bf16 autocast, NCHW against channels_last): the median of ``--steps`` training steps
on random images, variants interleaved, and ``torch.profiler``'s operators with the most self
CPU time in one step. With ``--threads 1`` (the default) a step is timed by its thread's CPU
time, which other jobs do not inflate. Writes benchmarks/profile_step.json; render with
``python benchmarks/results_md.py``.
"""

import argparse
import contextlib
import statistics
import time

import results_md
import torch
import torch.nn.functional as F
from common import HERE, save_result
from torch import nn

from mnistlite import models
from mnistlite.blocks import FastDropout

SEED, BF16 = "fp32, nn.Dropout (seed)", "bf16, FastDropout"
VARIANTS = {SEED: (False, False, False), "fp32, FastDropout": (True, False, False),
            "fp32, FastDropout, channels_last": (True, False, True),
            BF16: (True, True, False)}  # fmt: skip  # (FastDropout, bf16, channels_last)


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
            loss = F.cross_entropy(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measure(batch: int, args, clock) -> list[dict]:
    """One batch size: each variant's median step time, and two variants' top operators."""
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
    rows = [{"part": "step", "batch": batch, "variant": name, "ms": statistics.median(v),
             "ratio": statistics.median(v) / base} for name, v in times.items()]  # fmt: skip
    for name in (SEED, BF16):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            steps[name]()
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        rows += [{"part": "ops", "batch": batch, "variant": name, "op": e.key,
                  "self_ms": e.self_cpu_time_total / 1000, "share": e.self_cpu_time_total / total}
                 for e in events[: args.top]]  # fmt: skip
    print(f"batch {batch}:", *(f"{r['variant']}: {r['ms']:.1f} ms" for r in rows[:4]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[512, 128])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--top", type=int, default=12, help="profiler rows to keep")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=HERE / "profile_step.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    rows = [row for batch in args.batch_sizes for row in measure(batch, args, clock)]
    clock_name = "thread CPU time" if args.threads == 1 else "wall time"
    save_result(args.out, rows, {"clock": clock_name, "steps": args.steps, "rounds": args.rounds})
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
