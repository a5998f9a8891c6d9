"""Shared fixtures: the real MNIST when it lies beside the checkout."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _mnist_root() -> Path | None:
    candidates = [os.environ.get("MNISTLITE_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST root (../shared/data or $MNISTLITE_DATA); skips the test if absent."""
    root = _mnist_root()
    if root is None:
        pytest.skip("real MNIST not found (set MNISTLITE_DATA or put it in ../shared/data)")
    return root


@pytest.fixture(scope="session")
def mnist_test(mnist_root):
    from mnistlite.data import load_mnist

    return load_mnist(mnist_root, train=False)


@pytest.fixture(scope="session")
def mnist_train(mnist_root):
    from mnistlite.data import load_mnist

    return load_mnist(mnist_root, train=True)
