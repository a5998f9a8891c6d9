"""load_digit and predict on real MNIST digits redrawn as a person's pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnistlite import models
from mnistlite.cli import main
from mnistlite.predict import Prediction, classify, predict
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD, DigitImageError, Normalize, load_digit

N_DIGITS = 100  # each saved as PNG and as JPEG: 200 pictures


def person_picture(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit as someone's photo: 3-6x larger, off centre, dark on light, noisy."""
    scale = int(rng.integers(3, 7))
    side = 28 * scale
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    height, width = (int(side * rng.uniform(1.3, 1.9)) for _ in range(2))
    canvas = np.zeros((height, width))
    top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    canvas[top : top + side, left : left + side] = big / 255.0
    paper, ink = rng.uniform(0.8, 0.97), rng.uniform(0.05, 0.25)
    picture = paper - (paper - ink) * canvas + rng.normal(0.0, 0.03, canvas.shape)
    return (np.clip(picture, 0.0, 1.0) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pictures(mnist_root: Path, tmp_path_factory) -> tuple[list[Path], torch.Tensor]:
    """N_DIGITS random MNIST test digits redrawn, each written as .png and as .jpg."""
    from torchvision.datasets import MNIST

    test = MNIST(str(mnist_root), train=False)
    rng = np.random.default_rng(2024)
    chosen = rng.choice(len(test), N_DIGITS, replace=False)
    folder = tmp_path_factory.mktemp("pictures")
    files, labels = [], []
    for n, index in enumerate(chosen):
        picture = Image.fromarray(person_picture(test.data[index].numpy(), rng))
        for suffix in ("png", "jpg"):
            path = folder / f"{n:03d}.{suffix}"
            picture.save(path, quality=85) if suffix == "jpg" else picture.save(path)
            files.append(path)
            labels.append(int(test.targets[index]))
    return files, torch.tensor(labels)


@pytest.fixture(scope="module")
def step7() -> torch.nn.Module:
    return models.step7(weights="DEFAULT").eval()


@pytest.fixture(scope="module")
def predictions(pictures, step7) -> list[Prediction]:
    return predict(step7, pictures[0])


def test_predict_gets_redrawn_digits_right(pictures, predictions) -> None:
    files, labels = pictures
    assert [p.file for p in predictions] == [str(f) for f in files]
    digits = torch.tensor([p.digit for p in predictions])
    for suffix in ("png", "jpg"):
        chosen = torch.tensor([f.suffix == f".{suffix}" for f in files])
        accuracy = 100.0 * float((digits[chosen] == labels[chosen]).float().mean())
        assert accuracy >= 98.0, f"{suffix}: {accuracy:.1f}% right"


def test_plain_resize_does_far_worse(pictures, predictions, step7) -> None:
    """Squeezing the whole picture to 28x28 (even inverted) is what preprocessing avoids."""
    files, labels = pictures
    plain = torch.stack(
        [
            Normalize()(
                torch.from_numpy(
                    255 - np.asarray(Image.open(f).convert("L").resize((28, 28), Image.BILINEAR))
                )
            )
            for f in files
        ]
    )
    with torch.inference_mode():
        plain_accuracy = 100.0 * float((step7(plain).argmax(1) == labels).float().mean())
    ours = torch.tensor([p.digit for p in predictions])
    our_accuracy = 100.0 * float((ours == labels).float().mean())
    assert plain_accuracy < 60.0
    assert our_accuracy - plain_accuracy > 40.0


def test_mnist_digit_is_nearly_unchanged(mnist_root: Path, step7) -> None:
    """A digit that already is MNIST-shaped comes out close to itself, and is classified."""
    from torchvision.datasets import MNIST

    test = MNIST(str(mnist_root), train=False)
    raw = test.data[:200]
    ours = torch.stack([load_digit(d.numpy()) for d in raw])
    reference = Normalize()(raw.unsqueeze(1))
    assert ours.shape == (200, 1, 28, 28) and ours.dtype == torch.float32
    with torch.inference_mode():
        agree = (step7(ours).argmax(1) == step7(reference).argmax(1)).float().mean()
    assert agree >= 0.98
    assert float(ours.min()) == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)
    assert float(ours.max()) == pytest.approx((1 - MNIST_MEAN) / MNIST_STD, abs=1e-5)


def _stroke(size: tuple[int, int] = (160, 240)) -> np.ndarray:
    picture = np.full(size, 0.9)
    picture[40:130, 100:112] = 0.1  # a dark vertical stroke
    picture[40:52, 80:112] = 0.1
    return picture


