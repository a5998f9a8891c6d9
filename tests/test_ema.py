"""Weight averaging: Trainer(ema=...), Recipe.ema and --ema: evaluated, kept, resumed exactly."""

import pytest
import torch
from _helpers import fake, run_cli

from mnistlite import Trainer, data, models, recipes, runs
from mnistlite.errors import MnistliteError
from mnistlite.training import Callback, WeightAverage


def _trainer(ema=None, **kwargs):
    torch.manual_seed(0)
    return Trainer(
        models.lite600(),
        optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        epochs=2,
        bf16=False,
        progress=False,
        ema=ema,
        **kwargs,
    )


def test_the_model_ends_holding_the_average_of_its_steps():
    """The average, written out: a_1 = w_1, a_t = d a_(t-1) + (1 - d) w_t, buffers too."""
    decay = 0.8
    plain = _trainer()
    seen = []
    step = plain.step

    def recording(images, labels):
        out = step(images, labels)
        seen.append({k: v.detach().clone() for k, v in plain.model.state_dict().items()})
        return out

    plain.step = recording
    plain.fit(data.Batches(fake(), 32, seed=1))
    want = dict(seen[0])
    for weights in seen[1:]:
        for key, value in weights.items():
            if value.is_floating_point():
                want[key] = decay * want[key] + (1 - decay) * value
            else:
                want[key] = value
    averaged = _trainer(ema=decay)
    history = averaged.fit(data.Batches(fake(), 32, seed=1), fake(64, 3))
    got = averaged.model.state_dict()
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert history.meta["ema"] == decay
    # what was logged is what the averaged weights score
    assert averaged.evaluate(fake(64, 3))["accuracy"] == history.final["test_acc"]


def test_evaluation_sees_the_average_and_training_its_own_weights():
    trainer = _trainer(ema=0.5)
    during = []

    class Look(Callback):
        def on_validation_end(self, t, record):
            during.append({k: v.clone() for k, v in t.model.state_dict().items()})

        def on_epoch_end(self, t, record):
            own = t.model.state_dict()
            avg = t.averaged.weights()
            key = next(k for k in own if own[k].is_floating_point())
            assert not torch.equal(own[key], avg[key])  # training goes on from its own

    trainer.callbacks.append(Look())
    trainer.fit(data.Batches(fake(), 32), fake(32, 1))
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, during[-1][key])  # the last evaluation's weights are kept


class _Stop(Exception):
    pass


class _StopAfterFirst(Callback):
    def on_epoch_end(self, trainer, record):
        raise _Stop


def test_a_run_with_ema_resumes_exactly(tmp_path):
    recipe = recipes.get_recipe("lite600", epochs=2, ema=0.9)
    train, test = fake(256), fake(64, 2)
    kwargs = {"data": (train, test), "device": "cpu", "progress": False, "bf16": False}
    with pytest.raises(_Stop):
        runs.train(recipe, out=tmp_path / "a", callbacks=[_StopAfterFirst()], **kwargs)
    resumed = runs.train(recipe, out=tmp_path / "a", resume=True, **kwargs)
    straight = runs.train(recipe, out=tmp_path / "b", **kwargs)
    assert resumed.history.epochs[-1]["test_loss"] == straight.history.epochs[-1]["test_loss"]
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    saved = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(saved[key], value), key  # model.pt holds the average


def test_side_by_side_members_average_like_single_runs():
    recipe = recipes.get_recipe("lite600", epochs=1, ema=0.9)
    kwargs = {"data": (fake(192), fake(64, 2)), "device": "cpu", "progress": False}
    many = runs.train(recipe, seeds=[1, 2], stack_mode="loop", bf16=False, **kwargs)
    for seed, model in zip([1, 2], many.models, strict=True):
        one = runs.train(recipe, seed=seed, bf16=False, **kwargs)
        for key, value in one.model.state_dict().items():
            torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_decays_are_refused_naming_the_field(bad):
    with pytest.raises(MnistliteError, match="ema must be a decay in"):
        recipes.get_recipe("lite600", ema=bad)
    with pytest.raises(MnistliteError, match="ema must be a decay in"):
        _trainer(ema=bad)
    with pytest.raises(MnistliteError, match="ema must be a decay in"):
        WeightAverage(models.lite600(), bad)


@pytest.mark.parametrize("value", ["0", "1", "nan", "x"])
def test_cli_refuses_a_bad_ema(tmp_path, value):
    code, _, err = run_cli("train", "lite600", "--data", tmp_path, "--ema", value)
    assert code == 2 and "--ema" in err and "Traceback" not in err
