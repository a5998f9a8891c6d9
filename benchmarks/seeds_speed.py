"""Many seeds in one process against one process per seed, through the CLI, on the CPU.

Usage: python benchmarks/seeds_speed.py --data ../shared/data [--recipe lite1k] [--seeds 1 2 3]
           [--epochs 1] [--limit-train 20000] [--out benchmarks/seeds_speed.json]

Whole processes, interleaved over ``--rounds`` rounds; medians compared.
"""

import argparse
import statistics

import results_md
from common import HERE, describe_machine, save_result, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--recipe", default="lite1k")
    parser.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit-train", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=HERE / "seeds_speed.json")
    args = parser.parse_args()
    flags = ["--epochs", str(args.epochs), "--limit-train", str(args.limit_train)]
    flags += ["--device", "cpu"]
    stacked, sequential = [], []
    for r in range(args.rounds):
        stacked.append(train(args.data, args.recipe, *flags, "--seeds", *args.seeds)[0])
        sequential.append(sum(train(args.data, args.recipe, *flags, "--seed", s)[0]
                              for s in args.seeds))  # fmt: skip
        print(f"round {r + 1}: stacked {stacked[-1]:.1f} s, one by one {sequential[-1]:.1f} s")
    command = f"mnistlite train {args.recipe} {' '.join(flags)}"
    one_by_one = statistics.median(sequential)
    rows = [{"run": "side by side, one process",
             "command": f"{command} --seeds {' '.join(args.seeds)}",
             "seconds": statistics.median(stacked), "runs_s": stacked,
             "ratio": statistics.median(stacked) / one_by_one},
            {"run": "one process per seed, one after another", "command": f"{command} --seed S",
             "seconds": one_by_one, "runs_s": sequential, "ratio": 1.0}]  # fmt: skip
    save_result(args.out, rows, {"rounds": args.rounds}, describe_machine(threads=False))
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
