"""The model registry: ``register_model``, ``list_models`` and ``get_model``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

__all__ = ["get_model", "get_model_builder", "list_models", "register_model"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(name: str) -> Callable[[F], F]:
    """Decorator that registers a model builder under ``name``.

    The library registers its own models with it, and users can add theirs::

        @models.register_model("mynet")
        def mynet(*, weights=None, progress=True, **kwargs):
            return SpecNet(MY_SPEC)

    Args:
        name: The name ``get_model`` will know the builder by.

    Raises:
        ValueError: If ``name`` is empty or already registered.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a model name must be a non-empty string, got {name!r}")

    def decorator(builder: F) -> F:
        if name in _BUILDERS:
            raise ValueError(f"a model named {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorator


def list_models() -> list[str]:
    """Return the registered model names, in registration order (the seed's steps first)."""
    return list(_BUILDERS)


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """Return the builder function registered as ``name``.

    Raises:
        ValueError: If no model has that name; the message lists the available names.
    """
    try:
        return _BUILDERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown model {name!r}; available models: {', '.join(list_models())}"
        ) from None


def get_model(name: str, **kwargs: object) -> nn.Module:
    """Build the model registered as ``name``; keyword arguments go to its builder.

    Example:
        >>> from mnistlite import models
        >>> model = models.get_model("step7")

    Raises:
        ValueError: If no model has that name; the message lists the available names.
    """
    return get_model_builder(name)(**kwargs)
