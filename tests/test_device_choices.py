"""What a run chooses by device: channels_last and a recipe's device overrides."""

import copy
import pickle

import pytest
import torch
from _helpers import fake, run_cli

from mnistlite import models, recipes
from mnistlite.errors import MnistliteError
from mnistlite.stacked import StackedModel
from mnistlite.training import Trainer, resolve_channels_last

# --- channels_last="auto" ---------------------------------------------------------------


def test_channels_last_auto_is_on_for_cuda_unless_the_network_is_depthwise():
    step7, lite1k = models.get_model("step7"), models.get_model("lite1k")
    assert resolve_channels_last("auto", "cuda", step7) is True
    assert resolve_channels_last("auto", "cuda:1", models.get_model("fast")) is True
    assert resolve_channels_last("auto", "cuda", lite1k) is False  # depthwise convolutions
    assert resolve_channels_last("auto", "cpu", step7) is False
    assert resolve_channels_last("auto", "mps", step7) is False
    assert resolve_channels_last(True, "cpu", lite1k) is True
    assert resolve_channels_last(False, "cuda", step7) is False
    with pytest.raises(MnistliteError, match="channels_last must be True, False or 'auto'"):
        resolve_channels_last("yes", "cpu")


def test_trainer_records_its_memory_format():
    trainer = Trainer(models.get_model("step7"), progress=False)
    assert trainer.channels_last is False and trainer.meta["channels_last"] is False
    forced = Trainer(models.get_model("step7"), channels_last=True, progress=False)
    assert forced.meta["channels_last"] is True
    assert forced.model.layers[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    stacked = StackedModel([models.get_model("lite600"), models.get_model("lite600")])
    assert Trainer(stacked, progress=False).channels_last is False  # auto: off when stacked
    with pytest.raises(MnistliteError, match="not supported for a stacked model"):
        Trainer(stacked, channels_last=True)
    with pytest.raises(MnistliteError, match="channels_last must be True, False or 'auto'"):
        Trainer(stacked, channels_last="on")


# --- Recipe.device_overrides --------------------------------------------------------------


def test_fast_trains_longer_on_cuda_only():
    fast = recipes.get_recipe("fast")
    assert fast.device_overrides == {"cuda": {"epochs": 8}}
    assert fast.for_device("cuda").epochs == 8
    assert fast.for_device(torch.device("cuda:1")).epochs == 8
    assert fast.for_device("cpu").epochs == 6 and fast.for_device("mps").epochs == 6
    assert fast.for_device("cuda").device_overrides == {}
    assert "device_overrides" not in fast.for_device("cuda").to_dict()
    assert fast.to_dict()["device_overrides"] == {"cuda": {"epochs": 8}}
    with pytest.raises(TypeError):  # the registry cannot be changed through a recipe
        fast.device_overrides["cuda"]["epochs"] = 1  # type: ignore[index]
    assert pickle.loads(pickle.dumps(fast)) == fast == copy.deepcopy(fast)
    step7 = recipes.get_recipe("step7")
    assert step7.for_device("cuda") is step7 and "device_overrides" not in step7.to_dict()


def test_an_explicit_field_wins_over_the_device_override():
    assert recipes.get_recipe("fast", epochs=3).for_device("cuda").epochs == 3
    assert recipes.get_recipe("fast").replace(epochs=2).device_overrides == {}
    assert recipes.get_recipe("fast", lr=0.2).for_device("cuda").epochs == 8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tpu": {"epochs": 2}}, "unknown device type 'tpu'; expected one of cpu, cuda, mps"),
        ({"cuda": {"epoch": 2}}, r"device_overrides\['cuda'\]: unknown or fixed field\(s\) epoch"),
        ({"cuda": {"name": "x"}}, r"unknown or fixed field\(s\) name"),
        ({"cuda": {"epochs": 0}}, r"device_overrides\['cuda'\]: epochs must be a positive"),
        ([("cuda", {"epochs": 2})], "device_overrides must map a device type"),
    ],
)
def test_bad_device_overrides_are_refused(overrides, message):
    with pytest.raises(MnistliteError, match=message):
        recipes.get_recipe("fast", device_overrides=overrides)


def test_train_applies_the_overrides_of_its_device():
    recipe = recipes.get_recipe("lite600", batch_size=32).replace(
        device_overrides={"cpu": {"epochs": 2}, "cuda": {"epochs": 5}}
    )
    kw = dict(data=(fake(64), fake(16, 1)), device="cpu", progress=False)
    _, history = recipes.train(recipe, **kw)
    assert len(history.epochs) == 2
    assert history.meta["recipe"]["epochs"] == 2
    assert "device_overrides" not in history.meta["recipe"]


def test_cli_list_shows_device_overrides():
    code, out, err = run_cli("list")
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.split()[:2] == ["fast", "model=fast"])
    assert "epochs=6" in line and "on cuda: epochs=8" in line


def test_cli_list_shows_teacher_and_weight_averaging():
    from mnistlite import recipes

    code, out, err = run_cli("list")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if "model=" in line}
    for name in recipes.list_recipes():
        recipe = recipes.get_recipe(name)
        assert (f"teacher={recipe.teacher}" in lines[name]) == bool(recipe.teacher), name
        assert ("ema=" in lines[name]) == (recipe.ema is not None), name
    assert "ema=0.999" in lines["lite8k"] and "teacher=teacher" in lines["lite10k"]
