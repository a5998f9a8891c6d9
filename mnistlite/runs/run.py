"""A training run: data split per seed, models, one Trainer, the files and the result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite import _checks, models
from mnistlite.data import (
    TRAIN_IMAGES,
    Batches,
    MNISTTensors,
    StackedBatches,
    check_holdout,
    load_mnist,
)
from mnistlite.errors import MnistliteError
from mnistlite.recipes import Recipe
from mnistlite.runs.build import build_trainer
from mnistlite.runs.folder import OutFolder, WriteEpoch, check_same_run
from mnistlite.runs.result import Run
from mnistlite.stacked import STACK_MODES, StackedModel
from mnistlite.training import Callback, Trainer, resolve_device

__all__ = ["check_seeds", "train"]


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


@dataclass
class _Setup:
    """What a run trains: its seeds, each seed's images, the models, batches and facts."""

    recipe: Recipe
    seeds: list[int]
    side_by_side: bool
    parts: list[tuple[MNISTTensors, MNISTTensors | None]]
    test: MNISTTensors
    device: torch.device

    def facts(self) -> dict[str, Any]:
        """What identifies the run (compared on resume) and is kept in its histories."""
        train, val = self.parts[0]
        facts: dict[str, Any] = {
            "recipe": self.recipe.to_dict(),
            "train_images": len(train),
            "val_images": len(val) if val is not None else 0,
        }
        facts.update({"seeds": self.seeds} if self.side_by_side else {"seed": self.seeds[0]})
        return facts

    def members(self) -> list[nn.Module]:
        """One network per seed, each initialised as a single run with its seed would be."""
        built = []
        for seed in self.seeds:
            torch.manual_seed(seed)
            built.append(models.get_model(self.recipe.model))
        return built

    def batches(self) -> list[Batches]:
        """One seed's batches each: its images, its order and its augmentation."""
        augment = self.recipe.augment()
        return [
            Batches(train, self.recipe.batch_size, augment=augment, seed=seed)
            for (train, _), seed in zip(self.parts, self.seeds, strict=True)
        ]


def _load(
    root: str | Path | None,
    data: tuple[MNISTTensors, MNISTTensors] | None,
    download: bool,
    device: torch.device,
) -> tuple[MNISTTensors, MNISTTensors]:
    """The training and test images on ``device``: as given, or read from ``root``."""
    if data is None:
        if root is None:
            raise MnistliteError("pass the MNIST root folder (root=...) or data=(train, test)")
        data = (
            load_mnist(root, train=True, download=download, device=device),
            load_mnist(root, train=False, download=download, device=device),
        )
    full, test = (part.to(device) for part in data)
    return full, test


def _split(
    full: MNISTTensors, val_split: int | None, seed: int, limit_train: int | None
) -> tuple[MNISTTensors, MNISTTensors | None]:
    """One seed's training images and validation set (held out with its seed), or None."""
    train, val = full.split(val_split, seed=seed) if val_split is not None else (full, None)
    return train.take(limit_train), val


