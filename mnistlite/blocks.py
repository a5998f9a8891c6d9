"""The few layers every mnistlite model is assembled from.

Each block is a small :class:`torch.nn.Sequential`, so ``print(model)`` shows the
same layer order as the notebooks' notes: convolution, then ReLU, then BatchNorm, then
Dropout. Arguments are checked where they are given, with a
:class:`~mnistlite.errors.MnistliteError` (a :class:`ValueError`) that names the
argument and the allowed range.

This module knows nothing else of the package but its argument checks and errors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistlite._checks import non_negative_int, positive_int, probability
from mnistlite.errors import MnistliteError

__all__ = [
    "ConvBlock",
    "DepthwiseSeparableBlock",
    "FastDropout",
    "GAPHead",
    "ScalarBatchNorm2d",
    "SharedSeparableBlock",
    "Transition",
    "has_grouped_conv",
]

#: The normalisations a block can put after its ReLU.
NORMS = ("batch", "scalar")


class FastDropout(nn.Dropout):
    """Element-wise dropout drawing its mask from cheap random bytes.

    The same layer as :class:`torch.nn.Dropout` (it is a subclass, has no state and
    prints as ``Dropout(p=...)``), with a cheaper random source: ``F.dropout`` draws
    one Bernoulli sample per element, which was a third of a step-7 training step on
    the CPU; this layer fills one random 64-bit word per four elements and compares
    each 16-bit quarter with a threshold. Every element is zeroed independently with
    probability ``round(p * 65536) / 65536`` (within 2**-17 of ``p``) and the kept
    ones are scaled by ``1 / (1 - that probability)``, so the expected output equals
    the input. It draws from torch's global generator, so ``torch.manual_seed`` makes
    it reproducible and checkpoints that save torch's RNG state resume it exactly.
    In eval mode, or with ``p == 0``, it returns its input.

    Args:
        p: Probability of zeroing an element, in [0, 1).
        inplace: Multiply the input in place.

    Example:
        >>> FastDropout(0.07)
        Dropout(p=0.07, inplace=False)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        probability("dropout", p)
        super().__init__(p, inplace)
        #: The drop probability actually used (``p`` rounded to a multiple of 2**-16).
        self.effective_p = round(p * 65536) / 65536

    def _get_name(self) -> str:
        return "Dropout"  # print(model) reads as the notebooks' layer order

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Zero random elements of ``input`` in training mode; identity in eval mode."""
        if not self.training or self.effective_p == 0.0:
            return input
        n = input.numel()
        # new_empty, not torch.empty: under torch.func.vmap it is batched like the input,
        # so each member of a stacked model draws its own mask
        words = input.new_empty((n + 3) // 4, dtype=torch.int64)
        words.random_(-(2**63), None)  # every bit uniform (random_() leaves the sign 0)
        draws = words.view(torch.int16)[:n].view(input.shape)
        threshold = round(self.effective_p * 65536) - 32768  # P(draw < threshold) = p
        mask = (draws >= threshold).to(input.dtype).mul_(1.0 / (1.0 - self.effective_p))
        return input.mul_(mask) if self.inplace else input * mask


def has_grouped_conv(network: nn.Module) -> bool:
    """Whether ``network`` has a grouped (e.g. depthwise) 2-D convolution anywhere."""
    return any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in network.modules())


def _check_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: int, dropout: float, norm: str
) -> None:
    """Refuse a convolution block's arguments out of range, naming the first."""
    positive_int("in_channels", in_channels)
    positive_int("out_channels", out_channels)
    positive_int("kernel_size", kernel_size)
    non_negative_int("padding", padding)
    probability("dropout", dropout)
    _check_norm(norm)


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise MnistliteError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {norm!r}")


class ScalarBatchNorm2d(nn.Module):
    """BatchNorm with per-channel statistics but one learned scale and shift per layer.

    It normalises each channel with its batch (or running) mean and variance, like
    :class:`torch.nn.BatchNorm2d`, then applies ``weight * x + bias`` with a *scalar*
    ``weight`` and ``bias`` shared by all channels: 2 parameters per layer instead of
    2 per channel, which matters in networks of a few hundred parameters.

    Args:
        num_features: Channels of the input (>= 1).
        eps: Added to the variance for numerical stability.
        momentum: Running-statistics momentum, as in BatchNorm2d.

    Example:
        >>> ScalarBatchNorm2d(8).weight.shape
        torch.Size([1])
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        positive_int("num_features", num_features)
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise per channel, then scale and shift by the two shared scalars.

        One fused ``batch_norm`` whose per-channel affine is the scalar repeated over the
        channels: one pass over the map each way instead of three, which matters most to
        many copies trained side by side (:class:`~mnistlite.stacked.StackedModel`).
        ``self.norm`` holds the running statistics and counts the batches as it would on
        its own.
        """
        if x.dim() != 4:
            raise ValueError(f"expected 4D input (N, C, H, W), got {x.dim()}D input")
        norm = self.norm
        if self.training:  # counted as BatchNorm2d counts them: the same state_dict
            norm.num_batches_tracked.add_(1)  # type: ignore[union-attr]
        channels = x.shape[1]
        return F.batch_norm(
            x,
            norm.running_mean,
            norm.running_var,
            self.weight.expand(channels),
            self.bias.expand(channels),
            self.training,
            norm.momentum,
            norm.eps,
        )

    def extra_repr(self) -> str:
        """Shown by ``print(model)``: the channels and the shared affine."""
        return f"{self.norm.num_features}, shared affine (2 parameters)"


