"""MNISTLITE_REQUIRE_DATA turns a skipped data test into a failure (as CI sets it)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROBE = """
def test_needs_data(mnist_root):
    assert mnist_root.is_dir()


def test_needs_nothing():
    assert 1 + 1 == 2
"""


@pytest.mark.parametrize("require", ["", "1"])
def test_missing_data_skips_or_fails(tmp_path: Path, require: str) -> None:
    """Without the data a data test skips; with MNISTLITE_REQUIRE_DATA=1 it fails."""
    tests = tmp_path / "checkout" / "tests"  # conftest looks in checkout/../shared/data
    tests.mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", tests / "conftest.py")
    (tests / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNISTLITE_")}
    env["MNISTLITE_DATA"] = str(tmp_path / "missing")
    if require:
        env["MNISTLITE_REQUIRE_DATA"] = require
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tests)],
        cwd=tests,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    if require:
        assert done.returncode != 0, output
        assert "1 passed" in output and "1 error" in output, output
        assert "MNISTLITE_REQUIRE_DATA is set" in output
    else:
        assert done.returncode == 0, output
        assert "1 passed, 1 skipped" in output, output


def test_ci_requires_data() -> None:
    """.ci/run exports MNISTLITE_REQUIRE_DATA=1 before the README's test command."""
    script = (TESTS.parent / ".ci" / "run").read_text()
    export = script.index("export MNISTLITE_REQUIRE_DATA=1")
    assert export < script.index('pip install -e ".[dev]" && python -m pytest -q')
