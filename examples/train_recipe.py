"""Train a recipe
==============

Train one of the notebooks' recipes (step 7 by default) on MNIST with
:func:`mnistlite.runs.train`, print the numbers of every epoch, and save the run's
``history.json``, its weights and a plot of its training curves.

Run it from the command line::

    python examples/train_recipe.py --recipe step7 --epochs 20 --data data --download
    python examples/train_recipe.py --quick --data data     # a few seconds, 500 images

A recipe is plain data: every training setting is one field, and ``--epochs`` or
``--lr`` below override a field with :meth:`~mnistlite.recipes.Recipe.replace`.
"""

import argparse
import json
from pathlib import Path

import torch

from mnistlite import data, plots, recipes, runs
from mnistlite.training import Callback

# %%
# Command-line arguments
# ----------------------
#
# ``--quick`` trains one epoch on the first 500 training images and tests on the first
# 500 test images: enough to see the script work, not to learn MNIST.

parser = argparse.ArgumentParser(description="Train a mnistlite recipe on MNIST.")
parser.add_argument(
    "--recipe",
    default="step7",
    choices=recipes.list_recipes(),
    help="recipe to train (default: step7)",
)
parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
parser.add_argument("--lr", type=float, help="override the recipe's learning rate")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/train_recipe",
    help="output folder (default: runs/examples/train_recipe)",
)
parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
parser.add_argument("--limit", type=int, help="use only the first N training and test images")
parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
parser.add_argument(
    "--quick", action="store_true", help="1 epoch on 500 images: a smoke test in seconds"
)
args = parser.parse_args()

if args.quick:
    args.epochs = 1
    args.limit = args.limit or 500
device = args.device
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The recipe
# ----------
#
# :func:`~mnistlite.recipes.get_recipe` returns the recipe by name, with any field
# overridden.

overrides = {"epochs": args.epochs, "lr": args.lr}
recipe = recipes.get_recipe(args.recipe, **{k: v for k, v in overrides.items() if v is not None})
print(json.dumps(recipe.to_dict(), indent=2))

# %%
# The data
# --------
#
# :func:`~mnistlite.data.load_mnist` reads MNIST once into normalized tensors on the
# training device. ``take(n)`` keeps the first ``n`` images.

train_data = data.load_mnist(args.data, train=True, download=args.download, device=device)
test_data = data.load_mnist(args.data, train=False, download=args.download, device=device)
train_data, test_data = train_data.take(args.limit), test_data.take(args.limit)
print(f"{len(train_data):,} training images, {len(test_data):,} test images, on {device}")

# %%
# Training
# --------
#
# A :class:`~mnistlite.training.Callback` sees the record of every epoch as soon as it is
# logged; this one prints it. :func:`~mnistlite.runs.train` writes ``history.json``,
# ``checkpoint.pt`` and ``model.pt`` into ``out``.


class PrintEpoch(Callback):
    """Print one line per epoch: losses, accuracies and learning rate."""

    def on_epoch_end(self, trainer, record):
        """Print the epoch's record."""
        print(
            f"epoch {record['epoch']:>3}  "
            f"train loss {record['train_loss']:.4f}  train acc {record['train_acc']:6.2f}%  "
            f"test loss {record['test_loss']:.4f}  test acc {record['test_acc']:6.2f}%  "
            f"lr {record['lr']:.4g}  ({record['seconds']:.1f} s)"
        )


(out / "checkpoint.pt").unlink(missing_ok=True)  # start afresh (runs.train never overwrites one)
model, history = runs.train(
    recipe,
    data=(train_data, test_data),
    out=out,
    seed=args.seed,
    device=device,
    progress=False,
    callbacks=[PrintEpoch()],
)
print(f"best test accuracy {history.best('test_acc'):.2f}%, final {history.final['test_acc']:.2f}%")

# %%
# The training curves
# -------------------
#
# :func:`~mnistlite.plots.plot_history` draws the notebooks' four panels: the loss of every
# batch, then test loss, training accuracy and test accuracy per epoch.

fig = plots.plot_history(history)
plots.save_figure(fig, out / "history.png")
for name in ("history.json", "model.pt", "history.png"):
    print(f"wrote {out / name}")
