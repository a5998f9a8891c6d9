"""Re-run the finished search that chose the ``fast`` recipe, on a validation split.

Usage: python benchmarks/fast_search.py --data ../shared/data [--out benchmarks/fast_search.json]

The candidates are data: each row of ``fast_search.json`` has its changes to the registered
``fast`` recipe (``fields``). Each trains on 50,000 training images and is scored on the
other 10,000 (the test set is never read); :func:`choose` is the rule.
"""

import argparse
import time

import results_md
from common import HERE, TARGETS, load, save_result

from mnistlite import models, recipes
from mnistlite.data import load_mnist
from mnistlite.models.lite import LITE8K

CANDIDATES = {r["candidate"]: r["fields"] for r in load(HERE / "fast_search.json")["rows"]}


def run(name: str, fields: dict, train, val, seed: int) -> dict:
    """Train one candidate on ``train``; its validation curve and seconds."""
    if "fast-search-lite8k" not in models.list_models():
        models.register_model("fast-search-lite8k")(lambda **_: models.SpecNet(LITE8K))
    recipe = recipes.get_recipe("fast").replace(name=name, **fields)
    start = time.perf_counter()
    model, history = recipes.train(recipe, data=(train, val), seed=seed, progress=False)
    return {"candidate": name, "network": "lite8k" if "lite8k" in recipe.model else recipe.model,
            "params": sum(p.numel() for p in model.parameters()), "fields": fields,
            "recipe": recipe.to_dict(), "seed": seed, "bf16": history.meta["bf16"],
            "val_acc": history.column("test_acc"), "final_val_acc": history.final["test_acc"],
            "seconds": time.perf_counter() - start}  # fmt: skip


def choose(rows: list[dict]) -> str:
    """The rule: the fastest candidate within the tolerance of the best validation accuracy."""
    best = max(r["final_val_acc"] for r in rows)
    close = [r for r in rows if r["final_val_acc"] >= best - TARGETS["fast_search_tolerance"]]
    return min(close, key=lambda r: r["seconds"])["candidate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/fast_search.json")
    args = parser.parse_args()
    train, val = load_mnist(args.data, train=True).split(TARGETS["validation_images"], seed=0)
    rows = []
    for name in args.candidates.split(","):
        rows.append(run(name, CANDIDATES[name], train, val, args.seed))
        print(f"{name}: val {rows[-1]['final_val_acc']:.2f}%, {rows[-1]['seconds']:.1f} s")
        chosen = choose(rows)
        rows = [{**r, "chosen": r["candidate"] == chosen} for r in rows]
        save_result(args.out, rows, {"split": "50,000 train / 10,000 validation"})
    print(f"chosen: {chosen}; wrote {results_md.write()}")


if __name__ == "__main__":
    main()
