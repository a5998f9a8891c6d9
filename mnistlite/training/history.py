"""What a training run logged: one record per epoch, every batch's loss, and run facts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlite.atomic import save_json
from mnistlite.errors import MnistliteError

__all__ = ["History"]


@dataclass
class History:
    """What a training run logged.

    Attributes:
        epochs: One dict per epoch: ``epoch``, ``train_loss``, ``train_acc`` (running,
            percent, as the notebooks log it), ``test_loss``, ``test_acc`` (percent),
            ``lr`` (the rate at the start of the epoch), ``seconds``.
        batch_losses: The training loss of every batch, in order.
        meta: Free-form run information (recipe, seed, device, ...).
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> list[float]:
        """Return one per-epoch value for every epoch, e.g. ``column("test_acc")``."""
        return [record[key] for record in self.epochs]

    def best(self, key: str = "test_acc") -> float:
        """Return the largest value of a per-epoch column (the best test accuracy)."""
        return max(self.column(key))

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's record."""
        return self.epochs[-1]

    def to_dict(self) -> dict[str, Any]:
        """Return the history as JSON-ready data."""
        return {"epochs": self.epochs, "batch_losses": self.batch_losses, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Build a history from :meth:`to_dict`'s output."""
        if not isinstance(data, dict) or not isinstance(data.get("epochs"), list):
            raise MnistliteError("a history needs an 'epochs' list")
        return cls(
            epochs=list(data["epochs"]),
            batch_losses=list(data.get("batch_losses", [])),
            meta=dict(data.get("meta", {})),
        )

    def save(self, path: str | Path) -> Path:
        """Write the history as JSON, atomically."""
        return save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
