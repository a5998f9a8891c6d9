"""Training recipes: the one place where a model meets its training settings.

A :class:`Recipe` is one frozen dataclass of plain values; :data:`RECIPES` lists the
seed's seven by name. Change a field with :func:`get_recipe` overrides
(``get_recipe("step7", lr=0.02)``) or :meth:`Recipe.replace`, and run it with
:func:`train`::

    from mnistlite import recipes
    model, history = recipes.train(recipes.get_recipe("step7"), root="~/data", out="runs/s7")
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from mnistlite import _checks, models
from mnistlite.atomic import save_torch
from mnistlite.data import Augment, Batches, MNISTTensors, StackedBatches, load_mnist
from mnistlite.errors import CheckpointError, MnistliteError, ResumeMismatchError, WeightsError
from mnistlite.stacked import STACK_MODES, StackedModel
from mnistlite.training import Callback, History, Trainer, load_checkpoint, resolve_device

__all__ = [
    "RECIPES",
    "Recipe",
    "build_optimizer",
    "build_scheduler",
    "build_teacher",
    "check_out_dir",
    "check_same_run",
    "check_seeds",
    "get_recipe",
    "list_recipes",
    "register_recipe",
    "train",
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
        device_overrides: Fields that differ on a device type, e.g.
            ``{"cuda": {"epochs": 8}}``: :meth:`for_device` applies them, and
            :func:`train` does so for the device it trains on. A field set with
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
        if not (_checks._is_number(self.weight_decay) and 0 <= self.weight_decay < math.inf):
            raise MnistliteError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}"
            )
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
        """The recipe as plain JSON-ready data (``device_overrides`` only when set)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["device_overrides"] = {k: dict(v) for k, v in self.device_overrides.items()}
        if not data["device_overrides"]:
            del data["device_overrides"]
        return data


def _recipe_from_dict(data: dict[str, Any]) -> Recipe:
    return Recipe(**data)


_step = Recipe(name="step2", model="step2")  # the seed's shared settings

#: The seed's seven recipes (SGD with momentum 0.9, batch 128, lr 0.01), by name.
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
# 30 epochs throughout; distilled from the teacher's bundled weights where that won.
RECIPES["lite10k"] = _deep.replace(name="lite10k", model="lite10k", epochs=30, teacher="teacher")
RECIPES["lite8k"] = _deep.replace(name="lite8k", model="lite8k", epochs=30)
RECIPES["lite5k"] = _deep.replace(name="lite5k", model="lite5k", epochs=30)
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
    """Return the recipe names, the seed's steps first."""
    return list(RECIPES)


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """Return the recipe called ``name`` with some fields overridden.

    Raises:
        ValueError: For an unknown name (the message lists the names) or field.
    """
    if name not in RECIPES:
        raise MnistliteError(f"unknown recipe {name!r}; available recipes: {', '.join(RECIPES)}")
    return RECIPES[name].replace(**overrides) if overrides else RECIPES[name]


def build_optimizer(recipe: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's SGD optimizer over ``model``'s parameters."""
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )


def build_scheduler(
    recipe: Recipe, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> tuple[Any, str]:
    """The recipe's scheduler and how often it steps (``"epoch"`` or ``"step"``)."""
    if recipe.schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, recipe.step_size, recipe.gamma)
        return scheduler, "epoch"
    if recipe.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch
        )
        return scheduler, "step"
    return None, "epoch"


def build_teacher(recipe: Recipe, weights: str | Path | None = None) -> nn.Module | None:
    """The recipe's distillation teacher, in eval mode, or None if it names none.

    Args:
        recipe: The recipe; its ``teacher`` field names the teacher model.
        weights: A state-dict file to load into the teacher instead of its bundled
            ``DEFAULT`` weights (e.g. a teacher trained on a validation split's
            training part only, so that the validation images stay unseen).

    Raises:
        ValueError: If ``weights`` is given without a teacher in the recipe, or the
            teacher has no bundled weights and none are given.
    """
    if recipe.teacher is None:
        if weights is not None:
            raise MnistliteError(
                f"teacher weights {weights} given, but recipe {recipe.name!r} names no teacher"
            )
        return None
    if weights is not None:
        return models.get_model(recipe.teacher, weights=Path(weights)).eval()
    return models.get_model(recipe.teacher, weights="DEFAULT").eval()


