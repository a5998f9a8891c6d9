"""Many copies of one network trained side by side: a stacked model.

:class:`StackedModel` holds ``S`` copies ("members") of one architecture as stacked
parameters of shape ``(S, ...)`` and maps images ``(S, N, C, H, W)`` (member ``s`` sees
its own batch ``x[s]``) to logits ``(S, N, 10)``. The :class:`~mnistlite.training.Trainer`
trains it like any model: the loss is the sum of the members' own mean losses, so each
member's gradient is exactly the one a single run would compute on its batch, and SGD,
weight decay and momentum act element-wise, so each member follows its own run.

Two ways to run the members, chosen by measurement (``benchmarks/RESULTS.md``):

* ``"vmap"``: ``torch.func.vmap`` over ``torch.func.functional_call``. Convolutions
  become grouped convolutions: one kernel serves every member, which is what fills a GPU.
  Dropout draws differ per member (``randomness="different"``); BatchNorm's running
  statistics are stacked buffers updated per member.
* ``"loop"``: one call per member on views of the stacked parameters. On a CPU it is about
  as fast as separate runs one after another, where grouped convolutions were slower for
  most of the networks (``benchmarks/stack_modes.py``).

``"auto"`` picks ``"vmap"`` on CUDA and ``"loop"`` elsewhere.

This module knows nothing of models, data or training.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mnistlite.errors import MnistliteError

__all__ = ["STACK_MODES", "StackedModel"]

#: The ways :class:`StackedModel` can run its members.
STACK_MODES = ("auto", "vmap", "loop")


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
        mode: ``"vmap"``, ``"loop"`` or ``"auto"`` (vmap on CUDA, loop elsewhere,
            decided at each forward from the parameters' device).

    Raises:
        MnistliteError: If there are no members, they differ in architecture, or the
            mode is unknown.

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

    def extra_repr(self) -> str:
        """Shown by ``print()``: how many members, of which network, run how."""
        return f"{self.size} x {type(self._template[0]).__name__}, mode={self.mode!r}"

    def train(self, mode: bool = True) -> StackedModel:
        """Set training mode on the stack and its member network."""
        super().train(mode)
        self._template[0].train(mode)
        return self

    def _tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {name: getattr(self, _key(name)) for name in self.names}
        buffers = {name: getattr(self, _key(name)) for name in self.buffer_names}
        return params, buffers

    def resolved_mode(self) -> str:
        """The mode a forward uses now: ``"vmap"`` or ``"loop"``."""
        if self.mode != "auto":
            return self.mode
        first = getattr(self, _key(self.names[0])) if self.names else None
        return "vmap" if first is not None and first.device.type == "cuda" else "loop"

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
        params, buffers = self._tensors()
        template = self._template[0]
        if self.resolved_mode() == "vmap":

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
