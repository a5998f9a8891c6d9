"""`pip wheel .` ships the package with its weights, and the wheel works outside the checkout."""

import subprocess
import sys
import venv
import zipfile

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("mnistlite-*.whl")
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mnistlite/weights/manifest.json" in names
    assert "mnistlite/weights/step7_mnist_v1.pt" in names
    assert "mnistlite/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/", "results/"))]


def test_wheel_installs_and_loads_weights_outside_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    # system site-packages provide torch; the wheel itself goes into the fresh venv
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    code = (
        "import mnistlite, torch; from mnistlite import models; "
        "m = models.step7(weights='DEFAULT').eval(); "
        "print(mnistlite.__file__); print(m(torch.zeros(1, 1, 28, 28)).shape); "
        "print(models.Step7_Weights.DEFAULT.meta['test_accuracy'])"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    location, shape, accuracy = done.stdout.strip().splitlines()
    assert location.startswith(str(env_dir)), location  # not the checkout
    assert shape == "torch.Size([1, 10])"
    assert float(accuracy) > 99.0
