"""Pretrained weights described as data, in torchvision's pattern.

Every bundled file is listed in ``mnistlite/weights/manifest.json`` (written by
``benchmarks/export_weights.py`` from a training run) with its SHA-256 and metadata:
parameter count, test accuracy measured on the full MNIST test set, the recipe and the
run it came from. Each model gets an enum (``Step7_Weights``) whose members carry that
metadata; ``DEFAULT`` is an alias of the newest entry.

Files are checked against their SHA-256 before ``torch.load(..., weights_only=True)``
reads them: a changed or truncated file raises :class:`WeightsError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite.errors import WeightsError
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD, Normalize

__all__ = [
    "WEIGHTS_DIR",
    "Weights",
    "WeightsEnum",
    "WeightsError",
    "is_weights_path",
    "load_state_dict",
    "load_weights_file",
    "sha256_of",
    "weights_enum",
]

#: Folder inside the installed package that holds the bundled weight files.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def sha256_of(path: str | Path) -> str:
    """Return the hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_state_dict(path: str | Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a state dict with ``weights_only=True``, checking its SHA-256 first if given.

    Also accepts a training checkpoint written by :class:`mnistlite.training.Trainer` (a dict
    with a ``"model"`` entry) and returns the model's part.

    Raises:
        WeightsError: If the file is missing, its digest differs from ``sha256``, or it
            does not hold a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256:
            raise WeightsError(
                f"weights file {path} has SHA-256 {actual}, expected {sha256}: "
                "the file was changed or truncated; reinstall mnistlite"
            )
    try:
        with warnings.catch_warnings():  # a damaged file's "pickle protocol 74" comes first
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a bad file
        raise WeightsError(
            f"cannot read weights from {path}: corrupt, truncated or not a state dict "
            f"({type(err).__name__})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a model state dict")
    return state


@dataclass(frozen=True, eq=False)
class Weights:
    """One bundled weights file and its metadata.

    Attributes:
        file: File name inside the package's ``weights`` folder (``WEIGHTS_DIR``).
        sha256: Expected hex SHA-256 of the file.
        meta: Metadata, written by ``benchmarks/export_weights.py``. Ours:
            ``num_params``, ``macs`` (multiply-accumulates per image), ``test_acc`` and
            ``test_loss`` (full MNIST test set, percent and mean cross-entropy),
            ``dataset``, ``recipe`` (a dict of its fields), ``run`` (seed, epochs,
            which epoch), ``normalization`` (mean, std). torchvision's, beside them:
            ``categories`` (``"0"`` to ``"9"``), ``min_size`` (``(28, 28)``),
            ``_metrics`` (``{"MNIST": {"acc@1": test_acc}}``), ``_ops`` (GFLOPs per
            image, counting a multiply-add as one operation as torchvision does:
            ``macs / 1e9``), ``_file_size`` (MiB of the ``.pt`` file, as torchvision:
            bytes / 1024², 3 decimals) and ``_docs`` (one sentence).
    """

    file: str
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Where the file lies in the installed package."""
        return WEIGHTS_DIR / self.file

    def transforms(self) -> Normalize:
        """Return the preprocessing these weights expect (MNIST normalization)."""
        norm = self.meta.get("normalization", {})
        return Normalize(norm.get("mean", MNIST_MEAN), norm.get("std", MNIST_STD))

    def get_state_dict(self, progress: bool = True) -> dict[str, torch.Tensor]:
        """Load the state dict after checking the file's SHA-256.

        Args:
            progress: Kept for torchvision compatibility; bundled files need no download.
        """
        return load_state_dict(self.path, self.sha256)


class WeightsEnum(Enum):
    """Base of the per-model enums (``Step7_Weights.MNIST_V1``, ``.DEFAULT``)."""

    @classmethod
    def verify(cls, obj: Any) -> WeightsEnum | None:
        """Resolve ``None``, a member, or a name such as ``"DEFAULT"`` to a member.

        Raises:
            WeightsError: If the name is not a member; the message lists the members.
        """
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.split(".", 1)[1] if obj.startswith(cls.__name__ + ".") else obj
            if name in cls.__members__:
                return cls.__members__[name]
        names = ", ".join(cls.__members__) or "none are bundled"
        raise WeightsError(
            f"unknown weights {obj!r} for {cls.__name__}; available: {names} "
            "(or the path of a .pt state-dict file)"
        )

    @property
    def meta(self) -> dict[str, Any]:
        """The entry's metadata."""
        return self.value.meta

    def transforms(self) -> Normalize:
        """The preprocessing these weights expect."""
        return self.value.transforms()

    def get_state_dict(self, progress: bool = True) -> dict[str, torch.Tensor]:
        """Load the checked state dict."""
        return self.value.get_state_dict(progress)


def _manifest() -> dict[str, Any]:
    path = WEIGHTS_DIR / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _from_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A manifest entry with torchvision's tuple for ``min_size`` (JSON stores a list)."""
    meta = dict(entry.get("meta", {}))
    if "min_size" in meta:
        meta["min_size"] = tuple(meta["min_size"])
    return {**entry, "meta": meta}


def weights_enum(model_name: str, enum_name: str) -> type[WeightsEnum]:
    """Build the weights enum of one model from the manifest.

    Members are the manifest's entries for ``model_name`` in file order; ``DEFAULT``
    aliases the last one. A model with no entry gets an enum with no members.
    """
    entries = _manifest().get(model_name, {})
    members = [(name, Weights(**_from_json(entry))) for name, entry in entries.items()]
    if members:
        members.append(("DEFAULT", members[-1][1]))
    return WeightsEnum(enum_name, members, module=__name__)  # type: ignore[return-value]


def is_weights_path(weights: Any, enum: type[WeightsEnum] | None) -> bool:
    """Whether ``weights`` names a file rather than a bundled entry.

    A :class:`os.PathLike` is always a file. A string is a file if it does not name a
    member of ``enum`` (``"DEFAULT"``, ``"Step7_Weights.MNIST_V1"``) and it contains a
    path separator, ends in ``.pt``/``.pth``, or is an existing file.
    """
    if isinstance(weights, os.PathLike):
        return True
    if not isinstance(weights, str):
        return False
    if enum is not None:
        member = weights.split(".", 1)[1] if weights.startswith(enum.__name__ + ".") else weights
        if member in enum.__members__:
            return False
    looks_like_path = "/" in weights or os.sep in weights or weights.endswith((".pt", ".pth"))
    return looks_like_path or Path(weights).is_file()


def load_weights_file(model: nn.Module, path: str | Path, name: str = "the model") -> nn.Module:
    """Load a state-dict file (or a training checkpoint) into ``model`` and return it.

    Args:
        model: The freshly built model.
        path: A ``model.pt`` or ``checkpoint.pt`` written by ``mnistlite train``, or any
            ``torch.save``'d state dict.
        name: The model's name, for error messages.

    Raises:
        WeightsError: If the file is missing or unreadable, or its tensors do not fit
            ``model`` (missing, unexpected or wrongly shaped entries).
    """
    state = load_state_dict(path)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # tensors of the wrong shape
        detail = [line.strip() for line in str(err).splitlines() if line.strip()][1:2]
        raise WeightsError(f"{path} does not fit model {name}: {' '.join(detail)}") from None
    if result.missing_keys or result.unexpected_keys:
        example = (result.missing_keys or result.unexpected_keys)[0]
        raise WeightsError(
            f"{path} does not fit model {name}: {len(result.missing_keys)} missing and "
            f"{len(result.unexpected_keys)} unexpected keys (e.g. {example}); "
            "is it a state dict of another model?"
        )
    return model
