"""Model builders, the registry and pretrained weights.

>>> from mnistlite import models
>>> models.list_models()[:3]
['step1', 'step2', 'step3']
>>> model = models.step7()              # random initialisation
>>> model = models.get_model("step7")   # the same, by name
"""

from mnistlite.models import seed as _seed  # noqa: F401  (registers step1-7 first)
from mnistlite.models.lite import (
    LITE1K,
    LITE2K,
    LITE5K,
    LITE8K,
    LITE600,
    Lite1k_Weights,
    Lite2k_Weights,
    Lite5k_Weights,
    Lite8k_Weights,
    Lite600_Weights,
    lite1k,
    lite2k,
    lite5k,
    lite8k,
    lite600,
)
from mnistlite.models.registry import get_model, get_model_builder, list_models, register_model
from mnistlite.models.seed import (
    STEP1,
    STEP2,
    STEP3,
    STEP4,
    STEP5,
    Step2_Weights,
    Step3_Weights,
    Step4_Weights,
    Step5_Weights,
    Step6_Weights,
    Step7_Weights,
    step1,
    step2,
    step3,
    step4,
    step5,
    step6,
    step7,
)
from mnistlite.models.spec import (
    Conv,
    DWConv,
    Flatten,
    Head,
    NetSpec,
    OneByOne,
    Pool,
    SpecNet,
    check_input,
)
from mnistlite.models.weights import Weights, WeightsEnum, WeightsError, load_state_dict

# isort: split
from mnistlite.models.fast import FAST, Fast_Weights, fast  # registered after the lite models

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
    "FAST",
    "Fast_Weights",
    "fast",
    "STEP1",
    "STEP2",
    "STEP3",
    "STEP4",
    "STEP5",
    "Conv",
    "DWConv",
    "Flatten",
    "Head",
    "NetSpec",
    "OneByOne",
    "Pool",
    "SpecNet",
    "Step2_Weights",
    "Step3_Weights",
    "Step4_Weights",
    "Step5_Weights",
    "Step6_Weights",
    "Step7_Weights",
    "Weights",
    "WeightsEnum",
    "WeightsError",
    "check_input",
    "get_model",
    "get_model_builder",
    "list_models",
    "load_state_dict",
    "register_model",
    "step1",
    "step2",
    "step3",
    "step4",
    "step5",
    "step6",
    "step7",
]
