"""Frontier search on a validation split: candidate designs and recipes, never the test set.

Usage: python benchmarks/frontier_search.py CANDIDATE... --data ../shared/data [--epochs 4]
           [--seeds 1 2 3] [--storage URL] [--study-name NAME]
       python benchmarks/frontier_search.py --list

The candidates are data: ``results/frontier/candidates.json`` gives each a network spec
(``mnistlite.models.spec_from_dict``) and its changes to a registered recipe (``base``,
lite8k unless named). Each trains on 50,000 training images and is scored on the other
10,000 (split seed 0); the test set is never loaded. A candidate trains with ``--seeds``
(default 1, 2 and 3) side by side in one process (``recipes.train(seeds=...)``) and scores
the mean of their final validation accuracies. Candidates run as queued trials of an
Optuna study (``mnistlite.sweep.open_study``: any storage, heartbeats, lost trials retried),
so the same command started on several machines with one --storage shares the queue.
Records are appended to results/frontier/search.json (one per candidate, epochs and seed;
a candidate with a record for every seed is skipped), rendered by
``python benchmarks/make_frontier.py``.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from mnistlite import data, models, params, recipes, sweep
from mnistlite.atomic import save_json
from mnistlite.models.spec import spec_from_dict

FRONTIER = Path(__file__).resolve().parents[1] / "results" / "frontier"
CANDIDATES = json.loads((FRONTIER / "candidates.json").read_text())
SPLIT = 10_000  # validation images held out of the 60,000 training images


def candidate(name: str) -> recipes.Recipe:
    """The recipe of candidate ``name``, its network registered as ``search-NAME``."""
    entry = CANDIDATES[name]
    spec, overrides = spec_from_dict(entry["spec"]), dict(entry["recipe"])
    if f"search-{name}" not in models.list_models():
        models.register_model(f"search-{name}")(lambda **_: models.SpecNet(spec))
    base = recipes.get_recipe(overrides.pop("base", "lite8k"))
    return base.replace(name=name, model=f"search-{name}", **overrides)


def _train(trial, train, val, epochs: int, seeds: list[int]) -> float:
    """One queued candidate, as a trial: its records (one per seed) kept in its attributes."""
    import optuna

    if "candidate" not in trial.user_attrs:  # not a queued one: another worker took the last
        raise optuna.TrialPruned("no queued candidate left")
    name = trial.suggest_categorical("candidate", sorted(CANDIDATES))
    recipe = candidate(name).replace(epochs=epochs)
    start = time.time()
    nets, histories = recipes.train(recipe, data=(train, val), seeds=seeds, progress=False)
    seconds = round(time.time() - start, 1)
    records = [
        {
            "candidate": name, "epochs": epochs, "seed": seed,
            "params": params.count_parameters(net), "val_acc_final": history.final["test_acc"],
            "val_acc_per_epoch": history.column("test_acc"),
            "train_acc_final": history.final["train_acc"], "seconds": seconds,
            "seeds_side_by_side": seeds, "device": history.meta["device"],
            "recipe": {k: v for k, v in recipe.to_dict().items() if k not in ("name", "model")},
            "spec": repr(spec_from_dict(CANDIDATES[name]["spec"])),
            "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
        }
        for seed, net, history in zip(seeds, nets, histories, strict=True)
    ]  # fmt: skip
    trial.set_user_attr("records", records)
    mean = sum(r["val_acc_final"] for r in records) / len(records)
    per_seed = ", ".join(f"{r['val_acc_final']:.2f}" for r in records)
    print(f"{name}: {records[0]['params']:,} params, val {mean:.2f} ({per_seed})", flush=True)
    return mean


def enqueue(study, names: list[str], done: set, epochs: int, seeds: list[int]) -> None:
    """Queue the candidates that have no record and are not queued yet."""
    live = ("WAITING", "RUNNING", "COMPLETE")
    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs.get("candidate") for t in trials if t.state.name in live}
    for name in names:
        if all((name, epochs, seed) in done for seed in seeds) or name in queued:
            print(f"{name}: already recorded or queued, skipped")
        else:
            study.enqueue_trial({"candidate": name}, user_attrs={"candidate": name})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candidates", nargs="*")
    parser.add_argument("--data")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--out", type=Path, default=FRONTIER / "search.json", help="records file")
    parser.add_argument("--storage", default="sqlite:///frontier-search.db", help="study storage")
    parser.add_argument("--study-name", help="default: frontier-eEPOCHS-sSEEDS")
    args = parser.parse_args()
    if args.list:
        for name in CANDIDATES:
            print(name, params.count_parameters(models.get_model(candidate(name).model)))
        return
    unknown = [name for name in args.candidates if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; --list shows them")
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["candidate"], r["epochs"], r["seed"]) for r in records}
    settings = {"epochs": args.epochs, "seeds": args.seeds, "split": SPLIT}
    name = args.study_name or f"frontier-e{args.epochs}-s{'-'.join(map(str, args.seeds))}"
    study = sweep.open_study(args.storage, name, settings)
    enqueue(study, args.candidates, done, args.epochs, args.seeds)
    train, val = data.load_mnist(args.data, train=True).split(SPLIT, seed=0)
    while True:  # until no candidate is queued, nor trained by another worker
        sweep.fail_lost_trials(study)
        states = {t.state.name for t in study.get_trials(deepcopy=False)}
        if "WAITING" in states:
            study.optimize(lambda t: _train(t, train, val, args.epochs, args.seeds), n_trials=1)
        elif "RUNNING" not in states:
            break
        else:
            time.sleep(10)
    for trial in study.get_trials(deepcopy=False):
        for record in trial.user_attrs.get("records", []) if trial.state.name == "COMPLETE" else []:
            key = (record["candidate"], record["epochs"], record["seed"])
            if key not in done:
                records.append(record)
                done.add(key)
    save_json(args.out, records)


if __name__ == "__main__":
    main()
