"""A run's result: its models and histories, one per seed, and their summary."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from mnistlite.recipes import Recipe
from mnistlite.runs.folder import OutFolder
from mnistlite.training import History

__all__ = ["Run", "Summary"]


@dataclass(frozen=True)
class Summary:
    """Final-epoch accuracies over a run's seeds.

    Attributes:
        name: The recipe's name.
        seeds: The seeds, in order.
        test_acc: Each seed's final test accuracy (percent).
        val_acc: Each seed's final validation accuracy, or None without a validation split.
    """

    name: str
    seeds: tuple[int, ...]
    test_acc: tuple[float, ...]
    val_acc: tuple[float, ...] | None

    @property
    def mean(self) -> float:
        """Mean final test accuracy over the seeds."""
        return statistics.fmean(self.test_acc)

    @property
    def std(self) -> float:
        """Sample standard deviation (n - 1) of the final test accuracy; 0 for one seed."""
        return statistics.stdev(self.test_acc) if len(self.test_acc) > 1 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.name}: mean final test accuracy {self.mean:.2f}% ± {self.std:.2f} over "
            f"{len(self.seeds)} seeds"
        )


@dataclass
class Run:
    """What a training run made: one model and history per seed, and where they were written.

    For code written for the older ``model, history = recipes.train(...)``, a run unpacks
    as ``(model, history)`` for one seed and ``(models, histories)`` for ``seeds=[...]``.

    Attributes:
        recipe: The recipe as it ran (its device overrides applied).
        seeds: The seeds, one per model.
        models: The trained networks, one per seed (of a side-by-side run, each its own
            module again, in eval mode).
        histories: Their histories, one per seed.
        out: The :class:`OutFolder` written, or None.
        side_by_side: Whether the seeds were trained side by side (``seeds=[...]``).
    """

    recipe: Recipe
    seeds: list[int]
    models: list[nn.Module]
    histories: list[History]
    out: OutFolder | None
    side_by_side: bool

    @property
    def model(self) -> nn.Module:
        """The first (for one seed, the only) trained network."""
        return self.models[0]

    @property
    def history(self) -> History:
        """The first (for one seed, the only) history."""
        return self.histories[0]

    def __iter__(self) -> Iterator[Any]:
        if self.side_by_side:
            return iter((self.models, self.histories))
        return iter((self.model, self.history))

    def summary(self) -> Summary:
        """Final test (and validation) accuracy per seed, with their mean and std."""
        vals = [h.final.get("val_acc") for h in self.histories]
        return Summary(
            name=self.recipe.name,
            seeds=tuple(self.seeds),
            test_acc=tuple(h.final["test_acc"] for h in self.histories),
            val_acc=tuple(vals) if all(v is not None for v in vals) else None,  # type: ignore[arg-type]
        )

    def report(self) -> str:
        """Lines to show a person: each seed's final epoch, then (for many) the summary."""
        lines = []
        for seed, history in zip(self.seeds, self.histories, strict=True):
            final = history.final
            val = f"val accuracy {final['val_acc']:.2f}%, " if "val_acc" in final else ""
            who = f" seed {seed}" if self.side_by_side else ""
            lines.append(
                f"{self.recipe.name}{who}: epoch {final['epoch']}: {val}test accuracy "
                f"{final['test_acc']:.2f}% (best {history.best('test_acc'):.2f}%), test loss "
                f"{final['test_loss']:.4f}"
            )
        if self.side_by_side:
            lines.append(str(self.summary()))
        if self.out is not None:
            where = f"{self.out.path}/seed-S" if self.side_by_side else str(self.out.path)
            lines.append(f"wrote {where}/history.json, checkpoint.pt, model.pt")
        return "\n".join(lines)
