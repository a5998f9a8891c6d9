"""Figures of training runs, misclassified digits and the size/accuracy frontier.

Needs the optional ``plots`` extra (``pip install 'mnistlite[plots]'``). Importing this
module works without matplotlib; each function imports it when called and raises an
:class:`ImportError` naming the extra if it is missing. Figures are built with
:class:`matplotlib.figure.Figure` directly, never :mod:`matplotlib.pyplot`, so no GUI
backend is needed and nothing is left open in pyplot's figure registry.

>>> from mnistlite import plots
>>> fig = plots.plot_history("runs/step7/history.json")            # doctest: +SKIP
>>> plots.save_figure(fig, "runs/step7/history.png")                # doctest: +SKIP

A "history-like" argument is any of: a :class:`~mnistlite.training.History`; a
dict as :meth:`~mnistlite.training.History.to_dict` returns it (the content of
``history.json``); a path to a ``history.json``; or a notebook run, one of the per-step
runs logged by the notebooks in ``results/notebook_reference.json``'s ``runs`` (a dict
with per-epoch ``train_acc``/``test_acc`` lists and no losses), whose missing series
are left out.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

import torch
from torch import nn

from mnistlite import _checks
from mnistlite.atomic import atomic_write
from mnistlite.data import MNISTTensors
from mnistlite.errors import MissingExtraError, MnistliteError
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD
from mnistlite.training import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "HistoryLike",
    "plot_accuracy_curves",
    "plot_frontier",
    "plot_history",
    "plot_misclassified",
    "plot_study_history",
    "plot_study_parameters",
    "require_matplotlib",
    "save_figure",
]

#: What the plotting functions accept as a training history.
HistoryLike: TypeAlias = History | Mapping[str, Any] | str | os.PathLike[str]

_EPOCH_KEYS = ("train_loss", "test_loss", "train_acc", "test_acc")
_TITLES = {
    "train_loss": "Training loss",
    "test_loss": "Test loss",
    "train_acc": "Training accuracy",
    "test_acc": "Test accuracy",
}


def require_matplotlib() -> ModuleType:
    """Import matplotlib, or fail with a message that names the extra to install.

    Call it before a long run whose end result is a figure (``mnistlite train --plot``)
    so a missing matplotlib is reported at once, not after training.

    Returns:
        The :mod:`matplotlib` module.

    Raises:
        MissingExtraError: If matplotlib is not installed (an :class:`ImportError`);
            the message says ``pip install "mnistlite[plots]"``.
    """
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (the only part used, loaded here)
    except ImportError as err:
        raise MissingExtraError(
            "mnistlite.plots needs matplotlib, which is not installed: "
            'pip install "mnistlite[plots]"'
        ) from err
    return matplotlib


def _figure_class() -> type[Figure]:
    """Return :class:`matplotlib.figure.Figure`, importing matplotlib lazily."""
    return require_matplotlib().figure.Figure


# -- histories ------------------------------------------------------------------------


@dataclass
class _Series:
    """One run's plottable data: per-batch losses and per-epoch columns."""

    epochs: list[float]
    batch_losses: list[float]
    columns: dict[str, list[float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _from_history(history: History) -> _Series:
    records = history.epochs
    epochs = [float(record.get("epoch", i + 1)) for i, record in enumerate(records)]
    columns = {
        key: [float(record[key]) for record in records]
        for key in _EPOCH_KEYS
        if records and all(key in record for record in records)
    }
    return _Series(epochs, [float(v) for v in history.batch_losses], columns, dict(history.meta))


def _from_notebook_run(run: Mapping[str, Any]) -> _Series:
    columns: dict[str, list[float]] = {}
    for key in _EPOCH_KEYS:
        values = run.get(key)
        if values is None:
            continue
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise MnistliteError(f"a notebook run's {key!r} must be a list of numbers")
        columns[key] = [float(v) for v in values]
    length = max(len(values) for values in columns.values())
    return _Series([float(i) for i in range(1, length + 1)], [], columns)


def _series(history: Any) -> _Series:
    """Normalize any history-like value (see the module docstring)."""
    if isinstance(history, History):
        return _from_history(history)
    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        if not path.is_file():
            raise FileNotFoundError(f"no history file at {path}")
        history = json.loads(path.read_text())
    if isinstance(history, Mapping):
        if isinstance(history.get("epochs"), list):
            return _from_history(History.from_dict(dict(history)))
        if any(isinstance(history.get(key), Sequence) for key in ("train_acc", "test_acc")):
            return _from_notebook_run(history)
        raise MnistliteError(
            "a history dict needs an 'epochs' list (History.to_dict()) or "
            "'train_acc'/'test_acc' lists (a notebook run)"
        )
    raise TypeError(
        "expected a History, a history dict, a notebook run dict or a path to history.json, "
        f"got {type(history).__name__}"
    )


def _default_title(series: _Series) -> str | None:
    recipe = series.meta.get("recipe")
    name = recipe.get("name") if isinstance(recipe, Mapping) else recipe
    if not name:
        return None
    seed = series.meta.get("seed")
    return f"{name} (seed {seed})" if seed is not None else str(name)


def _integer_epochs(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def _draw_history_panels(axes: Any, runs: list[tuple[Any, str]]) -> None:
    """Batch losses top left; test loss, training and test accuracy per epoch."""
    ax = axes[0, 0]
    for series, label in runs:
        if series.batch_losses:
            steps = range(1, len(series.batch_losses) + 1)
            ax.plot(steps, series.batch_losses, linewidth=0.6, label=label)
    ax.set(title="Training loss (per batch)", xlabel="batch", ylabel="loss")
    panels = [(axes[0, 1], "test_loss"), (axes[1, 0], "train_acc"), (axes[1, 1], "test_acc")]
    for ax, key in panels:
        for series, label in runs:
            if key in series.columns:
                values = series.columns[key]
                ax.plot(series.epochs[: len(values)], values, marker="o", markersize=3, label=label)
        unit = "accuracy (%)" if key.endswith("acc") else "loss"
        ax.set(title=f"{_TITLES[key]} (per epoch)", xlabel="epoch", ylabel=unit)
        _integer_epochs(ax)


def plot_history(
    history: HistoryLike,
    compare: HistoryLike | None = None,
    *,
    labels: tuple[str, str] = ("mnistlite", "notebooks"),
    title: str | None = None,
) -> Figure:
    """Draw the notebooks' 2×2 figure of a training run, optionally against a second run.

    The panels are: training loss per batch, test loss per epoch, training accuracy per
    epoch and test accuracy per epoch. A series a run does not have (a notebook run has no
    losses) is left out of that panel; a panel without any data says so.

    Args:
        history: The run to draw (see the module docstring for the accepted forms).
        compare: A second run overlaid on the same panels, e.g. a notebook run from
            ``results/notebook_reference.json``, or None.
        labels: Legend labels of ``history`` and ``compare``; by default
            ``("mnistlite", "notebooks")``.
        title: Figure title; by default the recipe name and random seed from the history's
            metadata, if it has them.

    Returns:
        The :class:`matplotlib.figure.Figure` (4 axes).

    Raises:
        ImportError: If matplotlib is not installed.
        FileNotFoundError: If a path is given and no file is there.
        ValueError: If a dict is neither a history nor a notebook run.
    """
    figure_class = _figure_class()
    runs = [(_series(history), labels[0])]
    if compare is not None:
        runs.append((_series(compare), labels[1]))
    fig = figure_class(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(2, 2)

    _draw_history_panels(axes, runs)

    for ax in axes.flat:
        if not ax.lines:
            _no_data(ax)
        elif compare is not None:
            ax.legend()
        ax.grid(True, alpha=0.3)
    title = title if title is not None else _default_title(runs[0][0])
    if title:
        fig.suptitle(title)
    return fig


def plot_accuracy_curves(
    histories: Mapping[str, HistoryLike],
    *,
    key: str = "test_acc",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Compare one per-epoch column (test accuracy by default) of several runs.

    Args:
        histories: Legend label → history-like (e.g. ``{"step1": ..., "step7": ...}``).
        key: The per-epoch column to draw: ``"test_acc"``, ``"train_acc"``,
            ``"test_loss"`` or ``"train_loss"``.
        ylim: The y range, e.g. ``(98.0, 99.7)`` to see the last tenths of a percent;
            None lets matplotlib choose.

    Returns:
        The :class:`matplotlib.figure.Figure`, one axes with one line per run.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If ``histories`` is empty or a run has no ``key`` column.
    """
    figure_class = _figure_class()
    if not histories:
        raise MnistliteError("plot_accuracy_curves needs at least one history")
    fig = figure_class(figsize=(9, 5.5), layout="constrained")
    ax = fig.subplots()
    for label, history in histories.items():
        series = _series(history)
        if key not in series.columns:
            raise MnistliteError(f"history {label!r} has no per-epoch {key!r}")
        values = series.columns[key]
        ax.plot(series.epochs[: len(values)], values, marker="o", markersize=3, label=str(label))
    name = _TITLES.get(key, key)
    ax.set(
        title=f"{name} per epoch",
        xlabel="epoch",
        ylabel="accuracy (%)" if key.endswith("acc") else key,
    )
    _integer_epochs(ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


# -- misclassified digits -------------------------------------------------------------


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return fallback


def _predictions(model: nn.Module, data: MNISTTensors, batch_size: int) -> torch.Tensor:
    """The model's predicted digits for ``data``, in eval mode (its mode restored after)."""
    device = _model_device(model, data.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat(
                [
                    model(data.images[i : i + batch_size].to(device)).argmax(1).cpu()
                    for i in range(0, len(data), batch_size)
                ]
            )
    finally:
        model.train(was_training)


def plot_misclassified(
    model: nn.Module, data: MNISTTensors, n: int = 25, *, batch_size: int = 1000
) -> Figure:
    """Draw a grid of the digits a model gets wrong, titled with true and predicted labels.

    The model runs in eval mode under :func:`torch.no_grad` on the device of its
    parameters; its training mode is restored afterwards. The first ``n``
    misclassified images, in data order, are shown un-normalized.

    Args:
        model: Any module mapping normalized images (N, 1, 28, 28) to logits (N, 10).
        data: Normalized images and labels (normally the MNIST test set).
        n: The largest number of digits to show (>= 1).
        batch_size: Images per forward pass.

    Returns:
        The :class:`matplotlib.figure.Figure`: one axes per digit shown, in a
        square-ish grid, or no axes and a note when nothing is misclassified.

    Raises:
        ImportError: If matplotlib is not installed.
        TypeError: If ``data`` is not :class:`~mnistlite.data.MNISTTensors`.
        ValueError: If ``n`` or ``batch_size`` is below 1 or ``data`` is empty.
    """
    figure_class = _figure_class()
    if not isinstance(data, MNISTTensors):
        raise TypeError(f"expected MNISTTensors, got {type(data).__name__}")
    _checks.positive_int("n", n)
    _checks.positive_int("batch_size", batch_size)
    if len(data) == 0:
        raise MnistliteError("cannot look for misclassified digits in empty data")

    predictions = _predictions(model, data, batch_size)
    labels = data.labels.cpu()
    wrong = (predictions != labels).nonzero().flatten()

    if len(wrong) == 0:
        fig = figure_class(figsize=(5, 2))
        fig.text(
            0.5,
            0.5,
            f"No misclassified digits among {len(data)} images",
            ha="center",
            va="center",
        )
        return fig

    shown = wrong[:n].tolist()
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    fig = figure_class(figsize=(1.5 * cols + 0.3, 1.7 * rows + 0.5), layout="constrained")
    for position, index in enumerate(shown, start=1):
        ax = fig.add_subplot(rows, cols, position)
        image = data.images[index, 0].detach().float().cpu() * MNIST_STD + MNIST_MEAN
        ax.imshow(image.clamp(0, 1).numpy(), cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(f"true {int(labels[index])} / pred {int(predictions[index])}", fontsize=9)
        ax.set_axis_off()
    fig.suptitle(f"{len(wrong)} of {len(data)} misclassified (first {len(shown)} shown)")
    return fig


# -- frontier -------------------------------------------------------------------------


def _check_point(point: Mapping[str, Any], what: str) -> tuple[str, float, float, str | None]:
    for key in ("name", "params", "accuracy"):
        if key not in point:
            raise MnistliteError(f"each of the {what} needs a {key!r}, got {dict(point)!r}")
    params = float(point["params"])
    if not params > 0:
        raise MnistliteError(f"{point['name']!r}: params must be positive for a log scale")
    group = point.get("group")
    return str(point["name"]), params, float(point["accuracy"]), group


def _pareto(points: list[tuple[str, float, float, str | None]]) -> list[tuple[float, float]]:
    """The points no other point beats with as few parameters and more accuracy."""
    front: list[tuple[float, float]] = []
    for _, params, accuracy, _ in sorted(points, key=lambda p: (p[1], -p[2])):
        if not front or accuracy > front[-1][1]:
            front.append((params, accuracy))
    return front


def _scatter_groups(
    ax: Any,
    points: list[tuple[str, float, float, str | None]],
    *,
    marker: str,
    size: float,
    default_label: str,
) -> None:
    """Scatter ``(name, params, accuracy, group)`` points, one legend entry per group."""
    groups: dict[str | None, list[tuple[str, float, float, str | None]]] = {}
    for point in points:
        groups.setdefault(point[3], []).append(point)
    for group, members in groups.items():
        ax.scatter(
            [p[1] for p in members],
            [p[2] for p in members],
            marker=marker,
            s=size,
            label=group if group is not None else default_label,
            zorder=3,
        )


def plot_frontier(
    points: Sequence[Mapping[str, Any]],
    *,
    anchors: Sequence[Mapping[str, Any]] | None = None,
    pareto: bool = True,
) -> Figure:
    """Plot accuracy against parameter count (log scale), one labelled marker per model.

    Args:
        points: Dicts with ``name``, ``params`` (> 0), ``accuracy`` (percent) and an
            optional ``group``; each group gets its own colour and legend entry.
        anchors: Reference models in the same form (e.g. the notebooks' seven steps), drawn
            with a different marker.
        pareto: Draw a dashed line through the Pareto-optimal ``points`` (fewest
            parameters for their accuracy).

    Returns:
        The :class:`matplotlib.figure.Figure`, one axes.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If a point lacks a key, has non-positive ``params``, or there are
            no points and no anchors.
    """
    figure_class = _figure_class()
    checked = [_check_point(point, "points") for point in points]
    anchored = [_check_point(point, "anchors") for point in anchors or ()]
    if not checked and not anchored:
        raise MnistliteError("plot_frontier needs at least one point or anchor")
    fig = figure_class(figsize=(9, 6), layout="constrained")
    ax = fig.subplots()

    _scatter_groups(ax, checked, marker="o", size=36, default_label="models")
    _scatter_groups(ax, anchored, marker="*", size=110, default_label="anchors")
    if pareto and len(checked) > 1:
        front = _pareto(checked)
        ax.plot(
            [p for p, _ in front],
            [a for _, a in front],
            linestyle="--",
            color="0.5",
            linewidth=1,
            label="Pareto front",
            zorder=2,
        )
    for name, params, accuracy, _ in (*checked, *anchored):
        ax.annotate(name, (params, accuracy), xytext=(4, 4), textcoords="offset points", fontsize=8)

    ax.set_xscale("log")
    ax.set(title="Accuracy against size", xlabel="parameters", ylabel="test accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


# -- saving ---------------------------------------------------------------------------


def plot_study_history(trials: Sequence[Any], *, title: str = "") -> Figure:
    """A sweep's validation accuracy by trial number, and the best so far.

    Args:
        trials: Complete Optuna trials (``number`` and ``value``: validation accuracy).
        title: The figure's title.
    """
    require_matplotlib()
    from matplotlib.figure import Figure as MplFigure

    numbers = [t.number for t in trials]
    values = [float(t.value) for t in trials]
    best = [max(values[: i + 1]) for i in range(len(values))]
    figure = MplFigure(figsize=(7, 4), layout="constrained")
    ax = figure.add_subplot()
    ax.scatter(numbers, values, s=18, label="trial")
    ax.step(numbers, best, where="post", color="C1", label="best so far")
    ax.set(xlabel="trial", ylabel="validation accuracy (%)", title=title)
    ax.legend(loc="lower right")
    return figure


def plot_study_parameters(trials: Sequence[Any], *, title: str = "") -> Figure:
    """A sweep's validation accuracy against the parameter count and each searched setting.

    One panel per setting; categories are labelled positions, learning rate and weight
    decay on log axes.

    Args:
        trials: Complete Optuna trials (``params``, ``user_attrs["params"]``, ``value``).
        title: The figure's title.
    """
    require_matplotlib()
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import NullFormatter

    names = ["params", *sorted({key for t in trials for key in t.params})]
    cols = 4
    rows = math.ceil(len(names) / cols)
    figure = MplFigure(figsize=(3.2 * cols, 2.6 * rows), layout="constrained")
    figure.suptitle(title)
    for i, key in enumerate(names):
        ax = figure.add_subplot(rows, cols, i + 1)
        pairs = [
            (t.user_attrs.get("params") if key == "params" else t.params.get(key), float(t.value))
            for t in trials
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
    return figure


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a figure as PNG, atomically (a crash never leaves a truncated image).

    The parent folder is created if needed. The file is PNG whatever its suffix.

    Args:
        fig: The figure to save.
        path: The target file, normally ``*.png``.
        dpi: Resolution in dots per inch.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
