"""Properties of network specs: generated valid specs build, and their size is a formula.

:func:`valid_specs` draws a network layer by layer, keeping track of the map's channels
and side, so that every layer fits the map before it. The parameter count and the
multiply-accumulates per image are then computed by :func:`expected_size` from the spec
alone (the formulas are written here, independent of :mod:`mnistlite.params`) and
compared with the built module (``sum(p.numel())``) and with
:func:`mnistlite.params.summary`. Generated invalid specs (a field out of range, layers
that do not chain, no head) must raise a :class:`~mnistlite.errors.MnistliteError` at
build time that names the problem, never a torch error at the first forward pass.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from mnistlite.errors import MnistliteError
from mnistlite.models import spec_from_dict, spec_to_dict
from mnistlite.models.spec import (
    Conv,
    DWConv,
    Flatten,
    Head,
    NetSpec,
    OneByOne,
    Pool,
    Shared,
    SpecNet,
)
from mnistlite.params import summary

widths = st.integers(1, 12)


@st.composite
def layer_after(draw, channels: int, side: int):
    """One layer that fits a (channels, side, side) map, and the map after it."""
    kinds = ["conv", "dw", "shared", "one"] + (["pool", "pooled_one"] if side >= 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "pool":
        return Pool(), channels, side // 2
    if kind == "shared":
        k = draw(st.sampled_from([1, 3, 5]))
        return Shared(channels, draw(st.integers(1, 3)), k), channels, side
    if kind in ("one", "pooled_one"):
        pool = kind == "pooled_one"
        pad, cout = draw(st.integers(0, 1)), draw(widths)
        return OneByOne(channels, cout, pad, pool), cout, (side // 2 if pool else side) + 2 * pad
    pad = draw(st.integers(0, 2))
    k = draw(st.integers(1, min(5, side + 2 * pad)))
    cout = draw(widths)
    if kind == "dw":
        relu, batchnorm = draw(st.booleans()), draw(st.none() | st.booleans())
        return DWConv(channels, cout, k, pad, relu, batchnorm), cout, side + 2 * pad - k + 1
    stride = draw(st.integers(1, 2))
    layer = Conv(
        channels,
        cout,
        k,
        pad,
        relu=draw(st.booleans()),
        batchnorm=draw(st.none() | st.booleans()),
        dropout=draw(st.none() | st.floats(0, 0.5)),
        stride=stride,
    )
    return layer, cout, (side + 2 * pad - k) // stride + 1


@st.composite
def valid_specs(draw) -> NetSpec:
    """A network of 0 to 6 body layers that chain from (1, 28, 28), then a head."""
    layers, channels, side = [], 1, 28
    for _ in range(draw(st.integers(0, 6))):
        layer, channels, side = draw(layer_after(channels, side))
        layers.append(layer)
    ending = draw(st.sampled_from(["head", "head_no_conv", "flatten"]))
    if ending == "head":
        layers.append(Head(channels))
    elif ending == "head_no_conv":
        layers += [Conv(channels, 10, 1, relu=False), Head(10, conv=False)]
    else:  # step 1's ending: a conv that covers the whole map, to 10 channels
        layers += [Conv(channels, 10, side, relu=False), Flatten()]
    return NetSpec(
        layers=tuple(layers),
        batchnorm=draw(st.booleans()),
        dropout=draw(st.floats(0, 0.5)),
        bias=draw(st.booleans()),
        norm=draw(st.sampled_from(["batch", "scalar"])),
    )


def expected_size(spec: NetSpec) -> tuple[int, int]:
    """(parameters, MACs per image) of a spec, from the blocks' definitions.

    A convolution has ``cin/groups * cout * k * k`` weights (plus ``cout`` biases where
    the network has biases, 3x3-style convs only) and costs that many multiply-adds per
    output pixel; a norm after it has 2 parameters per channel (``batch``) or 2 in all
    (``scalar``); a 1x1 transition always uses BatchNorm2d. Pools, ReLU, dropout and
    flatten cost nothing.
    """
    side, params, macs = 28, 0, 0

    def norm(cout: int, on: bool, scalar: bool = spec.norm == "scalar") -> int:
        return 0 if not on else 2 if scalar else 2 * cout

    for layer in spec.layers:
        if isinstance(layer, Conv):
            out = (side + 2 * layer.pad - layer.k) // layer.stride + 1
            weights = layer.cin * layer.cout * layer.k**2
            bn = spec.batchnorm if layer.batchnorm is None else layer.batchnorm
            params += weights + (layer.cout if spec.bias else 0) + norm(layer.cout, bn)
            macs += out * out * weights
            side = out
        elif isinstance(layer, DWConv):
            out = side + 2 * layer.pad - layer.k + 1
            bn = spec.batchnorm if layer.batchnorm is None else layer.batchnorm
            params += layer.cin * layer.k**2 + layer.cin * layer.cout + norm(layer.cout, bn)
            macs += out * out * (layer.cin * layer.k**2 + layer.cin * layer.cout)
            side = out
        elif isinstance(layer, Shared):
            c = layer.channels
            params += c * layer.k**2 + c * c + layer.repeats * norm(c, True)
            macs += layer.repeats * side * side * (c * layer.k**2 + c * c)
        elif isinstance(layer, OneByOne):
            side = (side // 2 if layer.pool else side) + 2 * layer.pad
            params += layer.cin * layer.cout + norm(layer.cout, spec.batchnorm, scalar=False)
            macs += side * side * layer.cin * layer.cout
        elif isinstance(layer, Pool):
            side //= 2
        elif isinstance(layer, Head) and layer.conv:
            params += layer.cin * 10
            macs += layer.cin * 10
    return params, macs


@given(valid_specs())
@example(NetSpec(layers=(Conv(1, 10, 28, relu=False), Flatten())))  # one conv, step 1's end
@example(NetSpec(layers=(Pool(),) * 4 + (Head(1),)))  # 28 -> 1 by pooling
def test_a_valid_spec_builds_with_the_size_its_formula_says(spec) -> None:
    model = SpecNet(spec)
    params, macs = expected_size(spec)
    assert sum(p.numel() for p in model.parameters()) == params
    table = summary(model)
    assert table.total_params == params and table.total_macs == macs
    assert model.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert spec_from_dict(spec_to_dict(spec)) == spec


#: Fields set out of their range, per layer type: (field, value, words of the error).
OUT_OF_RANGE = {
    Conv: [
        ("cout", 0, "out_channels"),
        ("k", 0, "kernel_size"),
        ("pad", -1, "padding"),
        ("stride", 0, "stride"),
        ("dropout", 1.0, "dropout"),
    ],
    DWConv: [("cout", -3, "out_channels"), ("k", 0, "kernel_size"), ("pad", -2, "padding")],
    Shared: [("repeats", 0, "repeats"), ("k", 2, "odd"), ("channels", 0, "channels")],
    OneByOne: [("cout", 0, "out_channels"), ("pad", -1, "padding")],
    Head: [("cin", 0, "in_channels")],
}


def with_layer(spec: NetSpec, index: int, layer) -> NetSpec:
    layers = list(spec.layers)
    layers[index] = layer
    return replace(spec, layers=tuple(layers))


@st.composite
def broken_specs(draw):
    """A valid spec with one thing broken: (a thunk that builds it, words its error names)."""
    spec = draw(valid_specs())
    index = draw(st.integers(0, len(spec.layers) - 1))
    layer = spec.layers[index]
    how = draw(
        st.sampled_from(
            ["out_of_range", "channels", "no_head", "after_head", "kernel", "norm", "dropout"]
        )
    )
    if how == "out_of_range" and type(layer) in OUT_OF_RANGE:
        name, value, words = draw(st.sampled_from(OUT_OF_RANGE[type(layer)]))
        broken = with_layer(spec, index, replace(layer, **{name: value}))
    elif how == "channels" and isinstance(layer, (Conv, DWConv, OneByOne, Head, Shared)):
        field = "channels" if isinstance(layer, Shared) else "cin"
        wrong = getattr(layer, field) + draw(st.integers(1, 5))
        broken, words = with_layer(spec, index, replace(layer, **{field: wrong})), "channels"
    elif how == "no_head":
        broken, words = replace(spec, layers=spec.layers[:-1]), "10 logits"
    elif how == "after_head":
        broken, words = replace(spec, layers=(*spec.layers, Pool())), "must be last"
    elif how == "kernel":
        k = draw(st.integers(29, 40))
        broken, words = replace(spec, layers=(Conv(1, 1, k), *spec.layers)), "larger than the"
    elif how == "norm":
        norm = draw(st.text(max_size=6).filter(lambda text: text not in ("batch", "scalar")))
        return (lambda: NetSpec(spec.layers, norm=norm)), "norm"
    else:
        dropout = draw(st.sampled_from([-0.1, 1.0, 2.0, float("nan")]))
        return (lambda: replace(spec, dropout=dropout)), "dropout"
    return (lambda: SpecNet(broken)), words


CHAIN_DEFECT = (
    lambda: SpecNet(NetSpec(layers=(Conv(1, 8), Conv(3, 4), Head(4)))),
    "expects 3 input channels, but the map before has 8",
)
HEAD_DEFECT = (lambda: SpecNet(NetSpec(layers=(Conv(1, 6), Head(6, conv=False)))), "per class")
DROPOUT_DEFECT = (lambda: NetSpec(layers=(Pool(), Head(1)), dropout=1.5), "dropout")


@given(broken_specs())
@example(CHAIN_DEFECT)  # built, then a torch RuntimeError at the first forward
@example(HEAD_DEFECT)  # a plain ValueError, not the library's error
@example(DROPOUT_DEFECT)  # accepted: no layer read the network's dropout
@example((lambda: SpecNet(NetSpec(layers=(Conv(1, 8),))), "10 logits"))  # (N, 8, 26, 26) out
def test_an_invalid_spec_is_refused_at_build_naming_the_problem(broken) -> None:
    build, words = broken
    with pytest.raises(MnistliteError) as caught:
        build()
    assert words in str(caught.value)


def test_the_formula_counts_the_bundled_architectures() -> None:
    """The same formula on the registered models: it is the blocks' arithmetic."""
    from mnistlite import models

    for name in models.list_models():
        model = models.get_model(name)
        assert expected_size(model.spec)[0] == sum(p.numel() for p in model.parameters()), name