def _teacher_meta(recipe: Recipe, weights: str | Path | None = None) -> dict[str, Any] | None:
    """Which teacher weights a run distilled from (name, file and SHA-256)."""
    if recipe.teacher is None:
        return None
    if weights is not None:
        digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
        return {"model": recipe.teacher, "file": Path(weights).name, "sha256": digest}
    try:
        enum = models.get_model_weights(recipe.teacher)
    except WeightsError:  # a teacher without bundled weights
        enum = None
    entry = enum.DEFAULT.value if enum is not None and "DEFAULT" in enum.__members__ else None
    return {
        "model": recipe.teacher,
        "file": entry.file if entry else None,
        "sha256": entry.sha256 if entry else None,
    }


class _WriteHistory(Callback):
    """Rewrite ``history.json`` after every epoch, so a crash loses nothing logged."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        trainer.history.save(self.path)


def check_out_dir(out: str | Path, resume: bool = False) -> dict[str, Any] | None:
    """Check an output folder before a run writes anything into it.

    Args:
        out: The folder: new (it will be created) or empty, or, with ``resume``, one
            that holds the ``checkpoint.pt`` of the run to continue.
        resume: Whether the run continues from ``out/checkpoint.pt``.

    Returns:
        With ``resume``, the checkpoint as :func:`~mnistlite.training.load_checkpoint`
        returns it (so the caller need not read it again); otherwise None.

    Raises:
        MnistliteError: If ``out`` is a file, is not empty (without ``resume``), or
            cannot be written.
        CheckpointError: If ``resume`` is set and there is no readable checkpoint in
            ``out``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MnistliteError(f"out folder {out} exists and is not a directory")
    if resume:
        if not (out / "checkpoint.pt").is_file():
            raise CheckpointError(
                f"resume asked for but there is no checkpoint at {out}/checkpoint.pt"
            )
        state = load_checkpoint(out / "checkpoint.pt")  # a corrupt one is refused now
    elif out.is_dir() and any(out.iterdir()):
        raise MnistliteError(
            f"out folder {out} is not empty; choose a new folder, or resume to continue it"
        )
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MnistliteError(
            f"out folder {out} is not writable (no write permission on {existing})"
        )
    return state if resume else None


