"""The Trainer: the fit loop over epochs, with evaluation, callbacks and exact resume.

Lightning's vocabulary without Lightning: a :class:`Trainer` trains any model on any
iterable of ``(images, labels)`` batches (normally :class:`mnistlite.data.Batches`).
After every epoch it writes a checkpoint atomically (:mod:`~mnistlite.training.checkpoints`);
resuming from it continues the run so that, on the CPU, a run killed with SIGKILL and
resumed ends with the same weights and history as the run left alone. The step itself is
:class:`~mnistlite.training.step.TrainStep`'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite import _checks
from mnistlite.atomic import save_torch
from mnistlite.data import MNISTTensors
from mnistlite.errors import CheckpointError, MnistliteError
from mnistlite.stacked import StackedModel
from mnistlite.training import checkpoints, devices
from mnistlite.training.averaging import WeightAverage, check_decay
from mnistlite.training.callbacks import Callback, callback_states, keyed
from mnistlite.training.evaluation import eval_batches, evaluate_members, predict
from mnistlite.training.history import History
from mnistlite.training.step import TrainStep, plain_sgd

__all__ = ["Trainer"]

Optimizer = torch.optim.Optimizer
Scheduler = Any  # torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau-like


class Trainer:
    """Train, evaluate and checkpoint a classifier.

    Every batch goes through one :class:`.TrainStep` (eager, or on CUDA one captured
    graph). A :class:`~mnistlite.stacked.StackedModel` trains many seeds side by side
    through the same step; each member's record is kept in :attr:`member_histories`.

    Args:
        model: Any module mapping images to logits (N, 10), or a
            :class:`~mnistlite.stacked.StackedModel` mapping (S, N, ...) to (S, N, 10).
        optimizer: An optimizer over ``model``'s parameters, or a factory
            ``params -> optimizer``. Default: SGD, lr 0.01, momentum 0.9 (the notebooks').
            SGD is applied by :func:`.sgd_update` (the same rule, capturable in a CUDA
            graph); any other optimizer by its own ``step()``.
        scheduler: A learning-rate scheduler, or a factory ``optimizer -> scheduler``.
        scheduler_interval: ``"epoch"`` steps the scheduler once per epoch, after
            training and before the test pass (the notebooks' StepLR); ``"step"`` once per
            batch (one-cycle schedules).
        epochs: Number of epochs (>= 1).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA, then
            Apple's MPS, then the CPU).
        seed: Seeds torch's global generator (dropout) at the start of :meth:`fit`.
        callbacks: :class:`Callback` objects.
        progress: Show a tqdm bar per epoch with loss and accuracy.
        checkpoint: Path of the checkpoint written after every epoch (None: none).
        label_smoothing: Cross-entropy label smoothing.
        channels_last: ``torch.channels_last`` memory format: ``True``, ``False`` or
            ``"auto"`` (:func:`.resolve_channels_last`); the choice is in
            ``meta["channels_last"]``.
        compile: Run the model through :func:`torch.compile`.
        bf16: bfloat16 autocast for training forward passes: ``True``, ``False`` or
            ``"auto"`` (:func:`.resolve_bf16`); the choice is in ``meta["bf16"]``.
            Evaluation is always fp32.
        cuda_graphs: Capture the step as one CUDA graph: ``True``, ``False`` or
            ``"auto"`` (:func:`.resolve_cuda_graphs`); a short last batch runs eagerly.
        meta: Run information copied into every :class:`History` (recipe, seed, ...).
        teacher: A trained model to distil from, frozen, in eval mode, fed the same
            (augmented) batch: the loss is :func:`.distillation_loss`. None: labels alone.
        distill_temperature: Softening temperature of the teacher and student outputs
            (default 4.0, Hinton et al.'s usual range 2–8).
        distill_weight: Share of the teacher term in the loss, in [0, 1] (default 0.5).
        ema: Keep an exponential moving average of the weights with this decay, e.g.
            0.999 (:class:`~mnistlite.training.WeightAverage`): what is evaluated, and
            what the model holds after :meth:`fit`. None: off.

    Attributes:
        history: The :class:`History` of the current or last :meth:`fit` (for a stacked
            model, every value is the mean over the members).
        member_histories: For a stacked model, one :class:`History` per member.
        should_stop: Set by callbacks to end training after the current epoch.
    """

    #: Eager steps before a graphed step is captured (they are real training steps).
    WARMUP_STEPS = TrainStep.WARMUP_STEPS

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
        ema: float | None = None,
    ) -> None:
        _check_arguments(model, teacher, epochs, scheduler_interval, seed)
        loss_options = _loss_options(label_smoothing, distill_temperature, distill_weight)
        self.label_smoothing = label_smoothing
        self.distill_temperature = loss_options["temperature"]
        self.distill_weight = loss_options["weight"]
        self.device = devices.resolve_device(device)
        self.stacked = isinstance(model, StackedModel)
        self.channels_last = _channels_last(channels_last, self.device, model, self.stacked)
        self.model = _placed(model, self.device, self.channels_last)
        self.teacher = teacher
        if teacher is not None:
            self.teacher = _placed(teacher, self.device, self.channels_last).eval()
            self.teacher.requires_grad_(False)
        self.optimizer = _optimizer(optimizer, self.model)
        if scheduler is not None and callable(scheduler) and not hasattr(scheduler, "step"):
            scheduler = scheduler(self.optimizer)
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.epochs, self.seed, self.progress = epochs, seed, progress
        self.callbacks = list(callbacks)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.bf16 = devices.resolve_bf16(bf16, self.device)
        self.cuda_graphs = devices.resolve_cuda_graphs(
            cuda_graphs, self.device, plain_sgd(self.optimizer), compile
        )
        self._step = _make_step(self, compile, loss_options)
        self.averaged = WeightAverage(self.model, ema) if check_decay(ema) else None
        choices = {"bf16": self.bf16, "cuda_graphs": self.cuda_graphs}
        self.meta = {**dict(meta or {}), **choices, "channels_last": self.channels_last}
        self.meta["ema"] = check_decay(ema)
        self.history = History(meta=dict(self.meta))
        self.member_histories: list[History] = []
        self.should_stop = False

    @property
    def members(self) -> int:
        """How many models train side by side (1 for a plain model)."""
        return self.model.size if isinstance(self.model, StackedModel) else 1

    def train_step(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        scalars: list[tuple[Any, Any]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step on a batch (see :meth:`.TrainStep.run`)."""
        return self._step.run(images, labels, scalars)

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch: through the captured CUDA graph where it fits, else eagerly.

        The first :attr:`WARMUP_STEPS` steps of a graphed run are eager (real steps, on a
        side stream), then the step is captured and replayed for every batch of that
        shape. The learning-rate scheduler is not stepped here.

        Returns:
            ``(losses, correct)``: the batch's mean loss and number of correct
            predictions, 0-dim tensors, or (S,) for a stacked model.
        """
        return self._step(images, labels)

    # -- evaluation ------------------------------------------------------------------

    def evaluate_members(
        self,
        data: MNISTTensors | Sequence[MNISTTensors] | Iterable[Any],
        batch_size: int | None = None,
    ) -> list[dict[str, float]]:
        """Return ``loss`` and ``accuracy`` for each member (one entry for a plain model).

        Members see the same images, unless ``data`` is a list of
        :class:`~mnistlite.data.MNISTTensors`, one per member. Arguments as in :meth:`evaluate`.
        """
        batches = eval_batches(data, _eval_batch_size(batch_size, self.device), self.members)
        return evaluate_members(
            self.model,
            self._step.logits,
            batches,
            device=self.device,
            members=self.members,
            stacked=self.stacked,
        )

    def evaluate(
        self, data: MNISTTensors | Iterable[Any], batch_size: int | None = None
    ) -> dict[str, float]:
        """Return the mean cross-entropy ``loss`` and ``accuracy`` (percent) on ``data``.

        Always in fp32. For a stacked model, the means over its members
        (:meth:`evaluate_members`).

        Args:
            data: :class:`~mnistlite.data.MNISTTensors`, or any iterable of
                ``(images, labels)`` batches.
            batch_size: Batch size for :class:`~mnistlite.data.MNISTTensors`; None: 256 on
                the CPU (activations stay in cache; ``benchmarks/RESULTS.md``), 2,000 on a GPU.
        """
        results = self.evaluate_members(data, batch_size)
        return {
            "loss": sum(r["loss"] for r in results) / len(results),
            "accuracy": sum(r["accuracy"] for r in results) / len(results),
        }

    def predict(self, images: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Return the predicted digit (N,) for normalized images (N, 1, 28, 28).

        Use ``trainer.model(images)`` for the logits themselves. ``batch_size`` as in
        :meth:`evaluate`. A stacked model returns (S, N): each member's predictions.
        """
        batch_size = _eval_batch_size(batch_size, self.device)
        members = self.members if self.stacked else None
        return predict(self.model, self._step.logits, images, batch_size, self.device, members)

    # -- checkpoints -----------------------------------------------------------------

    def state_dict(self, train: Iterable[Any] | None = None) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer, scheduler, RNGs, history."""
        return checkpoints.assemble(
            history=self.history,
            epochs=self.epochs,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler,
            device=self.device,
            data=train,
            callbacks=callback_states(self.callbacks),
            members=self.member_histories if self.stacked else None,
            averaged=self.averaged.state_dict() if self.averaged is not None else None,
        )

    def member_state_dict(self, index: int, train: Iterable[Any] | None = None) -> dict[str, Any]:
        """Member ``index`` of a stacked model as the checkpoint of a single run.

        Its weights, optimizer slice, schedule, RNG states and history: a single run with
        the member's seed can resume from it.

        Raises:
            MnistliteError: If the model is not stacked.
        """
        if not isinstance(self.model, StackedModel):
            raise MnistliteError("member_state_dict needs a stacked model")
        members = getattr(train, "members", None)
        return checkpoints.assemble(
            history=self.member_histories[index],
            epochs=self.epochs,
            model=self.model.member_state_dict(index),
            optimizer=checkpoints.member_optimizer_state(self.optimizer.state_dict(), index),
            scheduler=self.scheduler,
            device=self.device,
            data=members[index] if members is not None else None,
            averaged=self.averaged.member_state_dict(index) if self.averaged else None,
        )

    def load_state_dict(self, state: dict[str, Any], train: Iterable[Any] | None = None) -> None:
        """Restore what :meth:`state_dict` saved (the inverse of it).

        Raises:
            CheckpointError: If the checkpoint does not fit this model or optimizer.
        """
        try:
            _restore(self, state, train)
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint does not match this run: {err}") from None
        self._step.reset()  # the optimizer's state tensors are new: capture again

    # -- the fit loop ----------------------------------------------------------------

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
                :class:`~mnistlite.training.EarlyStopping` and
                :class:`~mnistlite.training.ModelCheckpoint`. For a stacked model it may be
                a list with one set per member.
            resume: Continue from ``checkpoint`` instead of starting afresh.

        Raises:
            CheckpointError: If ``resume`` is set and the checkpoint is missing or bad.
        """
        for epoch in range(_start(self, train, resume), self.epochs + 1):
            start = time.perf_counter()
            trained = _train_epoch(self, train, epoch)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            record = _validate(self, epoch, trained, (val, test), start)
            if self.checkpoint is not None:
                save_torch(self.checkpoint, self.state_dict(train))
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            if self.should_stop:
                break
        if self.averaged is not None:  # the model ends its fit holding the average
            self.averaged.copy_into(self.model)
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history


def _check_arguments(
    model: nn.Module, teacher: nn.Module | None, epochs: int, scheduler_interval: str, seed: int
) -> None:
    """Refuse a model or teacher that is no module, and out-of-range settings."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _checks.positive_int("epochs", epochs)
    _checks.seed("seed", seed)
    if scheduler_interval not in ("epoch", "step"):
        raise MnistliteError(
            f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
        )
    if teacher is not None and not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module, got {type(teacher).__name__}")
    if teacher is model:
        raise MnistliteError("the teacher must be a different module from the model")


def _channels_last(
    channels_last: bool | str, device: torch.device, model: nn.Module, stacked: bool
) -> bool:
    """The memory-format choice: never for a stacked model, where asking for it is an error."""
    resolved = devices.resolve_channels_last(channels_last, device, model)  # checks it
    if stacked and channels_last is True:
        raise MnistliteError("channels_last is not supported for a stacked model")
    return resolved and not stacked


class _Progress:
    """The per-epoch tqdm bar: loss and running accuracy, read back every 20 steps on CPUs."""

    def __init__(self, trainer: Trainer, total: int, epoch: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"epoch {epoch}/{trainer.epochs}", unit="batch")
        self.on_cpu = trainer.device.type == "cpu"
        self.members = trainer.members
        self.correct, self.steps = 0, 0

    def update(self, losses: torch.Tensor, corrects: list[torch.Tensor], seen: int) -> None:
        self.bar.update(1)
        # Reading a value back waits for the device: on CUDA only at the epoch's end.
        if self.on_cpu and (self.bar.n % 20 == 0 or self.bar.n == self.bar.total):
            self.correct += int(torch.stack(corrects[self.steps :]).sum())
            self.steps = len(corrects)
            acc = 100.0 * self.correct / (seen * self.members)
            self.bar.set_postfix(loss=f"{losses.mean().item():.4f}", acc=f"{acc:.2f}")

    def close(self, mean_loss: list[float] | None, accuracy: list[float] | None) -> None:
        if mean_loss is not None and accuracy is not None and not self.on_cpu:
            loss, acc = sum(mean_loss) / self.members, sum(accuracy) / self.members
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.2f}")
        self.bar.close()


def _train_epoch(trainer: Trainer, train: Iterable[Any], epoch: int) -> dict[str, Any]:
    """One pass over ``train``: per-step results stay on the device, summed at the end."""
    trainer.model.train()
    lr = trainer.optimizer.param_groups[0]["lr"]
    members = trainer.members
    bar = _Progress(trainer, len(train), epoch) if trainer.progress else None  # type: ignore[arg-type]
    losses: list[torch.Tensor] = []
    corrects: list[torch.Tensor] = []
    sizes: list[int] = []
    for images, labels in train:
        batch_losses, batch_correct = trainer.step(images, labels)
        if trainer.averaged is not None:
            trainer.averaged.update(trainer.model)
        if trainer.scheduler is not None and trainer.scheduler_interval == "step":
            trainer.scheduler.step()
        losses.append(batch_losses)
        corrects.append(batch_correct)
        sizes.append(labels.shape[-1])
        if bar is not None:
            bar.update(batch_losses, corrects, sum(sizes))
    seen = sum(sizes)
    if seen == 0:
        if bar is not None:
            bar.close(None, None)
        raise MnistliteError("the training data yielded no batches")
    per_step = torch.stack(losses).view(len(losses), members)
    weights = torch.tensor(sizes, dtype=per_step.dtype, device=per_step.device)
    mean_loss = ((per_step * weights[:, None]).sum(0) / seen).tolist()
    correct = torch.stack(corrects).view(len(corrects), members).sum(0)
    accuracy = (100.0 * correct.double() / seen).tolist()
    if bar is not None:
        bar.close(mean_loss, accuracy)
    return {
        "train_loss": mean_loss,
        "train_acc": accuracy,
        "lr": lr,
        "batches": per_step.T.tolist(),
    }


def _validate(
    trainer: Trainer,
    epoch: int,
    trained: dict[str, Any],
    data: tuple[Any, Any],
    start: float,
) -> dict[str, Any]:
    """Evaluate the epoch (the averaged weights, if kept), log its record, tell callbacks.

    Callbacks' ``on_validation_end`` sees the model holding the weights that were
    evaluated, so a best-model checkpoint keeps what it scored.
    """
    averaged = trainer.averaged
    swap = averaged.swapped_into(trainer.model) if averaged else contextlib.nullcontext()
    with swap:
        evaluated = {
            prefix: trainer.evaluate_members(part)
            for prefix, part in zip(("val", "test"), data, strict=True)
            if part is not None
        }
        record = _epoch_record(trainer, epoch, trained, evaluated)
        record["seconds"] = time.perf_counter() - start
        for history in trainer.member_histories:
            history.epochs[-1]["seconds"] = record["seconds"]
        trainer.history.epochs.append(record)
        for callback in trainer.callbacks:  # duck-typed callbacks may lack the newer hooks
            if hasattr(callback, "on_validation_end"):
                callback.on_validation_end(trainer, record)
    return record


def _epoch_record(
    trainer: Trainer,
    epoch: int,
    trained: dict[str, Any],
    evaluated: dict[str, list[dict[str, float]]],
) -> dict[str, Any]:
    """The epoch's record (means over members); each member's own record is kept."""
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
    if trainer.stacked:
        for history, row, batches in zip(
            trainer.member_histories, rows, trained["batches"], strict=True
        ):
            history.epochs.append(row)
            history.batch_losses.extend(batches)
    else:
        trainer.history.batch_losses.extend(trained["batches"][0])
    return record


def _make_step(trainer: Trainer, compile: bool, loss_options: dict[str, float]) -> TrainStep:
    """The trainer's step function over its model, optimizer and choices."""
    return TrainStep(
        trainer.model,
        torch.compile(trainer.model) if compile else trainer.model,
        trainer.optimizer,
        trainer.device,
        bf16=trainer.bf16,
        channels_last=trainer.channels_last,
        stacked=trainer.stacked,
        teacher=trainer.teacher,
        loss_options=loss_options,
        cuda_graphs=trainer.cuda_graphs,
    )


def _eval_batch_size(batch_size: int | None, device: torch.device) -> int:
    if batch_size is None:
        return 256 if device.type == "cpu" else 2000
    return _checks.positive_int("batch_size", batch_size)


def _loss_options(label_smoothing: float, temperature: float, weight: float) -> dict[str, float]:
    """The loss's settings, checked: :func:`.distillation_loss`'s keyword arguments."""
    return {
        "temperature": float(_checks.finite_positive("distill_temperature", temperature)),
        "weight": float(_checks.probability("distill_weight", weight, high_inclusive=True)),
        "label_smoothing": _checks.probability("label_smoothing", label_smoothing),
    }


def _placed(module: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    module = module.to(device)
    return module.to(memory_format=torch.channels_last) if channels_last else module


def _optimizer(optimizer: Any, model: nn.Module) -> Optimizer:
    """The given optimizer, one made by a factory, or the default SGD (lr 0.01, momentum 0.9)."""
    if optimizer is None:
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if not isinstance(optimizer, torch.optim.Optimizer):
        return optimizer(model.parameters())
    return optimizer


def _restore(trainer: Trainer, state: dict[str, Any], train: Iterable[Any] | None) -> None:
    """Put a checkpoint's weights, optimizer, schedule, RNGs, histories, callbacks back."""
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state.get("scheduler") is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(state["rng"]["cuda"], trainer.device)
    if train is not None and "data" in state["rng"] and hasattr(train, "load_state_dict"):
        train.load_state_dict(state["rng"]["data"])
    trainer.history = History.from_dict(state["history"])
    if trainer.stacked:
        trainer.member_histories = [History.from_dict(h) for h in state["members"]]
    if trainer.averaged is not None:
        trainer.averaged.load_state_dict(state["ema"])
    saved = state.get("callbacks") or {}
    for key, callback in keyed(trainer.callbacks):
        if key in saved and hasattr(callback, "load_state_dict"):
            callback.load_state_dict(saved[key])


def _start(trainer: Trainer, train: Iterable[Any], resume: bool) -> int:
    """Fresh histories (or the checkpoint's), callbacks started; the first epoch to run."""
    trainer.should_stop = False
    trainer.history = History(meta=dict(trainer.meta))
    trainer.member_histories = [History(meta=dict(trainer.meta)) for _ in range(trainer.members)]
    if not trainer.stacked:
        trainer.member_histories = []
    torch.manual_seed(trainer.seed)
    if resume:
        if trainer.checkpoint is None:
            raise CheckpointError("resume=True needs the Trainer's checkpoint path")
        trainer.load_state_dict(checkpoints.load_checkpoint(trainer.checkpoint), train)
    for callback in trainer.callbacks:
        callback.on_fit_start(trainer)
    # e.g. a resumed run that had already stopped early
    return trainer.epochs + 1 if trainer.should_stop else len(trainer.history.epochs) + 1
