"""The documentation builds cleanly, and the command-line reference covers every option."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _build(tmp_path: Path, run_examples: bool) -> Path:
    """`sphinx-build -W -n` into ``tmp_path/html``; with the gallery's examples run or not."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    from conftest import optional_mnist_root

    env = {**os.environ, "MPLBACKEND": "Agg"}
    root = optional_mnist_root() if run_examples else None
    if root is not None:
        env["MNISTLITE_DOCS_RUN_EXAMPLES"] = "1"
        quick = f"--quick --data {root} --out {tmp_path / 'examples-out'}/{{example}}"
        env["MNISTLITE_DOCS_EXAMPLE_ARGS"] = quick
    command = [sys.executable, "-m", "sphinx", "-W", "-n", "-b", "html", "-q"]
    command += [str(DOCS), str(tmp_path / "html")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, (
        f"docs build failed (exit {result.returncode}):\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    for page in ("index", "quickstart", "tutorial", "custom_models", "training", "cli"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    assert (tmp_path / "html" / "api" / "models.html").is_file()
    return tmp_path / "html"


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> Path:
    """The docs built once for this module, without running the gallery's examples."""
    return _build(tmp_path_factory.mktemp("docs"), run_examples=False)


def test_docs_build_without_warnings(built_docs: Path) -> None:
    """`sphinx-build -W -n`: no warning, and every cross-reference resolves (offline).

    The examples themselves run in ``tests/test_examples.py`` (quick mode); the gallery
    build that runs them too is the slow test below.
    """
    assert (built_docs / "results.html").is_file()


def test_the_try_it_demo_is_the_page_export_web_writes(built_docs: Path, tmp_path: Path) -> None:
    """The build writes the in-browser demo's page files (docs/try_it.rst embeds them) with
    :func:`mnistlite.export_web.write_page`, beside the committed lite1k model."""
    from mnistlite import export_web

    export_web.write_page(tmp_path, {})
    demo = built_docs / "_static" / "demo"
    for name in export_web.PAGE_FILES:
        assert (demo / name).read_text() == (tmp_path / name).read_text(), name
    assert (demo / "model.onnx").stat().st_size > 0
    assert 'src="_static/demo/index.html"' in (built_docs / "try_it.html").read_text()


# Each table of a page: how far it sticks out of its box, and its tallest cell in lines.
TABLE_FIT = """() => [...document.querySelectorAll('table')].map(t => {
  const cells = [...t.querySelectorAll('td, th')].map(c => {
    const text = document.createRange();  // the cell's text, not its row's height
    text.selectNodeContents(c);
    return text.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight);
  });
  return {head: [...t.querySelectorAll('th')].map(h => h.innerText).join(' | '),
          over: t.scrollWidth - t.parentElement.clientWidth, lines: Math.max(...cells)};
})"""


def test_results_page_tables_read_at_1280_px(built_docs: Path, browser) -> None:
    """On the Results page at 1280 px every table fits its column: no sideways scrolling,
    and no cell wraps past three lines. The frontier's per-seed values and machines sit in
    a table of their own below the compared figures."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((built_docs / "results.html").as_uri())
    tables = page.evaluate(TABLE_FIT)
    page.close()
    heads = ("model | parameters | final test, mean ± std", "model | final test per seed")
    frontier = [t for t in tables if t["head"].startswith(heads)]
    assert len(frontier) == 2, [t["head"] for t in tables]  # compared figures; details
    for table in tables:
        assert table["over"] <= 0, f"sticks out {table['over']} px: {table['head']}"
        assert table["lines"] < 3.5, f"a cell wraps to {table['lines']:.1f} lines: {table['head']}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from mnistlite.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the mnistlite parser has no subcommands")


def test_cli_reference_lists_every_option() -> None:
    """docs/cli.rst names every subcommand and every option that `mnistlite` accepts."""
    text = (DOCS / "cli.rst").read_text(encoding="utf-8")
    missing = []
    for name, sub in _subcommands().items():
        if f"mnistlite {name}" not in text:
            missing.append(f"the command `mnistlite {name}`")
        for action in sub._actions:
            for option in action.option_strings:
                if option in ("-h", "--help") or not option.startswith("--"):
                    continue
                if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
                    missing.append(f"`mnistlite {name} {option}`")
    assert not missing, "docs/cli.rst does not document: " + ", ".join(missing)
