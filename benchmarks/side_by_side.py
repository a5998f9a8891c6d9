"""Seeds side by side against one at a time: the same seeds, each stack mode, on the CPU.

Usage: python benchmarks/side_by_side.py --data ../shared/data [--models lite1k lite2k]
       [--seeds 1 2 3 4 5 6 7 8] [--epochs 2] [--limit-train 10000] [--modes grouped vmap loop]
       python benchmarks/side_by_side.py --render   # results/side_by_side.md from the JSON

Each model's recipe (fp32, its teacher included) trains every seed alone, then all seeds at
once in each stack mode. Rows: per seed the final test accuracy and the largest weight
difference from the seed's single run; results/side_by_side.md shows the paired mean
difference with its 95% confidence interval. Writes results/side_by_side.json.
"""

import argparse
import statistics

import torch
from common import HERE, fill, load, save_result, write_text
from scipy import stats

from mnistlite import recipes, runs
from mnistlite.data import load_mnist

JSON = HERE.parent / "results" / "side_by_side.json"


def gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """The largest absolute difference between two networks' floating-point weights."""
    sa, sb = a.state_dict(), b.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa if sa[k].is_floating_point())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--render", action="store_true", help="only write the page")
    parser.add_argument("--models", nargs="+", default=["lite1k", "lite2k"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 9)))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit-train", type=int, default=10_000)
    parser.add_argument("--modes", nargs="+", default=["grouped", "vmap", "loop"])
    args = parser.parse_args()
    if args.render or not args.data:
        return render()
    data = (load_mnist(args.data, train=True), load_mnist(args.data, train=False))
    options = {"data": data, "device": "cpu", "progress": False, "bf16": False}
    options["limit_train"] = args.limit_train
    rows = []
    for name in args.models:
        recipe = recipes.get_recipe(name, epochs=args.epochs)
        alone = {s: runs.train(recipe, seed=s, **options) for s in args.seeds}
        for s, run in alone.items():
            rows.append({"model": name, "mode": "alone", "seed": s, "weight_gap": 0.0,
                         "test_acc": run.history.final["test_acc"]})  # fmt: skip
        for mode in args.modes:
            many = runs.train(recipe, seeds=args.seeds, stack_mode=mode, **options)
            for s, model, history in zip(many.seeds, many.models, many.histories, strict=True):
                rows.append({"model": name, "mode": mode, "seed": s,
                             "weight_gap": gap(model, alone[s].model),
                             "test_acc": history.final["test_acc"]})  # fmt: skip
            print(name, mode, "done", flush=True)
    settings = {k: getattr(args, k) for k in ("models", "seeds", "epochs", "limit_train", "modes")}
    save_result(JSON, rows, settings)
    render()


def render() -> None:
    """results/side_by_side.md: one row per model and mode (``templates/side_by_side.md``)."""
    result = load(JSON)
    s = result["settings"]
    pairs = [paired(result["rows"], model, mode) for model in s["models"] for mode in s["modes"]]
    page = fill("side_by_side.md", **result, pairs=pairs)
    write_text(HERE.parent / "results" / "side_by_side.md", page)


def paired(rows: list[dict], model: str, mode: str) -> dict:
    """Mean of (side by side - alone) over the seeds, with its 95% t interval."""
    by = {(r["mode"], r["seed"]): r for r in rows if r["model"] == model}
    diffs = [by[mode, s]["test_acc"] - by["alone", s]["test_acc"] for (m, s) in by if m == mode]
    mean, half = statistics.fmean(diffs), 0.0
    if len(diffs) > 1:
        half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    gaps = [by[mode, s]["weight_gap"] for (m, s) in by if m == mode]
    return {"model": model, "mode": mode, "n": len(diffs), "mean": mean, "low": mean - half,
            "high": mean + half, "max_gap": max(gaps)}  # fmt: skip


if __name__ == "__main__":
    main()
