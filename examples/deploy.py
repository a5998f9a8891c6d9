"""Deploy a model: ONNX, int8 and a person's own picture
=====================================================

Export step 7 with its pretrained weights to ONNX (fp32, then int8 calibrated on
training images) and to a ``torch.export`` program, check the files against PyTorch
with ONNX Runtime on the test set, then classify a digit drawn as someone's photo: large,
off centre, dark ink on light paper, preprocessed as MNIST was made.

Needs the ``mnistlite[export]`` extra (onnx, onnxscript, onnxruntime). Run it from the
command line::

    python examples/deploy.py --data data --download
    python examples/deploy.py --quick --data data     # 1,000 test images, 500 to calibrate
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from mnistlite import export, models, plots
from mnistlite.data import load_mnist
from mnistlite.predict import classify
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD, load_digit

parser = argparse.ArgumentParser(description="Export step 7 to ONNX and int8; predict a picture.")
parser.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
parser.add_argument("--download", action="store_true", help="download MNIST if it is missing")
parser.add_argument(
    "--out",
    metavar="DIR",
    default="runs/examples/deploy",
    help="output folder (default: runs/examples/deploy)",
)
parser.add_argument("--quick", action="store_true", help="check on 1,000 test images only")
args = parser.parse_args()

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
n_test, n_calibration = (1_000, 500) if args.quick else (10_000, export.CALIBRATION_IMAGES)
export.require_onnx()  # a clear message naming the extra if it is missing

# %%
# Export to ONNX
# --------------
#
# :func:`~mnistlite.export.export_model` writes the file atomically and compares it with
# the PyTorch model on the images it is given: for fp32 every prediction must agree.
# BatchNorm layers are folded into the next convolution where that is exact (see
# :mod:`mnistlite.export`).

model = models.step7(weights="DEFAULT").eval()
test = load_mnist(args.data, train=False, download=args.download, limit=n_test)
report = export.export_model(
    model, out / "step7.onnx", "onnx", check_images=test.images, check_labels=test.labels
)
check = report.check
print(f"wrote {report.path}: {report.file_bytes:,} bytes, {report.weight_bytes:,} of weights")
print(
    f"ONNX Runtime vs PyTorch on {check.images:,} test images: {check.agreement:.2f}% "
    f"agree, largest logit difference {check.max_abs_diff:.1e}"
)

# %%
# Quantize to int8
# ----------------
#
# Static post-training quantization: ONNX Runtime learns each activation's range on
# training images (never test images) and stores the weights as 8-bit integers.

train = load_mnist(args.data, train=True, download=args.download)
calibration = export.calibration_images(train.images, n=n_calibration)
int8_path = export.quantize_onnx(report.path, out / "step7-int8.onnx", calibration)
int8 = export.check_onnx(int8_path, model, test.images, test.labels)
print(
    f"int8: {export.onnx_weight_bytes(int8_path):,} bytes of weights; accuracy "
    f"{int8.accuracy_export:.2f}% vs fp32 {int8.accuracy_torch:.2f}% "
    f"({int8.accuracy_export - int8.accuracy_torch:+.2f} pp)"
)

# %%
# A torch.export program
# ----------------------
#
# The ``pt2`` format needs only PyTorch; :func:`~mnistlite.export.load_pt2` gives back a
# callable module.

pt2 = export.export_model(model, out / "step7.pt2", "pt2", check_images=test.images[:200])
print(f"wrote {pt2.path}: agrees with PyTorch on {pt2.check.agreement:.2f}% of 200 images")

# %%
# A person's picture of a digit
# -----------------------------
#
# Draw a test digit the way someone might photograph it: eight times larger, off centre
# on a wide sheet, dark ink on grey paper, with noise; save it as a JPEG. A plain resize
# of that picture to 28×28 would give the model a tiny, faint digit in a corner;
# :func:`~mnistlite.preprocess.load_digit` crops to the ink, scales it to fit 20×20 and
# centres it by mass, as MNIST was made.

rng = np.random.default_rng(0)
raw = (test.images[0, 0] * MNIST_STD + MNIST_MEAN).clamp(0, 1)
label = int(test.labels[0])
big = np.asarray(
    Image.fromarray((raw.numpy() * 255).astype(np.uint8)).resize((224, 224), Image.BICUBIC)
)
sheet = np.zeros((320, 480))
sheet[60:284, 220:444] = big / 255.0
photo = np.clip(0.85 - 0.7 * sheet + rng.normal(0, 0.03, sheet.shape), 0, 1)
picture_path = out / "my_digit.jpg"
Image.fromarray((photo * 255).astype(np.uint8)).save(picture_path, quality=85)

digit = load_digit(picture_path)
session = export.onnx_session(int8_path)
probabilities = export.run_onnx(session, digit.unsqueeze(0)).softmax(1)[0]
(prediction,) = classify(model, digit.unsqueeze(0), [str(picture_path)])
print(
    f"{picture_path}: PyTorch says {prediction.digit} ({100 * prediction.probability:.1f}%), "
    f"int8 ONNX says {int(probabilities.argmax())} "
    f"({100 * float(probabilities.max()):.1f}%); the label is {label}"
)

# %%
# The picture and what the model sees:

fig = Figure(figsize=(8, 3), layout="constrained")
ax = fig.add_subplot(1, 2, 1)
ax.imshow(photo, cmap="gray", vmin=0, vmax=1)
ax.set_title(f"the picture ({photo.shape[1]}×{photo.shape[0]})")
ax.set_axis_off()
ax = fig.add_subplot(1, 2, 2)
ax.imshow(digit[0] * MNIST_STD + MNIST_MEAN, cmap="gray")
ax.set_title(f"load_digit: 28×28 → {prediction.digit}")
ax.set_axis_off()
plots.save_figure(fig, out / "my_digit.png")
print(f"wrote {out / 'my_digit.png'}")
