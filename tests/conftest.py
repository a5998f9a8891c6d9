"""Shared fixtures: the real MNIST when it lies beside the checkout.

A test that needs the real MNIST asks for the ``mnist_root`` fixture (or ``mnist_train`` /
``mnist_test``). Without the data such a test is skipped, unless the environment sets
``MNISTLITE_REQUIRE_DATA=1`` (as ``.ci/run`` does): then it fails, so CI cannot pass by
skipping the tests on real data. Tests that do not need the data do not ask for it.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MISSING = "real MNIST not found (set MNISTLITE_DATA or put it in ../shared/data)"


def require_data() -> bool:
    """Whether ``MNISTLITE_REQUIRE_DATA`` asks for a missing MNIST to fail the tests."""
    return os.environ.get("MNISTLITE_REQUIRE_DATA", "").strip() not in ("", "0")


def _mnist_root() -> Path | None:
    candidates = [os.environ.get("MNISTLITE_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
            return Path(candidate)
    return None


def optional_mnist_root() -> Path | None:
    """The real MNIST root for a test that uses it when present (None if absent).

    Fails the test when it is absent and ``MNISTLITE_REQUIRE_DATA`` is set.
    """
    root = _mnist_root()
    if root is None and require_data():
        pytest.fail(f"{MISSING}, and MNISTLITE_REQUIRE_DATA is set", pytrace=False)
    return root


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real MNIST root (../shared/data or $MNISTLITE_DATA).

    Skips the test if absent; fails it instead when ``MNISTLITE_REQUIRE_DATA=1``.
    """
    root = optional_mnist_root()
    if root is None:
        pytest.skip(MISSING)
    return root


@pytest.fixture(scope="session")
def mnist_test(mnist_root):
    from mnistlite.data import load_mnist

    return load_mnist(mnist_root, train=False)


@pytest.fixture(scope="session")
def mnist_train(mnist_root):
    from mnistlite.data import load_mnist

    return load_mnist(mnist_root, train=True)
