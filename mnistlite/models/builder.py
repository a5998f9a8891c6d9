"""The one function every model builder calls: spec + weights → module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnistlite.models.registry import register_model
from mnistlite.models.spec import NetSpec, SpecNet
from mnistlite.models.weights import WeightsEnum

__all__ = ["build_model", "define_builder"]


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
    if weights is not None and (weights_enum is None or len(weights_enum) == 0):
        raise ValueError(
            f"no pretrained weights are bundled for {name}; build it with weights=None and "
            "load your own state dict (on the command line: --weights PATH)"
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


def define_builder(
    name: str, spec: NetSpec, enum: type[WeightsEnum], summary: str
) -> Callable[..., SpecNet]:
    """Define and register the keyword-only builder of one model with bundled weights.

    The builder has torchvision's signature ``name(*, weights=None, progress=True,
    **kwargs)`` and a docstring that starts with ``summary``.
    """

    def builder(*, weights: Any | None = None, progress: bool = True, **kwargs: Any) -> SpecNet:
        return build_model(name, spec, enum, weights, kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.weights_enum = enum  # type: ignore[attr-defined]
    builder.__doc__ = f"""{summary}

    Args:
        weights: None for random initialisation, or pretrained weights:
            ``{enum.__name__}.DEFAULT``, a member of :class:`{enum.__name__}`, or its
            name as a string (``"DEFAULT"``).
        progress: Unused (the weights are bundled); kept for torchvision compatibility.
        **kwargs: Network-wide options (``batchnorm``, ``dropout``, ``bias``); not
            allowed together with ``weights``.

    Returns:
        A :class:`~mnistlite.models.SpecNet` mapping (N, 1, 28, 28) images to (N, 10) logits.

    Raises:
        ValueError: For unknown weights or options.
    """
    return register_model(name)(builder)
