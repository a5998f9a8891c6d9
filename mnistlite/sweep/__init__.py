"""Budgeted sweeps: search networks and recipes under a parameter budget with Optuna.

Every trial proposes a network (:class:`~mnistlite.models.NetSpec`) and a recipe; a
network over the budget is rejected by :func:`mnistlite.params.check_budget` before
any training (the trial ends as ``PRUNED``, with the reason in its ``rejected`` user
attribute). The others are trained and scored by their **final-epoch** accuracy on a
validation split held out from the 60,000 training images; the test set is never read.

Trials live in Optuna's storage: a local SQLite file by default, Optuna's journal file
(``journal:///FILE``), or a database server (``postgresql+psycopg2://USER:PASSWORD@HOST/DB``),
so any number of processes, on one machine or many, fill one study together until it
holds the requested number of complete trials; ``workers=N`` starts N local processes.
A worker that dies mid-trial has its trial failed and retried by another (heartbeats
and Optuna's ``RetryFailedTrialCallback``)::

    from mnistlite import models, sweep
    from mnistlite.models import SpecNet

    study = sweep.run_sweep(budget=5000, trials=20, epochs=3, root="data", workers=2)
    print(sweep.best_trials_table("sqlite:///mnistlite-sweep.db", "mnistlite-budget5000"))
    net = SpecNet(models.spec_from_dict(study.best_trial.user_attrs["spec"]))

Optuna is an optional extra (``pip install "mnistlite[sweep]"``): this module imports it
only inside the functions that need it, so importing the module never requires it.
"""

from mnistlite.sweep.space import SEARCH_SPACE, smallest_network, suggest, sweep_recipe
from mnistlite.sweep.studies import (
    DEFAULT_STORAGE,
    INSTALL_HINT,
    best_trials_table,
    default_study_name,
    fail_lost_trials,
    load_study,
    open_study,
    plot_study,
    require_optuna,
)
from mnistlite.sweep.trial import objective
from mnistlite.sweep.workers import SweepSettings, run_sweep

__all__ = [
    "DEFAULT_STORAGE",
    "INSTALL_HINT",
    "SEARCH_SPACE",
    "SweepSettings",
    "best_trials_table",
    "default_study_name",
    "fail_lost_trials",
    "load_study",
    "objective",
    "open_study",
    "plot_study",
    "require_optuna",
    "run_sweep",
    "smallest_network",
    "suggest",
    "sweep_recipe",
]
