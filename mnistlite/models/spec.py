"""Models as data: layer specs, a network spec, and the one module that builds any spec.

A network is a :class:`NetSpec`: a tuple of layer specs plus the switches that apply to
every convolution (BatchNorm, dropout, bias). :class:`SpecNet` turns a spec into a
:class:`torch.nn.Module` made of :mod:`mnistlite.blocks`. Two notebook steps that differ by
one switch differ by one field::

    STEP3 = replace(STEP2, batchnorm=True)
    STEP4 = replace(STEP3, dropout=0.07)
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from mnistlite import _checks
from mnistlite.blocks import (
    NORMS,
    ConvBlock,
    DepthwiseSeparableBlock,
    GAPHead,
    SharedSeparableBlock,
    Transition,
)
from mnistlite.errors import MnistliteError

__all__ = [
    "INPUT_SHAPE",
    "LAYER_CODES",
    "Conv",
    "DWConv",
    "Flatten",
    "Head",
    "LayerSpec",
    "NetSpec",
    "OneByOne",
    "Pool",
    "Shared",
    "SpecNet",
    "check_input",
    "describe_spec",
    "spec_from_dict",
    "spec_to_dict",
]

#: The shape of one MNIST image that every model takes: (channels, height, width).
INPUT_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class Conv:
    """A :class:`~mnistlite.blocks.ConvBlock`: ``conv(cin→cout, k, pad)`` → ReLU → BN → Dropout.

    Attributes:
        cin: Input channels.
        cout: Output channels.
        k: Kernel size.
        pad: Padding.
        relu: Whether a ReLU follows (``False`` for a final classifier conv).
        batchnorm: Per-layer override of the network's BatchNorm switch (None: inherit).
        dropout: Per-layer override of the network's dropout (None: inherit).
        stride: Convolution stride (2 halves the map).
    """

    cin: int
    cout: int
    k: int = 3
    pad: int = 0
    relu: bool = True
    batchnorm: bool | None = None
    dropout: float | None = None
    stride: int = 1


@dataclass(frozen=True)
class DWConv:
    """A :class:`~mnistlite.blocks.DepthwiseSeparableBlock`: depthwise k×k, pointwise 1×1.

    Attributes:
        cin: Input channels.
        cout: Output channels.
        k: Kernel size of the depthwise convolution.
        pad: Padding of the depthwise convolution.
        relu: Whether a ReLU follows (``False`` for a final classifier layer).
        batchnorm: Per-layer override of the network's BatchNorm switch (None: inherit).
    """

    cin: int
    cout: int
    k: int = 3
    pad: int = 0
    relu: bool = True
    batchnorm: bool | None = None


@dataclass(frozen=True)
class Shared:
    """A :class:`~mnistlite.blocks.SharedSeparableBlock`: one separable conv, applied n times.

    Attributes:
        channels: Channels in and out.
        repeats: Applications of the shared depthwise + pointwise pair (each with its own norm).
        k: Odd kernel size of the depthwise convolution (padded, so the map keeps its size).
    """

    channels: int
    repeats: int
    k: int = 3


@dataclass(frozen=True)
class OneByOne:
    """A :class:`~mnistlite.blocks.Transition`: the 1×1 channel reduction.

    Attributes:
        cin: Input channels.
        cout: Output channels.
        pad: Padding of the 1×1 convolution (step 5 uses 1).
        pool: Put a 2×2 max-pool before it.
    """

    cin: int
    cout: int
    pad: int = 0
    pool: bool = False


@dataclass(frozen=True)
class Pool:
    """A 2×2 max-pool (stride 2) that halves the feature map."""


@dataclass(frozen=True)
class Head:
    """A :class:`~mnistlite.blocks.GAPHead`: global average pooling + 1×1 conv to 10 logits.

    Attributes:
        cin: Channels of the final feature map.
        conv: Whether a 1×1 conv maps the averages to the logits; ``False`` needs a
            10-channel map (its averages are the logits) and costs no parameters.
    """

    cin: int
    conv: bool = True


@dataclass(frozen=True)
class Flatten:
    """Flatten an (N, 10, 1, 1) output to (N, 10) logits (step 1 has no GAP head)."""


#: Any one of the layer specs a :class:`NetSpec` is made of.
LayerSpec = Conv | DWConv | Shared | OneByOne | Pool | Head | Flatten


@dataclass(frozen=True)
class NetSpec:
    """A whole network as data.

    Attributes:
        layers: The layer specs, input to output.
        batchnorm: BatchNorm after the ReLU of every conv (unless a layer overrides it).
        dropout: Dropout probability after every conv block (unless overridden).
        bias: Whether the 3×3 convolutions have a bias (only step 1's do).
        norm: ``"batch"`` (BatchNorm2d, 2 parameters per channel) or ``"scalar"``
            (:class:`~mnistlite.blocks.ScalarBatchNorm2d`, 2 per layer).
    """

    layers: tuple[LayerSpec, ...]
    batchnorm: bool = True
    dropout: float = 0.0
    bias: bool = False
    norm: str = "batch"

    def __post_init__(self) -> None:
        _checks.probability("dropout", self.dropout)
        if self.norm not in NORMS:
            raise MnistliteError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")

    def with_options(self, **options: object) -> NetSpec:
        """Return a copy with network-wide switches changed (``dropout=0.1`` etc.).

        Raises:
            ValueError: If an option is not one of ``batchnorm``, ``dropout``, ``bias``,
                ``norm``.
        """
        allowed = sorted(f.name for f in fields(self) if f.name != "layers")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise MnistliteError(
                f"unknown model option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        return replace(self, **options)


def _layer_types() -> dict[str, type]:
    """The layer spec classes of ``LayerSpec``, by class name."""
    return {cls.__name__: cls for cls in typing.get_args(LayerSpec)}


def _to_data(value: Any) -> Any:
    """Turn a spec value into JSON-ready data (tuples become lists, recursively)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "type": type(value).__name__,
            **{f.name: _to_data(getattr(value, f.name)) for f in fields(value)},
        }
    if isinstance(value, (tuple, list)):
        return [_to_data(item) for item in value]
    return value


