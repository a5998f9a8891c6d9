"""`mnistlite export --format web`: the static page in real Chromium, with no server.

The folder is served by a plain static file server on 127.0.0.1. The page names the
pinned onnxruntime-web on a public CDN; the browser's requests for it are answered from
the npm copy that ``.ci/run`` installs (``npm ci``: package.json, package-lock.json), and
any other request that leaves the loopback server is refused and fails the test.
Drawn digits (mouse moves along strokes traced from MNIST *training* digits) and sent
pictures (training digits as dark ink on paper, PNG and JPEG) must get the class
``mnistlite predict`` gives the same picture.
"""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import run_cli
from conftest import REPO, require_or_skip

from mnistlite import export, export_web, models
from mnistlite.preprocess import load_digit

pytest.importorskip("onnxruntime", reason="needs the mnistlite[export] extra")

MODEL = "lite1k"
STROKES = Path(__file__).resolve().parent / "data" / "strokes.json"
ORT_DIST = REPO / "node_modules" / "onnxruntime-web" / "dist"
SETTLED = (
    "n => { const a = document.getElementById('app'); "
    "return a.dataset.drawn === String(n) && a.dataset.shown === a.dataset.drawn; }"
)


def test_package_json_pins_the_runtime_the_page_names() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]
    assert pinned == {"onnxruntime-web": export_web.ORT_WEB_VERSION}
    assert f"onnxruntime-web@{export_web.ORT_WEB_VERSION}/" in export_web.ORT_WEB_URL
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == pinned["onnxruntime-web"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, mnist_root):
    """The exported folder (an existing empty one), served on 127.0.0.1."""
    out = tmp_path_factory.mktemp("web") / "site"
    out.mkdir()  # an empty folder is filled
    args = ["export", MODEL, "--format", "web", "--data", mnist_root, "--out", out]
    code, printed, err = run_cli(*args)
    assert code == 0, err
    assert "agree with PyTorch on 100.00%" in printed
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def web_browser(browser):
    """The shared browser, once the pinned onnxruntime-web is in node_modules."""
    if not (ORT_DIST / "ort.wasm.min.js").is_file():
        require_or_skip("onnxruntime-web is not installed (npm ci)")
    return browser


@pytest.fixture(scope="module")
def page(web_browser, site):
    """The page, loaded; requests for the pinned runtime answered from node_modules."""
    _, url = site
    page = web_browser.new_page(viewport={"width": 1280, "height": 800})
    page.outside = []  # requests that left the loopback server, other than the runtime
    cdn = export_web.ORT_WEB_URL.rsplit("/", 1)[0] + "/"

    def answer(route) -> None:
        request_url = route.request.url
        if request_url.startswith(cdn):
            local = ORT_DIST / request_url[len(cdn) :].split("?")[0]
            route.fulfill(path=str(local)) if local.is_file() else route.abort()
        elif request_url.startswith(url):
            route.continue_()
        else:
            page.outside.append(request_url)
            route.abort()

    page.route("**/*", answer)
    page.goto(url + "/")
    page.wait_for_selector("#app[data-ready]", timeout=30_000)
    yield page
    page.close()


def read_answer(page) -> tuple[int, list[float]]:
    digit = int(page.get_by_test_id("digit").inner_text())
    probs = [float(page.get_by_test_id(f"prob-{d}").get_attribute("data-value")) for d in range(10)]
    shown = [float(page.get_by_test_id(f"prob-{d}").inner_text().rstrip("%")) for d in range(10)]
    assert np.allclose(shown, 100 * np.array(probs), atol=0.051)
    return digit, probs


def predicted(path: Path) -> dict:
    code, out, err = run_cli("predict", MODEL, path, "--json")
    assert code == 0, err
    (answer,) = json.loads(out)
    return answer


def page_input(page, element: str) -> np.ndarray:
    """The normalized 28x28 input the page's preprocess.js makes of a canvas' pixels."""
    values = page.evaluate(
        f"""() => {{ const c = document.querySelector('{element}');
        const p = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        return Array.from(mnistlitePreprocess.loadDigit(p.data, p.width, p.height).input); }}"""
    )
    return np.array(values, dtype=np.float32).reshape(28, 28)


def test_drawn_digits_get_the_class_mnistlite_predict_gives(page, tmp_path) -> None:
    import base64

    digits = json.loads(STROKES.read_text())["digits"]
    right = 0
    for label, entry in digits.items():
        page.click("#clear")
        box = page.locator("#pad").bounding_box()
        for stroke in entry["strokes"]:
            at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
            page.mouse.move(*at[0])
            page.mouse.down()
            for point in at[1:]:
                page.mouse.move(*point)
            page.mouse.up()
        page.wait_for_function(SETTLED, arg=len(entry["strokes"]), timeout=20_000)
        digit, probs = read_answer(page)
        png = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
        drawn = tmp_path / f"drawn-{label}.png"
        drawn.write_bytes(base64.b64decode(png.split(",", 1)[1]))
        answer = predicted(drawn)
        assert digit == answer["digit"], (label, probs, answer)
        assert probs[digit] == pytest.approx(answer["probability"], abs=2e-3)
        python_input = load_digit(drawn)[0].numpy()
        assert np.abs(page_input(page, "#pad") - python_input).max() < 1e-3, label
        right += digit == int(label)
    assert right >= 9
    assert not page.outside, page.outside


