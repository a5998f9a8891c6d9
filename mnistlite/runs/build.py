"""Recipe -> Trainer: the one place where a recipe's fields become training arguments."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite import models
from mnistlite.data import Batches, MNISTTensors
from mnistlite.errors import MnistliteError, WeightsError
from mnistlite.recipes import Recipe
from mnistlite.training import History, Trainer, resolve_device

__all__ = [
    "build_optimizer",
    "build_scheduler",
    "build_teacher",
    "build_trainer",
    "fit_model",
]


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
        MnistliteError: If ``weights`` is given without a teacher in the recipe, or the
            teacher has no bundled weights and none are given.
    """
    if recipe.teacher is None:
        if weights is not None:
            raise MnistliteError(
                f"teacher weights {weights} given, but recipe {recipe.name!r} names no teacher"
            )
        return None
    chosen: str | Path = Path(weights) if weights is not None else "DEFAULT"
    return models.get_model(recipe.teacher, weights=chosen).eval()


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


def build_trainer(
    recipe: Recipe,
    model: nn.Module,
    batches: Any,
    *,
    device: torch.device,
    seed: int,
    teacher_weights: str | Path | None = None,
    meta: dict[str, Any] | None = None,
    **options: Any,
) -> Trainer:
    """The :class:`~mnistlite.training.Trainer` that runs ``recipe`` on ``model``.

    The one place a recipe's fields become a Trainer's arguments: optimizer, schedule
    (sized by ``len(batches)``), epochs, label smoothing, the teacher and weight averaging.

    Args:
        recipe: The recipe (its device overrides already applied).
        model: The network, or a :class:`~mnistlite.stacked.StackedModel` of many.
        batches: The training batches (their length sizes a one-cycle schedule).
        device: Where to train.
        seed: Seeds torch's generator (dropout) when the fit starts.
        teacher_weights: A state-dict file for the recipe's teacher (see
            :func:`build_teacher`).
        meta: Run information for the history; the teacher's is added.
        **options: Further :class:`~mnistlite.training.Trainer` arguments: ``callbacks``,
            ``progress``, ``checkpoint`` and the speed switches ``channels_last``,
            ``compile``, ``bf16``, ``cuda_graphs``.
    """
    optimizer = build_optimizer(recipe, model)
    scheduler, interval = build_scheduler(recipe, optimizer, len(batches))
    return Trainer(
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        epochs=recipe.epochs,
        device=device,
        seed=seed,
        label_smoothing=recipe.label_smoothing,
        teacher=build_teacher(recipe, teacher_weights),
        distill_temperature=recipe.distill_temperature,
        distill_weight=recipe.distill_weight,
        ema=recipe.ema,
        meta={**dict(meta or {}), "teacher": _teacher_meta(recipe, teacher_weights)},
        **options,
    )


def fit_model(
    recipe: Recipe,
    model: nn.Module,
    train: MNISTTensors,
    *,
    val: MNISTTensors | None = None,
    test: MNISTTensors | None = None,
    seed: int = 1,
    device: str | torch.device = "cpu",
    **options: Any,
) -> History:
    """Train a network you built with ``recipe``'s settings on tensors you hold.

    What a sweep's trial runs: ``model`` (any network, e.g. a :class:`~mnistlite.models.SpecNet`)
    trained on ``train`` in the recipe's batches, augmentation, optimizer, schedule and
    teacher, evaluated on ``val`` and ``test`` after every epoch.

    Args:
        recipe: The settings (its ``model`` field is not used).
        model: The network to train, in place.
        train: Training images.
        val: Validation images, logged as ``val_loss``/``val_acc``.
        test: Test images, logged as ``test_loss``/``test_acc``.
        seed: Seeds the shuffling, augmentation and dropout.
        device: Where to train.
        **options: As for :func:`build_trainer` (``callbacks``, ``progress``,
            ``teacher_weights``, speed switches).

    Returns:
        The :class:`~mnistlite.training.History`.
    """
    where = resolve_device(device)
    recipe = recipe.for_device(where)
    batches = Batches(train.to(where), recipe.batch_size, augment=recipe.augment(), seed=seed)
    trainer = build_trainer(recipe, model, batches, device=where, seed=seed, **options)
    return trainer.fit(
        batches,
        test.to(where) if test is not None else None,
        val=val.to(where) if val is not None else None,
    )
