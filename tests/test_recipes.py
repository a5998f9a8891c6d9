import pytest

from mnistlite import recipes


def test_seven_seed_recipes():
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
    with pytest.raises(ValueError, match="exists"):
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
