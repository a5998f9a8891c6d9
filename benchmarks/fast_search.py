"""Choose the ``fast`` recipe on a validation split of the training images.

Usage::

    python benchmarks/fast_search.py --data ../shared/data [--out benchmarks/fast_search.json]

Every candidate (a network of at most 10,252 parameters with a fixed one-cycle
schedule) trains on 50,000 training images and is scored on the other 10,000
(``MNISTTensors.split(10_000, seed=0)``); the test set is never read. Each run
records its validation accuracy after every epoch and its wall time, with the
command line's default speed switches (bf16 where native). The candidate that
reaches >= 99.4% validation accuracy in the least time becomes the ``fast`` recipe.
"""

from __future__ import annotations

import argparse
import time

import torch

from mnistlite import recipes
from mnistlite.atomic import save_json
from mnistlite.data import Batches, load_mnist
from mnistlite.models import SpecNet
from mnistlite.models.fast import FAST
from mnistlite.models.lite import LITE8K
from mnistlite.training import Trainer

try:
    from benchmarks.machine import describe_cpu
except ImportError:  # run as a script from the repo root
    from machine import describe_cpu  # type: ignore[no-redef]

NETS = {"lite8k": LITE8K, "fast": FAST}
AUG = {"rotation": 7.0, "translate": 0.05, "interpolation": "bilinear", "weight_decay": 5e-5}
CANDIDATES = {
    "lite8k-b256-e8": ("lite8k", dict(AUG, epochs=8, batch_size=256, lr=0.1)),
    "fast-b256-e8": ("fast", dict(AUG, epochs=8, batch_size=256, lr=0.1)),
    "fast-b512-e8": ("fast", dict(AUG, epochs=8, batch_size=512, lr=0.2)),
    "fast-b256-e6": ("fast", dict(AUG, epochs=6, batch_size=256, lr=0.1)),
}


def run(name: str, net: str, fields: dict, train, val, seed: int) -> dict:
    """Train one candidate on ``train``; return its validation curve and seconds."""
    recipe = recipes.get_recipe("lite8k").replace(name=name, **fields)
    torch.manual_seed(seed)
    model = SpecNet(NETS[net])
    batches = Batches(train, recipe.batch_size, augment=recipe.augment(), seed=seed)
    optimizer = recipes.build_optimizer(recipe, model)
    scheduler, interval = recipes.build_scheduler(recipe, optimizer, len(batches))
    trainer = Trainer(
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        epochs=recipe.epochs,
        seed=seed,
        progress=False,
    )
    start = time.perf_counter()
    history = trainer.fit(batches, val)
    seconds = time.perf_counter() - start
    return {
        "candidate": name,
        "network": net,
        "params": sum(p.numel() for p in model.parameters()),
        "fields": fields,
        "seed": seed,
        "bf16": trainer.bf16,
        "val_acc": history.column("test_acc"),
        "final_val_acc": history.final["test_acc"],
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()
    train, val = load_mnist(args.data, train=True).split(10_000, seed=0)
    result = {"cpu": describe_cpu(), "split": "50,000 train / 10,000 validation", "runs": []}
    for name in args.candidates.split(","):
        net, fields = CANDIDATES[name]
        row = run(name, net, fields, train, val, args.seed)
        result["runs"].append(row)
        print(
            f"{name}: {row['params']} params, val {row['final_val_acc']:.2f}% "
            f"(per epoch {row['val_acc']}), {row['seconds']:.1f} s",
            flush=True,
        )
        if args.out:
            save_json(args.out, result)


if __name__ == "__main__":
    main()
