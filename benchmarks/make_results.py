"""Write results/README.md, the steps' figures, summary.json's "steps" and README's table.

Usage::

    mnistlite train STEP --seed S --no-bf16 --device cpu --data ../shared/data \\
        --out runs/reproduce/STEP-seedS          # each step, seed 1; step 2 also seeds 2, 3
    python benchmarks/make_results.py --runs runs/reproduce   # take the runs in, then render
    python benchmarks/make_results.py [--readme-only]   # render from the committed JSON

Rendering reads the committed histories (``results/STEP/history*.json``) and
``results/notebook_reference.json`` alone; README's ``results-table`` block comes from
``results/summary.json``.
"""

import argparse
import platform
import re
import shutil
import statistics
from pathlib import Path

from common import REPO, STD_NOTE, fill, load, mean_std, write_text

from mnistlite.atomic import save_json

RESULTS = REPO / "results"
README = REPO / "README.md"
STEPS = [f"step{i}" for i in range(1, 8)]
BEGIN = "<!-- results-table: begin (written by `python benchmarks/make_results.py`) -->"
END = "<!-- results-table: end -->"


def notebook_reference() -> dict:
    """``results/notebook_reference.json``: the notebooks' logs (``runs``) and stated numbers."""
    return load(RESULTS / "notebook_reference.json")


def notebook_best_test(reference: dict, step: str) -> float:
    """The notebooks' best test accuracy of ``step``: the maximum of its reference run's log."""
    return max(reference["runs"][step][0]["test_acc"])


def copy_runs(root: Path) -> None:
    """Take in the finished step runs under ``root``: copies in ``results/STEP/``."""
    for path in sorted(root.glob("step*-seed*/history.json")):
        match, history = re.fullmatch(r"(step\d)-seed(\d+)", path.parent.name), load(path)
        if match and len(history["epochs"]) == history["meta"]["recipe"]["epochs"]:
            step, seed = match.group(1), int(match.group(2))
            (RESULTS / step).mkdir(exist_ok=True)
            name = "history.json" if seed == 1 else f"history-seed{seed}.json"
            shutil.copy(path, RESULTS / step / name)


def step_runs(step: str) -> list[dict]:
    """The committed histories of ``step``, by seed."""
    paths = [RESULTS / step / "history.json", *sorted((RESULTS / step).glob("history-seed*.json"))]
    return sorted((load(p) for p in paths if p.is_file()), key=lambda r: r["meta"]["seed"])


