"""Training callbacks: the hooks a :class:`~mnistlite.training.Trainer` calls, and three of them.

:class:`EarlyStopping` stops at a target or when a monitored value stops improving,
:class:`ModelCheckpoint` keeps the best weights by a validation metric, and
:class:`CSVLogger` writes the history as CSV. Each keeps what an exact resume needs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mnistlite import _checks
from mnistlite.atomic import atomic_write, save_torch
from mnistlite.errors import MnistliteError
from mnistlite.training.history import History

if TYPE_CHECKING:
    from mnistlite.training.trainer import Trainer

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ModelCheckpoint", "callback_states", "keyed"]


class Callback:
    """Base class of training callbacks; override the hooks you need.

    Per epoch the Trainer calls :meth:`on_validation_end` (the record is complete),
    then writes its checkpoint, then calls :meth:`on_epoch_end`. A callback whose
    state matters for an exact resume returns it from :meth:`state_dict`; the Trainer
    stores it in every checkpoint, taken after :meth:`on_validation_end`, and hands it
    back to :meth:`load_state_dict` when it resumes.
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_validation_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Called after each epoch's evaluation, before the checkpoint is written.

        ``record`` is the epoch's complete record (already in ``trainer.history``).
        """

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Called after each epoch's evaluation and checkpoint with its record.

        Set ``trainer.should_stop = True`` to end training after this epoch.
        """

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch."""

    def state_dict(self) -> dict[str, Any] | None:
        """State to keep in the Trainer's checkpoint (None: nothing to keep)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (called before :meth:`on_fit_start`)."""


def keyed(callbacks: Iterable[Callback]) -> list[tuple[str, Callback]]:
    """Each callback with a stable key for checkpoints: its class name, then ``#2``, ``#3``..."""
    seen: dict[str, int] = {}
    out = []
    for callback in callbacks:
        name = type(callback).__qualname__
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}#{seen[name]}", callback))
    return out


def callback_states(callbacks: Iterable[Callback]) -> dict[str, Any]:
    """The states of the callbacks that keep one, by :func:`keyed`'s keys."""
    pairs = [(key, c.state_dict()) for key, c in keyed(callbacks) if hasattr(c, "state_dict")]
    return {key: state for key, state in pairs if state is not None}


def _resolve_mode(mode: str, monitor: str) -> str:
    """``"auto"`` means ``"min"`` for a loss column and ``"max"`` for anything else."""
    if mode not in ("max", "min", "auto"):
        raise MnistliteError(f"mode must be 'max', 'min' or 'auto', got {mode!r}")
    if mode == "auto":
        return "min" if monitor.endswith("loss") else "max"
    return mode


def _monitored(record: dict[str, float], monitor: str, owner: str) -> float:
    """The monitored value of an epoch record, or a ValueError naming what is there."""
    if monitor not in record:
        hint = (
            "; pass a validation set (Trainer.fit(..., val=...) or runs.train(..., val_split=N))"
            if monitor.startswith("val_")
            else ""
        )
        raise MnistliteError(
            f"{owner} monitors {monitor!r}, but the epoch record has only "
            f"{', '.join(sorted(record))}{hint}"
        )
    return float(record[monitor])


