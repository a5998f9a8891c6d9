"""Pretrained weights described as data, in torchvision's pattern.

Every bundled file is listed in ``mnistlite/weights/manifest.json`` (written by
``benchmarks/export_weights.py`` from a training run) with its SHA-256 and metadata:
parameter count, test accuracy measured on the full MNIST test set, the recipe and the
run it came from. Each model gets an enum (``Step7_Weights``) whose members carry that
metadata; ``DEFAULT`` is an alias of the newest entry.

The bundled files are ``.safetensors`` files, read with the ``safetensors`` package
after their SHA-256 is checked: a changed or truncated file raises :class:`WeightsError`.
A user's own weights may be ``.safetensors`` or ``.pt`` files (``.pt`` is read with
``torch.load(..., weights_only=True)``); :func:`save_weights` writes either.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlite.atomic import atomic_write
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
    "safetensors_metadata",
    "save_weights",
    "sha256_of",
    "tensors_digest",
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


#: File suffixes :func:`save_weights` writes, by format.
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth")
#: The ``__metadata__`` key under which :func:`save_weights` records ``tensors_digest``.
DIGEST_KEY = "mnistlite.tensors_sha256"


def tensors_digest(state: dict[str, torch.Tensor]) -> str:
    """Return a hex SHA-256 of a state dict's tensors: names, dtypes, shapes and bytes.

    It depends on the tensors only, not on how a file lays them out, so a
    ``.safetensors`` file can carry the digest of its own content in its header.
    """
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _looks_like_safetensors(data: bytes) -> bool:
    """Whether ``data`` starts as a safetensors file: a little-endian length, then ``{``."""
    return len(data) > 8 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") < len(data)


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file that ``safetensors.torch.load`` read."""
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    return metadata if isinstance(metadata, dict) else {}


def _canonical_safetensors(data: bytes) -> bytes:
    """Rewrite a safetensors file's header in one order, so equal tensors give equal bytes.

    The package writes ``__metadata__`` in a hash map's random order. Here metadata keys
    are sorted and tensors listed by their offset; the header is padded with spaces to a
    multiple of 8 bytes, as the package pads it.
    """
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    metadata = header.pop("__metadata__", None)
    ordered = dict(sorted(header.items(), key=lambda item: item[1]["data_offsets"]))
    if metadata is not None:
        ordered = {"__metadata__": dict(sorted(metadata.items())), **ordered}
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def safetensors_metadata(path: str | Path) -> dict[str, str]:
    """Return the ``__metadata__`` of a ``.safetensors`` file's header (``{}`` if none).

    Reads the header only. :func:`save_weights` records there the tensors' digest
    (under ``"mnistlite.tensors_sha256"``) and the metadata it was given.

    Raises:
        WeightsError: If the file is missing or its header cannot be read.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if size > 100_000_000:  # the safetensors package's own limit
                raise ValueError(f"header of {size} bytes")
            header = json.loads(handle.read(size))
    except (OSError, ValueError) as err:
        raise WeightsError(f"cannot read the safetensors header of {path}: {err}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(metadata) if isinstance(metadata, dict) else {}


def _parse(path: Path, data: bytes) -> Any:
    """Read a state dict (or a checkpoint) from a file's bytes, in either format."""
    if path.suffix.lower() in SAFETENSORS_SUFFIXES or _looks_like_safetensors(data):
        from safetensors.torch import load as load_safetensors

        state = load_safetensors(data)
        expected = _safetensors_metadata(data).get(DIGEST_KEY)
        if expected is not None and tensors_digest(state) != expected:
            raise WeightsError(
                f"the tensors of {path} do not match the digest in its header: "
                "the file was changed or corrupted"
            )
        return state
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def load_state_dict(path: str | Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a state dict from a ``.safetensors`` or ``.pt`` file, checking its SHA-256 if given.

    The file is read once; the digest is checked on the bytes that are then parsed.
    ``.pt`` files are read with ``torch.load(..., weights_only=True)``; the format is
    told by the suffix, else by the content. A ``.safetensors`` file written by
    :func:`save_weights` carries the digest of its tensors (``tensors_digest``) in
    its header, checked here, so a flipped bit in it is caught even without ``sha256``.

    Also accepts a training checkpoint written by :class:`mnistlite.training.Trainer` (a dict
    with a ``"model"`` entry) and returns the model's part.

    Raises:
        WeightsError: If the file is missing, its digest differs from ``sha256``, it is
            corrupt or truncated, or it does not hold a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    data = path.read_bytes()
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise WeightsError(
                f"weights file {path} has SHA-256 {actual}, expected {sha256}: "
                "the file was changed or truncated; reinstall mnistlite"
            )
    try:
        with warnings.catch_warnings():  # a damaged file's "pickle protocol 74" comes first
            warnings.simplefilter("ignore")
            state = _parse(path, data)
    except WeightsError:
        raise
    except Exception as err:  # torch and safetensors raise several types for a bad file
        raise WeightsError(
            f"cannot read weights from {path}: corrupt, truncated or not a state dict "
            f"({type(err).__name__})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a model state dict")
    return state


def save_weights(
    model_or_state_dict: nn.Module | dict[str, torch.Tensor],
    path: str | Path,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a model's weights to ``path`` atomically, in the format its suffix names.

    ``.safetensors`` is written with the ``safetensors`` package, with the digest of
    the tensors (``tensors_digest``) and ``metadata`` in its header; ``.pt`` or
    ``.pth`` with :func:`torch.save` (a plain state dict). Either reads back with
    :func:`load_state_dict` or ``get_model(name, weights=path)``.

    Example:
        >>> import tempfile, pathlib
        >>> from mnistlite import models
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> path = models.save_weights(models.lite600(), folder / "lite600.safetensors")
        >>> sorted(models.load_state_dict(path)) == sorted(models.lite600().state_dict())
        True

    Args:
        model_or_state_dict: A module, or a state dict (names to tensors).
        path: The file to write; its folder must exist.
        metadata: Extra ``str`` to ``str`` entries for a safetensors header (ignored
            for ``.pt``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        WeightsError: If the suffix is neither, the state dict holds a non-tensor, or
            ``metadata`` is not ``str`` to ``str``.
    """
    path = Path(path)
    state = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, nn.Module)
        else model_or_state_dict
    )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"expected a module or a state dict of tensors, got {type(state)}")
    # Own, contiguous CPU copies: safetensors refuses tensors that share memory.
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state.items()}
    if metadata is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise WeightsError(f"safetensors metadata maps str to str, got {metadata!r:.80}")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors.torch import save as save_safetensors

        header = {"format": "pt", **(metadata or {}), DIGEST_KEY: tensors_digest(tensors)}
        data = _canonical_safetensors(save_safetensors(tensors, metadata=header))
        return atomic_write(path, lambda handle: handle.write(data))
    if suffix in TORCH_SUFFIXES:
        return atomic_write(path, lambda handle: torch.save(tensors, handle))
    raise WeightsError(
        f"cannot tell the format of {path} from its suffix {path.suffix!r}; "
        f"use one of {', '.join(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)}"
    )


@dataclass(frozen=True, eq=False)
class Weights:
    """One bundled weights file and its metadata.

    Attributes:
        file: File name inside the package's ``weights`` folder (``WEIGHTS_DIR``).
        sha256: Expected hex SHA-256 of the file.
        meta: Metadata, written by ``benchmarks/export_weights.py``. Ours:
            ``num_params``, ``macs`` (multiply-accumulates per image), ``test_acc`` and
            ``test_loss`` (full MNIST test set, percent and mean cross-entropy),
            ``train_acc`` (the 60,000 training images as they are, no augmentation:
            how well the network fits what it was trained on),
            ``dataset``, ``recipe`` (a dict of its fields), ``run`` (seed, epochs,
            which epoch), ``normalization`` (mean, std). torchvision's, beside them:
            ``categories`` (``"0"`` to ``"9"``), ``min_size`` (``(28, 28)``),
            ``_metrics`` (``{"MNIST": {"acc@1": test_acc}}``), ``_ops`` (GFLOPs per
            image, counting a multiply-add as one operation as torchvision does:
            ``macs / 1e9``), ``_file_size`` (MiB of the weights file, as torchvision:
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
            "(or the path of a .safetensors or .pt state-dict file)"
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
    path separator, ends in ``.safetensors``/``.pt``/``.pth``, or is an existing file.
    """
    if isinstance(weights, os.PathLike):
        return True
    if not isinstance(weights, str):
        return False
    if enum is not None:
        member = weights.split(".", 1)[1] if weights.startswith(enum.__name__ + ".") else weights
        if member in enum.__members__:
            return False
    looks_like_path = (
        "/" in weights
        or os.sep in weights
        or weights.lower().endswith(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)
    )
    return looks_like_path or Path(weights).is_file()


def load_weights_file(model: nn.Module, path: str | Path, name: str = "the model") -> nn.Module:
    """Load a state-dict file (or a training checkpoint) into ``model`` and return it.

    Args:
        model: The freshly built model.
        path: A ``model.pt`` or ``checkpoint.pt`` written by ``mnistlite train``, any
            ``torch.save``'d state dict, or a ``.safetensors`` file (:func:`save_weights`).
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