def check_same_run(
    state: dict[str, Any], run: dict[str, Any], where: str | Path = "the checkpoint"
) -> None:
    """Refuse to resume a checkpoint written by a different run.

    A run is the same when its recipe (every field; only ``epochs`` may grow, and not
    for one-cycle recipes, whose schedule is fixed at the start), its seed and its
    number of training images match those saved in the checkpoint's history.

    Args:
        state: A checkpoint, as :func:`mnistlite.training.load_checkpoint` returns it.
        run: ``{"recipe": Recipe.to_dict(), "seed": int, "train_images": int,
            "val_images": int}``, with ``"seeds": [int, ...]`` instead of ``"seed"`` for a
            multi-seed run.
        where: The checkpoint's path, for the message.

    Raises:
        ResumeMismatchError: Naming every difference, e.g. ``lr 0.01 -> 0.05``.
    """
    meta = state.get("history", {}).get("meta", {})
    saved_recipe = dict(meta.get("recipe") or {})
    recipe = dict(run["recipe"])
    if saved_recipe.get("name", recipe["name"]) != recipe["name"]:
        raise ResumeMismatchError(
            f"{where} was written by recipe {saved_recipe['name']!r}, not {recipe['name']!r}"
        )
    may_grow = recipe["schedule"] != "onecycle"  # one-cycle's length is fixed at the start
    if may_grow and recipe["epochs"] >= saved_recipe.get("epochs", 0):
        saved_recipe["epochs"] = recipe["epochs"]
    differences = [
        f"{key} {saved_recipe[key]!r} -> {recipe[key]!r}"
        for key in recipe
        if key in saved_recipe and saved_recipe[key] != recipe[key]
    ]
    for key in ("seed", "seeds", "train_images", "val_images"):
        if key in meta and key in run and meta[key] != run[key]:
            differences.append(f"{key} {meta[key]!r} -> {run[key]!r}")
    if ("seeds" in meta) != ("seeds" in run) and ("seeds" in meta or "seed" in meta):
        saved_kind = f"seeds {meta['seeds']!r}" if "seeds" in meta else f"seed {meta.get('seed')!r}"
        asked = f"seeds {run['seeds']!r}" if "seeds" in run else f"seed {run.get('seed')!r}"
        differences.append(f"{saved_kind} -> {asked}")
    if differences:
        raise ResumeMismatchError(
            f"{where} belongs to a different run ({'; '.join(differences)}); resume with "
            "the same settings (only epochs may grow, and not for one-cycle recipes)"
        )


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """Check the seeds of a multi-seed run: a non-empty list of distinct positive integers.

    Raises:
        MnistliteError: Naming the bad value.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise MnistliteError(f"seeds must be a list of positive integers, got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise MnistliteError("seeds is empty; give at least one seed, e.g. seeds=[1, 2, 3]")
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MnistliteError(f"seeds must be positive integers (1, 2, ...), got {value!r}")
    repeated = sorted({v for v in seeds if seeds.count(v) > 1})
    if repeated:
        raise MnistliteError(f"seeds must be distinct; repeated: {', '.join(map(str, repeated))}")
    return seeds


def _load_data(
    root: str | Path | None,
    data: tuple[MNISTTensors, MNISTTensors] | None,
    download: bool,
    device: torch.device,
) -> tuple[MNISTTensors, MNISTTensors]:
    if data is None:
        if root is None:
            raise MnistliteError("pass the MNIST root folder (root=...) or data=(train, test)")
        data = (
            load_mnist(root, train=True, download=download, device=device),
            load_mnist(root, train=False, download=download, device=device),
        )
    train_data, test_data = (part.to(device) for part in data)
    return train_data, test_data


def _split(
    train_data: MNISTTensors, val_split: int | None, seed: int, limit_train: int | None
) -> tuple[MNISTTensors, MNISTTensors | None]:
    """A run's training images and validation set (held out with its seed), or None."""
    val_data = None
    if val_split is not None:
        if isinstance(val_split, bool) or not isinstance(val_split, int) or val_split < 1:
            raise MnistliteError(f"val_split must be a positive integer, got {val_split!r}")
        if val_split >= len(train_data):
            raise MnistliteError(
                f"val_split={val_split} leaves no training images (there are {len(train_data)})"
            )
        train_data, val_data = train_data.split(val_split, seed=seed)
    return train_data.take(limit_train), val_data


class _WriteSeeds(Callback):
    """A multi-seed run's files: ``seed-S/history.json`` and ``checkpoint.pt`` each epoch."""

    def __init__(self, out: Path, seeds: list[int], batches: StackedBatches) -> None:
        self.out, self.seeds, self.batches = out, seeds, batches

    def on_fit_start(self, trainer: Trainer) -> None:
        for history, seed in zip(trainer.member_histories, self.seeds, strict=True):
            history.meta.pop("seeds", None)
            history.meta["seed"] = seed

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        for index, seed in enumerate(self.seeds):
            folder = self.out / f"seed-{seed}"
            folder.mkdir(exist_ok=True)
            trainer.member_histories[index].save(folder / "history.json")
            save_torch(folder / "checkpoint.pt", trainer.member_state_dict(index, self.batches))


