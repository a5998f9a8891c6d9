"""Properties of :func:`mnistlite.preprocess.load_digit` on generated and corrupted pictures.

Whatever a person sends (any size, mode, bit depth and format; a truncated file; flipped
bytes; random bytes after a valid header), ``load_digit`` either returns a (1, 28, 28)
float32 tensor whose values lie in the normalized range, or raises
:class:`~mnistlite.errors.DigitImageError`; never any other exception. Each defect the
generated input found is pinned below with ``@example``.

The number of examples comes from the hypothesis profile (tests/conftest.py): modest by
default, larger with ``HYPOTHESIS_PROFILE=slow``.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image, features

from mnistlite.errors import DigitImageError, PictureTooLargeError
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD, load_digit, open_picture

LOW, HIGH = (0 - MNIST_MEAN) / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"]
#: The modes each format can store (Pillow converts nothing on save).
FORMAT_MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "GIF": ["1", "L", "P"],
    "BMP": ["1", "L", "P", "RGB", "RGBA"],
}
if features.check("webp"):
    FORMAT_MODES["WEBP"] = ["RGB", "RGBA"]
FORMATS = sorted(FORMAT_MODES)


def check_digit(tensor: torch.Tensor) -> None:
    """The contract of a returned digit."""
    assert tensor.shape == (1, 28, 28) and tensor.dtype == torch.float32
    assert torch.isfinite(tensor).all()
    assert tensor.min() >= LOW - 1e-5 and tensor.max() <= HIGH + 1e-5


def load_or_refuse(source: object) -> torch.Tensor | None:
    """``load_digit(source)`` under warnings-as-errors; None when refused as it should be."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Pillow warning must not reach the caller either
        try:
            tensor = load_digit(source)
        except DigitImageError:
            return None
    check_digit(tensor)
    return tensor


@st.composite
def pictures(draw, modes: list[str] = MODES) -> Image.Image:
    """A picture of any mode and size: paper, maybe a stroke of ink, maybe noise."""
    mode = draw(st.sampled_from(modes))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    paper = draw(st.integers(0, 255))
    grey = np.full((height, width), paper, dtype=np.uint8)
    kind = draw(st.sampled_from(["blank", "stroke", "noise"]))
    if kind == "stroke":
        top, left = rng.integers(0, height), rng.integers(0, width)
        grey[top : top + max(1, height // 2), left : left + max(1, width // 4)] = 255 - paper
    elif kind == "noise":
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
    picture = Image.fromarray(grey)
    if mode == "I;16":
        wide = grey.astype(np.uint16) * draw(st.sampled_from([1, 257]))  # 8 or 16 bits used
        return Image.fromarray(wide.astype("<u2"))  # mode I;16
    if mode == "LA":
        alpha = rng.integers(0, 256, (height, width), dtype=np.uint8)
        return Image.merge("LA", (picture, Image.fromarray(alpha)))
    if mode == "RGBA":
        alpha = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8))
        return Image.merge("RGBA", (*picture.convert("RGB").split(), alpha))
    return picture.convert(mode)


@st.composite
def encoded(draw) -> bytes:
    """A valid file: a generated picture saved as PNG, JPEG, GIF, BMP or WebP."""
    fmt = draw(st.sampled_from(FORMATS))
    picture = draw(pictures(FORMAT_MODES[fmt]))
    options: dict[str, object] = {}
    if fmt == "PNG" and picture.mode == "P":
        options["bits"] = draw(st.sampled_from([1, 2, 4, 8]))  # palette bit depths
    if fmt == "JPEG":
        options["quality"] = draw(st.integers(1, 95))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@st.composite
