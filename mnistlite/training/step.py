"""The training step: forward, loss, backward, optimizer update; eager or as a CUDA graph.

:class:`TrainStep` is the one step function every path runs. On CUDA it can capture the
step once as a CUDA graph over static input buffers and replay it for every full batch,
so the GPU is not left waiting for the host; the learning rate and momentum are 0-dim
device tensors that the replays read, so a schedule keeps working. :func:`.sgd_update` is
:class:`torch.optim.SGD`'s rule written so that such a graph can hold it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mnistlite.training.losses import distillation_loss

__all__ = ["TrainStep", "plain_sgd", "sgd_update"]


def sgd_update(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    buffers: list[torch.Tensor],
    *,
    lr: float | torch.Tensor,
    momentum: float | torch.Tensor,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One step of :class:`torch.optim.SGD`'s update rule, in place, with foreach kernels.

    ``g = grad + weight_decay * p``; ``buf = momentum * buf + g`` (no dampening);
    ``d = g + momentum * buf`` (Nesterov) or ``buf``; ``p -= lr * d``. ``lr`` and
    ``momentum`` may be Python numbers or 0-dim tensors on the parameters' device: as
    tensors the step can be captured in a CUDA graph and replayed while a schedule
    changes their values (``Tensor.fill_`` between replays). The gradients
    are overwritten.

    Args:
        params: The parameters.
        grads: Their gradients.
        buffers: Their momentum buffers (same shapes); unused when ``momentum`` is 0.
        lr: Learning rate.
        momentum: Momentum factor.
        weight_decay: L2 penalty.
        nesterov: Nesterov momentum.
    """
    if weight_decay:
        torch._foreach_add_(grads, params, alpha=weight_decay)
    if isinstance(momentum, torch.Tensor) or momentum != 0:
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads)
        if nesterov:
            direction = torch._foreach_mul(buffers, momentum)
            torch._foreach_add_(direction, grads)
            torch._foreach_mul_(direction, lr)
        else:
            direction = torch._foreach_mul(buffers, lr)
    else:
        direction = grads
        torch._foreach_mul_(direction, lr)
    torch._foreach_sub_(params, direction)


