"""Take in frontier runs; write results/frontier.md, frontier_search.md, frontier.png, summary.json.

Usage::

    python benchmarks/make_frontier.py                      # render from the committed JSON
    python benchmarks/make_frontier.py --runs DIR... [--machine "NVIDIA H100"]

``--runs`` first takes in every finished ``history.json`` below the folders given, at any
depth (``OUT/seed-S/``, ``OUT/MODEL-seedS/`` or ``OUT/JOB/``): a full run of a lite model's
registered network and recipe is copied, without its per-batch losses, to
``results/frontier/MODEL/history-seedS.json`` (a seed already there is replaced); any other
run of a lite model or the teacher (a validation run, or another recipe) becomes a record
of ``results/frontier/search.json``. ``--machine`` names the device in the copied
histories that do not name it. Rendering reads committed JSON only: the histories,
``search.json`` and ``results/frontier/anchors.json`` (published results and parameter
budgets). Every accuracy is the final epoch's (no epoch is picked on the test set).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tables import STD_NOTE, fill, markdown_table, mean_std

from mnistlite import models, params, plots, recipes
from mnistlite.atomic import save_json

RESULTS = Path(__file__).resolve().parents[1] / "results"
FRONTIER = RESULTS / "frontier"
SEARCH = FRONTIER / "search.json"
MODELS = ["lite10k", "lite8k", "lite5k", "lite2k", "lite1k", "lite600"]
VALIDATION_IMAGES = 10_000  # held out of the 60,000 training images (split seed 0)
RULE = (
    "Rule, fixed before the runs: each candidate trains once (seed 1) on 50,000 training "
    "images and is scored on the other 10,000 (split seed 0; a distilling candidate's "
    "teacher trained on the same 50,000); the registered network and recipe is the "
    "candidate with the highest final validation accuracy. The test set chose nothing. "
    "Since 2026-11-26, candidates train with seeds 1-3 side by side and are scored by "
    "their mean (`benchmarks/frontier_search.py --seeds`), since below 1,000 parameters one "
    "seed's score spreads widely."
)


def _load(path: Path, default: object) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


def count(name: str) -> int:
    """The parameters of the registered model ``name``."""
    return params.count_parameters(models.get_model(name))


def differences(recipe: dict, teacher_epochs: int | None = None) -> dict:
    """The fields in which ``recipe`` differs from today's recipe of its model, and
    ``teacher_epochs`` where its teacher trained for another number of epochs."""
    current = recipes.get_recipe(recipe.get("name", "")).to_dict()
    found = {k: v for k, v in recipe.items() if k in current and current[k] != v}
    found.pop("name", None)
    if str(found.get("model", "")).startswith("search-"):
        found.pop("model")  # a frontier_search.py network: the record names it
    if recipe.get("teacher") and teacher_epochs not in (None, recipes.get_recipe("teacher").epochs):
        found["teacher_epochs"] = teacher_epochs
    return found


def _teacher_epochs(paths: list[Path]) -> dict[str, int]:
    """Epochs of each teacher run among ``paths``, by the sha256 of its model.pt."""
    found = {}
    for path in paths:
        history, model = json.loads(path.read_text()), path.parent / "model.pt"
        if history["meta"]["recipe"]["name"] == "teacher" and model.is_file():
            found[hashlib.sha256(model.read_bytes()).hexdigest()] = len(history["epochs"])
    return found


def _record(path: Path, history: dict, teacher_epochs: int | None) -> dict:
    """A search.json record of a run that is not a full run of a registered recipe."""
    meta, final = history["meta"], history["epochs"][-1]
    validation = meta.get("train_images") == 60_000 - VALIDATION_IMAGES
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


def ingest(roots: list[Path], machine: str | None = None) -> None:
    """Take in the finished runs below ``roots`` (see the module's docstring)."""
    paths = sorted(p for root in roots for p in root.rglob("history.json"))
    teachers = _teacher_epochs(paths)
    records = _load(SEARCH, [])
    known = {json.dumps([r["model"], r["seed"], r.get("recipe")]) for r in records}
    for path in paths:
        history = json.loads(path.read_text())
        meta = history["meta"]
        name = meta["recipe"]["name"]
        if name not in (*MODELS, "teacher") or len(history["epochs"]) != meta["recipe"]["epochs"]:
            continue  # not a frontier run, or unfinished
        epochs = teachers.get((meta.get("teacher") or {}).get("sha256"))
        full = meta.get("train_images") != 60_000 - VALIDATION_IMAGES
        if full and not differences(meta["recipe"], epochs) and meta["num_params"] == count(name):
            if machine and not meta.get("machine"):
                meta["machine"] = machine
            history["batch_losses"] = []
            (FRONTIER / name).mkdir(parents=True, exist_ok=True)
            save_json(FRONTIER / name / f"history-seed{meta['seed']}.json", history)
        elif json.dumps([name, meta["seed"], meta["recipe"]]) not in known:
            records.append(_record(path, history, epochs))
    save_json(SEARCH, records)


def current_runs(name: str) -> list[dict]:
    """The committed histories of ``name`` that trained its current network and recipe."""
    wanted = (count(name), recipes.get_recipe(name).to_dict())
    histories = (json.loads(p.read_text()) for p in (FRONTIER / name).glob("history-seed*.json"))
    runs = [h for h in histories if (h["meta"]["num_params"], h["meta"]["recipe"]) == wanted]
    return sorted(runs, key=lambda h: h["meta"]["seed"])


def best_anchor(name: str, anchors: dict) -> dict | None:
    """The most accurate published result at or under ``name``'s parameter budget."""
    inside = [a for a in anchors["anchors"] if a["params"] <= anchors["budgets"][name]]
    return max(inside, key=lambda a: a["accuracy"], default=None)


def frontier_summary(anchors: dict) -> dict[str, dict]:
    """summary.json's "frontier" entry: each model's seeds, mean ± std, time, device, anchor."""
    found = {}
    for name in MODELS:
        runs = current_runs(name)
        if not runs:
            continue
        stats = params.summary(models.get_model(name))
        finals = [h["epochs"][-1]["test_acc"] for h in runs]
        minutes = statistics.mean(sum(e["seconds"] for e in h["epochs"]) for h in runs) / 60
        meta = runs[0]["meta"]
        found[name] = {
            "params": stats.total_params, "macs": stats.total_macs,
            "epochs": len(runs[0]["epochs"]), "seeds": [h["meta"]["seed"] for h in runs],
            "finals": finals, "mean": statistics.mean(finals),
            "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "minutes": round(minutes, 1), "device": meta.get("machine") or meta.get("device"),
            "teacher": (meta.get("teacher") or {}).get("model"),
            "anchor": best_anchor(name, anchors),
        }  # fmt: skip
    return found


def record_differences(record: dict) -> dict:
    """How a search.json record's recipe differs from its model's registered recipe."""
    recipe = {**record.get("recipe", {}), "name": record["model"]}
    return differences(recipe, record.get("teacher_epochs"))


def label(record: dict) -> str:
    """How a record differs from its model's registered network and recipe."""
    diff = record_differences(record)
    text = ", ".join(f"{k}={v}" for k, v in sorted(diff.items())) or "the recipe"
    if record["params"] != count(record["model"]) or "network" in record:
        network = record.get("network", f"a {record['params']:,}-parameter network")
        text = network if text == "the recipe" else f"{network}; {text}"
    return text


def is_chosen(record: dict) -> bool:
    """Whether ``record`` is the registered network and recipe's deciding validation run."""
    return (
        record["split"] == "validation"
        and record["seed"] == 1
        and record["epochs"] == recipes.get_recipe(record["model"]).epochs
        and label(record) == "the recipe"
    )


def choices(name: str, records: list[dict]) -> list[str]:
    """At most five lines: how ``name``'s network and recipe were chosen."""
    runs = [r for r in records if r["model"] == name and r["split"] == "validation"]
    deciding = [r for r in runs if r["seed"] == 1 and r["epochs"] >= 30]
    chosen = next((r for r in deciding if is_chosen(r)), None)
    if chosen is None:
        return [f"- **{name}**: no validation run recorded."]
    others = sorted((r for r in deciding if r is not chosen), key=lambda r: -r["val_acc_final"])
    dates = sorted({r["date"] for r in runs if "date" in r}) or ["undated"]
    span = " to ".join(dict.fromkeys([dates[0], dates[-1]]))
    fields = sorted({k for r in deciding for k in record_differences(r)} - {"model"})
    networks = len({r["params"] for r in deciding})
    proxies = len(runs) - len(deciding)
    return [
        f"- **{name}** ({span}): {len(deciding)} candidates at "
        f"{chosen['epochs']} epochs, {networks} network{'s' if networks > 1 else ''}, varied: "
        f"{', '.join(fields) or '—'}"
        + (f"; {proxies} more validation runs (other seeds, 4-epoch proxies)." if proxies else "."),
        f"  Chosen: its registered network and recipe, {chosen['val_acc_final']:.2f}% on "
        f"validation. Runners-up: "
        + ", ".join(f"{r['val_acc_final']:.2f}% ({label(r)})" for r in others[:3])
        + ".",
    ]


def teacher_line(records: list[dict]) -> str:
    """The distillation teacher's run, with its validation twin's score."""
    runs = sorted((FRONTIER / "teacher").glob("history-seed*.json"))
    if not runs:
        return ""
    history = json.loads(runs[0].read_text())
    val = next((r for r in records if r["model"] == "teacher" and is_chosen(r)), None)
    twin = f" and {val['val_acc_final']:.2f}% on validation when trained on 50,000 images"
    return (f"The teacher of the distilled models (`teacher`, {history['meta']['num_params']:,} "
            f"parameters, {len(history['epochs'])} epochs, seed {history['meta']['seed']}) "
            f"reached {history['epochs'][-1]['test_acc']:.2f}% on the test set"
            f"{twin if val else ''}; its bundled weights are that run's final epoch.")  # fmt: skip


def frontier_page(summary: dict[str, dict], records: list[dict]) -> str:
    """results/frontier.md: our models beside the published ones, the plot, the choices."""
    rows = []
    for name, f in summary.items():
        a = f["anchor"] or {}
        rows.append([
            f"**{name}**", f"{f['params']:,}", f"{f['macs']:,}", f"**{mean_std(f['finals'])}**",
            ", ".join(f"{v:.2f}" for v in f["finals"]), f["epochs"], f"{f['minutes']:.1f} min",
            f["device"], a.get("name", "–"), f"{a['accuracy']:.2f}" if a else "–",
            a.get("selected", "–"), a.get("source", "–"),
        ])  # fmt: skip
    columns = [
        "model", "parameters", "MACs", "test accuracy, mean ± std", "per seed", "epochs",
        "wall time per run", "trained on", "best published ≤ budget (parameters)",
        "its accuracy", "how it was selected", "source",
    ]  # fmt: skip
    table = "\n".join(markdown_table(columns, rows, "lrrllrrlrrll"))
    choices_ = "\n".join(line for name in summary for line in choices(name, records))
    return fill("frontier.md", std_note=STD_NOTE, table=table, teacher=teacher_line(records),
                rule=RULE, choices=choices_)  # fmt: skip


def _augmentation(recipe: dict) -> str:
    if not (recipe.get("rotation") or recipe.get("translate")):
        return "none"
    scale = recipe.get("scale", 0)
    return f"rot {recipe['rotation']:g}°, shift {recipe['translate']:g}, scale {scale:g}"


Column = tuple[str, Callable[[dict], object]]
VALIDATION_COLUMNS: list[Column] = [
    ("model", lambda r: r["model"]),
    ("candidate (differs from the recipe in)", label),
    ("seed", lambda r: r["seed"]),
    ("parameters", lambda r: f"{r['params']:,}"),
    ("teacher", lambda r: r.get("teacher") or "–"),
    ("validation accuracy", lambda r: f"{r['val_acc_final']:.2f}"),
    ("train accuracy", lambda r: f"{r['train_acc_final']:.2f}"),
    ("chosen", lambda r: "yes" if is_chosen(r) else ""),
    ("date", lambda r: r.get("date", "–")),
    ("trained on", lambda r: r.get("device", "–")),
]
TEST_COLUMNS: list[Column] = [
    *VALIDATION_COLUMNS[:3],
    ("test accuracy", lambda r: f"{r['test_acc_final']:.2f}"),
    VALIDATION_COLUMNS[8],
]
PROXY_COLUMNS: list[Column] = [
    ("candidate", lambda r: r["candidate"]),
    VALIDATION_COLUMNS[3],
    ("epochs", lambda r: r["epochs"]),
    *VALIDATION_COLUMNS[5:7],
    ("batch", lambda r: r["recipe"]["batch_size"]),
    ("peak lr", lambda r: f"{r['recipe']['lr']:g}"),
    ("augmentation", lambda r: _augmentation(r["recipe"])),
    ("teacher", lambda r: r["recipe"].get("teacher") or "–"),
    ("seconds", lambda r: f"{r['seconds']:.0f}"),
    VALIDATION_COLUMNS[8],
]


def _table(columns: list[Column], records: list[dict]) -> str:
    rows = [[f(r) for _, f in columns] for r in records]
    return "\n".join(markdown_table([c for c, _ in columns], rows))


def search_page(records: list[dict]) -> str:
    """results/frontier_search.md: every candidate of search.json, in three tables."""
    order = {name: i for i, name in enumerate([*MODELS, "teacher"])}
    val = sorted(
        (r for r in records if r["split"] == "validation" and r["epochs"] >= 20),
        key=lambda r: (order[r["model"]], -r["val_acc_final"]),
    )
    test = sorted(
        (r for r in records if r["split"] == "test"), key=lambda r: (order[r["model"]], label(r))
    )
    proxies = _table(PROXY_COLUMNS, [r for r in records if "spec" in r])
    return fill("frontier_search.md", rule=RULE, validation=_table(VALIDATION_COLUMNS, val),
                test=_table(TEST_COLUMNS, test), proxies=proxies)  # fmt: skip


def main() -> None:
    """Take in runs (``--runs``), then render every frontier page from committed JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="run folders to take in first")
    parser.add_argument("--machine", help="the device that trained --runs, e.g. 'NVIDIA H100'")
    args = parser.parse_args()
    if args.runs:
        ingest(args.runs, args.machine)
    anchors = json.loads((FRONTIER / "anchors.json").read_text())
    records = _load(SEARCH, [])
    summary_path = RESULTS / "summary.json"
    summary = _load(summary_path, {})
    summary["frontier"] = frontier_summary(anchors)
    save_json(summary_path, summary)
    (RESULTS / "frontier.md").write_text(frontier_page(summary["frontier"], records))
    (RESULTS / "frontier_search.md").write_text(search_page(records))
    points = [
        {"name": n, "params": f["params"], "accuracy": f["mean"], "group": "mnistlite"}
        for n, f in summary["frontier"].items()
    ]
    if points:
        drawn = [{k: a[k] for k in ("name", "params", "accuracy")} for a in anchors["anchors"]]
        plots.save_figure(plots.plot_frontier(points, anchors=drawn), RESULTS / "frontier.png")
    from make_results import write_readme  # README's table reads summary.json

    write_readme()
    print(f"wrote {RESULTS / 'frontier.md'} and {RESULTS / 'frontier_search.md'}")


if __name__ == "__main__":
    main()
