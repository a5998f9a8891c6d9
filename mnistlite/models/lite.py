"""Frontier models: the best accuracy we found under fixed parameter budgets.

Same blocks as the seed's steps. Below 5,000 parameters the later layers are
depthwise-separable (:class:`~mnistlite.models.DWConv`), which buys width for few
weights. Each model has a recipe of the same name in :mod:`mnistlite.recipes`.
"""

from __future__ import annotations

from mnistlite.models.builder import define_builder
from mnistlite.models.spec import Conv, DWConv, Head, NetSpec, OneByOne, Pool
from mnistlite.models.weights import weights_enum

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


lite8k = define_builder("lite8k", LITE8K, Lite8k_Weights, "Frontier model under 8,000 parameters.")
lite5k = define_builder("lite5k", LITE5K, Lite5k_Weights, "Frontier model under 5,000 parameters.")
lite2k = define_builder("lite2k", LITE2K, Lite2k_Weights, "Frontier model under 2,000 parameters.")
lite1k = define_builder("lite1k", LITE1K, Lite1k_Weights, "Frontier model under 1,000 parameters.")
lite600 = define_builder(
    "lite600", LITE600, Lite600_Weights, "Frontier model under 600 parameters."
)
