"""Write results/README.md, the steps' figures, summary.json's "steps" and README's table.

Usage::

    mnistlite train STEP --seed S --no-bf16 --device cpu --data ../shared/data \\
        --out runs/reproduce/STEP-seedS          # each step, seed 1; step 2 also seeds 2, 3
    python benchmarks/make_results.py --runs runs/reproduce
    python benchmarks/make_results.py [--readme-only]   # render from the committed JSON

Finished runs under ``--runs`` (``STEP-seedS/history.json``) are copied to
``results/STEP/history.json`` (seed 1) and ``results/STEP/history-seedS.json`` (other
seeds); everything is then built from the committed copies alone. The seed's reference
numbers are read from ``results/seed_reference.json``, their one copy. The block of
README.md between the ``results-table`` markers is rewritten from ``results/summary.json``
(its "steps" entry written here, its "frontier" entry by ``benchmarks/make_frontier.py``);
``--readme-only`` rewrites just that block, and ``tests/test_results.py`` fails when
README and summary.json disagree.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

from tables import STD_NOTE, fill, markdown_table, mean_std

from mnistlite.atomic import save_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
STEPS = [f"step{i}" for i in range(1, 8)]
BEGIN = "<!-- results-table: begin (written by `python benchmarks/make_results.py`) -->"
END = "<!-- results-table: end -->"


def seed_reference() -> dict[str, Any]:
    """``results/seed_reference.json``: the seed's logs (``runs``) and stated numbers."""
    return json.loads((RESULTS / "seed_reference.json").read_text())


def seed_best_test(reference: dict[str, Any], step: str) -> float:
    """The seed's best test accuracy of ``step``: the maximum of its reference run's log."""
    return max(reference["runs"][step][0]["test_acc"])


def copy_runs(root: Path) -> None:
    """Copy the finished step runs under ``root`` into ``results/STEP/``."""
    for path in sorted(root.glob("step*-seed*/history.json")):
        match = re.fullmatch(r"(step\d)-seed(\d+)", path.parent.name)
        history = json.loads(path.read_text())
        if match and len(history["epochs"]) == history["meta"]["recipe"]["epochs"]:
            step, seed = match.group(1), int(match.group(2))
            (RESULTS / step).mkdir(exist_ok=True)
            name = "history.json" if seed == 1 else f"history-seed{seed}.json"
            shutil.copy(path, RESULTS / step / name)


def step_runs(step: str) -> list[dict[str, Any]]:
    """The committed histories of ``step``, seed 1 (``history.json``) first."""
    folder = RESULTS / step
    paths = [folder / "history.json", *sorted(folder.glob("history-seed*.json"))]
    runs = [json.loads(p.read_text()) for p in paths if p.is_file()]
    return sorted(runs, key=lambda r: r["meta"]["seed"])


