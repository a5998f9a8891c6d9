"""The ``fast`` recipe's network: few multiply-adds, so an epoch is cheap on a CPU.

It pools right after the first convolution, so only one layer runs at 28×28 and the
rest at 14×14 or less: 0.80 M multiply-adds per image against step 7's 1.67 M, with
9,910 parameters (budget: step 7's 10,252). Its validation runs are
``benchmarks/fast_search.py``'s (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from mnistlite.models.builder import define_builder
from mnistlite.models.spec import Conv, Head, NetSpec, Pool
from mnistlite.models.weights import weights_enum

__all__ = ["FAST", "Fast_Weights", "fast"]

#: The fast network (9,910 parameters).
FAST = NetSpec(
    layers=(
        Conv(1, 10, 3, 1),  # 28
        Pool(),  # 14
        Conv(10, 16, 3, 0),  # 12
        Conv(16, 16, 3, 0),  # 10
        Conv(16, 20, 3, 0),  # 8
        Conv(20, 16, 3, 0),  # 6
        Head(16),
    ),
)

Fast_Weights = weights_enum("fast", "Fast_Weights")

fast = define_builder("fast", FAST, Fast_Weights, "The fast recipe's network (9,910).")
