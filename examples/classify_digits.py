"""Classify digits with pretrained weights
=======================================

Load step 7 with its bundled pretrained weights, preprocess raw MNIST digits with the
transform the weights expect, and classify them: first a handful of test digits one by
one, then (a slice of) the whole test set.

Run it from the command line::

    python examples/classify_digits.py --data data --download
    python examples/classify_digits.py --quick --data data     # 1,000 test images
"""

import argparse
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torchvision.datasets import MNIST

from mnistlite import models, plots

parser = argparse.ArgumentParser(description="Classify MNIST digits with pretrained step 7.")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/classify_digits",
    help="output folder (default: runs/examples/classify_digits)",
)
parser.add_argument("--show", type=int, default=16, help="digits to print and draw (default: 16)")
parser.add_argument("--limit", type=int, help="evaluate on the first N test images only")
parser.add_argument("--quick", action="store_true", help="evaluate on 1,000 test images only")
args = parser.parse_args()

if args.quick:
    args.limit = args.limit or 1_000
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The pretrained model
# --------------------
#
# Each model with bundled weights has a weights enum, in torchvision's pattern. Its
# ``DEFAULT`` member loads the weights (checked against their SHA-256) and carries their
# metadata, including the accuracy measured on the full test set.

if len(models.Step7_Weights) == 0:
    raise SystemExit("no pretrained weights are bundled for step7 in this installation")
weights = models.Step7_Weights.DEFAULT
model = models.step7(weights=weights).eval()
print(f"step7 weights {weights.name}: {weights.meta['test_acc']:.2f}% on the test set")
preprocess = weights.transforms()
print(f"preprocessing: {preprocess}")

# %%
# A few digits
# ------------
#
# ``MNIST(...).data`` holds the raw digits as ``uint8`` (0–255). The transform scales and
# normalizes them as the training images were; the model returns ten logits per digit.

test = MNIST(args.data, train=False, download=args.download)
images = test.data[: args.show].unsqueeze(1)  # uint8 (N, 1, 28, 28)
labels = test.targets[: args.show]
with torch.inference_mode():
    logits = model(preprocess(images))
probabilities = logits.softmax(dim=1)
predictions = logits.argmax(dim=1)

print("digit  label  prediction  confidence")
for i, (label, prediction) in enumerate(zip(labels.tolist(), predictions.tolist(), strict=True)):
    mark = "" if label == prediction else "  <- wrong"
    confidence = 100 * probabilities[i, prediction]
    print(f"{i:>5}  {label:>5}  {prediction:>10}  {confidence:>9.1f}%{mark}")

# %%
# The digits and what the model saw in them:

cols = 8
rows = (len(images) + cols - 1) // cols
fig = Figure(figsize=(1.4 * cols, 1.6 * rows), layout="constrained")
for i in range(len(images)):
    ax = fig.add_subplot(rows, cols, i + 1)
    ax.imshow(images[i, 0], cmap="gray")
    ax.set_title(f"{predictions[i].item()} ({labels[i].item()})", fontsize=9)
    ax.set_axis_off()
fig.suptitle("prediction (label)")
plots.save_figure(fig, out / "predictions.png")

# %%
# Accuracy on the test set
# ------------------------
#
# Classify the test images in batches of 1,000. On the full test set the result should
# match ``weights.meta["test_acc"]``.

n = len(test) if args.limit is None else min(args.limit, len(test))
correct = 0
with torch.inference_mode():
    for start in range(0, n, 1_000):
        batch = test.data[start : min(start + 1_000, n)].unsqueeze(1)
        target = test.targets[start : min(start + 1_000, n)]
        correct += int((model(preprocess(batch)).argmax(dim=1) == target).sum())
accuracy = 100 * correct / n
print(f"accuracy on {n:,} test images: {accuracy:.2f}% ({n - correct} wrong)")
print(f"wrote {out / 'predictions.png'}")