def test_polarity_colour_and_alpha_give_the_same_digit() -> None:
    dark_on_light = _stroke()
    expected = load_digit(dark_on_light)
    assert torch.allclose(load_digit(1.0 - dark_on_light), expected, atol=1e-5)
    rgb = (np.stack([dark_on_light] * 3, axis=-1) * 255).astype(np.uint8)
    assert torch.allclose(load_digit(rgb), expected, atol=0.05)
    assert torch.allclose(load_digit(Image.fromarray(rgb)), expected, atol=0.05)
    rgba = np.zeros((*dark_on_light.shape, 4), dtype=np.uint8)
    rgba[..., 3] = ((dark_on_light < 0.5) * 255).astype(np.uint8)  # black ink, transparent paper
    assert torch.allclose(load_digit(Image.fromarray(rgba)), expected, atol=0.05)


def test_digit_is_centred_by_mass_and_fits_20() -> None:
    left, right = _stroke(), np.fliplr(_stroke())
    for picture in (left, right, np.pad(left, ((300, 0), (0, 500)), constant_values=0.9)):
        x = load_digit(picture)[0] * MNIST_STD + MNIST_MEAN
        rows, cols = torch.nonzero(x > 0.05, as_tuple=True)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
        mass = x.sum()
        com = (
            (x.sum(1) * torch.arange(28)).sum() / mass,
            (x.sum(0) * torch.arange(28)).sum() / mass,
        )
        assert abs(float(com[0]) - 14) <= 0.6 and abs(float(com[1]) - 14) <= 0.6


def test_specks_do_not_move_the_crop() -> None:
    clean = _stroke()
    specked = clean.copy()
    specked[5, 5] = specked[150, 230] = specked[10, 200] = 0.0  # three isolated dark pixels
    assert torch.allclose(load_digit(specked), load_digit(clean), atol=0.05)


def test_bad_pictures_raise_naming_them(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(DigitImageError, match=r"notes\.png.*cannot read"):
        load_digit(text)
    with pytest.raises(DigitImageError, match=r"missing\.png: no such file"):
        load_digit(tmp_path / "missing.png")
    noisy_blank = np.clip(0.9 + np.random.default_rng(0).normal(0, 0.02, (64, 64)), 0, 1)
    with pytest.raises(DigitImageError, match="no digit found"):
        load_digit(noisy_blank, name="blank scan")
    with pytest.raises(DigitImageError, match=r"expected an array \(H, W\)"):
        load_digit(np.zeros((2, 3, 4, 5)))
    with pytest.raises(DigitImageError, match=r"float pixels must lie in \[0, 1\]"):
        load_digit(np.full((10, 10), 7.0))
    with pytest.raises(DigitImageError, match="expected a file path, a PIL image or an array"):
        load_digit(42)


def test_classify_top3(step7) -> None:
    out = classify(step7, torch.stack([load_digit(_stroke())] * 2), ["a", "b"])
    assert [p.file for p in out] == ["a", "b"]
    first = out[0]
    assert isinstance(first, Prediction) and first.top3[0] == (first.digit, first.probability)
    probabilities = [p for _, p in first.top3]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    assert set(first.to_dict()) == {"file", "digit", "probability", "top3"}
    with pytest.raises(ValueError, match="names for"):
        classify(step7, torch.zeros(2, 1, 28, 28), ["only one"])


def test_cli_predict_reports_good_files_and_fails_bad_ones(pictures, tmp_path, capsys) -> None:
    files, labels = pictures
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 40), 230).save(blank)
    good = [str(f) for f in files[:3]]
    argv = ["predict", "step7", good[0], str(bad), good[1], str(blank), str(tmp_path / "nope.png")]
    assert main(argv + [good[2], "--json"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert [row["file"] for row in document] == good
    assert [row["digit"] for row in document] == labels[:3].tolist()
    for row in document:
        assert len(row["top3"]) == 3 and row["top3"][0]["digit"] == row["digit"]
    for name in ("bad.jpg", "blank.png", "nope.png"):
        assert name in captured.err
    assert captured.err.count("\n") == 3 and "Traceback" not in captured.err

    assert main(["predict", "step7", *good]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == good
    assert [int(line.split(": ")[1].split()[0]) for line in lines] == labels[:3].tolist()


def test_a_lopsided_digit_is_placed_by_its_mass_not_its_box() -> None:
    """An L with a heavy foot: centring its box would put its mass 2+ pixels off MNIST's."""
    paper = np.ones((200, 200))
    paper[20:180, 40:48] = 0.0  # a thin upright stroke
    paper[165:180, 40:120] = 0.0  # a heavy foot, to the right
    x = load_digit(paper)[0] * MNIST_STD + MNIST_MEAN
    grid = torch.arange(28, dtype=x.dtype)
    mass = x.sum()
    com = ((x.sum(1) * grid).sum() / mass, (x.sum(0) * grid).sum() / mass)
    assert abs(float(com[0]) - 14) <= 0.6 and abs(float(com[1]) - 14) <= 0.6
    rows, cols = torch.nonzero(x > 0.05, as_tuple=True)
    box = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    assert max(abs(float(box[0]) - 14), abs(float(box[1]) - 14)) > 2  # the box is off-centre
