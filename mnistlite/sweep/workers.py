"""Running a sweep: one settings object, workers in this process or in many, filling a study.

The 60,000 training images are split once (by the seed) into the validation images and
the rest, of which the first ``limit_train`` train each trial; the test set is never
loaded. The study is created if missing and loaded otherwise, so any number of processes,
on any number of machines, given the same storage and study name, work on one study.
Together they stop when it holds the requested complete trials: a process trains a trial
only while complete and training trials number fewer, and otherwise waits for the others.
Over-budget proposals are rejected in milliseconds and do not count (a process gives up
after 20 per trial), nor do trials stopped early by the pruner.

A trial whose process dies (a killed worker, a lost machine) is failed once its heartbeat
is ``grace_period`` seconds old and queued again, with the same parameters, for a
surviving worker. A study remembers its search space, budget, epochs, validation size,
seed and training limit, and refuses a run with other values (its scores would not
compare).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from mnistlite import _checks, _studies
from mnistlite import data as mnist_data
from mnistlite.errors import MnistliteError
from mnistlite.sweep.space import SEARCH_SPACE, smallest_network
from mnistlite.sweep.studies import DEFAULT_STORAGE, _quiet, default_study_name, require_optuna
from mnistlite.sweep.trial import objective

if TYPE_CHECKING:
    import optuna

__all__ = ["SweepSettings", "run_sweep"]

#: Stop a process after this many over-budget proposals per requested trial.
_MAX_REJECTIONS_PER_TRIAL = 20


@dataclass(frozen=True)
class SweepSettings:
    """Everything a sweep's workers share, checked once: :func:`run_sweep`'s arguments.

    Workers started in other processes receive it as JSON (:meth:`to_json`).

    Attributes:
        budget: The largest allowed number of parameters.
        trials: Complete trials the study should hold when the sweep ends.
        epochs: Training epochs per trial.
        root: MNIST root folder (torchvision layout).
        storage: ``sqlite:///FILE``, ``journal:///FILE`` or a database URL such as
            ``postgresql+psycopg2://USER:PASSWORD@HOST/DB`` (many machines).
        study_name: The study's name (None: :func:`~mnistlite.sweep.default_study_name`).
        limit_train: Train each trial on this many images only (quick studies).
        val_size: Validation images held out from the training set.
        seed: Seeds the validation split and every trial's training.
        device: Where to train: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        download: Let torchvision download MNIST if it is missing.
        progress: Print one line per trial and show the Trainer's progress bars.
        workers: Local worker processes to start on the study (1: work in this process).
        threads: Torch threads per process (None: the cores divided among workers).
        heartbeat_interval: Seconds between a running trial's heartbeats (RDB storages).
        grace_period: Seconds without a heartbeat after which a trial counts as lost.
    """

    budget: int
    trials: int
    epochs: int
    root: str
    storage: str = DEFAULT_STORAGE
    study_name: str | None = None
    limit_train: int | None = None
    val_size: int = 5000
    seed: int = 0
    device: str = "cpu"
    download: bool = False
    progress: bool = True
    workers: int = 1
    threads: int | None = None
    heartbeat_interval: int = 30
    grace_period: int = 120

    @classmethod
    def of(cls, **values: Any) -> SweepSettings:
        """Settings from keyword values, checked; an unknown name is a clear error.

        Raises:
            MnistliteError: Naming an unknown setting, or the first bad value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MnistliteError(
                f"unknown sweep setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = {**values, "root": str(values["root"]), "device": str(values.get("device", "cpu"))}
        return cls(**values).check()

    @property
    def name(self) -> str:
        """The study's name (``study_name``, or :func:`default_study_name` of the budget)."""
        return self.study_name or default_study_name(self.budget)

    def check(self) -> SweepSettings:
        """Raise a :class:`~mnistlite.errors.MnistliteError` naming the first bad setting."""
        for key in ("budget", "trials", "epochs", "workers", "heartbeat_interval"):
            _checks.positive_int(key, getattr(self, key))
        _checks.positive_int("grace_period", self.grace_period)
        mnist_data.check_holdout("val_size", self.val_size)
        if self.limit_train is not None:
            _checks.positive_int("limit_train", self.limit_train)
            left = mnist_data.TRAIN_IMAGES - self.val_size
            if self.limit_train > left:
                raise MnistliteError(
                    f"limit_train {self.limit_train:,} exceeds the {left:,} training images "
                    f"left beside a validation split of {self.val_size:,}"
                )
        if self.threads is not None:
            _checks.positive_int("threads", self.threads)
        _checks.seed("seed", self.seed)
        _studies.check_url(self.storage)
        from mnistlite import params
        from mnistlite.models.spec import SpecNet

        smallest = params.count_parameters(SpecNet(smallest_network()))
        if self.budget < smallest:
            raise MnistliteError(
                f"budget {self.budget:,} is below the smallest network of the search space "
                f"({smallest:,} parameters)"
            )
        return self

    def study_settings(self) -> dict[str, Any]:
        """What every worker of the study must agree on (stored with the study)."""
        keys = ("budget", "epochs", "val_size", "seed", "limit_train")
        return {"space": SEARCH_SPACE, **{k: getattr(self, k) for k in keys}}

    def to_json(self) -> str:
        """The settings as JSON, for a worker process."""
        return json.dumps(dataclasses.asdict(self))


def run_sweep(*, budget: int, trials: int, epochs: int, root: str | Path, **options: Any) -> Any:
    """Search networks and recipes under ``budget`` until the study has ``trials`` of them.

    How workers share a study is in :mod:`mnistlite.sweep.workers`' description.

    Args:
        budget: The largest allowed number of parameters.
        trials: Complete trials the study should hold when the sweep ends.
        epochs: Training epochs per trial.
        root: MNIST root folder (torchvision layout).
        **options: The other :class:`SweepSettings` fields, each with its default there:
            ``storage``, ``study_name``, ``limit_train``, ``val_size``, ``seed``,
            ``device``, ``download``, ``progress``, ``workers``, ``threads``,
            ``heartbeat_interval``, ``grace_period``.

    Returns:
        The ``optuna.Study``.

    Raises:
        MissingExtraError: If Optuna is missing (the message names ``mnistlite[sweep]``).
        MnistliteError: For an unknown option or a setting out of range, a storage that
            cannot be opened (the password masked), a study created with other settings,
            missing MNIST, or workers that failed before the study was full.
    """
    optuna = require_optuna()
    settings = SweepSettings.of(budget=budget, trials=trials, epochs=epochs, root=root, **options)
    with _quiet(optuna):
        study = _open(optuna, settings)
        if settings.workers > 1:
            _run_workers(optuna, study, settings)
            return study
        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        _Worker(optuna, study, settings).work()
    return study


def _open(optuna: ModuleType, settings: SweepSettings) -> optuna.Study:
    """Create or load the study, with heartbeats and a median pruner."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=settings.epochs // 2)
    return _studies.open_study(
        optuna,
        settings.storage,
        settings.name,
        settings.study_settings(),
        heartbeat_interval=settings.heartbeat_interval,
        grace_period=settings.grace_period,
        pruner=pruner,
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


class _Worker:
    """Trains trials of one study in this process until it holds enough complete ones."""

    def __init__(self, optuna: ModuleType, study: optuna.Study, settings: SweepSettings) -> None:
        from mnistlite.training import resolve_device

        self.optuna, self.study, self.settings = optuna, study, settings
        self.device = resolve_device(settings.device)
        full = mnist_data.load_mnist(
            settings.root, train=True, download=settings.download, device=self.device
        )
        rest, self.val = full.split(settings.val_size, settings.seed)
        self.train = rest.take(settings.limit_train)
        self.me = _studies.worker_id()
        self.counts = {"trained": 0, "rejected": 0, "since": 0}

    def claim(self, trial: optuna.trial.Trial) -> None:
        """Take a place in the study, or give the trial up when the study is full.

        Claim a place first, then count: of two processes claiming together, the later
        one to count sees both claims, so the study never gets more than it asked for.
        """
        trial.set_user_attr("claimed", True)
        taken = sum(
            1
            for t in _places(self.optuna, self.study)
            if t.number != trial.number and t.user_attrs.get("claimed", True)
        )
        if taken + 1 > self.settings.trials:
            trial.set_user_attr("claimed", False)
            trial.set_user_attr("surplus", True)
            raise self.optuna.TrialPruned("the study already has its trials")

    def run(self, trial: optuna.trial.Trial) -> float:
        """The objective of one trial, as this worker runs it."""
        trial.set_user_attr("worker", self.me)
        s = self.settings
        return objective(
            trial,
            budget=s.budget,
            train=self.train,
            val=self.val,
            epochs=s.epochs,
            seed=s.seed,
            device=self.device,
            progress=s.progress,
            before_training=self.claim,
        )

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Count the trial, and print its line."""
        if "surplus" in trial.user_attrs:
            return
        if "rejected" in trial.user_attrs:
            self.counts["rejected"] += 1
            self.counts["since"] += 1
            return
        self.counts["trained"] += 1
        if self.settings.progress:
            since = self.counts["since"]
            note = f" [{since} over-budget proposal(s) rejected before it]" if since else ""
            _log(_trial_line(trial) + note)
        self.counts["since"] = 0

    def work(self) -> None:
        """Train trials until the study is full (or too many proposals were over budget)."""
        s = self.settings
        if s.progress:
            _log(
                f"sweep {s.name!r} in {_studies.mask_url(s.storage)} (worker {self.me}): budget "
                f"{s.budget:,} parameters, {s.trials} trials of {s.epochs} epoch(s) on "
                f"{len(self.train):,} images, validation on {len(self.val):,}"
            )
        done = 0
        while True:
            _studies.fail_lost_trials(self.optuna, self.study)
            places = _places(self.optuna, self.study)
            done = sum(1 for t in places if t.state.name == "COMPLETE")
            if done >= s.trials:
                break
            if self.counts["rejected"] >= _MAX_REJECTIONS_PER_TRIAL * s.trials:
                _log(
                    f"stopping: {self.counts['rejected']} proposals were over the budget of "
                    f"{s.budget:,}; the sampler learns to avoid them, so run again to go on"
                )
                break
            if len(places) >= s.trials:  # the last places are being trained elsewhere
                time.sleep(min(2.0, s.heartbeat_interval / 2))
                continue
            self.study.optimize(self.run, n_trials=1, callbacks=[self.after_trial])
        if s.progress:
            mine = sum(
                1 for t in _places(self.optuna, self.study) if t.user_attrs.get("worker") == self.me
            )
            _log(f"worker {self.me}: {mine} of the study's {done} complete trials")


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


def _run_workers(optuna: ModuleType, study: optuna.Study, settings: SweepSettings) -> None:
    """Start ``settings.workers`` processes on the study, wait for them, check the result."""
    threads = settings.threads or max(1, _cores() // settings.workers)
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    code = "import sys; from mnistlite.sweep.workers import _worker_main; sys.exit(_worker_main())"
    payload = dataclasses.replace(settings, workers=1, threads=threads).to_json()
    if settings.progress:
        _log(f"starting {settings.workers} workers of {threads} torch thread(s) each")
    procs = [
        subprocess.Popen([sys.executable, "-c", code, payload], env=env, stdin=subprocess.DEVNULL)
        for _ in range(settings.workers)
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
    if done < settings.trials:
        raise MnistliteError(
            f"the workers ended with exit statuses {codes} and the study "
            f"{settings.name!r} holds {done} of {settings.trials} complete trials"
        )
    if any(codes) and settings.progress:
        _log(f"some workers ended with exit statuses {codes}; the others filled the study")


def _worker_main() -> int:
    """A process started by :func:`run_sweep` with ``workers > 1`` (settings in argv[1])."""
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
