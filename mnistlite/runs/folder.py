"""A run's output folder: its files, the ``seed-S/`` layout, and the checks before resuming."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from mnistlite.atomic import save_torch
from mnistlite.errors import CheckpointError, MnistliteError, ResumeMismatchError
from mnistlite.training import Callback, History, Trainer, load_checkpoint

__all__ = ["OutFolder", "WriteEpoch", "check_out_dir", "check_same_run"]


class OutFolder:
    """A run's files: ``history.json``, ``checkpoint.pt``, ``model.pt``, per seed for many.

    One seed writes into ``path`` itself; seeds trained side by side write
    ``path/seed-S/`` each (its history, a single-run checkpoint of that seed and its
    final weights) and the whole run's resumable ``path/checkpoint.pt``.

    Args:
        path: The folder.
        seeds: The seeds of a side-by-side run, or None for one seed.
    """

    def __init__(self, path: str | Path, seeds: Sequence[int] | None = None) -> None:
        self.path = Path(path)
        self.seeds = list(seeds) if seeds is not None else None
        self._created = False

    @property
    def checkpoint(self) -> Path:
        """The resumable state of the whole run."""
        return self.path / "checkpoint.pt"

    def folder(self, seed: int | None = None) -> Path:
        """Where seed ``seed``'s files go (``path`` itself for a one-seed run)."""
        if self.seeds is None or seed is None:
            return self.path
        return self.path / f"seed-{seed}"

    def check(self, resume: bool) -> dict[str, Any] | None:
        """:func:`check_out_dir` for this folder: the checkpoint with ``resume``, else None."""
        return check_out_dir(self.path, resume)

    def create(self) -> None:
        """Create the folder (remembering whether it was new)."""
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MnistliteError(f"cannot create out folder {self.path}: {err.strerror}") from None

    def discard_if_empty(self) -> None:
        """Remove the folder again if this run created it and wrote nothing."""
        if self._created and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    def write_epoch(self, trainer: Trainer, batches: Any) -> None:
        """After an epoch: the history, and each seed's files of a side-by-side run."""
        if self.seeds is None:
            trainer.history.save(self.path / "history.json")
            return
        for index, seed in enumerate(self.seeds):
            folder = self.folder(seed)
            folder.mkdir(exist_ok=True)
            trainer.member_histories[index].save(folder / "history.json")
            save_torch(folder / "checkpoint.pt", trainer.member_state_dict(index, batches))

    def write_final(self, seed: int | None, model: nn.Module, history: History) -> None:
        """A finished model's history and weights (``model.pt``)."""
        folder = self.folder(seed)
        folder.mkdir(exist_ok=True)
        history.save(folder / "history.json")
        save_torch(folder / "model.pt", model.state_dict())


class WriteEpoch(Callback):
    """Write the run's files after every epoch, so a crash loses nothing logged."""

    def __init__(self, out: OutFolder, batches: Any) -> None:
        self.out, self.batches = out, batches

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Write the files of the epoch that just ended."""
        self.out.write_epoch(trainer, self.batches)


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
        MnistliteError: If ``out`` is a file, lies under a file, is not empty (without
            ``resume``), or cannot be written.
        CheckpointError: If ``resume`` is set and there is no readable checkpoint in ``out``.
    """
    out = Path(out)
    existing = out
    while not existing.exists():
        existing = existing.parent
    if existing != out and not existing.is_dir():
        raise MnistliteError(f"out folder {out} cannot be created: {existing} is a file")
    if out.exists() and not out.is_dir():
        raise MnistliteError(f"out folder {out} exists and is not a directory")
    state = None
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
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MnistliteError(
            f"out folder {out} is not writable (no write permission on {existing})"
        )
    return state


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
