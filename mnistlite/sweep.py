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

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from mnistlite import _checks, _studies
from mnistlite.atomic import atomic_write
from mnistlite.data import MNISTTensors
from mnistlite.errors import MissingExtraError, MnistliteError
from mnistlite.models.spec import (
    Conv,
    DWConv,
    Head,
    NetSpec,
    OneByOne,
    Pool,
    Shared,
    SpecNet,
    describe_spec,
    spec_to_dict,
)
from mnistlite.recipes import Recipe
from mnistlite.training import Callback, Trainer

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_STORAGE",
    "INSTALL_HINT",
    "SEARCH_SPACE",
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

#: Where trials are stored unless ``storage`` / ``--storage`` says otherwise.
DEFAULT_STORAGE = "sqlite:///mnistlite-sweep.db"

#: The number of MNIST training images the validation split is taken from.
TRAIN_IMAGES = 60_000

#: The search space's name and version, stored with a study: a study filled by
#: another :func:`suggest` is refused, as its trials would not compare.
SEARCH_SPACE = "step5-skeleton/1"

#: Stop a process after this many over-budget proposals per requested trial.
_MAX_REJECTIONS_PER_TRIAL = 20

#: The line that installs the sweep's optional dependencies.
INSTALL_HINT = 'pip install "mnistlite[sweep]"'


def require_optuna() -> ModuleType:
    """Import and return ``optuna``, or raise an error that names the extra.

    Raises:
        MissingExtraError: If Optuna is not installed (an :class:`ImportError`); the
            message says ``pip install "mnistlite[sweep]"``.
    """
    try:
        import optuna
    except ImportError as err:
        raise MissingExtraError(
            f"sweeps need Optuna, the optional extra 'mnistlite[sweep]': {INSTALL_HINT}"
        ) from err
    return optuna


def default_study_name(budget: int) -> str:
    """The study name used when none is given: ``mnistlite-budget{budget}``."""
    return f"mnistlite-budget{budget}"


# -- the search space ----------------------------------------------------------------


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
    spec = NetSpec(
        layers=tuple(layers),
        dropout=trial.suggest_float("dropout", 0.0, 0.1),
        norm=trial.suggest_categorical("norm", ["batch", "scalar"]),
    )
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


