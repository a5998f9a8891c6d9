"""Tests of mnistlite.plots on synthetic histories, data and a tiny model (no training)."""

from __future__ import annotations

import json
import sys

import pytest
import torch

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from mnistlite import models, plots  # noqa: E402
from mnistlite.data import MNISTTensors  # noqa: E402
from mnistlite.training import History  # noqa: E402

NOTEBOOK_RUN = {
    "lr": 0.01,
    "epochs": 3,
    "train_acc": [85.5, 97.39, 98.11],
    "test_acc": [97.33, 98.67, 99.11],
}


def make_history(epochs: int = 3, batches: int = 5) -> History:
    records = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "train_acc": 90.0 + e,
            "test_loss": 0.8 / e,
            "test_acc": 95.0 + e,
            "lr": 0.01,
            "seconds": 1.0,
        }
        for e in range(1, epochs + 1)
    ]
    losses = [2.0 / (i + 1) for i in range(epochs * batches)]
    meta = {"recipe": {"name": "tiny"}, "seed": 1}
    return History(epochs=records, batch_losses=losses, meta=meta)


def n_lines(fig: Figure) -> int:
    return sum(len(ax.lines) for ax in fig.axes)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = models.step2()
    images = torch.randn(64, 1, 28, 28)
    labels = torch.randint(0, 10, (64,))
    return model, MNISTTensors(images, labels)


def test_plot_history_has_four_panels():
    fig = plots.plot_history(make_history())
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert n_lines(fig) == 4
    assert len(fig.axes[0].lines[0].get_xdata()) == 15  # one point per batch
    assert fig._suptitle is not None and "tiny" in fig._suptitle.get_text()


def test_plot_history_overlay_adds_lines():
    alone = n_lines(plots.plot_history(make_history()))
    both = plots.plot_history(make_history(), make_history(epochs=4), labels=("a", "b"))
    assert n_lines(both) == 2 * alone
    legend = both.axes[3].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]


def test_plot_history_compare_notebook_run_draws_only_accuracy():
    fig = plots.plot_history(make_history(), NOTEBOOK_RUN)
    per_axis = [len(ax.lines) for ax in fig.axes]
    assert per_axis == [1, 1, 2, 2]  # the notebook run has no losses
    assert list(fig.axes[3].lines[1].get_ydata()) == NOTEBOOK_RUN["test_acc"]


def test_plot_history_labels_default_to_mnistlite_and_the_notebooks():
    fig = plots.plot_history(make_history(), NOTEBOOK_RUN)
    legend = fig.axes[3].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["mnistlite", "notebooks"]


def test_plot_history_notebook_run_with_a_bad_series_names_it():
    with pytest.raises(ValueError, match="notebook run's 'test_acc'"):
        plots.plot_history({"train_acc": [1.0, 2.0], "test_acc": "99.1"})


def test_plot_history_notebook_run_alone_marks_empty_panels():
    fig = plots.plot_history(NOTEBOOK_RUN)
    assert [len(ax.lines) for ax in fig.axes] == [0, 0, 1, 1]
    assert any(t.get_text() == "no data" for t in fig.axes[0].texts)


def test_plot_history_from_dict_and_path(tmp_path):
    history = make_history()
    path = history.save(tmp_path / "history.json")
    from_path = plots.plot_history(path)
    from_str = plots.plot_history(str(path))
    from_dict = plots.plot_history(json.loads(path.read_text()))
    assert n_lines(from_path) == n_lines(from_str) == n_lines(from_dict) == 4
    with pytest.raises(FileNotFoundError):
        plots.plot_history(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="epochs"):
        plots.plot_history({"nothing": 1})


def test_plot_accuracy_curves_one_line_per_run():
    runs = {"step6": make_history(), "notebooks": NOTEBOOK_RUN}
    fig = plots.plot_accuracy_curves(runs, ylim=(90.0, 100.0))
    assert len(fig.axes) == 1
    assert len(fig.axes[0].lines) == 2
    assert fig.axes[0].get_ylim() == (90.0, 100.0)
    with pytest.raises(ValueError, match="test_loss"):
        plots.plot_accuracy_curves(runs, key="test_loss")  # the notebook run has no losses


def test_plot_misclassified_grid_and_restores_mode(tiny):
    model, data = tiny
    model.train()
    fig = plots.plot_misclassified(model, data, n=7)
    assert model.training
    images = [ax for ax in fig.axes if ax.images]
    assert 1 <= len(images) <= 7
    assert len(images) == len(fig.axes)
    title = images[0].get_title()
    assert title.startswith("true ") and " / pred " in title


def test_plot_misclassified_none_wrong(tiny):
    model, data = tiny
    model.eval()
    with torch.no_grad():
        predictions = model(data.images).argmax(1)
    perfect = MNISTTensors(data.images, predictions)
    fig = plots.plot_misclassified(model, perfect)
    assert not model.training
    assert fig.axes == []
    assert any("No misclassified" in t.get_text() for t in fig.texts)


def test_plot_frontier_log_scale_and_labels():
    points = [
        {"name": "a", "params": 5_000, "accuracy": 99.1, "group": "ours"},
        {"name": "b", "params": 8_000, "accuracy": 99.4, "group": "ours"},
        {"name": "c", "params": 9_000, "accuracy": 99.2},
    ]
    anchors = [{"name": "step7", "params": 10_252, "accuracy": 99.45}]
    fig = plots.plot_frontier(points, anchors=anchors)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert {t.get_text() for t in ax.texts} == {"a", "b", "c", "step7"}
    assert len(ax.collections) == 3  # two groups and the anchors
    assert list(ax.lines[0].get_xdata()) == [5_000, 8_000]  # Pareto front
    with pytest.raises(ValueError, match="params"):
        plots.plot_frontier([{"name": "x", "accuracy": 99.0}])


def test_save_figure_writes_png(tmp_path):
    path = plots.save_figure(plots.plot_history(make_history()), tmp_path / "sub" / "h.png")
    assert path == tmp_path / "sub" / "h.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in path.parent.iterdir()] == ["h.png"]  # no temporary left


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"mnistlite\[plots\]"):
        plots.require_matplotlib()
    with pytest.raises(ImportError, match=r"mnistlite\[plots\]"):
        plots.plot_history(make_history())


def test_module_imports_without_matplotlib(monkeypatch):
    import importlib

    import mnistlite

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.delitem(sys.modules, "mnistlite.plots")
    monkeypatch.setattr(mnistlite, "plots", plots, raising=False)
    fresh = importlib.import_module("mnistlite.plots")
    assert fresh is not plots
    with pytest.raises(ImportError, match=r"mnistlite\[plots\]"):
        fresh.plot_frontier([{"name": "a", "params": 1, "accuracy": 1.0}])
