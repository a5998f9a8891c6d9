"""Bundle trained weights into the package and record their metadata in the manifest.

Usage::

    python benchmarks/export_weights.py --data ../shared/data MODEL=RUN_DIR [MODEL=RUN_DIR ...]

For each pair, RUN_DIR holds a finished run (``model.pt``: the final epoch's state,
never an epoch picked on the test set; ``history.json``). The state dict is copied
to ``mnistlite/weights/MODEL_mnist_v1.pt``, evaluated on the full 10,000-image MNIST
test set, and ``mnistlite/weights/manifest.json`` gets the file's SHA-256, the
parameter count, MACs, the measured test accuracy and loss, the recipe and the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mnistlite import models, params
from mnistlite.atomic import save_json, save_torch
from mnistlite.data import load_mnist
from mnistlite.models.weights import WEIGHTS_DIR, load_state_dict, sha256_of
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD
from mnistlite.training import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("pairs", nargs="+", metavar="MODEL=RUN_DIR")
    args = parser.parse_args()
    test = load_mnist(args.data, train=False)
    manifest_path = WEIGHTS_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for pair in args.pairs:
        name, run_dir = pair.split("=", 1)
        run_dir = Path(run_dir)
        history = json.loads((run_dir / "history.json").read_text())
        state = load_state_dict(run_dir / "model.pt")
        model = models.get_model(name)
        model.load_state_dict(state)
        file = f"{name}_mnist_v1.pt"
        save_torch(WEIGHTS_DIR / file, model.state_dict())
        result = Trainer(model, progress=False).evaluate(test)
        last = history["epochs"][-1]
        meta = history.get("meta", {})
        manifest[name] = {
            "MNIST_V1": {
                "file": file,
                "sha256": sha256_of(WEIGHTS_DIR / file),
                "meta": {
                    "num_params": params.count_parameters(model),
                    "macs": params.summary(model).total_macs,
                    "test_accuracy": round(result["accuracy"], 2),
                    "test_loss": round(result["loss"], 4),
                    "dataset": "MNIST test set, 10,000 images",
                    "recipe": meta.get("recipe"),
                    "run": {
                        "seed": meta.get("seed"),
                        "epochs": len(history["epochs"]),
                        "epoch_shipped": last["epoch"],
                        "final_epoch_logged_test_acc": last["test_acc"],
                        "device": meta.get("device"),
                        "torch": meta.get("torch"),
                    },
                    "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
                },
            }
        }
        print(f"{name}: {result['accuracy']:.2f}% -> {file}")
    save_json(manifest_path, dict(sorted(manifest.items(), key=lambda kv: _order(kv[0]))))


def _order(name: str) -> int:
    names = models.list_models()
    return names.index(name) if name in names else len(names)


if __name__ == "__main__":
    main()
