"""The HTTP API keeps its OpenAPI contract: schemathesis against ``create_app()``'s schema.

Every operation of the app's own ``/openapi.json`` is called with requests schemathesis
generates from it (valid ones, and invalid ones: wrong types, values outside an enum,
missing parts), through its pytest integration on the ASGI app, with all its checks: no
server error, every status documented, every body valid against the documented schema
(errors included: ``{"detail", "code"}``), valid requests accepted, invalid ones refused,
405 with ``Allow`` for other methods. A slow test runs the same against a live
``mnistlite serve`` on loopback.

A valid picture body cannot be described by a JSON schema (it must hold a digit), so the
test tells schemathesis how to make one: :func:`digit_files` draws a stroke of ink on
paper of any size and encodes it as PNG or JPEG. Everything else comes from the schema.
The number of examples per operation comes from the hypothesis profile (conftest.py).
"""

from __future__ import annotations

import io

import pytest
from hypothesis import strategies as st

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from PIL import Image, ImageDraw  # noqa: E402

from mnistlite.serve import MAX_BYTES, create_app  # noqa: E402
from mnistlite.serve.schema import ERROR_CODES  # noqa: E402


@st.composite
def digit_files(draw, formats: tuple[str, ...] = ("PNG", "JPEG")) -> bytes:
    """A PNG or JPEG of a thick stroke of ink on paper: a picture the API must accept."""
    fmt = draw(st.sampled_from(formats))
    width, height = draw(st.integers(16, 400)), draw(st.integers(16, 400))
    dark_on_light = draw(st.booleans())
    paper, ink = (draw(st.integers(200, 255)), draw(st.integers(0, 50)))
    if not dark_on_light:
        paper, ink = 255 - paper, 255 - ink
    picture = Image.new("L", (width, height), paper)
    pen = ImageDraw.Draw(picture)
    side = min(width, height)
    x0, y0 = draw(st.integers(0, width // 2)), draw(st.integers(0, height // 2))
    x1 = draw(st.integers(x0, width - 1))
    y1 = draw(st.integers(y0 + side // 4, height - 1))
    pen.line([(x0, y0), (x1, y1)], fill=ink, width=max(3, side // 8))
    mode = draw(st.sampled_from(["L", "RGB"]))
    buffer = io.BytesIO()
    picture.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


for media_type in ("image/png", "image/jpeg", "application/octet-stream"):
    schemathesis.openapi.media_type(media_type, digit_files())

app = create_app(["lite1k", "step7"], default="lite1k")
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
def test_every_operation_keeps_the_contract(case) -> None:
    case.call_and_validate()


def test_every_error_status_is_documented_with_the_error_model() -> None:
    document = app.openapi()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == 3
    predict = document["paths"]["/api/predict"]["post"]
    documented = {int(status) for status in predict["responses"]}
    assert documented == {200, 400, 404, 413, 415, 422}
    for status, answer in predict["responses"].items():
        ref = answer["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/Prediction" if status == "200" else "/Error"), status
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}
    assert set(error["properties"]["code"]["enum"]) == set(ERROR_CODES)
    body = predict["requestBody"]
    assert body["content"]["image/png"]["schema"]["maxLength"] == MAX_BYTES
    assert "4,096 pixels a side" in body["description"]
    assert predict["parameters"][0]["schema"]["enum"] == ["lite1k", "step7"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_errors_of_starlette_and_fastapi_have_the_same_shape() -> None:
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        answers = {
            "not_found": client.get("/nope"),
            "method_not_allowed": client.delete("/api/models"),
            "invalid_parameter": client.post(
                "/api/predict?details=maybe", content=b"x", headers={"content-type": "image/png"}
            ),
            "unknown_model": client.post(
                "/api/predict?model=null", content=b"x", headers={"content-type": "image/png"}
            ),
        }
    for code, answer in answers.items():
        assert answer.status_code == ERROR_CODES[code][0], (code, answer.text)
        assert answer.json().keys() == {"detail", "code"} and answer.json()["code"] == code
    assert answers["method_not_allowed"].headers["allow"] == "GET"
    assert "details" in answers["invalid_parameter"].json()["detail"]
    assert "'maybe'" in answers["invalid_parameter"].json()["detail"]


def test_a_gif_announcing_billions_of_pixels_is_a_413_not_a_500() -> None:
    """A 149-byte corrupted GIF made Pillow raise while reading its header: plain-text 500."""
    from starlette.testclient import TestClient
    from test_properties_pictures import bomb_gif

    bomb = bomb_gif()
    with TestClient(app) as client:
        raw = client.post("/api/predict", content=bomb, headers={"content-type": "image/png"})
        form = client.post("/api/predict", files={"file": ("bomb.png", bomb, "image/png")})
    for answer in (raw, form):
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "picture_too_large"
        assert "4,272,882,000 pixels" in answer.json()["detail"]


@pytest.fixture
def live_schema(served):
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json")


live = schemathesis.pytest.from_fixture("live_schema")


@pytest.mark.slow
@live.parametrize()
def test_a_live_server_keeps_the_contract(case) -> None:
    """The same checks against ``mnistlite serve`` on loopback (every bundled model)."""
    case.call_and_validate()


def test_a_digit_file_is_a_digit() -> None:
    """The generator of valid bodies makes pictures the library reads as a digit."""
    from hypothesis import given

    from mnistlite.preprocess import load_digit

    @given(digit_files())
    def read(data: bytes) -> None:
        assert load_digit(data).shape == (1, 28, 28)
        assert len(data) < MAX_BYTES

    read()
