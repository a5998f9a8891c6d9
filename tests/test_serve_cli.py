"""`mnistlite serve` and `create_app` without a browser: arguments, errors, mounting."""

from __future__ import annotations

import io
import socket
import sys

import pytest
from _helpers import run_cli
from PIL import Image, ImageDraw

from mnistlite.errors import MissingExtraError, MnistliteError

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def one_png() -> bytes:
    paper = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(paper).line([(60, 20), (60, 140)], fill=0, width=12)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def no_uvicorn_loop(monkeypatch):
    """Make uvicorn's Server.run return at once, as after Ctrl-C; record its sockets."""
    import uvicorn

    calls = []

    def run(self, sockets=None) -> None:
        calls.append([s.getsockname() for s in sockets])

    monkeypatch.setattr(uvicorn.Server, "run", run)
    return calls


def test_help_names_every_option() -> None:
    code, out, _ = run_cli("serve", "--help")
    assert code == 0
    for option in ("MODEL", "--weights", "--host", "--port", "127.0.0.1"):
        assert option in out


def test_without_the_extra_it_exits_2_with_the_pip_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    code, _, err = run_cli("serve")
    assert code == 2 and 'pip install "mnistlite[serve]"' in err and "Traceback" not in err
    from mnistlite import serve

    with pytest.raises(MissingExtraError):
        serve.create_app()


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "'nope' is not served"),
        (["step1"], "'step1' is not served"),
        (["step7", "--weights", "missing.pt"], "not found: missing.pt"),
        (
            ["--weights", "model.pt"],
            "weights=... needs the model it fits (model='step7', say) (--weights)",
        ),
        (["--port", "70000"], "from 0 to 65535"),
        (["--port", "http"], "expected a port number"),
    ],
)
def test_bad_arguments_exit_2(args, message, no_uvicorn_loop) -> None:
    code, _, err = run_cli("serve", *args)
    assert code == 2 and message in err, err
    assert not no_uvicorn_loop  # never started


def test_a_taken_port_is_a_clear_error(no_uvicorn_loop) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = run_cli("serve", "--port", port)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_localhost_by_default_and_a_warning_for_any_other_host(no_uvicorn_loop) -> None:
    code, out, err = run_cli("serve", "--port", "0")
    assert code == 0 and "http://127.0.0.1:" in out and "stopped" in out
    assert "warning" not in err
    (addresses,) = no_uvicorn_loop
    assert addresses[0][0] == "127.0.0.1" and addresses[0][1] > 0
    code, out, err = run_cli("serve", "lite1k", "--host", "0.0.0.0", "--port", "0")
    assert code == 0 and "no authentication" in err and "0.0.0.0" in err


def test_create_app_serves_your_own_module_and_mounts_in_your_app() -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from mnistlite import models
    from mnistlite.serve import create_app

    mine = models.lite1k(weights="DEFAULT")
    service = FastAPI()
    service.mount("/digits", create_app({"mine": mine}))

    async def visit() -> tuple[dict, str, httpx.Response]:
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            listing = (await client.get("/digits/api/models")).json()
            page = (await client.get("/digits/")).text
            answer = await client.post(
                "/digits/api/predict", content=one_png(), headers={"Content-Type": "image/png"}
            )
            return listing, page, answer

    listing, page, answer = asyncio.run(visit())
    assert listing == {
        "default": "mine",
        "models": [{"name": "mine", "params": 964, "test_acc": None, "weights": "custom"}],
    }
    assert 'src="static/app.js"' in page
    assert answer.status_code == 200 and answer.json()["digit"] == 1


def test_create_app_checks_its_arguments() -> None:
    from mnistlite.serve import bundled_models, create_app

    assert "step7" in bundled_models() and "step1" not in bundled_models()
    with pytest.raises(MnistliteError, match="'step1' has no bundled weights"):
        create_app(["step1"])
    with pytest.raises(MnistliteError, match="expected a torch.nn.Module"):
        create_app({"x": "step7"})  # type: ignore[dict-item]
    with pytest.raises(MnistliteError, match="'lite1k' is not served"):
        create_app(["step7"], default="lite1k")
    with pytest.raises(MnistliteError, match="got no model"):
        create_app([])