def plain_sgd(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` is a torch SGD whose update :func:`sgd_update` reproduces."""
    if type(optimizer) is not torch.optim.SGD:
        return False
    return all(not g.get("maximize") and not g.get("dampening") for g in optimizer.param_groups)


class TrainStep:
    """One training step over a model, eager or captured once as a CUDA graph.

    Args:
        model: The module trained (a :class:`~mnistlite.stacked.StackedModel` for many).
        forward: What computes the logits: ``model`` or ``torch.compile(model)``.
        optimizer: The optimizer over ``model``'s parameters.
        device: The training device.
        bf16: Run the training forward pass under bfloat16 autocast.
        channels_last: Feed images in ``torch.channels_last`` memory format.
        stacked: ``model`` maps (S, N, ...) to (S, N, C), S models side by side.
        teacher: A frozen teacher whose logits enter :func:`distillation_loss`, or None.
        loss_options: ``temperature``, ``weight`` and ``label_smoothing`` of the loss.
        cuda_graphs: Capture the step as a CUDA graph (CUDA and plain SGD only).
    """

    #: Eager steps before the step is captured (they are real training steps).
    WARMUP_STEPS = 3

    def __init__(
        self,
        model: nn.Module,
        forward: Callable[[torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        *,
        bf16: bool,
        channels_last: bool,
        stacked: bool,
        teacher: nn.Module | None,
        loss_options: dict[str, float],
        cuda_graphs: bool,
    ) -> None:
        self.model, self.forward, self.optimizer = model, forward, optimizer
        self.device, self.bf16, self.channels_last = device, bf16, channels_last
        self.stacked, self.teacher, self.loss_options = stacked, teacher, loss_options
        self.cuda_graphs = cuda_graphs
        self.reset()

    def reset(self) -> None:
        """Forget a captured graph (e.g. after the optimizer's state tensors were replaced)."""
        self._graph: Any = None
        self._warm_steps = 0

    def autocast(self, bf16: bool) -> contextlib.AbstractContextManager[Any]:
        """bfloat16 autocast on the device when ``bf16``, else nothing."""
        if not bf16:
            return contextlib.nullcontext()
        # no cast cache: a CUDA graph must not keep casts made during its capture
        return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Images on the device, in the model's memory format."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def logits(self, images: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        """The model's fp32 logits (computed under bf16 autocast when ``bf16``)."""
        with self.autocast(bf16):
            return self.forward(self.prepare(images)).float()

    def _teacher_logits(self, images: torch.Tensor) -> torch.Tensor | None:
        if self.teacher is None:
            return None
        with torch.no_grad(), self.autocast(self.bf16):
            if self.stacked:  # one pass over every member's batch
                flat = self.teacher(images.flatten(0, 1)).float()
                return flat.view(*images.shape[:2], flat.shape[-1])
            return self.teacher(images).float()

    def _update(self, scalars: list[tuple[Any, Any]] | None) -> None:
        """The optimizer step: :func:`sgd_update` per group for SGD, else ``step()``."""
        if not plain_sgd(self.optimizer):
            self.optimizer.step()
            return
        # what optimizer.step() records, so a scheduler knows the optimizer has stepped
        self.optimizer._opt_called = True  # type: ignore[attr-defined]
        for index, group in enumerate(self.optimizer.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            buffers: list[torch.Tensor] = []
            if group["momentum"] != 0 or scalars is not None:
                for p in params:
                    state = self.optimizer.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    buffers.append(state["momentum_buffer"])
            lr, momentum = (
                scalars[index] if scalars is not None else (group["lr"], group["momentum"])
            )
            with torch.no_grad():
                sgd_update(
                    params,
                    [p.grad for p in params],
                    buffers,
                    lr=lr,
                    momentum=momentum,
                    weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"],
                )

    def run(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        scalars: list[tuple[Any, Any]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The step function: forward, loss, backward, update; what a CUDA graph captures.

        It reads nothing back to the host. Gradients must be None (or zero) when it is
        called.

        Args:
            images: A batch on the device, (N, ...) or (S, N, ...) when stacked.
            labels: Its labels, (N,) or (S, N).
            scalars: Per parameter group ``(lr, momentum)`` as 0-dim device tensors (the
                captured step), or None to read them from the optimizer's groups.

        Returns:
            ``(losses, correct)``: the batch's mean loss and its number of correct
            predictions, 0-dim tensors, or (S,) when stacked.
        """
        logits = self.logits(images, self.bf16)
        losses = distillation_loss(
            logits, self._teacher_logits(images), labels, **self.loss_options
        )
        losses.sum().backward()
        self._update(scalars)
        correct = (logits.detach().argmax(-1) == labels).sum(-1)
        return losses.detach(), correct

    def __call__(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch: through the captured graph where it fits, else eagerly."""
        images = self.prepare(images)
        labels = labels.to(self.device, non_blocking=True)
        if self._graph_fits(images, labels):
            return self._graph_step(images, labels)
        return self._eager(images, labels)

    def _eager(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, Any]:
        self.optimizer.zero_grad(set_to_none=True)
        return self.run(images, labels)

    def _graph_fits(self, images: torch.Tensor, labels: torch.Tensor) -> bool:
        if not self.cuda_graphs:
            return False
        if self._graph is None:
            return True
        return images.shape == self._static[0].shape and labels.shape == self._static[1].shape

    def _capture(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Capture :meth:`run` as a CUDA graph over static input buffers."""
        self._static = (images.clone(), labels.clone())
        self._scalars = [
            (
                torch.tensor(float(g["lr"]), device=self.device),
                torch.tensor(float(g["momentum"]), device=self.device),
            )
            for g in self.optimizer.param_groups
        ]
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._static_out = self.run(*self._static, self._scalars)
        self._graph = graph

    def _graph_step(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a full batch through the captured step (warming up and capturing first)."""
        if self._warm_steps < self.WARMUP_STEPS:  # eager on a side stream before capture
            self._warm_steps += 1
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                out = self._eager(images, labels)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            return out
        if self._graph is None:
            self._capture(images, labels)
        self._static[0].copy_(images, non_blocking=True)
        self._static[1].copy_(labels, non_blocking=True)
        for (lr, momentum), group in zip(self._scalars, self.optimizer.param_groups, strict=True):
            lr.fill_(group["lr"])
            momentum.fill_(group["momentum"])
        self._graph.replay()
        return self._static_out[0].clone(), self._static_out[1].clone()
