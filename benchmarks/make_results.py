"""Write results/README.md, the steps' figures, summary.json's "steps" and README's table.

Usage::

    python benchmarks/reproduce.py step7 step6 step5 step4 step3 step2 \\
        --data ../shared/data --out runs/reproduce
    python benchmarks/reproduce.py step2 --seeds 2 3 --data ../shared/data --out runs/reproduce
    python benchmarks/make_results.py --runs runs/reproduce

Finished runs under ``--runs`` (``STEP-seedS/history.json``, as reproduce.py writes them)
are copied to ``results/STEP/history.json`` (seed 1) and ``results/STEP/history-seedS.json``
(other seeds); everything is then built from the committed copies alone, so running the
script without ``--runs`` rebuilds the same files. The seed's reference numbers are read
from ``results/seed_reference.json``, their one copy. ± is the sample standard deviation
(n − 1) over seeds, everywhere (:func:`mean_std`).

The block of README.md between the ``results-table`` markers is rewritten from
``results/summary.json`` (its "steps" entry written here, its "frontier" entry by
``benchmarks/make_frontier.py``); ``--readme-only`` rewrites just that block, and
``tests/test_results.py`` fails when README and summary.json disagree.
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

from mnistlite.atomic import save_json

try:  # run as a script (benchmarks/ on sys.path) or imported from the repository root
    from tables import STD_NOTE, markdown_table, mean_std
except ImportError:
    from benchmarks.tables import STD_NOTE, markdown_table, mean_std


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
SEED_REFERENCE = RESULTS / "seed_reference.json"
STEPS = [f"step{i}" for i in range(1, 8)]
BEGIN = "<!-- results-table: begin (written by `python benchmarks/make_results.py`) -->"
END = "<!-- results-table: end -->"


def seed_reference() -> dict[str, Any]:
    """``results/seed_reference.json``: the seed's logs (``runs``) and stated numbers."""
    return json.loads(SEED_REFERENCE.read_text())


def seed_best_test(reference: dict[str, Any], step: str) -> float:
    """The seed's best test accuracy of ``step``: the maximum of its reference run's log."""
    return max(reference["runs"][step][0]["test_acc"])


def copy_runs(root: Path) -> None:
    """Copy the finished step runs under ``root`` into ``results/STEP/``."""
    for path in sorted(root.glob("step*-seed*/history.json")):
        match = re.fullmatch(r"(step\d)-seed(\d+)", path.parent.name)
        if match is None:
            continue
        step, seed = match.group(1), int(match.group(2))
        history = json.loads(path.read_text())
        if len(history["epochs"]) != history["meta"]["recipe"]["epochs"]:
            continue  # unfinished
        folder = RESULTS / step
        folder.mkdir(exist_ok=True)
        name = "history.json" if seed == 1 else f"history-seed{seed}.json"
        shutil.copy(path, folder / name)


def step_runs(step: str) -> list[dict[str, Any]]:
    """The committed histories of ``step``, seed 1 (``history.json``) first."""
    folder = RESULTS / step
    paths = [folder / "history.json", *sorted(folder.glob("history-seed*.json"))]
    runs = [json.loads(p.read_text()) for p in paths if p.is_file()]
    return sorted(runs, key=lambda r: r["meta"]["seed"])


