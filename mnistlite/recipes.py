"""Training recipes: a model's training settings as plain data, by name.

A :class:`Recipe` is one frozen dataclass of plain values; :data:`RECIPES` lists the
notebooks' seven steps, the frontier models' recipes and the fast one by name. Change a
field with :func:`get_recipe` overrides (``get_recipe("step7", lr=0.02)``) or
:meth:`Recipe.replace`; run one with :func:`mnistlite.runs.train`::

    from mnistlite import recipes, runs
    run = runs.train(recipes.get_recipe("step7"), root="~/data", out="runs/s7")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

import torch

from mnistlite import _checks, models
from mnistlite.data import Augment
from mnistlite.errors import MnistliteError

__all__ = [
    "RECIPES",
    "Recipe",
    "get_recipe",
    "list_recipes",
    "register_recipe",
]


#: The device types a recipe can have overrides for.
DEVICE_TYPES = ("cpu", "cuda", "mps")


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run, as plain data.

    Attributes:
        name: The recipe's name.
        model: Registered model name (see :func:`mnistlite.models.list_models`).
        epochs: Training epochs.
        batch_size: Images per batch.
        lr: Learning rate (the peak rate for ``schedule="onecycle"``).
        momentum: SGD momentum.
        nesterov: Use Nesterov momentum.
        weight_decay: L2 weight decay.
        schedule: ``"constant"``, ``"step"`` (StepLR, stepped per epoch) or
            ``"onecycle"`` (OneCycleLR, stepped per batch).
        step_size: StepLR period in epochs.
        gamma: StepLR decay factor.
        rotation: Largest random rotation in degrees (0: none).
        translate: Largest random shift as a fraction of the side (0: none).
        scale: Largest random zoom as a fraction (0.1: factors in [0.9, 1.1]; 0: none).
        interpolation: Augmentation interpolation, ``"nearest"`` or ``"bilinear"``.
        label_smoothing: Cross-entropy label smoothing.
        teacher: Registered model whose bundled (``DEFAULT``) weights serve as the
            teacher for knowledge distillation, or None to train on the labels alone.
        distill_temperature: Distillation temperature (see
            :func:`~mnistlite.training.distillation_loss`).
        distill_weight: Share of the teacher term in the loss, in [0, 1].
        ema: Decay of an exponential moving average of the weights, in (0, 1) (e.g.
            0.999): the averaged weights are evaluated and become the trained model
            (:class:`~mnistlite.training.WeightAverage`). None: off.
        device_overrides: Fields that differ on a device type, e.g.
            ``{"cuda": {"epochs": 8}}``: :meth:`for_device` applies them, and
            :func:`mnistlite.runs.train` does so for the device it trains on. A field set with
            :meth:`replace` (or :func:`get_recipe`) wins over them.
    """

    name: str
    model: str
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.1
    rotation: float = 0.0
    translate: float = 0.0
    scale: float = 0.0
    interpolation: str = "nearest"
    label_smoothing: float = 0.0
    teacher: str | None = None
    distill_temperature: float = 4.0
    distill_weight: float = 0.5
    ema: float | None = None
    device_overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=dict, hash=False
    )

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "step_size"):
            _checks.positive_int(name, getattr(self, name))
        _checks.finite_positive("lr", self.lr)
        _checks.probability("momentum", self.momentum)
        if not (_checks._is_number(self.gamma) and 0 < self.gamma <= 1):
            raise MnistliteError(f"gamma must lie in (0, 1], got {self.gamma!r}")
        _checks.finite_non_negative("weight_decay", self.weight_decay)
        if not isinstance(self.nesterov, bool):
            raise MnistliteError(f"nesterov must be True or False, got {self.nesterov!r}")
        _checks.probability("label_smoothing", self.label_smoothing)
        self.augment()  # Augment checks rotation, translate and interpolation
        if self.schedule not in ("constant", "step", "onecycle"):
            raise MnistliteError(
                f"schedule must be 'constant', 'step' or 'onecycle', got {self.schedule!r}"
            )
        if self.model not in models.list_models():
            models.get_model_builder(self.model)  # raises, listing the names
        if self.teacher is not None and self.teacher not in models.list_models():
            models.get_model_builder(self.teacher)  # raises, listing the names
        _checks.finite_positive("distill_temperature", self.distill_temperature)
        _checks.probability("distill_weight", self.distill_weight, high_inclusive=True)
        _checks.decay("ema", self.ema)
        self._check_device_overrides()

    def _check_device_overrides(self) -> None:
        if not isinstance(self.device_overrides, Mapping) or not all(
            isinstance(changes, Mapping) for changes in self.device_overrides.values()
        ):
            raise MnistliteError(
                "device_overrides must map a device type to field overrides, got "
                f"{self.device_overrides!r}"
            )
        # read-only, so that a registered recipe cannot be changed through it
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.device_overrides.items()}
        object.__setattr__(self, "device_overrides", MappingProxyType(frozen))
        names = {f.name for f in fields(self)} - {"name", "device_overrides"}
        for device_type, changes in self.device_overrides.items():
            if device_type not in DEVICE_TYPES:
                raise MnistliteError(
                    f"device_overrides: unknown device type {device_type!r}; expected one of "
                    f"{', '.join(DEVICE_TYPES)}"
                )
            unknown = sorted(set(changes) - names)
            if unknown:
                raise MnistliteError(
                    f"device_overrides[{device_type!r}]: unknown or fixed field(s) "
                    f"{', '.join(unknown)}; fields: {', '.join(sorted(names))}"
                )
            try:
                dataclasses.replace(self, device_overrides={}, **changes)  # checks the values
            except MnistliteError as err:
                raise MnistliteError(f"device_overrides[{device_type!r}]: {err}") from None

    def replace(self, **overrides: Any) -> Recipe:
        """Return a copy with some fields changed; unknown fields raise ValueError.

        A changed field is dropped from :attr:`device_overrides`: what is set
        explicitly holds on every device.
        """
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise MnistliteError(
                f"unknown recipe field(s) {', '.join(unknown)}; fields: {', '.join(sorted(names))}"
            )
        if "device_overrides" not in overrides and self.device_overrides:
            kept = {
                device_type: {k: v for k, v in changes.items() if k not in overrides}
                for device_type, changes in self.device_overrides.items()
            }
            overrides["device_overrides"] = {k: v for k, v in kept.items() if v}
        return dataclasses.replace(self, **overrides)

    def for_device(self, device: str | torch.device) -> Recipe:
        """This recipe as it runs on ``device``: its :attr:`device_overrides` applied.

        Args:
            device: A device or its name (``"cuda"``, ``"cuda:1"``, ``"cpu"``...).

        Returns:
            A recipe without device overrides (itself when it has none).
        """
        if not self.device_overrides:
            return self
        changes = dict(self.device_overrides.get(torch.device(device).type, {}))
        return dataclasses.replace(self, device_overrides={}, **changes)

    def augment(self) -> Augment | None:
        """The training-set augmentation this recipe asks for, or None."""
        _checks.probability("scale", self.scale)
        augment = Augment(
            rotation=self.rotation,
            translate=self.translate,
            scale=(1 - self.scale, 1 + self.scale) if self.scale else None,
            interpolation=self.interpolation,
        )
        return augment if augment.active else None

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle (and deep-copy) through :meth:`to_dict`: the read-only overrides cannot."""
        return _recipe_from_dict, (self.to_dict(),)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON-ready data (``device_overrides`` and ``ema`` only when set)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["device_overrides"] = {k: dict(v) for k, v in self.device_overrides.items()}
        for key in _OMITTED_WHEN_OFF:  # so histories written before these fields still match
            if not data[key]:
                del data[key]
        return data


#: Fields left out of :meth:`Recipe.to_dict` while they are off (empty or None).
_OMITTED_WHEN_OFF = ("device_overrides", "ema")


def _recipe_from_dict(data: dict[str, Any]) -> Recipe:
    return Recipe(**data)


_step = Recipe(name="step2", model="step2")  # the notebooks' shared settings

#: The notebooks' seven recipes (SGD with momentum 0.9, batch 128, lr 0.01), by name.
RECIPES: dict[str, Recipe] = {
    "step1": _step.replace(name="step1", model="step1"),
    "step2": _step,
    "step3": _step.replace(name="step3", model="step3"),
    "step4": _step.replace(name="step4", model="step4"),
    "step5": _step.replace(name="step5", model="step5"),
    "step6": _step.replace(name="step6", model="step6", epochs=20, schedule="step"),
    "step7": _step.replace(name="step7", model="step7", epochs=20, schedule="step", rotation=7.0),
}

#: The frontier models' base recipe: one-cycle SGD (peak lr 0.05, Nesterov), batch 128,
#: no augmentation.
_lite = Recipe(
    name="lite600",
    model="lite600",
    epochs=15,
    lr=0.05,
    nesterov=True,
    schedule="onecycle",
)

#: From 5,000 parameters up: batch 64, one-cycle SGD (peak lr 0.04, Nesterov), weight decay
#: 5e-5, rotation ±7°, shift and zoom ±9% (bilinear). Chosen on a validation split against
#: batch 128 with milder shifts and batch 32 (results/frontier.md).
_deep = _lite.replace(
    epochs=15,
    batch_size=64,
    lr=0.04,
    weight_decay=5e-5,
    rotation=7.0,
    translate=0.09,
    scale=0.09,
    interpolation="bilinear",
)

#: The distillation teacher (97,920 parameters): the deep recipe for 20 epochs.
RECIPES["teacher"] = _deep.replace(name="teacher", model="teacher", epochs=20)

# Each frontier recipe below is the best of its candidates by final validation accuracy
# (50,000 training images, 10,000 held out; results/frontier.md lists every candidate):
# 30 epochs, distilled from the teacher's bundled weights where that won. lite8k and lite5k
# train 60 epochs with weight averaging (ema 0.999): over three validation seeds each scored
# a higher mean than its 30-epoch recipe without it.
RECIPES["lite10k"] = _deep.replace(name="lite10k", model="lite10k", epochs=30, teacher="teacher")
RECIPES["lite8k"] = _deep.replace(name="lite8k", model="lite8k", epochs=60, ema=0.999)
RECIPES["lite5k"] = _deep.replace(name="lite5k", model="lite5k", epochs=60, ema=0.999)
#: Below 2,000 parameters: no augmentation (these networks underfit). lite2k distils from
#: the teacher at batch 64; lite1k (batch 32) and lite600 (peak lr 0.1) won on validation
#: without a teacher.
RECIPES["lite2k"] = _lite.replace(
    name="lite2k", model="lite2k", epochs=30, batch_size=64, teacher="teacher"
)
RECIPES["lite1k"] = _lite.replace(name="lite1k", model="lite1k", epochs=30, batch_size=32)
RECIPES["lite600"] = _lite.replace(epochs=30, lr=0.1)

#: The fast recipe: >= 99.4% final test accuracy in the least wall time on a CPU. Its
#: network (:func:`mnistlite.models.fast`, 9,910 parameters) pools after the first
#: convolution, so an image costs under half of step 7's multiply-adds; 6 epochs of
#: one-cycle SGD at batch 256, with rotation, shifts and zoom. Chosen on a validation split
#: of the training images by ``benchmarks/fast_search.py`` (benchmarks/RESULTS.md). On
#: CUDA it trains 8 epochs: of 6, 7 and 8, 8 scored best on the validation split, and an
#: epoch there costs a fraction of a second (``benchmarks/gpu_speed.py``).
RECIPES["fast"] = Recipe(
    name="fast",
    model="fast",
    epochs=6,
    batch_size=256,
    lr=0.1,
    nesterov=True,
    weight_decay=5e-5,
    schedule="onecycle",
    rotation=7.0,
    translate=0.05,
    scale=0.09,
    interpolation="bilinear",
    device_overrides={"cuda": {"epochs": 8}},
)


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a recipe to :data:`RECIPES` under its name (used for later models too)."""
    if recipe.name in RECIPES:
        raise MnistliteError(f"a recipe named {recipe.name!r} is already registered")
    RECIPES[recipe.name] = recipe
    return recipe


def list_recipes() -> list[str]:
    """Return the recipe names, the notebooks' steps first."""
    return list(RECIPES)


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """Return the recipe called ``name`` with some fields overridden.

    Raises:
        ValueError: For an unknown name (the message lists the names) or field.
    """
    if name not in RECIPES:
        raise MnistliteError(f"unknown recipe {name!r}; available recipes: {', '.join(RECIPES)}")
    return RECIPES[name].replace(**overrides) if overrides else RECIPES[name]


#: Names that moved to :mod:`mnistlite.runs`, the owner of a training run; they are
#: still reachable from here, so code written as ``recipes.train(...)`` keeps working.
_MOVED_TO_RUNS = (
    "build_optimizer",
    "build_scheduler",
    "build_teacher",
    "check_out_dir",
    "check_same_run",
    "check_seeds",
    "train",
)


def __getattr__(name: str) -> Any:
    """``recipes.train`` and the other names that moved: :mod:`mnistlite.runs`'s."""
    if name in _MOVED_TO_RUNS:
        from mnistlite import runs

        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