class _ReportToTrial(Callback):
    """Report each epoch's validation accuracy to the trial; stop hopeless trials early."""

    def __init__(self, trial: optuna.trial.Trial, optuna: ModuleType) -> None:
        self.trial = trial
        self.optuna = optuna

    def on_epoch_end(self, trainer: Trainer, record: dict[str, float]) -> None:
        """Report, and raise ``TrialPruned`` when the pruner says so (not after the last)."""
        epoch = int(record["epoch"])
        self.trial.report(record["test_acc"], epoch)
        self.trial.set_user_attr("val_acc", record["test_acc"])
        if epoch < trainer.epochs and self.trial.should_prune():
            self.trial.set_user_attr("stopped_at_epoch", epoch)
            raise self.optuna.TrialPruned(f"stopped after epoch {epoch} by the pruner")


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

    The network from :func:`suggest` is counted first: over ``budget`` it raises
    ``optuna.TrialPruned`` before any training, with the user attributes
    ``params`` and ``rejected`` (the reason). Otherwise it trains for ``epochs`` on
    ``train`` and returns the final-epoch accuracy on ``val``, reporting every epoch to
    the trial so that a pruner may stop it early. User attributes stored: ``params``,
    ``macs``, ``val_acc``, ``spec`` (:func:`~mnistlite.models.spec_to_dict`), ``net``
    (:func:`~mnistlite.models.describe_spec`), ``recipe`` (the recipe fields set) and ``seconds``.

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
            before training; it may raise ``optuna.TrialPruned`` to give the trial up
            (:func:`run_sweep` uses it to train no more trials than the study asks for).

    Raises:
        optuna.TrialPruned: If the network is over budget, the pruner stops it, or
            ``before_training`` gives it up.
    """
    optuna = require_optuna()
    from mnistlite import params

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
    if before_training is not None:
        before_training(trial)
    recipe = sweep_recipe(overrides, epochs)
    recorded = {key: getattr(recipe, key) for key in (*overrides, "epochs")}
    if recipe.schedule == "step":
        recorded.update(step_size=recipe.step_size, gamma=recipe.gamma)
    trial.set_user_attr("recipe", recorded)
    from mnistlite.data import Batches
    from mnistlite.recipes import build_optimizer, build_scheduler

    batches = Batches(train, recipe.batch_size, augment=recipe.augment(), seed=seed)
    optimizer = build_optimizer(recipe, model)
    scheduler, interval = build_scheduler(recipe, optimizer, len(batches))
    trainer = Trainer(
        model,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        epochs=epochs,
        device=device,
        seed=seed,
        callbacks=[_ReportToTrial(trial, optuna)],
        progress=progress,
        label_smoothing=recipe.label_smoothing,
    )
    start = time.perf_counter()
    try:
        history = trainer.fit(batches, val)
    finally:
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 2))
    accuracy = float(history.final["test_acc"])
    trial.set_user_attr("val_acc", accuracy)
    return accuracy


# -- studies -------------------------------------------------------------------------


def _check_settings(
    *, budget: int, trials: int, epochs: int, limit_train: int | None, val_size: int
) -> None:
    """Raise a ValueError naming the first setting out of range."""
    for name, value in (("budget", budget), ("trials", trials), ("epochs", epochs)):
        _checks.positive_int(name, value)
    _checks.positive_int("val_size", val_size)
    if val_size >= TRAIN_IMAGES:
        raise MnistliteError(
            f"val_size must be smaller than the {TRAIN_IMAGES:,} training images, got {val_size:,}"
        )
    if limit_train is not None:
        _checks.positive_int("limit_train", limit_train)
        if limit_train > TRAIN_IMAGES - val_size:
            raise MnistliteError(
                f"limit_train {limit_train:,} exceeds the {TRAIN_IMAGES - val_size:,} training "
                f"images left beside a validation split of {val_size:,}"
            )
    from mnistlite import params

    smallest = params.count_parameters(SpecNet(smallest_network()))
    if budget < smallest:
        raise MnistliteError(
            f"budget {budget:,} is below the smallest network of the search space "
            f"({smallest:,} parameters)"
        )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _trial_line(trial: Any) -> str:
    attrs = trial.user_attrs
    head = f"trial {trial.number}: {attrs.get('net', '?')}, {attrs.get('params', 0):,} params"
    if trial.state.name == "COMPLETE":
        return f"{head}: validation accuracy {trial.value:.2f}% ({attrs.get('seconds', 0):.1f} s)"
    if "stopped_at_epoch" in attrs:
        return (
            f"{head}: stopped after epoch {attrs['stopped_at_epoch']} "
            f"(validation accuracy {attrs.get('val_acc', float('nan')):.2f}%)"
        )
    return f"{head}: {trial.state.name.lower()}"


def run_sweep(
    *,
    budget: int,
    trials: int,
    epochs: int,
    root: str | Path,
    storage: str = DEFAULT_STORAGE,
    study_name: str | None = None,
    limit_train: int | None = None,
    val_size: int = 5000,
    seed: int = 0,
    device: str | torch.device = "cpu",
    download: bool = False,
    progress: bool = True,
    workers: int = 1,
    threads: int | None = None,
    heartbeat_interval: int = 30,
    grace_period: int = 120,
) -> optuna.Study:
    """Search networks and recipes under ``budget`` until the study has ``trials`` of them.

    The 60,000 training images are split once (by ``seed``) into ``val_size``
    validation images and the rest, of which the first ``limit_train`` train each
    trial; the test set is never loaded. The study is created if missing and loaded
    otherwise, so any number of processes, on any number of machines, given the same
    ``storage`` and ``study_name``, work on one study. Together they stop when it holds
    ``trials`` complete trials: a process trains a trial only while complete and
    training trials number fewer than ``trials``, and otherwise waits for the others.
    Over-budget proposals are rejected in milliseconds and do not count (a process
    gives up after 20 per trial), nor do trials stopped early by the pruner.

    A trial whose process dies (a killed worker, a lost machine) is failed once its
    heartbeat is ``grace_period`` seconds old and queued again, with the same
    parameters, for a surviving worker. A study remembers its search space, budget,
    epochs, validation size, seed and training limit, and refuses a run with other
    values (its scores would not compare).

    Args:
        budget: The largest allowed number of parameters.
        trials: Complete trials the study should hold when the sweep ends.
        epochs: Training epochs per trial.
        root: MNIST root folder (torchvision layout).
        storage: ``sqlite:///FILE``, ``journal:///FILE`` (Optuna's journal file, one
            machine), or a database URL such as
            ``postgresql+psycopg2://USER:PASSWORD@HOST/DB`` to spread a study over machines.
        study_name: The study's name (default: :func:`default_study_name`).
        limit_train: Train each trial on this many images only (quick studies).
        val_size: Validation images held out from the training set.
        seed: Seeds the validation split and every trial's training.
        device: Where to train: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        download: Let torchvision download MNIST if it is missing.
        progress: Print one line per trial and show the Trainer's progress bars.
        workers: Local worker processes to start on the study (1: work in this process).
        threads: Torch threads per process (default: this process's setting with one
            worker; the machine's cores divided among the workers with several).
        heartbeat_interval: Seconds between a running trial's heartbeats (RDB storages).
        grace_period: Seconds without a heartbeat after which a trial counts as lost.

    Raises:
        ImportError: If Optuna is missing (the message names ``mnistlite[sweep]``).
        ValueError: For a setting out of range, a storage that cannot be opened (the
            password masked), a study created with other settings, or workers that
            failed before the study was full.
        FileNotFoundError: If MNIST is missing and ``download`` is False.
    """
    optuna = require_optuna()
    _check_settings(
        budget=budget, trials=trials, epochs=epochs, limit_train=limit_train, val_size=val_size
    )
    _checks.seed("seed", seed)
    for key, value in (("workers", workers), ("heartbeat_interval", heartbeat_interval)):
        _checks.positive_int(key, value)
    _checks.positive_int("grace_period", grace_period)
    if threads is not None:
        _checks.positive_int("threads", threads)
    _studies.check_url(storage)
    name = study_name or default_study_name(budget)
    settings = {
        "space": SEARCH_SPACE,
        "budget": budget,
        "epochs": epochs,
        "val_size": val_size,
        "seed": seed,
        "limit_train": limit_train,
    }
    with _quiet(optuna):
        study = _studies.open_study(
            optuna,
            storage,
            name,
            settings,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=epochs // 2),
        )
        config = dict(
            budget=budget,
            trials=trials,
            epochs=epochs,
            root=str(root),
            storage=storage,
            study_name=name,
            limit_train=limit_train,
            val_size=val_size,
            seed=seed,
            device=str(device),
            download=download,
            progress=progress,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
        if workers > 1:
            _run_workers(optuna, study, config, workers, threads)
            return study
        if threads is not None:
            torch.set_num_threads(threads)
        _work(optuna, study, **config)
    return study


def _work(
    optuna: ModuleType,
    study: optuna.Study,
    *,
    budget: int,
    trials: int,
    epochs: int,
    root: str,
    storage: str,
    study_name: str,
    limit_train: int | None,
    val_size: int,
    seed: int,
    device: str,
    download: bool,
    progress: bool,
    heartbeat_interval: int,
    grace_period: int,
) -> None:
    """Train trials of ``study`` in this process until it holds ``trials`` complete ones."""
    from mnistlite.data import load_mnist
    from mnistlite.training import resolve_device

    where = resolve_device(device)
    full = load_mnist(root, train=True, download=download, device=where)
    rest, val = full.split(val_size, seed)
    train = rest.take(limit_train)
    me = _studies.worker_id()
    counts = {"trained": 0, "rejected": 0, "since": 0}
    max_rejected = _MAX_REJECTIONS_PER_TRIAL * trials

    def claim(trial: optuna.trial.Trial) -> None:
        # claim a place first, then count: of two processes claiming together, the later
        # one to count sees both claims, so the study never gets more than `trials`
        trial.set_user_attr("claimed", True)
        taken = sum(
            1
            for t in _places(optuna, study)
            if t.number != trial.number and t.user_attrs.get("claimed", True)
        )
        if taken + 1 > trials:
            trial.set_user_attr("claimed", False)
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("the study already has its trials")

    def run(trial: optuna.trial.Trial) -> float:
        trial.set_user_attr("worker", me)
        return objective(
            trial,
            budget=budget,
            train=train,
            val=val,
            epochs=epochs,
            seed=seed,
            device=where,
            progress=progress,
            before_training=claim,
        )

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if "surplus" in trial.user_attrs:
            return
        if "rejected" in trial.user_attrs:
            counts["rejected"] += 1
            counts["since"] += 1
            return
        counts["trained"] += 1
        if progress:
            since = counts["since"]
            note = f" [{since} over-budget proposal(s) rejected before it]" if since else ""
            _log(_trial_line(trial) + note)
        counts["since"] = 0

    if progress:
        _log(
            f"sweep {study_name!r} in {_studies.mask_url(storage)} (worker {me}): budget "
            f"{budget:,} parameters, {trials} trials of {epochs} epoch(s) on {len(train):,} "
            f"images, validation on {len(val):,}"
        )
    while True:
        _studies.fail_lost_trials(optuna, study)
        places = _places(optuna, study)
        done = sum(1 for t in places if t.state.name == "COMPLETE")
        if done >= trials:
            break
        if counts["rejected"] >= max_rejected:
            _log(
                f"stopping: {counts['rejected']} proposals were over the budget of "
                f"{budget:,}; the sampler learns to avoid them, so run again to go on"
            )
            break
        if len(places) >= trials:  # the last places are being trained elsewhere
            time.sleep(min(2.0, heartbeat_interval / 2))
            continue
        study.optimize(run, n_trials=1, callbacks=[after_trial])
    if progress:
        mine = sum(1 for t in _places(optuna, study) if t.user_attrs.get("worker") == me)
        _log(f"worker {me}: {mine} of the study's {done} complete trials")


def _places(optuna: ModuleType, study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials and its running trials that train (claimed places)."""
    state = optuna.trial.TrialState
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(state.COMPLETE, state.RUNNING))
        if t.state == state.COMPLETE or t.user_attrs.get("claimed")
    ]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_workers(
    optuna: ModuleType,
    study: optuna.Study,
    config: dict[str, Any],
    workers: int,
    threads: int | None,
) -> None:
    """Start ``workers`` processes on the study, wait for them, and check the result."""
    threads = threads or max(1, _cores() // workers)
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    code = "import sys; from mnistlite.sweep import _worker_main; sys.exit(_worker_main())"
    payload = json.dumps(dict(config, threads=threads))
    if config["progress"]:
        _log(f"starting {workers} workers of {threads} torch thread(s) each")
    procs = [
        subprocess.Popen([sys.executable, "-c", code, payload], env=env, stdin=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        while any(p.poll() is None for p in procs):
            _studies.fail_lost_trials(optuna, study)  # journal files have no heartbeats
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
    codes = [p.returncode for p in procs]
    done = sum(1 for t in _places(optuna, study) if t.state.name == "COMPLETE")
    if done < config["trials"]:
        raise MnistliteError(
            f"the workers ended with exit statuses {codes} and the study "
            f"{config['study_name']!r} holds {done} of {config['trials']} complete trials"
        )
    if any(codes) and config["progress"]:
        _log(f"some workers ended with exit statuses {codes}; the others filled the study")


def _worker_main() -> int:
    """A process started by :func:`run_sweep` with ``workers > 1`` (config in argv[1])."""
    config = json.loads(sys.argv[1])
    torch.set_num_threads(config["threads"])
    try:
        run_sweep(**config)
    except MnistliteError as err:
        _log(f"mnistlite sweep worker {_studies.worker_id()}: error: {err}")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


@contextlib.contextmanager
def _quiet(optuna: ModuleType) -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging (our own lines replace it)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _pick_study(optuna: ModuleType, storage: Any, study_name: str | None, url: str) -> str:
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage)]
    if study_name is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise MnistliteError(f"there are no studies in {url}")
        raise MnistliteError(
            f"{url} holds several studies ({', '.join(names)}); pass --study-name or --budget"
        )
    if study_name not in names:
        known = f"; studies there: {', '.join(names)}" if names else "; it holds no study"
        raise MnistliteError(f"no study named {study_name!r} in {url}{known}")
    return study_name


def open_study(
    storage: str,
    study_name: str,
    settings: dict[str, Any],
    *,
    heartbeat_interval: int = 30,
    grace_period: int = 120,
) -> optuna.Study:
    """Create or load a study that many workers share, as :func:`run_sweep` does.

    The study gets heartbeats and retries of lost trials, and is created safely when
    workers start together; ``settings`` are stored with it, and a study stored with
    other values is refused. Any objective can run on it (``benchmarks/frontier_search.py``
    runs fixed candidates as its queued trials).

    Args:
        storage: ``sqlite:///FILE``, ``journal:///FILE`` or a database URL.
        study_name: The study's name.
        settings: Values that every worker of the study must agree on (JSON types).
        heartbeat_interval: Seconds between a running trial's heartbeats.
        grace_period: Seconds without a heartbeat after which a trial counts as lost.

    Raises:
        ImportError: If Optuna is missing.
        ValueError: If the storage cannot be opened or the settings differ.
    """
    optuna = require_optuna()
    with _quiet(optuna):
        return _studies.open_study(
            optuna,
            storage,
            study_name,
            settings,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )


def fail_lost_trials(study: optuna.Study) -> list[int]:
    """Fail the study's running trials whose worker is gone, and queue them again.

    Returns:
        The numbers of the trials failed.
    """
    return _studies.fail_lost_trials(require_optuna(), study)


def load_study(storage: str, study_name: str | None = None) -> optuna.Study:
    """Load an existing study to read it (nothing is created).

    Args:
        storage: The storage URL the study lives in (see :func:`run_sweep`).
        study_name: The study; None picks the only study in ``storage``.

    Raises:
        ImportError: If Optuna is missing.
        ValueError: If the storage or the study does not exist (the password masked).
    """
    optuna = require_optuna()
    opened = _studies.open_storage(optuna, storage, create=False)
    name = _pick_study(optuna, opened, study_name, _studies.mask_url(storage))
    return optuna.load_study(study_name=name, storage=opened)


def best_trials_table(storage: str, study_name: str | None = None, top: int = 10) -> str:
    """The ``top`` finished trials of a study, best validation accuracy first, as text.

    Args:
        storage: The storage URL the study lives in (see :func:`run_sweep`).
        study_name: The study; None picks the only study in ``storage``.
        top: How many trials to list.

    Raises:
        ImportError: If Optuna is missing.
        ValueError: If the storage or the study does not exist.
    """
    _checks.positive_int("top", top)
    study = load_study(storage, study_name)
    name = study.study_name
    all_trials = study.get_trials(deepcopy=False)
    finished = [t for t in all_trials if t.state.name == "COMPLETE" and t.value is not None]
    finished.sort(key=lambda t: (-t.value, t.user_attrs.get("params", 0), t.number))
    rejected = sum(1 for t in all_trials if "rejected" in t.user_attrs)
    stopped = sum(1 for t in all_trials if "stopped_at_epoch" in t.user_attrs)
    given_up = sum(1 for t in all_trials if "surplus" in t.user_attrs)
    running = sum(1 for t in all_trials if t.state.name in ("RUNNING", "WAITING"))
    failed = sum(1 for t in all_trials if t.state.name == "FAIL")
    shares: dict[str, int] = {}
    for trial in finished:
        worker = str(trial.user_attrs.get("worker", "?"))
        shares[worker] = shares.get(worker, 0) + 1
    attrs = study.user_attrs
    about = []
    if "budget" in attrs:
        about.append(f"budget {attrs['budget']:,} parameters")
    if "epochs" in attrs:
        about.append(f"{attrs['epochs']} epoch(s)")
    if attrs.get("limit_train"):
        about.append(f"{attrs['limit_train']:,} training images")
    if "val_size" in attrs:
        about.append(f"validation on {attrs['val_size']:,} held-out training images")
    lines = [
        f"study {name!r} in {_studies.mask_url(storage)}"
        + (f" ({', '.join(about)})" if about else ""),
        f"{len(finished)} trained, {stopped} stopped early, {rejected} rejected over budget"
        + (f", {running} running or queued" if running else "")
        + (f", {failed} failed (lost workers' trials are queued again)" if failed else "")
        + (f", {given_up} given up as the study was full" if given_up else ""),
    ]
    if len(shares) > 1 or (shares and "?" not in shares):
        lines.append("trained by " + ", ".join(f"{w} ({n})" for w, n in sorted(shares.items())))
    if not finished:
        lines.append("no finished trials yet")
        return "\n".join(lines)
    header = ("rank", "trial", "val acc", "params", "MACs", "lr", "batch", "schedule", "network")
    rows = [header]
    for rank, trial in enumerate(finished[:top], 1):
        recipe = trial.user_attrs.get("recipe", {})
        rows.append(
            (
                str(rank),
                str(trial.number),
                f"{trial.value:.2f}%",
                f"{trial.user_attrs.get('params', 0):,}",
                f"{trial.user_attrs.get('macs', 0):,}",
                f"{recipe.get('lr', float('nan')):.3g}",
                str(recipe.get("batch_size", "?")),
                str(recipe.get("schedule", "?")),
                str(trial.user_attrs.get("net", "?")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [cell.rjust(w) for cell, w in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.append(
        "rebuild a network with SpecNet(mnistlite.models.spec_from_dict(trial.user_attrs['spec']))"
    )
    return "\n".join(lines)


def plot_study(storage: str, study_name: str | None, out: str | Path) -> list[Path]:
    """Draw a study's plots into the folder ``out``; needs no data and trains nothing.

    Writes ``history.png`` (each complete trial's validation accuracy by trial number,
    and the best so far) and ``parameters.png`` (validation accuracy against the
    parameter count and against every searched setting; categories as labelled
    positions). Anyone can draw them while workers are still filling the study.

    Args:
        storage: The storage URL the study lives in.
        study_name: The study; None picks the only study in ``storage``.
        out: The folder to write to (created if missing).

    Returns:
        The files written.

    Raises:
        ImportError: If Optuna or matplotlib is missing (the message names the extra).
        ValueError: If the storage or the study does not exist, or it has no complete
            trial yet.
    """
    from mnistlite.plots import require_matplotlib

    require_matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    study = load_study(storage, study_name)
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        raise MnistliteError(f"study {study.study_name!r} has no complete trial to plot yet")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MnistliteError(f"--plot {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    numbers = [t.number for t in done]
    values = [float(t.value) for t in done]
    best = [max(values[: i + 1]) for i in range(len(values))]
    title = f"study {study.study_name!r}: {len(done)} complete trials"

    history = Figure(figsize=(7, 4), layout="constrained")
    ax = history.add_subplot()
    ax.scatter(numbers, values, s=18, label="trial")
    ax.step(numbers, best, where="post", color="C1", label="best so far")
    ax.set(xlabel="trial", ylabel="validation accuracy (%)", title=title)
    ax.legend(loc="lower right")

    names = ["params", *sorted({key for t in done for key in t.params})]
    cols = 4
    rows = math.ceil(len(names) / cols)
    grid = Figure(figsize=(3.2 * cols, 2.6 * rows), layout="constrained")
    grid.suptitle(title)
    for i, key in enumerate(names):
        ax = grid.add_subplot(rows, cols, i + 1)
        pairs = [
            (t.user_attrs.get("params") if key == "params" else t.params.get(key), float(t.value))
            for t in done
        ]
        pairs = [(x, y) for x, y in pairs if x is not None]
        if pairs and all(isinstance(x, str) for x, _ in pairs):
            labels = sorted({x for x, _ in pairs})
            ax.set_xticks(range(len(labels)), labels)
            pairs = [(labels.index(x), y) for x, y in pairs]
        ax.scatter([x for x, _ in pairs], [y for _, y in pairs], s=12)
        if key in ("lr", "weight_decay"):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(key)
        if i % cols == 0:
            ax.set_ylabel("val acc (%)")
    written = []
    for figure, filename in ((history, "history.png"), (grid, "parameters.png")):
        path = out / filename
        atomic_write(path, lambda f, fig=figure: fig.savefig(f, format="png", dpi=100))
        written.append(path)
    return written
