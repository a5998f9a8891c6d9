"""MNIST preprocessing constants and the transform that pretrained weights expect.

Both :mod:`mnistlite.data` and :mod:`mnistlite.models` use these, so they live here,
in a module that imports nothing else of the package.
"""

from __future__ import annotations

from typing import Any

import torch

from mnistlite.errors import MnistliteError

__all__ = ["MNIST_MEAN", "MNIST_STD", "Normalize"]

#: Mean pixel value of the 60,000 MNIST training images, scaled to [0, 1].
MNIST_MEAN = 0.1307
#: Standard deviation of the same pixels.
MNIST_STD = 0.3081


class Normalize:
    """Turn MNIST digits into the normalized float tensors that every model takes.

    Accepts a PIL image, a uint8 tensor (values 0–255) or a float tensor (values in
    [0, 1]) of shape (28, 28), (1, 28, 28) or (N, 1, 28, 28); returns float32
    ``(x - mean) / std`` with a channel dimension, shape (1, 28, 28) or (N, 1, 28, 28).

    Args:
        mean: Pixel mean to subtract (default: the MNIST training mean).
        std: Pixel standard deviation to divide by.
    """

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        self.mean = mean
        self.std = std

    def __call__(self, image: Any) -> torch.Tensor:
        """Normalize one image or a batch; see the class docstring for accepted inputs."""
        if not isinstance(image, torch.Tensor):
            try:
                from torchvision.transforms.functional import pil_to_tensor

                image = pil_to_tensor(image)
            except TypeError as err:
                raise TypeError(
                    f"expected a PIL image or a torch.Tensor, got {type(image).__name__}"
                ) from err
        if image.dtype == torch.uint8:
            x = image.float() / 255.0
        elif image.is_floating_point():
            x = image.float()
        else:
            raise MnistliteError(f"expected uint8 (0-255) or float (0-1) pixels, got {image.dtype}")
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.shape[-2:] != (28, 28) or x.dim() not in (3, 4) or x.shape[-3] != 1:
            raise MnistliteError(
                f"expected a 28x28 digit shaped (28, 28), (1, 28, 28) or (N, 1, 28, 28), "
                f"got {tuple(image.shape)}"
            )
        return (x - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"
