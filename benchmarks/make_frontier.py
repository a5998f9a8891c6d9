"""Take in frontier runs; write results/frontier.md, frontier_search.md, frontier.png, summary.json.

Usage::

    python benchmarks/make_frontier.py                      # render from the committed JSON
    python benchmarks/make_frontier.py --runs DIR... [--machine "NVIDIA H100"]

Taking in (:func:`ingest`) is apart from rendering, which reads committed JSON only: the
histories, ``results/frontier/search.json`` and ``anchors.json``. Every accuracy is the
final epoch's (none is picked on the test set).
"""

import argparse
import datetime
import hashlib
import json
import statistics
from pathlib import Path

from common import REPO, STD_NOTE, TARGETS, fill, load, mean_std, write_text

from mnistlite import models, params, plots, recipes
from mnistlite.atomic import save_json

RESULTS = REPO / "results"
FRONTIER = RESULTS / "frontier"
SEARCH = FRONTIER / "search.json"
MODELS = ["lite10k", "lite8k", "lite5k", "lite2k", "lite1k", "lite600"]
VALIDATION_TRAIN_IMAGES = 60_000 - TARGETS["validation_images"]


def count(name: str) -> int:
    """The parameters of the registered model ``name``."""
    return params.count_parameters(models.get_model(name))


def differences(recipe: dict, teacher_epochs: int | None = None) -> dict:
    """The fields in which ``recipe`` differs from today's recipe of its model, and
    ``teacher_epochs`` where its teacher trained for another number of epochs."""
    off = {"ema": None, "device_overrides": {}}  # to_dict() leaves these out when off
    current = {**off, **recipes.get_recipe(recipe.get("name", "")).to_dict()}
    found = {k: v for k, v in {**off, **recipe}.items() if k in current and current[k] != v}
    found.pop("name", None)
    if str(found.get("model", "")).startswith("search-"):
        found.pop("model")  # a frontier_search.py network: the record names it
    if recipe.get("teacher") and teacher_epochs not in (None, recipes.get_recipe("teacher").epochs):
        found["teacher_epochs"] = teacher_epochs
    return found


def _record(path: Path, history: dict, teacher_epochs: int | None) -> dict:
    """A search.json record of a run that is not a full run of a registered recipe."""
    meta, final = history["meta"], history["epochs"][-1]
    validation = meta.get("train_images") == VALIDATION_TRAIN_IMAGES
    record = {
        "candidate": path.parent.name, "model": meta["recipe"]["name"],
        "split": "validation" if validation else "test", "params": meta["num_params"],
        "seed": meta["seed"], "epochs": len(history["epochs"]), "recipe": meta["recipe"],
        "teacher": (meta.get("teacher") or {}).get("model"),
        "train_acc_final": final["train_acc"],
        ("val_acc_final" if validation else "test_acc_final"): final["test_acc"],
        "seconds": round(sum(e["seconds"] for e in history["epochs"]), 1),
        "device": meta.get("device"),
    }  # fmt: skip
    if teacher_epochs is not None:
        record["teacher_epochs"] = teacher_epochs
    return {**record, "date": datetime.date.today().isoformat()}


def _key(model: str, seed: int, recipe: dict | None, full: bool) -> str:
    """What makes a search record one of its own: a full run and a validation run differ."""
    return json.dumps([model, seed, recipe, full])


