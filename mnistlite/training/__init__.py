"""Training: the fit loop, its step, callbacks, devices, losses and checkpoints.

One module per job; import what you need from here::

    from mnistlite.training import Trainer, EarlyStopping

- :mod:`~mnistlite.training.trainer`: :class:`Trainer`, the fit loop over epochs, with
  evaluation, callbacks and exact resume.
- :mod:`~mnistlite.training.step`: :class:`~mnistlite.training.step.TrainStep`, the one
  step function (forward, loss, backward, update), eager or as a CUDA graph, and
  :func:`sgd_update`.
- :mod:`~mnistlite.training.losses`: :func:`distillation_loss`, the loss every run trains
  with (cross-entropy alone without a teacher).
- :mod:`~mnistlite.training.callbacks`: :class:`Callback` and :class:`EarlyStopping`,
  :class:`ModelCheckpoint`, :class:`CSVLogger`.
- :mod:`~mnistlite.training.history`: :class:`History`, what a run logged.
- :mod:`~mnistlite.training.checkpoints`: :func:`load_checkpoint` and the one assembly of a
  resumable state.
- :mod:`~mnistlite.training.devices`: the device and precision policy
  (:func:`resolve_device`, :func:`resolve_bf16`, :func:`resolve_channels_last`).
- :mod:`~mnistlite.training.evaluation`: loss and accuracy, per model side by side.
- :mod:`~mnistlite.training.averaging`: :class:`WeightAverage`, an exponential moving
  average of the weights (``Trainer(ema=0.999)``).

This package never imports :mod:`mnistlite.models`, :mod:`mnistlite.recipes`,
:mod:`mnistlite.runs` or the CLI.
"""

from mnistlite.errors import CheckpointError  # noqa: F401  (its old home; errors.py owns it)
from mnistlite.training.averaging import WeightAverage
from mnistlite.training.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint
from mnistlite.training.checkpoints import CHECKPOINT_FORMAT, load_checkpoint
from mnistlite.training.devices import (
    BF16_AUTO_CUDA,
    CHANNELS_LAST_AUTO_CUDA,
    NATIVE_BF16_CPU_FLAGS,
    auto_device,
    bf16_native,
    cpu_bf16_flags,
    resolve_bf16,
    resolve_channels_last,
    resolve_device,
)
from mnistlite.training.history import History
from mnistlite.training.losses import distillation_loss
from mnistlite.training.step import TrainStep, sgd_update
from mnistlite.training.trainer import Trainer

__all__ = [
    "BF16_AUTO_CUDA",
    "CHANNELS_LAST_AUTO_CUDA",
    "CHECKPOINT_FORMAT",
    "NATIVE_BF16_CPU_FLAGS",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "TrainStep",
    "Trainer",
    "WeightAverage",
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
