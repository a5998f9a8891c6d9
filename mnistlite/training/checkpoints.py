"""Checkpoints: the one assembly of a resumable state, and reading it back safely.

A checkpoint holds the model, the optimizer, the scheduler, every RNG state (torch's,
CUDA's where used, the batches' generator), the history and the callbacks' states. A run's
checkpoint and a stacked run's per-member checkpoint are made by the same
:func:`assemble`, so a member's file is one a single run can resume from.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from mnistlite.errors import CheckpointError
from mnistlite.training.history import History

__all__ = ["CHECKPOINT_FORMAT", "assemble", "load_checkpoint", "member_optimizer_state"]

CHECKPOINT_FORMAT = "mnistlite-checkpoint-v1"


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


def assemble(
    *,
    history: History,
    epochs: int,
    model: dict[str, Any],
    optimizer: dict[str, Any],
    scheduler: Any,
    device: torch.device,
    data: Any = None,
    callbacks: dict[str, Any] | None = None,
    members: list[History] | None = None,
    averaged: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint of a run (or of one member of a stacked run).

    Args:
        history: The run's history so far; its length is the checkpoint's epoch.
        epochs: The epochs the run was asked for.
        model: The model's state dict.
        optimizer: The optimizer's state dict.
        scheduler: The learning-rate scheduler, or None.
        device: The training device (CUDA's RNG state is kept there).
        data: The training batches, whose generator state is kept if they have one.
        callbacks: Callback states by key.
        members: A stacked run's per-member histories.
        averaged: The state of a weight average, if one is kept
            (:class:`~mnistlite.training.WeightAverage`).
    """
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    if data is not None and hasattr(data, "state_dict"):
        rng["data"] = data.state_dict()
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": len(history.epochs),
        "epochs": epochs,
        "model": model,
        "optimizer": optimizer,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng,
        "history": history.to_dict(),
        "callbacks": dict(callbacks or {}),
    }
    if members is not None:
        state["members"] = [h.to_dict() for h in members]
    if averaged is not None:
        state["ema"] = averaged
    return state


def member_optimizer_state(state: dict[str, Any], index: int) -> dict[str, Any]:
    """An optimizer state dict of stacked parameters cut down to member ``index``."""
    state = dict(state)
    state["state"] = {
        key: {
            name: value[index].clone() if torch.is_tensor(value) and value.dim() else value
            for name, value in entry.items()
        }
        for key, entry in state["state"].items()
    }
    return state
