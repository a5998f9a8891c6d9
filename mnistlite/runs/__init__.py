"""A training run, from a recipe to trained models and their files: the one owner.

:func:`train` turns a :class:`~mnistlite.recipes.Recipe` into a
:class:`~mnistlite.training.Trainer` (the only place that does, teacher included: the
CLI, :mod:`mnistlite.sweep` and :func:`mnistlite.runs.train` all come here), owns the
output folder (:class:`OutFolder`: one run's files, or ``seed-S/`` for each of many) and
resuming it, and returns one :class:`Run` for one seed or many::

    from mnistlite import recipes, runs

    run = runs.train(recipes.get_recipe("lite1k"), root="data", seeds=[1, 2, 3], out="runs/l")
    print(run.report())  # one line per seed, then mean ± std

A run with one seed writes ``history.json``, ``checkpoint.pt`` (the resumable state, after
every epoch) and ``model.pt`` (the final weights) into its folder, which it creates and
removes again if it fails before its first epoch ends. Seeds trained side by side (a
:class:`~mnistlite.stacked.StackedModel`) each start from the initial weights of a single
run with that seed and see that run's images in that run's order (and its own validation
split); only their dropout draws differ, since they share torch's generator. Each seed's
files go to ``seed-S/`` (its ``checkpoint.pt`` is a single-run checkpoint of that seed),
and the folder's own ``checkpoint.pt`` holds the whole run, from which a resume continues.

The package's modules: :mod:`~mnistlite.runs.run` (:func:`train`),
:mod:`~mnistlite.runs.build` (recipe -> Trainer), :mod:`~mnistlite.runs.folder` (the
output folder and the checks before resuming) and :mod:`~mnistlite.runs.result`
(:class:`Run`, :class:`Summary`).
"""

from mnistlite.runs.build import (
    build_optimizer,
    build_scheduler,
    build_teacher,
    build_trainer,
    fit_model,
)
from mnistlite.runs.folder import OutFolder, check_out_dir, check_same_run
from mnistlite.runs.result import Run, Summary
from mnistlite.runs.run import check_seeds, train

__all__ = [
    "OutFolder",
    "Run",
    "Summary",
    "build_optimizer",
    "build_scheduler",
    "build_teacher",
    "build_trainer",
    "check_out_dir",
    "check_same_run",
    "check_seeds",
    "fit_model",
    "train",
]