def ingest(roots: list[Path], machine: str | None = None) -> None:
    """Take in the finished runs below ``roots`` (see the module's docstring)."""
    histories = {p: load(p) for root in roots for p in sorted(root.rglob("history.json"))}
    teachers = {hashlib.sha256((p.parent / "model.pt").read_bytes()).hexdigest(): len(h["epochs"])
                for p, h in histories.items() if h["meta"]["recipe"]["name"] == "teacher"
                and (p.parent / "model.pt").is_file()}  # fmt: skip
    records = load(SEARCH, [])
    known = {_key(r["model"], r["seed"], r.get("recipe"), r["split"] == "test") for r in records}
    for path, history in histories.items():
        meta = history["meta"]
        name = meta["recipe"]["name"]
        if name not in (*MODELS, "teacher") or len(history["epochs"]) != meta["recipe"]["epochs"]:
            continue  # not a frontier run, or unfinished
        epochs = teachers.get((meta.get("teacher") or {}).get("sha256"))
        full = meta.get("train_images") != VALIDATION_TRAIN_IMAGES
        if full and not differences(meta["recipe"], epochs) and meta["num_params"] == count(name):
            if machine and not meta.get("machine"):
                meta["machine"] = machine
            history["batch_losses"] = []
            (FRONTIER / name).mkdir(parents=True, exist_ok=True)
            save_json(FRONTIER / name / f"history-seed{meta['seed']}.json", history)
        elif _key(name, meta["seed"], meta["recipe"], full) not in known:
            records.append(_record(path, history, epochs))
    save_json(SEARCH, records)


def current_runs(name: str) -> list[dict]:
    """The committed histories of ``name`` that trained its current network and recipe."""
    wanted = (count(name), recipes.get_recipe(name).to_dict())
    histories = (load(p) for p in (FRONTIER / name).glob("history-seed*.json"))
    runs = [h for h in histories if (h["meta"]["num_params"], h["meta"]["recipe"]) == wanted]
    return sorted(runs, key=lambda h: h["meta"]["seed"])


def best_anchor(name: str, anchors: dict) -> dict | None:
    """The most accurate published result at or under ``name``'s parameter budget."""
    inside = [a for a in anchors["anchors"] if a["params"] <= anchors["budgets"][name]]
    return max(inside, key=lambda a: a["accuracy"], default=None)


def frontier_summary(anchors: dict) -> dict[str, dict]:
    """summary.json's "frontier" entry: each model's seeds, mean ± std, time, device, anchor."""
    found = {}
    for name, runs in ((n, current_runs(n)) for n in MODELS):
        if not runs:
            continue
        stats, meta = params.summary(models.get_model(name)), runs[0]["meta"]
        finals = [h["epochs"][-1]["test_acc"] for h in runs]
        minutes = statistics.mean(sum(e["seconds"] for e in h["epochs"]) for h in runs) / 60
        found[name] = {
            "params": stats.total_params, "macs": stats.total_macs,
            "epochs": len(runs[0]["epochs"]), "seeds": [h["meta"]["seed"] for h in runs],
            "finals": finals, "mean": statistics.mean(finals),
            "train_mean": statistics.mean(h["epochs"][-1]["train_acc"] for h in runs),
            "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "minutes": round(minutes, 1), "device": meta.get("machine") or meta.get("device"),
            "teacher": (meta.get("teacher") or {}).get("model"),
            "anchor": best_anchor(name, anchors),
        }  # fmt: skip
    return found


def record_differences(record: dict) -> dict:
    """How a search.json record's recipe differs from its model's registered recipe."""
    return differences({**record.get("recipe", {}), "name": record["model"]},
                       record.get("teacher_epochs"))  # fmt: skip


def label(record: dict) -> str:
    """How a record differs from its model's registered network and recipe."""
    diff = record_differences(record)
    text = ", ".join(f"{k}={v}" for k, v in sorted(diff.items())) or "the recipe"
    registered = record.get("spec") == repr(models.get_model(record["model"]).spec)
    if record["params"] != count(record["model"]) or ("network" in record and not registered):
        network = record.get("network", f"a {record['params']:,}-parameter network")
        text = network if text == "the recipe" else f"{network}; {text}"
    return text


def is_chosen(record: dict) -> bool:
    """Whether ``record`` is a validation run (any seed) of the registered network and recipe."""
    return (record["split"] == "validation"
            and record["epochs"] == recipes.get_recipe(record["model"]).epochs
            and label(record) == "the recipe")  # fmt: skip


