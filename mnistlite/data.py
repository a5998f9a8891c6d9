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

from mnistlite.preprocess import MNIST_MEAN, MNIST_STD

__all__ = [
    "Augment",
    "Batches",
    "DatasetNotFoundError",
    "MNISTTensors",
    "augment_batch",
    "load_mnist",
]


class DatasetNotFoundError(FileNotFoundError):
    """MNIST is not under the given root and ``download`` was False."""


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
            raise ValueError(f"images must be (N, 1, 28, 28), got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be ({self.images.shape[0]},) to match the images, "
                f"got {tuple(self.labels.shape)}"
            )
        if not self.images.is_floating_point():
            raise ValueError(f"images must be floating point, got {self.images.dtype}")
        if self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be torch.int64 digits, got {self.labels.dtype}")
        if self.labels.numel() and not 0 <= int(self.labels.min()) <= int(self.labels.max()) <= 9:
            raise ValueError("labels must be digits in 0-9")

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
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of samples must be a positive integer, got {n!r}")
        return MNISTTensors(self.images[:n], self.labels[:n])

    def split(self, n_holdout: int, seed: int = 0) -> tuple[MNISTTensors, MNISTTensors]:
        """Split off a random hold-out set of ``n_holdout`` samples (a validation split).

        Returns:
            ``(rest, holdout)``.
        """
        if not 0 < n_holdout < len(self):
            raise ValueError(f"n_holdout must lie in [1, {len(self) - 1}], got {n_holdout}")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        order = order.to(self.device)
        rest, hold = order[n_holdout:], order[:n_holdout]
        return (
            MNISTTensors(self.images[rest], self.labels[rest]),
            MNISTTensors(self.images[hold], self.labels[hold]),
        )


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
            "pass download=True (on the command line: --download) to fetch it"
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
            the seed uses 1/255.
    """

    rotation: float = 0.0
    translate: float = 0.0
    scale: tuple[float, float] | None = None
    interpolation: str = "nearest"
    fill: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"rotation must lie in [0, 180] degrees, got {self.rotation}")
        if not 0 <= self.translate < 1:
            raise ValueError(f"translate must lie in [0, 1), got {self.translate}")
        if self.scale is not None and not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {self.scale}")
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"interpolation must be 'nearest' or 'bilinear', got {self.interpolation!r}"
            )

    @property
    def active(self) -> bool:
        """Whether this augmentation changes anything."""
        return bool(self.rotation or self.translate or self.scale)


def augment_batch(
    images: torch.Tensor, augment: Augment, generator: torch.Generator
) -> torch.Tensor:
    """Apply a different random affine transform to every image of a normalized batch.

    Rotation is counter-clockwise for positive angles about the image centre, as in
    torchvision; areas moved in from outside get ``augment.fill`` (before
    normalization).

    Args:
        images: Normalized images (N, 1, 28, 28).
        augment: The transform ranges.
        generator: Source of randomness (on the CPU, so runs are reproducible).
    """
    n = images.shape[0]
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
    theta = torch.stack(
        [torch.stack([cos, -sin, -shift_x], 1), torch.stack([sin, cos, -shift_y], 1)], 1
    )
    theta = theta.to(images.dtype)
    if images.device.type == "cuda":  # pinned + non_blocking: no host sync per batch
        theta = theta.pin_memory().to(images.device, non_blocking=True)
    else:
        theta = theta.to(images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    fill = (augment.fill - MNIST_MEAN) / MNIST_STD
    moved = F.grid_sample(
        images - fill, grid, mode=augment.interpolation, padding_mode="zeros", align_corners=False
    )
    return moved + fill


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
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment if augment is not None and augment.active else None
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.data)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.data.device)
        else:
            order = torch.arange(n, device=self.data.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            images = self.data.images[index]
            if self.augment is not None:
                images = augment_batch(images, self.augment, self.generator)
            yield images, self.data.labels[index]

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator's state from :meth:`state_dict`."""
        self.generator.set_state(state["generator"])
