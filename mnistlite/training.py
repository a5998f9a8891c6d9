"""The Trainer: fit, evaluate, predict, with History, callbacks and exact resume.

Lightning's vocabulary without Lightning: a :class:`Trainer` trains any model on any
iterable of ``(images, labels)`` batches (normally :class:`mnistlite.data.Batches`).
After every epoch it writes a checkpoint atomically: model, optimizer, scheduler,
every RNG state (torch's, CUDA's where used, the batches' generator) and the history.
Resuming from it continues the run so that, on the CPU, a run killed with SIGKILL
and resumed ends with the same weights and history as the run left alone.

This module never imports :mod:`mnistlite.models`, :mod:`mnistlite.recipes` or the CLI.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mnistlite import _checks
from mnistlite.atomic import save_json, save_torch
from mnistlite.data import MNISTTensors
from mnistlite.errors import CheckpointError, MnistliteError

__all__ = [
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "History",
    "Trainer",
    "bf16_native",
    "cpu_bf16_flags",
    "distillation_loss",
    "load_checkpoint",
    "resolve_bf16",
    "resolve_device",
]

CHECKPOINT_FORMAT = "mnistlite-checkpoint-v1"

Optimizer = torch.optim.Optimizer
Scheduler = Any  # torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau-like


@dataclass
class History:
    """What a training run logged.

    Attributes:
        epochs: One dict per epoch: ``epoch``, ``train_loss``, ``train_acc`` (running,
            percent, as the seed logs it), ``test_loss``, ``test_acc`` (percent),
            ``lr`` (the rate at the start of the epoch), ``seconds``.
        batch_losses: The training loss of every batch, in order.
        meta: Free-form run information (recipe, seed, device, ...).
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> list[float]:
        """Return one per-epoch value for every epoch, e.g. ``column("test_acc")``."""
        return [record[key] for record in self.epochs]

    def best(self, key: str = "test_acc") -> float:
        """Return the largest value of a per-epoch column (the best test accuracy)."""
        return max(self.column(key))

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's record."""
        return self.epochs[-1]

    def to_dict(self) -> dict[str, Any]:
        """Return the history as JSON-ready data."""
        return {"epochs": self.epochs, "batch_losses": self.batch_losses, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Build a history from :meth:`to_dict`'s output."""
        if not isinstance(data, dict) or not isinstance(data.get("epochs"), list):
            raise MnistliteError("a history needs an 'epochs' list")
        return cls(
            epochs=list(data["epochs"]),
            batch_losses=list(data.get("batch_losses", [])),
            meta=dict(data.get("meta", {})),
        )

    def save(self, path: str | Path) -> Path:
        """Write the history as JSON, atomically."""
        return save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


class Callback:
    """Base class of training callbacks; override the hooks you need."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Called after each epoch's evaluation and checkpoint with its record.

        Set ``trainer.should_stop = True`` to end training after this epoch.
        """

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch."""


class EarlyStopping(Callback):
    """Stop once a monitored value reaches a target (e.g. 99.4% test accuracy).

    Args:
        target: The value to reach.
        monitor: The history column to watch (``"test_acc"`` by default).
        mode: ``"max"`` stops when the value is >= target, ``"min"`` when <= target.
    """

    def __init__(self, target: float, monitor: str = "test_acc", mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise MnistliteError(f"mode must be 'max' or 'min', got {mode!r}")
        self.target = target
        self.monitor = monitor
        self.mode = mode
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Ask the trainer to stop once the monitored value reaches the target."""
        value = record.get(self.monitor)
        if value is None:
            return
        reached = value >= self.target if self.mode == "max" else value <= self.target
        if reached:
            self.stopped_epoch = int(record["epoch"])
            trainer.should_stop = True


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a Trainer checkpoint with ``weights_only=True``.

    Raises:
        CheckpointError: If the file is missing, unreadable or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign files raise many error types
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated and cannot be read "
            f"({type(err).__name__}); it was left untouched"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a mnistlite checkpoint")
    return state


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 4.0,
    weight: float = 0.5,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Hinton et al.'s knowledge-distillation loss: labels mixed with a teacher's soft outputs.

    ``(1 - weight) * CE(student, labels) + weight * T² * KL(teacher_T ‖ student_T)``,
    where ``x_T`` is ``softmax(logits / T)``. The ``T²`` factor keeps the soft term's
    gradients on the scale of the hard term's whatever the temperature.

    Args:
        student_logits: (N, C) logits of the model being trained.
        teacher_logits: (N, C) logits of the teacher for the same images (no gradient).
        labels: (N,) class indices.
        temperature: Softening temperature T (> 0); higher spreads the teacher's
            probability over more classes.
        weight: Share of the teacher term in [0, 1]; 0 is plain cross-entropy.
        label_smoothing: Label smoothing of the cross-entropy term.
    """
    hard = F.cross_entropy(student_logits, labels, label_smoothing=label_smoothing)
    if weight == 0:
        return hard
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return (1 - weight) * hard + weight * temperature**2 * soft


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"`` into a usable device.

    Raises:
        ValueError: For an unknown device string, or CUDA where none is available.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise MnistliteError(f"unknown device {device!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MnistliteError(f"device {device} requested but CUDA is not available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise MnistliteError(f"device {device} requested but only {torch.cuda.device_count()} GPUs")
    return device


#: The CPU flags that mean native bfloat16 arithmetic (AVX-512 BF16, Intel AMX).
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_bf16_flags() -> frozenset[str]:
    """The native-bf16 flags this CPU reports: a subset of ``{"avx512_bf16", "amx_bf16"}``.

    Read from ``/proc/cpuinfo`` (Linux) and from
    ``torch.backends.cpu.get_cpu_capability()`` (which names AMX on builds that
    dispatch to it). Empty where neither says anything, e.g. on macOS or Windows.
    """
    found: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    found.update(line.split(":", 1)[-1].split())
                    break
    except OSError:
        pass
    try:
        capability = torch.backends.cpu.get_cpu_capability().lower()
    except (AttributeError, RuntimeError):
        capability = ""
    if "amx" in capability:
        found.add("amx_bf16")
    if "bf16" in capability:
        found.add("avx512_bf16")
    return frozenset(found) & frozenset(NATIVE_BF16_CPU_FLAGS)


def bf16_native(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively, so bf16 autocast pays.

    On the CPU: AVX-512 BF16 or AMX (:func:`cpu_bf16_flags`); without them bf16 is
    emulated and slower than fp32. On CUDA: ``torch.cuda.is_bf16_supported()``
    (Ampere and later). Anything else: False.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return bool(cpu_bf16_flags())
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return False


def resolve_bf16(bf16: bool | str, device: str | torch.device) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a bf16 choice for ``device``.

    Raises:
        ValueError: For anything else.
    """
    if isinstance(bf16, bool):
        return bf16
    if bf16 == "auto":
        return bf16_native(device)
    raise MnistliteError(f"bf16 must be True, False or 'auto', got {bf16!r}")


class Trainer:
    """Train, evaluate and checkpoint a classifier.

    Args:
        model: Any module mapping images to logits (N, 10).
        optimizer: An optimizer over ``model``'s parameters, or a factory
            ``params -> optimizer``. Default: SGD, lr 0.01, momentum 0.9 (the seed's).
        scheduler: A learning-rate scheduler, or a factory ``optimizer -> scheduler``.
        scheduler_interval: ``"epoch"`` steps the scheduler once per epoch, after
            training and before the test pass (the seed's StepLR); ``"step"`` once per
            batch (one-cycle schedules).
        epochs: Number of epochs (>= 1).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"``.
        seed: Seeds torch's global generator (dropout) at the start of :meth:`fit`.
        callbacks: :class:`Callback` objects.
        progress: Show a tqdm bar per epoch with loss and accuracy.
        checkpoint: Path of the checkpoint written after every epoch (None: none).
        label_smoothing: Cross-entropy label smoothing.
        channels_last: Run the model in ``torch.channels_last`` memory format.
        compile: Run the model through :func:`torch.compile`.
        bf16: Run training forward passes under bfloat16 autocast: ``True``,
            ``False``, or ``"auto"`` (the default: on where the device computes bf16
            natively, see :func:`bf16_native`). The choice is in ``trainer.bf16`` and
            in the history's ``meta["bf16"]``. :meth:`evaluate` and :meth:`predict`
            always compute in fp32, so a test accuracy logged by :meth:`fit` is the
            one the same weights get anywhere else.
        meta: Run information copied into every :class:`History` (recipe, seed, ...).
        teacher: A trained model to distil from (knowledge distillation): frozen, kept
            in eval mode on the same device, and fed the same (augmented) batch as the
            student; the loss becomes :func:`distillation_loss`. None trains on the
            labels alone.
        distill_temperature: Softening temperature of the teacher and student outputs
            (default 4.0, Hinton et al.'s usual range 2–8).
        distill_weight: Share of the teacher term in the loss, in [0, 1] (default 0.5).

    Attributes:
        history: The :class:`History` of the current or last :meth:`fit`.
        should_stop: Set by callbacks to end training after the current epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optimizer: Optimizer | Callable[[Any], Optimizer] | None = None,
        scheduler: Scheduler | Callable[[Optimizer], Scheduler] | None = None,
        scheduler_interval: str = "epoch",
        epochs: int = 1,
        device: str | torch.device | None = "cpu",
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
        checkpoint: str | Path | None = None,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
        bf16: bool | str = "auto",
        meta: dict[str, Any] | None = None,
        teacher: nn.Module | None = None,
        distill_temperature: float = 4.0,
        distill_weight: float = 0.5,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        _checks.positive_int("epochs", epochs)
        if scheduler_interval not in ("epoch", "step"):
            raise MnistliteError(
                f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
            )
        _checks.probability("label_smoothing", label_smoothing)
        if teacher is not None and not isinstance(teacher, nn.Module):
            raise TypeError(f"teacher must be a torch.nn.Module, got {type(teacher).__name__}")
        _checks.finite_positive("distill_temperature", distill_temperature)
        _checks.probability("distill_weight", distill_weight, high_inclusive=True)
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.teacher = teacher
        if teacher is not None:
            if teacher is model:
                raise MnistliteError("the teacher must be a different module from the model")
            self.teacher = teacher.to(self.device).eval().requires_grad_(False)
            if channels_last:
                self.teacher = self.teacher.to(memory_format=torch.channels_last)
        self.distill_temperature = float(distill_temperature)
        self.distill_weight = float(distill_weight)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if optimizer is None:
            optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        elif not isinstance(optimizer, torch.optim.Optimizer):
            optimizer = optimizer(self.model.parameters())
        self.optimizer = optimizer
        if scheduler is not None and callable(scheduler) and not hasattr(scheduler, "step"):
            scheduler = scheduler(self.optimizer)
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.epochs = epochs
        self.seed = seed
        self.callbacks = list(callbacks)
        self.progress = progress
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.label_smoothing = label_smoothing
        self.channels_last = channels_last
        self.bf16 = resolve_bf16(bf16, self.device)
        self._forward: Callable[[torch.Tensor], torch.Tensor] = (
            torch.compile(self.model) if compile else self.model
        )
        self.meta = {**dict(meta or {}), "bf16": self.bf16}
        self.history = History(meta=dict(self.meta))
        self.should_stop = False

    # -- one batch, one epoch -------------------------------------------------------

    def _autocast(self, bf16: bool) -> contextlib.AbstractContextManager[Any]:
        if not bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _logits(self, images: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        with self._autocast(bf16):
            return self._forward(self._prepare(images)).float()

    def _loss(
        self, images: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy on the labels, mixed with the teacher's outputs if there is one."""
        if self.teacher is None:
            return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        with torch.no_grad(), self._autocast(self.bf16):
            teacher_logits = self.teacher(self._prepare(images)).float()
        return distillation_loss(
            logits,
            teacher_logits,
            labels,
            temperature=self.distill_temperature,
            weight=self.distill_weight,
            label_smoothing=self.label_smoothing,
        )

    def _train_epoch(self, train: Iterable[Any], epoch: int) -> dict[str, float]:
        self.model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(train), desc=f"epoch {epoch}/{self.epochs}", unit="batch")  # type: ignore[arg-type]
        losses: list[torch.Tensor] = []
        for images, labels in train:
            labels = labels.to(self.device, non_blocking=True)
            logits = self._logits(images, self.bf16)
            loss = self._loss(images, logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            detached = loss.detach()
            losses.append(detached)
            total_loss += detached * labels.shape[0]
            correct += (logits.detach().argmax(1) == labels).sum()
            seen += labels.shape[0]
            if bar is not None:
                bar.update(1)
                if bar.n % 20 == 0 or bar.n == bar.total:
                    acc = 100.0 * correct.item() / seen
                    bar.set_postfix(loss=f"{detached.item():.4f}", acc=f"{acc:.2f}")
        if bar is not None:
            bar.close()
        if seen == 0:
            raise MnistliteError("the training data yielded no batches")
        self.history.batch_losses.extend(torch.stack(losses).tolist())
        return {
            "train_loss": total_loss.item() / seen,
            "train_acc": 100.0 * correct.item() / seen,
            "lr": lr,
        }

    # -- public API -----------------------------------------------------------------

    @torch.no_grad()
    def evaluate(
        self, data: MNISTTensors | Iterable[Any], batch_size: int = 1000
    ) -> dict[str, float]:
        """Return the mean cross-entropy ``loss`` and ``accuracy`` (percent) on ``data``.

        Always computed in fp32 (whatever ``bf16`` says), so the numbers do not depend
        on the precision the model was trained in.

        Args:
            data: :class:`~mnistlite.data.MNISTTensors`, or any iterable of
                ``(images, labels)`` batches.
            batch_size: Batch size when ``data`` is :class:`~mnistlite.data.MNISTTensors`.
        """
        batches: Iterable[Any]
        if isinstance(data, MNISTTensors):
            batches = (
                (data.images[i : i + batch_size], data.labels[i : i + batch_size])
                for i in range(0, len(data), batch_size)
            )
        else:
            batches = data
        was_training = self.model.training
        self.model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        try:
            for images, labels in batches:
                labels = labels.to(self.device)
                logits = self._logits(images)
                total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
                correct += int((logits.argmax(1) == labels).sum())
                seen += labels.shape[0]
        finally:
            self.model.train(was_training)
        if seen == 0:
            raise MnistliteError("cannot evaluate on empty data")
        return {"loss": total_loss / seen, "accuracy": 100.0 * correct / seen}

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Return the predicted digit (N,) for normalized images (N, 1, 28, 28).

        Use ``trainer.model(images)`` for the logits themselves.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            parts = [
                self._logits(images[i : i + batch_size]).argmax(1)
                for i in range(0, images.shape[0], batch_size)
            ]
        finally:
            self.model.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)

    def state_dict(self, train: Iterable[Any] | None = None) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer, scheduler, RNGs, history."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if train is not None and hasattr(train, "state_dict"):
            rng["data"] = train.state_dict()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": len(self.history.epochs),
            "epochs": self.epochs,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng,
            "history": self.history.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], train: Iterable[Any] | None = None) -> None:
        """Restore what :meth:`state_dict` saved (the inverse of it).

        Raises:
            CheckpointError: If the checkpoint does not fit this model or optimizer.
        """
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"]["torch"])
            if "cuda" in state["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
            if train is not None and "data" in state["rng"] and hasattr(train, "load_state_dict"):
                train.load_state_dict(state["rng"]["data"])
            self.history = History.from_dict(state["history"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint does not match this run: {err}") from None

    def fit(
        self,
        train: Iterable[Any],
        val: MNISTTensors | Iterable[Any] | None = None,
        *,
        resume: bool = False,
    ) -> History:
        """Train for the configured epochs and return the :class:`History`.

        Args:
            train: Training batches (:class:`mnistlite.data.Batches`, or any sized
                iterable of ``(images, labels)``).
            val: Data evaluated after every epoch (logged as ``test_loss``/``test_acc``).
            resume: Continue from ``checkpoint`` instead of starting afresh.

        Raises:
            CheckpointError: If ``resume`` is set and the checkpoint is missing or bad.
        """
        self.should_stop = False
        self.history = History(meta=dict(self.meta))
        torch.manual_seed(self.seed)
        if resume:
            if self.checkpoint is None:
                raise CheckpointError("resume=True needs the Trainer's checkpoint path")
            self.load_state_dict(load_checkpoint(self.checkpoint), train)
        for callback in self.callbacks:
            callback.on_fit_start(self)
        for epoch in range(len(self.history.epochs) + 1, self.epochs + 1):
            start = time.perf_counter()
            record: dict[str, float] = {"epoch": epoch, **self._train_epoch(train, epoch)}
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            if val is not None:
                result = self.evaluate(val)
                record["test_loss"], record["test_acc"] = result["loss"], result["accuracy"]
            record["seconds"] = time.perf_counter() - start
            self.history.epochs.append(record)
            if self.checkpoint is not None:
                save_torch(self.checkpoint, self.state_dict(train))
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            if self.should_stop:
                break
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history
