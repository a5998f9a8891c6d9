"""Rewrite the sections of ``benchmarks/RESULTS.md`` that come from the JSON files beside it.

Usage: python benchmarks/results_md.py

``epoch_time.py``, ``time_to_accuracy.py`` and ``eval_batch.py`` call :func:`write` when they
finish. Each section sits between ``<!-- begin KEY -->`` and ``<!-- end KEY -->`` markers
(:func:`tables.write_section`), so a script that owns another section of the page rewrites
its own lines only. A section whose JSON file is missing is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

try:  # run as a script (benchmarks/ on sys.path) or imported from the repository root
    from tables import markdown_table, write_section
except ImportError:
    from benchmarks.tables import markdown_table, write_section

HERE = Path(__file__).resolve().parent
HEADER = """# Speed measurements

Each section is written by the script it names, from the JSON file beside this page, between
markers that keep the sections apart; `python benchmarks/results_md.py` rewrites the sections
of the measurements listed in `benchmarks/README.md`. Do not edit by hand.
"""


def _head(data: dict, default_command: str) -> list[str]:
    machine = data["cpu"]["summary"] if "cpu" in data else data.get("gpu", "unrecorded")
    extra = f"; torch {data['torch']}" if "torch" in data else ""
    extra += f", {data['threads']} threads" if "threads" in data else ""
    command = data.get("command", default_command)
    return [f"Machine: {machine}{extra}.", "", "```bash", command, "```", ""]


def _epoch_time(data: dict) -> list[str]:
    rows = [
        [r["pipeline"], f"{r['median_seconds']:.1f}", f"**{r['ratio']:.2f}x**",
         ", ".join(f"{s:.1f}" for s in r["seconds"]),
         ", ".join(f"{a:.2f}%" for a in r["test_acc"]),
         ", ".join(str(v) for v in r["load_before"])]
        for r in data["rows"]
    ]  # fmt: skip
    columns = ["pipeline", "median seconds", "ratio to classic", "each run (s)",
               "epoch-1 test acc", "1-min load before each run"]  # fmt: skip
    precision = [f"CLI precision line: `{data['precision']}`.", ""] if "precision" in data else []
    return precision + markdown_table(columns, rows)


def _time_to_accuracy(data: dict) -> list[str]:
    rows = []
    if "classic" in data:
        classic = data["classic"]
        rows.append(["classic step-7 recipe", f"{classic['seconds']:.1f} s", classic["last_epoch"]])
    for r in data["runs"]:
        rows.append(
            [f"`{data['recipe']}`, seed {r['seed']}", f"{r['seconds']:.1f} s",
             f"{r['final_test_acc']:.2f}% (final, epoch {r['epochs']})"]
        )  # fmt: skip
    rows.append(
        [f"**`{data['recipe']}`, mean**", f"**{data['mean_seconds']:.1f} s**",
         f"**{data['mean_final_test_acc']:.2f} ± {data['std_final_test_acc']:.2f}%**"]
    )  # fmt: skip
    lines = markdown_table(["run", "wall time", "test accuracy"], rows)
    if "ratio" in data:
        lines += ["", f"Ratio of the mean to the classic run: **{data['ratio']:.2f}x**."]
    return lines


def _fast_search(data: dict) -> list[str]:
    rows = [
        [r["candidate"], r["network"], f"{r['params']:,}", r["fields"]["epochs"],
         r["fields"]["batch_size"], f"{r['fields']['lr']:g}", r["bf16"],
         " ".join(f"{a:.2f}" for a in r["val_acc"]), f"**{r['final_val_acc']:.2f}%**",
         f"{r['seconds']:.0f}"]
        for r in data["runs"]
    ]  # fmt: skip
    columns = ["candidate", "network", "params", "epochs", "batch", "peak lr", "bf16",
               "val acc per epoch", "final val acc", "seconds"]  # fmt: skip
    lines = [f"Split: {data['split']} (`MNISTTensors.split(10_000, seed=0)`; the test set is "
             "never read).", "", *markdown_table(columns, rows)]  # fmt: skip
    if "chosen" in data:
        lines += [
            "",
            "Rule (`fast_search.choose`): among the candidates within 0.05 points of the best "
            f"final validation accuracy, the fastest. Chosen: **{data['chosen']}**, the "
            "registered `fast` recipe. No candidate reached 99.4% on the validation images, "
            "which run lower than the test set for these networks (compare the validation "
            "runs in results/frontier_search.md with the test accuracies in "
            "results/frontier.md).",
        ]
    return lines


def _profile(data: dict) -> list[str]:
    lines = []
    for batch in data["batches"]:
        lines += [
            f"Batch {batch['batch']}, median {data.get('clock', 'wall time')} of one training "
            "step (variants interleaved; thread CPU time is not inflated by other jobs on a "
            "shared machine as wall time is):",
            "",
            *markdown_table(
                ["variant", "ms/step", "ratio"],
                [[r["variant"], f"{r['ms']:.0f}", f"{r['ratio']:.2f}x"] for r in batch["rows"]],
            ),
            "",
        ]
        for name, rows in batch["profiles"].items():
            lines += [
                f"Batch {batch['batch']}, {name}: operators by self time in one profiled step "
                "(the profiler's clock is the wall clock, which other jobs inflate: read the "
                "shares)",
                "",
                *markdown_table(
                    ["operator", "self ms", "share"],
                    [
                        [f"`{r['op']}`", f"{r['self_ms']:.0f}", f"{100 * r['share']:.1f}%"]
                        for r in rows
                    ],
                ),  # fmt: skip
                "",
            ]
    return lines


def _eval_batch(data: dict) -> list[str]:
    batches = list(data["rows"][0]["seconds"])
    rows = [[r["model"], *(f"{r['seconds'][b]:.2f}" for b in batches)] for r in data["rows"]]
    return [
        "Seconds for `Trainer.evaluate` over the 10,000 test images in fp32, best of three. "
        "The default is batch 256 on the CPU (1,000 on a GPU).",
        "",
        *markdown_table(["model", *(f"batch {b}" for b in batches)], rows),
    ]


def _gpu_timing(data: dict) -> list[str]:
    rows = [
        [f"`{r['command']}`", r["epochs"], f"{r['seconds']:.1f}", f"{r['final_test_acc']:.2f}%"]
        for r in data["runs"]
    ]
    syncs = ", ".join(f"{n} batches: {c}" for n, c in data["sync_warnings"].items())
    return [
        "Every command ran alone on the GPU, as its own process (start-up and data loading "
        "included), CLI defaults (bf16 auto: on).",
        "",
        *markdown_table(["command", "epochs", "seconds", "final test accuracy"], rows),
        "",
        "Host synchronisations in one step-7 epoch with the progress bar on, counted by "
        '`torch.cuda.set_sync_debug_mode("warn")` (data loading, the epoch-end summary and '
        f"the evaluation included): {syncs}. The count does not grow with the number of "
        "batches: nothing in the training loop waits for the GPU per batch.",
    ]


def _amx(_: dict) -> list[str]:
    """The measurements on an Intel Xeon with AMX-BF16 that chose the bf16 default."""
    lines = [
        "Kept because the bf16 default was chosen on them: on that machine bf16 autocast gave "
        "the fastest step-7 epoch and the full step-7 recipe under bf16 ended at 99.49% final "
        "test accuracy against 99.41% in fp32. Made with the scripts' earlier versions, one "
        "measurement each, on an idle machine (`python benchmarks/epoch_time.py --data "
        "../shared/data`, `python benchmarks/time_to_accuracy.py --data ../shared/data`).",
        "",
    ]
    epoch = json.loads((HERE / "epoch_time_amx.json").read_text())
    rows = [
        [r["pipeline"], f"{r['seconds']:.1f}", f"{r['ratio']:.2f}x", f"{r['test_acc']:.2f}%"]
        for r in epoch["rows"]
    ]
    lines += ["### One step-7 epoch, each switch in one process", ""]
    lines += markdown_table(["pipeline", "seconds", "ratio", "epoch-1 test acc"], rows)
    for name, title in (
        ("time_to_accuracy_amx.json", "Time to 99.4%: `fast` on the step-7 network, 10 epochs"),
        ("time_to_accuracy_lite8k_amx.json", "Time to 99.4%: lite8k's recipe"),
    ):
        data = json.loads((HERE / name).read_text())
        lines += ["", f"### {title}", "", *_time_to_accuracy(data)]
    return lines


#: key (the JSON file's stem), title, renderer, the command when the JSON does not name it.
SECTIONS: list[tuple[str, str, Callable[[dict], list[str]], str]] = [
    ("epoch_time", "One step-7 epoch: `mnistlite train` against the classic pipeline",
     _epoch_time, "python benchmarks/epoch_time.py --data ../shared/data"),
    ("time_to_accuracy", "Time to 99.4%: `mnistlite train fast` against the seed's recipe",
     _time_to_accuracy, "python benchmarks/time_to_accuracy.py --data ../shared/data"),
    ("fast_search", "How `fast` was chosen: candidates on a validation split", _fast_search,
     "python benchmarks/fast_search.py --data ../shared/data --out benchmarks/fast_search.json"),
    ("profile_step", "Profile of one step-7 training step", _profile,
     "python benchmarks/profile_step.py --steps 6 --rounds 3 --out benchmarks/profile_step.json"),
    ("eval_batch", "Evaluation batch size on the CPU", _eval_batch,
     "python benchmarks/eval_batch.py --data ../shared/data"),
    ("gpu_timing", "On a GPU: the step-7 recipe and `fast`", _gpu_timing,
     "python benchmarks/gpu_timing.py --data ROOT --out benchmarks/gpu_timing.json"),
]  # fmt: skip


def write(path: str | Path = HERE / "RESULTS.md") -> Path:
    """Rewrite every section whose JSON file exists; return the page's path."""
    path = Path(path)
    if not path.is_file():
        path.write_text(HEADER)
    for key, title, render, command in SECTIONS:
        json_path = HERE / f"{key}.json"
        if json_path.is_file():
            data = json.loads(json_path.read_text())
            write_section(path, key, [f"## {title}", "", *_head(data, command), *render(data)])
    if (HERE / "epoch_time_amx.json").is_file():
        title = "## Earlier measurements: Intel Xeon with AMX-BF16 (2 cores, torch 2.14.1)"
        write_section(path, "amx", [title, "", *_amx({})])
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
