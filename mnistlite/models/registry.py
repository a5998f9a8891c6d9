"""The model registry: builders and their weights enums, in torchvision's API.

``register_model`` records a builder together with its weights enum, so
:func:`get_model_weights` never guesses an enum's name from a model's name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from torch import nn

from mnistlite.errors import MnistliteError, WeightsError
from mnistlite.models.weights import WeightsEnum

__all__ = [
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
    "register_model",
]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_WEIGHTS: dict[str, type[WeightsEnum] | None] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(name: str, weights: type[WeightsEnum] | None = None) -> Callable[[F], F]:
    """Decorator that registers a model builder under ``name``, with its weights enum.

    The library registers its own models with it, and users can add theirs::

        @models.register_model("mynet")
        def mynet(*, weights=None, progress=True, **kwargs):
            return SpecNet(MY_SPEC)

    Args:
        name: The name ``get_model`` will know the builder by.
        weights: The builder's weights enum (a :class:`~mnistlite.models.WeightsEnum`
            subclass), or None if the model has no bundled weights.

    Raises:
        MnistliteError: If ``name`` is empty or already registered, or ``weights`` is
            not a weights enum.
    """
    if not isinstance(name, str) or not name:
        raise MnistliteError(f"a model name must be a non-empty string, got {name!r}")
    if weights is not None and not (isinstance(weights, type) and issubclass(weights, WeightsEnum)):
        raise MnistliteError(f"weights must be a WeightsEnum subclass or None, got {weights!r}")

    def decorator(builder: F) -> F:
        if name in _BUILDERS:
            raise MnistliteError(f"a model named {name!r} is already registered")
        _BUILDERS[name] = builder
        _WEIGHTS[name] = weights
        return builder

    return decorator


def _patterns(filters: str | Iterable[str] | None) -> list[str]:
    if filters is None:
        return []
    return [filters] if isinstance(filters, str) else list(filters)


def list_models(
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
) -> list[str]:
    """Return the registered model names, in registration order (the notebooks' steps first).

    Args:
        include: An :mod:`fnmatch` pattern, or several: keep only the names that match
            one of them (None or empty: keep all).
        exclude: A pattern, or several: drop the names that match one of them.

    Example:
        >>> from mnistlite import models
        >>> models.list_models(include="lite*", exclude=["*k"])
        ['lite600']
    """
    names = list(_BUILDERS)
    keep = _patterns(include)
    if keep:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in keep)]
    drop = _patterns(exclude)
    return [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in drop)]


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """Return the builder function registered as ``name``.

    Raises:
        MnistliteError: If no model has that name; the message lists the available names.
    """
    try:
        return _BUILDERS[name]
    except (KeyError, TypeError):
        raise MnistliteError(
            f"unknown model {name!r}; available models: {', '.join(list_models())}"
        ) from None


def _name_of(name_or_builder: str | Callable[..., Any]) -> str:
    if isinstance(name_or_builder, str):
        get_model_builder(name_or_builder)  # raises for an unknown name
        return name_or_builder
    for name, builder in _BUILDERS.items():
        if builder is name_or_builder:
            return name
    raise MnistliteError(
        f"{name_or_builder!r} is not a registered model builder; "
        f"available models: {', '.join(list_models())}"
    )


def get_model_weights(name_or_builder: str | Callable[..., Any]) -> type[WeightsEnum]:
    """Return the weights enum of a model, given its name or its builder.

    Example:
        >>> from mnistlite import models
        >>> models.get_model_weights("step7") is models.Step7_Weights
        True
        >>> models.get_model_weights(models.step7) is models.Step7_Weights
        True

    Raises:
        MnistliteError: For an unknown name or builder.
        WeightsError: If the model was registered without a weights enum (``step1``,
            whose 25 MB weights are not bundled).
    """
    name = _name_of(name_or_builder)
    enum = _WEIGHTS[name]
    if enum is None:
        raise WeightsError(
            f"model {name!r} has no bundled weights; train it and load the file "
            "with get_model(name, weights=PATH)"
        )
    return enum


def get_weight(name: str) -> WeightsEnum:
    """Return a weights member from its full name, e.g. ``"Step7_Weights.DEFAULT"``.

    Example:
        >>> from mnistlite import models
        >>> models.get_weight("Step7_Weights.MNIST_V1") is models.Step7_Weights.MNIST_V1
        True

    Raises:
        WeightsError: If the text is not ``EnumName.MEMBER``, or names an enum or a
            member that does not exist.
    """
    enum_name, _, member = name.partition(".") if isinstance(name, str) else ("", "", "")
    if not enum_name or not member:
        raise WeightsError(
            f"expected weights as 'EnumName.MEMBER' (Step7_Weights.DEFAULT), got {name!r}"
        )
    enums = {e.__name__: e for e in _WEIGHTS.values() if e is not None}
    if enum_name not in enums:
        raise WeightsError(f"unknown weights enum {enum_name!r}; known: {', '.join(enums)}")
    return enums[enum_name].verify(member)


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name``; keyword arguments go to its builder.

    ``weights`` may be None, a member of the model's weights enum, its name
    (``"DEFAULT"``, ``"Step7_Weights.MNIST_V1"``) or the path of a state-dict file: a
    ``.safetensors`` file (:func:`~mnistlite.models.save_weights`), or a ``model.pt`` or
    ``checkpoint.pt`` written by ``mnistlite train``.

    Example:
        >>> from mnistlite import models
        >>> model = models.get_model("step7", weights="DEFAULT")

    Raises:
        MnistliteError: If no model has that name; the message lists the available names.
        WeightsError: If the weights are unknown, or the file is missing or does not fit.
    """
    return get_model_builder(name)(**kwargs)
