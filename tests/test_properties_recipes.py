"""Properties of recipes and Trainer arguments: a value out of range names its field.

For every field of :class:`~mnistlite.recipes.Recipe` and every checked argument of
:class:`~mnistlite.training.Trainer`, hypothesis draws values outside the field's range
(below, above, NaN, infinities, the wrong type) and checks that building raises a
:class:`~mnistlite.errors.MnistliteError` whose message names the field, never a
``TypeError`` from a comparison or an error later, in training. Values inside the range
must be accepted. Nothing is trained: a Trainer is only built.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from mnistlite import models, recipes
from mnistlite.errors import MnistliteError
from mnistlite.training import Trainer

nan, inf = float("nan"), float("inf")
wrong_types = st.sampled_from(["3", None, [1], b"1", object()])
non_finite = st.sampled_from([nan, inf, -inf])


def below(limit: float, integer: bool = False) -> st.SearchStrategy:
    """Numbers under ``limit`` (ints for an int field)."""
    if integer:
        return st.integers(max_value=int(limit) - 1)
    return st.floats(max_value=limit, exclude_max=True, allow_nan=False)


#: Recipe fields, their values out of range, and their values in range.
RECIPE_FIELDS: dict[str, tuple[st.SearchStrategy, st.SearchStrategy]] = {
    "epochs": (below(1, True) | st.booleans() | st.floats(1, 10), st.integers(1, 500)),
    "batch_size": (below(1, True) | st.booleans() | st.floats(1, 10), st.integers(1, 4096)),
    "step_size": (below(1, True) | st.booleans(), st.integers(1, 100)),
    "lr": (below(0) | st.just(0.0) | non_finite, st.floats(1e-6, 10)),
    "momentum": (below(0) | st.floats(min_value=1) | non_finite, st.floats(0, 0.999)),
    "gamma": (below(0) | st.just(0.0) | st.floats(1, exclude_min=True) | non_finite,
              st.floats(0.01, 1)),
    "weight_decay": (below(0) | non_finite, st.floats(0, 1)),
    "label_smoothing": (below(0) | st.floats(min_value=1) | non_finite, st.floats(0, 0.99)),
    "rotation": (below(0) | st.floats(180, exclude_min=True) | non_finite, st.floats(0, 180)),
    "translate": (below(0) | st.floats(min_value=1) | non_finite, st.floats(0, 0.99)),
    "scale": (below(0) | st.floats(min_value=1) | non_finite, st.floats(0, 0.99)),
    "distill_temperature": (below(0) | st.just(0.0) | non_finite, st.floats(0.1, 20)),
    "distill_weight": (below(0) | st.floats(1, exclude_min=True) | non_finite, st.floats(0, 1)),
    "schedule": (st.text(max_size=8).filter(lambda t: t not in ("constant", "step", "onecycle")),
                 st.sampled_from(["constant", "step", "onecycle"])),
    "interpolation": (st.text(max_size=8).filter(lambda t: t not in ("nearest", "bilinear")),
                      st.sampled_from(["nearest", "bilinear"])),
    "model": (st.text(max_size=8).filter(lambda t: t not in models.list_models()),
              st.sampled_from(["step7", "lite1k", "fast"])),
    "nesterov": (st.sampled_from(["yes", 1, None]), st.booleans()),
}  # fmt: skip

#: The number fields also refuse values of the wrong type.
NUMBER_FIELDS = [name for name in RECIPE_FIELDS if name not in ("schedule", "interpolation")]


@st.composite
def recipe_field_out_of_range(draw) -> tuple[str, object]:
    name = draw(st.sampled_from(sorted(RECIPE_FIELDS)))
    bad = RECIPE_FIELDS[name][0]
    if name in NUMBER_FIELDS and name not in ("model", "nesterov"):
        bad = bad | wrong_types
    return name, draw(bad)


@given(recipe_field_out_of_range())
@example(("gamma", "0.5"))  # compared with 0 < gamma: a TypeError
@example(("weight_decay", "0"))  # compared with >= 0: a TypeError
@example(("weight_decay", inf))  # accepted, then every weight became NaN in training
@example(("rotation", "7"))  # compared in Augment: a TypeError
@example(("nesterov", "yes"))  # accepted, then torch.optim.SGD refused it in training
def test_a_recipe_field_out_of_range_raises_naming_it(field) -> None:
    name, value = field
    with pytest.raises(MnistliteError) as caught:
        recipes.get_recipe("step7", **{name: value})
    assert name in str(caught.value)


@given(st.sampled_from(sorted(RECIPE_FIELDS)), st.data())
def test_a_recipe_field_in_range_is_accepted(name, data) -> None:
    value = data.draw(RECIPE_FIELDS[name][1])
    recipe = recipes.get_recipe("step7", **{name: value})
    assert getattr(recipe, name) == value


#: Trainer keyword arguments, their values out of range.
TRAINER_ARGS: dict[str, st.SearchStrategy] = {
    "epochs": below(1, True) | st.booleans() | st.floats(1, 3) | wrong_types,
    "label_smoothing": below(0) | st.floats(min_value=1) | non_finite | wrong_types,
    "distill_temperature": below(0) | st.just(0.0) | non_finite | wrong_types,
    "distill_weight": below(0) | st.floats(1, exclude_min=True) | non_finite | wrong_types,
    "scheduler_interval": st.text(max_size=8).filter(lambda t: t not in ("epoch", "step")),
    "channels_last": st.sampled_from(["yes", "", 1, None, "AUTO"]),
    "bf16": st.sampled_from(["yes", "", 1, None, "AUTO"]),
    "cuda_graphs": st.sampled_from(["yes", "", 1, None, "AUTO"]),
    "device": st.sampled_from(["gpu", "cpu:x", "", "tpu", "cuda:-1", "meta", "xpu"]),
    "seed": st.integers(max_value=-(2**63) - 1) | st.integers(min_value=2**64) | wrong_types,
}


@st.composite
def trainer_argument_out_of_range(draw) -> tuple[str, object]:
    name = draw(st.sampled_from(sorted(TRAINER_ARGS)))
    return name, draw(TRAINER_ARGS[name])


@given(trainer_argument_out_of_range())
@example(("seed", 2**64))  # accepted, then torch.manual_seed raised a RuntimeError in fit
@example(("seed", "1"))  # accepted, then a TypeError in fit
@example(("device", "meta"))  # accepted, then torch failed in the first forward pass
def test_a_trainer_argument_out_of_range_raises_naming_it(argument) -> None:
    name, value = argument
    with pytest.raises(MnistliteError) as caught:
        Trainer(torch.nn.Linear(2, 2), progress=False, **{name: value})
    assert name in str(caught.value), str(caught.value)


def test_the_trainer_accepts_the_edges_of_its_ranges() -> None:
    edges = {
        "epochs": 1,
        "label_smoothing": 0.0,
        "distill_temperature": 1e-9,
        "distill_weight": 1.0,
        "seed": 2**64 - 1,
        "device": "cpu",
    }
    trainer = Trainer(torch.nn.Linear(2, 2), progress=False, **edges)
    assert trainer.epochs == 1 and math.isclose(trainer.distill_weight, 1.0)
