"""ExecuTorch programs (``.pte``) for phones and microcontrollers, fp32 or int8.

The model is captured with ``torch.export.export`` for **one image at a time**
(input ``(1, 1, 28, 28)`` normalized, output ``(1, 10)`` logits: what an app on a device
classifies), lowered with ExecuTorch's XNNPACK partitioner and serialized as a ``.pte``
file that the ExecuTorch runtime loads on Android, iOS, Linux or a microcontroller.
Like the ONNX exports, the BatchNorms are first folded into the next convolution where
that is exact (:func:`mnistlite.export.fold_batchnorm`).

``int8=True`` quantizes with PT2E: ExecuTorch's XNNPACK quantizer (symmetric int8
weights per output channel, int8 activations), calibrated on training images, then
lowered to XNNPACK's int8 kernels.

:func:`check_pte` runs a file through ``executorch.runtime`` on images and compares
it with PyTorch. Needs the optional extra ``mnistlite[edge]`` (executorch).
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import torch
from torch import nn

from mnistlite.atomic import atomic_write
from mnistlite.errors import ExportError, MissingExtraError

__all__ = [
    "EDGE_INSTALL_HINT",
    "check_pte",
    "export_pte",
    "pte_bytes",
    "require_executorch",
    "run_pte",
]

#: The command that installs what the ``pte`` format needs.
EDGE_INSTALL_HINT = 'pip install "mnistlite[edge]"'
#: Images per calibration forward pass (calibration runs on a dynamic-batch capture).
_CALIBRATION_BATCH = 500


def require_executorch() -> ModuleType:
    """Import executorch, or fail with a message naming the extra.

    Returns:
        The ``executorch`` module.

    Raises:
        MissingExtraError: If executorch is missing (it is an ImportError); the message
            says ``pip install "mnistlite[edge]"``.
    """
    try:
        import executorch
        import executorch.exir  # noqa: F401
        import executorch.runtime  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(
            f"ExecuTorch export needs the 'mnistlite[edge]' extra (executorch); "
            f"{err.name or 'a package'} is not installed: {EDGE_INSTALL_HINT}"
        ) from err
    return executorch


def _single_image() -> tuple[torch.Tensor]:
    return (torch.zeros(1, 1, 28, 28),)


def _quantized(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """PT2E int8: XNNPACK quantizer, per-channel symmetric weights, calibrated on images."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e import quantize_pt2e
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    batch = torch.export.Dim("batch", min=1, max=max(2, _CALIBRATION_BATCH))
    example = (torch.zeros(2, 1, 28, 28),)
    captured = torch.export.export(model, example, dynamic_shapes=({0: batch},)).module()
    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True)
    )
    prepared = prepare_pt2e(captured, quantizer)
    with torch.no_grad():
        for images in calibration.float().cpu().split(_CALIBRATION_BATCH):
            prepared(images)
    # convert_pt2e first folds the conv-BatchNorm pairs that *QAT* preparation leaves
    # (re-tracing ~100 patterns, a minute on a small CPU) whenever the graph holds a
    # BatchNorm. After PTQ's prepare_pt2e (which fuses conv-BatchNorm itself) there is no
    # such pair: the BatchNorms left follow a ReLU. So the no-op fold is skipped.
    with mock.patch.object(quantize_pt2e, "_fold_conv_bn_qat", lambda graph: graph):
        return quantize_pt2e.convert_pt2e(prepared)


def pte_bytes(
    model: nn.Module, *, int8: bool = False, calibration: torch.Tensor | None = None
) -> tuple[bytes, int]:
    """The serialized ExecuTorch program of ``model`` and the bytes of its weights.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        int8: Quantize with PT2E and the XNNPACK quantizer.
        calibration: Normalized *training* images for int8 calibration.

    Returns:
        The ``.pte`` bytes, and the bytes of the weights the program stores (parameters,
        buffers and constants of the lowered program, before XNNPACK packs them).

    Raises:
        MissingExtraError: Without the ``mnistlite[edge]`` extra.
        mnistlite.errors.ExportError: If the model cannot be captured or lowered, or int8 has no
            calibration images.
    """
    require_executorch()
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from mnistlite.export import fold_batchnorm

    if int8 and not isinstance(calibration, torch.Tensor):
        raise ExportError("int8 export needs calibration images (normalized training images)")
    model = fold_batchnorm(model)
    try:
        if int8:
            assert calibration is not None
            model = _quantized(model, calibration)
        with torch.no_grad():
            program = torch.export.export(model, _single_image())
        weights = sum(
            t.nbytes
            for t in [*program.state_dict.values(), *program.constants.values()]
            if isinstance(t, torch.Tensor)
        )
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        return bytes(lowered.to_executorch().buffer), weights
    except MissingExtraError:
        raise
    except Exception as err:  # torch.export and ExecuTorch raise many types
        raise ExportError(
            f"cannot lower {type(model).__name__} to an ExecuTorch program "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from None


def export_pte(
    model: nn.Module,
    out: str | Path,
    *,
    int8: bool = False,
    calibration: torch.Tensor | None = None,
) -> tuple[Path, int]:
    """Write ``model`` as an ExecuTorch ``.pte`` program (XNNPACK), atomically.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits;
            the program takes one image, ``(1, 1, 28, 28)``.
        out: The ``.pte`` file to write; its folder must exist.
        int8: Quantize with PT2E (XNNPACK quantizer), calibrating on ``calibration``.
        calibration: Normalized *training* images (never test images).

    Returns:
        ``out`` as a :class:`~pathlib.Path`, and the bytes of the program's weights.

    Raises:
        MissingExtraError: Without the ``mnistlite[edge]`` extra.
        mnistlite.errors.ExportError: If the model cannot be lowered (nothing is written then).
    """
    data, weights = pte_bytes(copy.deepcopy(model).eval(), int8=int8, calibration=calibration)
    return atomic_write(out, lambda handle: handle.write(data)), weights


def _load(path: str | Path) -> tuple[Any, Any]:
    """The loaded program and its ``forward`` method (the method needs its program alive)."""
    require_executorch()
    from executorch.runtime import Runtime

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no ExecuTorch program at {path}")
    try:
        program = Runtime.get().load_program(path.read_bytes())
        return program, program.load_method("forward")
    except Exception as err:  # the runtime raises RuntimeError/ValueError for bad files
        raise ExportError(f"the ExecuTorch runtime cannot load {path}: {err}") from None


def run_pte(path: str | Path, images: torch.Tensor) -> torch.Tensor:
    """Logits of a ``.pte`` program run by ``executorch.runtime``, one image at a time.

    Args:
        path: The ``.pte`` file written by :func:`export_pte`.
        images: ``(N, 1, 28, 28)`` normalized images.

    Returns:
        ``(N, 10)`` float32 logits.
    """
    program, method = _load(path)
    rows = [method.execute([image.float().contiguous()])[0] for image in images.cpu().split(1)]
    del program
    return torch.cat(rows)


def check_pte(
    path: str | Path,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
) -> Any:
    """Compare a ``.pte`` file run by ExecuTorch with ``model`` on ``images``.

    Returns:
        An :class:`~mnistlite.export.ExportCheck`.
    """
    from mnistlite.export import _check_images, _compare, _torch_logits

    _check_images(images, labels)
    return _compare(_torch_logits(model.eval(), images), run_pte(path, images), labels)
