"""Budgeted sweeps: search networks and recipes under a parameter budget with Optuna.

Every trial proposes a network (:class:`~mnistlite.models.NetSpec`) and a recipe; a
network over the budget is rejected by :func:`mnistlite.params.check_budget` before
any training (the trial ends as ``PRUNED``, with the reason in its ``rejected`` user
attribute). The others are trained and scored by their **final-epoch** accuracy on a
validation split held out from the 60,000 training images; the test set is never read.

Trials live in Optuna's storage: a local SQLite file by default, or any Optuna RDB URL,
so several processes, on one machine or several, can work on the same study::

    from mnistlite import sweep
    from mnistlite.models import SpecNet

    study = sweep.run_sweep(budget=5000, trials=20, epochs=3, root="data")
    print(sweep.best_trials_table("sqlite:///mnistlite-sweep.db", "mnistlite-budget5000"))
    net = SpecNet(sweep.spec_from_dict(study.best_trial.user_attrs["spec"]))

Optuna is an optional extra (``pip install 'mnistlite[sweep]'``): this module imports it
only inside the functions that need it, so importing the module never requires it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from mnistlite.data import MNISTTensors
from mnistlite.models.spec import (
    Conv,
    DWConv,
    Flatten,
    Head,
    NetSpec,
    OneByOne,
    Pool,
    Shared,
    SpecNet,
)
from mnistlite.recipes import Recipe
from mnistlite.training import Callback, Trainer

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_STORAGE",
    "add_sweep_parser",
    "best_trials_table",
    "default_study_name",
    "describe_spec",
    "objective",
    "require_optuna",
    "run_sweep",
    "smallest_network",
    "spec_from_dict",
    "spec_to_dict",
    "suggest",
    "sweep_recipe",
]

#: Where trials are stored unless ``storage`` / ``--storage`` says otherwise.
DEFAULT_STORAGE = "sqlite:///mnistlite-sweep.db"

#: The number of MNIST training images the validation split is taken from.
TRAIN_IMAGES = 60_000

#: The study settings that must agree for two runs to share a study.
_SETTINGS = ("budget", "epochs", "val_size", "seed", "limit_train")

#: Stop a process after this many over-budget proposals per requested trial.
_MAX_REJECTIONS_PER_TRIAL = 20

_INSTALL_HINT = "pip install 'mnistlite[sweep]'"


def require_optuna() -> ModuleType:
    """Import and return ``optuna``, or raise an error that names the extra.

    Raises:
        ImportError: If Optuna is not installed; the message says
            ``pip install 'mnistlite[sweep]'``.
    """
    try:
        import optuna
    except ImportError as err:
        raise ImportError(
            f"sweeps need Optuna, the optional extra 'mnistlite[sweep]': {_INSTALL_HINT}"
        ) from err
    return optuna


def default_study_name(budget: int) -> str:
    """The study name used when none is given: ``mnistlite-budget{budget}``."""
    return f"mnistlite-budget{budget}"


# -- specs as data ------------------------------------------------------------------

_LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Conv, DWConv, Shared, OneByOne, Pool, Head, Flatten)
}
_LAYER_CODES = {
    Conv: "C",
    DWConv: "D",
    Shared: "S",
    OneByOne: "T",
    Pool: "P",
    Head: "H",
    Flatten: "F",
}


def spec_to_dict(spec: NetSpec) -> dict[str, Any]:
    """Return ``spec`` as JSON-ready data (the inverse of :func:`spec_from_dict`).

    Example:
        >>> from mnistlite.models import LITE600
        >>> spec_to_dict(LITE600)["layers"][2]
        {'type': 'Pool'}
    """
    return {
        "layers": [
            {"type": type(layer).__name__, **dataclasses.asdict(layer)} for layer in spec.layers
        ],
        "batchnorm": spec.batchnorm,
        "dropout": spec.dropout,
        "bias": spec.bias,
        "norm": spec.norm,
    }


def spec_from_dict(data: dict[str, Any]) -> NetSpec:
    """Rebuild a :class:`~mnistlite.models.NetSpec` from :func:`spec_to_dict`'s output.

    Use it on a trial's ``spec`` user attribute to build the network it trained:
    ``SpecNet(spec_from_dict(study.best_trial.user_attrs["spec"]))``.

    Raises:
        ValueError: If a layer type is unknown or the data is malformed.
    """
    try:
        layers = []
        for entry in data["layers"]:
            fields = dict(entry)
            kind = fields.pop("type")
            if kind not in _LAYER_TYPES:
                raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(_LAYER_TYPES)}")
            layers.append(_LAYER_TYPES[kind](**fields))
        options = {
            key: data[key] for key in ("batchnorm", "dropout", "bias", "norm") if key in data
        }
        return NetSpec(layers=tuple(layers), **options)
    except (KeyError, TypeError) as err:
        raise ValueError(f"not a network spec: {err}") from None


def describe_spec(spec: NetSpec) -> str:
    """A compact one-word description of a spec: ``C8-C12-P-T8-C12-D14-H``.

    ``C`` is a 3×3 convolution, ``D`` a depthwise-separable block, ``T`` a 1×1
    transition and ``P`` a max-pool (each number is the output channels); ``S8x3`` is a
    shared-weight separable block of 8 channels applied 3 times; ``H`` is the GAP head.
    A dropout other than 0 is appended as ``/d0.05``, the 2-parameter norm as ``/scalar``.
    """
    parts = []
    for layer in spec.layers:
        code = _LAYER_CODES.get(type(layer), "?")
        if isinstance(layer, Shared):
            parts.append(f"{code}{layer.channels}x{layer.repeats}")
            continue
        cout = getattr(layer, "cout", None)
        parts.append(f"{code}{cout}" if cout is not None else code)
    text = "-".join(parts)
    text = f"{text}/d{spec.dropout:.2g}" if spec.dropout else text
    return f"{text}/{spec.norm}" if spec.norm != "batch" else text


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
) -> float:
    """Build, budget-check, train and score one trial; return validation accuracy (%).

    The network from :func:`suggest` is counted first: over ``budget`` it raises
    ``optuna.TrialPruned`` before any training, with the user attributes
    ``params`` and ``rejected`` (the reason). Otherwise it trains for ``epochs`` on
    ``train`` and returns the final-epoch accuracy on ``val``, reporting every epoch to
    the trial so that a pruner may stop it early. User attributes stored: ``params``,
    ``macs``, ``val_acc``, ``spec`` (:func:`spec_to_dict`), ``net``
    (:func:`describe_spec`), ``recipe`` (the recipe fields set) and ``seconds``.

    Args:
        trial: The Optuna trial.
        budget: The largest allowed number of parameters.
        train: Training images (a split of the training set).
        val: Validation images, held out from the training set.
        epochs: Training epochs.
        seed: Seeds the initialisation, shuffling, augmentation and dropout.
        device: Where to train.
        progress: Show the Trainer's progress bars.

    Raises:
        optuna.TrialPruned: If the network is over budget, or the pruner stops it.
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


