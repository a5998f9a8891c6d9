"""Bundle trained weights into the package and record their metadata in the manifest.

Usage::

    python benchmarks/export_weights.py --data ../shared/data MODEL=RUN_DIR [MODEL=RUN_DIR ...]
    python benchmarks/export_weights.py --data ../shared/data --refresh

For each pair, RUN_DIR holds a finished run (``model.pt``: the final epoch's state,
never an epoch picked on the test set; ``history.json``). The state dict is copied
to ``mnistlite/weights/MODEL_mnist_v1.pt``, evaluated on the full 10,000-image MNIST
test set, and ``mnistlite/weights/manifest.json`` gets the file's SHA-256 and its
metadata (:func:`weights_meta`). ``--refresh`` rewrites the metadata of every bundled
file from the file itself and the recipe and run already recorded for it (the files
are left as they are), so the manifest can follow a change of the metadata schema
without the training runs. The output is deterministic: the same files give the same
manifest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from torch import nn

from mnistlite import models, params
from mnistlite.atomic import save_json, save_torch
from mnistlite.data import MNISTTensors, load_mnist
from mnistlite.models.weights import WEIGHTS_DIR, load_state_dict, sha256_of
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD
from mnistlite.training import Trainer

MEMBER = "MNIST_V1"


def file_size_mb(path: Path) -> float:
    """The file's size as torchvision states ``_file_size``: MiB, 3 decimals."""
    return round(path.stat().st_size / 1024 / 1024, 3)


def gflops(macs: int) -> float:
    """``_ops`` in torchvision's convention: one multiply-add is one op; GFLOPs per image.

    torchvision (``test/common_extended_utils.py``) counts only the multiplications of
    convolutions and matrix products, i.e. MACs, and rounds to 3 decimals; our models
    need ~0.0003-0.002 GFLOPs, so we keep 6.
    """
    return round(macs / 1e9, 6)


def weights_meta(
    name: str,
    model: nn.Module,
    path: Path,
    test: MNISTTensors,
    recipe: dict[str, Any] | None,
    run: dict[str, Any],
) -> dict[str, Any]:
    """All the metadata of one bundled file: ours, then torchvision's keys.

    ``test_acc`` and ``test_loss`` are measured here on the full test set (the names
    History uses); ``_metrics["MNIST"]["acc@1"]`` repeats ``test_acc`` under
    torchvision's name.
    """
    result = Trainer(model, progress=False).evaluate(test)
    test_acc = round(result["accuracy"], 2)
    macs = params.summary(model).total_macs
    recipe_name = (recipe or {}).get("name", name)
    return {
        "num_params": params.count_parameters(model),
        "macs": macs,
        "test_acc": test_acc,
        "test_loss": round(result["loss"], 4),
        "dataset": f"MNIST test set, {len(test):,} images",
        "recipe": recipe,
        "run": run,
        "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
        "categories": [str(digit) for digit in range(10)],
        "min_size": [28, 28],
        "_metrics": {"MNIST": {"acc@1": test_acc}},
        "_ops": gflops(macs),
        "_file_size": file_size_mb(path),
        "_docs": (
            f"The final-epoch weights of a {run.get('epochs', '?')}-epoch run of recipe "
            f"{recipe_name!r} (seed {run.get('seed', '?')}), not an epoch picked on the "
            "test set."
        ),
    }


def _entry(name: str, file: str, test: MNISTTensors, recipe: Any, run: dict) -> dict:
    path = WEIGHTS_DIR / file
    model = models.get_model(name)
    model.load_state_dict(load_state_dict(path))
    meta = weights_meta(name, model, path, test, recipe, run)
    print(f"{name}: {meta['test_acc']:.2f}% ({file}, {meta['_file_size']} MB)")
    return {"file": file, "sha256": sha256_of(path), "meta": meta}


def export(name: str, run_dir: Path, test: MNISTTensors) -> dict[str, Any]:
    """Copy a run's final weights into the package; return its manifest entry."""
    history = json.loads((run_dir / "history.json").read_text())
    model = models.get_model(name)
    model.load_state_dict(load_state_dict(run_dir / "model.pt"))
    file = f"{name}_mnist_v1.pt"
    save_torch(WEIGHTS_DIR / file, model.state_dict())
    last = history["epochs"][-1]
    meta = history.get("meta", {})
    run = {
        "seed": meta.get("seed"),
        "epochs": len(history["epochs"]),
        "epoch_shipped": last["epoch"],
        "final_epoch_logged_test_acc": last["test_acc"],
        "device": meta.get("device"),
        "torch": meta.get("torch"),
    }
    return _entry(name, file, test, meta.get("recipe"), run)


def refresh(name: str, entry: dict[str, Any], test: MNISTTensors) -> dict[str, Any]:
    """Recompute a bundled entry's metadata from its file and its recorded recipe and run."""
    meta = entry["meta"]
    return _entry(name, entry["file"], test, meta.get("recipe"), meta.get("run", {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument(
        "--refresh", action="store_true", help="rewrite the metadata of every bundled file"
    )
    parser.add_argument("pairs", nargs="*", metavar="MODEL=RUN_DIR")
    args = parser.parse_args()
    if not args.pairs and not args.refresh:
        parser.error("give MODEL=RUN_DIR pairs, or --refresh")
    test = load_mnist(args.data, train=False)
    manifest_path = WEIGHTS_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if args.refresh:
        for name, entries in manifest.items():
            manifest[name] = {MEMBER: refresh(name, entries[MEMBER], test)}
    for pair in args.pairs:
        name, run_dir = pair.split("=", 1)
        manifest[name] = {MEMBER: export(name, Path(run_dir), test)}
    save_json(manifest_path, dict(sorted(manifest.items(), key=lambda kv: _order(kv[0]))))


def _order(name: str) -> int:
    names = models.list_models()
    return names.index(name) if name in names else len(names)


if __name__ == "__main__":
    main()
