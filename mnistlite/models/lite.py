"""Frontier models: the best accuracy we found under fixed parameter budgets.

Same blocks as the seed's steps. Below 5,000 parameters the later layers are
depthwise-separable (:class:`~mnistlite.models.DWConv`), which buys width for few
weights. Each model has a recipe of the same name in :mod:`mnistlite.recipes`.
"""

from __future__ import annotations

from typing import Any

from mnistlite.models.builder import build_model
from mnistlite.models.registry import register_model
from mnistlite.models.spec import Conv, DWConv, Head, NetSpec, OneByOne, Pool, SpecNet
from mnistlite.models.weights import WeightsEnum, weights_enum

__all__ = [
    "LITE1K",
    "LITE2K",
    "LITE5K",
    "LITE8K",
    "LITE600",
    "Lite1k_Weights",
    "Lite2k_Weights",
    "Lite5k_Weights",
    "Lite8k_Weights",
    "Lite600_Weights",
    "lite1k",
    "lite2k",
    "lite5k",
    "lite8k",
    "lite600",
]

#: ≤ 8,000 parameters (7,756): step 5's shape with a 13×13 transition and 16-wide tail.
LITE8K = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 16, 3, 0),  # 26
        Pool(),  # 13
        OneByOne(16, 10),  # 13
        Conv(10, 16, 3, 0),  # 11
        Conv(16, 16, 3, 0),  # 9
        Conv(16, 16, 3, 0),  # 7
        Head(16),
    ),
)

#: ≤ 5,000 parameters (4,896).
LITE5K = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 12, 3, 0),  # 26
        Pool(),  # 13
        OneByOne(12, 8),  # 13
        Conv(8, 12, 3, 0),  # 11
        Conv(12, 14, 3, 0),  # 9
        Conv(14, 10, 3, 0),  # 7
        Head(10),
    ),
)

#: ≤ 2,000 parameters (1,900): depthwise-separable tail.
LITE2K = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 12, 3, 0),  # 26
        Pool(),  # 13
        DWConv(12, 16),  # 11
        DWConv(16, 16),  # 9
        Head(16),
    ),
)

#: ≤ 1,000 parameters (948).
LITE1K = NetSpec(
    layers=(
        Conv(1, 6, 3, 1),  # 28
        Conv(6, 6, 3, 0),  # 26
        Pool(),  # 13
        DWConv(6, 12),  # 11
        DWConv(12, 12),  # 9
        Head(12),
    ),
)

#: ≤ 600 parameters (582).
LITE600 = NetSpec(
    layers=(
        Conv(1, 4, 3, 1),  # 28
        Conv(4, 6, 3, 0),  # 26
        Pool(),  # 13
        DWConv(6, 8),  # 11
        DWConv(8, 6),  # 9
        Head(6),
    ),
)

Lite8k_Weights = weights_enum("lite8k", "Lite8k_Weights")
Lite5k_Weights = weights_enum("lite5k", "Lite5k_Weights")
Lite2k_Weights = weights_enum("lite2k", "Lite2k_Weights")
Lite1k_Weights = weights_enum("lite1k", "Lite1k_Weights")
Lite600_Weights = weights_enum("lite600", "Lite600_Weights")


def _lite_builder(name: str, spec: NetSpec, enum: type[WeightsEnum], budget: str) -> Any:
    """Define and register a keyword-only builder for one frontier model."""

    def builder(*, weights: Any | None = None, progress: bool = True, **kwargs: Any) -> SpecNet:
        return build_model(name, spec, enum, weights, kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"""Frontier model under {budget} parameters (see ``results/frontier.md``).

    Args:
        weights: None, :class:`{enum.__name__}` member, or its name (``"DEFAULT"``).
        progress: Unused (the weights are bundled); kept for torchvision compatibility.
        **kwargs: Network-wide options (``batchnorm``, ``dropout``, ``bias``).

    Returns:
        A :class:`~mnistlite.models.SpecNet` mapping (N, 1, 28, 28) images to (N, 10) logits.
    """
    return register_model(name)(builder)


lite8k = _lite_builder("lite8k", LITE8K, Lite8k_Weights, "8,000")
lite5k = _lite_builder("lite5k", LITE5K, Lite5k_Weights, "5,000")
lite2k = _lite_builder("lite2k", LITE2K, Lite2k_Weights, "2,000")
lite1k = _lite_builder("lite1k", LITE1K, Lite1k_Weights, "1,000")
lite600 = _lite_builder("lite600", LITE600, Lite600_Weights, "600")