def steps_summary(reference: dict) -> dict[str, dict]:
    """summary.json's "steps" entry, computed from the committed histories."""
    steps = {}
    for step, runs in ((s, step_runs(s)) for s in STEPS):
        if not runs:
            continue
        epochs, tests = runs[0]["epochs"], [e["test_acc"] for e in runs[0]["epochs"]]
        steps[step] = {
            "params": runs[0]["meta"]["num_params"], "epochs": len(tests),
            "seed": runs[0]["meta"]["seed"], "best_test": max(tests), "final_test": tests[-1],
            "best_train": max(e["train_acc"] for e in epochs),
            "notebook_best_test": notebook_best_test(reference, step),
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


def results_readme(summary: dict, reference: dict) -> str:
    """results/README.md: the steps' table, the extra seeds, notes (benchmarks/templates)."""
    steps, step2 = summary["steps"], reference["runs"]["step2"][0]["test_acc"]
    rows = [{"step": step, **s, "gap": s["best_test"] - notebook_best_test(reference, step),
             "notebook_best_test": notebook_best_test(reference, step)}
            for step, s in steps.items()]  # fmt: skip
    seeds = [{"step": step, **s["seeds"], "best_ms": mean_std(s["seeds"]["best"]),
              "final_ms": mean_std(s["seeds"]["final"])}
             for step, s in steps.items() if "seeds" in s]  # fmt: skip
    return fill("results_readme.md", std_note=STD_NOTE,
                machine=summary.get("machine", "unrecorded"),
                steps=rows, step1=step1_note(step_runs("step1")[0]), step2_best=max(step2),
                step2_epoch=step2.index(max(step2)) + 1, step2_last=step2[-1],
                **({"seeds": seeds} if seeds else {}))  # fmt: skip


def step1_note(run: dict) -> dict:
    """Step 1's minutes in all, median minutes per epoch, and the slow epochs' note."""
    seconds = [e["seconds"] for e in run["epochs"]]
    typical = statistics.median(seconds)
    slow = [i + 1 for i, s in enumerate(seconds) if s > 1.5 * typical]
    note = (f" (epoch{'s' if len(slow) > 1 else ''} {', '.join(map(str, slow))} took longer: the "
            "CPU was shared then; the run was stopped and resumed from its per-epoch checkpoint, "
            "as `mnistlite train step1 --resume` does)")  # fmt: skip
    return {"minutes": sum(seconds) / 60, "median": typical / 60, "slow": note if slow else ""}


def _span(seeds: list[int]) -> str:
    """'1–3' for consecutive seeds, else '1, 5'."""
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def readme_table(summary: dict, reference: dict) -> str:
    """README.md's results block (markers included), from summary.json alone."""
    steps = [{"step": step, **s, "notebook_best_test": notebook_best_test(reference, step),
              "text": f"best {s['best_test']:.2f} / final {s['final_test']:.2f}" + (
                  f" (seeds {_span(s['seeds']['seeds'])}: best {mean_std(s['seeds']['best'])})"
                  if "seeds" in s else "")} for step, s in summary["steps"].items()]  # fmt: skip
    frontier = sorted(({"name": name, **f} for name, f in summary.get("frontier", {}).items()),
                      key=lambda f: f["params"])  # fmt: skip
    for f in frontier:
        n = len(f["finals"])
        f["text"] = f"final {mean_std(f['finals'])} ({n} seed{'s' if n > 1 else ''})"
    return fill("readme_results.md", begin=BEGIN, end=END, std_note=STD_NOTE, steps=steps,
                frontier=frontier, machine=summary.get("machine", "CPU"))  # fmt: skip


def write_readme() -> None:
    """Rewrite README.md's results block from results/summary.json."""
    text = README.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    block = readme_table(load(RESULTS / "summary.json"), notebook_reference())
    write_text(README, text[:start] + block + text[end + len(END) :])


def figures(summary: dict, reference: dict) -> None:
    """Each step's history against the notebooks' log, and every step's test accuracy."""
    from mnistlite import plots

    histories = {step: step_runs(step)[0] for step in summary["steps"]}
    for step, run in histories.items():
        fig = plots.plot_history(run, reference["runs"][step][0], labels=("mnistlite", "notebooks"))
        plots.save_figure(fig, RESULTS / step / "history.png")
    if histories:
        fig = plots.plot_accuracy_curves(histories, ylim=(97.0, 99.7))
        plots.save_figure(fig, RESULTS / "test_accuracy_steps.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, help="run folders (STEP-seedS/) to take in first")
    parser.add_argument("--no-figures", action="store_true", help="leave the figures as they are")
    parser.add_argument("--readme-only", action="store_true", help="only README's table")
    args = parser.parse_args()
    if args.runs is not None:
        copy_runs(args.runs)
    if not args.readme_only:
        reference, path = notebook_reference(), RESULTS / "summary.json"
        summary = load(path, {})
        summary["machine"] = summary.get("machine") or platform.processor() or platform.machine()
        summary["std"] = "sample standard deviation (n - 1) over seeds"
        summary["steps"] = steps_summary(reference)
        summary.setdefault("frontier", {})
        save_json(path, summary)
        write_text(RESULTS / "README.md", results_readme(summary, reference))
        if not args.no_figures:
            figures(summary, reference)
    write_readme()


if __name__ == "__main__":
    main()
