"""The training loss: cross-entropy, optionally mixed with a teacher's softened outputs.

One formula serves a single model, (N, C) logits, and many models trained side by side,
(S, N, C) logits, giving each of the S its own loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["distillation_loss"]


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor,
    *,
    temperature: float = 4.0,
    weight: float = 0.5,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Hinton et al.'s knowledge-distillation loss: labels mixed with a teacher's soft outputs.

    ``(1 - weight) * CE(student, labels) + weight * T² * KL(teacher_T ‖ student_T)``,
    where ``x_T`` is ``softmax(logits / T)``, both terms averaged over the batch (the KL
    term summed over the classes: PyTorch's ``"batchmean"``). The ``T²`` factor keeps the
    soft term's gradients on the scale of the hard term's whatever the temperature.
    Without a teacher (or with ``weight`` 0) it is the cross-entropy alone. This is the
    loss :class:`~mnistlite.training.Trainer` trains with.

    Args:
        student_logits: (N, C) logits of the model being trained, or (S, N, C) for S
            models side by side.
        teacher_logits: The teacher's logits for the same images, shaped like
            ``student_logits`` (no gradient flows into them), or None.
        labels: (N,) class indices, or (S, N).
        temperature: Softening temperature T (> 0); higher spreads the teacher's
            probability over more classes.
        weight: Share of the teacher term in [0, 1]; 0 is plain cross-entropy.
        label_smoothing: Label smoothing of the cross-entropy term.

    Returns:
        The mean loss: a 0-dim tensor, or (S,), one per model.
    """
    classes = student_logits.shape[-1]
    hard = F.cross_entropy(
        student_logits.reshape(-1, classes),
        labels.reshape(-1),
        reduction="none",
        label_smoothing=label_smoothing,
    )
    hard = hard.view(labels.shape).mean(-1)
    if teacher_logits is None or weight == 0:
        return hard
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=-1),
        reduction="none",
        log_target=True,
    )
    soft = soft.sum(-1).mean(-1)
    return (1 - weight) * hard + weight * temperature**2 * soft
