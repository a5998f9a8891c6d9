"""Oversized pictures are refused from their header, before a pixel is decoded."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlite.preprocess import (
    MAX_PIXELS,
    DigitImageError,
    PictureTooLargeError,
    load_digit,
    open_picture,
)


def huge_png(path: Path, width: int, height: int) -> Path:
    """A valid black-and-white PNG of width x height, compressed to a few kilobytes.

    Written row by row, so making it never holds the pixels in memory.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + 1 bit a pixel
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    return {side: huge_png(folder / f"{side}.png", side, side) for side in (12_000, 20_000)}


@pytest.mark.parametrize("side", [12_000, 20_000])
def test_load_digit_refuses_a_huge_picture_quickly_and_quietly(bombs, side) -> None:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would fail here
        with pytest.raises(PictureTooLargeError) as caught:
            load_digit(bombs[side])
    assert time.perf_counter() - start < 1.0
    message = str(caught.value)
    assert str(bombs[side]) in message and f"{side}x{side}" in message
    assert f"{MAX_PIXELS:,}" in message
    assert isinstance(caught.value, DigitImageError)


def test_the_bytes_of_a_huge_picture_are_refused_too(bombs) -> None:
    with pytest.raises(PictureTooLargeError, match="upload: a picture of 20000x20000"):
        load_digit(bombs[20_000].read_bytes(), name="upload")


def test_predict_command_exits_2_naming_the_size(bombs) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mnistlite", "predict", "step7", str(bombs[20_000])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "DecompressionBomb" not in done.stderr
    assert "20000x20000" in done.stderr and str(bombs[20_000]) in done.stderr


def test_side_limit_and_formats_are_checked_before_decoding(tmp_path) -> None:
    wide = huge_png(tmp_path / "wide.png", 4_097, 8)
    with pytest.raises(PictureTooLargeError, match="4097x8 .* 4,096 pixels a side"):
        open_picture(wide, max_side=4_096)
    assert open_picture(wide, max_side=4_097).size == (4_097, 8)
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, format="GIF")
    with pytest.raises(DigitImageError, match="a GIF picture; expected PNG or JPEG"):
        open_picture(gif.getvalue(), formats=("PNG", "JPEG"))


def test_a_picture_within_the_limit_reads_as_before(tmp_path) -> None:
    paper = np.full((300, 200), 255, dtype=np.uint8)
    paper[60:240, 95:105] = 0
    path = tmp_path / "one.png"
    Image.fromarray(paper).save(path)
    from_file, from_bytes, from_array = (
        load_digit(path),
        load_digit(path.read_bytes()),
        load_digit(paper),
    )
    assert (from_file == from_array).all() and (from_bytes == from_array).all()


@pytest.mark.parametrize(
    "data, problem",
    [(b"", "an empty file"), (b"hello, world", "not an image"), ("truncated", "truncated")],
)
def test_unreadable_bytes_name_the_problem(tmp_path, data, problem) -> None:
    if data == "truncated":
        buffer = io.BytesIO()
        noise = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
        Image.fromarray(noise).save(buffer, format="PNG")
        data = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    with pytest.raises(DigitImageError, match=problem):
        load_digit(data, name="upload")
