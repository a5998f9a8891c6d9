"""The few layers every mnistlite model is assembled from.

Each block is a small :class:`torch.nn.Sequential`, so ``print(model)`` shows the
same layer order as the seed's notes: convolution, then ReLU, then BatchNorm, then
Dropout. Arguments are checked where they are given, with a
:class:`~mnistlite.errors.MnistliteError` (a :class:`ValueError`) that names the
argument and the allowed range.

This module knows nothing else of the package but its argument checks.
"""

from __future__ import annotations

from torch import nn

from mnistlite._checks import non_negative_int, positive_int, probability

__all__ = ["ConvBlock", "DepthwiseSeparableBlock", "GAPHead", "Transition"]


def _post_conv(out_channels: int, relu: bool, batchnorm: bool, dropout: float) -> list[nn.Module]:
    """The layers that follow a convolution, in the seed's order: ReLU, BN, Dropout."""
    layers: list[nn.Module] = []
    if relu:
        layers.append(nn.ReLU())
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


class ConvBlock(nn.Sequential):
    """Convolution → ReLU → BatchNorm → Dropout, each part after the conv optional.

    Args:
        in_channels: Channels of the input feature map (>= 1).
        out_channels: Channels the convolution produces (>= 1).
        kernel_size: Square kernel side (>= 1).
        padding: Zero padding on each side (>= 0).
        relu: Apply ReLU after the convolution.
        batchnorm: Apply ``BatchNorm2d`` after the ReLU.
        dropout: Dropout probability after the BatchNorm, in [0, 1); 0 adds no layer.
        bias: Give the convolution a bias (the seed's step 1 does, the others do not).

    Raises:
        ValueError: If a channel count or the kernel size is < 1, the padding is
            negative, or ``dropout`` lies outside [0, 1).

    Example:
        >>> import torch
        >>> ConvBlock(1, 8, padding=1)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 8, 28, 28])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 0,
        *,
        relu: bool = True,
        batchnorm: bool = True,
        dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        positive_int("in_channels", in_channels)
        positive_int("out_channels", out_channels)
        positive_int("kernel_size", kernel_size)
        non_negative_int("padding", padding)
        probability("dropout", dropout)
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        super().__init__(conv, *_post_conv(out_channels, relu, batchnorm, dropout))


class Transition(nn.Sequential):
    """The 1×1 channel-reduction transition, optionally after a 2×2 max-pool.

    The layer order is ``[MaxPool2d(2)] → Conv1×1 → ReLU → [BatchNorm] → [Dropout]``.
    The seed's models keep their pool as a separate layer (``pool=False``); step 5's
    1×1 convolution has ``padding=1``, which grows the map by two pixels.

    Args:
        in_channels: Channels of the input feature map (>= 1).
        out_channels: Channels after the 1×1 convolution (>= 1).
        pool: Put a 2×2 max-pool before the convolution.
        padding: Zero padding of the 1×1 convolution (>= 0).
        batchnorm: Apply ``BatchNorm2d`` after the ReLU.
        dropout: Dropout probability in [0, 1).

    Raises:
        ValueError: If an argument is out of its range (see :class:`ConvBlock`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        pool: bool = False,
        padding: int = 0,
        batchnorm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        block = ConvBlock(
            in_channels, out_channels, 1, padding, batchnorm=batchnorm, dropout=dropout
        )
        super().__init__(*([nn.MaxPool2d(2)] if pool else []), *block)


class DepthwiseSeparableBlock(nn.Sequential):
    """Depthwise k×k convolution then pointwise 1×1, followed by ReLU → BN → Dropout.

    A cheaper stand-in for :class:`ConvBlock` when parameters are scarce: it costs
    ``in_channels * k * k + in_channels * out_channels`` weights instead of
    ``in_channels * out_channels * k * k``.

    Args:
        in_channels: Channels of the input feature map (>= 1).
        out_channels: Channels the pointwise convolution produces (>= 1).
        kernel_size: Square kernel side of the depthwise convolution (>= 1).
        padding: Zero padding of the depthwise convolution (>= 0).
        relu: Apply ReLU after the pointwise convolution (off for a final classifier).
        batchnorm: Apply ``BatchNorm2d`` after the ReLU.
        dropout: Dropout probability in [0, 1).

    Raises:
        ValueError: If an argument is out of its range.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 0,
        *,
        relu: bool = True,
        batchnorm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        positive_int("in_channels", in_channels)
        positive_int("out_channels", out_channels)
        positive_int("kernel_size", kernel_size)
        non_negative_int("padding", padding)
        probability("dropout", dropout)
        depthwise = nn.Conv2d(
            in_channels, in_channels, kernel_size, padding=padding, groups=in_channels, bias=False
        )
        pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        super().__init__(depthwise, pointwise, *_post_conv(out_channels, relu, batchnorm, dropout))


class GAPHead(nn.Sequential):
    """Global average pooling, then a 1×1 convolution to class logits of shape (N, C).

    Args:
        in_channels: Channels of the final feature map (>= 1).
        num_classes: Number of logits per image (>= 1).

    Raises:
        ValueError: If ``in_channels`` or ``num_classes`` is < 1.

    Example:
        >>> import torch
        >>> GAPHead(10)(torch.randn(5, 10, 7, 7)).shape
        torch.Size([5, 10])
    """

    def __init__(self, in_channels: int, num_classes: int = 10) -> None:
        positive_int("in_channels", in_channels)
        positive_int("num_classes", num_classes)
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, num_classes, 1, bias=False),
            nn.Flatten(),
        )
