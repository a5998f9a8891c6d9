"""Evaluation: loss and accuracy of a model, or of each model side by side, on a data set.

Always in fp32, with sums kept on the device until the end (one host synchronisation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mnistlite.data import MNISTTensors
from mnistlite.errors import MnistliteError

__all__ = ["eval_batches", "evaluate_members", "predict"]


def eval_batches(
    data: MNISTTensors | Sequence[MNISTTensors] | Iterable[Any], batch_size: int, members: int
) -> Iterable[Any]:
    """``(images, labels)`` batches of tensors, of one tensor set per member, or as given.

    Raises:
        MnistliteError: If a list of tensor sets does not have one set per member.
    """
    if isinstance(data, MNISTTensors):
        return (
            (data.images[i : i + batch_size], data.labels[i : i + batch_size])
            for i in range(0, len(data), batch_size)
        )
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], MNISTTensors):
        if members == 1 or len(data) != members:
            raise MnistliteError(
                "a list of MNISTTensors is one data set per member of a stacked model"
            )
        return (
            (
                torch.stack([d.images[i : i + batch_size] for d in data]),
                torch.stack([d.labels[i : i + batch_size] for d in data]),
            )
            for i in range(0, len(data[0]), batch_size)
        )
    return data  # type: ignore[return-value]


@torch.no_grad()
def evaluate_members(
    model: nn.Module,
    logits: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[Any],
    *,
    device: torch.device,
    members: int,
    stacked: bool,
) -> list[dict[str, float]]:
    """Mean cross-entropy ``loss`` and ``accuracy`` (percent) of each member.

    Args:
        model: The module (put in eval mode for the pass, then back).
        logits: Images -> fp32 logits (the training step's :meth:`.TrainStep.logits`).
        batches: ``(images, labels)`` batches, e.g. from :func:`eval_batches`.
        device: Where the model is.
        members: Models side by side (1 for a plain model).
        stacked: Whether ``model`` takes (S, N, ...) batches.

    Raises:
        MnistliteError: If ``batches`` is empty.
    """
    was_training = model.training
    model.eval()
    total = torch.zeros(members, dtype=torch.float64, device=device)
    hits = torch.zeros(members, dtype=torch.long, device=device)
    seen = 0
    try:
        for images, labels in batches:
            images, labels = images.to(device), labels.to(device)
            if stacked and images.dim() == 4:  # one set of images for every member
                images = images.expand(members, *images.shape)
            if labels.dim() == 1:
                labels = labels.expand(members, labels.shape[0])
            out = logits(images).view(members, labels.shape[-1], -1)
            flat = F.cross_entropy(out.flatten(0, 1), labels.flatten(), reduction="none")
            total += flat.view(members, -1).double().sum(1)
            hits += (out.argmax(-1) == labels).sum(1)
            seen += labels.shape[-1]
    finally:
        model.train(was_training)
    if seen == 0:
        raise MnistliteError("cannot evaluate on empty data")
    return [
        {"loss": loss / seen, "accuracy": 100.0 * hit / seen}
        for loss, hit in zip(total.tolist(), hits.tolist(), strict=True)
    ]


@torch.no_grad()
def predict(
    model: nn.Module,
    logits: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch_size: int,
    device: torch.device,
    members: int | None = None,
) -> torch.Tensor:
    """Predicted digits (N,) for images (N, 1, 28, 28); (S, N) for S stacked ``members``."""
    was_training = model.training
    model.eval()
    try:
        parts = []
        for i in range(0, images.shape[0], batch_size):
            batch = images[i : i + batch_size].to(device)
            if members is not None:
                batch = batch.expand(members, *batch.shape)
            parts.append(logits(batch).argmax(-1))
    finally:
        model.train(was_training)
    if not parts:
        return torch.empty(0, dtype=torch.long)
    return torch.cat(parts, dim=-1)
