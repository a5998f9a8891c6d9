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
import csv
import functools
import io
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mnistlite import _checks
from mnistlite.atomic import atomic_write, save_json, save_torch
from mnistlite.blocks import has_grouped_conv
from mnistlite.data import MNISTTensors
from mnistlite.errors import CheckpointError, MnistliteError
from mnistlite.stacked import StackedModel

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "Trainer",
    "auto_device",
    "bf16_native",
    "cpu_bf16_flags",
    "distillation_loss",
    "load_checkpoint",
    "resolve_bf16",
    "resolve_channels_last",
    "resolve_device",
    "sgd_update",
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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a Trainer checkpoint with ``weights_only=True``.

    Raises:
        CheckpointError: If the file is missing, unreadable or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # a damaged file's "pickle protocol 74" comes first
            warnings.simplefilter("ignore")
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


def auto_device() -> torch.device:
    """The best device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` into a usable device.

    ``"auto"`` (and None) is :func:`auto_device`: CUDA, then MPS, then the CPU.

    Raises:
        MnistliteError: For an unknown device string, or a device that is not available.
    """
    if device is None or device == "auto":
        return auto_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise MnistliteError(
            f"unknown device {device!r} (expected cpu, cuda, cuda:N, mps or auto): {err}"
        ) from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise MnistliteError(
            f"unknown device {str(device)!r} (expected cpu, cuda, cuda:N, mps or auto)"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MnistliteError(f"device {device} requested but CUDA is not available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise MnistliteError(f"device {device} requested but only {torch.cuda.device_count()} GPUs")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise MnistliteError(f"device {device} requested but Apple's MPS is not available")
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


#: What ``bf16="auto"`` chooses on CUDA: fp32 (TF32 off). For these networks bf16 autocast
#: only adds cast kernels; measured by ``benchmarks/gpu_speed.py`` (benchmarks/RESULTS.md).
BF16_AUTO_CUDA = False


#: What ``channels_last="auto"`` chooses on CUDA for a network without grouped
#: (depthwise) convolutions: on. A step-7 or fast training step in a CUDA graph measured
#: faster in channels_last, while lite1k, whose convolutions are mostly
#: depthwise, trained markedly slower; on two CPU threads it was slower
#: (``benchmarks/gpu_speed.py``, ``benchmarks/epoch_time.py``; benchmarks/RESULTS.md).
CHANNELS_LAST_AUTO_CUDA = True


def resolve_channels_last(
    channels_last: bool | str, device: str | torch.device, model: nn.Module | None = None
) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a memory-format choice for ``device``.

    ``"auto"``: on CUDA, ``CHANNELS_LAST_AUTO_CUDA`` (on, decided by measurement) unless
    ``model`` has grouped (depthwise) convolutions; off elsewhere.

    Raises:
        MnistliteError: For anything else.
    """
    if isinstance(channels_last, bool):
        return channels_last
    if channels_last == "auto":
        if torch.device(device).type != "cuda":
            return False
        return CHANNELS_LAST_AUTO_CUDA and not (model is not None and has_grouped_conv(model))
    raise MnistliteError(f"channels_last must be True, False or 'auto', got {channels_last!r}")


def resolve_bf16(bf16: bool | str, device: str | torch.device) -> bool:
    """Turn ``True``, ``False`` or ``"auto"`` into a bf16 choice for ``device``.

    ``"auto"``: on a CPU that computes bf16 natively (:func:`bf16_native`); on CUDA
    ``BF16_AUTO_CUDA`` (fp32, decided by measurement); elsewhere off.

    Raises:
        MnistliteError: For anything else.
    """
    if isinstance(bf16, bool):
        return bf16
    if bf16 == "auto":
        if torch.device(device).type == "cuda":
            return BF16_AUTO_CUDA and bf16_native(device)
        return bf16_native(device)
    raise MnistliteError(f"bf16 must be True, False or 'auto', got {bf16!r}")


def _member_losses(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    *,
    temperature: float = 4.0,
    weight: float = 0.5,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """The loss of each member: logits (S, N, C), labels (S, N) -> (S,) mean losses.

    Cross-entropy, mixed with the teacher's softened outputs as in
    :func:`distillation_loss` when ``teacher_logits`` (S, N, C) is given.
    """
    size, n, classes = logits.shape
    hard = F.cross_entropy(
        logits.reshape(size * n, classes),
        labels.reshape(size * n),
        reduction="none",
        label_smoothing=label_smoothing,
    ).view(size, n)
    hard = hard.mean(1)
    if teacher_logits is None or weight == 0:
        return hard
    soft = F.kl_div(
        F.log_softmax(logits / temperature, dim=-1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=-1),
        reduction="none",
        log_target=True,
    )
    soft = soft.sum(-1).mean(-1)  # "batchmean" per member
    return (1 - weight) * hard + weight * temperature**2 * soft


def sgd_update(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    buffers: list[torch.Tensor],
    *,
    lr: float | torch.Tensor,
    momentum: float | torch.Tensor,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One step of :class:`torch.optim.SGD`'s update rule, in place, with foreach kernels.

    ``g = grad + weight_decay * p``; ``buf = momentum * buf + g`` (no dampening);
    ``d = g + momentum * buf`` (Nesterov) or ``buf``; ``p -= lr * d``. ``lr`` and
    ``momentum`` may be Python numbers or 0-dim tensors on the parameters' device: as
    tensors the step can be captured in a CUDA graph and replayed while a schedule
    changes their values (``Tensor.fill_`` between replays). The gradients
    are overwritten.

    Args:
        params: The parameters.
        grads: Their gradients.
        buffers: Their momentum buffers (same shapes); unused when ``momentum`` is 0.
        lr: Learning rate.
        momentum: Momentum factor.
        weight_decay: L2 penalty.
        nesterov: Nesterov momentum.
    """
    if weight_decay:
        torch._foreach_add_(grads, params, alpha=weight_decay)
    if isinstance(momentum, torch.Tensor) or momentum != 0:
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads)
        if nesterov:
            direction = torch._foreach_mul(buffers, momentum)
            torch._foreach_add_(direction, grads)
            torch._foreach_mul_(direction, lr)
        else:
            direction = torch._foreach_mul(buffers, lr)
    else:
        direction = grads
        torch._foreach_mul_(direction, lr)
    torch._foreach_sub_(params, direction)


def _plain_sgd(optimizer: Optimizer) -> bool:
    """Whether ``optimizer`` is a torch SGD whose update :func:`sgd_update` reproduces."""
    if type(optimizer) is not torch.optim.SGD:
        return False
    return all(not g.get("maximize") and not g.get("dampening") for g in optimizer.param_groups)


class Trainer:
    """Train, evaluate and checkpoint a classifier.

    One step function (forward, loss, backward, optimizer update) serves every path: it
    runs eagerly, or, on CUDA, is captured once as a CUDA graph and replayed for every
    full batch (``cuda_graphs``), so the GPU is not left waiting for the host. A
    :class:`~mnistlite.stacked.StackedModel` trains many seeds side by side through the
    same step: its members' losses are summed, and each member's record is kept in
    :attr:`member_histories`.

    Args:
        model: Any module mapping images to logits (N, 10), or a
            :class:`~mnistlite.stacked.StackedModel` mapping (S, N, ...) to (S, N, 10).
        optimizer: An optimizer over ``model``'s parameters, or a factory
            ``params -> optimizer``. Default: SGD, lr 0.01, momentum 0.9 (the seed's).
            A :class:`torch.optim.SGD` (without dampening or ``maximize``) is applied by
            :func:`sgd_update` (the same rule, capturable in a CUDA graph, its momentum
            buffers kept in the optimizer's state); any other optimizer by its own
            ``step()``, eagerly.
        scheduler: A learning-rate scheduler, or a factory ``optimizer -> scheduler``.
        scheduler_interval: ``"epoch"`` steps the scheduler once per epoch, after
            training and before the test pass (the seed's StepLR); ``"step"`` once per
            batch (one-cycle schedules).
        epochs: Number of epochs (>= 1).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA, then
            Apple's MPS, then the CPU).
        seed: Seeds torch's global generator (dropout) at the start of :meth:`fit`.
        callbacks: :class:`Callback` objects.
        progress: Show a tqdm bar per epoch with loss and accuracy.
        checkpoint: Path of the checkpoint written after every epoch (None: none).
        label_smoothing: Cross-entropy label smoothing.
        channels_last: Run the model in ``torch.channels_last`` memory format: ``True``,
            ``False`` or ``"auto"`` (the default, see :func:`resolve_channels_last`: on
            for CUDA unless the network has depthwise convolutions, off elsewhere; always
            off for a stacked model). The choice is in
            ``trainer.channels_last`` and ``meta["channels_last"]``.
        compile: Run the model through :func:`torch.compile`.
        bf16: Run training forward passes under bfloat16 autocast: ``True``,
            ``False``, or ``"auto"`` (the default, see :func:`resolve_bf16`: on CPUs
            that compute bf16 natively; off on CUDA, where fp32 measured faster for these
            networks). The choice is in ``trainer.bf16`` and in the history's
            ``meta["bf16"]``. :meth:`evaluate` and :meth:`predict` always compute in
            fp32, so a test accuracy logged by :meth:`fit` is the one the same weights
            get anywhere else.
        cuda_graphs: Capture the training step as one CUDA graph and replay it:
            ``True``, ``False`` or ``"auto"`` (the default: on for CUDA with an SGD
            optimizer and without ``compile``). A batch of another shape (a short last
            batch) runs eagerly through the same step function, so every image is used.
            The choice is in ``trainer.cuda_graphs`` and ``meta["cuda_graphs"]``.
        meta: Run information copied into every :class:`History` (recipe, seed, ...).
        teacher: A trained model to distil from (knowledge distillation): frozen, kept
            in eval mode on the same device, and fed the same (augmented) batch as the
            student; the loss becomes :func:`distillation_loss`. None trains on the
            labels alone.
        distill_temperature: Softening temperature of the teacher and student outputs
            (default 4.0, Hinton et al.'s usual range 2–8).
        distill_weight: Share of the teacher term in the loss, in [0, 1] (default 0.5).

    Attributes:
        history: The :class:`History` of the current or last :meth:`fit` (for a stacked
            model, every value is the mean over the members).
        member_histories: For a stacked model, one :class:`History` per member.
        should_stop: Set by callbacks to end training after the current epoch.
    """

    #: Eager steps before the step is captured (they are real training steps).
    WARMUP_STEPS = 3

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
        channels_last: bool | str = "auto",
        compile: bool = False,
        bf16: bool | str = "auto",
        cuda_graphs: bool | str = "auto",
        meta: dict[str, Any] | None = None,
        teacher: nn.Module | None = None,
        distill_temperature: float = 4.0,
        distill_weight: float = 0.5,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        _checks.positive_int("epochs", epochs)
        _checks.seed("seed", seed)
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
        self.stacked = isinstance(model, StackedModel)
        resolved = resolve_channels_last(channels_last, self.device, model)  # checks it
        if self.stacked and channels_last is True:
            raise MnistliteError("channels_last is not supported for a stacked model")
        channels_last = resolved and not self.stacked
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
        self.cuda_graphs = self._resolve_cuda_graphs(cuda_graphs, compile)
        self._forward: Callable[[torch.Tensor], torch.Tensor] = (
            torch.compile(self.model) if compile else self.model
        )
        self.meta = {
            **dict(meta or {}),
            "bf16": self.bf16,
            "cuda_graphs": self.cuda_graphs,
            "channels_last": self.channels_last,
        }
        self.history = History(meta=dict(self.meta))
        self.member_histories: list[History] = []
        self.should_stop = False
        self._graph: Any = None
        self._warm_steps = 0

    def _resolve_cuda_graphs(self, cuda_graphs: bool | str, compile: bool) -> bool:
        if cuda_graphs not in (True, False, "auto"):
            raise MnistliteError(f"cuda_graphs must be True, False or 'auto', got {cuda_graphs!r}")
        supported = self.device.type == "cuda" and _plain_sgd(self.optimizer) and not compile
        if cuda_graphs == "auto":
            return supported
        if cuda_graphs and not supported:
            raise MnistliteError(
                "cuda_graphs=True needs a CUDA device, a torch.optim.SGD optimizer and "
                f"compile=False (got device {self.device}, "
                f"{type(self.optimizer).__name__}, compile={compile})"
            )
        return bool(cuda_graphs)

    # -- the step function: eager, or captured once as a CUDA graph -----------------

    def _autocast(self, bf16: bool) -> contextlib.AbstractContextManager[Any]:
        if not bf16:
            return contextlib.nullcontext()
        # no cast cache: a CUDA graph must not keep casts made during its capture
        return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _logits(self, images: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        with self._autocast(bf16):
            return self._forward(self._prepare(images)).float()

    def _teacher_logits(self, images: torch.Tensor) -> torch.Tensor:
        assert self.teacher is not None
        with torch.no_grad(), self._autocast(self.bf16):
            if self.stacked:  # one pass over every member's batch
                flat = self.teacher(images.flatten(0, 1)).float()
                return flat.view(*images.shape[:2], flat.shape[-1])
            return self.teacher(images).float()

    def _losses(
        self, images: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Each member's loss, (S,), or () for a single model."""
        teacher = self._teacher_logits(images) if self.teacher is not None else None
        if not self.stacked:
            logits, labels = logits.unsqueeze(0), labels.unsqueeze(0)
            teacher = teacher.unsqueeze(0) if teacher is not None else None
        losses = _member_losses(
            logits,
            labels,
            teacher,
            temperature=self.distill_temperature,
            weight=self.distill_weight,
            label_smoothing=self.label_smoothing,
        )
        return losses if self.stacked else losses[0]

    def _update(self, scalars: list[tuple[Any, Any]] | None) -> None:
        """The optimizer step: :func:`sgd_update` per group for SGD, else ``step()``."""
        if not _plain_sgd(self.optimizer):
            self.optimizer.step()
            return
        # what optimizer.step() records, so a scheduler knows the optimizer has stepped
        self.optimizer._opt_called = True  # type: ignore[attr-defined]
        for index, group in enumerate(self.optimizer.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            buffers: list[torch.Tensor] = []
            if group["momentum"] != 0 or scalars is not None:
                for p in params:
                    state = self.optimizer.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    buffers.append(state["momentum_buffer"])
            lr, momentum = (
                scalars[index] if scalars is not None else (group["lr"], group["momentum"])
            )
            with torch.no_grad():
                sgd_update(
                    params,
                    [p.grad for p in params],
                    buffers,
                    lr=lr,
                    momentum=momentum,
                    weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"],
                )

    def train_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        scalars: list[tuple[Any, Any]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step on a batch: forward, loss, backward, optimizer update.

        The function that runs eagerly and that a CUDA graph captures. It reads nothing
        back to the host. Gradients must be None (or zero) when it is called.

        Args:
            images: A batch on the trainer's device, (N, ...) or (S, N, ...) for a
                stacked model.
            labels: Its labels, (N,) or (S, N).
            scalars: Per parameter group ``(lr, momentum)`` as 0-dim device tensors (the
                captured step), or None to read them from the optimizer's groups.

        Returns:
            ``(losses, correct)``: the batch's mean loss and its number of correct
            predictions, 0-dim tensors, or (S,) for a stacked model.
        """
        logits = self._logits(images, self.bf16)
        losses = self._losses(images, logits, labels)
        losses.sum().backward()
        self._update(scalars)
        correct = (logits.detach().argmax(-1) == labels).sum(-1)
        return losses.detach(), correct

    def _eager_step(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        return self.train_step(images, labels)

    def _capture(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Capture :meth:`train_step` as a CUDA graph over static input buffers."""
        self._static = (images.clone(), labels.clone())
        self._scalars = [
            (
                torch.tensor(float(g["lr"]), device=self.device),
                torch.tensor(float(g["momentum"]), device=self.device),
            )
            for g in self.optimizer.param_groups
        ]
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._static_out = self.train_step(*self._static, self._scalars)
        self._graph = graph

    def _graph_step(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a full batch through the captured step (capturing it first if needed)."""
        if self._warm_steps < self.WARMUP_STEPS:  # eager on a side stream before capture
            self._warm_steps += 1
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                out = self._eager_step(images, labels)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            return out
        if self._graph is None:
            self._capture(images, labels)
        self._static[0].copy_(images, non_blocking=True)
        self._static[1].copy_(labels, non_blocking=True)
        for (lr, momentum), group in zip(self._scalars, self.optimizer.param_groups, strict=True):
            lr.fill_(group["lr"])
            momentum.fill_(group["momentum"])
        self._graph.replay()
        return self._static_out[0].clone(), self._static_out[1].clone()

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch: through the captured CUDA graph where it fits, else eagerly.

        The first :attr:`WARMUP_STEPS` steps of a graphed run are eager (real steps, on a
        side stream), then :meth:`train_step` is captured and replayed for every batch of
        that shape. The learning-rate scheduler is not stepped here.

        Args:
            images: A batch on the trainer's device.
            labels: Its labels.

        Returns:
            ``(losses, correct)`` as :meth:`train_step` returns them.
        """
        images = self._prepare(images)
        labels = labels.to(self.device, non_blocking=True)
        if self._graph_fits(images, labels):
            return self._graph_step(images, labels)
        return self._eager_step(images, labels)

    def _graph_fits(self, images: torch.Tensor, labels: torch.Tensor) -> bool:
        if not self.cuda_graphs:
            return False
        if self._graph is None:
            return True
        return images.shape == self._static[0].shape and labels.shape == self._static[1].shape

    # -- one epoch -----------------------------------------------------------------

    def _train_epoch(self, train: Iterable[Any], epoch: int) -> dict[str, Any]:
        self.model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        members = self.model.size if self.stacked else 1
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(train), desc=f"epoch {epoch}/{self.epochs}", unit="batch")  # type: ignore[arg-type]
        # Per-step results stay on the device and are summed once at the epoch's end.
        losses: list[torch.Tensor] = []
        corrects: list[torch.Tensor] = []
        sizes: list[int] = []
        shown_correct, shown_steps = 0, 0
        on_cpu = self.device.type == "cpu"
        for images, labels in train:
            batch_losses, batch_correct = self.step(images, labels)
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            losses.append(batch_losses)
            corrects.append(batch_correct)
            sizes.append(labels.shape[-1])
            if bar is not None:
                bar.update(1)
                # Reading a value back waits for the device: on CUDA only at the epoch's end.
                if on_cpu and (bar.n % 20 == 0 or bar.n == bar.total):
                    shown_correct += int(torch.stack(corrects[shown_steps:]).sum())
                    shown_steps = len(corrects)
                    acc = 100.0 * shown_correct / (sum(sizes) * members)
                    bar.set_postfix(loss=f"{batch_losses.mean().item():.4f}", acc=f"{acc:.2f}")
        seen = sum(sizes)
        if seen == 0:
            if bar is not None:
                bar.close()
            raise MnistliteError("the training data yielded no batches")
        per_step = torch.stack(losses).view(len(losses), members)
        weights = torch.tensor(sizes, dtype=per_step.dtype, device=per_step.device)
        mean_loss = ((per_step * weights[:, None]).sum(0) / seen).tolist()
        correct = torch.stack(corrects).view(len(corrects), members).sum(0)
        accuracy = (100.0 * correct.double() / seen).tolist()
        if bar is not None:
            if not on_cpu:
                mean = sum(mean_loss) / members
                bar.set_postfix(loss=f"{mean:.4f}", acc=f"{sum(accuracy) / members:.2f}")
            bar.close()
        return {
            "train_loss": mean_loss,
            "train_acc": accuracy,
            "lr": lr,
            "batches": per_step.T.tolist(),
        }

    # -- public API -----------------------------------------------------------------

    def _eval_batch_size(self, batch_size: int | None) -> int:
        if batch_size is None:
            return 256 if self.device.type == "cpu" else 2000
        _checks.positive_int("batch_size", batch_size)
        return batch_size

    def _eval_batches(self, data: Any, batch_size: int) -> Iterable[Any]:
        """(images, labels) batches of ``data``: tensors, one tensor set per member, or batches."""
        if isinstance(data, MNISTTensors):
            return (
                (data.images[i : i + batch_size], data.labels[i : i + batch_size])
                for i in range(0, len(data), batch_size)
            )
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], MNISTTensors):
            if not self.stacked or len(data) != self.model.size:
                raise MnistliteError(
                    "a list of MNISTTensors is one data set per member of a stacked model"
                )
            return (
                (
                    torch.stack([d.images[i : i + batch_size] for d in data]),
                    torch.stack([d.labels[i : i + batch_size] for d in data]),
                )
                for i in range(0, len(data[0]), batch_size)
            )
        return data

    @torch.no_grad()
    def evaluate_members(
        self,
        data: MNISTTensors | Sequence[MNISTTensors] | Iterable[Any],
        batch_size: int | None = None,
    ) -> list[dict[str, float]]:
        """Return ``loss`` and ``accuracy`` for each member (one entry for a plain model).

        A stacked model's members all see the same images, unless ``data`` is a list
        of :class:`~mnistlite.data.MNISTTensors`, one per member (e.g. each seed's own
        validation split). Arguments as in :meth:`evaluate`.
        """
        batch_size = self._eval_batch_size(batch_size)
        batches = self._eval_batches(data, batch_size)
        members = self.model.size if self.stacked else 1
        was_training = self.model.training
        self.model.eval()
        total = torch.zeros(members, dtype=torch.float64, device=self.device)
        hits = torch.zeros(members, dtype=torch.long, device=self.device)
        seen = 0
        try:
            for images, labels in batches:
                images, labels = self._prepare(images), labels.to(self.device)
                if self.stacked and images.dim() == 4:  # one set of images for every member
                    images = images.expand(members, *images.shape)
                if labels.dim() == 1:
                    labels = labels.expand(members, labels.shape[0])
                logits = self._logits(images).view(members, labels.shape[-1], -1)
                flat = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
                total += flat.view(members, -1).double().sum(1)
                hits += (logits.argmax(-1) == labels).sum(1)
                seen += labels.shape[-1]
        finally:
            self.model.train(was_training)
        if seen == 0:
            raise MnistliteError("cannot evaluate on empty data")
        return [
            {"loss": loss / seen, "accuracy": 100.0 * hit / seen}
            for loss, hit in zip(total.tolist(), hits.tolist(), strict=True)
        ]

    def evaluate(
        self, data: MNISTTensors | Iterable[Any], batch_size: int | None = None
    ) -> dict[str, float]:
        """Return the mean cross-entropy ``loss`` and ``accuracy`` (percent) on ``data``.

        Always computed in fp32 (whatever ``bf16`` says), so the numbers do not depend
        on the precision the model was trained in. The sums stay on the device until
        the end: one host synchronisation per call. For a stacked model, the means over
        its members (see :meth:`evaluate_members`).

        Args:
            data: :class:`~mnistlite.data.MNISTTensors`, or any iterable of
                ``(images, labels)`` batches.
            batch_size: Batch size when ``data`` is :class:`~mnistlite.data.MNISTTensors`;
                None: 256 on the CPU, where a batch's activations then stay in cache
                (on a 2-core Xeon up to twice as fast as batch 1,000, see
                ``benchmarks/RESULTS.md``), 2,000 on a GPU (five fixed batches for the
                test set).
        """
        results = self.evaluate_members(data, batch_size)
        return {
            "loss": sum(r["loss"] for r in results) / len(results),
            "accuracy": sum(r["accuracy"] for r in results) / len(results),
        }

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Return the predicted digit (N,) for normalized images (N, 1, 28, 28).

        Use ``trainer.model(images)`` for the logits themselves. ``batch_size`` as in
        :meth:`evaluate`. A stacked model returns (S, N): each member's predictions.
        """
        batch_size = self._eval_batch_size(batch_size)
        was_training = self.model.training
        self.model.eval()
        try:
            parts = []
            for i in range(0, images.shape[0], batch_size):
                batch = images[i : i + batch_size]
                if self.stacked:
                    batch = batch.to(self.device).expand(self.model.size, *batch.shape)
                parts.append(self._logits(batch).argmax(-1))
        finally:
            self.model.train(was_training)
        if not parts:
            return torch.empty(0, dtype=torch.long)
        return torch.cat(parts, dim=-1)

    def state_dict(self, train: Iterable[Any] | None = None) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer, scheduler, RNGs, history."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if train is not None and hasattr(train, "state_dict"):
            rng["data"] = train.state_dict()
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": len(self.history.epochs),
            "epochs": self.epochs,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng,
            "history": self.history.to_dict(),
            "callbacks": {
                key: state
                for key, callback in self._keyed_callbacks()
                if hasattr(callback, "state_dict") and (state := callback.state_dict()) is not None
            },
        }
        if self.stacked:
            state["members"] = [h.to_dict() for h in self.member_histories]
        return state

    def member_state_dict(self, index: int, train: Iterable[Any] | None = None) -> dict[str, Any]:
        """Member ``index`` of a stacked model as the checkpoint of a single run.

        Its weights, its slice of the optimizer's state, the schedule, torch's RNG state
        (shared by the members), its own data generator and its own history: a file
        :func:`load_checkpoint` reads and a single run with the member's seed can
        resume from (its dropout draws then continue from the shared generator).

        Raises:
            MnistliteError: If the model is not stacked.
        """
        if not isinstance(self.model, StackedModel):
            raise MnistliteError("member_state_dict needs a stacked model")
        optimizer = self.optimizer.state_dict()
        optimizer["state"] = {
            key: {
                name: value[index].clone() if torch.is_tensor(value) and value.dim() else value
                for name, value in entry.items()
            }
            for key, entry in optimizer["state"].items()
        }
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        members = getattr(train, "members", None)
        if members is not None:
            rng["data"] = members[index].state_dict()
        history = self.member_histories[index]
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": len(history.epochs),
            "epochs": self.epochs,
            "model": self.model.member_state_dict(index),
            "optimizer": optimizer,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng,
            "history": history.to_dict(),
            "callbacks": {},
        }

    def _keyed_callbacks(self) -> list[tuple[str, Callback]]:
        """Each callback with a stable key: its class name, ``#2``, ``#3``... for repeats."""
        seen: dict[str, int] = {}
        keyed = []
        for callback in self.callbacks:
            name = type(callback).__qualname__
            seen[name] = seen.get(name, 0) + 1
            keyed.append((name if seen[name] == 1 else f"{name}#{seen[name]}", callback))
        return keyed

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
            if self.stacked:
                self.member_histories = [History.from_dict(h) for h in state["members"]]
            saved = state.get("callbacks") or {}
            for key, callback in self._keyed_callbacks():
                if key in saved and hasattr(callback, "load_state_dict"):
                    callback.load_state_dict(saved[key])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint does not match this run: {err}") from None
        self._graph = None  # the optimizer's state tensors are new: capture again
        self._warm_steps = 0

    def _epoch_record(
        self, epoch: int, trained: dict[str, Any], evaluated: dict[str, list[dict[str, float]]]
    ) -> dict[str, Any]:
        """The epoch's record (means over members), and each member's record kept."""
        members = len(trained["train_loss"])
        rows: list[dict[str, Any]] = []
        for s in range(members):
            row: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": trained["train_loss"][s],
                "train_acc": trained["train_acc"][s],
                "lr": trained["lr"],
            }
            for prefix, results in evaluated.items():
                row[f"{prefix}_loss"] = results[s]["loss"]
                row[f"{prefix}_acc"] = results[s]["accuracy"]
            rows.append(row)
        record = {
            key: value if key in ("epoch", "lr") else sum(r[key] for r in rows) / members
            for key, value in rows[0].items()
        }
        if self.stacked:
            for history, row, batches in zip(
                self.member_histories, rows, trained["batches"], strict=True
            ):
                history.epochs.append(row)
                history.batch_losses.extend(batches)
        else:
            self.history.batch_losses.extend(trained["batches"][0])
        return record

    def fit(
        self,
        train: Iterable[Any],
        test: MNISTTensors | Iterable[Any] | None = None,
        *,
        val: MNISTTensors | Sequence[MNISTTensors] | Iterable[Any] | None = None,
        resume: bool = False,
    ) -> History:
        """Train for the configured epochs and return the :class:`History`.

        Args:
            train: Training batches (:class:`mnistlite.data.Batches`,
                :class:`mnistlite.data.StackedBatches` for a stacked model, or any sized
                iterable of ``(images, labels)``).
            test: Data evaluated after every epoch, logged as ``test_loss``/``test_acc``:
                the number a run reports. Choose nothing by it.
            val: A validation set (held-out training images) evaluated after every
                epoch, logged as ``val_loss``/``val_acc``: the one to monitor with
                :class:`EarlyStopping` and :class:`ModelCheckpoint`. For a stacked
                model it may be a list with one set per member.
            resume: Continue from ``checkpoint`` instead of starting afresh.

        Raises:
            CheckpointError: If ``resume`` is set and the checkpoint is missing or bad.
        """
        self.should_stop = False
        self.history = History(meta=dict(self.meta))
        if isinstance(self.model, StackedModel):
            self.member_histories = [History(meta=dict(self.meta)) for _ in range(self.model.size)]
        torch.manual_seed(self.seed)
        if resume:
            if self.checkpoint is None:
                raise CheckpointError("resume=True needs the Trainer's checkpoint path")
            self.load_state_dict(load_checkpoint(self.checkpoint), train)
        for callback in self.callbacks:
            callback.on_fit_start(self)
        first = len(self.history.epochs) + 1
        if self.should_stop:  # e.g. a resumed run that had already stopped early
            first = self.epochs + 1
        for epoch in range(first, self.epochs + 1):
            start = time.perf_counter()
            trained = self._train_epoch(train, epoch)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            evaluated = {
                prefix: self.evaluate_members(data)
                for prefix, data in (("val", val), ("test", test))
                if data is not None
            }
            record = self._epoch_record(epoch, trained, evaluated)
            record["seconds"] = time.perf_counter() - start
            for history in self.member_histories:
                history.epochs[-1]["seconds"] = record["seconds"]
            self.history.epochs.append(record)
            for callback in self.callbacks:  # duck-typed callbacks may lack the newer hooks
                if hasattr(callback, "on_validation_end"):
                    callback.on_validation_end(self, record)
            if self.checkpoint is not None:
                save_torch(self.checkpoint, self.state_dict(train))
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            if self.should_stop:
                break
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history


# -- callbacks: early stopping, best-model checkpoint, CSV log -------------------------


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
            "; pass a validation set (Trainer.fit(..., val=...) or recipes.train(..., val_split=N))"
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
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)) or min_delta < 0:
            raise MnistliteError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
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
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)) or min_delta < 0:
            raise MnistliteError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
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
