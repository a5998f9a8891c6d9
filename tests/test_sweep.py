"""mnistlite sweep: budget rejection before training, a real 2-trial sweep, no test set."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from mnistlite import models, sweep
from mnistlite.cli import main
from mnistlite.data import MNISTTensors
from mnistlite.training import Trainer


def _fake(n: int) -> MNISTTensors:
    """n noise images whose first pixel is their index, so splits can be traced."""
    images = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    return MNISTTensors(images, torch.arange(n) % 10)


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna")


@pytest.fixture
def quiet_optuna(optuna):
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


def test_over_budget_trials_are_pruned_before_training(monkeypatch, optuna, quiet_optuna):
    fits = []
    real_fit = Trainer.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", counting_fit)
    data = _fake(64)
    study = optuna.create_study(direction="maximize")
    study.optimize(
        lambda t: sweep.objective(t, budget=100, train=data, val=data, epochs=1, seed=0),
        n_trials=3,
    )
    assert fits == []
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert trial.user_attrs["params"] > 100
        assert "exceed the budget of 100" in trial.user_attrs["rejected"]
        assert "val_acc" not in trial.user_attrs

    # the same objective does train a network that fits
    study.optimize(
        lambda t: sweep.objective(t, budget=10**6, train=data, val=data, epochs=1, seed=0),
        n_trials=1,
    )
    trained = study.trials[-1]
    assert fits == [1] and trained.state == optuna.trial.TrialState.COMPLETE
    assert trained.value == trained.user_attrs["val_acc"]
    for key in ("params", "macs", "spec", "net", "recipe", "seconds"):
        assert key in trained.user_attrs, key
    spec = models.spec_from_dict(trained.user_attrs["spec"])
    assert models.describe_spec(spec) == trained.user_attrs["net"]


def test_two_trial_sweep_end_to_end_then_show(mnist_root, tmp_path, capsys, optuna):
    url = f"sqlite:///{tmp_path / 's.db'}"
    common = ["--storage", url, "--study-name", "t"]
    argv = ["sweep", "--budget", "8000", "--trials", "2", "--epochs", "1", "--data"]
    argv += [str(mnist_root), "--limit-train", "512", "--val-size", "256", "--no-progress"]
    assert main(argv + common) == 0
    study = optuna.load_study(study_name="t", storage=url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2
    assert all(t.user_attrs["params"] <= 8000 and 0 <= t.value <= 100 for t in done)
    assert study.user_attrs["budget"] == 8000 and study.user_attrs["val_size"] == 256
    capsys.readouterr()

    assert main(["sweep", "--show", "--top", "5", *common]) == 0
    out = capsys.readouterr().out
    assert "study 't'" in out and "2 trained" in out
    for trial in done:
        assert f"{trial.value:.2f}%" in out and f"{trial.user_attrs['params']:,}" in out

    # a study remembers its settings and refuses incomparable runs
    changed = [a if a != "256" else "512" for a in argv]
    assert main(changed + common) == 2
    assert "val_size" in capsys.readouterr().err


def test_validation_split_comes_from_training_images_only(monkeypatch, tmp_path, quiet_optuna):
    calls = []

    def fake_load_mnist(root, *, train=True, download=False, device="cpu", limit=None):
        calls.append(train)
        return _fake(600)

    monkeypatch.setattr("mnistlite.data.load_mnist", fake_load_mnist)
    seen = []
    real_objective = sweep.objective

    def spy(trial, **kwargs):
        seen.append((kwargs["train"], kwargs["val"]))
        return real_objective(trial, **kwargs)

    monkeypatch.setattr("mnistlite.sweep.workers.objective", spy)
    study = sweep.run_sweep(
        budget=8000,
        trials=1,
        epochs=1,
        root=tmp_path,
        storage=f"sqlite:///{tmp_path / 's.db'}",
        limit_train=100,
        val_size=50,
        progress=False,
    )
    assert calls == [True]  # the test set is never loaded
    assert study.study_name == "mnistlite-budget8000"
    train, val = seen[0]
    train_ids = set(train.images[:, 0, 0, 0].tolist())
    val_ids = set(val.images[:, 0, 0, 0].tolist())
    assert len(val_ids) == 50 and len(train_ids) == 100 and not train_ids & val_ids


def test_missing_optuna_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "mnistlite.sweep")
    fresh = importlib.import_module("mnistlite.sweep")  # importing needs no Optuna
    with pytest.raises(ImportError, match=r"mnistlite\[sweep\]"):
        fresh.require_optuna()
    assert main(["sweep", "--budget", "5000", "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert "mnistlite sweep: error:" in err and 'pip install "mnistlite[sweep]"' in err
    assert main(["sweep", "--show"]) == 2
    assert "mnistlite[sweep]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "5000", "--val-size", "60000"], "val_size=60,000 leaves no training images"),
        (["--budget", "300"], "below the smallest network"),
        (["--budget", "5000", "--val-size", "10000", "--limit-train", "55000"], "limit_train"),
        (["--trials", "2"], "--budget N is required"),
        (["--show", "--storage", "sqlite:///{tmp}/none.db"], "no sweep database"),
        (["--budget", "5000", "--storage", "nonsense"], "database URL"),
    ],
)
def test_bad_sweep_arguments(args, message, tmp_path, capsys, optuna):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["sweep", "--data", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_argparse_rejects_non_positive_numbers(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--budget", "0"])
    assert exit_info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
