"""Classify people's own pictures of digits with any model.

>>> from mnistlite import models, predict
>>> model = models.step7(weights="DEFAULT")
>>> predict.predict(model, ["seven.png"])  # doctest: +SKIP
[Prediction(file='seven.png', digit=7, probability=0.998, top3=((7, 0.998), ...))]

Each picture goes through :func:`mnistlite.preprocess.load_digit` (MNIST's own
preprocessing), then through the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite.errors import DigitImageError, MnistliteError
from mnistlite.preprocess import load_digit

__all__ = ["Prediction", "classify", "predict", "predict_readable", "probabilities", "rank"]


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one picture.

    Attributes:
        file: The picture's name (its path, or the name given).
        digit: The most probable digit.
        probability: Its softmax probability, in [0, 1].
        top3: The three most probable ``(digit, probability)`` pairs, best first.
    """

    file: str
    digit: int
    probability: float
    top3: tuple[tuple[int, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``file``, ``digit``, ``probability`` and ``top3`` (a list of dicts)."""
        return {
            "file": self.file,
            "digit": self.digit,
            "probability": self.probability,
            "top3": [{"digit": d, "probability": p} for d, p in self.top3],
        }


def probabilities(model: nn.Module, digits: torch.Tensor) -> torch.Tensor:
    """The model's softmax probabilities of the ten digits, in inference mode.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        digits: Tensor ``(N, 1, 28, 28)``, e.g. stacked :func:`~mnistlite.preprocess.load_digit`
            results.

    Returns:
        Tensor ``(N, 10)``; each row sums to 1.
    """
    model.eval()
    device = next((p.device for p in model.parameters()), digits.device)
    with torch.inference_mode():
        return model(digits.float().to(device)).softmax(dim=1).cpu()


def rank(probs: torch.Tensor, names: Sequence[str]) -> list[Prediction]:
    """Turn rows of digit probabilities into one :class:`Prediction` each.

    Args:
        probs: Tensor ``(N, 10)``, e.g. from :func:`probabilities`.
        names: One name per row.

    Raises:
        MnistliteError: If the number of names differs from the number of rows.
    """
    if len(names) != len(probs):
        raise MnistliteError(f"got {len(names)} names for {len(probs)} digits")
    if len(probs) == 0:
        return []
    top = probs.topk(min(3, probs.shape[1]), dim=1)
    return [
        Prediction(
            file=name,
            digit=int(indices[0]),
            probability=float(values[0]),
            top3=tuple((int(i), float(v)) for i, v in zip(indices, values, strict=True)),
        )
        for name, values, indices in zip(names, top.values, top.indices, strict=True)
    ]


def classify(model: nn.Module, digits: torch.Tensor, names: Sequence[str]) -> list[Prediction]:
    """Run ``model`` on preprocessed digits and return one :class:`Prediction` each.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        digits: Tensor ``(N, 1, 28, 28)``, e.g. stacked :func:`~mnistlite.preprocess.load_digit`
            results.
        names: One name per digit.

    Raises:
        ValueError: If the number of names differs from the number of digits.
    """
    if len(digits) == 0:
        return rank(digits.new_empty(0, 10), names)  # checks the names all the same
    return rank(probabilities(model, digits), names)


def predict(
    model: nn.Module, images: Sequence[Any], names: Sequence[str] | None = None
) -> list[Prediction]:
    """Preprocess each picture as MNIST was made and classify it with ``model``.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        images: File paths, file bytes, PIL images or arrays (see
            :func:`~mnistlite.preprocess.load_digit`).
        names: How to call each picture (default: its path, or ``image N``).

    Returns:
        One :class:`Prediction` per picture, in order.

    Raises:
        mnistlite.preprocess.DigitImageError: If a picture cannot be read or is blank.
    """
    if isinstance(images, (str, Path)):
        images = [images]
    if names is None:
        names = [
            str(image) if isinstance(image, (str, Path)) else f"image {i}"
            for i, image in enumerate(images)
        ]
    digits = [load_digit(image, name=name) for image, name in zip(images, names, strict=True)]
    stacked = torch.stack(digits) if digits else torch.empty(0, 1, 28, 28)
    return classify(model, stacked, list(names))


def predict_readable(
    model: nn.Module, images: Sequence[str | Path]
) -> tuple[list[Prediction], list[DigitImageError]]:
    """Classify every picture that can be read; report, not raise, those that cannot.

    What ``mnistlite predict`` runs: one bad file among many does not stop the others.

    Args:
        model: Takes ``(N, 1, 28, 28)`` normalized images, returns ``(N, 10)`` logits.
        images: Picture files.

    Returns:
        ``(predictions, errors)``: one :class:`Prediction` per readable picture, in
        order, and one :class:`~mnistlite.errors.DigitImageError` per other picture.
    """
    digits, names, errors = [], [], []
    for image in images:
        try:
            digits.append(load_digit(image, name=str(image)))
            names.append(str(image))
        except DigitImageError as err:
            errors.append(err)
    stacked = torch.stack(digits) if digits else torch.empty(0, 1, 28, 28)
    return classify(model, stacked, names), errors
