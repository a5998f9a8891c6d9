"""Plot training curves and misclassified digits
==============================================

Train a recipe for a few epochs, draw its training curves with
:func:`~mnistlite.plots.plot_history` (optionally over the notebooks' own log of the
same step), and show the test digits the trained model gets wrong with
:func:`~mnistlite.plots.plot_misclassified`. Both figures are saved as PNG with
:func:`~mnistlite.plots.save_figure`.

Run it from the command line::

    python examples/plot_training.py --recipe step7 --epochs 5 --data data --download
    python examples/plot_training.py --notebook-runs results/notebook_reference.json
    python examples/plot_training.py --quick --data data     # seconds: 2 epochs, 500 images

``--seed-runs`` is the deprecated old name of ``--notebook-runs`` and still works.

The plots need matplotlib: ``pip install 'mnistlite[plots]'``.
"""

import argparse
import json
from pathlib import Path

import torch

from mnistlite import data, plots, recipes, runs

parser = argparse.ArgumentParser(description="Plot training curves and misclassified digits.")
parser.add_argument(
    "--recipe",
    default="step7",
    choices=recipes.list_recipes(),
    help="recipe to train (default: step7)",
)
parser.add_argument("--epochs", type=int, default=5, help="training epochs (default: 5)")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--notebook-runs",
    "--seed-runs",  # the old name, deprecated
    dest="notebook_runs",
    metavar="PATH",
    help="the notebooks' logs (results/notebook_reference.json): overlay the log of the same "
    "step on the curves (--seed-runs: deprecated name of this option)",
)
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/plot_training",
    help="output folder (default: runs/examples/plot_training)",
)
parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
parser.add_argument("--limit", type=int, help="use only the first N training and test images")
parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
parser.add_argument(
    "--quick", action="store_true", help="2 epochs on 500 images: a smoke test in seconds"
)
args = parser.parse_args()

plots.require_matplotlib()  # fail now, not after training, if matplotlib is missing
if args.quick:
    args.epochs = 2
    args.limit = args.limit or 500
device = args.device
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# A short training run
# --------------------

recipe = recipes.get_recipe(args.recipe, epochs=args.epochs)
train_data = data.load_mnist(args.data, train=True, download=args.download, device=device)
test_data = data.load_mnist(args.data, train=False, download=args.download, device=device)
train_data, test_data = train_data.take(args.limit), test_data.take(args.limit)

(out / "checkpoint.pt").unlink(missing_ok=True)  # start afresh (runs.train never overwrites one)
model, history = runs.train(
    recipe, data=(train_data, test_data), out=out, seed=args.seed, device=device, progress=False
)
for record in history.epochs:
    print(
        f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
        f"test acc {record['test_acc']:.2f}%"
    )

# %%
# Training curves
# ---------------
#
# The notebooks' four panels: the training loss of every batch, then the test loss,
# training accuracy and test accuracy of every epoch. ``results/notebook_reference.json``
# holds the notebooks' logged accuracies per step (``runs``, a list of runs each); the first
# run of the same step is drawn on the same axes. The notebooks logged no losses, so the
# loss panels show this run only.

notebook_run = None
if args.notebook_runs:
    notebook_log = json.loads(Path(args.notebook_runs).read_text())
    runs = notebook_log["runs"].get(recipe.name, [])
    if runs:
        notebook_run = runs[0]
        print(f"overlaying the notebooks' {recipe.name} run ({notebook_run['epochs']} epochs)")
    else:
        print(f"the notebooks logged no run of {recipe.name}; plotting this run alone")

history_fig = plots.plot_history(history, compare=notebook_run, labels=("this run", "notebooks"))
plots.save_figure(history_fig, out / "history.png")

# %%
# Misclassified digits
# --------------------
#
# The first test digits the model gets wrong, each titled with its true label and the
# model's prediction. Short runs get many wrong; a full step 7 run gets about 50 of the
# 10,000 wrong.

misclassified_fig = plots.plot_misclassified(model, test_data, n=25)
plots.save_figure(misclassified_fig, out / "misclassified.png")
print(f"wrote {out / 'history.png'} and {out / 'misclassified.png'}")
