"""Weight averaging: an exponential moving average of a model's weights, for evaluation.

Built on ``torch.optim.swa_utils.AveragedModel`` with
``torch.optim.swa_utils.get_ema_multi_avg_fn``: after every training step the
average moves towards the weights by ``1 - decay``; BatchNorm statistics are averaged too
(``use_buffers=True``), so the averaged network needs no extra pass over the data. The
Trainer evaluates the averaged weights, and the model ends its fit holding them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from mnistlite import _checks

__all__ = ["WeightAverage", "check_decay"]


def check_decay(decay: Any) -> float | None:
    """Return ``decay`` if it is None or a number in (0, 1); else raise, naming it."""
    return _checks.decay("ema", decay)


class WeightAverage:
    """An exponential moving average of ``model``'s parameters and buffers.

    Args:
        model: The module trained (a plain network or a stacked one: each member's
            weights are averaged on their own).
        decay: How much of the average each step keeps, in (0, 1) (e.g. 0.999).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = check_decay(decay)
        self.averaged = AveragedModel(
            model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True
        )

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (after a training step)."""
        self.averaged.update_parameters(model)

    def weights(self) -> dict[str, torch.Tensor]:
        """The averaged weights, as the model's ``state_dict`` keys."""
        return self.averaged.module.state_dict()

    def copy_into(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (its integer buffers, counts, stay)."""
        own = model.state_dict()
        averaged = self.weights()
        model.load_state_dict(
            {
                key: value if value.is_floating_point() else own[key]
                for key, value in averaged.items()
            }
        )

    @contextlib.contextmanager
    def swapped_into(self, model: nn.Module) -> Iterator[None]:
        """``model`` holds the averaged weights inside the block, its own again after."""
        own = {key: value.detach().clone() for key, value in model.state_dict().items()}
        self.copy_into(model)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        """The average and its count of updates, for checkpoints."""
        return self.averaged.state_dict()

    def member_state_dict(self, index: int) -> dict[str, Any]:
        """Member ``index`` of an average over a stacked model, as a single run's average."""
        module = self.averaged.module
        member = module.member_state_dict(index)  # type: ignore[operator]
        return {"n_averaged": self.averaged.n_averaged.clone(), **_prefixed(member)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.averaged.load_state_dict(state)


def _prefixed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"module.{key}": value for key, value in state.items()}