def _check_arguments(
    seed: int | None,
    seeds: Sequence[int] | None,
    stack_mode: str,
    val_split: int | None,
    data: tuple[MNISTTensors, MNISTTensors] | None,
) -> tuple[list[int], bool]:
    """Check what can be checked before any work; return the seeds and whether side by side."""
    if stack_mode not in STACK_MODES:
        raise MnistliteError(
            f"stack_mode must be one of {', '.join(STACK_MODES)}, got {stack_mode!r}"
        )
    if val_split is not None:
        check_holdout("val_split", val_split, len(data[0]) if data is not None else TRAIN_IMAGES)
    if seeds is not None:
        if seed is not None:
            raise MnistliteError("give seed or seeds, not both (seeds trains one model per seed)")
        return check_seeds(seeds), True
    seed = 1 if seed is None else seed
    _checks.seed("seed", seed)
    return [seed], False


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
) -> Run:
    """Train ``recipe`` on MNIST and return the :class:`Run`: models, histories, files.

    With ``out``, :class:`OutFolder`'s files are written atomically after every epoch;
    ``out`` must be new or empty, or, with ``resume``, hold the same run's checkpoint
    (:func:`check_same_run`). With ``seeds``, one model per seed trains side by side.

    Args:
        recipe: The recipe to run.
        root: MNIST root folder (torchvision layout); or pass ``data``.
        data: ``(train, test)`` tensors already loaded, instead of ``root``.
        out: Output folder, or None to write nothing.
        seed: Seeds initialisation, shuffling, augmentation and dropout (default 1).
        seeds: Train one model per seed side by side instead (distinct positive integers).
        device: ``"auto"`` (CUDA, then Apple's MPS, then the CPU), ``"cpu"``, ``"cuda"``...
        download: Let torchvision download MNIST if it is missing.
        resume: Continue from ``out/checkpoint.pt``.
        progress: Show tqdm progress bars.
        limit_train: Train on the first N images (after the validation split) only.
        val_split: Hold out N training images (by the seed), logged as ``val_acc``.
        callbacks: Extra :class:`~mnistlite.training.Callback` objects.
        teacher_weights: A state-dict file for the recipe's teacher (:func:`build_teacher`).
        stack_mode: :class:`~mnistlite.stacked.StackedModel`'s mode (``"auto"``...).
        **switches: The Trainer's ``channels_last``, ``compile``, ``bf16``, ``cuda_graphs``.

    Raises:
        MnistliteError: For bad arguments (e.g. repeated seeds, a ``val_split`` leaving no
            images, a non-empty ``out`` without ``resume``), before any work.
    """
    run_seeds, side_by_side = _check_arguments(seed, seeds, stack_mode, val_split, data)
    if resume and out is None:
        raise MnistliteError("resume=True needs the out folder that holds the checkpoint")
    folder = OutFolder(out, run_seeds if side_by_side else None) if out is not None else None
    saved = folder.check(resume) if folder is not None else None
    where = resolve_device(device)
    full, test = _load(root, data, download, where)
    parts = [_split(full, val_split, s, limit_train) for s in run_seeds]
    setup = _Setup(recipe.for_device(where), run_seeds, side_by_side, parts, test, where)
    if resume and folder is not None:
        check_same_run(saved or {}, setup.facts(), folder.checkpoint)
    options = {"callbacks": list(callbacks), "progress": progress, **switches}
    return _fit(setup, folder, resume, teacher_weights, stack_mode, options)


def _fit(
    setup: _Setup,
    folder: OutFolder | None,
    resume: bool,
    teacher_weights: str | Path | None,
    stack_mode: str,
    options: dict[str, Any],
) -> Run:
    """Build the model and its Trainer from the setup, fit, and write the final files."""
    members, batches_list = setup.members(), setup.batches()
    model: nn.Module = members[0]
    batches: Batches | StackedBatches = batches_list[0]
    val: Any = setup.parts[0][1]
    meta = {
        **setup.facts(),
        "device": str(setup.device),
        "num_params": sum(p.numel() for p in members[0].parameters()),
        "torch": str(torch.__version__),
        "switches": {k: v for k, v in options.items() if k not in ("callbacks", "progress")},
    }
    if setup.side_by_side:
        model = StackedModel(members, mode=stack_mode).to(setup.device)
        meta["stack_mode"] = model.resolved_mode()
        batches = StackedBatches(batches_list)
        val = [part[1] for part in setup.parts] if val is not None else None
        options["callbacks"].append(_SeedMeta(setup.seeds))
    if folder is not None:
        options["callbacks"].append(WriteEpoch(folder, batches))
        options["checkpoint"] = folder.checkpoint
    trainer = build_trainer(
        setup.recipe,
        model,
        batches,
        device=setup.device,
        seed=setup.seeds[0],
        teacher_weights=teacher_weights,
        meta=meta,
        **options,
    )
    if folder is not None:
        folder.create()
    try:
        trainer.fit(batches, setup.test, val=val, resume=resume)
    except BaseException:
        if folder is not None:
            folder.discard_if_empty()  # failed before the first epoch ended
        raise
    return _finish(setup, trainer, members, folder)


class _SeedMeta(Callback):
    """Each member's history of a side-by-side run names its own seed."""

    def __init__(self, seeds: list[int]) -> None:
        self.seeds = seeds

    def on_fit_start(self, trainer: Trainer) -> None:
        for history, seed in zip(trainer.member_histories, self.seeds, strict=True):
            history.meta.pop("seeds", None)
            history.meta["seed"] = seed


def _finish(
    setup: _Setup, trainer: Trainer, members: list[nn.Module], folder: OutFolder | None
) -> Run:
    """Each seed's final network (its own module) and files; the run's result."""
    if isinstance(trainer.model, StackedModel):
        stacked = trainer.model
        for index, member in enumerate(members):
            member.load_state_dict(stacked.member_state_dict(index))
            member.to(trainer.device).eval()
        histories = trainer.member_histories
    else:
        histories = [trainer.history]
    if folder is not None:
        for seed, member, history in zip(setup.seeds, members, histories, strict=True):
            folder.write_final(seed if setup.side_by_side else None, member, history)
    return Run(setup.recipe, setup.seeds, members, histories, folder, setup.side_by_side)
