"""Parameter tools that work on any :class:`torch.nn.Module`: count, budget, summary.

>>> from mnistlite import models, params
>>> params.count_parameters(models.step7())
10252
>>> params.check_budget(models.step7(), 11_000)
10252
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from mnistlite import _checks
from mnistlite.errors import MnistliteError

__all__ = ["LayerRow", "Summary", "check_budget", "count_parameters", "summary"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Return the number of parameters of ``model``.

    Args:
        model: Any module.
        trainable_only: Count only parameters with ``requires_grad=True``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def check_budget(model: nn.Module, budget: int) -> int:
    """Return the parameter count of ``model``, or raise if it exceeds ``budget``.

    Usable as a one-line assertion in a test: ``check_budget(model, 10_000)``.

    Args:
        model: Any module.
        budget: The largest allowed number of parameters (>= 0).

    Raises:
        ValueError: If the count exceeds the budget, e.g. "10,252 parameters exceed
            the budget of 10,000", or if ``budget`` is negative.
    """
    _checks.non_negative_int("budget", budget)
    count = count_parameters(model)
    if count > budget:
        raise MnistliteError(f"{count:,} parameters exceed the budget of {budget:,}")
    return count


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer of a :class:`Summary`.

    Attributes:
        name: Qualified module name (``layers.0.0``).
        type: Class name (``Conv2d``).
        output_shape: Output shape for the summary's input (batch included).
        params: Parameters the layer owns.
        macs: Multiply-accumulates per image (convolutions and linear layers).
        receptive_field: Side, in input pixels, of the region one output unit sees.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int


@dataclass(frozen=True)
class Summary:
    """A per-layer table of a model, in the style of torchsummary.

    Attributes:
        rows: One :class:`LayerRow` per leaf layer, in execution order.
        input_size: The input shape the model was run on.
        total_params: All parameters of the model.
        trainable_params: Parameters with ``requires_grad=True``.
        total_macs: Multiply-accumulates per image.
    """

    rows: tuple[LayerRow, ...]
    input_size: tuple[int, ...]
    total_params: int
    trainable_params: int
    total_macs: int

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready data."""
        data = asdict(self)
        data["rows"] = [{**row, "output_shape": list(row["output_shape"])} for row in data["rows"]]
        data["input_size"] = list(self.input_size)
        return data

    def __str__(self) -> str:
        header = f"{'Layer (type)':<32}{'Output Shape':>20}{'Param #':>12}{'MACs':>12}{'RF':>5}"
        rule = "=" * len(header)
        lines = [rule, header, rule]
        for row in self.rows:
            label = f"{row.type}-{row.name}"
            shape = str(list(row.output_shape))
            lines.append(
                f"{label:<32}{shape:>20}{row.params:>12,}{row.macs:>12,}{row.receptive_field:>5}"
            )
        lines += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"MACs per image: {self.total_macs:,}",
            rule,
        ]
        return "\n".join(lines)


def _pair(value: Any) -> int:
    """The first element of an int-or-tuple layer argument (square kernels assumed)."""
    return value[0] if isinstance(value, (tuple, list)) else int(value)


def _layer_macs(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates per image of a conv or linear layer (0 for others)."""
    per_image = out[0].numel() if out.dim() > 0 else 0
    if isinstance(module, nn.Conv2d):
        kernel = math.prod(module.kernel_size)
        return per_image * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def _kernel_stride(module: nn.Module, inp: torch.Tensor) -> tuple[int, int]:
    """Kernel size and stride of a layer, as far as the receptive field is concerned."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride) if module.stride is not None else kernel
        dilation = _pair(getattr(module, "dilation", 1))
        return dilation * (kernel - 1) + 1, stride
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        side = inp.shape[-1]
        target = _pair(module.output_size) or 1
        stride = side // target
        return side - (target - 1) * stride, stride
    return 1, 1


def _run_once(model: nn.Module, input_size: tuple[int, ...], hook: Any) -> None:
    """Run ``model`` once on zeros with ``hook`` on every leaf layer; modes restored."""
    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    modes = {m: m.training for m in model.modules()}
    try:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None and first.is_floating_point() else None
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_size, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode


def summary(model: nn.Module, input_size: tuple[int, ...] = (1, 1, 28, 28)) -> Summary:
    """Run ``model`` once on zeros and tabulate its leaf layers.

    Receptive fields follow the standard recurrence ``rf += (k - 1) * jump;
    jump *= stride`` along the chain of layers (global pooling counts as a kernel the
    size of its input). MACs count convolutions and linear layers, so they are half
    the FLOPs that :mod:`torch.utils.flop_counter` reports. The model's mode,
    weights and BatchNorm statistics are left unchanged.

    Args:
        model: Any module whose leaf layers run in sequence.
        input_size: Shape of the dummy input, batch included.

    Returns:
        The :class:`Summary`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    input_size = tuple(int(s) for s in input_size)
    if not input_size or any(s < 1 for s in input_size):
        raise MnistliteError(f"input_size must be a tuple of positive ints, got {input_size}")
    names = {module: name for name, module in model.named_modules()}
    rows: list[LayerRow] = []
    state = {"rf": 1, "jump": 1}

    def hook(module: nn.Module, inputs: tuple[Any, ...], out: Any) -> None:
        if not isinstance(out, torch.Tensor):
            return
        kernel, stride = _kernel_stride(module, inputs[0])
        state["rf"] += (kernel - 1) * state["jump"]
        state["jump"] *= stride
        rows.append(
            LayerRow(
                name=names[module],
                type=type(module).__name__,
                output_shape=tuple(out.shape),
                params=sum(p.numel() for p in module.parameters(recurse=False)),
                macs=_layer_macs(module, out),
                receptive_field=state["rf"],
            )
        )

    _run_once(model, input_size, hook)
    return Summary(
        rows=tuple(rows),
        input_size=input_size,
        total_params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        total_macs=sum(row.macs for row in rows),
    )
