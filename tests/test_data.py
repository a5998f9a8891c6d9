import math

import pytest
import torch

from mnistlite import data
from mnistlite.preprocess import MNIST_MEAN, MNIST_STD


def fake(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, 28, 28, generator=g) - MNIST_MEAN) / MNIST_STD
    return data.MNISTTensors(images, torch.randint(0, 10, (n,), generator=g))


def test_real_mnist_statistics(mnist_root):
    train = data.load_mnist(mnist_root, train=True)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.float32
    assert abs(train.images.mean().item()) < 1e-3
    assert abs(train.images.std().item() - 1) < 1e-3
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    test = data.load_mnist(mnist_root, train=False, limit=100)
    assert len(test) == 100


def test_missing_dataset_names_root_and_download(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_mnist(tmp_path / "nowhere")
    assert "nowhere" in str(info.value) and "download" in str(info.value)


def test_tensors_validate_shapes():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        data.MNISTTensors(torch.zeros(3, 28, 28), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        data.MNISTTensors(torch.zeros(3, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="positive integer"):
        fake().take(0)


def test_split_is_disjoint_and_complete():
    ds = fake(50)
    rest, hold = ds.split(10, seed=3)
    assert len(rest) == 40 and len(hold) == 10
    rows = {tuple(x.flatten()[:5].tolist()) for x in torch.cat([rest.images, hold.images])}
    assert len(rows) == 50


def test_batches_cover_each_sample_once_per_epoch():
    images = torch.arange(100.0).view(100, 1, 1, 1).expand(100, 1, 28, 28).contiguous()
    ds = data.MNISTTensors(images, torch.arange(100) % 10)
    batches = data.Batches(ds, 32, seed=0)
    assert len(batches) == math.ceil(100 / 32)
    first = torch.cat([x[:, 0, 0, 0].long() for x, _ in batches])
    second = torch.cat([x[:, 0, 0, 0].long() for x, _ in batches])
    assert sorted(first.tolist()) == list(range(100))
    assert first.tolist() != second.tolist()  # a new permutation each epoch
    assert len(data.Batches(ds, 32, drop_last=True)) == 3


def test_batches_are_reproducible_from_state():
    ds = fake(64)
    aug = data.Augment(rotation=7.0)
    a = data.Batches(ds, 16, augment=aug, seed=5)
    list(a)
    state = a.state_dict()
    expected = [x.clone() for x, _ in a]
    b = data.Batches(ds, 16, augment=aug, seed=999)
    b.load_state_dict(state)
    assert all(torch.equal(x, y) for x, (y, _) in zip(expected, b, strict=True))


@pytest.mark.parametrize("bad", [{"rotation": -1}, {"translate": 1.5}, {"interpolation": "cubic"}])
def test_augment_rejects_bad_ranges(bad):
    with pytest.raises(ValueError):
        data.Augment(**bad)


def test_rotation_differs_per_image_and_fills_corners():
    # one image repeated: each copy must get its own angle
    img = fake(1).images.repeat(8, 1, 1, 1)
    out = data.augment_batch(img, data.Augment(rotation=30.0), torch.Generator().manual_seed(0))
    assert out.shape == img.shape
    assert len({round(o.sum().item(), 3) for o in out}) == 8
    # a white square rotated by up to 30 degrees: corners come in with the fill value
    white = torch.full((4, 1, 28, 28), (1 - MNIST_MEAN) / MNIST_STD)
    out = data.augment_batch(white, data.Augment(rotation=30.0), torch.Generator().manual_seed(1))
    fill = (1 / 255 - MNIST_MEAN) / MNIST_STD
    assert torch.isclose(out[:, 0, 0, 0], torch.tensor(fill)).all()
    assert torch.isclose(out[:, 0, 14, 14], white[:, 0, 14, 14]).all()


def test_zero_rotation_is_identity_nearest():
    img = fake(4).images
    out = data.augment_batch(img, data.Augment(rotation=0.0), torch.Generator())
    assert torch.allclose(out, img, atol=1e-5)


def test_rotation_matches_torchvision_direction():
    from torchvision.transforms.functional import rotate

    img = torch.zeros(1, 1, 28, 28)
    img[0, 0, 5:9, 14:16] = 1.0  # a bar above the centre
    fill_free = data.Augment(rotation=90.0, fill=0.0)
    g = torch.Generator().manual_seed(0)
    # find the angle the generator will draw, then rotate with torchvision by it
    angle = torch.rand(1, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    angle = float(angle * 90.0)
    norm = (img - MNIST_MEAN) / MNIST_STD
    ours = data.augment_batch(norm, fill_free, g) * MNIST_STD + MNIST_MEAN
    theirs = rotate(img, angle)
    assert (ours.round() - theirs).abs().sum() <= 4  # same blob, at most a few edge pixels


def test_labels_must_be_int64_digits():
    images = torch.zeros(3, 1, 28, 28)
    with pytest.raises(ValueError, match="int64"):
        data.MNISTTensors(images, torch.zeros(3, dtype=torch.int32))
    with pytest.raises(ValueError, match="0-9"):
        data.MNISTTensors(images, torch.tensor([0, 1, 40]))
