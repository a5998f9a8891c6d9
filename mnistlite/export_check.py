"""How an exported file compares with the PyTorch model: agreement, logits, accuracy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite.errors import ExportError

__all__ = ["ExportCheck"]

#: Largest |logit| difference an fp32 export may show against PyTorch.
LOGIT_TOLERANCE = 1e-3


def _torch_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(batch.float()) for batch in images.cpu().split(batch_size)])


@dataclass(frozen=True)
class ExportCheck:
    """How an exported file compares with the PyTorch model on some images.

    Attributes:
        images: How many images were compared.
        agreement: Percent of images on which both predict the same digit.
        max_abs_diff: Largest absolute logit difference.
        accuracy_torch: PyTorch's accuracy in percent (None without labels).
        accuracy_export: The export's accuracy in percent (None without labels).
    """

    images: int
    agreement: float
    max_abs_diff: float
    accuracy_torch: float | None = None
    accuracy_export: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def _compare(
    reference: torch.Tensor, exported: torch.Tensor, labels: torch.Tensor | None
) -> ExportCheck:
    ref_pred, exp_pred = reference.argmax(1), exported.argmax(1)
    n = len(reference)

    def accuracy(pred: torch.Tensor) -> float | None:
        return None if labels is None else 100.0 * float((pred == labels.cpu()).sum()) / n

    return ExportCheck(
        images=n,
        agreement=100.0 * float((ref_pred == exp_pred).sum()) / n,
        max_abs_diff=float((reference - exported).abs().max()),
        accuracy_torch=accuracy(ref_pred),
        accuracy_export=accuracy(exp_pred),
    )


def _check_images(images: torch.Tensor, labels: torch.Tensor | None) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ExportError(f"check images must be a (N, 1, 28, 28) tensor, got {shape}")
    if labels is not None and labels.shape != (images.shape[0],):
        raise ExportError(
            f"labels must be ({images.shape[0]},) to match the images, got {tuple(labels.shape)}"
        )


def _require_equal(check: ExportCheck, path: Path) -> None:
    if check.agreement < 100.0 or check.max_abs_diff > LOGIT_TOLERANCE:
        raise ExportError(
            f"{path} does not reproduce the PyTorch model: predictions agree on "
            f"{check.agreement:.2f}% of {check.images:,} images, largest logit difference "
            f"{check.max_abs_diff:.2g} (allowed {LOGIT_TOLERANCE:g})"
        )
