"""Models as data: layer specs, a network spec, and the one module that builds any spec.

A network is a :class:`NetSpec`: a tuple of layer specs plus the switches that apply to
every convolution (BatchNorm, dropout, bias). :class:`SpecNet` turns a spec into a
:class:`torch.nn.Module` made of :mod:`mnistlite.blocks`. Two seed steps that differ by
one switch differ by one field::

    STEP3 = replace(STEP2, batchnorm=True)
    STEP4 = replace(STEP3, dropout=0.07)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from mnistlite.blocks import (
    NORMS,
    ConvBlock,
    DepthwiseSeparableBlock,
    GAPHead,
    SharedSeparableBlock,
    Transition,
)

__all__ = [
    "INPUT_SHAPE",
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
    """

    cin: int


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
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")

    def with_options(self, **options: object) -> NetSpec:
        """Return a copy with network-wide switches changed (``dropout=0.1`` etc.).

        Raises:
            ValueError: If an option is not one of ``batchnorm``, ``dropout``, ``bias``,
                ``norm``.
        """
        allowed = sorted(f.name for f in fields(self) if f.name != "layers")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown model option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        return replace(self, **options)


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
        return GAPHead(layer.cin)
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
        raise ValueError(
            f"expected input of shape (N, 1, 28, 28) (batch, channel, height, width), "
            f"got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"expected a floating-point input (e.g. torch.float32, normalized with "
            f"mean 0.1307 and std 0.3081), got dtype {x.dtype}"
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

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.Sequential(*(_build_layer(layer, spec) for layer in spec.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits (N, 10) for a batch of images (N, 1, 28, 28)."""
        if not torch.compiler.is_compiling():
            check_input(x)
            weight = next(self.parameters())
            autocast = torch.is_autocast_enabled(x.device.type)
            if x.dtype != weight.dtype and not autocast:
                raise ValueError(
                    f"expected input of dtype {weight.dtype} (the model's), got {x.dtype}; "
                    f"convert it with x.to({weight.dtype})"
                )
        return self.layers(x)
