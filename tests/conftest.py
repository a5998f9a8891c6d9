"""Shared fixtures: the real MNIST when it lies beside the checkout.

A test that needs the real MNIST asks for the ``mnist_root`` fixture (or ``mnist_train`` /
``mnist_test``). Without the data such a test is skipped, unless the environment sets
``MNISTLITE_REQUIRE_DATA=1`` (as ``.ci/run`` does): then it fails, so CI cannot pass by
skipping the tests on real data. Tests that do not need the data do not ask for it.
"""

import os
from pathlib import Path

import pytest

try:  # hypothesis is a dev dependency; profiles for the property-based tests
    from hypothesis import HealthCheck, settings

    # "ci" (the default): a modest number of examples, so the properties fit CI's budget;
    # "slow": HYPOTHESIS_PROFILE=slow for a long search (run before a release).
    settings.register_profile(
        "ci",
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.register_profile(
        "slow",
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass

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


# -- mnistlite serve: one server for the API and browser tests -------------------------


def require_or_skip(reason: str) -> None:
    """Skip a test whose tools are missing; fail it under ``MNISTLITE_REQUIRE_DATA=1``."""
    if require_data():
        pytest.fail(f"{reason}, and MNISTLITE_REQUIRE_DATA is set", pytrace=False)
    pytest.skip(reason)


# -- a real browser: Playwright driving the system's Chromium -----------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]  # fmt: skip


# Module scope: while Playwright's sync API is open, asyncio.run() fails in the same thread,
# so the browser closes after each module that used it.
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (never ``playwright install``).

    Shared by the page, web-export and docs tests; skipped without it, failed under
    ``MNISTLITE_REQUIRE_DATA=1``.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).is_file():
        require_or_skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Server:
    """A ``mnistlite serve --port 0`` process: its URL, its folders and its output."""

    def __init__(self, process, url: str, cwd: Path, tmp: Path) -> None:
        self.process, self.url, self.cwd, self.tmp = process, url, cwd, tmp


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """``python -m mnistlite serve --port 0`` on 127.0.0.1, stopped with Ctrl-C (SIGINT).

    The server runs in an empty folder with an empty TMPDIR, so tests can check that it
    writes nothing to disk. Stopping it must exit 0 with "stopped".
    """
    import signal
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    for module in ("fastapi", "uvicorn", "python_multipart", "httpx"):
        try:
            __import__(module)
        except ImportError:
            require_or_skip(f"{module} is not installed (pip install -e '.[dev]')")
    cwd, tmp = tmp_path_factory.mktemp("serve-cwd"), tmp_path_factory.mktemp("serve-tmp")
    log = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mnistlite", "serve", "--port", "0"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=120)
    line = first[0] if first else ""
    if "http://" not in line:
        process.kill()
        pytest.fail(f"mnistlite serve did not start: {line!r} {log.read_text()}")
    url = line.split()[2].rstrip("/")
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    server = Server(process, url, cwd, tmp)
    yield server
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("mnistlite serve did not stop within 30 s of Ctrl-C")
    err = log.read_text()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err, (out, err)
