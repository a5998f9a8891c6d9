"""Choose the ``fast`` recipe on a validation split of the training images.

Usage: python benchmarks/fast_search.py --data ../shared/data [--out benchmarks/fast_search.json]

Every candidate (the registered ``fast`` recipe with some fields changed: a network of at
most 10,252 parameters with a fixed one-cycle schedule) runs through ``recipes.train`` on
50,000 training images and is scored on the other 10,000
(``MNISTTensors.split(10_000, seed=0)``); the test set is never read. Each run records its
validation accuracy after every epoch and its wall time, with the library's default speed
switches (bf16 where native). Rule (:func:`choose`): among the candidates whose final
validation accuracy is within 0.05 points of the best, the fastest becomes ``fast``.
Writes benchmarks/fast_search.json after each candidate, then its RESULTS.md section.
"""

from __future__ import annotations

import argparse
import time

import results_md
from machine import describe_cpu, save_result

from mnistlite import models, recipes
from mnistlite.data import load_mnist
from mnistlite.models.lite import LITE8K

#: Changes to the registered ``fast`` recipe; ``fast-search-lite8k`` is the lite8k network.
CANDIDATES = {
    "lite8k-b256-e8": dict(model="fast-search-lite8k", epochs=8, batch_size=256, lr=0.1),
    "fast-b256-e8": dict(epochs=8, batch_size=256, lr=0.1),
    "fast-b512-e8": dict(epochs=8, batch_size=512, lr=0.2),
    "fast-b256-e6": dict(epochs=6, batch_size=256, lr=0.1),
}


def run(name: str, fields: dict, train, val, seed: int) -> dict:
    """Train one candidate on ``train``; return its validation curve and seconds."""
    if "fast-search-lite8k" not in models.list_models():
        models.register_model("fast-search-lite8k")(lambda **_: models.SpecNet(LITE8K))
    recipe = recipes.get_recipe("fast").replace(name=name, **fields)
    start = time.perf_counter()
    model, history = recipes.train(recipe, data=(train, val), seed=seed, progress=False)
    return {
        "candidate": name,
        "network": "lite8k" if "lite8k" in recipe.model else recipe.model,
        "params": sum(p.numel() for p in model.parameters()),
        "fields": fields,
        "recipe": recipe.to_dict(),
        "seed": seed,
        "bf16": history.meta["bf16"],
        "val_acc": history.column("test_acc"),
        "final_val_acc": history.final["test_acc"],
        "seconds": time.perf_counter() - start,
    }


def choose(runs: list[dict]) -> str:
    """The rule: the fastest candidate within 0.05 points of the best validation accuracy."""
    best = max(r["final_val_acc"] for r in runs)
    close = [r for r in runs if r["final_val_acc"] >= best - 0.05]
    return min(close, key=lambda r: r["seconds"])["candidate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/fast_search.json")
    args = parser.parse_args()
    train, val = load_mnist(args.data, train=True).split(10_000, seed=0)
    result = {"cpu": describe_cpu(), "split": "50,000 train / 10,000 validation", "runs": []}
    for name in args.candidates.split(","):
        row = run(name, CANDIDATES[name], train, val, args.seed)
        result["runs"].append(row)
        result["chosen"] = choose(result["runs"])
        print(f"{name}: val {row['final_val_acc']:.2f}%, {row['seconds']:.1f} s", flush=True)
        save_result(args.out, result)
    print(f"chosen: {result['chosen']}; wrote {results_md.write()}")


if __name__ == "__main__":
    main()