def _candidates(name: str, records: list[dict]) -> tuple[list[dict], list | None, list]:
    """``name``'s validation runs; the recipe's (label, epochs, runs) and the others', best
    mean first (runs of 30 epochs or more, grouped by label and epochs)."""
    runs = [r for r in records if r["model"] == name and r["split"] == "validation"]
    groups: dict[tuple[str, int], list[dict]] = {}
    for run in (r for r in runs if r["epochs"] >= 30):
        groups.setdefault((label(run), run["epochs"]), []).append(run)
    ranked = sorted(groups.items(), key=lambda kv: -_mean(kv[1]))
    chosen = groups.get(("the recipe", recipes.get_recipe(name).epochs))
    return runs, chosen, [(k[0], g) for k, g in ranked if g is not chosen]


def _mean(group: list[dict]) -> float:
    return statistics.mean(r["val_acc_final"] for r in group)


def _score(group: list[dict]) -> str:
    """A candidate's validation score: one seed's, or the mean over its seeds."""
    seeds = ", ".join(str(r["seed"]) for r in sorted(group, key=lambda r: r["seed"]))
    first = next((f"; seed 1: {r['val_acc_final']:.2f}%" for r in group if r["seed"] == 1), "")
    several = f" (mean of seeds {seeds}{first})" if len(group) > 1 else ""
    return f"{_mean(group):.2f}%{several}"


def choices(name: str, records: list[dict]) -> list[str]:
    """At most five lines: how ``name``'s network and recipe were chosen."""
    runs, chosen, others = _candidates(name, records)
    if chosen is None:
        return [f"- **{name}**: no validation run recorded."]
    deciding = [r for r in runs if r["epochs"] >= 30]
    dates = sorted({r["date"] for r in runs if "date" in r}) or ["undated"]
    span = " to ".join(dict.fromkeys([dates[0], dates[-1]]))
    fields = sorted({k for r in deciding for k in record_differences(r)} - {"model"})
    networks, proxies = len({r["params"] for r in deciding}), len(runs) - len(deciding)
    return [
        f"- **{name}** ({span}): {len(others) + 1} candidates at 30 epochs or more, "
        f"{networks} network{'s' if networks > 1 else ''}, varied: {', '.join(fields) or '—'}"
        + (f"; {proxies} more validation runs at short proxies." if proxies else "."),
        f"  Chosen: its registered network and recipe ({recipes.get_recipe(name).epochs} "
        f"epochs), {_score(chosen)} on validation. Runners-up: "
        + ", ".join(f"{_score(g)} ({lbl})" for lbl, g in others[:3]) + ".",
    ]  # fmt: skip


def _fit(name: str) -> str:
    """The bundled weights' (seed 1's) accuracy on the training images as they are."""
    meta = models.get_model_weights(name).DEFAULT.meta
    return f"{meta['train_acc']:.2f}" if "train_acc" in meta else "–"


def target_rows(summary: dict[str, dict], records: list[dict], targets: dict) -> list[dict]:
    """Each model against its target: how far, its training fit, its validation evidence."""
    rows = []
    for name, f in ((n, f) for n, f in summary.items() if n in targets["targets"]):
        _, chosen, others = _candidates(name, records)
        short = targets["targets"][name] - f["mean"]
        rows.append({
            "name": name, "target": f"{targets['targets'][name]:.2f}", "mean": f"{f['mean']:.2f}",
            "short": "met" if short <= 0 else f"{short:.2f}", "train": f"{f['train_mean']:.2f}",
            "fit": _fit(name),
            "recipe_val": _score(chosen) if chosen else "–",
            "best_other": f"{_score(others[0][1])} ({others[0][0]})" if others else "–",
            "why": targets["why"].get(name, "") if short > 0 else "met",
        })  # fmt: skip
    return rows


def teacher(records: list[dict]) -> dict:
    """The distillation teacher's run, with its validation twin's score ({} without a run)."""
    runs = sorted((FRONTIER / "teacher").glob("history-seed*.json"))
    history = load(runs[0]) if runs else None
    val = next(
        (r for r in records if r["model"] == "teacher" and is_chosen(r) and r["seed"] == 1), None
    )
    twin = f" and {val['val_acc_final']:.2f}% on validation when trained on 50,000 images"
    return {"teacher": {"meta": history["meta"], "epochs": len(history["epochs"]),
                        "final": history["epochs"][-1]["test_acc"], "twin": twin if val else ""}
            } if history else {}  # fmt: skip


