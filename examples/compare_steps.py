"""Compare the seven steps
=======================

Put the notebooks' seven steps side by side in one table: parameters and
multiply-accumulates per image from :func:`~mnistlite.params.summary`, the test accuracy
of the bundled pretrained weights (from their metadata, or measured here with
``--evaluate``), and the notebook's own best test accuracy when ``--notebook-runs`` points
to the notebooks' logs.

Run it from the command line::

    python examples/compare_steps.py --evaluate --data data --download
    python examples/compare_steps.py --notebook-runs results/notebook_reference.json
    python examples/compare_steps.py --quick --data data   # evaluates on 500 images only

``--seed-runs`` is the deprecated old name of ``--notebook-runs`` and still works.
"""

import argparse
import json
from pathlib import Path

import torch

from mnistlite import data, models, params, plots

parser = argparse.ArgumentParser(description="Compare the seven steps in one table.")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--evaluate",
    action="store_true",
    help="measure each model with bundled weights on the test set",
)
parser.add_argument(
    "--notebook-runs",
    "--seed-runs",  # the old name, deprecated
    dest="notebook_runs",
    metavar="PATH",
    help="the notebooks' logs (results/notebook_reference.json): add their best test accuracy "
    "(--seed-runs: deprecated name of this option)",
)
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/compare_steps",
    help="output folder (default: runs/examples/compare_steps)",
)
parser.add_argument("--limit", type=int, help="evaluate on the first N test images only")
parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
parser.add_argument("--quick", action="store_true", help="evaluate on 500 test images only")
args = parser.parse_args()

if args.quick:
    args.limit = args.limit or 500
device = args.device
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The notebooks' logs
# -------------------
#
# ``results/notebook_reference.json`` holds, under ``runs``, the per-epoch accuracies the
# notebooks logged, a list of runs per step. Their published numbers are the best test
# accuracy of a run.

notebook_runs = (
    json.loads(Path(args.notebook_runs).read_text())["runs"] if args.notebook_runs else {}
)

# %%
# One row per step
# ----------------
#
# Step ``i``'s pretrained weights, if bundled, are ``models.Step{i}_Weights.DEFAULT``;
# their metadata holds the accuracy measured on the full test set when they were
# exported. Step 1's 25 MB of weights are not bundled.

test_data = None
if args.evaluate:
    test_data = data.load_mnist(args.data, train=False, download=args.download, device=device)
    test_data = test_data.take(args.limit)

rows = []
for i in range(1, 8):
    name = f"step{i}"
    summary = params.summary(models.get_model(name))
    enum = models.get_model_weights(name) if name != "step1" else None
    weights = enum.DEFAULT if enum is not None and len(enum) > 0 else None
    row = {
        "model": name,
        "params": summary.total_params,
        "macs": summary.total_macs,
        "bundled_acc": weights.meta.get("test_acc") if weights is not None else None,
        "measured_acc": None,
        "notebook_best_acc": (
            max(notebook_runs[name][0]["test_acc"]) if notebook_runs.get(name) else None
        ),
    }
    if test_data is not None and weights is not None:
        model = models.get_model(name, weights=weights).to(device).eval()
        correct = 0
        with torch.inference_mode():
            for images, labels in data.Batches(test_data, 1_000, shuffle=False):
                correct += int((model(images).argmax(dim=1) == labels).sum())
        row["measured_acc"] = 100 * correct / len(test_data)
    rows.append(row)

# %%
# The table
# ---------
#
# Markdown, so it can be pasted into a README. A ``-`` marks a number we do not have.


def cell(value, fmt):
    """Format a number for the table, or ``-`` if it is missing."""
    return "-" if value is None else format(value, fmt)


header = ["model", "parameters", "MACs / image", "test acc. (%)"]
if args.evaluate:
    header.append(f"measured on {len(test_data):,} (%)")
header.append("notebook best (%)")
lines = ["| " + " | ".join(header) + " |", "|:---|" + "|".join("---:" for _ in header[1:]) + "|"]
for row in rows:
    cells = [
        row["model"],
        cell(row["params"], ","),
        cell(row["macs"], ","),
        cell(row["bundled_acc"], ".2f"),
    ]
    if args.evaluate:
        cells.append(cell(row["measured_acc"], ".2f"))
    cells.append(cell(row["notebook_best_acc"], ".2f"))
    lines.append("| " + " | ".join(cells) + " |")
table = "\n".join(lines)
print(table)

(out / "steps.md").write_text(table + "\n")
(out / "steps.json").write_text(json.dumps(rows, indent=2) + "\n")
print(f"wrote {out / 'steps.md'} and {out / 'steps.json'}")

# %%
# Accuracy against size
# ---------------------
#
# :func:`~mnistlite.plots.plot_frontier` puts the numbers on a log scale of parameters:
# the bundled weights as points, the notebooks' runs as stars. Steps 5 to 7 share one
# network, so their markers stand in one column.

points = [
    {"name": r["model"], "params": r["params"], "accuracy": r["bundled_acc"], "group": "mnistlite"}
    for r in rows
    if r["bundled_acc"] is not None
]
anchors = [
    {
        "name": r["model"],
        "params": r["params"],
        "accuracy": r["notebook_best_acc"],
        "group": "notebooks",
    }
    for r in rows
    if r["notebook_best_acc"] is not None
]
if points or anchors:
    fig = plots.plot_frontier(points, anchors=anchors, pareto=False)
    plots.save_figure(fig, out / "steps.png")
    print(f"wrote {out / 'steps.png'}")
