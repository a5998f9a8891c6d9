"""Tests of mnistlite.preprocess.Normalize."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from mnistlite import models
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD, Normalize


@pytest.fixture
def normalize() -> Normalize:
    return Normalize()


def expected(pixels01: torch.Tensor) -> torch.Tensor:
    return (pixels01 - MNIST_MEAN) / MNIST_STD


def test_constants():
    assert (MNIST_MEAN, MNIST_STD) == (0.1307, 0.3081)
    assert repr(Normalize()) == "Normalize(mean=0.1307, std=0.3081)"


def test_uint8_28x28(normalize):
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    out = normalize(image)
    assert out.shape == (1, 28, 28)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected(image.float().unsqueeze(0) / 255))


def test_uint8_extremes(normalize):
    black = normalize(torch.zeros(28, 28, dtype=torch.uint8))
    white = normalize(torch.full((28, 28), 255, dtype=torch.uint8))
    torch.testing.assert_close(black, torch.full((1, 28, 28), -MNIST_MEAN / MNIST_STD))
    torch.testing.assert_close(white, torch.full((1, 28, 28), (1 - MNIST_MEAN) / MNIST_STD))


def test_float_1x28x28(normalize):
    image = torch.rand(1, 28, 28)
    out = normalize(image)
    assert out.shape == (1, 28, 28)
    torch.testing.assert_close(out, expected(image))


def test_float64_becomes_float32(normalize):
    out = normalize(torch.rand(28, 28, dtype=torch.float64))
    assert out.dtype == torch.float32
    assert out.shape == (1, 28, 28)


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_batch(normalize, dtype):
    batch = torch.randint(0, 256, (5, 1, 28, 28)).to(dtype)
    out = normalize(batch)
    assert out.shape == (5, 1, 28, 28)
    scale = 255 if dtype == torch.uint8 else 1
    torch.testing.assert_close(out, expected(batch.float() / scale))


def test_pil_image(normalize):
    array = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    image = Image.frombytes("L", (28, 28), array.numpy().tobytes())
    out = normalize(image)
    assert out.shape == (1, 28, 28)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, normalize(array))


def test_custom_mean_and_std():
    out = Normalize(mean=0.5, std=0.5)(torch.ones(1, 28, 28))
    torch.testing.assert_close(out, torch.ones(1, 28, 28))


def test_output_feeds_a_model(normalize):
    batch = normalize(torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8))
    with torch.no_grad():
        assert models.step7().eval()(batch).shape == (3, 10)


@pytest.mark.parametrize(
    "shape",
    [(3, 28, 28), (28, 27), (14, 14), (2, 3, 28, 28), (1, 1, 1, 28, 28), (784,), (28, 28, 1)],
)
def test_bad_shape_raises_value_error(normalize, shape):
    with pytest.raises(ValueError, match="28x28") as info:
        normalize(torch.rand(shape))
    assert str(shape) in str(info.value)


def test_integer_dtype_other_than_uint8_raises(normalize):
    with pytest.raises(ValueError, match="torch.int64"):
        normalize(torch.zeros(28, 28, dtype=torch.int64))


@pytest.mark.parametrize("value", ["digit.png", 3, None])
def test_non_image_raises_type_error(normalize, value):
    with pytest.raises(TypeError, match="PIL image or a torch.Tensor"):
        normalize(value)
