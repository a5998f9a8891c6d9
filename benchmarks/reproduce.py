"""Train the seed's recipes with seed 1 on the real MNIST and keep their outputs.

Usage: python benchmarks/reproduce.py step7 step6 ... --data ../shared/data --out runs/reproduce
       python benchmarks/reproduce.py lite600 --seeds 1 2 3 --data ../shared/data --out runs/f

Each recipe and seed goes to OUT/RECIPE-seedS/ (history.json, checkpoint.pt, model.pt), exactly as
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (folder suffix -bf16)")
    parser.add_argument("--channels-last", action="store_true", help="(folder suffix -cl)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    args = parser.parse_args()
    train = data.load_mnist(args.data, train=True)
    test = data.load_mnist(args.data, train=False)
    for step, seed in [(step, seed) for step in args.steps for seed in args.seeds]:
        suffix = ("-bf16" if args.bf16 else "") + ("-cl" if args.channels_last else "")
        out = Path(args.out) / f"{step}{suffix}-seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        resume = (out / "checkpoint.pt").exists()
        start = time.time()
        _, history = recipes.train(
            recipes.get_recipe(step),
            data=(train, test),
            out=out,
            seed=seed,
            resume=resume,
            progress=False,
            bf16=args.bf16,
            channels_last=args.channels_last,
            device=args.device,
        )
        print(
            f"{step} seed {seed}: best {history.best('test_acc'):.2f} "
            f"final {history.final['test_acc']:.2f} in {time.time() - start:.0f} s "
            f"on {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)",
            flush=True,
        )


if __name__ == "__main__":
    main()
