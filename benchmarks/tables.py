"""The one Markdown helper: every table of README.md, results/ and RESULTS.md is written here.

Usage (from another script)::

    from tables import markdown_table, mean_std, write_section
    lines = markdown_table(["model", "accuracy"], [["lite10k", "99.58"]])
    write_section(Path("benchmarks/RESULTS.md"), "epoch_time", ["## ...", *lines])

A page made of sections keeps each between ``<!-- begin KEY -->`` and ``<!-- end KEY -->``
markers, so each script rewrites only its own section and two scripts never edit the same
lines.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from mnistlite.atomic import atomic_write

STD_NOTE = "± is the sample standard deviation (n − 1) over seeds."


def markdown_table(
    columns: Sequence[str], rows: Sequence[Sequence[object]], align: str = ""
) -> list[str]:
    """A pipe table: a header row, the rule, one line per row (cells are ``str()``-ed).

    ``align`` holds one character per column, ``l`` or ``r`` (default: all left).
    """
    rule = ["---:" if a == "r" else "---" for a in align.ljust(len(columns), "l")]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(rule) + "|"]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(columns)}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines


def mean_std(values: Sequence[float]) -> str:
    """'m ± s' with the sample standard deviation (n − 1); just m for one value."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def markers(key: str) -> tuple[str, str]:
    """The begin and end markers of section ``key``."""
    return f"<!-- begin {key} -->", f"<!-- end {key} -->"


def replace_section(text: str, key: str, lines: Sequence[str]) -> str:
    """``text`` with section ``key`` replaced by ``lines`` (appended when it is absent)."""
    begin, end = markers(key)
    block = "\n".join([begin, *lines, end])
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        return text.rstrip("\n") + "\n\n" + block + "\n"
    return text[:start] + block + text[stop + len(end) :]


def write_section(path: Path, key: str, lines: Sequence[str], title: str = "") -> Path:
    """Rewrite section ``key`` of the page at ``path`` atomically (``title`` heads a new page)."""
    text = path.read_text() if path.is_file() else f"# {title or path.stem}\n"
    data = replace_section(text, key, lines).encode()
    return atomic_write(path, lambda f: f.write(data))


def fill(name: str, **fields: object) -> str:
    """The page template ``benchmarks/templates/NAME`` with its ``{field}`` places filled.

    A page's prose lives in its template; the script that renders the page supplies the
    tables and numbers. The templates are ``str.format`` strings (``{{`` is a brace).
    """
    return (Path(__file__).resolve().parent / "templates" / name).read_text().format(**fields)