def pictures(train, folder: Path) -> list[Path]:
    """Training digits as pictures people send: dark ink on paper, various sizes/formats."""
    from PIL import Image

    made = []
    kinds = [((150, 190), "PNG", "L"), ((90, 70), "JPEG", "RGB"), ((1300, 1500), "PNG", "RGBA")]
    for i, (size, fmt, mode) in enumerate(kinds * 2):
        pixels = train.images[i, 0] * 0.3081 + 0.1307  # back to [0, 1]
        ink = Image.fromarray((255 * (1 - pixels.clamp(0, 1))).byte().numpy()).resize(size)
        picture = ink.convert(mode)
        if mode == "RGBA":  # transparent paper, as a drawing app exports
            alpha = Image.fromarray(255 - np.asarray(ink))
            picture = Image.merge("RGBA", (*ink.convert("RGB").split(), alpha))
        path = folder / f"digit-{i}.{fmt.lower()}"
        picture.save(path, fmt)
        made.append(path)
    return made


def test_sent_pictures_get_the_class_mnistlite_predict_gives(page, mnist_train, tmp_path) -> None:
    for path in pictures(mnist_train, tmp_path):
        picked = page.get_attribute("#app", "data-picked") or "0"
        page.set_input_files("#picture", str(path))
        page.wait_for_function(
            f"document.getElementById('app').dataset.picked === '{int(picked) + 1}'"
        )
        assert page.get_attribute("#app", "data-source") == path.name
        digit, probs = read_answer(page)
        answer = predicted(path)
        assert digit == answer["digit"], (path.name, probs, answer)
        assert probs[digit] == pytest.approx(answer["probability"], abs=2e-3), path.name
    assert not page.outside, page.outside


def test_a_blank_picture_says_so(page, tmp_path) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    picked = page.get_attribute("#app", "data-picked") or "0"
    page.set_input_files("#picture", str(blank))
    page.wait_for_function(f"document.getElementById('app').dataset.picked === '{int(picked) + 1}'")
    assert page.get_by_test_id("digit").inner_text() == "–"
    assert "no digit found" in page.inner_text("#status")


def test_the_folder_is_static_and_names_the_pinned_runtime(site) -> None:
    folder, _ = site
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*export_web.PAGE_FILES, "model.onnx", "model.json"]
    )
    assert export_web.ORT_WEB_URL in (folder / "index.html").read_text()
    meta = json.loads((folder / "model.json").read_text())
    assert meta["model"] == MODEL and meta["params"] == 964 and meta["test_acc"] > 90


def test_bad_web_targets_exit_2_and_write_nothing(tmp_path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    code, _, err = run_cli("export", MODEL, "--format", "web", "--out", full)
    assert code == 2 and "new or empty folder" in err
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    model = models.get_model(MODEL, weights="DEFAULT")
    with pytest.raises(export_web.ExportError, match="is not an empty folder"):
        export_web.export_web(model, full)
    with pytest.raises(export_web.ExportError, match="does not exist"):
        export_web.export_web(model, tmp_path / "no" / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_a_failed_export_leaves_nothing(tmp_path, monkeypatch) -> None:
    def fail(model, folder, *args):
        (folder / "model.onnx").write_bytes(b"half")
        raise export_web.ExportError("cannot lower it")

    monkeypatch.setattr(export_web, "_write_model", fail)
    model = models.get_model(MODEL, weights="DEFAULT")
    with pytest.raises(export_web.ExportError, match="cannot lower it"):
        export.export_model(model, tmp_path / "site", "web")
    assert not list(tmp_path.iterdir())


def test_report_and_int8_flag(site) -> None:
    folder, _ = site
    assert json.loads((folder / "model.json").read_text())["int8"] is False
    with pytest.raises(export.ExportError, match="needs calibration images"):
        export.export_model(models.get_model(MODEL), folder.parent / "q", "web", int8=True)


def test_the_serve_page_marks_digit_and_probabilities_the_same_way(browser, served) -> None:
    strokes = json.loads(STROKES.read_text())["digits"]["7"]["strokes"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    answers = []
    page.on("response", lambda r: "/api/predict" in r.url and answers.append(r))
    page.goto(served.url + "/")
    page.wait_for_selector("#app[data-models]")
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*at[0])
        page.mouse.down()
        for point in at[1:]:
            page.mouse.move(*point)
        page.mouse.up()
    page.wait_for_function(SETTLED, arg=len(strokes), timeout=20_000)
    digit, probs = read_answer(page)
    answer = answers[-1].json()
    assert digit == answer["digit"] and probs == pytest.approx(answer["probabilities"])
    page.close()


def test_the_docs_demo_model_is_lite1ks_bundled_weights(mnist_test) -> None:
    """docs/_static/demo/model.onnx (the try-it page's model, committed) answers as lite1k
    with its bundled weights does: the same logits on real test images."""
    import onnxruntime as ort

    demo = REPO / "docs" / "_static" / "demo"
    meta = json.loads((demo / "model.json").read_text())
    assert meta["model"] == MODEL and meta["onnxruntime_web"] == export_web.ORT_WEB_VERSION
    session = ort.InferenceSession(str(demo / meta["file"]), providers=["CPUExecutionProvider"])
    images = mnist_test.images[:64].float()
    model = models.get_model(MODEL, weights="DEFAULT").eval()
    with torch.no_grad():
        expected = model(images).numpy()
    got = session.run([meta["output"]], {meta["input"]: images.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-3)