def _norm(channels: int, norm: str) -> nn.Module:
    return ScalarBatchNorm2d(channels) if norm == "scalar" else nn.BatchNorm2d(channels)


def _post_conv(
    out_channels: int, relu: bool, batchnorm: bool, dropout: float, norm: str = "batch"
) -> list[nn.Module]:
    """The layers that follow a convolution, in the notebooks' order: ReLU, BN, Dropout."""
    layers: list[nn.Module] = []
    if relu:
        layers.append(nn.ReLU())
    if batchnorm:
        layers.append(_norm(out_channels, norm))
    if dropout > 0:
        layers.append(FastDropout(dropout))
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
        bias: Give the convolution a bias (the notebooks' step 1 does, the others do not).
        stride: Convolution stride (2 halves the map right away, as tiny models do).
        norm: ``"batch"`` (BatchNorm2d) or ``"scalar"`` (:class:`ScalarBatchNorm2d`,
            2 parameters per layer).

    Raises:
        ValueError: If a channel count, the kernel size or the stride is < 1, the
            padding is negative, ``dropout`` lies outside [0, 1) or ``norm`` is unknown.

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
        stride: int = 1,
        norm: str = "batch",
    ) -> None:
        _check_conv(in_channels, out_channels, kernel_size, padding, dropout, norm)
        positive_int("stride", stride)
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias
        )
        super().__init__(conv, *_post_conv(out_channels, relu, batchnorm, dropout, norm))


class Transition(nn.Sequential):
    """The 1×1 channel-reduction transition, optionally after a 2×2 max-pool.

    The layer order is ``[MaxPool2d(2)] → Conv1×1 → ReLU → [BatchNorm] → [Dropout]``.
    The notebooks' models keep their pool as a separate layer (``pool=False``); step 5's
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
        norm: ``"batch"`` or ``"scalar"`` (:class:`ScalarBatchNorm2d`).

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
        norm: str = "batch",
    ) -> None:
        _check_conv(in_channels, out_channels, kernel_size, padding, dropout, norm)
        depthwise = nn.Conv2d(
            in_channels, in_channels, kernel_size, padding=padding, groups=in_channels, bias=False
        )
        pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        super().__init__(
            depthwise, pointwise, *_post_conv(out_channels, relu, batchnorm, dropout, norm)
        )


class SharedSeparableBlock(nn.Module):
    """One depthwise-separable convolution applied ``repeats`` times with shared weights.

    Each application is ``depthwise k×k (padded) → pointwise 1×1 → ReLU → norm``; the
    two convolutions are shared by every application, the norms are not (each has its
    own statistics, and with ``norm="scalar"`` costs 2 parameters). The map keeps its
    size and channel count, so depth (and receptive field) grows without weights:
    ``channels * k * k + channels**2`` weights for any number of repeats.

    Args:
        channels: Channels in and out (>= 1).
        repeats: How many times the block is applied (>= 1).
        kernel_size: Odd kernel side of the depthwise convolution (>= 1).
        norm: ``"batch"`` or ``"scalar"``.

    Raises:
        ValueError: If an argument is out of its range or ``kernel_size`` is even.

    Example:
        >>> import torch
        >>> SharedSeparableBlock(8, repeats=3)(torch.randn(2, 8, 14, 14)).shape
        torch.Size([2, 8, 14, 14])
    """

    def __init__(
        self, channels: int, repeats: int, kernel_size: int = 3, *, norm: str = "batch"
    ) -> None:
        positive_int("channels", channels)
        positive_int("repeats", repeats)
        positive_int("kernel_size", kernel_size)
        _check_norm(norm)
        if kernel_size % 2 == 0:
            raise MnistliteError(f"kernel_size must be odd to keep the map size, got {kernel_size}")
        super().__init__()
        self.depthwise = nn.Conv2d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=False
        )
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.norms = nn.ModuleList(_norm(channels, norm) for _ in range(repeats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the shared convolutions once per norm."""
        for norm in self.norms:
            x = norm(torch.relu(self.pointwise(self.depthwise(x))))
        return x


class GAPHead(nn.Sequential):
    """Global average pooling, then a 1×1 convolution to class logits of shape (N, C).

    With ``conv=False`` the averages are the logits themselves: the network's last layer
    already has one channel per class, and the head costs no parameters.

    Args:
        in_channels: Channels of the final feature map (>= 1).
        num_classes: Number of logits per image (>= 1).
        conv: Whether a 1×1 convolution maps the averages to the logits.

    Raises:
        ValueError: If ``in_channels`` or ``num_classes`` is < 1, or ``conv`` is False and
            ``in_channels`` differs from ``num_classes``.

    Example:
        >>> import torch
        >>> GAPHead(10)(torch.randn(5, 10, 7, 7)).shape
        torch.Size([5, 10])
        >>> len(list(GAPHead(10, conv=False).parameters()))
        0
    """

    def __init__(self, in_channels: int, num_classes: int = 10, *, conv: bool = True) -> None:
        positive_int("in_channels", in_channels)
        positive_int("num_classes", num_classes)
        if not conv and in_channels != num_classes:
            raise MnistliteError(
                f"a head without a conv needs one channel per class: in_channels "
                f"{in_channels} != num_classes {num_classes}"
            )
        classifier = [nn.Conv2d(in_channels, num_classes, 1, bias=False)] if conv else []
        super().__init__(nn.AdaptiveAvgPool2d(1), *classifier, nn.Flatten())