def corrupted(draw) -> bytes:
    """A valid file truncated, with bytes flipped, a header size made huge, or random
    bytes after its header."""
    data = bytearray(draw(encoded()))
    how = draw(st.sampled_from(["truncate", "flip", "tail", "widen"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    if how == "widen":  # a large number where a header keeps its sizes
        at = draw(st.integers(0, min(len(data), 48) - 1))
        big = draw(st.sampled_from([b"\xff\xff\xf0\xfe", b"\x00\x00\xff\xff", b"\x7f\xff\xff\xff"]))
        data[at : at + 4] = big
        return bytes(data)
    keep = draw(st.integers(1, min(len(data), 64)))
    return bytes(data[:keep]) + draw(st.binary(min_size=0, max_size=256))


def bomb_gif() -> bytes:
    """A 40x40 GIF whose frame descriptor announces 65535x65200 pixels (4.27 billion).

    Pillow grows the picture to the frame while reading the header and stops with its
    ``DecompressionBombError`` there: this escaped ``load_digit`` as a traceback.
    """
    buffer = io.BytesIO()
    Image.new("L", (40, 40), 255).save(buffer, format="GIF")
    data = bytearray(buffer.getvalue())
    frame = data.index(b",")  # the image descriptor
    data[frame + 5 : frame + 9] = struct.pack("<HH", 65535, 65200)
    return bytes(data)


@given(pictures())
@example(Image.new("I;16", (1, 1)))
@example(Image.new("CMYK", (2, 2), (0, 0, 0, 255)))
def test_any_picture_object_is_a_digit_or_a_picture_error(picture) -> None:
    load_or_refuse(picture)


@given(encoded())
def test_any_valid_file_is_a_digit_or_a_picture_error(data) -> None:
    load_or_refuse(data)


@given(corrupted())
@example(bomb_gif())
def test_a_corrupted_file_is_a_digit_or_a_picture_error(data) -> None:
    load_or_refuse(data)


@given(st.binary(max_size=512))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
def test_random_bytes_are_a_digit_or_a_picture_error(data) -> None:
    load_or_refuse(data)


@given(corrupted())
@example(bomb_gif())
def test_open_picture_with_the_servers_limits_keeps_the_contract(data) -> None:
    """What the server calls: PNG and JPEG only, 4096 pixels a side."""
    try:
        picture = open_picture(data, max_side=4096, formats=("PNG", "JPEG"))
    except DigitImageError:
        return
    assert isinstance(picture, Image.Image)
    load_or_refuse(picture)


def test_the_bomb_gif_is_refused_as_too_large() -> None:
    with pytest.raises(PictureTooLargeError, match="upload: .*4,272,882,000"):
        load_digit(bomb_gif(), name="upload")


@given(st.integers(8, 120), st.integers(8, 120), st.sampled_from(FORMATS), st.data())
def test_a_clear_stroke_is_always_found(width, height, fmt, data) -> None:
    """Not only refusals: a dark bar on light paper, in any format, becomes a digit."""
    paper = np.full((height, width), 240, dtype=np.uint8)
    top = data.draw(st.integers(0, height // 2))
    left = data.draw(st.integers(0, width - 4))
    paper[top : top + height // 2, left : left + 4] = 10
    mode = data.draw(st.sampled_from([m for m in FORMAT_MODES[fmt] if m in ("L", "RGB")]))
    buffer = io.BytesIO()
    Image.fromarray(paper).convert(mode).save(buffer, format=fmt)
    digit = load_or_refuse(buffer.getvalue())
    assert digit is not None
    assert (digit > 0).sum() >= 8  # the ink is there


@st.composite
def arrays(draw) -> np.ndarray:
    """Arrays as a program would pass them: any shape of 2 or 3 axes, dtype and values."""
    import hypothesis.extra.numpy as hnp

    dtype = draw(st.sampled_from([np.uint8, np.float32, np.float64, np.bool_, np.int16]))
    channels = draw(st.sampled_from([(), (1,), (3,), (4,), (2,)]))
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 40)), *channels)
    if draw(st.booleans()) and channels:
        shape = (shape[2], shape[0], shape[1])  # channels first
    if np.issubdtype(dtype, np.floating):
        odd = st.sampled_from([float("nan"), float("inf"), -float("inf")])
        elements = st.one_of(st.floats(-0.5, 1.5, width=32), st.floats(0, 1, width=32), odd)
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


@given(arrays())
@example(np.array([[np.nan, 0.5], [0.0, 1.0]]))  # NaN passed the range check: a warning
def test_any_array_is_a_digit_or_a_picture_error(array) -> None:
    load_or_refuse(array)
    load_or_refuse(torch.from_numpy(array.copy()))
