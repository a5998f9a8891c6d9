"""Build your own model under a parameter budget
==============================================

Write a network of your own from mnistlite's layer specs, check it against a parameter
budget with :func:`~mnistlite.params.check_budget`, look at where its parameters and
multiply-accumulates go with :func:`~mnistlite.params.summary`, then register it and
train it briefly with step 7's recipe.

Run it from the command line::

    python examples/custom_model.py --budget 8000 --epochs 3 --data data --download
    python examples/custom_model.py --quick --data data     # a few seconds, 500 images
"""

import argparse
from pathlib import Path

import torch

from mnistlite import data, models, params, recipes, runs
from mnistlite.models import Conv, Head, NetSpec, OneByOne, Pool, SpecNet

parser = argparse.ArgumentParser(description="Build a model from the blocks and train it.")
parser.add_argument("--budget", type=int, default=8_000, help="parameter budget (default: 8000)")
parser.add_argument("--epochs", type=int, default=3, help="training epochs (default: 3)")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/custom_model",
    help="output folder (default: runs/examples/custom_model)",
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
# A network as data
# -----------------
#
# A :class:`~mnistlite.models.NetSpec` is a tuple of layer specs: ``Conv(cin, cout, k,
# pad)`` is a convolution → ReLU → BatchNorm (→ Dropout) block, ``Pool()`` a 2×2
# max-pool, ``OneByOne`` the 1×1 channel reduction and ``Head`` global average pooling
# followed by a 1×1 convolution to the ten logits. The comments track the side of the
# feature map: a 3×3 convolution without padding takes two pixels off, a pool halves it.

TINY = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 12, 3, 0),  # 26
        Pool(),  # 13
        OneByOne(12, 8),  # 13
        Conv(8, 12, 3, 0),  # 11
        Conv(12, 16, 3, 0),  # 9
        Conv(16, 16, 3, 0),  # 7
        Head(16),  # GAP 7×7, conv 16→10
    ),
    dropout=0.05,
)
model = SpecNet(TINY)

# %%
# Check the budget
# ----------------
#
# :func:`~mnistlite.params.check_budget` returns the parameter count, or raises a
# :class:`ValueError` that names both numbers, so it doubles as a one-line assertion.

count = params.check_budget(model, args.budget)
print(f"TINY: {count:,} parameters, within the budget of {args.budget:,}")

# A wider last layer breaks the budget:
WIDER = NetSpec(layers=TINY.layers[:-2] + (Conv(16, 32), Head(32)), dropout=0.05)
try:
    params.check_budget(SpecNet(WIDER), args.budget)
except ValueError as err:
    print(f"WIDER: ValueError: {err}")
else:
    print(f"WIDER fits the budget of {args.budget:,} too")

# %%
# Where the parameters go
# -----------------------
#
# :func:`~mnistlite.params.summary` runs the model once and lists every layer: its output
# shape, parameters, multiply-accumulates per image and receptive field.

summary = params.summary(model)
print(summary)

# %%
# Register and train it
# ---------------------
#
# A registered builder can be found by :func:`~mnistlite.models.get_model` and used by a
# recipe. Here it takes step 7's training settings (SGD with momentum, StepLR, random
# rotation), with fewer epochs.


@models.register_model("tiny")
def tiny(*, weights=None, progress=True, **kwargs):
    """The TINY network above, randomly initialised (it has no pretrained weights)."""
    if weights is not None:
        raise ValueError("tiny has no pretrained weights")
    return SpecNet(TINY.with_options(**kwargs))


recipe = recipes.get_recipe("step7").replace(name="tiny", model="tiny", epochs=args.epochs)
train_data = data.load_mnist(args.data, train=True, download=args.download, device=device)
test_data = data.load_mnist(args.data, train=False, download=args.download, device=device)
train_data, test_data = train_data.take(args.limit), test_data.take(args.limit)

(out / "checkpoint.pt").unlink(missing_ok=True)  # start afresh (runs.train never overwrites one)
model, history = runs.train(
    recipe, data=(train_data, test_data), out=out, seed=args.seed, device=device, progress=False
)
for record in history.epochs:
    print(
        f"epoch {record['epoch']}: train acc {record['train_acc']:.2f}%, "
        f"test acc {record['test_acc']:.2f}% on {len(test_data):,} test images"
    )
(out / "summary.txt").write_text(str(summary) + "\n")
print(f"wrote {out / 'summary.txt'}, {out / 'history.json'} and {out / 'model.pt'}")
