"""Tests of mnistlite.params: count_parameters, check_budget and summary."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mnistlite import models, params

STEPS = [f"step{i}" for i in range(1, 8)]
ROW_FIELDS = {"name", "type", "output_shape", "params", "macs", "receptive_field"}


@pytest.fixture(scope="module")
def built() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {name: models.get_model(name) for name in STEPS}


@pytest.fixture(scope="module")
def step7_summary() -> params.Summary:
    return params.summary(models.step7())


# --- count_parameters --------------------------------------------------------------------


def test_count_parameters_plain_modules():
    assert params.count_parameters(nn.Linear(3, 4)) == 16
    assert params.count_parameters(nn.ReLU()) == 0
    assert params.count_parameters(models.step7()) == 10_252


def test_count_parameters_trainable_only_skips_frozen():
    model = models.step7()
    first_conv = model.layers[0][0]
    first_conv.weight.requires_grad_(False)  # 1·8·3·3 = 72 weights
    assert params.count_parameters(model) == 10_252
    assert params.count_parameters(model, trainable_only=True) == 10_252 - 72
    for p in model.parameters():
        p.requires_grad_(False)
    assert params.count_parameters(model, trainable_only=True) == 0


def test_count_parameters_rejects_non_module():
    with pytest.raises(TypeError):
        params.count_parameters([torch.zeros(3)])


# --- check_budget ------------------------------------------------------------------------


def test_check_budget_returns_count():
    assert params.check_budget(models.step7(), 11_000) == 10_252
    assert params.check_budget(models.step7(), 10_252) == 10_252  # the limit is inclusive


def test_check_budget_exceeded_message():
    with pytest.raises(ValueError) as info:
        params.check_budget(models.step7(), 10_000)
    assert str(info.value) == "10,252 parameters exceed the budget of 10,000"


def test_check_budget_exceeded_message_large_numbers():
    with pytest.raises(ValueError) as info:
        params.check_budget(models.step1(), 1_000_000)
    assert str(info.value) == "6,379,786 parameters exceed the budget of 1,000,000"


@pytest.mark.parametrize("budget", [-1, -10_000, 1.5e4, "10000", True])
def test_check_budget_rejects_bad_budget(budget):
    with pytest.raises(ValueError, match="budget"):
        params.check_budget(models.step7(), budget)


# --- summary: totals ---------------------------------------------------------------------


def test_summary_step7_macs(step7_summary):
    assert step7_summary.total_macs == 1_668_660


def test_summary_macs_are_per_image():
    assert params.summary(models.step7(), input_size=(4, 1, 28, 28)).total_macs == 1_668_660


@pytest.mark.parametrize("name", STEPS)
def test_summary_macs_are_half_of_flop_counter(built, name):
    model = built[name].eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    assert 2 * params.summary(model).total_macs == counter.get_total_flops()


def test_summary_step7_receptive_field(step7_summary):
    assert step7_summary.rows[-1].receptive_field == 38
    fields = [row.receptive_field for row in step7_summary.rows]
    assert fields == sorted(fields)  # never shrinks along the chain
    assert fields[0] == 3


@pytest.mark.parametrize("name", STEPS)
def test_summary_totals_equal_count_parameters(built, name):
    model = built[name]
    result = params.summary(model)
    assert result.total_params == params.count_parameters(model)
    assert result.trainable_params == params.count_parameters(model, trainable_only=True)
    assert sum(row.params for row in result.rows) == result.total_params


def test_summary_trainable_params_with_frozen_layer():
    model = models.step7()
    model.layers[0][0].weight.requires_grad_(False)
    result = params.summary(model)
    assert result.total_params == 10_252
    assert result.trainable_params == 10_252 - 72
    assert "Non-trainable params: 72" in str(result)


# --- summary: rows and output ------------------------------------------------------------


def test_summary_rows_have_all_fields(step7_summary):
    assert step7_summary.rows
    for row in step7_summary.rows:
        assert isinstance(row.name, str) and row.name
        assert isinstance(row.type, str) and row.type
        assert isinstance(row.output_shape, tuple)
        assert all(isinstance(n, int) for n in row.output_shape)
        assert isinstance(row.params, int) and row.params >= 0
        assert isinstance(row.macs, int) and row.macs >= 0
        assert isinstance(row.receptive_field, int) and row.receptive_field >= 1


def test_summary_rows_content(step7_summary):
    rows = step7_summary.rows
    first = rows[0]
    assert (first.name, first.type, first.output_shape) == ("layers.0.0", "Conv2d", (1, 8, 28, 28))
    assert (first.params, first.macs, first.receptive_field) == (72, 56_448, 3)
    assert rows[-1].output_shape == (1, 10)
    assert sum(row.params for row in rows) == step7_summary.total_params == 10_252
    assert sum(row.macs for row in rows) == step7_summary.total_macs


def test_summary_str_table(step7_summary):
    text = str(step7_summary)
    assert "Total params: 10,252" in text
    assert "Trainable params: 10,252" in text
    assert "MACs per image: 1,668,660" in text
    assert "Conv2d-layers.0.0" in text
    assert "[1, 8, 28, 28]" in text


def test_summary_to_dict_is_json(step7_summary):
    data = step7_summary.to_dict()
    restored = json.loads(json.dumps(data))
    assert restored["total_params"] == 10_252
    assert restored["trainable_params"] == 10_252
    assert restored["total_macs"] == 1_668_660
    assert restored["input_size"] == [1, 1, 28, 28]
    assert len(restored["rows"]) == len(step7_summary.rows)
    for row in restored["rows"]:
        assert set(row) == ROW_FIELDS
    assert restored["rows"][-1]["receptive_field"] == 38
    assert restored["rows"][0]["output_shape"] == [1, 8, 28, 28]


@pytest.mark.parametrize("input_size", [(0, 1, 28, 28), (1, -1, 28, 28), ()])
def test_summary_rejects_bad_input_size(input_size):
    with pytest.raises(ValueError, match="input_size"):
        params.summary(models.step7(), input_size=input_size)


def test_summary_rejects_non_module():
    with pytest.raises(TypeError):
        params.summary("step7")


# --- summary leaves the model alone ------------------------------------------------------


def snapshot(model: nn.Module) -> tuple[dict[str, bool], dict[str, torch.Tensor]]:
    modes = {name: m.training for name, m in model.named_modules()}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return modes, state


def assert_unchanged(model: nn.Module, before) -> None:
    modes, state = before
    after_modes, after_state = snapshot(model)
    assert after_modes == modes
    assert after_state.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(after_state[key], value), key


@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_summary_leaves_mode_and_state_unchanged(mode):
    torch.manual_seed(5)
    model = models.step7()
    # Non-trivial running statistics, so a stray update would show.
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 1, 28, 28))
    if mode == "eval":
        model.eval()
    elif mode == "mixed":
        model.layers[0].eval()
    before = snapshot(model)
    assert any(k.endswith("num_batches_tracked") for k in before[1])
    params.summary(model)
    assert_unchanged(model, before)
    assert model.training == (mode != "eval")
