"""The prediction API of ``mnistlite serve``, against a running server (see conftest.served)."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _helpers import run_cli
from PIL import Image
from test_picture_limits import huge_png

from mnistlite.serve import MAX_BYTES, MAX_SIDE

pytest.importorskip("httpx")
import httpx  # noqa: E402

pytest.importorskip("fastapi")
from mnistlite.serve.schema import ERROR_CODES  # noqa: E402


def digit_picture(label: int, seed: int, fmt: str = "PNG") -> bytes:
    """A dark 0, 1 or 7 drawn with thick lines on light paper, encoded as PNG or JPEG."""
    rng = np.random.default_rng(seed)
    paper = Image.new("L", (160, 200), int(rng.integers(200, 256)))
    from PIL import ImageDraw

    pen = ImageDraw.Draw(paper)
    shapes = {
        0: lambda: pen.ellipse([40, 30, 120, 170], outline=0, width=14),
        1: lambda: pen.line([(80, 25), (80, 175)], fill=0, width=14),
        7: lambda: pen.line([(35, 35), (125, 35), (70, 175)], fill=0, width=14, joint="curve"),
    }
    shapes[label]()
    buffer = io.BytesIO()
    paper.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served.url, timeout=60) as session:
        yield session


def post(client, body: bytes, content_type: str = "image/png", **params):
    return client.post(
        "/api/predict", content=body, headers={"Content-Type": content_type}, params=params
    )


def test_health_and_models(client) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    listing = client.get("/api/models").json()
    names = [m["name"] for m in listing["models"]]
    assert listing["default"] == "step7" and "lite1k" in names and "step1" not in names
    from mnistlite import models

    for entry in listing["models"]:
        meta = models.get_model_weights(entry["name"]).DEFAULT.meta
        assert entry["params"] == meta["num_params"] and entry["test_acc"] == meta["test_acc"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_api_answers_what_predict_json_prints(client, tmp_path, fmt) -> None:
    """Same preprocessing, same numbers: the API's object is the command's, for each model."""
    files = []
    for label in (0, 1, 7):
        path = tmp_path / f"{label}.{fmt.lower()}"
        path.write_bytes(digit_picture(label, seed=label, fmt=fmt))
        files.append(path)
    for model in ("step7", "lite1k"):
        for path, label in zip(files, (0, 1, 7), strict=True):
            code, out, err = run_cli("predict", model, path, "--json")  # one picture, as sent
            assert code == 0, err
            (want,) = json.loads(out)
            raw = post(client, path.read_bytes(), f"image/{fmt.lower()}", model=model)
            form = client.post(
                "/api/predict",
                params={"model": model},
                files={"file": (str(path), path.read_bytes(), "application/octet-stream")},
            )
            assert raw.status_code == form.status_code == 200, (raw.text, form.text)
            assert form.json() == want  # the file name comes from the multipart part
            assert raw.json() == {**want, "file": "image"}
            assert want["digit"] == label


def test_details_show_all_probabilities_and_the_input(client) -> None:
    answer = post(client, digit_picture(7, seed=3), details="true").json()
    probabilities = answer["probabilities"]
    assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-4
    assert int(np.argmax(probabilities)) == answer["digit"] == 7
    assert probabilities[7] == answer["probability"]
    seen = np.array(answer["input"])
    assert seen.shape == (28, 28) and seen.min() >= 0 and seen.max() == 255
    rows, cols = np.nonzero(seen)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 22  # the 20x20 box
    assert answer["model"]["name"] == "step7"


def truncated_png() -> bytes:
    """The first half of a PNG of noise (noise does not compress: the cut lands in pixels)."""
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300), np.uint8))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def bad_requests(tmp_path: Path) -> list[tuple[str, dict, int, str]]:
    """(what, request arguments, status, words the message must contain)."""
    png = digit_picture(1, seed=0)
    gif = io.BytesIO()
    Image.new("L", (40, 40), 255).save(gif, format="GIF")
    wide = huge_png(tmp_path / "wide.png", MAX_SIDE + 1, 16).read_bytes()
    bomb = huge_png(tmp_path / "bomb.png", 20_000, 20_000).read_bytes()
    cut = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + png
    no_file = b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--XyZ--\r\n'
    return [
        ("not an image", {"content": b"hello, I am text"}, 422, "not an image"),
        ("a GIF", {"content": gif.getvalue()}, 422, "GIF picture; expected PNG or JPEG"),
        ("truncated", {"content": truncated_png()}, 422, "truncated"),
        ("empty body", {"content": b""}, 400, "empty body"),
        ("over 2 MB", {"content": b"\x89PNG" + bytes(MAX_BYTES)}, 413, "2,097,152 bytes"),
        ("too wide", {"content": wide}, 413, f"{MAX_SIDE + 1}x16 pixels"),
        ("a 20,000 px bomb", {"content": bomb}, 413, "20000x20000 pixels"),
        ("unknown model", {"content": png, "params": {"model": "nope"}}, 404, "'nope'"),
        ("wrong content type", {"content": png, "type": "text/plain"}, 415, "text/plain"),
        ("no content type", {"content": png, "type": ""}, 415, "image/png"),
        ("no boundary", {"content": png, "type": "multipart/form-data"}, 400, "boundary"),
        ("not multipart", {"content": png, "type": "multipart/form-data; boundary=XyZ"}, 400,
         "malformed multipart"),
        ("cut multipart", {"content": cut, "type": "multipart/form-data; boundary=XyZ"}, 400,
         "closing boundary"),
        ("no file part", {"content": no_file, "type": "multipart/form-data; boundary=XyZ"}, 400,
         "no file"),
    ]  # fmt: skip


def test_every_bad_request_is_a_named_4xx_and_the_server_keeps_serving(
    client, served, tmp_path
) -> None:
    for what, request, status, words in bad_requests(tmp_path):
        headers = {"Content-Type": request.get("type", "image/png")}
        answer = client.post(
            "/api/predict",
            content=request["content"],
            headers=headers,
            params=request.get("params"),
        )
        assert answer.status_code == status, (what, answer.status_code, answer.text)
        assert words in answer.json()["detail"], (what, answer.json())
        assert ERROR_CODES[answer.json()["code"]][0] == status, (what, answer.json())
        assert client.get("/api/health").status_code == 200, what
    wrong_method = client.get("/api/predict")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["detail"] == "GET is not allowed on /api/predict; use POST"
    assert client.put("/api/models").status_code == 405
    assert post(client, digit_picture(0, seed=1)).json()["digit"] == 0  # still serving
    assert not list(served.cwd.iterdir()) and not list(served.tmp.iterdir())  # nothing on disk


def test_200_requests_from_8_threads(client, served) -> None:
    pictures = {label: digit_picture(label, seed=label) for label in (0, 1, 7)}
    jobs = [(label, "step7" if n % 2 else "lite2k") for n, label in enumerate([0, 1, 7] * 67)]
    jobs = jobs[:200]

    local = threading.local()

    def ask(job):
        label, model = job
        if not hasattr(local, "client"):  # one connection per thread, as a browser keeps
            local.client = httpx.Client(base_url=served.url, timeout=60)
            opened.append(local.client)
        answer = post(local.client, pictures[label], model=model)
        return label, answer.status_code, answer.json().get("digit")

    opened: list[httpx.Client] = []
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, jobs))
    for own in opened:
        own.close()
    assert len(opened) == 8
    assert len(answers) == 200
    assert all(status == 200 for _, status, _ in answers), answers
    assert all(digit == label for label, _, digit in answers)
    assert client.get("/api/health").json()["status"] == "ok"


def test_page_and_docs_are_served(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text
    for asset in ("static/pad.js", "static/app.js", "static/style.css"):
        assert client.get(f"/{asset}").status_code == 200
        assert asset in page.text
    assert "http" not in page.text.replace('href="docs"', "")  # nothing from the internet
    schema = client.get("/openapi.json").json()
    assert "image/png" in schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
