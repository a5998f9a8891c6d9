"""The sweep's search space: step 5's skeleton with searched widths, blocks and settings."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mnistlite.models.spec import Conv, DWConv, Head, NetSpec, OneByOne, Pool, Shared
from mnistlite.recipes import Recipe

if TYPE_CHECKING:
    import optuna

__all__ = ["SEARCH_SPACE", "smallest_network", "suggest", "sweep_recipe"]

#: The search space's name and version, stored with a study: a study filled by
#: another :func:`suggest` is refused, as its trials would not compare.
SEARCH_SPACE = "step5-skeleton/1"


def _widest(budget: int) -> int:
    """The largest channel width worth proposing under ``budget`` (even, 8 to 64)."""
    side = 2 * round(math.sqrt(max(budget, 1) / 10) / 2)
    return max(8, min(64, side))


def suggest(trial: optuna.trial.BaseTrial, budget: int) -> tuple[NetSpec, dict[str, Any]]:
    """Propose a network and recipe settings for one trial.

    The network follows step 5's skeleton: ``Conv(1, c1, 3, pad 1)`` (28×28),
    ``Conv(c1, c2)`` (26), ``Pool`` (13), an optional 1×1 transition, then 2 or 3 tail
    layers, each a 3×3 :class:`~mnistlite.models.Conv` or a depthwise-separable
    :class:`~mnistlite.models.DWConv` of its own width (11, 9, 7), optionally followed by
    a shared-weight :class:`~mnistlite.models.Shared` block applied 1–3 times at the same
    width, and the GAP head. The network's norm is BatchNorm or the 2-parameter
    :class:`~mnistlite.blocks.ScalarBatchNorm2d`. Widths are even numbers from 4 to a
    maximum that grows with ``budget``; dropout lies in [0, 0.1]. Nothing here checks
    the budget: :func:`objective` does.

    The recipe settings are SGD (momentum 0.9, Nesterov) with a log-uniform peak
    learning rate in [0.01, 0.4] and weight decay in [1e-6, 1e-3], rotation up to 15°,
    translation up to 0.12, label smoothing up to 0.15, a batch size of 64, 128 or
    256, and a one-cycle or step schedule.

    Args:
        trial: The Optuna trial (an ``optuna.trial.FixedTrial`` replays one).
        budget: The parameter budget, which sets the widest width proposed.

    Returns:
        ``(spec, overrides)``: the network, and :class:`~mnistlite.recipes.Recipe`
        field values (see :func:`sweep_recipe`).
    """
    spec = _suggest_network(trial, budget)
    overrides = {
        "lr": trial.suggest_float("lr", 0.01, 0.4, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "rotation": trial.suggest_float("rotation", 0.0, 15.0),
        "translate": trial.suggest_float("translate", 0.0, 0.12),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.15),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "schedule": trial.suggest_categorical("schedule", ["onecycle", "step"]),
    }
    return spec, overrides


def _suggest_network(trial: optuna.trial.BaseTrial, budget: int) -> NetSpec:
    """The network half of :func:`suggest`."""
    widest = _widest(budget)

    def width(name: str) -> int:
        return trial.suggest_int(name, 4, widest, step=2)

    c1, c2 = width("c1"), width("c2")
    layers: list[Any] = [Conv(1, c1, 3, 1), Conv(c1, c2, 3, 0), Pool()]
    channels = c2
    if trial.suggest_categorical("transition", ["1x1", "none"]) == "1x1":
        out = width("t")
        layers.append(OneByOne(channels, out))
        channels = out
    for i in range(trial.suggest_int("tail_layers", 2, 3)):
        block = trial.suggest_categorical(f"tail{i}_block", ["conv", "dw"])
        out = width(f"tail{i}_width")
        layers.append(Conv(channels, out, 3, 0) if block == "conv" else DWConv(channels, out))
        channels = out
    repeats = trial.suggest_int("shared_repeats", 0, 3)
    if repeats:
        layers.append(Shared(channels, repeats))
    layers.append(Head(channels))
    return NetSpec(
        layers=tuple(layers),
        dropout=trial.suggest_float("dropout", 0.0, 0.1),
        norm=trial.suggest_categorical("norm", ["batch", "scalar"]),
    )


def smallest_network() -> NetSpec:
    """The network of :func:`suggest`'s space with the fewest parameters (332)."""
    return NetSpec(
        layers=(Conv(1, 4, 3, 1), Conv(4, 4, 3, 0), Pool(), DWConv(4, 4), DWConv(4, 4), Head(4)),
        norm="scalar",
    )


def sweep_recipe(overrides: dict[str, Any], epochs: int) -> Recipe:
    """The :class:`~mnistlite.recipes.Recipe` a trial trains with.

    Fixed parts: SGD with momentum 0.9 and Nesterov, bilinear augmentation and, for
    the step schedule, one decay by 10 after two thirds of the epochs. The recipe's
    ``model`` field names step 5 (the skeleton of the search space) but the network
    trained is the trial's spec.

    Args:
        overrides: Recipe fields, as :func:`suggest` returns them.
        epochs: Training epochs.
    """
    base = Recipe(
        name="sweep",
        model="step5",
        epochs=epochs,
        nesterov=True,
        interpolation="bilinear",
        step_size=max(1, round(2 * epochs / 3)),
        gamma=0.1,
    )
    return base.replace(**overrides)