def train(
    recipe: Recipe,
    *,
    root: str | Path | None = None,
    data: tuple[MNISTTensors, MNISTTensors] | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    device: str | torch.device = "auto",
    download: bool = False,
    resume: bool = False,
    progress: bool = True,
    limit_train: int | None = None,
    val_split: int | None = None,
    callbacks: Sequence[Callback] = (),
    teacher_weights: str | Path | None = None,
    stack_mode: str = "auto",
    **switches: Any,
) -> tuple[Any, Any]:
    """Train ``recipe`` on MNIST and return the trained model and its history.

    With ``out``, writes ``history.json`` (after every epoch), ``checkpoint.pt``
    (the resumable state, after every epoch) and ``model.pt`` (the final state dict)
    there, all atomically. ``out`` must be new or empty (it is created, and removed
    again if the run fails before its first epoch ends), or, with ``resume``, hold the
    checkpoint of the same run: same recipe, seed and training images
    (:func:`check_same_run`); only ``epochs`` may grow.

    With ``seeds``, trains one copy of the model per seed side by side in this
    process (a :class:`~mnistlite.stacked.StackedModel`): each copy starts from the
    initial weights of a single run with its seed, and sees that run's images in that
    run's order (and its own validation split); only its dropout draws differ, since
    the copies share torch's generator. Returns ``(models, histories)``, one per seed,
    and with ``out`` writes ``out/seed-S/history.json``, ``checkpoint.pt`` (a
    single-run checkpoint of that seed) and ``model.pt`` for each seed ``S``, plus
    ``out/checkpoint.pt``, the whole run's state, from which ``resume`` continues.

    Args:
        recipe: The recipe to run.
        root: MNIST root folder (torchvision layout); or pass ``data``.
        data: ``(train, test)`` tensors already loaded, instead of ``root``.
        out: Output folder, or None to write nothing.
        seed: Seeds the model's initialisation, shuffling, augmentation and dropout
            (default 1).
        seeds: Train one model per seed at once instead (distinct positive integers);
            not together with ``seed``.
        device: Where to train: ``"auto"`` (CUDA, then Apple's MPS, then the CPU),
            ``"cpu"``, ``"cuda"``, ...
        download: Let torchvision download MNIST if it is missing.
        resume: Continue from ``out/checkpoint.pt``.
        progress: Show tqdm progress bars.
        limit_train: Train on the first N images only (quick runs); with ``val_split``,
            the first N of the images left after the split.
        val_split: Hold out this many training images (a random choice seeded by
            ``seed``) as a validation set, evaluated after every epoch and logged as
            ``val_loss``/``val_acc``, for :class:`~mnistlite.training.EarlyStopping`
            and :class:`~mnistlite.training.ModelCheckpoint` to monitor. The test set
            is still evaluated and stays the reported number.
        callbacks: Extra callbacks for the :class:`~mnistlite.training.Trainer`.
        teacher_weights: Load the recipe's teacher from this state-dict file instead of
            its bundled weights (see :func:`build_teacher`); its name and SHA-256 go
            into the history's ``meta["teacher"]``.
        stack_mode: How the copies of a ``seeds`` run go side by side: ``"auto"``,
            ``"grouped"``, ``"vmap"`` or ``"loop"`` (see
            :class:`~mnistlite.stacked.StackedModel`); the mode used is in the
            histories' ``meta["stack_mode"]``.
        **switches: Speed switches for the Trainer: ``channels_last``, ``compile``,
            ``bf16``, ``cuda_graphs``.

    Raises:
        MnistliteError: For bad arguments: e.g. ``seeds`` empty, with a repeated or
            non-positive seed, or given together with ``seed``.
    """
    if stack_mode not in STACK_MODES:
        raise MnistliteError(
            f"stack_mode must be one of {', '.join(STACK_MODES)}, got {stack_mode!r}"
        )
    if seeds is not None:
        if seed is not None:
            raise MnistliteError("give seed or seeds, not both (seeds trains one model per seed)")
        seeds = check_seeds(seeds)
    seed = 1 if seed is None else seed
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise MnistliteError("resume=True needs the out folder that holds the checkpoint")
    saved = check_out_dir(out_dir, resume) if out_dir is not None else None
    _checks.seed("seed", seed)
    device = resolve_device(device)
    recipe = recipe.for_device(device)
    full_train, test_data = _load_data(root, data, download, device)
    run_seeds = seeds if seeds is not None else [seed]
    parts = [_split(full_train, val_split, s, limit_train) for s in run_seeds]
    train_data, val_data = parts[0]
    run: dict[str, Any] = {
        "recipe": recipe.to_dict(),
        "train_images": len(train_data),
        "val_images": len(val_data) if val_data is not None else 0,
    }
    run.update({"seeds": seeds} if seeds is not None else {"seed": seed})
    if resume and out_dir is not None:
        check_same_run(saved or {}, run, out_dir / "checkpoint.pt")
    teacher = build_teacher(recipe, teacher_weights)
    members = []
    for s in run_seeds:
        torch.manual_seed(s)
        members.append(models.get_model(recipe.model))
    batches_list = [
        Batches(part[0], recipe.batch_size, augment=recipe.augment(), seed=s)
        for part, s in zip(parts, run_seeds, strict=True)
    ]
    model: nn.Module = members[0]
    batches: Batches | StackedBatches = batches_list[0]
    val: Any = val_data
    extra: list[Callback] = []
    run_meta: dict[str, Any] = {}
    if seeds is not None:
        stacked = StackedModel(members, mode=stack_mode).to(device)
        run_meta["stack_mode"] = stacked.resolved_mode()
        model, batches = stacked, StackedBatches(batches_list)
        val = [part[1] for part in parts] if val_data is not None else None
        if out_dir is not None:
            extra.append(_WriteSeeds(out_dir, seeds, batches))
    elif out_dir is not None:
        extra.append(_WriteHistory(out_dir / "history.json"))
    optimizer = build_optimizer(recipe, model)
    scheduler, interval = build_scheduler(recipe, optimizer, len(batches))
    trainer = Trainer(
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        epochs=recipe.epochs,
        device=device,
        seed=run_seeds[0],
        callbacks=[*callbacks, *extra],
        progress=progress,
        checkpoint=out_dir / "checkpoint.pt" if out_dir else None,
        label_smoothing=recipe.label_smoothing,
        teacher=teacher,
        distill_temperature=recipe.distill_temperature,
        distill_weight=recipe.distill_weight,
        meta={
            **run,
            "device": str(device),
            "num_params": sum(p.numel() for p in members[0].parameters()),
            "torch": str(torch.__version__),
            "switches": switches,
            "teacher": _teacher_meta(recipe, teacher_weights),
            **run_meta,
        },
        **switches,
    )
    created = out_dir is not None and not out_dir.exists()
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MnistliteError(f"cannot create out folder {out_dir}: {err.strerror}") from None
    try:
        history = trainer.fit(batches, test_data, val=val, resume=resume)
    except BaseException:
        if created and out_dir is not None and not any(out_dir.iterdir()):
            out_dir.rmdir()  # failed before the first epoch ended
        raise
    if seeds is None:
        if out_dir is not None:
            history.save(out_dir / "history.json")
            save_torch(out_dir / "model.pt", model.state_dict())
        return model, history
    return _finish_seeds(trainer, members, seeds, out_dir)


def _finish_seeds(
    trainer: Trainer, members: list[nn.Module], seeds: list[int], out_dir: Path | None
) -> tuple[list[nn.Module], list[History]]:
    """Copy each member's final weights into its own network and write its files."""
    stacked = trainer.model
    assert isinstance(stacked, StackedModel)
    for index, member in enumerate(members):
        member.load_state_dict(stacked.member_state_dict(index))
        member.to(trainer.device).eval()
        if out_dir is not None:
            folder = out_dir / f"seed-{seeds[index]}"
            folder.mkdir(exist_ok=True)
            trainer.member_histories[index].save(folder / "history.json")
            save_torch(folder / "model.pt", stacked.member_state_dict(index))
    return members, trainer.member_histories