def frontier_page(summary: dict[str, dict], records: list[dict]) -> str:
    """results/frontier.md: our models beside the published ones, the plot, the choices."""
    models_ = []
    for name, f in summary.items():
        a = f["anchor"] or {}
        cells = {k: a.get(k, "–") for k in ("name", "selected", "source")}
        cells["accuracy"] = f"{a['accuracy']:.2f}" if a else "–"
        cells["gap"] = f"{f['mean'] - a['accuracy']:+.2f}".replace("-", "−") if a else "–"
        models_.append({"name": name, **f, "mean_std": mean_std(f["finals"]),
                        "anchor_cells": cells})  # fmt: skip
    lines = [line for name in summary for line in choices(name, records)]
    targets = load(FRONTIER / "targets.json")
    return fill("frontier.md", std_note=STD_NOTE, **teacher(records), models=models_,
                targets=target_rows(summary, records, targets),
                max_epochs=targets["max_epochs"],
                rule=fill("frontier_rule.md").strip(), choices="\n".join(lines))  # fmt: skip


def _augmentation(recipe: dict) -> str:
    if not (recipe.get("rotation") or recipe.get("translate")):
        return "none"
    scale = recipe.get("scale", 0)
    return f"rot {recipe['rotation']:g}°, shift {recipe['translate']:g}, scale {scale:g}"


def _cells(record: dict) -> dict:
    """A search.json record with what the search page's tables show of it."""
    return {**record, "label": label(record), "chosen": "yes" if is_chosen(record) else "",
            "teacher_or": record.get("teacher") or "–", "date_or": record.get("date", "–"),
            "device_or": record.get("device", "–"), "augmentation": _augmentation(record["recipe"]),
            "recipe_teacher": record["recipe"].get("teacher") or "–"}  # fmt: skip


def search_page(records: list[dict]) -> str:
    """results/frontier_search.md: every candidate of search.json, in three tables."""
    order = {name: i for i, name in enumerate([*MODELS, "teacher"])}
    val = sorted((r for r in records if r["split"] == "validation" and r["epochs"] >= 20),
                 key=lambda r: (order[r["model"]], -r["val_acc_final"]))  # fmt: skip
    test = sorted((r for r in records if r["split"] == "test"),
                  key=lambda r: (order[r["model"]], label(r)))  # fmt: skip
    return fill("frontier_search.md", rule=fill("frontier_rule.md").strip(),
                validation=[_cells(r) for r in val], test=[_cells(r) for r in test],
                proxies=[_cells(r) for r in records if "spec" in r])  # fmt: skip


def main() -> None:
    """Take in runs (``--runs``), then render every frontier page from committed JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="run folders to take in first")
    parser.add_argument("--machine", help="the device that trained --runs, e.g. 'NVIDIA H100'")
    args = parser.parse_args()
    if args.runs:
        ingest(args.runs, args.machine)
    anchors, records = load(FRONTIER / "anchors.json"), load(SEARCH, [])
    summary = load(RESULTS / "summary.json", {})
    summary["frontier"] = frontier_summary(anchors)
    save_json(RESULTS / "summary.json", summary)
    write_text(RESULTS / "frontier.md", frontier_page(summary["frontier"], records))
    write_text(RESULTS / "frontier_search.md", search_page(records))
    points = [{"name": n, "params": f["params"], "accuracy": f["mean"], "group": "mnistlite"}
              for n, f in summary["frontier"].items()]  # fmt: skip
    if points:
        drawn = [{k: a[k] for k in ("name", "params", "accuracy")} for a in anchors["anchors"]]
        plots.save_figure(plots.plot_frontier(points, anchors=drawn), RESULTS / "frontier.png")
    from make_results import write_readme  # README's table reads summary.json

    write_readme()
    print(f"wrote {RESULTS / 'frontier.md'} and {RESULTS / 'frontier_search.md'}")


if __name__ == "__main__":
    main()
