"""Rewrite the sections of ``benchmarks/RESULTS.md`` that come from the JSON files beside it.

Usage: python benchmarks/results_md.py

Each measurement script calls :func:`write` when it has written its JSON. A section is
(JSON file, title, renderer): the renderer turns the JSON into lines under a common head
(the machine, the command that made the numbers). Each section sits between
``<!-- begin KEY -->`` and ``<!-- end KEY -->`` markers (:func:`tables.write_section`), so
the scripts that render their own sections (gpu_speed.py, seeds_speed.py) keep them. A
section whose JSON file is missing is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tables import markdown_table, write_section

HERE = Path(__file__).resolve().parent
HEADER = """# Speed measurements

Each section is written by the script it names, from the JSON file beside this page, between
markers that keep the sections apart; `python benchmarks/results_md.py` rewrites the sections
of the measurements listed in `benchmarks/README.md`. Do not edit by hand.
"""


def _head(data: dict) -> list[str]:
    """The machine and the command that made the numbers."""
    machine = data["cpu"]["summary"] if "cpu" in data else data.get("machine", "unrecorded")
    extra = f"; torch {data['torch']}" if "torch" in data else ""
    extra += f", {data['threads']} threads" if "threads" in data else ""
    return [f"Machine: {machine}{extra}.", "", "```bash", data["command"], "```", ""]


def _join(values: list, form: str, sep: str = ", ") -> str:
    return sep.join(format(v, form) for v in values)


def _epoch_time(data: dict) -> list[str]:
    rows = [[r["pipeline"], f"{r['median_seconds']:.1f}", f"**{r['ratio']:.2f}x**",
             _join(r["seconds"], ".1f"), ", ".join(f"{a:.2f}%" for a in r["test_acc"]),
             _join(r["load_before"], "")] for r in data["rows"]]  # fmt: skip
    columns = ["pipeline", "median seconds", "ratio to classic", "each run (s)",
               "epoch-1 test acc", "1-min load before each run"]  # fmt: skip
    precision = [f"CLI precision line: `{data['precision']}`.", ""] if "precision" in data else []
    return precision + markdown_table(columns, rows)


def _time_to_accuracy(data: dict) -> list[str]:
    rows, name = [], data["recipe"]
    if "classic" in data:
        rows.append(["classic step-7 recipe", f"{data['classic']['seconds']:.1f} s",
                     data["classic"]["last_epoch"]])  # fmt: skip
    for r in data["runs"]:
        final = f"{r['final_test_acc']:.2f}% (final, epoch {r['epochs']})"
        rows.append([f"`{name}`, seed {r['seed']}", f"{r['seconds']:.1f} s", final])
    mean = f"**{data['mean_final_test_acc']:.2f} ± {data['std_final_test_acc']:.2f}%**"
    rows.append([f"**`{name}`, mean**", f"**{data['mean_seconds']:.1f} s**", mean])
    lines = markdown_table(["run", "wall time", "test accuracy"], rows)
    if "ratio" in data:
        lines += ["", f"Ratio of the mean to the classic run: **{data['ratio']:.2f}x**."]
    return lines


def _fast_search(data: dict) -> list[str]:
    rows = [[r["candidate"], r["network"], f"{r['params']:,}", r["fields"]["epochs"],
             r["fields"]["batch_size"], f"{r['fields']['lr']:g}", r["bf16"],
             _join(r["val_acc"], ".2f", " "), f"**{r['final_val_acc']:.2f}%**",
             f"{r['seconds']:.0f}"] for r in data["runs"]]  # fmt: skip
    columns = ["candidate", "network", "params", "epochs", "batch", "peak lr", "bf16",
               "val acc per epoch", "final val acc", "seconds"]  # fmt: skip
    lines = [f"Split: {data['split']} (`MNISTTensors.split(10_000, seed=0)`; the test set is "
             "never read).", "", *markdown_table(columns, rows)]  # fmt: skip
    if "chosen" in data:
        lines += ["", "Rule (`fast_search.choose`): among the candidates within 0.05 points of "
                  "the best final validation accuracy, the fastest. Chosen: "
                  f"**{data['chosen']}**, the registered `fast` recipe. No candidate reached "
                  "99.4% on the validation images, which run lower than the test set for these "
                  "networks (compare the validation runs in results/frontier_search.md with "
                  "the test accuracies in results/frontier.md)."]  # fmt: skip
    return lines


def _profile(data: dict) -> list[str]:
    lines, clock = [], data.get("clock", "wall time")
    for batch in data["batches"]:
        b = batch["batch"]
        rows = [[r["variant"], f"{r['ms']:.0f}", f"{r['ratio']:.2f}x"] for r in batch["rows"]]
        lines += [f"Batch {b}, median {clock} of one training step (variants interleaved; "
                  "thread CPU time is not inflated by other jobs on a shared machine as wall "
                  "time is):", "", *markdown_table(["variant", "ms/step", "ratio"], rows),
                  ""]  # fmt: skip
        for name, ops in batch["profiles"].items():
            rows = [[f"`{r['op']}`", f"{r['self_ms']:.0f}", f"{100 * r['share']:.1f}%"]
                    for r in ops]  # fmt: skip
            lines += [f"Batch {b}, {name}: operators by self time in one profiled step (the "
                      "profiler's clock is the wall clock, which other jobs inflate: read the "
                      "shares)", "", *markdown_table(["operator", "self ms", "share"], rows),
                      ""]  # fmt: skip
    return lines


def _eval_batch(data: dict) -> list[str]:
    batches = list(data["rows"][0]["seconds"])
    rows = [[r["model"], *(f"{r['seconds'][b]:.2f}" for b in batches)] for r in data["rows"]]
    return ["Seconds for `Trainer.evaluate` over the 10,000 test images in fp32, best of three. "
            "The default is batch 256 on the CPU (1,000 on a GPU).", "",
            *markdown_table(["model", *(f"batch {b}" for b in batches)], rows)]  # fmt: skip


def _serve_latency(data: dict) -> list[str]:
    rows = [[r["model"], r["requests"], r["requests_per_s"], f"{r['p50_ms']} ms",
             f"{r['p95_ms']} ms"] for r in data["rows"]]  # fmt: skip
    columns = ["model", "requests", "requests/s", "p50 latency", "p95 latency"]
    return [f"Python {data['python']}; 1-min load before the run: {data['load_before']}. Each "
            f"request posts the 280x280 PNG the page sends ({data['picture_bytes']:,} bytes) to "
            f"`POST /api/predict?model=NAME` on 127.0.0.1, from {data['rows'][0]['threads']} "
            "threads with a connection each; the server and the clients share the machine.",
            "", *markdown_table(columns, rows)]  # fmt: skip


def _sweep_scaling(data: dict) -> list[str]:
    s = data["settings"]
    lines = [f"{s['threads']} torch thread per worker; load average {data['load_before']} "
             f"before, {data['load_after']} after. Trials: {s['epochs']} epoch on "
             f"{s['limit_train']:,} images, validation on {s['val_size']} held-out training "
             f"images, budget {s['budget']:,}.", ""]  # fmt: skip
    if (data["load_before"] or 0) > 1:
        lines += ["Other jobs kept the 2 cores busy during this run, so every figure is a lower "
                  "bound and the ratios between rows are mostly noise from that load; on an "
                  "idle machine, rerun the command above.", ""]  # fmt: skip
    rows = [[storage, r["workers"], r["trials_per_minute"],
             f"{r['trials_per_minute'] / runs[0]['trials_per_minute']:.2f}×", r["complete"],
             r["wall_seconds"]]
            for storage, runs in data["rows"].items() for r in runs]  # fmt: skip
    columns = ["storage", "workers", "trials / min", "vs 1 worker", "complete trials",
               "wall (s)"]  # fmt: skip
    return lines + markdown_table(columns, rows, "lrrrrr")


def _amx() -> list[str]:
    """The measurements on an Intel Xeon with AMX-BF16 that chose the bf16 default."""
    epoch = json.loads((HERE / "epoch_time_amx.json").read_text())
    rows = [[r["pipeline"], f"{r['seconds']:.1f}", f"{r['ratio']:.2f}x", f"{r['test_acc']:.2f}%"]
            for r in epoch["rows"]]  # fmt: skip
    lines = [
        "Kept because the bf16 default was chosen on them: on that machine bf16 autocast gave "
        "the fastest step-7 epoch and the full step-7 recipe under bf16 ended at 99.49% final "
        "test accuracy against 99.41% in fp32. Made with the scripts' earlier versions, one "
        "measurement each, on an idle machine (`python benchmarks/epoch_time.py --data "
        "../shared/data`, `python benchmarks/time_to_accuracy.py --data ../shared/data`).",
        "", "### One step-7 epoch, each switch in one process", "",
        *markdown_table(["pipeline", "seconds", "ratio", "epoch-1 test acc"], rows),
    ]  # fmt: skip
    for name, title in (
        ("time_to_accuracy_amx.json", "Time to 99.4%: `fast` on the step-7 network, 10 epochs"),
        ("time_to_accuracy_lite8k_amx.json", "Time to 99.4%: lite8k's recipe"),
    ):
        data = json.loads((HERE / name).read_text())
        lines += ["", f"### {title}", "", *_time_to_accuracy(data)]
    return lines


#: key (the JSON file's stem), title, renderer.
SECTIONS: list[tuple[str, str, Callable[[dict], list[str]]]] = [
    ("epoch_time", "One step-7 epoch: `mnistlite train` against the classic pipeline", _epoch_time),
    ("time_to_accuracy", "Time to 99.4%: `mnistlite train fast` against the seed's recipe",
     _time_to_accuracy),
    ("fast_search", "How `fast` was chosen: candidates on a validation split", _fast_search),
    ("profile_step", "Profile of one step-7 training step", _profile),
    ("eval_batch", "Evaluation batch size on the CPU", _eval_batch),
    ("serve_latency", "Serving: `mnistlite serve`'s prediction API", _serve_latency),
    ("sweep_scaling", "Sweep workers: complete trials per minute", _sweep_scaling),
]  # fmt: skip


def write(path: str | Path = HERE / "RESULTS.md") -> Path:
    """Rewrite every section whose JSON file exists; return the page's path."""
    path = Path(path)
    if not path.is_file():
        path.write_text(HEADER)
    for key, title, render in SECTIONS:
        json_path = HERE / f"{key}.json"
        if json_path.is_file():
            data = json.loads(json_path.read_text())
            write_section(path, key, [f"## {title}", "", *_head(data), *render(data)])
    if (HERE / "epoch_time_amx.json").is_file():
        title = "## Earlier measurements: Intel Xeon with AMX-BF16 (2 cores, torch 2.14.1)"
        write_section(path, "amx", [title, "", *_amx()])
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
