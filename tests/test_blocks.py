"""Tests of mnistlite.blocks: shapes, argument checks and closed-form parameter counts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mnistlite.blocks import ConvBlock, DepthwiseSeparableBlock, FastDropout, GAPHead, Transition

PROPERTY = settings(max_examples=30, deadline=None)

channels = st.integers(min_value=1, max_value=64)
kernels = st.integers(min_value=1, max_value=7)
paddings = st.integers(min_value=0, max_value=3)
dropouts = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.99))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def layer_types(module: nn.Module) -> list[type]:
    return [type(m) for m in module]


# --- output shapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel_size", "padding", "side"),
    [(3, 0, 26), (3, 1, 28), (1, 0, 28), (1, 1, 30), (5, 2, 28), (7, 0, 22)],
)
def test_conv_block_output_shape(kernel_size, padding, side):
    block = ConvBlock(3, 8, kernel_size, padding)
    assert block(torch.randn(2, 3, 28, 28)).shape == (2, 8, side, side)


def test_conv_block_layer_order_is_conv_relu_bn_dropout():
    block = ConvBlock(1, 8, dropout=0.1)
    assert layer_types(block) == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d, FastDropout]
    assert isinstance(block[3], nn.Dropout) and block[3].p == pytest.approx(0.1)
    assert "(3): Dropout(p=0.1, inplace=False)" in repr(block)
    assert block[0].bias is None


def test_conv_block_parts_can_be_switched_off():
    bare = ConvBlock(1, 8, relu=False, batchnorm=False, dropout=0.0, bias=True)
    assert layer_types(bare) == [nn.Conv2d]
    assert bare[0].bias is not None
    assert layer_types(ConvBlock(1, 8, batchnorm=False)) == [nn.Conv2d, nn.ReLU]


@pytest.mark.parametrize(("pool", "padding", "side"), [(False, 0, 9), (False, 1, 11), (True, 0, 4)])
def test_transition_output_shape(pool, padding, side):
    block = Transition(16, 14, pool=pool, padding=padding)
    assert block(torch.randn(3, 16, 9, 9)).shape == (3, 14, side, side)


def test_transition_layer_order():
    assert layer_types(Transition(16, 14)) == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]
    pooled = Transition(16, 14, pool=True, dropout=0.07)
    assert layer_types(pooled) == [nn.MaxPool2d, nn.Conv2d, nn.ReLU, nn.BatchNorm2d, FastDropout]
    assert pooled[1].kernel_size == (1, 1)


def test_gap_head_output_shape():
    assert GAPHead(10)(torch.randn(5, 10, 7, 7)).shape == (5, 10)
    assert GAPHead(12, num_classes=3)(torch.randn(2, 12, 5, 5)).shape == (2, 3)


def test_gap_head_averages_before_the_conv():
    head = GAPHead(4, 2)
    x = torch.randn(3, 4, 7, 7)
    expected = head[1](x.mean(dim=(2, 3), keepdim=True)).flatten(1)
    torch.testing.assert_close(head(x), expected)


@pytest.mark.parametrize(("kernel_size", "padding", "side"), [(3, 0, 26), (3, 1, 28), (5, 0, 24)])
def test_depthwise_separable_output_shape(kernel_size, padding, side):
    block = DepthwiseSeparableBlock(4, 6, kernel_size, padding)
    assert block(torch.randn(2, 4, 28, 28)).shape == (2, 6, side, side)
    assert block[0].groups == 4


# --- argument validation -----------------------------------------------------------------

BAD_ARGUMENTS = [
    (lambda: ConvBlock(0, 8), "in_channels", ">= 1"),
    (lambda: ConvBlock(-3, 8), "in_channels", ">= 1"),
    (lambda: ConvBlock(1, 0), "out_channels", ">= 1"),
    (lambda: ConvBlock(1, 8, kernel_size=0), "kernel_size", ">= 1"),
    (lambda: ConvBlock(1, 8, padding=-1), "padding", ">= 0"),
    (lambda: ConvBlock(1, 8, dropout=-0.1), "dropout", "[0, 1)"),
    (lambda: ConvBlock(1, 8, dropout=1.0), "dropout", "[0, 1)"),
    (lambda: ConvBlock(1, 8, dropout=1.5), "dropout", "[0, 1)"),
    (lambda: ConvBlock(True, 8), "in_channels", ">= 1"),
    (lambda: ConvBlock(1, 8, kernel_size=2.5), "kernel_size", ">= 1"),
    (lambda: Transition(0, 8), "in_channels", ">= 1"),
    (lambda: Transition(8, -1), "out_channels", ">= 1"),
    (lambda: Transition(8, 4, padding=-2), "padding", ">= 0"),
    (lambda: Transition(8, 4, dropout=1.0), "dropout", "[0, 1)"),
    (lambda: GAPHead(0), "in_channels", ">= 1"),
    (lambda: GAPHead(10, num_classes=0), "num_classes", ">= 1"),
    (lambda: DepthwiseSeparableBlock(0, 8), "in_channels", ">= 1"),
    (lambda: DepthwiseSeparableBlock(4, 0), "out_channels", ">= 1"),
    (lambda: DepthwiseSeparableBlock(4, 8, kernel_size=0), "kernel_size", ">= 1"),
    (lambda: DepthwiseSeparableBlock(4, 8, padding=-1), "padding", ">= 0"),
    (lambda: DepthwiseSeparableBlock(4, 8, dropout=2.0), "dropout", "[0, 1)"),
]


@pytest.mark.parametrize(("build", "argument", "allowed"), BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_argument_and_range(build, argument, allowed):
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    assert argument in message
    assert allowed in message


@pytest.mark.parametrize("dropout", [0.0, 0.5, 0.99])
def test_dropout_range_is_half_open(dropout):
    block = ConvBlock(1, 2, dropout=dropout)
    assert any(isinstance(m, nn.Dropout) for m in block) == (dropout > 0)


# --- closed-form parameter counts (hypothesis) -------------------------------------------


@PROPERTY
@given(
    cin=channels,
    cout=channels,
    k=kernels,
    padding=paddings,
    relu=st.booleans(),
    batchnorm=st.booleans(),
    dropout=dropouts,
    bias=st.booleans(),
)
def test_conv_block_params_closed_form(cin, cout, k, padding, relu, batchnorm, dropout, bias):
    block = ConvBlock(
        cin, cout, k, padding, relu=relu, batchnorm=batchnorm, dropout=dropout, bias=bias
    )
    expected = cin * cout * k * k + (cout if bias else 0) + (2 * cout if batchnorm else 0)
    assert n_params(block) == expected


@PROPERTY
@given(
    cin=channels,
    cout=channels,
    pool=st.booleans(),
    padding=paddings,
    batchnorm=st.booleans(),
    dropout=dropouts,
)
def test_transition_params_closed_form(cin, cout, pool, padding, batchnorm, dropout):
    block = Transition(cin, cout, pool=pool, padding=padding, batchnorm=batchnorm, dropout=dropout)
    assert n_params(block) == cin * cout + (2 * cout if batchnorm else 0)


@PROPERTY
@given(cin=channels, classes=st.integers(min_value=1, max_value=100))
def test_gap_head_params_closed_form(cin, classes):
    assert n_params(GAPHead(cin, classes)) == cin * classes


@PROPERTY
@given(cin=channels, cout=channels, k=kernels, padding=paddings, batchnorm=st.booleans())
def test_depthwise_separable_params_closed_form(cin, cout, k, padding, batchnorm):
    block = DepthwiseSeparableBlock(cin, cout, k, padding, batchnorm=batchnorm)
    assert n_params(block) == cin * k * k + cin * cout + (2 * cout if batchnorm else 0)


@PROPERTY
@given(
    cin=st.integers(min_value=1, max_value=8),
    cout=st.integers(min_value=1, max_value=8),
    k=st.integers(min_value=1, max_value=5),
    padding=paddings,
    side=st.integers(min_value=5, max_value=16),
)
def test_conv_block_output_side_closed_form(cin, cout, k, padding, side):
    out = ConvBlock(cin, cout, k, padding).eval()(torch.randn(1, cin, side, side))
    assert out.shape == (1, cout, side + 2 * padding - k + 1, side + 2 * padding - k + 1)


# --- FastDropout ---------------------------------------------------------------------------


def test_fast_dropout_prints_and_saves_like_nn_dropout():
    layer = FastDropout(0.07)
    assert repr(layer) == repr(nn.Dropout(0.07)) == "Dropout(p=0.07, inplace=False)"
    assert layer.state_dict() == {} and isinstance(layer, nn.Dropout)


@pytest.mark.parametrize("p", [0.07, 0.1, 0.5])
def test_fast_dropout_drops_each_element_with_probability_p(p):
    torch.manual_seed(0)
    x = torch.ones(200, 50, 10, 10)  # 10**6 elements
    out = FastDropout(p)(x)
    dropped = (out == 0).double().mean().item()
    assert dropped == pytest.approx(p, abs=5 * (p * (1 - p) / x.numel()) ** 0.5 + 2**-16)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - FastDropout(p).effective_p)))
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)  # expectation kept
    # independent elements: neighbours are not correlated, channels are not dropped whole
    flat = (out == 0).double().flatten()
    both = (flat[1:] * flat[:-1]).mean().item()
    assert both == pytest.approx(dropped**2, abs=0.002)
    assert FastDropout(p).effective_p == pytest.approx(p, abs=2**-17)


def test_fast_dropout_is_seeded_eval_identity_and_differentiable():
    layer = FastDropout(0.3)
    x = torch.randn(4, 3, 7, 7, requires_grad=True)
    torch.manual_seed(5)
    a = layer(x)
    torch.manual_seed(5)
    b = layer(x)
    assert torch.equal(a, b) and not torch.equal(a, layer(x))
    a.sum().backward()
    assert torch.equal(x.grad, (a != 0).float() / (1 - layer.effective_p))
    layer.eval()
    assert layer(x) is x
    assert FastDropout(0.0).train()(x) is x
    y = torch.ones(2, 3, 4, 4)
    torch.manual_seed(1)
    assert FastDropout(0.5, inplace=True)(y) is y and (y == 0).any()


def test_fast_dropout_keeps_bf16():
    out = FastDropout(0.2)(torch.ones(3, 4, 5, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and (out == 0).any()


@pytest.mark.parametrize("p", [-0.1, 1.0, True])
def test_fast_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="dropout must be a probability"):
        FastDropout(p)
