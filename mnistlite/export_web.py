"""A static web folder that runs a model in the browser, with no server.

:func:`export_web` writes a folder that any static host can serve (GitHub Pages, an S3
bucket, ``python -m http.server``):

- ``index.html``, ``style.css``, ``app.js``: the draw-a-digit page (draw with a mouse, a
  finger or a stylus, or choose a picture);
- ``preprocess.js``: :func:`mnistlite.preprocess.load_digit` in JavaScript, step by step
  (including Pillow's Lanczos resampling), so the page feeds the model what
  ``mnistlite predict`` would;
- ``model.onnx``: the ONNX model (fp32, or int8 with ``int8=True``), checked against
  PyTorch like any ONNX export;
- ``model.json``: the model's name, parameters, test accuracy and input/output names.

The page loads onnxruntime-web :data:`ORT_WEB_VERSION` (pinned) from :data:`ORT_WEB_URL`
and runs the model on the CPU through WebAssembly, one thread. It shows the predicted
digit in the element marked ``data-testid="digit"`` and each class's probability in
``data-testid="prob-N"`` (text in percent, the exact value in ``data-value``), as
``mnistlite serve``'s page does.

The folder is written into a temporary sibling and renamed into place, so a failed export
leaves nothing behind. Needs the ``mnistlite[export]`` extra (ONNX).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite.errors import ExportError

__all__ = ["ORT_WEB_URL", "ORT_WEB_VERSION", "PAGE_FILES", "export_web", "write_page"]

#: The onnxruntime-web release the page loads (pinned in the repository's package.json).
ORT_WEB_VERSION = "1.30.0"
#: Where the page loads it from (the npm package as served by a public CDN).
ORT_WEB_URL = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/ort.wasm.min.js"
#: The page's files, shipped in ``mnistlite/web``.
PAGE_FILES = ("index.html", "style.css", "pad.js", "app.js", "preprocess.js")
MODEL_FILE = "model.onnx"


def _check_target(out: Path) -> None:
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {out.parent} does not exist")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(
            f"{out} exists and is not an empty folder; the web export writes a new folder"
        )


def write_page(folder: Path, meta: dict, runtime_url: str = ORT_WEB_URL) -> None:
    """Write the page's files (:data:`PAGE_FILES`) and ``model.json`` into ``folder``.

    The model itself (``model.onnx``) is not written: :func:`export_web` writes it, and the
    documentation's demo keeps a committed one.

    Args:
        folder: An existing folder.
        meta: What ``model.json`` says of the model (as :func:`export_web` writes it).
        runtime_url: Where the page loads onnxruntime-web from.
    """
    source = resources.files("mnistlite") / "web"
    for name in PAGE_FILES:
        served = resources.files("mnistlite") / "serve" / "static" / name
        if name == "style.css":  # the served page's style, and the picture picker's
            text = served.read_text(encoding="utf-8") + (source / "upload.css").read_text()
        elif name == "pad.js":  # the served page's pad and answer panel
            text = served.read_text(encoding="utf-8")
        else:
            text = (source / name).read_text(encoding="utf-8")
        if name == "index.html":
            text = text.replace("__ORT_URL__", runtime_url)
            text = text.replace("__ORT_VERSION__", ORT_WEB_VERSION)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _write_model(
    model: nn.Module,
    folder: Path,
    int8: bool,
    calibration: torch.Tensor | None,
    check_images: torch.Tensor | None,
    check_labels: torch.Tensor | None,
):
    """Write and check ``model.onnx`` in ``folder``; returns (weight bytes, check)."""
    from mnistlite import export

    path = folder / MODEL_FILE
    if int8:
        assert calibration is not None
        export.quantize_onnx(export._onnx_bytes(export.fold_batchnorm(model)), path, calibration)
    else:
        export.export_onnx(model, path)
    check = None
    if check_images is not None:
        check = export.check_onnx(path, model, check_images, check_labels)
        if not int8:
            export._require_equal(check, path)
    return export.onnx_weight_bytes(path), check


def _page_meta(model: nn.Module, name: str | None, int8: bool, check: Any) -> dict[str, Any]:
    """``model.json``: what the page shows of the model, and how to feed it."""
    from mnistlite import export
    from mnistlite.params import count_parameters

    return {
        "model": name or type(model).__name__,
        "params": count_parameters(model),
        "int8": int8,
        "test_acc": None if check is None else check.accuracy_export,
        "file": MODEL_FILE,
        "input": export.INPUT_NAME,
        "output": export.OUTPUT_NAME,
        "onnxruntime_web": ORT_WEB_VERSION,
    }


def export_web(
    model: nn.Module,
    out: str | Path,
    *,
    int8: bool = False,
    calibration: torch.Tensor | None = None,
    check_images: torch.Tensor | None = None,
    check_labels: torch.Tensor | None = None,
    name: str | None = None,
    runtime_url: str = ORT_WEB_URL,
) -> Any:
    """Write a static folder that runs ``model`` in the browser with onnxruntime-web.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        out: The folder to create; it must not exist, or be empty. Its parent must exist.
        int8: Ship the int8 ONNX model (calibrated on ``calibration``).
        calibration: Normalized *training* images for int8 calibration.
        check_images: Normalized images to check ``model.onnx`` against PyTorch on;
            fp32 must agree on every one.
        check_labels: Their digits; the ONNX model's accuracy on them is shown on the
            page as the test accuracy (pass the MNIST test set).
        name: How the page names the model (default: the model's class name).
        runtime_url: Where the page loads onnxruntime-web's ``ort.wasm.min.js`` from
            (default: :data:`ORT_WEB_URL`; give a path to host your own copy).

    Returns:
        An :class:`~mnistlite.export.ExportReport`: ``path`` is the folder,
        ``file_bytes`` the size of ``model.onnx``.

    Raises:
        mnistlite.errors.ExportError: If ``out`` exists and is not an empty folder, its parent is
            missing, or the fp32 model disagrees with PyTorch (nothing is written then).
        MissingExtraError: Without the ``mnistlite[export]`` extra.
    """
    from mnistlite import export

    out = Path(out)
    _check_target(out)
    export.require_onnx()
    if int8 and not isinstance(calibration, torch.Tensor):
        raise ExportError("int8 export needs calibration images (normalized training images)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        weights, check = _write_model(model, tmp, int8, calibration, check_images, check_labels)
        write_page(tmp, _page_meta(model, name, int8, check), runtime_url)
        os.chmod(tmp, 0o755)
        if out.is_dir():
            out.rmdir()  # empty: checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = (out / MODEL_FILE).stat().st_size
    return export.ExportReport(out, "web", int8, size, weights, check)
