"""Frontier search on a validation split: candidate designs and recipes, never the test set.

Usage: python benchmarks/frontier_search.py CANDIDATE... --data ../shared/data [--epochs 4]
           [--storage URL] [--study-name NAME]
       python benchmarks/frontier_search.py --list

Each candidate (a network spec and recipe overrides, defined below in CANDIDATES) trains on
50,000 training images and is scored on the other 10,000 (split seed 0); the test set is
never loaded. Candidates run as queued trials of an Optuna study (mnistlite.sweep.open_study:
any storage, heartbeats, lost trials retried), so the same command started on several
machines with one --storage shares the queue. Results are appended to
results/frontier/search.json (one record per candidate, epochs and seed; an existing record
is skipped), rendered by ``python benchmarks/make_frontier.py`` in
results/frontier_search.md and results/frontier.md.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from mnistlite import data, models, params, recipes, sweep
from mnistlite.atomic import save_json
from mnistlite.models.spec import Conv, DWConv, Head, NetSpec, Pool, Shared

OUT = Path(__file__).resolve().parents[1] / "results" / "frontier" / "search.json"
SPLIT = 10_000  # validation images held out of the 60,000 training images


def _padded(channels: tuple[tuple[int, ...], ...]) -> NetSpec:
    """Blocks of padded 3x3 convs with a 2x2 max-pool between blocks, then GAP."""
    layers: list = []
    cin = 1
    for i, block in enumerate(channels):
        if i:
            layers.append(Pool())
        for cout in block:
            layers.append(Conv(cin, cout, 3, 1))
            cin = cout
    return NetSpec(layers=(*layers, Head(cin)))


def _squeeze(c1: int, c2: int, mid: int, tail: int, depth: int = 4) -> NetSpec:
    """3x3 to c1, 3x3 to c2, 1x1 to mid, pool, ``depth`` unpadded 3x3 convs of ``tail``, GAP."""
    layers = [Conv(1, c1, 3, 0), Conv(c1, c2, 3, 0), Conv(c2, mid, 1, 0), Pool()]
    cin = mid
    for _ in range(depth):
        layers.append(Conv(cin, tail, 3, 0))
        cin = tail
    return NetSpec(layers=(*layers, Head(tail)))


#: Recipes compared (overrides of lite8k's recipe).
RECIPE_A = dict(
    batch_size=128,
    lr=0.05,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-5,
    rotation=7.0,
    translate=0.05,
    interpolation="bilinear",
)
RECIPE_B = dict(
    batch_size=32,
    lr=0.1,
    momentum=0.0,
    nesterov=False,
    weight_decay=0.0,
    rotation=7.0,
    translate=0.09,
    scale=0.09,
    interpolation="bilinear",
)
RECIPE_C = dict(RECIPE_A, batch_size=32, lr=0.02, scale=0.09, translate=0.09)
RECIPE_D = dict(RECIPE_C, batch_size=64, lr=0.04)

#: Tiny networks: pool right after the first conv, separable convs, a shared-weight block,
#: the 2-parameter norm.
TINY1K = NetSpec(
    layers=(
        Conv(1, 6, 3, 1),
        Pool(),
        DWConv(6, 12, pad=1),
        Shared(12, 2),
        Pool(),
        DWConv(12, 16, pad=1),
        Head(16),
    ),
    norm="scalar",
)
TINY600 = NetSpec(
    layers=(
        Conv(1, 4, 3, 1),
        Pool(),
        DWConv(4, 8, pad=1),
        Shared(8, 2),
        Pool(),
        DWConv(8, 12, pad=1),
        Head(12),
    ),
    norm="scalar",
)


def _tiny(c1: int, c2: int, repeats: int, c3: int) -> NetSpec:
    """Conv to c1, pool, separable to c2, a shared separable pair applied ``repeats``
    times, pool, separable to c3, GAP; the 2-parameter norm throughout."""
    return NetSpec(
        layers=(
            Conv(1, c1, 3, 1),
            Pool(),
            DWConv(c1, c2, pad=1),
            Shared(c2, repeats),
            Pool(),
            DWConv(c2, c3, pad=1),
            Head(c3),
        ),
        norm="scalar",
    )


def _tiny_gap(c1: int, c2: int, repeats: int) -> NetSpec:
    """:func:`_tiny` without the classifier: the last separable conv has 10 channels (no
    ReLU, no norm) and their global averages are the logits, so the parameters of the
    1×1 head go into width."""
    body = _tiny(c1, c2, repeats, 10).layers[:-2]
    end = (DWConv(c2, 10, pad=1, relu=False, batchnorm=False), Head(10, conv=False))
    return NetSpec(layers=(*body, *end), norm="scalar")


#: The recipe of the earlier lite models below 2,000 parameters (no augmentation).
RECIPE_E = dict(batch_size=128, lr=0.05, rotation=0.0, translate=0.0, weight_decay=0.0)
KD = dict(teacher="lite10k", distill_temperature=4.0, distill_weight=0.5)

CANDIDATES: dict[str, tuple[NetSpec, dict]] = {
    "sq10k-A": (_squeeze(10, 30, 10, 14), RECIPE_A),
    "sq10k-B": (_squeeze(10, 30, 10, 14), RECIPE_B),
    "sq10k-C": (_squeeze(10, 30, 10, 14), RECIPE_C),
    "pad3762-A": (_padded(((4, 4, 4), (8, 8, 8), (8, 8, 8))), RECIPE_A),
    "pad3762-C": (_padded(((4, 4, 4), (8, 8, 8), (8, 8, 8))), RECIPE_C),
    "sq10k-D": (_squeeze(10, 30, 10, 14), RECIPE_D),
    "pad3762-D": (_padded(((4, 4, 4), (8, 8, 8), (8, 8, 8))), RECIPE_D),
    "pad4516-D": (_padded(((4, 4, 4), (8, 8, 8), (10, 10, 10))), RECIPE_D),
    "sq5k-D": (_squeeze(6, 20, 8, 10), RECIPE_D),
    "sq8k-D": (_squeeze(8, 28, 10, 12), RECIPE_D),
    "lite1k-E": (models.LITE1K, RECIPE_E),
    "lite1k-E-kd": (models.LITE1K, dict(RECIPE_E, **KD)),
    "tiny1k-E": (TINY1K, RECIPE_E),
    "tiny1k-E-kd": (TINY1K, dict(RECIPE_E, **KD)),
    "tiny600-E": (TINY600, RECIPE_E),
    "lite600-E": (models.LITE600, RECIPE_E),
    # 2026-11-26: lite600's network with more depth for few parameters, its own recipe
    # (30 epochs, no augmentation, no teacher): run with --epochs 30
    "tiny600-rep4": (_tiny(4, 8, 4, 12), {"base": "lite600"}),
    "tiny600-c6rep3": (_tiny(6, 8, 3, 12), {"base": "lite600"}),
    # 2026-11-26 (CPU only, so no teacher): lite1k's network with lite600's lesson (a wider
    # first conv and a third pass of the shared pair), with lite600's recipe: --epochs 30
    "tiny1k-c8rep3": (_tiny(8, 12, 3, 16), {"base": "lite600"}),
    "tiny1k-c10rep3": (_tiny(10, 12, 3, 14), {"base": "lite600"}),
    # ... and the same lesson pushed further at 600 (a wider first conv, a narrower middle)
    "tiny600-c8m6": (_tiny(8, 6, 3, 14), {"base": "lite600"}),
    "tiny600-c10m6": (_tiny(10, 6, 3, 12), {"base": "lite600"}),
    # 2026-11-26: no 1x1 classifier (a fifth of lite600's parameters), the middle wider
    "tiny600-gap": (_tiny_gap(7, 10, 3), {"base": "lite600"}),
    "tiny1k-gap": (_tiny_gap(8, 16, 3), {"base": "lite1k"}),
    # ... and a fourth pass of the shared pair (2 parameters each) on today's networks
    "tiny600-c6rep4": (_tiny(6, 8, 4, 12), {"base": "lite600"}),
    "tiny1k-c8rep4": (_tiny(8, 12, 4, 16), {"base": "lite1k"}),
    # 2026-11-26: the padded design (3,762 in its notebook, 3,692 as counted here: no conv
    # bias) and its widened 4,516-parameter twin at 30 epochs with lite5k's recipe
    "pad3762-5k": (_padded(((4, 4, 4), (8, 8, 8), (8, 8, 8))), {"base": "lite5k"}),
    "pad4516-5k": (_padded(((4, 4, 4), (8, 8, 8), (10, 10, 10))), {"base": "lite5k"}),
    # ... and the design scaled to lite8k's budget (7,002 and 7,580 parameters), lite8k's recipe
    "pad7002-8k": (_padded(((6, 6, 6), (10, 10, 10), (12, 12, 12))), {"base": "lite8k"}),
    "pad7580-8k": (_padded(((4, 4, 4), (10, 10, 10), (14, 14, 14))), {"base": "lite8k"}),
}


def _register(name: str, spec: NetSpec) -> str:
    model_name = f"search-{name}"
    if model_name not in models.list_models():
        models.register_model(model_name)(lambda **_: models.SpecNet(spec))
    return model_name


def _train(trial, train, val, epochs: int, seed: int) -> float:
    """One queued candidate, as a trial: its record is kept in the trial's user attributes."""
    import optuna

    if "candidate" not in trial.user_attrs:  # not a queued one: another worker took the last
        raise optuna.TrialPruned("no queued candidate left")
    name = trial.suggest_categorical("candidate", sorted(CANDIDATES))
    spec, overrides = CANDIDATES[name]
    overrides = dict(overrides)
    base = overrides.pop("base", "lite8k")  # the registered recipe the overrides change
    recipe = recipes.get_recipe(base).replace(
        name=name, model=_register(name, spec), epochs=epochs, **overrides
    )
    start = time.time()
    model, history = recipes.train(recipe, data=(train, val), seed=seed, progress=False)
    record = {
        "candidate": name,
        "epochs": epochs,
        "seed": seed,
        "params": params.count_parameters(model),
        "val_acc_final": history.final["test_acc"],
        "val_acc_per_epoch": history.column("test_acc"),
        "train_acc_final": history.final["train_acc"],
        "seconds": round(time.time() - start, 1),
        "recipe": {k: v for k, v in recipe.to_dict().items() if k not in ("name", "model")},
        "spec": repr(spec),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    trial.set_user_attr("record", record)
    print(
        f"{name}: {record['params']:,} params, val {record['val_acc_final']:.2f} "
        f"(train {record['train_acc_final']:.2f}) in {record['seconds']:.0f} s",
        flush=True,
    )
    return record["val_acc_final"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candidates", nargs="*")
    parser.add_argument("--data")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT, help="records file (default: %(default)s)")
    parser.add_argument("--storage", default="sqlite:///frontier-search.db", help="study storage")
    parser.add_argument("--study-name", help="default: frontier-eEPOCHS-sSEED")
    args = parser.parse_args()
    if args.list:
        for name, (spec, _) in CANDIDATES.items():
            print(name, params.count_parameters(models.SpecNet(spec)))
        return
    unknown = [name for name in args.candidates if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; --list shows them")
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["candidate"], r["epochs"], r["seed"]) for r in records}
    study_name = args.study_name or f"frontier-e{args.epochs}-s{args.seed}"
    settings = {"epochs": args.epochs, "seed": args.seed, "split": SPLIT}
    study = sweep.open_study(args.storage, study_name, settings)
    live = ("WAITING", "RUNNING", "COMPLETE")
    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs.get("candidate") for t in trials if t.state.name in live}
    for name in args.candidates:
        if (name, args.epochs, args.seed) in done or name in queued:
            print(f"{name}: already in {args.out.name} or queued, skipped")
        else:
            study.enqueue_trial({"candidate": name}, user_attrs={"candidate": name})
    train, val = data.load_mnist(args.data, train=True).split(SPLIT, seed=0)
    while True:  # until no candidate is queued, nor trained by another worker
        sweep.fail_lost_trials(study)
        states = {t.state.name for t in study.get_trials(deepcopy=False)}
        if "WAITING" in states:
            study.optimize(lambda t: _train(t, train, val, args.epochs, args.seed), n_trials=1)
        elif "RUNNING" in states:
            time.sleep(10)
        else:
            break
    for trial in study.get_trials(deepcopy=False):
        record = trial.user_attrs.get("record")
        if trial.state.name == "COMPLETE" and record:
            key = (record["candidate"], record["epochs"], record["seed"])
            if key not in done:
                records.append(record)
                done.add(key)
    save_json(args.out, records)


if __name__ == "__main__":
    main()
