import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from _helpers import fake

from mnistlite import Trainer, data, models, recipes
from mnistlite.training import CheckpointError, EarlyStopping, History, load_checkpoint


def make_trainer(tmp_path=None, epochs=2, **kwargs):
    torch.manual_seed(0)
    model = models.step4()
    return Trainer(
        model,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, 0.5),
        epochs=epochs,
        progress=False,
        checkpoint=tmp_path / "ck.pt" if tmp_path else None,
        **kwargs,
    )


def test_fit_logs_history_and_steps_scheduler(tmp_path):
    trainer = make_trainer(tmp_path, epochs=3)
    history = trainer.fit(data.Batches(fake(), 32, seed=0), fake(64, seed=1))
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3]
    assert history.column("lr") == [0.05, 0.025, 0.0125]
    assert len(history.batch_losses) == 3 * 3
    for record in history.epochs:
        assert set(record) == {
            "epoch",
            "train_loss",
            "train_acc",
            "lr",
            "test_loss",
            "test_acc",
            "seconds",
        }
        assert 0 <= record["test_acc"] <= 100
    assert history.final["train_loss"] < history.epochs[0]["train_loss"]
    ck = load_checkpoint(tmp_path / "ck.pt")
    assert ck["epoch"] == 3 and set(ck["rng"]) >= {"torch", "data"}


def test_history_round_trip(tmp_path):
    history = History(
        epochs=[{"epoch": 1, "test_acc": 98.0}], batch_losses=[1.0, 0.5], meta={"a": 1}
    )
    history.save(tmp_path / "h.json")
    loaded = History.load(tmp_path / "h.json")
    assert loaded == history and loaded.best() == 98.0
    assert json.loads((tmp_path / "h.json").read_text())["epochs"][0]["epoch"] == 1


def test_evaluate_and_predict():
    trainer = make_trainer(epochs=1)
    ds = fake(50)
    result = trainer.evaluate(ds, batch_size=16)
    assert set(result) == {"loss", "accuracy"}
    preds = trainer.predict(ds.images, batch_size=16)
    assert preds.shape == (50,) and preds.dtype == torch.long
    assert result["accuracy"] == pytest.approx(100 * (preds == ds.labels).float().mean().item())


def test_early_stopping_stops_at_target():
    stopper = EarlyStopping(target=0.0)
    trainer = make_trainer(epochs=5, callbacks=[stopper])
    history = trainer.fit(data.Batches(fake(), 32), fake(32, 1))
    assert len(history.epochs) == 1 and stopper.stopped_epoch == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"scheduler_interval": "year"}, "scheduler_interval"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"device": "cuda:7"}, "device"),
    ],
)
def test_trainer_rejects_bad_arguments(kwargs, message):
    if message == "device" and torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match=message):
        Trainer(models.step2(), **kwargs)


def test_corrupt_and_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    path = tmp_path / "ck.pt"
    make_trainer(tmp_path, epochs=1).fit(data.Batches(fake(), 32), fake(32, 1))
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        make_trainer(tmp_path).fit(data.Batches(fake(), 32), resume=True)


def _record_conv_inputs(model):
    """A multi-channel convolution's calls: mode, input memory format, output dtype."""
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)

    def hook(module, inputs, out):
        channels_last = inputs[0].is_contiguous(memory_format=torch.channels_last)
        seen.append((module.training, channels_last, out.dtype))

    conv.register_forward_hook(hook)
    return conv, seen


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_changes_the_weights_and_inputs_memory_format(channels_last):
    trainer = make_trainer(epochs=1, channels_last=channels_last, bf16=False)
    conv, seen = _record_conv_inputs(trainer.model)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is channels_last
    assert trainer.meta["channels_last"] is channels_last
    history = trainer.fit(data.Batches(fake(), 32), fake(32, 1))
    assert torch.isfinite(torch.tensor(history.final["train_loss"]))
    assert {c for _, c, _ in seen} == {channels_last}  # training and evaluation alike
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is channels_last


