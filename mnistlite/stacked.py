"""Many copies of one network trained side by side: a stacked model.

:class:`StackedModel` holds ``S`` copies ("members") of one architecture as stacked
parameters of shape ``(S, ...)`` and maps images ``(S, N, C, H, W)`` (member ``s`` sees
its own batch ``x[s]``) to logits ``(S, N, 10)``. The :class:`~mnistlite.training.Trainer`
trains it like any model: the loss is the sum of the members' own mean losses, so each
member's gradient is exactly the one a single run would compute on its batch, and SGD,
weight decay and momentum act element-wise, so each member follows its own run.

Three ways to run the members, chosen by measurement (``benchmarks/RESULTS.md``):

* ``"grouped"``: the members side by side along the channels, images ``(N, S*C, H, W)``
  from the first layer to the last. A 3×3 convolution becomes one grouped convolution, a
  1×1 convolution one batched matrix product, a BatchNorm one BatchNorm over ``S*C``
  channels (the same per-member statistics), and nothing is rearranged between layers. It
  serves networks built from convolutions, BatchNorm, pooling, element-wise layers and a
  final flatten (every network in mnistlite, through ``stack_body``);
  :func:`grouped_supported` says whether a network qualifies.
* ``"vmap"``: ``torch.func.vmap`` over ``torch.func.functional_call``. It runs any
  network, but rearranges the batch around every convolution.
* ``"loop"``: one call per member on views of the stacked parameters; on a CPU about as
  fast as separate runs one after another.

In every mode dropout draws differ per member, and BatchNorm's running statistics are
stacked buffers updated per member. ``"auto"`` picks ``"grouped"`` on CUDA (``"vmap"``
for a network that cannot run grouped); on other devices ``"grouped"`` for networks with
depthwise convolutions and ``"loop"`` for the rest (``benchmarks/stack_modes.py``).

This module knows nothing of models, data or training.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mnistlite.blocks import ScalarBatchNorm2d, SharedSeparableBlock, has_grouped_conv
from mnistlite.errors import MnistliteError

__all__ = ["STACK_MODES", "StackedModel", "grouped_supported"]

#: The ways :class:`StackedModel` can run its members.
STACK_MODES = ("auto", "grouped", "vmap", "loop")

#: Layers that act on each channel (or element) alone, so they run unchanged on
#: members laid side by side along the channels.
_PER_CHANNEL = (
    nn.ReLU,
    nn.ReLU6,
    nn.GELU,
    nn.SiLU,
    nn.Identity,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Dropout,
)


def _body(network: nn.Module) -> nn.Module:
    """The part of ``network`` a grouped stack runs: ``network.stack_body`` if it names one.

    A network whose ``forward`` checks its input's shape before running its layers names
    the layers' attribute in a class attribute ``stack_body`` (mnistlite's ``SpecNet``:
    ``"layers"``), since the grouped images have ``S*C`` channels.
    """
    name = getattr(type(network), "stack_body", None)
    return getattr(network, name) if name else network


def _why_not_grouped(network: nn.Module) -> str | None:
    """Why ``network`` cannot run grouped, or None when it can."""
    body = _body(network)
    modules = list(body.modules())
    for index, module in enumerate(modules):
        if isinstance(module, nn.Conv2d):
            if module.padding_mode != "zeros":
                return f"{module} pads with {module.padding_mode!r}, not zeros"
        elif isinstance(module, nn.BatchNorm2d):
            if module.track_running_stats and module.momentum is None:
                return f"{module} keeps a cumulative average (momentum=None)"
        elif isinstance(module, nn.Flatten):
            if module.start_dim != 1 or index != len(modules) - 1:
                return "a Flatten that is not the last layer, from dimension 1"
        elif isinstance(module, nn.Sequential):
            if type(module).forward is not nn.Sequential.forward:
                return f"{type(module).__name__} has its own forward"
        elif not isinstance(
            module, (*_PER_CHANNEL, nn.ModuleList, ScalarBatchNorm2d, SharedSeparableBlock)
        ):
            return f"{type(module).__name__} is not a layer known to act per channel"
    return None


def grouped_supported(network: nn.Module) -> bool:
    """Whether copies of ``network`` can run in :class:`StackedModel`'s ``"grouped"`` mode.

    True for networks (or their ``stack_body``) made of 2-D convolutions, BatchNorm
    (:class:`torch.nn.BatchNorm2d`, :class:`~mnistlite.blocks.ScalarBatchNorm2d`), pooling,
    element-wise layers, dropout, :class:`torch.nn.Sequential` containers,
    :class:`~mnistlite.blocks.SharedSeparableBlock` and a final ``Flatten``: layers that
    never mix one member's channels with another's.
    """
    return _why_not_grouped(network) is None


class _StackedPointwise(nn.Module):
    """A 1×1 convolution of ``size`` members side by side, as one batched matrix product.

    Takes ``(N, size * cin, H, W)`` and its weight as ``(size * cout, cin, 1, 1)``, the
    layout a grouped convolution would take, and computes what that convolution computes
    without its layout changes: member ``s``'s ``(cout, cin)`` matrix times its
    ``(cin, H*W)`` maps.
    """

    def __init__(self, conv: nn.Conv2d, size: int) -> None:
        super().__init__()
        self.size, self.cin, self.cout = size, conv.in_channels, conv.out_channels
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        weight = self.weight.view(self.size, self.cout, self.cin)
        y = torch.matmul(weight, x.reshape(n, self.size, self.cin, height * width))
        if self.bias is not None:
            y = y + self.bias.view(self.size, self.cout, 1)
        return y.view(n, self.size * self.cout, height, width)


def _pointwise(module: nn.Module) -> bool:
    """Whether ``module`` is a plain 1×1 convolution (stride 1, no padding, one group)."""
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.padding in ((0, 0), "valid")
        and module.dilation == (1, 1)
        and module.groups == 1
    )


def _grouped_template(network: nn.Module, size: int) -> nn.Module:
    """A copy of ``network``'s body whose layers take ``size`` members along the channels.

    1×1 convolutions become :class:`_StackedPointwise` (measured faster than grouped
    ones); other convolutions grouped ones, BatchNorms BatchNorms over ``size`` times the
    channels.
    """
    body = copy.deepcopy(_body(network))
    if _pointwise(body):
        return _StackedPointwise(body, size)
    for parent in list(body.modules()):
        for name, child in parent.named_children():
            if _pointwise(child):
                setattr(parent, name, _StackedPointwise(child, size))
    for module in body.modules():
        if isinstance(module, nn.Conv2d):
            module.groups *= size
            module.in_channels *= size
            module.out_channels *= size
        elif isinstance(module, nn.BatchNorm2d):
            module.num_features *= size
    return body


def _key(name: str) -> str:
    """A parameter name of the member network as a name a module can register."""
    return name.replace(".", "__")


class StackedModel(nn.Module):
    """``S`` members of one architecture with stacked parameters, run side by side.

    Args:
        members: The networks, all of one architecture (same parameter and buffer
            names and shapes). Their current weights become the members' weights, so
            building member ``s`` after ``torch.manual_seed(seed_s)`` gives it exactly
            the initial weights of a single run with that seed.
        mode: ``"vmap"``, ``"loop"``, ``"grouped"`` or ``"auto"`` (see :meth:`mode_for`;
            decided at each forward from the parameters' device).

    Raises:
        MnistliteError: If there are no members, they differ in architecture, the mode
            is unknown, or it is ``"grouped"`` for a network that cannot run grouped.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> stacked = StackedModel([nn.Linear(4, 10) for _ in range(3)])
        >>> stacked(torch.zeros(3, 5, 4)).shape
        torch.Size([3, 5, 10])
    """

    def __init__(self, members: Sequence[nn.Module], *, mode: str = "auto") -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise MnistliteError("a stacked model needs at least one member")
        if mode not in STACK_MODES:
            raise MnistliteError(f"mode must be one of {', '.join(STACK_MODES)}, got {mode!r}")
        shapes = {k: v.shape for k, v in members[0].state_dict().items()}
        for i, member in enumerate(members[1:], 2):
            other = {k: v.shape for k, v in member.state_dict().items()}
            if other != shapes:
                raise MnistliteError(
                    f"member {i} has another architecture than member 1 (its state_dict's "
                    "names or shapes differ); stacked members must be copies of one network"
                )
        params, buffers = stack_module_state(members)
        self.names = list(params)
        self.buffer_names = list(buffers)
        for name, value in params.items():
            self.register_parameter(_key(name), nn.Parameter(value.detach().clone()))
        for name, value in buffers.items():
            self.register_buffer(_key(name), value.clone())
        # Kept in a list so that it is no submodule: its own weights are never used.
        self._template = [copy.deepcopy(members[0]).to("meta")]
        self.size = len(members)
        self.mode = mode
        why_not = _why_not_grouped(members[0])
        if mode == "grouped" and why_not is not None:
            raise MnistliteError(f"mode 'grouped' cannot run this network: {why_not}")
        self._depthwise = has_grouped_conv(members[0])
        self._grouped: list[nn.Module] = []
        self._grouped_names: dict[str, tuple[str, int]] = {}
        if why_not is None:
            self._grouped.append(_grouped_template(self._template[0], self.size))
            self._grouped_names = self._grouped_layout(members[0])

    def extra_repr(self) -> str:
        """Shown by ``print()``: how many members, of which network, run how."""
        return f"{self.size} x {type(self._template[0]).__name__}, mode={self.mode!r}"

    def _grouped_layout(self, network: nn.Module) -> dict[str, tuple[str, int]]:
        """For each tensor of the grouped body: its member name and how to lay it out.

        The layout is the number of channels a shared scalar is repeated over
        (:class:`~mnistlite.blocks.ScalarBatchNorm2d`'s weight and bias), 0 for a tensor
        whose first two dimensions ``(S, C)`` merge into ``S*C``, and -1 for one kept as
        it is (a BatchNorm's batch count).
        """
        name = getattr(type(network), "stack_body", None)
        prefix = f"{name}." if name else ""
        layout: dict[str, tuple[str, int]] = {}
        for owner, module in _body(network).named_modules():
            own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
            for leaf, _ in own:
                key = f"{owner}.{leaf}" if owner else leaf
                if isinstance(module, ScalarBatchNorm2d):
                    how = module.norm.num_features
                elif leaf == "num_batches_tracked":
                    how = -1
                else:
                    how = 0
                layout[key] = (prefix + key, how)
        return layout

    def train(self, mode: bool = True) -> StackedModel:
        """Set training mode on the stack and its member network."""
        super().train(mode)
        for template in (*self._template, *self._grouped):
            template.train(mode)
        return self

    def _tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {name: getattr(self, _key(name)) for name in self.names}
        buffers = {name: getattr(self, _key(name)) for name in self.buffer_names}
        return params, buffers

    def mode_for(self, device: str | torch.device) -> str:
        """The mode a forward on ``device`` uses: ``"vmap"``, ``"loop"`` or ``"grouped"``.

        ``"auto"``: on CUDA ``"grouped"`` (``"vmap"`` for a network that cannot run
        grouped), which trained 16 lite1k copies far faster than vmap on an H100
        (``benchmarks/gpu_speed.py``); elsewhere ``"grouped"`` for a network with depthwise
        convolutions and ``"loop"`` otherwise, as measured on a CPU
        (``benchmarks/stack_modes.py``).
        """
        if self.mode != "auto":
            return self.mode
        if torch.device(device).type == "cuda":
            return "grouped" if self._grouped else "vmap"
        return "grouped" if self._grouped and self._depthwise else "loop"

    def resolved_mode(self) -> str:
        """The mode a forward uses now, on the parameters' device (see :meth:`mode_for`)."""
        first = getattr(self, _key(self.names[0])) if self.names else None
        return self.mode_for(first.device if first is not None else "cpu")

    def _grouped_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the members side by side along the channels (mode ``"grouped"``)."""
        size, n = self.size, x.shape[1]
        images = x.transpose(0, 1).reshape(n, size * x.shape[2], *x.shape[3:])
        tensors = {}
        for key, (name, how) in self._grouped_names.items():
            value = getattr(self, _key(name))
            if how > 0:  # one scalar per member, repeated over its channels
                value = value.reshape(size, 1).expand(size, how).reshape(size * how)
            elif how == 0:
                value = value.flatten(0, 1)
            tensors[key] = value
        out = functional_call(self._grouped[0], tensors, (images,))
        return out.unflatten(1, (size, -1)).movedim(1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``(S, N, ...)`` to logits ``(S, N, classes)``, member ``s`` on ``x[s]``.

        Raises:
            MnistliteError: If the leading dimension is not the number of members.
        """
        if x.dim() < 2 or x.shape[0] != self.size:
            raise MnistliteError(
                f"a stacked model of {self.size} members takes input (S={self.size}, N, ...), "
                f"got {tuple(x.shape)}"
            )
        mode = self.resolved_mode()
        if mode == "grouped":
            return self._grouped_forward(x)
        params, buffers = self._tensors()
        template = self._template[0]
        if mode == "vmap":

            def one(p: dict[str, Any], b: dict[str, Any], images: torch.Tensor) -> Any:
                return functional_call(template, (p, b), (images,))

            return vmap(one, randomness="different")(params, buffers, x)
        outputs = []
        for s in range(self.size):
            member = {name: value[s] for name, value in params.items()}
            member.update({name: value[s] for name, value in buffers.items()})
            outputs.append(functional_call(template, member, (x[s],)))
        return torch.stack(outputs)

    def member_state_dict(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index``'s weights as the ``state_dict`` of a single network (a CPU copy).

        Raises:
            MnistliteError: If ``index`` is out of range.
        """
        self._check_index(index)
        params, buffers = self._tensors()
        state = {**params, **buffers}
        order = self._template[0].state_dict().keys()
        return {name: state[name][index].detach().to("cpu", copy=True) for name in order}

    def load_member_state_dict(self, index: int, state: dict[str, torch.Tensor]) -> None:
        """Copy a single network's ``state_dict`` into member ``index``.

        Raises:
            MnistliteError: If ``index`` is out of range or the names differ.
        """
        self._check_index(index)
        params, buffers = self._tensors()
        mine = {**params, **buffers}
        if set(state) != set(mine):
            raise MnistliteError(
                f"state_dict names differ from the members' ({sorted(set(state) ^ set(mine))})"
            )
        with torch.no_grad():
            for name, value in state.items():
                mine[name][index].copy_(value)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise MnistliteError(f"member index must lie in [0, {self.size - 1}], got {index}")
