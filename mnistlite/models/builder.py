"""The one function every model builder calls: spec + weights → module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnistlite.errors import MnistliteError, WeightsError
from mnistlite.models.registry import register_model
from mnistlite.models.spec import NetSpec, SpecNet
from mnistlite.models.weights import WeightsEnum, is_weights_path, load_weights_file

__all__ = ["build_model", "define_builder"]


def build_model(
    name: str,
    spec: NetSpec,
    weights_enum: type[WeightsEnum] | None,
    weights: Any,
    options: dict[str, Any],
    *,
    no_weights_hint: str = "",
) -> SpecNet:
    """Build ``spec`` with ``options`` applied, and load ``weights`` if given.

    Args:
        name: The model's registered name (for error messages).
        spec: The network to build.
        weights_enum: The model's weights enum, or None if it has no bundled weights.
        weights: None, a member of ``weights_enum``, its name (``"DEFAULT"``), or the
            path of a state-dict file (``model.pt``/``checkpoint.pt`` of a run).
        options: Network-wide switches (``dropout``, ``batchnorm``, ``bias``).
        no_weights_hint: Said when bundled weights are asked of a model without them.

    Raises:
        WeightsError: For unknown weights, weights for a model that has none bundled,
            or a file that is missing or does not fit.
        MnistliteError: For unknown options, or options with bundled weights.
    """
    if weights is not None and is_weights_path(weights, weights_enum):
        model = SpecNet(spec.with_options(**options))
        return load_weights_file(model, weights, name)  # type: ignore[return-value]
    if weights is not None and (weights_enum is None or len(weights_enum) == 0):
        raise WeightsError(
            no_weights_hint
            or f"no pretrained weights are bundled for {name}; build it with weights=None and "
            "load your own state dict (weights=PATH)"
        )
    entry = weights_enum.verify(weights) if weights_enum is not None else None
    if entry is not None and options:
        raise MnistliteError(
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
    """Define and register (with its weights enum) the builder of one model.

    The builder has torchvision's signature ``name(*, weights=None, progress=True,
    **kwargs)`` and a docstring that starts with ``summary``.
    """

    def builder(*, weights: Any | None = None, progress: bool = True, **kwargs: Any) -> SpecNet:
        return build_model(name, spec, enum, weights, kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"""{summary}

    Args:
        weights: None for random initialisation, or pretrained weights:
            ``{enum.__name__}.DEFAULT``, a member of :class:`{enum.__name__}`, its
            name as a string (``"DEFAULT"``), or the path of a state-dict file.
        progress: Unused (the weights are bundled); kept for torchvision compatibility.
        **kwargs: Network-wide options (``batchnorm``, ``dropout``, ``bias``); not
            allowed together with bundled weights.

    Returns:
        A :class:`~mnistlite.models.SpecNet` mapping (N, 1, 28, 28) images to (N, 10) logits.

    Raises:
        WeightsError: For unknown weights, or a file that does not fit.
        MnistliteError: For unknown options.
    """
    return register_model(name, weights=enum)(builder)
