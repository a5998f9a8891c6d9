"""`pip wheel .` ships the package with its weights, and the wheel works outside the checkout."""

import os
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

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
    assert "mnistlite/weights/step7_mnist_v1.safetensors" in names
    assert not [n for n in names if n.endswith(".pt")]  # the bundled weights are safetensors
    assert "hubconf.py" not in names  # torch.hub reads it from the repository, not the wheel
    assert "mnistlite/py.typed" in names
    for page in ("index.html", "pad.js", "app.js", "style.css"):  # `mnistlite serve`'s page
        assert f"mnistlite/serve/static/{page}" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/", "results/"))]


def _site_dirs_of_this_interpreter():
    """Where the running interpreter finds its packages (torch among them).

    Inside a virtual environment these are the environment's site-packages (and the
    base interpreter's, if it was made with --system-site-packages); outside, the
    system's.
    """
    dirs = [
        *site.getsitepackages(),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    ]
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def test_wheel_installs_and_loads_weights_outside_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    # A bare venv that sees the *running* interpreter's packages (torch) through a .pth
    # file, whether the suite runs in the system interpreter or in a venv of its own
    # (system_site_packages=True would see only the base interpreter). Directories named
    # in a .pth file are appended after the venv's own site-packages and their .pth files
    # are not read, so the wheel's copy of mnistlite wins over any installed one.
    venv.create(env_dir, system_site_packages=False, with_pip=True)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "outer-site-packages.pth").write_text(
        "\n".join(_site_dirs_of_this_interpreter()) + "\n"
    )
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    code = (
        "import mnistlite, torch; from mnistlite import models; "
        "m = models.step7(weights='DEFAULT').eval(); "
        "print(mnistlite.__file__); print(m(torch.zeros(1, 1, 28, 28)).shape); "
        "print(models.Step7_Weights.DEFAULT.meta['test_acc']); "
        "from mnistlite.serve import STATIC; print(sorted(p.name for p in STATIC.iterdir()))"
    )
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    location, shape, accuracy, static = done.stdout.strip().splitlines()
    assert location.startswith(str(env_dir)), location  # not the checkout
    assert shape == "torch.Size([1, 10])"
    assert float(accuracy) > 99.0
    assert static == "['app.js', 'index.html', 'pad.js', 'style.css']"
