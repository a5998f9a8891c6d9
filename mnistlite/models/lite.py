"""Frontier models: the best accuracy we found under fixed parameter budgets.

Same blocks as the notebooks' steps. From 5,000 parameters up the networks are deep and
narrow with the full receptive field before global pooling; below that the later
layers are depthwise-separable (:class:`~mnistlite.models.DWConv`), which buys width
for few weights. Each model has a recipe of the same name in :mod:`mnistlite.recipes`;
``results/frontier.md`` has their accuracies and how each design was chosen.
"""

from __future__ import annotations

from mnistlite.models.builder import define_builder
from mnistlite.models.spec import Conv, DWConv, Head, NetSpec, Pool, Shared
from mnistlite.models.weights import weights_enum

__all__ = [
    "LITE10K",
    "LITE1K",
    "LITE2K",
    "LITE5K",
    "LITE8K",
    "LITE600",
    "TEACHER",
    "Lite10k_Weights",
    "Lite1k_Weights",
    "Lite2k_Weights",
    "Lite5k_Weights",
    "Lite8k_Weights",
    "Lite600_Weights",
    "Teacher_Weights",
    "lite10k",
    "lite1k",
    "lite2k",
    "lite5k",
    "lite8k",
    "lite600",
    "teacher",
]

#: ≤ 10,000 parameters (9,994): wide early (30 channels at 24×24), a 1×1 squeeze to 10,
#: one pool, then four unpadded 3×3 convs of 14 down to 4×4 before global pooling.
LITE10K = NetSpec(
    layers=(
        Conv(1, 10, 3, 0),  # 26
        Conv(10, 30, 3, 0),  # 24
        Conv(30, 10, 1, 0),  # 24, 1×1 squeeze
        Pool(),  # 12
        Conv(10, 14, 3, 0),  # 10
        Conv(14, 14, 3, 0),  # 8
        Conv(14, 14, 3, 0),  # 6
        Conv(14, 14, 3, 0),  # 4
        Head(14),
    ),
)

#: ≤ 8,000 parameters (7,644): lite10k's shape, narrower (8 → 28 → 10, tail of 12).
LITE8K = NetSpec(
    layers=(
        Conv(1, 8, 3, 0),  # 26
        Conv(8, 28, 3, 0),  # 24
        Conv(28, 10, 1, 0),  # 24, 1×1 squeeze
        Pool(),  # 12
        Conv(10, 12, 3, 0),  # 10
        Conv(12, 12, 3, 0),  # 8
        Conv(12, 12, 3, 0),  # 6
        Conv(12, 12, 3, 0),  # 4
        Head(12),
    ),
)

#: ≤ 5,000 parameters (4,962): lite10k's shape again (6 → 20 → 8, tail of 10).
LITE5K = NetSpec(
    layers=(
        Conv(1, 6, 3, 0),  # 26
        Conv(6, 20, 3, 0),  # 24
        Conv(20, 8, 1, 0),  # 24, 1×1 squeeze
        Pool(),  # 12
        Conv(8, 10, 3, 0),  # 10
        Conv(10, 10, 3, 0),  # 8
        Conv(10, 10, 3, 0),  # 6
        Conv(10, 10, 3, 0),  # 4
        Head(10),
    ),
)

#: ≤ 2,000 parameters (1,794): pool right after the first conv, separable convs, one
#: separable pair applied twice with shared weights, the 2-parameter norm.
LITE2K = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Pool(),  # 14
        DWConv(8, 20, pad=1),  # 14
        Shared(20, 2),  # 14, one separable pair applied twice
        Pool(),  # 7
        DWConv(20, 24, pad=1),  # 7
        Head(24),
    ),
    norm="scalar",
)

#: ≤ 1,000 parameters (964): lite2k's shape, narrower (8 → 12 → 12 → 16), the shared
#: separable pair applied three times.
LITE1K = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Pool(),  # 14
        DWConv(8, 12, pad=1),  # 14
        Shared(12, 3),  # 14, one separable pair applied three times
        Pool(),  # 7
        DWConv(12, 16, pad=1),  # 7
        Head(16),
    ),
    norm="scalar",
)

#: ≤ 600 parameters (592): a wider first conv than lite1k's shape (6 → 8 → 8 → 12), the
#: shared separable pair applied three times.
LITE600 = NetSpec(
    layers=(
        Conv(1, 6, 3, 1),  # 28
        Pool(),  # 14
        DWConv(6, 8, pad=1),  # 14
        Shared(8, 3),  # 14, one separable pair applied three times
        Pool(),  # 7
        DWConv(8, 12, pad=1),  # 7
        Head(12),
    ),
    norm="scalar",
)

#: The distillation teacher of the lite models (97,920 parameters): lite10k's shape,
#: about three times wider (32 → 64 → 32, tail of 48).
TEACHER = NetSpec(
    layers=(
        Conv(1, 32, 3, 0),  # 26
        Conv(32, 64, 3, 0),  # 24
        Conv(64, 32, 1, 0),  # 24, 1×1 squeeze
        Pool(),  # 12
        Conv(32, 48, 3, 0),  # 10
        Conv(48, 48, 3, 0),  # 8
        Conv(48, 48, 3, 0),  # 6
        Conv(48, 48, 3, 0),  # 4
        Head(48),
    ),
)

Lite10k_Weights = weights_enum("lite10k", "Lite10k_Weights")
Lite8k_Weights = weights_enum("lite8k", "Lite8k_Weights")
Lite5k_Weights = weights_enum("lite5k", "Lite5k_Weights")
Lite2k_Weights = weights_enum("lite2k", "Lite2k_Weights")
Lite1k_Weights = weights_enum("lite1k", "Lite1k_Weights")
Lite600_Weights = weights_enum("lite600", "Lite600_Weights")
Teacher_Weights = weights_enum("teacher", "Teacher_Weights")


lite10k = define_builder(
    "lite10k", LITE10K, Lite10k_Weights, "Frontier model under 10,000 parameters."
)
lite8k = define_builder("lite8k", LITE8K, Lite8k_Weights, "Frontier model under 8,000 parameters.")
lite5k = define_builder("lite5k", LITE5K, Lite5k_Weights, "Frontier model under 5,000 parameters.")
lite2k = define_builder("lite2k", LITE2K, Lite2k_Weights, "Frontier model under 2,000 parameters.")
lite1k = define_builder("lite1k", LITE1K, Lite1k_Weights, "Frontier model under 1,000 parameters.")
lite600 = define_builder(
    "lite600", LITE600, Lite600_Weights, "Frontier model under 600 parameters."
)
teacher = define_builder(
    "teacher",
    TEACHER,
    Teacher_Weights,
    "The lite models' distillation teacher (97,920 parameters, lite10k's shape made wider).",
)
