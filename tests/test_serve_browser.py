"""The draw-a-digit page in a real browser (Playwright driving the system's Chromium).

Each digit 0-9 is drawn with real mouse moves along strokes traced from MNIST *training*
digits (tests/data/strokes.json, made by tests/data/make_strokes.py); one digit is drawn
with touch events on a 390 px wide phone screen. Screenshots at 1280 px and 390 px are
written to ``$MNISTLITE_ARTIFACTS`` (default: a pytest temporary folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _helpers import run_cli

STROKES = Path(__file__).resolve().parent / "data" / "strokes.json"
SETTLED = "a => a.dataset.drawn === String(a.n) && a.dataset.shown === a.dataset.drawn"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("MNISTLITE_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def strokes() -> dict[str, list]:
    digits = json.loads(STROKES.read_text())["digits"]
    assert sorted(digits) == [str(d) for d in range(10)]
    return {label: entry["strokes"] for label, entry in digits.items()}


def open_page(page, served) -> list:
    """Load the page; return the list that collects the pictures it sends."""
    sent: list = []
    outside: list[str] = []

    def seen(request) -> None:
        if not request.url.startswith(served.url):
            outside.append(request.url)
        if "/api/predict" in request.url:
            sent.append(request)

    page.on("request", seen)
    page.goto(served.url + "/")
    page.wait_for_selector("#app[data-models]")
    sent.append(outside)  # the first entry: requests that left the server (none expected)
    return sent


def on_pad(box: dict, x: float, y: float) -> tuple[float, float]:
    """A stroke point (fractions of the frame) in page pixels on the pad."""
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def wait_settled(page, strokes_drawn: int) -> None:
    page.wait_for_function(
        f"(() => {{ const a = document.getElementById('app'); a.n = {strokes_drawn}; "
        f"return ({SETTLED})(a); }})()",
        timeout=20_000,
    )


def draw_with_mouse(page, digit_strokes: list) -> None:
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    for stroke in digit_strokes:
        page.mouse.move(*on_pad(box, *stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*on_pad(box, *point))
        page.mouse.up()
    wait_settled(page, len(digit_strokes))


def draw_with_touch(page, cdp, digit_strokes: list) -> None:
    page.tap("#clear")
    box = page.locator("#pad").bounding_box()
    for stroke in digit_strokes:
        points = [on_pad(box, *point) for point in stroke]
        kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
        for kind, (x, y) in zip(kinds, points, strict=True):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_settled(page, len(digit_strokes))


def page_width_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_draw_each_digit_with_the_mouse(browser, served, strokes, artifacts) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sent = open_page(page, served)
    outside = sent.pop(0)
    shown, answers = {}, {}
    for label, digit_strokes in strokes.items():
        draw_with_mouse(page, digit_strokes)
        assert page.locator("#app").get_attribute("data-pointer") == "mouse"
        shown[label] = page.inner_text("#digit")
        request = sent[-1]  # the picture after the last stroke: the one shown
        (artifacts / f"drawn-{label}.png").write_bytes(request.post_data_buffer)
        answers[label] = request.response().json()
        assert shown[label] == str(answers[label]["digit"])
        bars = page.locator("#bars li .fill").evaluate_all("e => e.map(b => b.style.width)")
        assert len(bars) == 10 and bars[int(shown[label])] == max(bars, key=lambda w: float(w[:-1]))
    page.screenshot(path=str(artifacts / "serve-1280.png"))
    right = sum(shown[label] == label for label in strokes)
    assert right >= 9, f"the page read {shown}"
    assert page_width_overflow(page) <= 0
    assert not outside, f"the page fetched from elsewhere: {outside}"
    # the picture the page sent gets the same answer from `mnistlite predict`
    for label, answer in answers.items():
        code, out, err = run_cli("predict", "step7", artifacts / f"drawn-{label}.png", "--json")
        assert code == 0, err
        (printed,) = json.loads(out)
        assert printed["digit"] == answer["digit"] and printed["top3"] == answer["top3"], label
    page.close()


def test_model_picker_and_clear(browser, served, strokes) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sent = open_page(page, served)
    options = page.locator("#model option").all_inner_texts()
    listing = served_models(served)
    assert len(options) == len(listing) and any("10,252 params" in o for o in options)
    draw_with_mouse(page, strokes["3"])
    page.select_option("#model", "lite1k")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('lite1k')")
    assert "model=lite1k" in sent[-1].url
    assert "964 parameters" in page.inner_text("#model-info")
    page.click("#clear")
    assert page.inner_text("#digit") == "–"
    assert page.locator("#app").get_attribute("data-drawn") == "0"
    page.close()


def served_models(served) -> list[dict]:
    import urllib.request

    with urllib.request.urlopen(served.url + "/api/models") as answer:
        return json.load(answer)["models"]


def test_draw_with_a_finger_on_a_phone(browser, served, strokes, artifacts) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    open_page(page, served)
    cdp = context.new_cdp_session(page)
    draw_with_touch(page, cdp, strokes["2"])
    assert page.locator("#app").get_attribute("data-pointer") == "touch"
    assert page.inner_text("#digit") == "2"
    assert page_width_overflow(page) <= 0
    pad = page.locator("#pad").bounding_box()
    assert pad["width"] >= 250 and pad["x"] >= 0 and pad["x"] + pad["width"] <= 390
    page.screenshot(path=str(artifacts / "serve-390.png"), full_page=True)
    context.close()
