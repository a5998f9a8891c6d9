"""The notebooks' seven steps, each a short spec over the shared blocks.

These specs are the layer tables of the seven steps themselves (the docs' tutorial
walks through them): ``Conv(cin, cout, k, pad)``, ``Pool()`` where the 2×2 max-pool
sits, ``OneByOne`` for the 1×1 transition, ``Head`` for global average pooling + 1×1
conv. The comments give the map side after each layer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mnistlite.models.builder import build_model, define_builder
from mnistlite.models.registry import register_model
from mnistlite.models.spec import Conv, Flatten, Head, NetSpec, OneByOne, Pool, SpecNet
from mnistlite.models.weights import weights_enum

__all__ = [
    "STEP1",
    "STEP2",
    "STEP3",
    "STEP4",
    "STEP5",
    "Step2_Weights",
    "Step3_Weights",
    "Step4_Weights",
    "Step5_Weights",
    "Step6_Weights",
    "Step7_Weights",
    "step1",
    "step2",
    "step3",
    "step4",
    "step5",
    "step6",
    "step7",
]

#: Step 1, the large baseline: biased convs with ReLU, no BN, no dropout (6,379,786).
STEP1 = NetSpec(
    layers=(
        Conv(1, 32, 3, 1),  # 28
        Conv(32, 64, 3, 1),  # 28
        Pool(),  # 14
        Conv(64, 128, 3, 1),  # 14
        Conv(128, 256, 3, 1),  # 14
        Pool(),  # 7
        Conv(256, 512, 3, 0),  # 5
        Conv(512, 1024, 3, 0),  # 3
        Conv(1024, 10, 3, 0, relu=False),  # 1
        Flatten(),
    ),
    batchnorm=False,
    bias=True,
)

#: Step 2: small network with a 1×1 transition and GAP; ReLU only (7,688).
STEP2 = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 16, 3, 0),  # 26
        Pool(),  # 13
        Conv(16, 16, 3, 0),  # 11
        Conv(16, 16, 3, 0),  # 9
        OneByOne(16, 14),  # 9
        Conv(14, 12, 3, 0),  # 7
        Head(12),  # GAP 7×7, conv 12→10
    ),
    batchnorm=False,
)

#: Step 3: step 2 + BatchNorm after each ReLU (7,852).
STEP3 = replace(STEP2, batchnorm=True)

#: Step 4: step 3 + Dropout(0.07) after each BatchNorm (7,852).
STEP4 = replace(STEP3, dropout=0.07)

#: Steps 5–7: more layers; the 1×1 conv has padding 1 (11×11 map) (10,252).
STEP5 = NetSpec(
    layers=(
        Conv(1, 8, 3, 1),  # 28
        Conv(8, 16, 3, 0),  # 26
        Pool(),  # 13
        Conv(16, 16, 3, 0),  # 11
        Conv(16, 16, 3, 0),  # 9
        OneByOne(16, 14, pad=1),  # 11
        Conv(14, 12, 3, 1),  # 11
        Conv(12, 12, 3, 0),  # 9
        Conv(12, 10, 3, 0),  # 7
        Head(10),  # GAP 7×7, conv 10→10
    ),
    batchnorm=True,
    dropout=0.07,
)

Step2_Weights = weights_enum("step2", "Step2_Weights")
Step3_Weights = weights_enum("step3", "Step3_Weights")
Step4_Weights = weights_enum("step4", "Step4_Weights")
Step5_Weights = weights_enum("step5", "Step5_Weights")
Step6_Weights = weights_enum("step6", "Step6_Weights")
Step7_Weights = weights_enum("step7", "Step7_Weights")


@register_model("step1", weights=None)
def step1(*, weights: Any | None = None, progress: bool = True, **kwargs: Any) -> SpecNet:
    """Step 1: the 6,379,786-parameter baseline (no BN, biased convs, no GAP).

    Its trained weights (25 MB) are not bundled with the package: train it with
    ``mnistlite train step1`` and pass the run's ``model.pt`` as ``weights``.

    Args:
        weights: None, or the path of a state-dict file.
        progress: Unused; kept for torchvision compatibility.
        **kwargs: Network-wide options (``batchnorm``, ``dropout``, ``bias``).

    Raises:
        WeightsError: If ``weights`` is not None and not a file that fits.
    """
    hint = (
        "step1's weights (25 MB) are not bundled with mnistlite; use weights=None, or "
        "train it with `mnistlite train step1` and pass weights=PATH to its model.pt"
    )
    return build_model("step1", STEP1, None, weights, kwargs, no_weights_hint=hint)


step2 = define_builder("step2", STEP2, Step2_Weights, "Step 2: 1×1 transition and GAP (7,688).")
step3 = define_builder("step3", STEP3, Step3_Weights, "Step 3: step 2 + BatchNorm (7,852).")
step4 = define_builder("step4", STEP4, Step4_Weights, "Step 4: step 3 + Dropout 0.07 (7,852).")
step5 = define_builder("step5", STEP5, Step5_Weights, "Step 5: more layers (10,252).")
step6 = define_builder(
    "step6", STEP5, Step6_Weights, "Step 6: step 5's network, trained with StepLR (10,252)."
)
step7 = define_builder(
    "step7", STEP5, Step7_Weights, "Step 7: step 5's network, trained with rotation (10,252)."
)
