"""MNIST preprocessing: the normalization pretrained weights expect, and a person's picture.

Both :mod:`mnistlite.data` and :mod:`mnistlite.models` use the constants, so they live
here, in a module that imports nothing else of the package.

:func:`load_digit` turns a picture of a handwritten digit (any size, grey or colour, dark
ink on light paper or light on dark, the digit anywhere) into the normalized 28×28 input
a model takes, preprocessing it the way MNIST itself was made.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from mnistlite.errors import DigitImageError, MnistliteError, PictureTooLargeError

__all__ = [
    "MAX_PIXELS",
    "MNIST_MEAN",
    "MNIST_STD",
    "DigitImageError",
    "Normalize",
    "PictureTooLargeError",
    "load_digit",
    "open_picture",
]

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


#: The most pixels :func:`load_digit` and :func:`open_picture` accept, checked on the
#: file's header before any pixel is decoded: 50 megapixels, more than a phone camera's
#: full-resolution photo (12 to 48). Decoding a larger picture would take gigabytes of
#: memory, for a digit that ends up 28x28.
MAX_PIXELS = 50_000_000


#: Side of the box the digit's larger side is scaled to, as in MNIST.
DIGIT_BOX = 20
#: Where MNIST puts the ink's centre of mass (row, column), measured on the 60,000
#: training images: 14.00 and 14.01 (pixel-index coordinates, 0-27).
CENTER_OF_MASS = (14.0, 14.0)
#: Contrast (0-1) that ink must have over the paper; below it the picture is blank.
MIN_CONTRAST = 0.2
#: Ink level (0-1 between paper and the darkest ink) below which a pixel is paper:
#: JPEG ringing and mild sensor noise stay under it.
NOISE_FLOOR = 0.25


def _header(handle: IO[bytes], name: str, max_pixels: int) -> tuple[str, tuple[int, int]] | None:
    """The format and (width, height) a picture's header announces; no pixel is decoded.

    Asks Pillow's format plugins in turn, as :func:`PIL.Image.open` does, but without its
    decompression-bomb check, which warns or raises before the caller could check the size
    against its own limit. None if no plugin recognises the header.

    Raises:
        PictureTooLargeError: If Pillow itself stops reading the header because it
            announces more pixels than Pillow decodes (a GIF frame can grow the picture
            while its header is read).
    """
    from PIL import Image

    Image.init()
    prefix = handle.read(16)
    try:
        for fmt in list(Image.ID):
            factory, accept = Image.OPEN[fmt]
            handle.seek(0)
            try:
                verdict = accept(prefix) if accept else True
                if not verdict or isinstance(verdict, str):
                    continue
                picture = factory(handle, "")
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise _too_large(name, fmt, err, max_pixels) from None
            except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error):
                continue
            return fmt, picture.size
        return None
    finally:
        handle.seek(0)


def _too_large(name: str, fmt: str, err: Exception, max_pixels: int) -> PictureTooLargeError:
    """The error for a header that Pillow refused as a decompression bomb."""
    import re

    count = re.search(r"\((\d+) pixels\)", str(err))
    announced = f"{int(count.group(1)):,} pixels" if count else "more pixels than Pillow decodes"
    return PictureTooLargeError(
        f"{name}: a {fmt} picture whose header announces {announced}, over the limit of "
        f"{max_pixels:,} pixels; scale it down first"
    )


def _check_header(
    name: str,
    fmt: str,
    width: int,
    height: int,
    max_pixels: int,
    max_side: int | None,
    formats: tuple[str, ...] | None,
) -> None:
    """Refuse a picture by what its header says: its format, its sides, its pixels."""
    if formats is not None and fmt not in formats:
        raise DigitImageError(f"{name}: a {fmt} picture; expected {' or '.join(formats)}")
    if max_side is not None and max(width, height) > max_side:
        raise PictureTooLargeError(
            f"{name}: a picture of {width}x{height} pixels is larger than the limit of "
            f"{max_side:,} pixels a side; scale it down first"
        )
    if width * height > max_pixels:
        raise PictureTooLargeError(
            f"{name}: a picture of {width}x{height} pixels ({width * height:,}) is larger "
            f"than the limit of {max_pixels:,} pixels; scale it down first"
        )


def open_picture(
    source: str | Path | bytes | IO[bytes],
    *,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
    formats: tuple[str, ...] | None = None,
) -> Any:
    """Read a picture file after checking the size its header announces.

    The width and height are read from the header, and a picture over the limits is
    refused before any pixel is decoded (Pillow would otherwise decode it, taking
    gigabytes of memory, or stop with its ``DecompressionBombError``).

    Args:
        source: A file path, the file's bytes, or a binary file object.
        name: How error messages call the picture (default: its path, or ``"image"``).
        max_pixels: The most pixels (width x height) accepted; default :data:`MAX_PIXELS`.
        max_side: The longest width or height accepted (default: no limit of its own).
        formats: Pillow format names accepted, e.g. ``("PNG", "JPEG")`` (default: any
            format Pillow reads).

    Returns:
        The decoded picture, a fully loaded ``PIL.Image.Image``.

    Raises:
        PictureTooLargeError: If the header announces more than ``max_pixels`` pixels
            or a side longer than ``max_side``; the message names the picture and its size.
        DigitImageError: If the file is missing, is not a picture (or not one of
            ``formats``), or is truncated or corrupt.
    """
    from PIL import Image, UnidentifiedImageError

    if name is None:
        name = str(source) if isinstance(source, (str, Path)) else "image"
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise DigitImageError(f"{name}: no such file")
        with open(source, "rb") as handle:
            return open_picture(
                handle, name=name, max_pixels=max_pixels, max_side=max_side, formats=formats
            )
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    header = _header(source, name, max_pixels)
    if header is None and not source.read(1):
        raise DigitImageError(f"{name}: cannot read it as a picture (an empty file)")
    if header is None:
        raise DigitImageError(f"{name}: cannot read it as a picture (not an image PIL can read)")
    fmt, (width, height) = header
    _check_header(name, fmt, width, height, max_pixels, max_side, formats)
    try:
        with Image.open(source, formats=[fmt]) as opened:
            opened.load()
            return opened.copy()
    except Image.DecompressionBombError as err:  # Image.MAX_IMAGE_PIXELS set below ours
        raise PictureTooLargeError(f"{name}: {width}x{height} pixels: {err}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        detail = "not an image PIL can read" if isinstance(err, UnidentifiedImageError) else err
        raise DigitImageError(f"{name}: cannot read it as a picture ({detail})") from None


def _read(image: Any, name: str) -> np.ndarray:
    """Any accepted picture -> float64 grey array in [0, 1], white paper composited."""
    from PIL import Image

    if isinstance(image, (str, Path, bytes, bytearray, memoryview)):
        image = open_picture(image, name=name)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
            array = np.moveaxis(array, 0, -1)  # channels first -> last
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
            raise DigitImageError(
                f"{name}: expected an array (H, W), (H, W, 3) or (H, W, 4), got {array.shape}"
            )
        if array.dtype == np.uint8:
            array = array.astype(np.float64) / 255.0
        elif np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_:
            array = array.astype(np.float64)
            if not np.isfinite(array).all():
                raise DigitImageError(f"{name}: float pixels must lie in [0, 1], got NaN or inf")
            if array.size and (array.min() < 0 or array.max() > 1):
                raise DigitImageError(
                    f"{name}: float pixels must lie in [0, 1], got [{array.min():g}, "
                    f"{array.max():g}]"
                )
        else:
            raise DigitImageError(f"{name}: expected uint8 or float pixels, got {array.dtype}")
        if array.ndim == 3:
            rgb, alpha = array[..., :3], array[..., 3] if array.shape[-1] == 4 else None
            grey = rgb @ np.array([0.299, 0.587, 0.114])
            return grey if alpha is None else grey * alpha + (1.0 - alpha)
        return array
    if not isinstance(image, Image.Image):
        raise DigitImageError(
            f"{name}: expected a file path, a PIL image or an array, got {type(image).__name__}"
        )
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _shrink(grey: np.ndarray, largest: int = 1024) -> np.ndarray:
    """Box-downscale a big photo so its larger side is at most ``largest`` pixels."""
    from PIL import Image

    h, w = grey.shape
    if max(h, w) <= largest:
        return grey
    factor = largest / max(h, w)
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    picture = Image.fromarray(grey.astype(np.float32))
    return np.asarray(picture.resize(size, Image.Resampling.BOX), dtype=np.float64)


def _ink(grey: np.ndarray, name: str) -> np.ndarray:
    """Grey picture -> ink in [0, 1] (0 = paper), polarity detected from the border."""
    if min(grey.shape) < 2:
        raise DigitImageError(f"{name}: a picture of {grey.shape[1]}x{grey.shape[0]} pixels")
    edge = max(1, round(0.05 * min(grey.shape)))
    border = np.concatenate(
        [grey[:edge].ravel(), grey[-edge:].ravel(), grey[:, :edge].ravel(), grey[:, -edge:].ravel()]
    )
    paper = float(np.median(border))
    ink = paper - grey if paper > 0.5 else grey - paper  # dark on light, or light on dark
    # the strongest ink over 2x2 pixels: a stroke keeps its level, a lone hot pixel does not
    strongest = float((ink[:-1, :-1] + ink[1:, :-1] + ink[:-1, 1:] + ink[1:, 1:]).max() / 4)
    if strongest < MIN_CONTRAST:
        raise DigitImageError(
            f"{name}: no digit found (blank picture: no ink darker/lighter "
            f"than the paper by {MIN_CONTRAST:.0%})"
        )
    ink = np.clip(ink / strongest, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    return ink


def _bounding_box(ink: np.ndarray, name: str) -> tuple[int, int, int, int]:
    """Rows and columns of the ink, ignoring isolated specks; (top, bottom, left, right)."""
    mask = ink >= 0.5
    padded = np.pad(mask, 1)
    h, w = mask.shape
    neighbours = sum(
        padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )
    solid = mask & (neighbours >= 2)  # a stroke pixel has stroke neighbours; a speck has not
    if not solid.any():
        solid = mask
    if not solid.any():
        raise DigitImageError(f"{name}: no digit found (no ink)")
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale the cropped ink so its larger side is DIGIT_BOX, keeping the aspect ratio."""
    from PIL import Image

    h, w = crop.shape
    scale = DIGIT_BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    picture = Image.fromarray(crop.astype(np.float32))
    resized = np.asarray(picture.resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    resized = np.clip(resized, 0.0, None)
    peak = resized.max()
    return resized / peak if peak > 0 else resized


def _place(digit: np.ndarray) -> np.ndarray:
    """Put the digit into a 28x28 field with its centre of mass at CENTER_OF_MASS."""
    h, w = digit.shape
    mass = digit.sum()
    com_row = float((digit.sum(axis=1) * np.arange(h)).sum() / mass)
    com_col = float((digit.sum(axis=0) * np.arange(w)).sum() / mass)
    top = int(np.clip(round(CENTER_OF_MASS[0] - com_row), 0, 28 - h))
    left = int(np.clip(round(CENTER_OF_MASS[1] - com_col), 0, 28 - w))
    field = np.zeros((28, 28))
    field[top : top + h, left : left + w] = digit
    return field


def load_digit(image: Any, *, name: str | None = None) -> torch.Tensor:
    """Turn a picture of one handwritten digit into a model's input, as MNIST was made.

    A file is first checked against :data:`MAX_PIXELS` by its header, before any pixel is
    decoded (see :func:`open_picture`). The steps: convert to grey (transparent parts count
    as white paper); tell the paper from the ink by the picture's border (dark ink on light
    paper is inverted to MNIST's light ink on black); drop faint noise (JPEG artifacts,
    paper texture) below a quarter of the ink's strength; crop to the ink's bounding box,
    ignoring isolated specks; scale the crop so its larger side is 20 pixels, keeping the
    aspect ratio (Lanczos, antialiased); place it in a 28×28 field so its centre of mass
    lies where MNIST's does; normalize with the MNIST mean and standard deviation.

    Args:
        image: A file path or the file's bytes (PNG, JPEG, anything Pillow reads), a PIL
            image, or an array
            (NumPy or torch) shaped (H, W), (H, W, 3) or (H, W, 4), uint8 0-255 or float
            0-1.
        name: How error messages call the picture (default: its path, or ``"image"``).

    Returns:
        A float32 tensor (1, 28, 28), normalized like the training images.

    Raises:
        PictureTooLargeError: If the file's header announces more than :data:`MAX_PIXELS`
            pixels (a :class:`DigitImageError`).
        DigitImageError: If the file is missing or not a picture, the array has the
            wrong shape or dtype, or the picture is blank (no ink); the message names
            the picture.

    Example:
        >>> import numpy as np
        >>> paper = np.full((200, 120), 255, dtype=np.uint8)
        >>> paper[40:160, 55:65] = 0  # a dark "1" on white paper
        >>> load_digit(paper).shape
        torch.Size([1, 28, 28])
    """
    if name is None:
        name = str(image) if isinstance(image, (str, Path)) else "image"
    ink = _ink(_shrink(_read(image, name)), name)
    top, bottom, left, right = _bounding_box(ink, name)
    field = _place(_fit_box(ink[top:bottom, left:right]))
    x = torch.from_numpy(field).float().unsqueeze(0)
    return (x - MNIST_MEAN) / MNIST_STD
