"""Bundle trained weights into the package and record their metadata in the manifest.

Usage::

    python benchmarks/export_weights.py --data ../shared/data MODEL=RUN_DIR [MODEL=RUN_DIR ...]
    python benchmarks/export_weights.py --data ../shared/data --refresh

RUN_DIR's ``model.pt`` (the final epoch, never one picked on the test set) goes to
``mnistlite/weights/MODEL_mnist_v1.safetensors``, evaluated on the test and training sets, with
its SHA-256 and metadata in ``manifest.json``; ``--refresh`` rewrites every file's metadata.
"""

import argparse
import json
from pathlib import Path
from typing import NamedTuple

from mnistlite import models, params
from mnistlite.atomic import save_json
from mnistlite.data import MNISTTensors, load_mnist
from mnistlite.models.weights import WEIGHTS_DIR, load_state_dict, save_weights, sha256_of
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD
from mnistlite.training import Trainer

MEMBER = "MNIST_V1"


class Split(NamedTuple):
    """MNIST's training and test images."""

    train: MNISTTensors
    test: MNISTTensors


def entry(name: str, file: str, data: Split, recipe: dict | None, run: dict) -> dict:
    """The manifest entry of the bundled ``file``: its SHA-256, then our metadata and
    torchvision's keys (``_ops``: GFLOPs, one multiply-add one op; ``_file_size``: MiB).
    ``train_acc``: on the 60,000 training images as they are (no augmentation)."""
    path, model = WEIGHTS_DIR / file, models.get_model(name)
    model.load_state_dict(load_state_dict(path))
    trainer = Trainer(model, progress=False)
    result, train_acc = trainer.evaluate(data.test), trainer.evaluate(data.train)["accuracy"]
    test_acc, macs = round(result["accuracy"], 2), params.summary(model).total_macs
    docs = (f"The final-epoch weights of a {run.get('epochs', '?')}-epoch run of recipe "
            f"{(recipe or {}).get('name', name)!r} (seed {run.get('seed', '?')}), not an epoch "
            "picked on the test set.")  # fmt: skip
    meta = {
        "num_params": params.count_parameters(model), "macs": macs, "test_acc": test_acc,
        "train_acc": round(train_acc, 2), "test_loss": round(result["loss"], 4),
        "dataset": f"MNIST test set, {len(data.test):,} images",
        "recipe": recipe, "run": run, "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
        "categories": [str(digit) for digit in range(10)], "min_size": [28, 28],
        "_metrics": {"MNIST": {"acc@1": test_acc}}, "_ops": round(macs / 1e9, 6),
        "_file_size": round(path.stat().st_size / 1024 / 1024, 3), "_docs": docs,
    }  # fmt: skip
    print(f"{name}: {test_acc:.2f}% ({file}, {meta['_file_size']} MB)")
    return {"file": file, "sha256": sha256_of(path), "meta": meta}


def export(name: str, run_dir: Path, data: Split) -> dict:
    """Copy a run's final weights into the package; return its manifest entry."""
    history, model = json.loads((run_dir / "history.json").read_text()), models.get_model(name)
    model.load_state_dict(load_state_dict(run_dir / "model.pt"))
    save_weights(model, WEIGHTS_DIR / f"{name}_mnist_v1.safetensors")
    last, meta = history["epochs"][-1], history.get("meta", {})
    run = {"seed": meta.get("seed"), "epochs": len(history["epochs"]),
           "epoch_shipped": last["epoch"], "final_epoch_logged_test_acc": last["test_acc"],
           "device": meta.get("device"), "torch": meta.get("torch")}  # fmt: skip
    return entry(name, f"{name}_mnist_v1.safetensors", data, meta.get("recipe"), run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--refresh", action="store_true", help="rewrite every file's metadata")
    parser.add_argument("pairs", nargs="*", metavar="MODEL=RUN_DIR")
    args = parser.parse_args()
    if not args.pairs and not args.refresh:
        parser.error("give MODEL=RUN_DIR pairs, or --refresh")
    data = Split(load_mnist(args.data, train=True), load_mnist(args.data, train=False))
    path = WEIGHTS_DIR / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    for name, entries in manifest.items() if args.refresh else []:
        meta, file = entries[MEMBER]["meta"], entries[MEMBER]["file"]
        manifest[name] = {MEMBER: entry(name, file, data, meta.get("recipe"), meta.get("run", {}))}
    for pair in args.pairs:
        name, run_dir = pair.split("=", 1)
        manifest[name] = {MEMBER: export(name, Path(run_dir), data)}
    names = models.list_models()
    order = {name: names.index(name) if name in names else len(names) for name in manifest}
    save_json(path, dict(sorted(manifest.items(), key=lambda kv: order[kv[0]])))


if __name__ == "__main__":
    main()
