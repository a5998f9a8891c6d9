"""Validation split, EarlyStopping (patience), ModelCheckpoint, CSVLogger, and resume."""

import csv
from types import SimpleNamespace

import pytest
import torch
from _helpers import run_cli as cli_main
from torch import nn

from mnistlite import Trainer, data, recipes
from mnistlite.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    load_checkpoint,
)


def fake(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randn(n, 1, 28, 28, generator=g) * 0.1
    for i, label in enumerate(labels):
        images[i, 0, 2 * label : 2 * label + 3, :] += 3.0  # learnable: one row band per class
    return data.MNISTTensors(images, labels)


def tiny():
    """A small CNN (with dropout, so resume must restore torch's RNG): fast on any CPU."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def make_trainer(tmp_path=None, epochs=3, lr=0.05, callbacks=()):
    torch.manual_seed(0)
    return Trainer(
        tiny(),
        optimizer=lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9),
        epochs=epochs,
        progress=False,
        checkpoint=tmp_path / "ck.pt" if tmp_path else None,
        callbacks=callbacks,
    )


class Score(Callback):
    """Adds a scripted ``score`` column (by epoch) before the other callbacks see it."""

    def __init__(self, scores):
        self.scores = scores

    def on_validation_end(self, trainer, record):
        record["score"] = self.scores[int(record["epoch"]) - 1]


class Snapshots(Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.states = {}

    def on_validation_end(self, trainer, record):
        self.states[int(record["epoch"])] = {
            k: v.clone() for k, v in trainer.model.state_dict().items()
        }


class Interrupt(Exception):
    pass


class InterruptAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:  # this epoch's checkpoint is on disk
            raise Interrupt


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def feed(callback, values, monitor="m"):
    """Run a callback over scripted records; return the epoch after which it stopped."""
    trainer = SimpleNamespace(history=History(), should_stop=False)
    callback.on_fit_start(trainer)
    for epoch, value in enumerate(values, 1):
        record = {"epoch": epoch, monitor: value}
        trainer.history.epochs.append(record)
        callback.on_epoch_end(trainer, record)
        if trainer.should_stop:
            return epoch
    return None


# -- EarlyStopping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, kwargs, stop",
    [
        ([90, 91, 92, 91.5, 91.9, 95], {"patience": 2}, 5),  # best at 3, two misses
        ([90, 91, 92, 91.5, 93, 92, 92], {"patience": 2}, 7),  # the 93 resets the count
        ([90, 90.04, 90.2, 90.25, 90.3], {"patience": 2, "min_delta": 0.1}, 5),
        ([90, 90.04, 90.2, 90.25, 90.3], {"patience": 2}, None),  # every step improves
        ([90, 89, 95], {"patience": 0}, 2),
        ([90, 91, 99.5, 80], {"target": 99.4}, 3),
        ([90, 91, 99.5, 80], {"target": 99.4, "patience": 1}, 3),
        ([0.5, 0.4, 0.45, 0.41], {"patience": 2, "mode": "min"}, 4),
    ],
)
def test_early_stopping_patience_and_target(values, kwargs, stop):
    stopper = EarlyStopping(monitor="m", **kwargs)
    assert feed(stopper, values) == stop
    assert stopper.stopped_epoch == stop


def test_early_stopping_defaults_and_auto_mode():
    assert EarlyStopping(99.4).monitor == "test_acc"  # the target form, as before
    assert EarlyStopping(99.4).mode == "max"
    assert EarlyStopping(patience=3).monitor == "val_acc"
    assert EarlyStopping(patience=3, monitor="val_loss").mode == "min"
    stopper = EarlyStopping(patience=1, monitor="val_loss")
    assert feed(stopper, [0.5, 0.3, 0.4], monitor="val_loss") == 3 and stopper.best == 0.3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "target, a patience"),
        ({"patience": -1}, "patience"),
        ({"patience": 2.5}, "patience"),
        ({"patience": 2, "min_delta": -0.1}, "min_delta"),
        ({"patience": 2, "mode": "up"}, "mode"),
        ({"target": "high"}, "target"),
    ],
)
def test_early_stopping_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)


def test_monitoring_a_missing_column_says_what_to_do():
    trainer = make_trainer(epochs=2, callbacks=[EarlyStopping(patience=1)])
    with pytest.raises(ValueError, match="val_acc.*val_split"):
        trainer.fit(data.Batches(fake(), 32), fake(32, 1))  # no val set


def test_patience_stops_a_real_fit_at_the_right_epoch():
    """With lr 0 the weights never change, so val_acc is flat: stop after 1 + patience."""
    stopper = EarlyStopping(patience=2)
    trainer = make_trainer(epochs=10, lr=0.0, callbacks=[stopper])
    history = trainer.fit(data.Batches(fake(), 32), fake(32, 1), val=fake(40, 2))
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert len(set(history.column("val_acc"))) == 1


# -- the validation set ------------------------------------------------------------------


def test_fit_logs_val_and_test_separately():
    trainer = make_trainer(epochs=2)
    val, test = fake(40, 2), fake(50, 3)
    history = trainer.fit(data.Batches(fake(), 32, seed=0), test, val=val)
    record = history.final
    assert {"val_loss", "val_acc", "test_loss", "test_acc"} <= set(record)
    assert record["val_acc"] == pytest.approx(trainer.evaluate(val)["accuracy"])
    assert record["test_acc"] == pytest.approx(trainer.evaluate(test)["accuracy"])
    assert record["val_loss"] != record["test_loss"]


def test_recipes_train_val_split_holds_out_seeded_training_images():
    train, test = fake(200, 4), fake(50, 5)
    recipe = recipes.get_recipe("step4", epochs=2, batch_size=32, lr=0.05)
    model, history = recipes.train(recipe, data=(train, test), seed=7, val_split=60, progress=False)
    assert history.meta["train_images"] == 140 and history.meta["val_images"] == 60
    _, held_out = train.split(60, seed=7)  # the same seeded choice
    evaluated = Trainer(model, progress=False).evaluate(held_out)
    assert history.final["val_acc"] == pytest.approx(evaluated["accuracy"])
    assert history.final["val_loss"] == pytest.approx(evaluated["loss"], rel=1e-5)
    assert history.final["test_acc"] == pytest.approx(
        Trainer(model, progress=False).evaluate(test)["accuracy"]
    )


@pytest.mark.parametrize("val_split, message", [(0, "positive"), (True, "positive"), (200, "no")])
def test_recipes_train_rejects_bad_val_split(val_split, message):
    recipe = recipes.get_recipe("step4", epochs=1)
    with pytest.raises(ValueError, match=f"val_split.*{message}|{message}.*val_split"):
        recipes.train(recipe, data=(fake(200), fake(20)), val_split=val_split, progress=False)


def test_cli_val_split(tmp_path, mnist_root):
    out = tmp_path / "run"
    code, stdout, stderr = cli_main(
        "train", "step4", "--data", mnist_root, "--epochs", "1", "--limit-train", "600",
        "--val-split", "500", "--out", out, "--no-progress", "--no-bf16",
    )  # fmt: skip
    assert code == 0, stderr
    assert "val accuracy" in stdout
    history = History.load(out / "history.json")
    assert history.meta["val_images"] == 500 and history.meta["train_images"] == 600
    assert 0 <= history.final["val_acc"] <= 100
    code, _, stderr = cli_main("train", "step4", "--val-split", "60000", "--out", tmp_path / "x")
    assert code == 2 and "--val-split" in stderr


# -- ModelCheckpoint ---------------------------------------------------------------------


def test_model_checkpoint_restores_the_best_epochs_weights(tmp_path):
    snapshots = Snapshots()
    keeper = ModelCheckpoint(tmp_path / "best.pt", monitor="score", restore_best=True)
    trainer = make_trainer(epochs=4, callbacks=[Score([1.0, 5.0, 3.0, 2.0]), snapshots, keeper])
    history = trainer.fit(data.Batches(fake(), 32, seed=0), fake(32, 1))
    assert keeper.best == 5.0 and keeper.best_epoch == 2
    assert not same_state(snapshots.states[2], snapshots.states[4])  # training moved on
    assert same_state(trainer.model.state_dict(), snapshots.states[2])
    assert same_state(torch.load(tmp_path / "best.pt", weights_only=True), snapshots.states[2])
    assert history.meta["restored_epoch"] == 2


def test_model_checkpoint_min_mode_and_file_only(tmp_path):
    snapshots = Snapshots()
    keeper = ModelCheckpoint(
        tmp_path / "best.pt", monitor="score", mode="min", in_memory=False, restore_best=True
    )
    trainer = make_trainer(epochs=3, callbacks=[Score([3.0, 1.0, 2.0]), snapshots, keeper])
    trainer.fit(data.Batches(fake(), 32, seed=0))
    assert keeper.best_epoch == 2 and keeper.best_state is None
    assert same_state(trainer.model.state_dict(), snapshots.states[2])


def test_model_checkpoint_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="path"):
        ModelCheckpoint(in_memory=False)
    with pytest.raises(ValueError, match="folder does not exist"):
        make_trainer(callbacks=[ModelCheckpoint(tmp_path / "no" / "best.pt")]).fit(
            data.Batches(fake(), 32)
        )


# -- CSVLogger ---------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_logger_rows_match_history(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv")
    trainer = make_trainer(epochs=3, callbacks=[logger])
    history = trainer.fit(data.Batches(fake(), 32), fake(32, 1), val=fake(40, 2))
    rows = read_csv(tmp_path / "log.csv")
    assert list(rows[0]) == list(history.epochs[0])  # header from the keys, in order
    assert len(rows) == 3
    for row, record in zip(rows, history.epochs, strict=True):
        assert {k: float(v) for k, v in row.items()} == {k: float(v) for k, v in record.items()}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- exact resume with the callbacks --------------------------------------------------------


def run_with_callbacks(tmp_path, epochs, resume=False, interrupt=None):
    callbacks = [
        Score([1.0, 5.0, 3.0, 2.0, 4.0, 4.5]),
        ModelCheckpoint(tmp_path / "best.pt", monitor="score", restore_best=True),
        EarlyStopping(monitor="score", patience=2),
        CSVLogger(tmp_path / "log.csv"),
    ]
    if interrupt:
        callbacks.append(InterruptAfter(interrupt))
    trainer = make_trainer(tmp_path, epochs=epochs, callbacks=callbacks)
    batches = data.Batches(fake(), 32, seed=3, augment=data.Augment(rotation=10.0))
    history = trainer.fit(batches, fake(32, 1), val=fake(40, 2), resume=resume)
    return trainer, history, callbacks


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.epochs]


def test_resume_with_model_checkpoint_and_early_stopping_is_exact(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    whole.mkdir()
    broken.mkdir()
    trainer, history, (_, keeper, stopper, _) = run_with_callbacks(whole, epochs=6)
    # best score at epoch 2, then two epochs without improvement: stop after epoch 4
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4] and stopper.stopped_epoch == 4
    assert keeper.best_epoch == 2

    with pytest.raises(Interrupt):
        run_with_callbacks(broken, epochs=6, interrupt=3)
    assert load_checkpoint(broken / "ck.pt")["epoch"] == 3
    resumed, resumed_history, (_, keeper2, stopper2, _) = run_with_callbacks(
        broken, epochs=6, resume=True
    )
    assert without_seconds(resumed_history) == without_seconds(history)
    assert keeper2.best_epoch == 2 and stopper2.stopped_epoch == 4
    assert same_state(resumed.model.state_dict(), trainer.model.state_dict())  # best, restored
    assert same_state(keeper2.best_state, keeper.best_state)
    a, b = read_csv(whole / "log.csv"), read_csv(broken / "log.csv")
    assert [r["epoch"] for r in b] == ["1", "2", "3", "4"]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in b
    ]

    # a run that stopped early stays stopped when resumed
    again, again_history, _ = run_with_callbacks(whole, epochs=6, resume=True)
    assert len(again_history.epochs) == 4
    assert same_state(again.model.state_dict(), trainer.model.state_dict())
