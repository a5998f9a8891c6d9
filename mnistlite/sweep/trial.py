"""One trial of a sweep: propose, check the budget, train through :mod:`mnistlite.runs`, score."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from mnistlite.data import MNISTTensors
from mnistlite.models.spec import SpecNet, describe_spec, spec_to_dict
from mnistlite.runs import fit_model
from mnistlite.sweep.space import suggest, sweep_recipe
from mnistlite.sweep.studies import require_optuna
from mnistlite.training import Callback, Trainer

if TYPE_CHECKING:
    import optuna

__all__ = ["objective"]


class _ReportToTrial(Callback):
    """Report each epoch's validation accuracy to the trial; stop hopeless trials early."""

    def __init__(self, trial: optuna.trial.Trial, optuna: ModuleType) -> None:
        self.trial = trial
        self.optuna = optuna

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Report, and raise ``TrialPruned`` when the pruner says so (not after the last)."""
        epoch = int(record["epoch"])
        self.trial.report(record["val_acc"], epoch)
        self.trial.set_user_attr("val_acc", record["val_acc"])
        if epoch < trainer.epochs and self.trial.should_prune():
            self.trial.set_user_attr("stopped_at_epoch", epoch)
            raise self.optuna.TrialPruned(f"stopped after epoch {epoch} by the pruner")


def _budgeted_model(trial: optuna.trial.Trial, budget: int, seed: int) -> tuple[Any, Any]:
    """The trial's network and recipe settings, refused (pruned) over ``budget``."""
    from mnistlite import params

    optuna = require_optuna()
    spec, overrides = suggest(trial, budget)
    trial.set_user_attr("spec", spec_to_dict(spec))
    trial.set_user_attr("net", describe_spec(spec))
    torch.manual_seed(seed)
    model = SpecNet(spec)
    trial.set_user_attr("params", params.count_parameters(model))
    try:
        params.check_budget(model, budget)
    except ValueError as err:
        trial.set_user_attr("rejected", str(err))
        raise optuna.TrialPruned(f"rejected before training: {err}") from None
    trial.set_user_attr("macs", params.summary(model).total_macs)
    return model, overrides


def _recorded(recipe: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """The recipe fields a trial set (and the step schedule's fixed ones), for the study."""
    recorded = {key: getattr(recipe, key) for key in (*overrides, "epochs")}
    if recipe.schedule == "step":
        recorded.update(step_size=recipe.step_size, gamma=recipe.gamma)
    return recorded


def objective(
    trial: optuna.trial.Trial,
    *,
    budget: int,
    train: MNISTTensors,
    val: MNISTTensors,
    epochs: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
    before_training: Callable[[optuna.trial.Trial], None] | None = None,
) -> float:
    """Build, budget-check, train and score one trial; return validation accuracy (%).

    Over ``budget``, the network is refused before any training (``optuna.TrialPruned``,
    with the user attributes ``params`` and ``rejected``). Otherwise
    :func:`mnistlite.runs.fit_model` trains it with :func:`~mnistlite.sweep.sweep_recipe`,
    reporting every epoch's ``val_acc`` to the trial (a pruner may stop it). User
    attributes: ``params``, ``macs``, ``val_acc``, ``spec``, ``net``, ``recipe``, ``seconds``.

    Args:
        trial: The Optuna trial.
        budget: The largest allowed number of parameters.
        train: Training images (a split of the training set).
        val: Validation images, held out from the training set.
        epochs: Training epochs.
        seed: Seeds the initialisation, shuffling, augmentation and dropout.
        device: Where to train.
        progress: Show the Trainer's progress bars.
        before_training: Called with the trial once its network fits the budget, just
            before training; it may raise ``optuna.TrialPruned`` to give the trial up.

    Raises:
        optuna.TrialPruned: If the network is over budget, the pruner stops it, or
            ``before_training`` gives it up.
    """
    model, overrides = _budgeted_model(trial, budget, seed)
    if before_training is not None:
        before_training(trial)
    recipe = sweep_recipe(overrides, epochs)
    trial.set_user_attr("recipe", _recorded(recipe, overrides))
    callbacks = [_ReportToTrial(trial, require_optuna())]
    start = time.perf_counter()
    try:
        history = fit_model(
            recipe,
            model,
            train,
            val=val,
            seed=seed,
            device=device,
            callbacks=callbacks,
            progress=progress,
        )
    finally:
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
    accuracy = float(history.final["val_acc"])
    trial.set_user_attr("val_acc", accuracy)
    return accuracy
