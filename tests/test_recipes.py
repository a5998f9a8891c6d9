import pytest
import torch

from mnistlite import recipes


def test_seven_notebook_recipes():
    assert recipes.list_recipes()[:7] == [f"step{i}" for i in range(1, 8)]
    for name in recipes.list_recipes()[:7]:
        r = recipes.get_recipe(name)
        assert (r.lr, r.momentum, r.batch_size, r.model) == (0.01, 0.9, 128, name)
    assert (
        recipes.get_recipe("step5").epochs == 15
        and recipes.get_recipe("step5").schedule == "constant"
    )
    s6, s7 = recipes.get_recipe("step6"), recipes.get_recipe("step7")
    assert (s6.epochs, s6.schedule, s6.step_size, s6.gamma, s6.rotation) == (20, "step", 10, 0.1, 0)
    assert (s7.rotation, s7.interpolation, s7.schedule) == (7.0, "nearest", "step")
    assert s7.augment().rotation == 7.0 and s6.augment() is None


def test_override_one_field():
    r = recipes.get_recipe("step7", lr=0.02)
    assert r.lr == 0.02 and r.replace(lr=0.01) == recipes.get_recipe("step7")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: recipes.get_recipe("nope"), "available recipes"),
        (lambda: recipes.get_recipe("step7", lrr=1), "unknown recipe field"),
        (lambda: recipes.get_recipe("step7", epochs=0), "epochs"),
        (lambda: recipes.get_recipe("step7", schedule="cosine"), "schedule"),
        (lambda: recipes.get_recipe("step7", model="nomodel"), "available models"),
    ],
)
def test_bad_recipes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr", float("inf")),
        ("momentum", 1.5),
        ("gamma", 0.0),
        ("weight_decay", -1.0),
        ("label_smoothing", 1.0),
        ("rotation", 200.0),
        ("interpolation", "cubic"),
    ],
)
def test_recipe_fields_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        recipes.get_recipe("step7", **{field: value})


def test_train_refuses_to_overwrite_a_checkpoint(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"old")
    with pytest.raises(ValueError, match="not empty"):
        recipes.train(recipes.get_recipe("step2"), root=tmp_path, out=tmp_path)
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"old"


def test_fast_recipe_is_its_own_and_within_the_budget():
    from mnistlite import models, params

    fast = recipes.get_recipe("fast")
    assert fast.model == "fast" and fast != recipes.get_recipe("lite8k").replace(name="fast")
    assert fast.schedule == "onecycle" and fast.epochs >= 1
    count = params.count_parameters(models.get_model("fast"))
    assert count <= params.count_parameters(models.step7()) == 10252
    macs = params.summary(models.get_model("fast")).total_macs
    assert macs < params.summary(models.step7()).total_macs / 2  # cheap per image


def _tiny_data(n=64, seed=0):
    from mnistlite.data import MNISTTensors

    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, 28, 28, generator=gen)
    labels = torch.randint(0, 10, (n,), generator=gen)
    return MNISTTensors(images, labels), MNISTTensors(images[:32], labels[:32])


def test_resume_from_python_refuses_another_runs_checkpoint(tmp_path):
    """The same-run checks live in the library: recipes.train(resume=True) applies them."""
    from mnistlite.errors import MnistliteError, ResumeMismatchError

    recipe = recipes.get_recipe("lite600", epochs=1, batch_size=32)
    out = tmp_path / "run"
    recipes.train(recipe, data=_tiny_data(), out=out, progress=False)
    before = (out / "checkpoint.pt").read_bytes()
    cases = [
        ({"recipe": recipe.replace(lr=0.2)}, "lr 0.1 -> 0.2"),
        ({"seed": 7}, "seed 1 -> 7"),
        ({"limit_train": 32}, "train_images 64 -> 32"),
        ({"recipe": recipes.get_recipe("lite1k", epochs=1)}, "recipe 'lite600', not 'lite1k'"),
    ]
    for change, difference in cases:
        kwargs = {"recipe": recipe, "data": _tiny_data(), "out": out, "progress": False}
        with pytest.raises(ResumeMismatchError) as info:
            recipes.train(**{**kwargs, **change}, resume=True)
        assert difference in str(info.value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, MnistliteError)
    assert (out / "checkpoint.pt").read_bytes() == before
    with pytest.raises(MnistliteError, match="no checkpoint"):
        recipes.train(recipe, data=_tiny_data(), out=tmp_path / "new", resume=True)
    assert not (tmp_path / "new").exists()
    with pytest.raises(MnistliteError, match="needs the out folder"):
        recipes.train(recipe, data=_tiny_data(), resume=True)


def test_failed_run_leaves_no_stray_folder(tmp_path):
    from mnistlite.training import Callback

    class Boom(Callback):
        def on_fit_start(self, trainer):
            raise RuntimeError("boom")

    out = tmp_path / "run"
    recipe = recipes.get_recipe("lite600", epochs=1)
    with pytest.raises(RuntimeError, match="boom"):
        recipes.train(recipe, data=_tiny_data(), out=out, callbacks=[Boom()], progress=False)
    assert not out.exists()
