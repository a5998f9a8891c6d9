"""Many seeds in one process against one process per seed, through the CLI, on the CPU.

Usage::

    python benchmarks/seeds_speed.py --data ../shared/data [--recipe lite1k] [--seeds 1 2 3]
        [--epochs 1] [--limit-train 20000] [--out benchmarks/seeds_speed.json]

Times ``mnistlite train RECIPE --seeds 1 2 3`` (one process, the seeds side by side)
against ``mnistlite train RECIPE --seed S`` for each seed one after another, each a whole
process from start to end, interleaved over ``--rounds`` rounds (medians compared), on
the CPU. Writes the JSON and its section of ``benchmarks/RESULTS.md``
(``python benchmarks/seeds_speed.py --render`` rewrites the section from the JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import machine
import torch
from machine import describe_cpu
from tables import markdown_table, write_section

REPO = Path(__file__).resolve().parents[1]
JSON = REPO / "benchmarks" / "seeds_speed.json"


def run_seconds(args: list[str], out: Path) -> float:
    """Wall seconds of one ``mnistlite train`` process on the CPU."""
    command = [sys.executable, "-m", "mnistlite", "train", *args, "--device", "cpu"]
    return machine.timed([*command, "--out", str(out), "--no-progress"])[0]


def render(result: dict) -> list[str]:
    """RESULTS.md's section for this measurement."""
    rows = [
        [f"`{result['stacked_command']}`", f"{result['stacked_s']:.1f} s"],
        [f"`{result['single_command']}`, once per seed", f"{result['sequential_s']:.1f} s"],
    ]
    return [
        "## Many seeds in one process (CPU)",
        "",
        f"Written by `{result['command']}`; {result['cpu']['summary']}, torch "
        f"{result['torch']}; medians of {result['rounds']} interleaved rounds, whole processes.",
        "",
        *markdown_table(["run", "wall time"], rows),
        "",
        f"Side by side over one after another: **{result['ratio']:.2f}×** the time "
        "(below 1 is faster).",
    ]


def main() -> None:
    """Measure, or with --render rewrite RESULTS.md's section from the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--recipe", default="lite1k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit-train", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=JSON)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if not args.render:
        common = [args.recipe, "--data", args.data, "--epochs", str(args.epochs)]
        common += ["--limit-train", str(args.limit_train)]
        stacked, sequential = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                seeds = [str(s) for s in args.seeds]
                stacked.append(run_seconds([*common, "--seeds", *seeds], Path(tmp, f"many-{r}")))
                sequential.append(
                    sum(
                        run_seconds([*common, "--seed", s], Path(tmp, f"one-{r}-{s}"))
                        for s in seeds
                    )
                )
                print(
                    f"round {r + 1}: stacked {stacked[-1]:.1f} s, one by one {sequential[-1]:.1f} s"
                )
        flags = f"--epochs {args.epochs} --limit-train {args.limit_train} --device cpu"
        result = {
            "name": "seeds_speed",
            "command": "python benchmarks/seeds_speed.py --data ../shared/data",
            "cpu": describe_cpu(),
            "torch": torch.__version__,
            "rounds": args.rounds,
            "stacked_command": f"mnistlite train {args.recipe} {flags} --seeds "
            + " ".join(map(str, args.seeds)),
            "single_command": f"mnistlite train {args.recipe} {flags} --seed S",
            "stacked_s": statistics.median(stacked),
            "sequential_s": statistics.median(sequential),
            "stacked_runs_s": stacked,
            "sequential_runs_s": sequential,
        }
        result["ratio"] = result["stacked_s"] / result["sequential_s"]
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    result = json.loads(args.out.read_text())
    write_section(REPO / "benchmarks" / "RESULTS.md", "seeds_speed", render(result))


if __name__ == "__main__":
    main()