@pytest.mark.parametrize("bf16", [True, False])
def test_bf16_autocasts_training_and_never_evaluation(bf16):
    trainer = make_trainer(epochs=1, bf16=bf16, channels_last=False)
    _, seen = _record_conv_inputs(trainer.model)
    trainer.fit(data.Batches(fake(), 32), fake(32, 1))
    trained = {dtype for training, _, dtype in seen if training}
    evaluated = {dtype for training, _, dtype in seen if not training}
    assert trained == {torch.bfloat16 if bf16 else torch.float32}
    assert evaluated == {torch.float32}


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from mnistlite import recipes
    from mnistlite.data import load_mnist
    from mnistlite.training import Callback

    class KillAfter(Callback):
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:   # the checkpoint of epoch 2 is already on disk
                os.kill(os.getpid(), signal.SIGKILL)

    root, out = sys.argv[1], sys.argv[2]
    recipe = recipes.get_recipe("step7", epochs=3, step_size=2)
    data = (load_mnist(root, train=True, limit=1024), load_mnist(root, train=False, limit=500))
    recipes.train(recipe, data=data, out=out, seed=3, progress=False, callbacks=[KillAfter()])
    """
)

RUN_SCRIPT = textwrap.dedent(
    """
    import sys
    from mnistlite import recipes
    from mnistlite.data import load_mnist

    root, out, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    recipe = recipes.get_recipe("step7", epochs=3, step_size=2)
    data = (load_mnist(root, train=True, limit=1024), load_mnist(root, train=False, limit=500))
    recipes.train(recipe, data=data, out=out, seed=3, progress=False, resume=resume)
    """
)


def _strip_seconds(history):
    for record in history["epochs"]:
        record.pop("seconds")
    return history


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, mnist_root):
    """A run killed with SIGKILL after epoch 2 and resumed ends exactly as one left alone."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir()
    whole.mkdir()
    run = lambda script, *args: subprocess.run(  # noqa: E731
        [sys.executable, "-c", script, str(mnist_root), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
    )
    first = run(KILL_SCRIPT, killed)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert load_checkpoint(killed / "checkpoint.pt")["epoch"] == 2
    assert not (killed / "model.pt").exists()
    assert not [p for p in killed.iterdir() if p.name.endswith(".tmp")]
    resumed = run(RUN_SCRIPT, killed, 1)
    assert resumed.returncode == 0, resumed.stderr
    plain = run(RUN_SCRIPT, whole, 0)
    assert plain.returncode == 0, plain.stderr

    a = torch.load(killed / "model.pt", weights_only=True)
    b = torch.load(whole / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha = _strip_seconds(json.loads((killed / "history.json").read_text()))
    hb = _strip_seconds(json.loads((whole / "history.json").read_text()))
    assert ha == hb and len(ha["epochs"]) == 3


def test_recipe_train_on_real_slice_learns(mnist_root):
    train = data.load_mnist(mnist_root, train=True, limit=2048)
    test = data.load_mnist(mnist_root, train=False, limit=1000)
    recipe = recipes.get_recipe("step5", epochs=2, lr=0.02, batch_size=32)
    model, history = recipes.train(recipe, data=(train, test), progress=False)
    assert history.final["test_acc"] > 70.0
    assert history.meta["recipe"]["name"] == "step5" and history.meta["num_params"] == 10252


# --- precision: bf16 "auto", fp32 evaluation ------------------------------------------------


@pytest.mark.parametrize("native", [True, False])
def test_bf16_auto_follows_the_cpu(monkeypatch, native):
    from mnistlite.training import devices

    flags = frozenset({"avx512_bf16"}) if native else frozenset()
    monkeypatch.setattr(devices, "cpu_bf16_flags", lambda: flags)
    assert devices.bf16_native("cpu") is native
    trainer = make_trainer(epochs=1)  # bf16 left at its default, "auto"
    assert trainer.bf16 is native
    history = trainer.fit(data.Batches(fake(), 32), fake(32, 1))
    assert history.meta["bf16"] is native
    assert make_trainer(epochs=1, bf16=not native).bf16 is (not native)  # forcing wins


def test_cpu_bf16_flags_reads_cpuinfo(monkeypatch, tmp_path):
    from mnistlite.training import devices

    cpuinfo = tmp_path / "cpuinfo"
    real_open = open

    def fake_open(path, *args, **kwargs):
        return real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    for flags, expected in [
        ("fpu sse avx2 avx512f", set()),
        ("fpu avx512f avx512_bf16 avx512_vnni", {"avx512_bf16"}),
        ("fpu amx_bf16 amx_tile avx512_bf16", {"avx512_bf16", "amx_bf16"}),
    ]:
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        devices.cpu_bf16_flags.cache_clear()
        assert devices.cpu_bf16_flags() == expected
    cpuinfo.unlink()  # no /proc/cpuinfo (macOS, Windows): only the capability string counts
    devices.cpu_bf16_flags.cache_clear()
    assert devices.cpu_bf16_flags() == frozenset()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512_AMX")
    devices.cpu_bf16_flags.cache_clear()
    assert devices.cpu_bf16_flags() == {"amx_bf16"}
    devices.cpu_bf16_flags.cache_clear()


def test_bf16_rejects_other_values():
    with pytest.raises(ValueError, match="bf16 must be True, False or 'auto'"):
        Trainer(models.step2(), bf16="yes")


def test_evaluation_is_fp32_so_train_and_eval_agree():
    """fit() under bf16 logs the test accuracy a plain fp32 evaluation gives."""
    trainer = make_trainer(epochs=1, bf16=True)
    val = fake(200, seed=3)
    history = trainer.fit(data.Batches(fake(), 32), val)
    plain = Trainer(trainer.model, bf16=False, progress=False)
    result = plain.evaluate(val)
    assert history.final["test_acc"] == result["accuracy"]
    assert history.final["test_loss"] == result["loss"]
    assert torch.equal(trainer.predict(val.images), plain.predict(val.images))
    with torch.no_grad():
        trainer.model.eval()
        bf16_logits = trainer._step.logits(val.images, bf16=True)
        fp32_logits = trainer._step.logits(val.images)
    assert not torch.equal(bf16_logits, fp32_logits)  # bf16 would have given other numbers
