"""Frontier search on a validation split: candidate designs and recipes, never the test set.

Usage: python benchmarks/frontier_search.py CANDIDATE... --data ../shared/data [--epochs 4]
           [--seeds 1 2 3] [--storage URL] [--study-name NAME] [--teacher-weights PT]
           [--no-progress]
       python benchmarks/frontier_search.py --list

The candidates are data (``results/frontier/candidates.json``: a spec and changes to a recipe,
``base`` lite8k unless named). Each trains on 50,000 training images with ``--seeds`` side by
side, scored by the mean final accuracy on the other 10,000, as queued Optuna trials (machines
sharing ``--storage`` share the queue); records per candidate, epochs and seed go to
``results/frontier/search.json`` (rendered by make_frontier.py); recorded ones are skipped.
"""

import argparse
import platform
import time
from pathlib import Path

import torch
from common import REPO, TARGETS, load

from mnistlite import data, models, params, recipes, runs, sweep
from mnistlite.atomic import save_json
from mnistlite.models.spec import spec_from_dict

FRONTIER = REPO / "results" / "frontier"
CANDIDATES = load(FRONTIER / "candidates.json")


def candidate(name: str) -> recipes.Recipe:
    """The recipe of candidate ``name``, its network registered as ``search-NAME``."""
    spec, overrides = spec_from_dict(CANDIDATES[name]["spec"]), dict(CANDIDATES[name]["recipe"])
    if f"search-{name}" not in models.list_models():
        models.register_model(f"search-{name}")(lambda **_: models.SpecNet(spec))
    base = recipes.get_recipe(overrides.pop("base", "lite8k"))
    return base.replace(name=name, model=f"search-{name}", **overrides)


def _key(record: dict) -> tuple[str, int, int]:
    """What makes a record one of its own: its candidate, epochs and seed."""
    return record["candidate"], record["epochs"], record["seed"]


def _train(trial, train, val, args: argparse.Namespace) -> float:
    """One queued candidate, as a trial: its records (one per seed) kept in its attributes."""
    import optuna

    if "candidate" not in trial.user_attrs:  # not a queued one: another worker took the last
        raise optuna.TrialPruned("no queued candidate left")
    name = trial.user_attrs["candidate"]  # not a parameter: the candidate list grows
    epochs, seeds = args.epochs, args.seeds
    recipe, start = candidate(name).replace(epochs=epochs), time.time()
    teacher = args.teacher_weights if recipe.teacher else None
    nets, histories = runs.train(recipe, data=(train, val), seeds=seeds, progress=args.progress,
                                 teacher_weights=teacher)  # fmt: skip
    base = recipes.get_recipe(CANDIDATES[name]["recipe"].get("base", "lite8k")).model
    shared = {"candidate": name, "epochs": epochs, "seconds": round(time.time() - start, 1),
              "model": base, "network": f"frontier_search.py {name}", "split": "validation",
              "date": time.strftime("%Y-%m-%d"), "seeds_side_by_side": seeds,
              "spec": repr(spec_from_dict(CANDIDATES[name]["spec"])),
              "recipe": {k: v for k, v in recipe.to_dict().items() if k not in ("name", "model")},
              "cpu": platform.processor() or platform.machine(),
              "torch": torch.__version__}  # fmt: skip
    records = [{**shared, "seed": seed, "params": params.count_parameters(net),
                "val_acc_final": history.final["test_acc"],
                "val_acc_per_epoch": history.column("test_acc"),
                "train_acc_final": history.final["train_acc"], "device": history.meta["device"],
                "bf16": history.meta["bf16"]}
               for seed, net, history in zip(seeds, nets, histories, strict=True)]  # fmt: skip
    trial.set_user_attr("records", records)
    scores = [r["val_acc_final"] for r in records]
    print(f"{name}: {records[0]['params']:,} params, val {sum(scores) / len(scores):.2f} {scores}")
    return sum(scores) / len(scores)


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
    parser.add_argument("--teacher-weights", type=Path, help="distilling candidates' teacher")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no bars")
    args = parser.parse_args()
    if args.list:
        for name in CANDIDATES:
            print(name, params.count_parameters(models.get_model(candidate(name).model)))
        return
    if unknown := [n for n in args.candidates if n not in CANDIDATES]:
        parser.error(f"unknown candidates {unknown}; --list shows them")
    distilling = [n for n in args.candidates if candidate(n).teacher]
    if distilling and args.teacher_weights is None:
        parser.error(
            f"{distilling} distil: give --teacher-weights, a teacher trained on the "
            "50,000 training images only (the bundled one saw the validation images)"
        )
    done = {_key(r) for r in load(args.out, [])}
    settings = {"epochs": args.epochs, "seeds": args.seeds, "split": TARGETS["validation_images"]}
    name = args.study_name or f"frontier-e{args.epochs}-s{'-'.join(map(str, args.seeds))}"
    study = sweep.open_study(args.storage, name, settings)
    sweep.fail_lost_trials(study)  # a killed worker's candidate is queued again, not lost
    trials = study.get_trials(deepcopy=False)
    live = ("WAITING", "RUNNING", "COMPLETE")
    queued = {t.user_attrs.get("candidate") for t in trials if t.state.name in live}
    for name in args.candidates:  # queue those with neither a record nor a live trial
        if all((name, args.epochs, s) in done for s in args.seeds):
            print(f"{name}: already recorded, skipped")
        elif name in queued:
            print(f"{name}: queued (or trained by another worker): training it if it waits")
        else:
            study.enqueue_trial({}, user_attrs={"candidate": name})
    train = data.load_mnist(args.data, train=True)
    train, val = train.split(settings["split"], seed=TARGETS["split_seed"])
    while True:  # until no candidate is queued, nor trained by another worker
        sweep.fail_lost_trials(study)
        states = {t.state.name for t in study.get_trials(deepcopy=False)}
        if "WAITING" in states:
            study.optimize(lambda t: _train(t, train, val, args), n_trials=1)
        elif "RUNNING" not in states:
            break
        else:
            time.sleep(10)
    records = load(args.out, [])  # read again: others may have added records meanwhile
    done = {_key(r) for r in records}
    for trial in study.get_trials(deepcopy=False):
        for record in trial.user_attrs.get("records", []) if trial.state.name == "COMPLETE" else []:
            if _key(record) not in done:
                records.append(record)
                done.add(_key(record))
    save_json(args.out, records)


if __name__ == "__main__":
    main()
