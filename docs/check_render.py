"""Screenshot built doc pages at desktop and phone width with headless Chromium.

Usage (after ``python -m sphinx -b html docs docs/_build/html``)::

    python docs/check_render.py docs/_build/html --out /tmp/render [--pages results tutorial]

Writes ``PAGE-WIDTH.png`` for each page at 1280 px and 390 px (a phone) and prints, for
each, whether the page is wider than the window, i.e. whether something sticks out at
the right edge instead of scrolling inside its own box (wide tables and code blocks
should scroll inside their container). Exits 1 if any page overflows. Needs ``chromium``
(``apt-get install chromium``); the test suite does not depend on it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTHS = {"desktop": 1280, "phone": 390}
PAGES = ["index", "results", "tutorial", "training", "cli", "api/training"]
# Prints the page's scroll width into the DOM, so --dump-dom shows it.
PROBE = (
    "<script>window.addEventListener('load',()=>{const e=document.documentElement;"
    "document.body.setAttribute('data-overflow',e.scrollWidth-e.clientWidth);});</script>"
)


def chromium() -> str:
    """The Chromium executable, or exit with a message."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found (apt-get install chromium)")


def run(browser: str, *args: str) -> str:
    """Run headless Chromium and return its stdout."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
    return done.stdout


def overflow_px(browser: str, html: Path, width: int) -> int:
    """How many px the page is wider than its window at ``width`` (0: nothing sticks out)."""
    with tempfile.TemporaryDirectory(dir=html.parent) as tmp:
        probe = Path(tmp) / html.name
        probe.write_text(html.read_text().replace("</body>", PROBE + "</body>"))
        # the copy sits one folder down: keep relative links working with <base>
        text = probe.read_text().replace("<head>", f'<head><base href="{html.as_uri()}">', 1)
        probe.write_text(text)
        dom = run(browser, f"--window-size={width},900", "--dump-dom", probe.as_uri())
    marker = 'data-overflow="'
    start = dom.find(marker)
    return int(dom[start + len(marker) : dom.index('"', start + len(marker))]) if start >= 0 else 0


def main() -> int:
    """Screenshot the pages; return 1 if one of them overflows its window."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", type=Path, help="the built HTML folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the screenshots")
    parser.add_argument("--pages", nargs="+", default=PAGES)
    args = parser.parse_args()
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    overflow = False
    for page in args.pages:
        html = (args.html / f"{page}.html").resolve()
        for label, width in WIDTHS.items():
            shot = args.out / f"{page.replace('/', '-')}-{width}.png"
            run(browser, f"--window-size={width},1600", f"--screenshot={shot}", html.as_uri())
            extra = overflow_px(browser, html, width)
            overflow |= extra > 0
            verdict = f"OVERFLOWS by {extra} px" if extra > 0 else "fits"
            print(f"{page} at {width} px ({label}): {verdict}; {shot}")
    return 1 if overflow else 0


if __name__ == "__main__":
    sys.exit(main())