def steps_summary(reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """summary.json's "steps" entry, computed from the committed histories."""
    steps: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        runs = step_runs(step)
        if not runs:
            continue
        run = runs[0]
        tests = [e["test_acc"] for e in run["epochs"]]
        entry = {
            "params": run["meta"]["num_params"],
            "epochs": len(tests),
            "seed": run["meta"]["seed"],
            "best_test": max(tests),
            "final_test": tests[-1],
            "best_train": max(e["train_acc"] for e in run["epochs"]),
            "seed_best_test": seed_best_test(reference, step),
            "minutes": round(sum(e["seconds"] for e in run["epochs"]) / 60, 1),
            "device": run["meta"].get("device", "cpu"),
        }
        if len(runs) > 1:
            bests = [max(e["test_acc"] for e in r["epochs"]) for r in runs]
            finals = [r["epochs"][-1]["test_acc"] for r in runs]
            entry["seeds"] = {
                "seeds": [r["meta"]["seed"] for r in runs],
                "best": bests,
                "final": finals,
                "best_mean": statistics.mean(bests),
                "best_std": statistics.stdev(bests),
                "final_mean": statistics.mean(finals),
                "final_std": statistics.stdev(finals),
            }
        steps[step] = entry
    return steps


def results_readme(summary: dict[str, Any], reference: dict[str, Any]) -> str:
    """results/README.md: the steps' table, the extra seeds, notes."""
    from mnistlite import models, params

    lines = [
        "# Reproduction of the seven steps on the real MNIST",
        "",
        "Written by `python benchmarks/make_results.py` from the committed histories in "
        "`results/stepN/` (runs of `python benchmarks/reproduce.py STEP --data ../shared/data "
        "--out runs/reproduce`, seed 1, and `--seeds 2 3` for step 2; the same code path as "
        "`mnistlite train STEP --seed S --no-bf16`, plain fp32). Accuracies in percent on the "
        "10,000 test images; train accuracy is the running accuracy over the epoch, as the "
        "seed logs it. The seed's numbers come from `results/seed_reference.json`. " + STD_NOTE,
        "",
        f"Machine: {summary.get('machine', 'unrecorded')}, CPU only; steps 2–7 one thread per "
        "run (two runs shared the 2 cores, so wall times are those of a half-loaded machine), "
        "step 1 both cores (see the notes).",
        "",
    ]
    steps, rows = summary["steps"], []
    for step in STEPS:
        seed_best = seed_best_test(reference, step)
        if step not in steps:
            count = params.count_parameters(models.get_model(step))
            rows.append([step, f"{count:,}", "not run", "", "", "", f"{seed_best:.2f}", "", ""])
            continue
        s = steps[step]
        rows.append(
            [step, f"{s['params']:,}", s["epochs"], f"{s['best_test']:.2f}",
             f"{s['final_test']:.2f}", f"{s['best_train']:.2f}", f"{seed_best:.2f}",
             f"{s['best_test'] - seed_best:+.2f}", f"{s['minutes']:.1f} min"]
        )  # fmt: skip
    columns = ["step", "parameters", "epochs", "best test", "final test", "best train",
               "seed's best test", "gap (best − seed)", "wall time"]  # fmt: skip
    lines += markdown_table(columns, rows)
    many = {step: s["seeds"] for step, s in steps.items() if "seeds" in s}
    if many:
        lines += ["", "Several seeds (to tell luck from the recipe):", ""]
    for step, seeds in many.items():
        lines.append(
            f"- {step}, seeds {', '.join(map(str, seeds['seeds']))}: best test "
            f"{mean_std(seeds['best'])} (each: {', '.join(f'{b:.2f}' for b in seeds['best'])}), "
            f"final test {mean_std(seeds['final'])} "
            f"(each: {', '.join(f'{b:.2f}' for b in seeds['final'])}); histories in "
            f"`results/{step}/history*.json`"
        )
    step2_log = reference["runs"]["step2"][0]["test_acc"]
    step1 = step_runs("step1")
    lines += ["", "Notes:", "", step1_note(step1[0] if step1 else None)]
    lines += [
        "- step2 falls short of the seed's best logged accuracy. The seed's own log shows why "
        "this recipe is fragile: without BatchNorm its accuracy sat near 10% for the first "
        f"epochs and then climbed, and its best epoch ({max(step2_log):.2f}% at epoch "
        f"{step2_log.index(max(step2_log)) + 1}) was followed by {step2_log[-1]:.2f}% at the "
        "last. The extra seeds above show the spread.",
        "",
        "Figures: `results/stepN/history.png` (our run against the seed's logged accuracies) "
        "and `results/test_accuracy_steps.png` (test accuracy per epoch of all steps).",
    ]
    return "\n".join(lines) + "\n"


def step1_note(run: dict[str, Any] | None) -> str:
    """The results page's note on step 1 (6.4M parameters) from its history, run or not."""
    if run is None:
        return (
            "- step1 was not run: one training batch of its 6.4M-parameter network takes about "
            "1.8 s on one thread of this CPU (timed with a few `loss.backward()` steps), so its "
            "15 epochs of 469 batches need hours. "
            "Its model, recipe and CLI work (`mnistlite train step1`); its weights are not bundled."
        )
    seconds = [e["seconds"] for e in run["epochs"]]
    typical = statistics.median(seconds)
    slow = [i + 1 for i, s in enumerate(seconds) if s > 1.5 * typical]
    text = (
        "- step1 (6.4M parameters) trained alone on both cores of the CPU: "
        f"{sum(seconds) / 60:.0f} min in all, a median of {typical / 60:.1f} min "
        "per epoch"
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


def readme_table(summary: dict[str, Any], reference: dict[str, Any]) -> str:
    """README.md's results block (markers included), from summary.json alone."""
    lines = [
        BEGIN,
        "Test accuracy (%) on the 10,000 MNIST test images: the seed's steps as seed-1 runs "
        "(best and final epoch), the frontier models as the final epoch's mean ± std over "
        f"their seeds; {STD_NOTE}",
        "",
    ]
    rows = []
    machine = summary.get("machine", "CPU")
    for step in STEPS:
        seed_best = f"{seed_best_test(reference, step):.2f}"
        s = summary["steps"].get(step)
        if s is None:
            from mnistlite import models, params

            count = params.count_parameters(models.get_model(step))
            rows.append([step, f"{count:,}", "", "not run here", seed_best, ""])
            continue
        text = f"best {s['best_test']:.2f} / final {s['final_test']:.2f}"
        if "seeds" in s:
            seeds = s["seeds"]["seeds"]
            span = (
                f"{seeds[0]}–{seeds[-1]}"
                if seeds == list(range(seeds[0], seeds[-1] + 1))
                else (", ".join(map(str, seeds)))
            )
            text += f" (seeds {span}: best {mean_std(s['seeds']['best'])})"
        rows.append([step, f"{s['params']:,}", s["epochs"], text, seed_best, f"{machine} (CPU)"])
    frontier = summary.get("frontier", {})
    for name in sorted(frontier, key=lambda n: frontier[n]["params"]):
        f = frontier[name]
        seeds = f"{len(f['finals'])} seed{'s' if len(f['finals']) > 1 else ''}"
        text = f"final {mean_std(f['finals'])} ({seeds})"
        rows.append([name, f"{f['params']:,}", f["epochs"], text, "–", f["device"]])
    columns = ["model", "parameters", "epochs", "test accuracy (ours)", "seed's best test",
               "trained on"]  # fmt: skip
    lines += markdown_table(columns, rows)
    lines.append(END)
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """``text`` with the part between the markers (markers included) replaced by ``block``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} ... {END!r}")
    return text[:start] + block + text[end + len(END) :]


def write_readme() -> None:
    """Rewrite README.md's results block from results/summary.json."""
    summary = json.loads((RESULTS / "summary.json").read_text())
    README.write_text(replace_block(README.read_text(), readme_table(summary, seed_reference())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, help="reproduce.py output to copy in first")
    parser.add_argument("--no-figures", action="store_true", help="leave the figures as they are")
    parser.add_argument("--readme-only", action="store_true", help="only README's table")
    args = parser.parse_args()
    if args.readme_only:
        write_readme()
        return

    if args.runs is not None:
        copy_runs(args.runs)
    reference = seed_reference()
    summary_path = RESULTS / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary["machine"] = summary.get("machine") or platform.processor() or platform.machine()
    summary["std"] = "sample standard deviation (n - 1) over seeds"
    summary["steps"] = steps_summary(reference)
    summary.setdefault("frontier", {})
    save_json(summary_path, summary)
    text = results_readme(summary, reference)
    (RESULTS / "README.md").write_text(text)
    write_readme()
    print(text)
    if not args.no_figures:
        from mnistlite import plots

        histories = {step: step_runs(step)[0] for step in summary["steps"]}
        for step, run in histories.items():
            fig = plots.plot_history(run, reference["runs"][step][0], labels=("mnistlite", "seed"))
            plots.save_figure(fig, RESULTS / step / "history.png")
        if histories:
            fig = plots.plot_accuracy_curves(histories, ylim=(97.0, 99.7))
            plots.save_figure(fig, RESULTS / "test_accuracy_steps.png")


if __name__ == "__main__":
    main()