def _sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (None for other URLs, or memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _check_url(url: str) -> None:
    """Raise a ValueError unless ``url`` looks like a database URL."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"--storage must be a database URL such as {DEFAULT_STORAGE}, got {url!r}")


def _open_storage(optuna: ModuleType, url: str, *, create: bool) -> Any:
    """Open an RDB storage; SQLite gets a long lock timeout so processes can share it.

    Raises:
        ValueError: If the URL cannot be opened, or (``create=False``) a SQLite file
            does not exist.
    """
    _check_url(url)
    path = _sqlite_path(url)
    if path is not None and not create and not path.is_file():
        raise ValueError(f"no sweep database at {path} (from --storage {url})")
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"--storage {url}: the folder {path.parent} does not exist")
    from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except (OperationalError, IntegrityError) as err:
            # processes started together may race to create the tables: try again
            error: Exception = err
            time.sleep(0.1 + random.random() * 0.5 * (attempt + 1))
        except SQLAlchemyError as err:
            error = err
            break
    message = str(error).splitlines()[0]
    raise ValueError(f"cannot open --storage {url}: {message}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_settings(
    *, budget: int, trials: int, epochs: int, limit_train: int | None, val_size: int
) -> None:
    """Raise a ValueError naming the first setting out of range."""
    for name, value in (("budget", budget), ("trials", trials), ("epochs", epochs)):
        _check_positive(name, value)
    _check_positive("val_size", val_size)
    if val_size >= TRAIN_IMAGES:
        raise ValueError(
            f"val_size must be smaller than the {TRAIN_IMAGES:,} training images, got {val_size:,}"
        )
    if limit_train is not None:
        _check_positive("limit_train", limit_train)
        if limit_train > TRAIN_IMAGES - val_size:
            raise ValueError(
                f"limit_train {limit_train:,} exceeds the {TRAIN_IMAGES - val_size:,} training "
                f"images left beside a validation split of {val_size:,}"
            )
    from mnistlite import params

    smallest = params.count_parameters(SpecNet(smallest_network()))
    if budget < smallest:
        raise ValueError(
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
) -> optuna.Study:
    """Search networks and recipes under ``budget`` and return the Optuna study.

    The 60,000 training images are split once (by ``seed``) into ``val_size``
    validation images and the rest, of which the first ``limit_train`` train each
    trial; the test set is never loaded. The study is created with
    ``load_if_exists=True``, so processes started with the same ``storage`` and
    ``study_name`` share one study; each process trains ``trials`` trials (over-budget
    proposals are rejected in milliseconds and do not count, up to 20 per trial).
    A study remembers its budget, epochs, validation size, seed and training limit,
    and refuses a run with other values (its scores would not be comparable).

    Args:
        budget: The largest allowed number of parameters.
        trials: Trials to train in this process.
        epochs: Training epochs per trial.
        root: MNIST root folder (torchvision layout).
        storage: An Optuna RDB URL: ``sqlite:///FILE`` or e.g.
            ``postgresql://user:password@host/db`` to spread a study over machines.
        study_name: The study's name (default: :func:`default_study_name`).
        limit_train: Train each trial on this many images only (quick studies).
        val_size: Validation images held out from the training set.
        seed: Seeds the validation split and every trial's training.
        device: Where to train: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        download: Let torchvision download MNIST if it is missing.
        progress: Print one line per trial and show the Trainer's progress bars.

    Raises:
        ImportError: If Optuna is missing (the message names ``mnistlite[sweep]``).
        ValueError: For a setting out of range, a storage that cannot be opened, or a
            study created with other settings.
        FileNotFoundError: If MNIST is missing and ``download`` is False.
    """
    optuna = require_optuna()
    _check_settings(
        budget=budget, trials=trials, epochs=epochs, limit_train=limit_train, val_size=val_size
    )
    _check_url(storage)
    from mnistlite.data import load_mnist
    from mnistlite.training import resolve_device

    device = resolve_device(device)
    name = study_name or default_study_name(budget)
    full = load_mnist(root, train=True, download=download, device=device)
    rest, val = full.split(val_size, seed)
    train = rest.take(limit_train)

    settings = {
        "budget": budget,
        "epochs": epochs,
        "val_size": val_size,
        "seed": seed,
        "limit_train": limit_train,
    }
    with _quiet(optuna):
        study = _open_study(optuna, storage, name, settings)
        counts = {"trained": 0, "rejected": 0, "since": 0}
        max_rejected = _MAX_REJECTIONS_PER_TRIAL * trials

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if "rejected" in trial.user_attrs:
                counts["rejected"] += 1
                counts["since"] += 1
            else:
                counts["trained"] += 1
                if progress:
                    since = counts["since"]
                    note = f" [{since} over-budget proposal(s) rejected before it]" if since else ""
                    _log(_trial_line(trial) + note)
                counts["since"] = 0
            if counts["trained"] >= trials:
                study.stop()
            elif counts["rejected"] >= max_rejected:
                _log(
                    f"stopping: {counts['rejected']} proposals were over the budget of "
                    f"{budget:,}; the sampler learns to avoid them, so run again to go on"
                )
                study.stop()

        def run(trial: optuna.trial.Trial) -> float:
            return objective(
                trial,
                budget=budget,
                train=train,
                val=val,
                epochs=epochs,
                seed=seed,
                device=device,
                progress=progress,
            )

        if progress:
            _log(
                f"sweep {name!r} in {storage}: budget {budget:,} parameters, {trials} trials of "
                f"{epochs} epoch(s) on {len(train):,} images, validation on {len(val):,}"
            )
        study.optimize(run, n_trials=trials + max_rejected, callbacks=[after_trial])
    return study


@contextlib.contextmanager
def _quiet(optuna: ModuleType) -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging (our own lines replace it)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _open_study(
    optuna: ModuleType, storage: str, name: str, settings: dict[str, Any]
) -> optuna.Study:
    """Create or load the study; refuse one whose stored settings differ from ``settings``."""
    study = optuna.create_study(
        storage=_open_storage(optuna, storage, create=True),
        study_name=name,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=settings["epochs"] // 2
        ),
    )
    saved = {key: study.user_attrs[key] for key in _SETTINGS if key in study.user_attrs}
    differ = [key for key, value in saved.items() if value != settings[key]]
    if differ:
        was = ", ".join(f"{key}={value}" for key, value in saved.items())
        raise ValueError(
            f"study {name!r} in {storage} was run with {was}; {', '.join(differ)} differ, "
            "so the scores would not compare: pass another --study-name"
        )
    for key, value in settings.items():
        if key not in saved:
            study.set_user_attr(key, value)
    return study


def _pick_study(optuna: ModuleType, storage: Any, study_name: str | None, url: str) -> str:
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage)]
    if study_name is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise ValueError(f"there are no studies in {url}")
        raise ValueError(
            f"{url} holds several studies ({', '.join(names)}); pass --study-name or --budget"
        )
    if study_name not in names:
        known = f"; studies there: {', '.join(names)}" if names else "; it holds no study"
        raise ValueError(f"no study named {study_name!r} in {url}{known}")
    return study_name


def best_trials_table(storage: str, study_name: str | None = None, top: int = 10) -> str:
    """The ``top`` finished trials of a study, best validation accuracy first, as text.

    Args:
        storage: The Optuna RDB URL the study lives in.
        study_name: The study; None picks the only study in ``storage``.
        top: How many trials to list.

    Raises:
        ImportError: If Optuna is missing.
        ValueError: If the storage or the study does not exist.
    """
    optuna = require_optuna()
    _check_positive("top", top)
    opened = _open_storage(optuna, storage, create=False)
    name = _pick_study(optuna, opened, study_name, storage)
    study = optuna.load_study(study_name=name, storage=opened)
    all_trials = study.get_trials(deepcopy=False)
    finished = [t for t in all_trials if t.state.name == "COMPLETE" and t.value is not None]
    finished.sort(key=lambda t: (-t.value, t.user_attrs.get("params", 0), t.number))
    rejected = sum(1 for t in all_trials if "rejected" in t.user_attrs)
    stopped = sum(1 for t in all_trials if "stopped_at_epoch" in t.user_attrs)
    other = len(all_trials) - len(finished) - rejected - stopped
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
        f"study {name!r} in {storage}" + (f" ({', '.join(about)})" if about else ""),
        f"{len(finished)} trained, {stopped} stopped early, {rejected} rejected over budget"
        + (f", {other} running or failed" if other else ""),
    ]
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
        "rebuild a network with SpecNet(mnistlite.sweep.spec_from_dict(trial.user_attrs['spec']))"
    )
    return "\n".join(lines)


# -- the command line ----------------------------------------------------------------


def _cmd_sweep(args: argparse.Namespace) -> int:
    """Run or show a sweep for ``mnistlite sweep``; return the exit code."""
    require_optuna()
    if args.show:
        name = args.study_name
        if name is None and args.budget is not None:
            name = default_study_name(args.budget)
        print(best_trials_table(args.storage, name, top=args.top))
        return 0
    if args.budget is None:
        raise ValueError("--budget N is required (the largest allowed number of parameters)")
    study = run_sweep(
        budget=args.budget,
        trials=args.trials,
        epochs=args.epochs,
        root=args.data,
        storage=args.storage,
        study_name=args.study_name,
        limit_train=args.limit_train,
        val_size=args.val_size,
        seed=args.seed,
        device=args.device,
        download=args.download,
        progress=not args.no_progress,
    )
    print(best_trials_table(args.storage, study.study_name, top=args.top))
    return 0


def add_sweep_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``mnistlite`` parser's subparsers.

    Works without Optuna installed; running the command without it ends with exit
    code 2 and a message naming the ``mnistlite[sweep]`` extra.

    Args:
        commands: The object ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The new subparser (its handler is set as the ``handler`` default).
    """
    from mnistlite.argtypes import positive_int

    sweep = commands.add_parser(
        "sweep",
        help="search networks and recipes under a parameter budget (Optuna)",
        description="Search network widths, blocks and recipe settings under a parameter "
        "budget with Optuna. Over-budget networks are rejected before training; trials are "
        "scored on a validation split of the training images (never the test set) and "
        "stored in an Optuna storage that several processes can share. Needs the "
        f"'mnistlite[sweep]' extra ({_INSTALL_HINT}).",
    )
    sweep.add_argument(
        "--budget", type=positive_int, metavar="N", help="the largest allowed parameter count"
    )
    sweep.add_argument(
        "--trials",
        type=positive_int,
        default=20,
        metavar="N",
        help="trials to train (default: 20)",
    )
    sweep.add_argument(
        "--epochs", type=positive_int, default=3, metavar="E", help="epochs per trial (default: 3)"
    )
    sweep.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        metavar="URL",
        help=f"Optuna RDB URL (default: {DEFAULT_STORAGE})",
    )
    sweep.add_argument(
        "--study-name", metavar="NAME", help="study name (default: mnistlite-budgetN)"
    )
    sweep.add_argument("--data", metavar="ROOT", default="data", help="MNIST root (default: data)")
    sweep.add_argument("--download", action="store_true", help="download MNIST if missing")
    sweep.add_argument(
        "--limit-train", type=positive_int, metavar="N", help="train each trial on N images"
    )
    sweep.add_argument(
        "--val-size",
        type=positive_int,
        default=5000,
        metavar="N",
        help="validation images held out from the training set (default: 5000)",
    )
    sweep.add_argument(
        "--seed", type=int, default=0, help="seed of the split and of training (default: 0)"
    )
    sweep.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    sweep.add_argument("--show", action="store_true", help="list the best trials and exit")
    sweep.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="trials listed (default: 10)"
    )
    sweep.add_argument(
        "--no-progress", action="store_true", help="hide the per-trial lines and progress bars"
    )
    sweep.set_defaults(handler=_cmd_sweep)
    return sweep
