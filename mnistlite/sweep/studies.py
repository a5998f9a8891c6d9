"""Studies: opening one that many workers share, reading it, listing and drawing its trials."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mnistlite import _checks, _studies
from mnistlite.errors import MissingExtraError, MnistliteError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_STORAGE",
    "INSTALL_HINT",
    "best_trials_table",
    "default_study_name",
    "fail_lost_trials",
    "load_study",
    "open_study",
    "plot_study",
    "require_optuna",
]

#: Where trials are stored unless ``storage`` / ``--storage`` says otherwise.
DEFAULT_STORAGE = "sqlite:///mnistlite-sweep.db"

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
            f"{url} holds several studies ({', '.join(names)}); "
            "name one (its study name, or its budget)"
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
    all_trials = study.get_trials(deepcopy=False)
    finished = [t for t in all_trials if t.state.name == "COMPLETE" and t.value is not None]
    finished.sort(key=lambda t: (-t.value, t.user_attrs.get("params", 0), t.number))
    lines = _study_header(study, storage, all_trials, finished)
    if not finished:
        lines.append("no finished trials yet")
        return "\n".join(lines)
    lines += _trial_rows(finished[:top])
    lines.append(
        "rebuild a network with SpecNet(mnistlite.models.spec_from_dict(trial.user_attrs['spec']))"
    )
    return "\n".join(lines)


def _study_header(
    study: Any, storage: str, all_trials: list[Any], finished: list[Any]
) -> list[str]:
    """A study's name, settings, trial counts and workers, as lines."""
    count = lambda test: sum(1 for t in all_trials if test(t))  # noqa: E731
    rejected = count(lambda t: "rejected" in t.user_attrs)
    stopped = count(lambda t: "stopped_at_epoch" in t.user_attrs)
    given_up = count(lambda t: "surplus" in t.user_attrs)
    running = count(lambda t: t.state.name in ("RUNNING", "WAITING"))
    failed = count(lambda t: t.state.name == "FAIL")
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
        f"study {study.study_name!r} in {_studies.mask_url(storage)}"
        + (f" ({', '.join(about)})" if about else ""),
        f"{len(finished)} trained, {stopped} stopped early, {rejected} rejected over budget"
        + (f", {running} running or queued" if running else "")
        + (f", {failed} failed (lost workers' trials are queued again)" if failed else "")
        + (f", {given_up} given up as the study was full" if given_up else ""),
    ]
    if len(shares) > 1 or (shares and "?" not in shares):
        lines.append("trained by " + ", ".join(f"{w} ({n})" for w, n in sorted(shares.items())))
    return lines


def _trial_rows(trials: list[Any]) -> list[str]:
    """The ranked trials as aligned text rows under a header."""
    header = ("rank", "trial", "val acc", "params", "MACs", "lr", "batch", "schedule", "network")
    rows = [header]
    for rank, trial in enumerate(trials, 1):
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
    out = []
    for row in rows:
        cells = [cell.rjust(w) for cell, w in zip(row[:-1], widths[:-1], strict=True)]
        out.append("  ".join([*cells, row[-1]]).rstrip())
    return out


def plot_study(storage: str, study_name: str | None, out: str | Path) -> list[Path]:
    """Draw a study's plots into the folder ``out``; needs no data and trains nothing.

    Writes ``history.png`` (:func:`mnistlite.plots.plot_study_history`: each complete
    trial's validation accuracy by trial number, and the best so far) and
    ``parameters.png`` (:func:`mnistlite.plots.plot_study_parameters`: validation
    accuracy against the parameter count and every searched setting). Anyone can draw
    them while workers are still filling the study.

    Args:
        storage: The storage URL the study lives in.
        study_name: The study; None picks the only study in ``storage``.
        out: The folder to write to (created if missing).

    Returns:
        The files written.

    Raises:
        ImportError: If Optuna or matplotlib is missing (the message names the extra).
        ValueError: If the storage or the study does not exist, ``out`` is a file, or
            the study has no complete trial yet.
    """
    from mnistlite import plots

    plots.require_matplotlib()
    study = load_study(storage, study_name)
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        raise MnistliteError(f"study {study.study_name!r} has no complete trial to plot yet")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MnistliteError(f"plot folder {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    title = f"study {study.study_name!r}: {len(done)} complete trials"
    figures = {
        "history.png": plots.plot_study_history(done, title=title),
        "parameters.png": plots.plot_study_parameters(done, title=title),
    }
    written = []
    for filename, figure in figures.items():
        written.append(plots.save_figure(figure, out / filename, dpi=100))
    return written