def _from_data(value: Any) -> Any:
    """Invert :func:`_to_data` for a field value: lists become tuples (specs are hashable)."""
    if isinstance(value, dict) and "type" in value:
        return _layer_from_dict(value)
    if isinstance(value, list):
        return tuple(_from_data(item) for item in value)
    return value


def _layer_from_dict(entry: Any) -> Any:
    known = _layer_types()
    if not isinstance(entry, dict) or "type" not in entry:
        raise MnistliteError(f"a layer must be a dict with a 'type', got {entry!r}")
    data = dict(entry)
    kind = data.pop("type")
    if kind not in known:
        raise MnistliteError(f"unknown layer type {kind!r}; known: {', '.join(known)}")
    cls = known[kind]
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise MnistliteError(
            f"unknown field(s) {', '.join(unknown)} for layer {kind}; "
            f"fields: {', '.join(names) or 'none'}"
        )
    try:
        return cls(**{key: _from_data(value) for key, value in data.items()})
    except TypeError as err:
        raise MnistliteError(f"layer {kind}: {err}") from None


def spec_to_dict(spec: NetSpec) -> dict[str, Any]:
    """Return ``spec`` as JSON-ready data (the inverse of :func:`spec_from_dict`).

    Generic over the layer dataclasses: every field of every layer is written, with the
    class name under ``"type"``, so a new layer type in ``LayerSpec`` needs no code
    here.

    Example:
        >>> from mnistlite.models import LITE600
        >>> spec_to_dict(LITE600)["layers"][2]
        {'type': 'Pool'}
    """
    if not isinstance(spec, NetSpec):
        raise TypeError(f"expected a NetSpec, got {type(spec).__name__}")
    data = _to_data(spec)
    del data["type"]
    return data