def steps_summary(reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """summary.json's "steps" entry, computed from the committed histories."""
    steps: dict[str, dict[str, Any]] = {}
    for step in (s for s in STEPS if step_runs(s)):
        runs = step_runs(step)
        epochs = runs[0]["epochs"]
        tests = [e["test_acc"] for e in epochs]
        steps[step] = {
            "params": runs[0]["meta"]["num_params"], "epochs": len(tests),
            "seed": runs[0]["meta"]["seed"], "best_test": max(tests), "final_test": tests[-1],
            "best_train": max(e["train_acc"] for e in epochs),
            "seed_best_test": seed_best_test(reference, step),
            "minutes": round(sum(e["seconds"] for e in epochs) / 60, 1),
            "device": runs[0]["meta"].get("device", "cpu"),
        }  # fmt: skip
        if len(runs) > 1:
            bests = [max(e["test_acc"] for e in r["epochs"]) for r in runs]
            finals = [r["epochs"][-1]["test_acc"] for r in runs]
            steps[step]["seeds"] = {
                "seeds": [r["meta"]["seed"] for r in runs], "best": bests, "final": finals,
                "best_mean": statistics.mean(bests), "best_std": statistics.stdev(bests),
                "final_mean": statistics.mean(finals), "final_std": statistics.stdev(finals),
            }  # fmt: skip
    return steps


def results_readme(summary: dict[str, Any], reference: dict[str, Any]) -> str:
    """results/README.md: the steps' table, the extra seeds, notes (benchmarks/templates)."""
    steps, rows = summary["steps"], []
    for step, s in steps.items():
        best = seed_best_test(reference, step)
        rows.append([step, f"{s['params']:,}", s["epochs"], f"{s['best_test']:.2f}",
                     f"{s['final_test']:.2f}", f"{s['best_train']:.2f}", f"{best:.2f}",
                     f"{s['best_test'] - best:+.2f}", f"{s['minutes']:.1f} min"])  # fmt: skip
    columns = ["step", "parameters", "epochs", "best test", "final test", "best train",
               "seed's best test", "gap (best − seed)", "wall time"]  # fmt: skip
    seeds = [seeds_line(step, s["seeds"]) for step, s in steps.items() if "seeds" in s]
    step2 = reference["runs"]["step2"][0]["test_acc"]
    return fill(
        "results_readme.md", std_note=STD_NOTE, machine=summary.get("machine", "unrecorded"),
        table="\n".join(markdown_table(columns, rows)),
        seeds="\nSeveral seeds (to tell luck from the recipe):\n\n" + "\n".join(seeds) + "\n"
        if seeds else "",
        step1=step1_note(step_runs("step1")[0]), step2_best=max(step2),
        step2_epoch=step2.index(max(step2)) + 1, step2_last=step2[-1],
    )  # fmt: skip


def seeds_line(step: str, seeds: dict[str, Any]) -> str:
    """One step's seeds: best and final test accuracy, mean ± std and each."""
    best, final = (", ".join(f"{v:.2f}" for v in seeds[k]) for k in ("best", "final"))
    return (f"- {step}, seeds {', '.join(map(str, seeds['seeds']))}: best test "
            f"{mean_std(seeds['best'])} (each: {best}), final test {mean_std(seeds['final'])} "
            f"(each: {final}); histories in `results/{step}/history*.json`")  # fmt: skip


def step1_note(run: dict[str, Any]) -> str:
    """The results page's note on step 1 (6.4M parameters), from its history."""
    seconds = [e["seconds"] for e in run["epochs"]]
    typical = statistics.median(seconds)
    slow = [i + 1 for i, s in enumerate(seconds) if s > 1.5 * typical]
    text = (
        "- step1 (6.4M parameters) trained alone on both cores of the CPU: "
        f"{sum(seconds) / 60:.0f} min in all, a median of {typical / 60:.1f} min per epoch"
    )
    if slow:
        text += (
            f" (epoch{'s' if len(slow) > 1 else ''} {', '.join(map(str, slow))} took longer: "
            "the CPU was shared then; the run was stopped and resumed from its per-epoch "
            "checkpoint, as `mnistlite train step1 --resume` does)"
        )
    return text + (
        ". Its 25 MB weights are not bundled with the package; its history is "
        "`results/step1/history.json`."
    )


def _span(seeds: list[int]) -> str:
    """'1–3' for consecutive seeds, else '1, 5'."""
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def readme_table(summary: dict[str, Any], reference: dict[str, Any]) -> str:
    """README.md's results block (markers included), from summary.json alone."""
    rows, machine = [], summary.get("machine", "CPU")
    for step, s in summary["steps"].items():
        seed_best = f"{seed_best_test(reference, step):.2f}"
        text = f"best {s['best_test']:.2f} / final {s['final_test']:.2f}"
        if "seeds" in s:
            text += f" (seeds {_span(s['seeds']['seeds'])}: best {mean_std(s['seeds']['best'])})"
        rows.append([step, f"{s['params']:,}", s["epochs"], text, seed_best, f"{machine} (CPU)"])
    frontier = summary.get("frontier", {})
    for name in sorted(frontier, key=lambda n: frontier[n]["params"]):
        f, n = frontier[name], len(frontier[name]["finals"])
        text = f"final {mean_std(f['finals'])} ({n} seed{'s' if n > 1 else ''})"
        rows.append([name, f"{f['params']:,}", f["epochs"], text, "–", f["device"]])
    columns = ["model", "parameters", "epochs", "test accuracy (ours)", "seed's best test",
               "trained on"]  # fmt: skip
    intro = ("Test accuracy (%) on the 10,000 MNIST test images: the seed's steps as seed-1 "
             "runs (best and final epoch), the frontier models as the final epoch's mean ± std "
             f"over their seeds; {STD_NOTE}")  # fmt: skip
    return "\n".join([BEGIN, intro, "", *markdown_table(columns, rows), END])


def write_readme() -> None:
    """Rewrite README.md's results block from results/summary.json."""
    summary = json.loads((RESULTS / "summary.json").read_text())
    text = README.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    block = readme_table(summary, seed_reference())
    README.write_text(text[:start] + block + text[end + len(END) :])


def figures(summary: dict[str, Any], reference: dict[str, Any]) -> None:
    """Each step's history against the seed's log, and every step's test accuracy."""
    from mnistlite import plots

    histories = {step: step_runs(step)[0] for step in summary["steps"]}
    for step, run in histories.items():
        fig = plots.plot_history(run, reference["runs"][step][0], labels=("mnistlite", "seed"))
        plots.save_figure(fig, RESULTS / step / "history.png")
    if histories:
        fig = plots.plot_accuracy_curves(histories, ylim=(97.0, 99.7))
        plots.save_figure(fig, RESULTS / "test_accuracy_steps.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, help="run folders (STEP-seedS/) to copy in first")
    parser.add_argument("--no-figures", action="store_true", help="leave the figures as they are")
    parser.add_argument("--readme-only", action="store_true", help="only README's table")
    args = parser.parse_args()
    if not args.readme_only:
        if args.runs is not None:
            copy_runs(args.runs)
        reference = seed_reference()
        path = RESULTS / "summary.json"
        summary = json.loads(path.read_text()) if path.exists() else {}
        summary["machine"] = summary.get("machine") or platform.processor() or platform.machine()
        summary["std"] = "sample standard deviation (n - 1) over seeds"
        summary["steps"] = steps_summary(reference)
        summary.setdefault("frontier", {})
        save_json(path, summary)
        (RESULTS / "README.md").write_text(results_readme(summary, reference))
        if not args.no_figures:
            figures(summary, reference)
    write_readme()


if __name__ == "__main__":
    main()
