"""The error family (mnistlite.errors) and the argument checks written once (_checks)."""

import argparse
import math

import pytest

from mnistlite import _checks, argtypes, data, errors, models, recipes, training
from mnistlite.errors import MnistliteError


def test_family_tree():
    for cls in (
        errors.CheckpointError,
        errors.ResumeMismatchError,
        errors.WeightsError,
        errors.DatasetNotFoundError,
        errors.MissingExtraError,
    ):
        assert issubclass(cls, MnistliteError) and issubclass(cls, ValueError)
    assert issubclass(errors.ResumeMismatchError, errors.CheckpointError)
    assert issubclass(errors.DatasetNotFoundError, FileNotFoundError)
    assert issubclass(errors.MissingExtraError, ImportError)
    # the old homes still name the same classes
    assert training.CheckpointError is errors.CheckpointError
    assert models.WeightsError is errors.WeightsError
    assert data.DatasetNotFoundError is errors.DatasetNotFoundError


@pytest.mark.parametrize(
    "call",
    [
        lambda: models.get_model("resnet"),
        lambda: recipes.get_recipe("nope"),
        lambda: recipes.get_recipe("step7", lr=-1.0),
        lambda: models.step7(weights="IMAGENET"),
        lambda: models.step7(width=3),
        lambda: models.spec_from_dict({"layers": [{"type": "Nope"}]}),
        lambda: training.resolve_device("tpu:9"),
        lambda: data.load_mnist("/nonexistent/mnist"),
    ],
)
def test_boundary_errors_belong_to_the_family(call):
    with pytest.raises(MnistliteError):
        call()


@pytest.mark.parametrize(
    "check, value, ok",
    [
        (_checks.positive_int, 1, True),
        (_checks.positive_int, 0, False),
        (_checks.positive_int, True, False),
        (_checks.positive_int, 2.0, False),
        (_checks.non_negative_int, 0, True),
        (_checks.non_negative_int, -1, False),
        (_checks.probability, 0.0, True),
        (_checks.probability, 0.999, True),
        (_checks.probability, 1.0, False),
        (_checks.probability, -0.1, False),
        (_checks.probability, "0.1", False),
        (_checks.finite_positive, 1e-9, True),
        (_checks.finite_positive, 0.0, False),
        (_checks.finite_positive, math.inf, False),
        (_checks.finite_positive, math.nan, False),
        (_checks.seed, -(2**63), True),
        (_checks.seed, 2**64 - 1, True),
        (_checks.seed, 2**64, False),
    ],
)
def test_checks(check, value, ok):
    if ok:
        assert check("x", value) == value
    else:
        with pytest.raises(MnistliteError, match=r"^x must be"):
            check("x", value)


def test_probability_may_include_one():
    assert _checks.probability("p", 1.0, high_inclusive=True) == 1.0


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (argtypes.positive_int, "0", "expected a positive integer (>= 1), got 0"),
        (argtypes.positive_int, "x", "expected a positive integer, got 'x'"),
        (argtypes.positive_float, "inf", "expected a finite positive number, got inf"),
        (argtypes.seed_int, str(2**64), "expected an integer in [-2**63, 2**64 - 1]"),
    ],
)
def test_argtypes_use_the_same_checks(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(text)
    assert message in str(info.value)