def spec_from_dict(data: dict[str, Any]) -> NetSpec:
    """Rebuild a :class:`NetSpec` from :func:`spec_to_dict`'s output.

    Example: a sweep trial's network,
    ``SpecNet(spec_from_dict(study.best_trial.user_attrs["spec"]))``.

    Raises:
        MnistliteError: If a layer type or field is unknown, or the data is malformed.
    """
    if not isinstance(data, dict) or not isinstance(data.get("layers"), (list, tuple)):
        raise MnistliteError(f"not a network spec (a dict with a 'layers' list): {data!r:.80}")
    options = {key: value for key, value in data.items() if key != "layers"}
    allowed = [f.name for f in fields(NetSpec) if f.name != "layers"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise MnistliteError(
            f"unknown network option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    layers = tuple(_layer_from_dict(entry) for entry in data["layers"])
    return NetSpec(layers=layers, **{key: _from_data(value) for key, value in options.items()})


#: One-letter codes of :func:`describe_spec`; a layer type not listed uses its class name.
LAYER_CODES: dict[str, str] = {
    "Conv": "C",
    "DWConv": "D",
    "Shared": "S",
    "OneByOne": "T",
    "Pool": "P",
    "Head": "H",
    "Flatten": "F",
}


def describe_spec(spec: NetSpec) -> str:
    """A compact one-word description of a spec: ``C8-C12-P-T8-C12-D14-H``.

    ``C`` is a 3×3 convolution, ``D`` a depthwise-separable block, ``T`` a 1×1
    transition and ``P`` a max-pool (each number is the output channels); ``S8x3`` is a
    shared-weight separable block of 8 channels applied 3 times; ``H`` is the GAP head
    (``G`` without its 1×1 conv: the averages of a 10-channel map are the logits).
    A dropout other than 0 is appended as ``/d0.05``, the 2-parameter norm as ``/scalar``.
    A layer type without a code shows its class name.
    """
    parts = []
    for layer in spec.layers:
        name = type(layer).__name__
        code = LAYER_CODES.get(name, name)
        if isinstance(layer, Shared):
            parts.append(f"{code}{layer.channels}x{layer.repeats}")
            continue
        if isinstance(layer, Head) and not layer.conv:
            parts.append("G")  # the averages are the logits
            continue
        cout = getattr(layer, "cout", None)
        parts.append(f"{code}{cout}" if cout is not None else code)
    text = "-".join(parts)
    text = f"{text}/d{spec.dropout:.2g}" if spec.dropout else text
    return f"{text}/{spec.norm}" if spec.norm != "batch" else text


def _build_layer(layer: LayerSpec, net: NetSpec) -> nn.Module:
    """Turn one layer spec into its block, filling in the network-wide switches."""
    if isinstance(layer, Conv):
        return ConvBlock(
            layer.cin,
            layer.cout,
            layer.k,
            layer.pad,
            relu=layer.relu,
            batchnorm=net.batchnorm if layer.batchnorm is None else layer.batchnorm,
            dropout=net.dropout if layer.dropout is None else layer.dropout,
            bias=net.bias,
            stride=layer.stride,
            norm=net.norm,
        )
    if isinstance(layer, DWConv):
        return DepthwiseSeparableBlock(
            layer.cin,
            layer.cout,
            layer.k,
            layer.pad,
            relu=layer.relu,
            batchnorm=net.batchnorm if layer.batchnorm is None else layer.batchnorm,
            dropout=net.dropout if layer.relu else 0.0,
            norm=net.norm,
        )
    if isinstance(layer, Shared):
        return SharedSeparableBlock(layer.channels, layer.repeats, layer.k, norm=net.norm)
    if isinstance(layer, OneByOne):
        return Transition(
            layer.cin,
            layer.cout,
            pool=layer.pool,
            padding=layer.pad,
            batchnorm=net.batchnorm,
            dropout=net.dropout,
        )
    if isinstance(layer, Pool):
        return nn.MaxPool2d(2)
    if isinstance(layer, Head):
        return GAPHead(layer.cin, conv=layer.conv)
    if isinstance(layer, Flatten):
        return nn.Flatten()
    raise TypeError(f"not a layer spec: {layer!r}")


def check_input(x: object) -> None:
    """Raise a clear error unless ``x`` is a floating-point (N, 1, 28, 28) tensor.

    Raises:
        TypeError: If ``x`` is not a tensor.
        ValueError: If its shape or dtype is wrong; the message names expected and given.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of shape (N, 1, 28, 28), got {type(x).__name__}")
    if x.dim() != 4 or tuple(x.shape[1:]) != INPUT_SHAPE:
        raise MnistliteError(
            f"expected input of shape (N, 1, 28, 28) (batch, channel, height, width), "
            f"got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise MnistliteError(
            f"expected a floating-point input (e.g. torch.float32, normalized with "
            f"mean 0.1307 and std 0.3081), got dtype {x.dtype}"
        )


def _layer_shape(layer: LayerSpec, channels: int, side: int) -> tuple[int, int] | None:
    """(channels, side) of the map after ``layer``; None for a layer type not known here.

    Raises:
        MnistliteError: If the layer does not fit the map it is given.
    """
    known = (Conv, DWConv, Shared, OneByOne, Pool, Head, Flatten)
    if not isinstance(layer, known):
        return None
    cin = layer.channels if isinstance(layer, Shared) else getattr(layer, "cin", channels)
    if cin != channels:
        raise MnistliteError(f"expects {cin} input channels, but the map before has {channels}")
    if isinstance(layer, Pool) or (isinstance(layer, OneByOne) and layer.pool):
        if side < 2:
            raise MnistliteError(f"cannot max-pool a {side}x{side} map")
        side //= 2
    if isinstance(layer, (Conv, DWConv, OneByOne)):
        k, stride, padded = (
            getattr(layer, "k", 1),
            getattr(layer, "stride", 1),
            side + 2 * layer.pad,
        )
        if k > padded:
            raise MnistliteError(
                f"a {k}x{k} kernel is larger than the {side}x{side} map (padded by {layer.pad})"
            )
        return layer.cout, (padded - k) // stride + 1
    if isinstance(layer, Head):
        return 10, 1
    if isinstance(layer, Flatten):
        return channels * side * side, 1
    return channels, side


def _check_layers(spec: NetSpec) -> None:
    """Check that the layers chain from a (1, 28, 28) image to 10 logits.

    Each layer's input channels must be the channels the layer before gives, no kernel
    may be larger than its (padded) map, no map smaller than 2x2 is pooled, and the
    network must end, and end only, in 10 logits: a :class:`Head`, or a 10-channel 1x1
    map and :class:`Flatten`. A layer type this check does not know ends it unchecked.

    Raises:
        MnistliteError: Naming the first layer (its index and spec) that does not fit.
    """
    channels, side = INPUT_SHAPE[0], INPUT_SHAPE[1]
    for index, layer in enumerate(spec.layers):
        try:
            if index and isinstance(spec.layers[index - 1], (Head, Flatten)):
                raise MnistliteError("follows the logits; the Head (or Flatten) must be last")
            shape = _layer_shape(layer, channels, side)
        except MnistliteError as err:
            raise MnistliteError(f"layer {index} ({layer!r}) {err}") from None
        if shape is None:
            return
        channels, side = shape
    if not spec.layers or not isinstance(spec.layers[-1], (Head, Flatten)) or channels != 10:
        raise MnistliteError(
            "a network must end in 10 logits: a Head, or a 10-channel 1x1 map and Flatten; "
            f"this one ends in a {channels}-channel {side}x{side} map"
        )


class SpecNet(nn.Module):
    """The one generic module that builds any :class:`NetSpec`.

    Takes (N, 1, 28, 28) floating-point images (normalized as the training set) and
    returns logits of shape (N, 10). In eager mode the input is checked first, so a
    wrong shape or an integer image raises a :class:`ValueError` naming both the
    expected and the given shape or dtype.

    Args:
        spec: The network to build.

    Attributes:
        spec: The spec the module was built from.
        layers: The blocks, in order, as an :class:`torch.nn.Sequential`.
    """

    #: The layers a stacked model may run on its members laid side by side along the
    #: channels (:mod:`mnistlite.stacked`, mode ``"grouped"``), past the input check.
    stack_body = "layers"

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        if not isinstance(spec, NetSpec):
            raise TypeError(f"expected a NetSpec, got {type(spec).__name__}")
        blocks = [_build_layer(layer, spec) for layer in spec.layers]  # checks each layer
        _check_layers(spec)  # checks that they chain to 10 logits
        self.spec = spec
        self.layers = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits (N, 10) for a batch of images (N, 1, 28, 28)."""
        if not torch.compiler.is_compiling():
            check_input(x)
            weight = next(self.parameters())
            autocast = torch.is_autocast_enabled(x.device.type)
            if x.dtype != weight.dtype and not autocast:
                raise MnistliteError(
                    f"expected input of dtype {weight.dtype} (the model's), got {x.dtype}; "
                    f"convert it with x.to({weight.dtype})"
                )
        return self.layers(x)
