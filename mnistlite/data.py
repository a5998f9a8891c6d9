"""MNIST as tensors on the training device, served as shuffled, augmented batches.

The whole dataset is read once through :class:`torchvision.datasets.MNIST` and kept
as one normalized float tensor (60,000 × 1 × 28 × 28 is 188 MB in float32): no
per-sample PIL images and no DataLoader workers on the hot path. Augmentation is
applied to a whole batch at once with :func:`torch.nn.functional.grid_sample`, with a
different random transform per image.

>>> from mnistlite import data
>>> train = data.load_mnist("~/data", train=True, download=True)       # doctest: +SKIP
>>> batches = data.Batches(train, 128, augment=data.Augment(rotation=7.0), seed=1)
>>> for x, y in batches: ...                                            # doctest: +SKIP

This module knows nothing of models or training.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from mnistlite import _checks
from mnistlite.errors import DatasetNotFoundError, MnistliteError
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD

__all__ = [
    "Augment",
    "Batches",
    "DatasetNotFoundError",
    "MNISTTensors",
    "StackedBatches",
    "TRAIN_IMAGES",
    "apply_affine",
    "augment_batch",
    "check_holdout",
    "draw_affine",
    "load_mnist",
]


@dataclass(frozen=True)
class MNISTTensors:
    """Images and labels held as tensors on one device.

    Attributes:
        images: Float32 tensor (N, 1, 28, 28), normalized with the MNIST mean and std.
        labels: Int64 tensor (N,) of digits 0–9.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or tuple(self.images.shape[1:]) != (1, 28, 28):
            raise MnistliteError(f"images must be (N, 1, 28, 28), got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise MnistliteError(
                f"labels must be ({self.images.shape[0]},) to match the images, "
                f"got {tuple(self.labels.shape)}"
            )
        if not self.images.is_floating_point():
            raise MnistliteError(f"images must be floating point, got {self.images.dtype}")
        if self.labels.dtype != torch.int64:
            raise MnistliteError(f"labels must be torch.int64 digits, got {self.labels.dtype}")
        if self.labels.numel() and not 0 <= int(self.labels.min()) <= int(self.labels.max()) <= 9:
            raise MnistliteError("labels must be digits in 0-9")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return self.images.device

    def to(self, device: str | torch.device) -> MNISTTensors:
        """Return a copy on ``device`` (self if already there)."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return MNISTTensors(self.images.to(device), self.labels.to(device))

    def take(self, n: int | None) -> MNISTTensors:
        """Return the first ``n`` samples (all of them if ``n`` is None).

        Raises:
            ValueError: If ``n`` is not a positive integer.
        """
        if n is None:
            return self
        _checks.positive_int("the number of samples", n)
        return MNISTTensors(self.images[:n], self.labels[:n])

    def split(self, n_holdout: int, seed: int = 0) -> tuple[MNISTTensors, MNISTTensors]:
        """Split off a random hold-out set of ``n_holdout`` samples (a validation split).

        Returns:
            ``(rest, holdout)``.
        """
        check_holdout("n_holdout", n_holdout, len(self))
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        order = order.to(self.device)
        rest, hold = order[n_holdout:], order[:n_holdout]
        return (
            MNISTTensors(self.images[rest], self.labels[rest]),
            MNISTTensors(self.images[hold], self.labels[hold]),
        )


#: How many training images MNIST has.
TRAIN_IMAGES = 60_000


def check_holdout(name: str, value: Any, available: int = TRAIN_IMAGES) -> int:
    """Check a validation split's size: a positive integer that leaves training images.

    Args:
        name: The argument's name, for the message (``val_split``, ``val_size``...).
        value: The number of images to hold out.
        available: The images it is taken from (default: MNIST's 60,000).

    Raises:
        MnistliteError: Naming ``name``, what was given and the bound.
    """
    _checks.positive_int(name, value)
    if value >= available:
        raise MnistliteError(
            f"{name}={value:,} leaves no training images (there are {available:,}); "
            f"hold out at most {available - 1:,}"
        )
    return value


def load_mnist(
    root: str | Path,
    *,
    train: bool = True,
    download: bool = False,
    device: str | torch.device = "cpu",
    limit: int | None = None,
) -> MNISTTensors:
    """Read MNIST once through torchvision and return it as normalized tensors.

    Args:
        root: Folder that holds (or will hold) ``MNIST/raw``, as for torchvision.
        train: The 60,000 training images (True) or the 10,000 test images (False).
        download: Let torchvision download the files if they are missing.
        device: Where the tensors are put (the GPU when training there).
        limit: Keep only the first ``limit`` images (for quick runs and tests).

    Raises:
        DatasetNotFoundError: If the files are missing and ``download`` is False; the
            message names the root and how to download.
    """
    from torchvision.datasets import MNIST

    root = Path(root).expanduser()
    try:
        dataset = MNIST(str(root), train=train, download=download)
    except (RuntimeError, OSError) as err:
        if download:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise DatasetNotFoundError(
                f"could not download MNIST into {root} ({reason}); "
                f"copy the four MNIST files into {root / 'MNIST' / 'raw'} instead"
            ) from err
        raise DatasetNotFoundError(
            f"MNIST not found under {root} (expected {root / 'MNIST' / 'raw'}); "
            "pass download=True to fetch it"
        ) from err
    images = dataset.data.unsqueeze(1).float().div_(255.0)
    images = images.sub_(MNIST_MEAN).div_(MNIST_STD)
    result = MNISTTensors(images, dataset.targets.long()).take(limit)
    return result.to(device)


@dataclass(frozen=True)
class Augment:
    """Random per-image affine augmentation, applied to a whole batch at once.

    Attributes:
        rotation: Largest rotation in degrees; angles are uniform in [−r, +r].
        translate: Largest shift as a fraction of the image side, per axis.
        scale: ``(low, high)`` range of a uniform zoom factor, or None.
        interpolation: ``"nearest"`` (torchvision's default) or ``"bilinear"``.
        fill: Pixel value in [0, 1] (before normalization) for areas rotated in;
            the notebooks use 1/255.
    """

    rotation: float = 0.0
    translate: float = 0.0
    scale: tuple[float, float] | None = None
    interpolation: str = "nearest"
    fill: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        number = _checks._is_number
        if not (number(self.rotation) and 0 <= self.rotation <= 180):
            raise MnistliteError(f"rotation must lie in [0, 180] degrees, got {self.rotation!r}")
        if not (number(self.translate) and 0 <= self.translate < 1):
            raise MnistliteError(f"translate must lie in [0, 1), got {self.translate!r}")
        scale = self.scale
        if scale is not None and not (
            isinstance(scale, tuple)
            and len(scale) == 2
            and all(map(number, scale))
            and 0 < scale[0] <= scale[1] < math.inf
        ):
            raise MnistliteError(
                f"scale must be (low, high) with 0 < low <= high, got {self.scale}"
            )
        if self.interpolation not in ("nearest", "bilinear"):
            raise MnistliteError(
                f"interpolation must be 'nearest' or 'bilinear', got {self.interpolation!r}"
            )

    @property
    def active(self) -> bool:
        """Whether this augmentation changes anything."""
        return bool(self.rotation or self.translate or self.scale)


def draw_affine(n: int, augment: Augment, generator: torch.Generator) -> torch.Tensor:
    """Draw ``n`` random affine transforms as ``affine_grid``'s ``theta`` (n, 2, 3).

    The draws come from ``generator`` (on the CPU, in float64, so runs are
    reproducible on any device): the angles, then the zooms (when ``augment.scale`` is
    set), then the horizontal and vertical shifts, ``n`` of each.

    Args:
        n: How many transforms.
        augment: The transform ranges.
        generator: Source of randomness.
    """
    uniform = lambda: torch.rand(n, generator=generator, dtype=torch.float64)  # noqa: E731
    angle = (uniform() * 2 - 1) * math.radians(augment.rotation)
    zoom = torch.ones(n, dtype=torch.float64)
    if augment.scale is not None:
        low, high = augment.scale
        zoom = low + uniform() * (high - low)
    shift_x = (uniform() * 2 - 1) * augment.translate * 2  # grid coordinates span 2
    shift_y = (uniform() * 2 - 1) * augment.translate * 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output coordinates to input coordinates: the inverse transform.
    return torch.stack(
        [torch.stack([cos, -sin, -shift_x], 1), torch.stack([sin, cos, -shift_y], 1)], 1
    )


def apply_affine(images: torch.Tensor, theta: torch.Tensor, augment: Augment) -> torch.Tensor:
    """Warp every image of a normalized batch by its own transform ``theta[i]``.

    Areas moved in from outside get ``augment.fill`` (before normalization).

    Args:
        images: Normalized images (N, 1, 28, 28).
        theta: Transforms (N, 2, 3) from :func:`draw_affine`, on any device.
        augment: Gives the interpolation and the fill value.
    """
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    fill = (augment.fill - MNIST_MEAN) / MNIST_STD
    moved = F.grid_sample(
        images - fill, grid, mode=augment.interpolation, padding_mode="zeros", align_corners=False
    )
    return moved + fill


def augment_batch(
    images: torch.Tensor, augment: Augment, generator: torch.Generator
) -> torch.Tensor:
    """Apply a different random affine transform to every image of a normalized batch.

    Rotation is counter-clockwise for positive angles about the image centre, as in
    torchvision; areas moved in from outside get ``augment.fill`` (before
    normalization). The same as :func:`draw_affine` followed by :func:`apply_affine`.

    Args:
        images: Normalized images (N, 1, 28, 28).
        augment: The transform ranges.
        generator: Source of randomness (on the CPU, so runs are reproducible).
    """
    return apply_affine(images, draw_affine(images.shape[0], augment, generator), augment)


class Batches:
    """Shuffled, optionally augmented mini-batches over :class:`MNISTTensors`.

    Iterating yields ``(images, labels)`` on the data's device. Shuffling and
    augmentation draw from the object's own seeded :class:`torch.Generator`, whose
    state is saved and restored with :meth:`state_dict` so a resumed run sees the
    same batches as an uninterrupted one.

    Args:
        data: The tensors to serve.
        batch_size: Images per batch (>= 1).
        shuffle: Draw a new permutation every epoch.
        augment: Per-image augmentation, or None.
        seed: Seed of the generator.
        drop_last: Drop a final batch smaller than ``batch_size``.
    """

    def __init__(
        self,
        data: MNISTTensors,
        batch_size: int = 128,
        *,
        shuffle: bool = True,
        augment: Augment | None = None,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not isinstance(data, MNISTTensors):
            raise TypeError(f"expected MNISTTensors, got {type(data).__name__}")
        _checks.positive_int("batch_size", batch_size)
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment if augment is not None and augment.active else None
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def plan_epoch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw one epoch's image order and augmentation, both on the data's device.

        Returns:
            ``(order, theta)``: the permutation (n,) (or ``arange`` without shuffling) and
            the transform of each position of that order (n, 2, 3), or None without
            augmentation. Drawn at once at the epoch's start, so serving a batch needs
            no host work but indexing.
        """
        n = len(self.data)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        theta = None
        if self.augment is not None:
            theta = draw_affine(n, self.augment, self.generator).float()
        device = self.data.device
        if device.type == "cuda":  # one pinned copy per epoch, no host sync per batch
            order = order.pin_memory().to(device, non_blocking=True)
            if theta is not None:
                theta = theta.pin_memory().to(device, non_blocking=True)
        else:
            order = order.to(device)
            theta = theta.to(device) if theta is not None else None
        return order, theta

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order, theta = self.plan_epoch()
        for i in range(len(self)):
            part = slice(i * self.batch_size, (i + 1) * self.batch_size)
            index = order[part]
            images = self.data.images[index]
            if theta is not None and self.augment is not None:
                images = apply_affine(images, theta[part], self.augment)
            yield images, self.data.labels[index]

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator's state from :meth:`state_dict`."""
        self.generator.set_state(state["generator"])


class StackedBatches:
    """Batches for a stacked model: member ``s`` gets exactly the batches of ``members[s]``.

    Iterating yields ``(images, labels)`` of shapes ``(S, B, 1, 28, 28)`` and ``(S, B)``:
    each member's own image order and augmentation, drawn from its own generator as
    :class:`Batches` draws them, so a member of a multi-seed run sees the images of a
    single run with its seed, in the same order. Where the members share one dataset
    (the same :class:`MNISTTensors` object), a batch is gathered and warped for all
    members at once.

    Args:
        members: One :class:`Batches` per member, with equal lengths and batch sizes.

    Raises:
        MnistliteError: If there are none, or their lengths or batch sizes differ.
    """

    def __init__(self, members: list[Batches]) -> None:
        if not members:
            raise MnistliteError("StackedBatches needs at least one Batches")
        first = members[0]
        for other in members[1:]:
            if (len(other), other.batch_size, len(other.data)) != (
                len(first),
                first.batch_size,
                len(first.data),
            ):
                raise MnistliteError(
                    "the members' batches must have equal lengths, batch sizes and image counts"
                )
            if (other.augment is None) != (first.augment is None):
                raise MnistliteError("either every member's batches are augmented or none are")
        self.members = members
        self.batch_size = first.batch_size
        self.shared = all(m.data is first.data for m in members)

    def __len__(self) -> int:
        return len(self.members[0])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        plans = [member.plan_epoch() for member in self.members]
        order = torch.stack([plan[0] for plan in plans])
        augment = self.members[0].augment
        theta = torch.stack([p[1] for p in plans]) if augment is not None else None  # type: ignore[misc]
        size = len(self.members)
        for i in range(len(self)):
            part = slice(i * self.batch_size, (i + 1) * self.batch_size)
            index = order[:, part]
            if self.shared:
                data = self.members[0].data
                images, labels = data.images[index], data.labels[index]
            else:
                images = torch.stack([m.data.images[index[s]] for s, m in enumerate(self.members)])
                labels = torch.stack([m.data.labels[index[s]] for s, m in enumerate(self.members)])
            if theta is not None and augment is not None:
                flat = apply_affine(images.flatten(0, 1), theta[:, part].flatten(0, 1), augment)
                images = flat.view(size, -1, *flat.shape[1:])
            yield images, labels

    def state_dict(self) -> dict[str, Any]:
        """Every member's generator state, for checkpoints."""
        return {"members": [member.state_dict() for member in self.members]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        saved = state["members"]
        if len(saved) != len(self.members):
            raise MnistliteError(
                f"the saved batches have {len(saved)} members, these have {len(self.members)}"
            )
        for member, member_state in zip(self.members, saved, strict=True):
            member.load_state_dict(member_state)