def _improves(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    if best is None:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta


class EarlyStopping(Callback):
    """Stop when a monitored value reaches a target, or stops improving (patience).

    Two forms, which may be combined (training stops at whichever comes first):

    * target: ``EarlyStopping(99.4)`` stops at the first epoch whose ``test_acc``
      reaches 99.4 (a time-to-accuracy measurement).
    * patience: ``EarlyStopping(patience=3, min_delta=0.05)`` stops once ``val_acc``
      has not improved by more than ``min_delta`` for ``patience`` epochs in a row.

    Its state (best value, epochs without improvement) is a function of the history,
    so it is rebuilt from the history when a run resumes, and a resumed run that had
    already stopped does not train further.

    Args:
        target: The value to reach, or None for the patience form only.
        monitor: The history column to watch. Default: ``"test_acc"`` for the target
            form, ``"val_acc"`` when ``patience`` is given.
        mode: ``"max"`` (larger is better), ``"min"``, or ``"auto"`` (the default):
            ``"min"`` for a column ending in ``loss``, else ``"max"``.
        patience: Epochs without improvement after which training stops (>= 0), or None.
        min_delta: The smallest change that counts as an improvement (>= 0).

    Attributes:
        best: The best monitored value so far (None before the first epoch).
        best_epoch: The epoch of ``best``.
        wait: Epochs since the last improvement.
        stopped_epoch: The epoch after which training stopped, or None.
    """

    def __init__(
        self,
        target: float | None = None,
        monitor: str | None = None,
        mode: str = "auto",
        *,
        patience: int | None = None,
        min_delta: float = 0.0,
    ) -> None:
        if target is None and patience is None:
            raise MnistliteError("EarlyStopping needs a target, a patience, or both")
        if target is not None and not (
            isinstance(target, (int, float)) and not isinstance(target, bool)
        ):
            raise MnistliteError(f"target must be a number, got {target!r}")
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, int) or patience < 0
        ):
            raise MnistliteError(f"patience must be a non-negative integer, got {patience!r}")
        _checks.finite_non_negative("min_delta", min_delta)
        if monitor is None:
            monitor = "test_acc" if patience is None else "val_acc"
        self.target = target
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.patience = patience
        self.min_delta = float(min_delta)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        return _improves(value, self.best, self.mode, self.min_delta)

    def _update(self, record: dict[str, float]) -> bool:
        """Take one epoch's record; return True when training should stop after it."""
        value = _monitored(record, self.monitor, "EarlyStopping")
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, int(record["epoch"]), 0
        else:
            self.wait += 1
        reached = self.target is not None and (
            value >= self.target if self.mode == "max" else value <= self.target
        )
        out_of_patience = self.patience is not None and self.wait > 0 and self.wait >= self.patience
        if reached or out_of_patience:
            self.stopped_epoch = int(record["epoch"])
            return True
        return False

    def on_fit_start(self, trainer: Trainer) -> None:
        """Rebuild the state from the history (empty for a fresh run, full on resume)."""
        self._reset()
        for record in trainer.history.epochs:
            if self._update(record):
                trainer.should_stop = True
                break

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Ask the trainer to stop when the target is reached or patience runs out."""
        if self._update(record):
            trainer.should_stop = True


class ModelCheckpoint(Callback):
    """Keep the model's best state by a monitored validation metric.

    After every epoch whose monitored value improves on the best so far, the model's
    ``state_dict`` is copied (to the CPU) and, with ``path``, written there atomically
    (a file :func:`mnistlite.models.load_state_dict` and ``mnistlite eval --weights``
    read). With ``restore_best``, the model ends the fit holding the best state, and
    ``trainer.history.meta["restored_epoch"]`` names its epoch; that epoch's record
    holds the test accuracy of the weights you now have. The best value, epoch and state
    are saved in the Trainer's checkpoint, so a resumed run keeps them exactly.

    Args:
        path: File for the best state (its folder must exist), or None.
        monitor: The history column to watch (default ``"val_acc"``).
        mode: ``"max"``, ``"min"`` or ``"auto"`` (``"min"`` for a loss column).
        min_delta: The smallest change that counts as an improvement (>= 0).
        restore_best: Load the best state into the model when the fit ends.
        in_memory: Keep the best state in :attr:`best_state` (needed by
            ``restore_best`` when there is no ``path``).

    Attributes:
        best: The best monitored value (None before the first epoch).
        best_epoch: Its epoch.
        best_state: A CPU copy of the model's state at ``best_epoch`` (with ``in_memory``).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        monitor: str = "val_acc",
        mode: str = "auto",
        min_delta: float = 0.0,
        restore_best: bool = False,
        in_memory: bool = True,
    ) -> None:
        if path is None and not in_memory:
            raise MnistliteError("ModelCheckpoint needs a path, in_memory=True, or both")
        _checks.finite_non_negative("min_delta", min_delta)
        self.path = Path(path) if path is not None else None
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.in_memory = in_memory
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self._restored = False

    def _improves(self, value: float) -> bool:
        return _improves(value, self.best, self.mode, self.min_delta)

    def on_fit_start(self, trainer: Trainer) -> None:
        """Start afresh unless the state was just restored from the Trainer's checkpoint."""
        if self.path is not None and not self.path.parent.is_dir():
            raise MnistliteError(f"ModelCheckpoint path {self.path}: folder does not exist")
        if not self._restored:
            self._reset()
        self._restored = False

    def on_validation_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Keep (and write) the model's state when the monitored value improves."""
        value = _monitored(record, self.monitor, "ModelCheckpoint")
        if not self._improves(value):
            return
        self.best, self.best_epoch = value, int(record["epoch"])
        state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
        if self.in_memory:
            self.best_state = state
        if self.path is not None:
            save_torch(self.path, state)

    def on_fit_end(self, trainer: Trainer) -> None:
        """With ``restore_best``, load the best state into the model."""
        if not self.restore_best or self.best_epoch is None:
            return
        state = self.best_state
        if state is None and self.path is not None:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state is None:
            raise MnistliteError("ModelCheckpoint has no best state to restore")
        trainer.model.load_state_dict(state)
        trainer.history.meta["restored_epoch"] = self.best_epoch

    def state_dict(self) -> dict[str, Any]:
        """The best value, its epoch and (with ``in_memory``) the best state."""
        return {"best": self.best, "best_epoch": self.best_epoch, "state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.best_state = state["state"]
        self._restored = True


class CSVLogger(Callback):
    """Write the history as CSV, one row per epoch, rewritten atomically every epoch.

    The header is every key of the records in the order they first appear (``epoch``,
    ``train_loss``, ..., ``val_acc``, ``test_acc``, ``seconds``). Each epoch the whole
    file is rewritten from ``trainer.history`` through a temporary file, so a crash never
    leaves a half row and a resumed run's file holds each epoch once.

    Args:
        path: The CSV file to write (its folder must exist).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_fit_start(self, trainer: Trainer) -> None:
        """Check that the folder exists before the first epoch is spent."""
        if not self.path.parent.is_dir():
            raise MnistliteError(f"CSVLogger path {self.path}: folder does not exist")

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Rewrite the file with every epoch so far."""
        self.write(trainer.history)

    def write(self, history: History) -> Path:
        """Write ``history``'s epochs to the CSV file atomically and return its path."""
        header: dict[str, None] = {}
        for row in history.epochs:
            header.update(dict.fromkeys(row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(header), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history.epochs)
        data = text.getvalue().encode()
        return atomic_write(self.path, lambda handle: handle.write(data))
