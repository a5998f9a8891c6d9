"""Render benchmarks/RESULTS.md from the JSON files beside it, one section per file.

Usage: python benchmarks/results_md.py

``templates/RESULTS.md`` holds the prose: one ``<!-- begin KEY -->`` section per
``KEY.json``, rendered from that file alone: a head naming the machine and the command,
then the template, whose row templates ``@rows`` take every row and ``@PART`` the rows of
that part (:func:`common.fill`). A section without its JSON file is left as it is.
"""

from pathlib import Path

from common import HERE, fill, load, write_section, write_text

TEMPLATE = HERE / "templates" / "RESULTS.md"


def sections() -> dict[str, str]:
    """Each section's template (its title first), by key, from templates/RESULTS.md."""
    found = {}
    for chunk in TEMPLATE.read_text().split("<!-- begin ")[1:]:
        key, body = chunk.split(" -->\n", 1)
        found[key] = body.split(f"<!-- end {key} -->")[0].rstrip("\n")
    return found


def render(key: str, data: dict) -> str:
    """Section ``key`` from its JSON ``data``: title, the machine and command, the template."""
    title, body = sections()[key].split("\n\n", 1)
    parts: dict[str, list] = {}
    for row in data["rows"]:
        parts.setdefault(row.get("part", ""), []).append(row)
    head = f"Machine: {data['machine']['summary']}.\n\n```bash\n{data['command']}\n```"
    return "\n\n".join([title, head, fill(body + "\n", **data, **parts)]).rstrip("\n")


def write(path: str | Path = HERE / "RESULTS.md") -> Path:
    """Rewrite every section whose JSON file exists; return the page's path."""
    path, head = Path(path), TEMPLATE.read_text().split("<!-- begin ")[0]
    page = path.read_text() if path.is_file() else head
    write_text(path, head + page[page.find("<!-- begin ") :] if "<!-- begin " in page else head)
    for key in sections():
        if (HERE / f"{key}.json").is_file():
            write_section(path, key, render(key, load(HERE / f"{key}.json")))
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
