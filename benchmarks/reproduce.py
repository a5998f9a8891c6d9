"""Train the seed's recipes with seed 1 on the real MNIST and keep their outputs.

Usage: python benchmarks/reproduce.py --data ../shared/data --out runs/reproduce step7 step6 ...

Each step goes to OUT/STEP/ (history.json, checkpoint.pt, model.pt), exactly as
`mnistlite train STEP --seed 1 --out OUT/STEP` writes them; an interrupted step resumes
from its checkpoint when the script is run again.
"""

import argparse
import platform
import time
from pathlib import Path

import torch

from mnistlite import data, recipes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("steps", nargs="+")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    train = data.load_mnist(args.data, train=True)
    test = data.load_mnist(args.data, train=False)
    for step in args.steps:
        out = Path(args.out) / f"{step}-seed{args.seed}"
        out.mkdir(parents=True, exist_ok=True)
        resume = (out / "checkpoint.pt").exists()
        start = time.time()
        _, history = recipes.train(
            recipes.get_recipe(step),
            data=(train, test),
            out=out,
            seed=args.seed,
            resume=resume,
            progress=False,
        )
        print(
            f"{step} seed {args.seed}: best {history.best('test_acc'):.2f} "
            f"final {history.final['test_acc']:.2f} in {time.time() - start:.0f} s "
            f"on {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)",
            flush=True,
        )


if __name__ == "__main__":
    main()
