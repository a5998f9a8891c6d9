"""The one function every model builder calls: spec + weights → module."""

from __future__ import annotations

from typing import Any

from mnistlite.models.spec import NetSpec, SpecNet
from mnistlite.models.weights import WeightsEnum

__all__ = ["build_model"]


def build_model(
    name: str,
    spec: NetSpec,
    weights_enum: type[WeightsEnum] | None,
    weights: Any,
    options: dict[str, Any],
) -> SpecNet:
    """Build ``spec`` with ``options`` applied, and load ``weights`` if given.

    Args:
        name: The model's registered name (for error messages).
        spec: The network to build.
        weights_enum: The model's weights enum, or None if it has no bundled weights.
        weights: None, a member of ``weights_enum``, or its name (``"DEFAULT"``).
        options: Network-wide switches (``dropout``, ``batchnorm``, ``bias``).

    Raises:
        ValueError: For unknown weights or options, weights with architecture options,
            or weights for a model that has none bundled.
    """
    if weights is not None and weights_enum is None:
        raise ValueError(
            f"no pretrained weights are bundled for {name}; build it with weights=None"
        )
    entry = weights_enum.verify(weights) if weights_enum is not None else None
    if entry is not None and options:
        raise ValueError(
            f"pretrained weights fix the architecture of {name}; "
            f"drop the options {', '.join(sorted(options))} or use weights=None"
        )
    model = SpecNet(spec.with_options(**options))
    if entry is not None:
        model.load_state_dict(entry.get_state_dict())
    return model
