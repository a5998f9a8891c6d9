"""BatchNorm folded into the next convolution where exact: what every export starts from.

**BatchNorm after ReLU.** The notebooks' blocks run Conv → ReLU → BatchNorm, so the usual
folding of a BatchNorm into the convolution *before* it does not apply (the ReLU sits in
between). In eval mode a BatchNorm is a per-channel affine map ``y = a·x + b``, and the next
layer that mixes channels is linear, so :func:`~mnistlite.export.fold_batchnorm` folds the
affine map into the *next* convolution instead: ``W' = W·a`` (per input channel) and ``bias'
= bias + Σ W·b``. That is exact when nothing non-linear lies in between and the next
convolution pads nothing: Dropout (identity in eval) and global average pooling pass
through; a 2×2 max-pool passes through only when every scale ``a`` is positive (``max(a·x) =
a·max(x)`` needs ``a > 0``); a padded convolution does not (its zero padding would become
``b`` padding). Where the fold is not exact the BatchNorm stays in the graph (as ONNX
``BatchNormalization``, which the quantizer keeps in float between a dequantize and a
quantize). In the shipped models this removes every BatchNorm but the ones before step 5-7's
two padded convolutions. The fold is applied to the ONNX exports (fp32 and int8); the
``pt2`` program is the unchanged eval-mode model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mnistlite.blocks import ScalarBatchNorm2d

__all__ = ["fold_batchnorm"]


def _is_plain_sequential(module: nn.Module) -> bool:
    """An nn.Sequential (or subclass) that runs its children one after another."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _leaves(model: nn.Module) -> list[nn.Module] | None:
    """The model's layers as one flat chain, or None if its forward is not a plain chain."""
    body = getattr(model, "layers", model)
    if not _is_plain_sequential(body):
        return None
    flat: list[nn.Module] = []
    for module in body:
        if _is_plain_sequential(module):
            nested = _leaves(module)
            if nested is None:
                return None
            flat.extend(nested)
        else:
            flat.append(module)
    return flat


def _fold_into_conv(bn: nn.BatchNorm2d, conv: nn.Conv2d) -> None:
    """Fold ``bn``'s eval-mode affine map into ``conv``, which consumes its output."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() - bn.running_mean * scale
    weight = conv.weight.detach()
    cin_per_group = weight.shape[1]
    cout_per_group = weight.shape[0] // conv.groups
    # input channel of weight[o, k] is (o // cout_per_group) * cin_per_group + k
    group = torch.arange(weight.shape[0]) // cout_per_group
    channel = group[:, None] * cin_per_group + torch.arange(cin_per_group)[None, :]
    s = scale[channel][:, :, None, None]
    b = shift[channel][:, :, None, None]
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros(weight.shape[0])
    new_bias = bias + (weight * b).sum(dim=(1, 2, 3))
    conv.weight = nn.Parameter(weight * s)
    conv.bias = nn.Parameter(new_bias)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy with each BatchNorm folded into the next convolution.

    Only where the fold is exact (see the module docstring): between the BatchNorm and
    the convolution lie only Dropout, global average pooling, or max-pooling with all
    scales positive, and the convolution has no padding. Other BatchNorms are kept.
    Scalar-affine norms (:class:`~mnistlite.blocks.ScalarBatchNorm2d`) first become the
    equivalent :class:`~torch.nn.BatchNorm2d` (same function in eval mode). A
    model whose forward is not a plain chain of layers (not a
    :class:`~mnistlite.models.SpecNet` or an :class:`~torch.nn.Sequential`) is copied
    unchanged.

    Args:
        model: The trained model; it is not modified.

    Returns:
        The folded copy, in eval mode, computing the same function up to float rounding.
    """
    folded = _plain_batchnorms(copy.deepcopy(model).eval())
    chain = _leaves(folded)
    if chain is None:
        return folded
    for i, layer in enumerate(chain):
        if type(layer) is not nn.BatchNorm2d or not layer.track_running_stats:
            continue
        positive = bool((layer.weight.detach() > 0).all())
        for nxt in chain[i + 1 :]:
            if isinstance(nxt, (nn.Dropout, nn.Identity, nn.AdaptiveAvgPool2d)):
                continue
            if isinstance(nxt, nn.MaxPool2d) and positive:
                continue
            if (
                isinstance(nxt, nn.Conv2d)
                and isinstance(nxt.padding, tuple)
                and all(p == 0 for p in nxt.padding)
            ):
                _fold_into_conv(layer, nxt)
                _replace(folded, layer, nn.Identity())
            break
    return folded


def _plain_batchnorms(model: nn.Module) -> nn.Module:
    """Replace each :class:`~mnistlite.blocks.ScalarBatchNorm2d` by the equivalent BatchNorm2d.

    In eval mode a scalar-affine norm is a BatchNorm whose per-channel scale and shift
    all equal its two scalars: exactly the same function, exported as one
    BatchNormalization node (folded or kept in float like any other) instead of a
    normalisation followed by a Mul and an Add that int8 quantization would round twice.
    """
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ScalarBatchNorm2d):
                inner = child.norm
                plain = nn.BatchNorm2d(inner.num_features, eps=inner.eps).eval()
                with torch.no_grad():
                    plain.weight.copy_(child.weight.detach().expand(inner.num_features))
                    plain.bias.copy_(child.bias.detach().expand(inner.num_features))
                    plain.running_mean.copy_(inner.running_mean)
                    plain.running_var.copy_(inner.running_var)
                setattr(parent, name, plain)
    return model


def _replace(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for parent in root.modules():
        for name, child in parent.named_children():
            if child is old:
                setattr(parent, name, new)
                return


# -- writing ------------------------------------------------------------------------------
