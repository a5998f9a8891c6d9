"""Small Sphinx helpers for the mnistlite docs.

* The ``mnistlite-summary`` directive renders :func:`mnistlite.params.summary` of a
  registered model at build time, so the tables in the tutorial never drift from
  the code::

      .. mnistlite-summary:: step7

* Measured results are read at build time from the files the training scripts wrote, so
  no accuracy in the docs is typed by hand. ``results/summary.json`` (written by
  ``benchmarks/make_results.py``) feeds::

      .. mnistlite-step-results:: step7     (one step's table, or "not run yet")
      .. mnistlite-results-table::          (the seven steps in one table)
      .. mnistlite-frontier-table::         (the lite* models: mean ± std over seeds)

  and figures or Markdown files that may not exist yet are shown only when they do::

      .. mnistlite-step-figure:: step7      (results/step7/history.png)
      .. mnistlite-figure-if-exists:: ../results/frontier.png
      .. mnistlite-include-if-exists:: ../benchmarks/RESULTS.md

  Every file read is a dependency of the page, so a rebuild picks up new results.
* Dataclass signatures show a ``default_factory`` as ``...``, which Sphinx can parse.
* :func:`reset_argv` gives the gallery's example scripts their command-line
  arguments, from the ``MNISTLITE_DOCS_EXAMPLE_ARGS`` environment variable.
* :func:`figure_scraper` puts into the gallery the figures that an example keeps in a
  module-level variable. :mod:`mnistlite.plots` builds
  :class:`matplotlib.figure.Figure` objects without pyplot, so sphinx-gallery's own
  matplotlib scraper (which asks pyplot for its open figures) does not see them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class SummaryDirective(SphinxDirective):
    """Insert the ``params.summary`` table of a registered model as a literal block."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        """Build the model named by the argument and return its table."""
        from mnistlite import models, params

        name = self.arguments[0]
        try:
            model = models.get_model(name)
        except ValueError as err:
            raise self.error(str(err)) from None
        text = str(params.summary(model))
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        self.set_source_info(block)
        return [block]


# -- measured results ------------------------------------------------------------------

STEPS = [f"step{i}" for i in range(1, 8)]
FRONTIER = ["lite600", "lite1k", "lite2k", "lite5k", "lite8k", "lite10k"]
NOT_RUN = "Not run yet (see results/README.md)."


def _pct(value: float | None) -> str:
    """An accuracy in percent, two decimals; a dash when unknown."""
    return "—" if value is None else f"{value:.2f}\u00a0%"  # no break inside a number


def _signed(value: float) -> str:
    """A difference in percentage points, with its sign (a true minus sign)."""
    return f"{value:+.2f}\u00a0pp".replace("-", "−")


def _number(value: int | None) -> str:
    """An integer with thousands separators; a dash when unknown."""
    return "—" if value is None else f"{value:,}"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    title: str | None = None,
    widths: Sequence[int] | None = None,
    markup: Callable[[str], list[nodes.Node]] | None = None,
) -> nodes.table:
    """A docutils table: one header row, then one row per entry of ``rows``.

    ``markup`` turns a cell's text into inline nodes; by default the text stays plain.
    """
    table = nodes.table(classes=["mnistlite-results"])
    if title:
        table += nodes.title(title, title)
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths or [1] * len(headers):
        group += nodes.colspec(colwidth=width)

    def row_of(cells: Sequence[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += (
                nodes.paragraph(text, "", *markup(text)) if markup else nodes.paragraph(text, text)
            )
            row += entry
        return row

    head = nodes.thead()
    head += row_of(headers)
    body = nodes.tbody()
    for cells in rows:
        body += row_of(cells)
    group += head
    group += body
    return table


class _ResultsDirective(SphinxDirective):
    """Shared helpers: find, read and depend on the files under ``results/``."""

    def results_dir(self) -> Path:
        """``mnistlite_results_dir`` (default ``../results``), from the docs source dir."""
        return (Path(self.env.srcdir) / self.config.mnistlite_results_dir).resolve()

    def depend(self, path: Path) -> None:
        """Rebuild this page when ``path`` changes, appears or disappears."""
        self.env.note_dependency(str(path))

    def summary(self) -> dict[str, Any]:
        """``results/summary.json``; empty sections when it is not written yet."""
        path = self.results_dir() / "summary.json"
        self.depend(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as err:
            raise self.error(f"cannot read {path}: {err}") from None
        if not isinstance(data, dict):
            raise self.error(f"{path} does not hold a JSON object")
        data["steps"] = data.get("steps") or {}
        data["frontier"] = data.get("frontier") or {}
        return data

    def notebook_best_test(self) -> dict[str, float]:
        """The notebooks' best test accuracy per step, from ``results/notebook_reference.json``.

        That file is the one copy of the notebooks' numbers: the maximum test accuracy of each
        step's reference run (its first logged run), as ``benchmarks/make_results.py``
        computes it. Empty when the file is missing.
        """
        path = self.results_dir() / "notebook_reference.json"
        self.depend(path)
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError) as err:
            raise self.error(f"cannot read {path}: {err}") from None
        return {step: max(logged[0]["test_acc"]) for step, logged in runs.items()}

    def seed_of(self, step: str) -> int | None:
        """The random seed recorded in ``results/STEP/history.json``, if any."""
        path = self.results_dir() / step / "history.json"
        self.depend(path)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["meta"]["seed"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def not_run(self, text: str = NOT_RUN) -> list[nodes.Node]:
        """A note saying that the results are not there yet."""
        note = nodes.note()
        note += nodes.paragraph(text, text)
        self.set_source_info(note)
        return [note]

    def relative_to_doc(self, path: Path) -> str:
        """``path`` relative to the current page, as ``.. image::`` expects it."""
        doc_dir = Path(self.env.doc2path(self.env.docname)).parent
        return os.path.relpath(path, doc_dir).replace(os.sep, "/")


def _step_cells(result: dict[str, Any]) -> list[str]:
    """The measured columns of one step, from its ``summary.json`` entry (a dash if absent)."""
    best, notebook_best = result.get("best_test"), result.get("notebook_best_test")
    minutes = result.get("minutes")
    return [
        _number(result.get("params")),
        str(result.get("epochs", "—")),
        _pct(best),
        _pct(result.get("final_test")),
        _pct(result.get("best_train")),
        _pct(notebook_best),
        "—" if best is None or notebook_best is None else _signed(best - notebook_best),
        "—" if minutes is None else f"{minutes:.1f}\u00a0min",
    ]


STEP_HEADERS = [
    "parameters",
    "epochs",
    "best test",
    "final test",
    "best train",
    "notebook's best test",
    "gap (best − notebook)",
    "wall time",
]


class StepResultsDirective(_ResultsDirective):
    """One step's measured numbers from ``results/summary.json``, or a "not run" note."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        """Return the one-row table of the step named by the argument."""
        step = self.arguments[0]
        if step not in STEPS:
            raise self.error(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
        summary = self.summary()
        result = summary["steps"].get(step)
        if result is None:
            return self.not_run()
        seed = self.seed_of(step)
        about = [f"seed {seed}"] if seed is not None else []
        about += [summary["machine"]] if summary.get("machine") else []
        if result.get("device") and "cpu" not in (summary.get("machine") or "").lower():
            about.append(result["device"])
        title = f"mnistlite's run of {step}" + (f" ({', '.join(about)})" if about else "")
        table = _table(STEP_HEADERS, [_step_cells(result)], title=title)
        self.set_source_info(table)
        return [table]


class ResultsTableDirective(_ResultsDirective):
    """The seven steps in one table; the steps not run yet say so."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """Return the table of steps 1–7 and a line naming the machine."""
        from mnistlite import models, params

        summary = self.summary()
        notebook_best = self.notebook_best_test()
        rows = []
        for step in STEPS:
            result = summary["steps"].get(step)
            if result is not None:
                rows.append([step, *_step_cells(result)])
                continue
            count = params.count_parameters(models.get_model(step))
            rows.append(
                [step, _number(count), "not run", "", "", "", _pct(notebook_best.get(step)), "", ""]
            )
        table = _table(["step", *STEP_HEADERS], rows, widths=[6, 10, 6, 8, 8, 8, 9, 9, 8])
        self.set_source_info(table)
        text = (
            "Accuracies on the 10,000 MNIST test images, read from results/summary.json "
            "(written by benchmarks/make_results.py); train accuracy is the running accuracy "
            "over an epoch."
        )
        if summary["steps"]:
            text += f" Wall time on {summary.get('machine', 'an unrecorded machine')}."
        return [table, nodes.paragraph(text, text)]


class FrontierTableDirective(_ResultsDirective):
    """The frontier models (mean ± std over seeds) beside the best published result in budget."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """Return two tables: the figures a reader compares, then the details.

        One row per model in each: the first has the mean beside the best published result
        in budget; the second, each model's per-seed values, wall time and machine.
        """
        summary = self.summary()
        names = FRONTIER + [n for n in summary["frontier"] if n not in FRONTIER]
        compared, details = [], []
        for name in names:
            row, detail = _frontier_rows(name, summary["frontier"].get(name))
            compared.append(row)
            details.append(detail)
        headers = ["model", "parameters", "final test, mean ± std", "epochs"]
        headers += [
            "best published ≤ budget",
            "ours − it",
            "how that one was selected",
        ]
        table = _table(headers, compared, widths=[7, 8, 12, 6, 16, 7, 24])
        table["classes"].append("colwidths-given")  # the widths above, not the text's
        detail_headers = ["model", "final test per seed", "wall time per run", "trained on"]
        detail_table = _table(
            detail_headers, details, title="Per seed, time and machine", widths=[7, 20, 8, 25]
        )
        for each in (table, detail_table):
            self.set_source_info(each)
        text = (
            "Final-epoch test accuracy (no epoch picked on the test set), mean ± sample "
            "standard deviation (n − 1) over the seeds, read from results/summary.json; "
            "beside each model, the most accurate published result at or under its "
            "parameter budget (results/frontier/anchors.json) and how it was selected."
        )
        return [table, nodes.paragraph(text, text), detail_table]


def _frontier_rows(name: str, result: dict | None) -> tuple[list[str], list[str]]:
    """One frontier model's row of the compared figures and its row of details."""
    from mnistlite import models, params

    if result is None:
        try:
            count = _number(params.summary(models.get_model(name)).total_params)
        except ValueError:  # not a registered model
            count = "—"
        return [name, count, "not run", *[""] * 4], [name, "", "", ""]
    finals = [float(v) for v in result.get("finals", [])]
    mean = result.get("mean", statistics.mean(finals) if finals else None)
    std = result.get("std", statistics.stdev(finals) if len(finals) > 1 else None)
    anchor, minutes = result.get("anchor") or {}, result.get("minutes")
    published = anchor.get("accuracy")
    row = [
        name,
        _number(result.get("params")),
        _pct(mean) if std is None else f"{mean:.2f}\u00a0±\u00a0{std:.2f}\u00a0%",
        str(result.get("epochs", "—")),
        f"{_pct(published)}, {anchor.get('name', '—')} params" if anchor else "—",
        _signed(mean - published) if anchor and mean is not None else "—",
        anchor.get("selected", "—"),
    ]
    detail = [
        name,
        ", ".join(f"{v:.2f}" for v in finals) or "—",
        "—" if minutes is None else f"{minutes:.1f}\u00a0min",
        str(result.get("device", "—")),
    ]
    return row, detail


class FigureIfExistsDirective(_ResultsDirective):
    """A ``figure`` that appears only once its file exists.

    The argument is a path relative to the page, as for ``.. figure::``; the options and
    the content (the caption) are those of ``.. figure::``. While the file is missing
    the directive renders ``:missing:`` as a note, or nothing.
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {
        "alt": directives.unchanged,
        "width": directives.unchanged,
        "align": directives.unchanged,
        "class": directives.unchanged,
        "name": directives.unchanged,
        "missing": directives.unchanged,
    }

    def target(self) -> Path:
        """The absolute path of the figure's file."""
        return Path(self.env.relfn2path(self.arguments[0])[1])

    def caption(self) -> list[str]:
        """The caption's lines."""
        return list(self.content)

    def run(self) -> list[nodes.Node]:
        """Parse a ``.. figure::`` of the file when it exists."""
        path = self.target()
        self.depend(path)
        if not path.is_file():
            missing = self.options.get("missing")
            return self.not_run(missing) if missing else []
        lines = [f".. figure:: {self.relative_to_doc(path)}"]
        lines += [f"   :{key}: {value}" for key, value in self.options.items() if key != "missing"]
        caption = self.caption()
        if caption:
            lines += [""] + [f"   {line}" for line in caption]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), 0, container)
        return list(container.children)


class StepFigureDirective(FigureIfExistsDirective):
    """``results/STEP/history.png`` (our run against the notebooks' logs), when it exists."""

    required_arguments = 1
    final_argument_whitespace = False
    has_content = False

    def target(self) -> Path:
        """``results/STEP/history.png``."""
        step = self.arguments[0]
        if step not in STEPS:
            raise self.error(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
        return self.results_dir() / step / "history.png"

    def caption(self) -> list[str]:
        """A caption that names the step and the figure's panels."""
        return [
            f"{self.arguments[0]}: training loss per batch, test loss, train and test "
            "accuracy per epoch, mnistlite's run against the notebooks' logs "
            f"(``results/{self.arguments[0]}/history.png``)."
        ]

    def run(self) -> list[nodes.Node]:
        """The figure, with a default width and alt text."""
        self.options.setdefault("width", "100%")
        self.options.setdefault("alt", f"training curves of {self.arguments[0]}")
        return super().run()


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> list[nodes.Node]:
    """Markdown inline markup (code, bold, links) as docutils nodes; the rest is text."""
    out: list[nodes.Node] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            out.append(nodes.Text(text[pos : match.start()]))
        code, bold, label, url = match.groups()
        if code is not None:
            out.append(nodes.literal(code, code))
        elif bold is not None:
            out.append(nodes.strong(bold, bold))
        elif "://" in url:
            out.append(nodes.reference(label, label, refuri=url))
        else:  # a path in the repository: no page to link to
            out.append(nodes.Text(f"{label} ({url})" if label != url else label))
        pos = match.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row ``| a | b |``."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_nodes(text: str) -> list[nodes.Node]:
    """Render the Markdown subset that the benchmark scripts write.

    Headings become rubrics, pipe tables become tables, fenced code becomes a literal
    block, ``-``/``*`` items a bullet list, anything else a paragraph with inline code,
    bold and links. Unknown syntax stays as text: this never fails.
    """
    out: list[nodes.Node] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or (stripped.startswith("<!--") and stripped.endswith("-->")):
            i += 1  # blank lines and the section markers of the benchmark pages
        elif stripped.startswith("```"):
            language = stripped[3:].strip() or "text"
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            code = "\n".join(lines[i + 1 : end])
            block = nodes.literal_block(code, code)
            block["language"] = language
            out.append(block)
            i = end + 1
        elif stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            out.append(nodes.rubric(title, "", *_inline(title)))
            i += 1
        elif (
            stripped.startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", lines[i + 1].strip())
        ):
            headers = _cells(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = _cells(lines[i])
                rows.append((cells + [""] * len(headers))[: len(headers)])
                i += 1
            out.append(_table(headers, rows, markup=_inline))
        elif re.match(r"[-*] ", stripped):
            items = nodes.bullet_list()
            while i < len(lines) and re.match(r"[-*] ", lines[i].strip()):
                text_ = lines[i].strip()[2:]
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    text_ += " " + lines[i].strip()
                    i += 1
                item = nodes.list_item()
                item += nodes.paragraph("", "", *_inline(text_))
                items += item
            out.append(items)
        else:
            para = [stripped]
            i += 1
            while (
                i < len(lines)
                and lines[i].strip()
                and not re.match(r"(#|\||```|[-*] )", lines[i].strip())
            ):
                para.append(lines[i].strip())
                i += 1
            out.append(nodes.paragraph("", "", *_inline(" ".join(para))))
    return out


def _section(text: str, title: str) -> str | None:
    """The lines under the Markdown heading ``title`` (None when there is no such heading)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        level = len(line) - len(line.lstrip("#"))
        if level and line[level:].strip() == title:
            end = start + 1
            while end < len(lines):
                other = len(lines[end]) - len(lines[end].lstrip("#"))
                if 0 < other <= level and lines[end][other:].startswith(" "):
                    break
                end += 1
            return "\n".join(lines[start + 1 : end])
    return None


class IncludeIfExistsDirective(_ResultsDirective):
    """Include a Markdown file that a benchmark writes, once it exists.

    The argument is a path relative to the page. The file is rendered with
    :func:`markdown_nodes` (tables as tables), or shown verbatim with ``:literal:``;
    ``:section: TITLE`` keeps only the part under the heading ``TITLE`` (up to the next
    heading of the same level or above, without the heading itself). While the file is
    missing, the page shows ``:missing:`` as a note (default: "not run yet").
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False
    option_spec = {
        "literal": directives.flag,
        "missing": directives.unchanged,
        "section": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        """Render the file, or the note."""
        rel, absolute = self.env.relfn2path(self.arguments[0])
        path = Path(absolute)
        self.depend(path)
        if not path.is_file():
            return self.not_run(self.options.get("missing", f"{rel}: not run yet"))
        text = path.read_text(encoding="utf-8")
        if "section" in self.options:
            text = _section(text, self.options["section"])
            if text is None:
                raise self.error(f"{rel} has no heading {self.options['section']!r}")
        if "literal" in self.options:
            block = nodes.literal_block(text, text)
            block["language"] = "markdown"
            result: list[nodes.Node] = [block]
        else:
            result = markdown_nodes(text)
        for node in result:
            self.set_source_info(node)
        return result


def _valid_defaults(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """Show a dataclass field's ``default_factory`` as ``...`` instead of ``<factory>``.

    ``<factory>`` is not valid Python, so Sphinx would fall back to a naive parse of the
    whole signature that splits ``dict[str, Any]`` at its comma.
    """
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def reset_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """Arguments for every gallery script: ``$MNISTLITE_DOCS_EXAMPLE_ARGS``, split.

    ``{example}`` in them becomes the script's name, so each script can get its own
    ``--out`` folder (the examples refuse to overwrite another run's checkpoint).
    """
    name = Path(script_vars.get("src_file", "example")).stem
    text = os.environ.get("MNISTLITE_DOCS_EXAMPLE_ARGS", "").replace("{example}", name)
    return shlex.split(text)


def figure_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Save the new pyplot-free figures in an example's globals; return their reST."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return ""
    from sphinx_gallery.scrapers import figure_rst

    seen: set[int] = block_vars.setdefault("mnistlite_figures_seen", set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and id(value) not in seen and value.canvas.manager is None:
            seen.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=100)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives, their setting and the signature hook."""
    app.add_directive("mnistlite-summary", SummaryDirective)
    app.add_config_value("mnistlite_results_dir", "../results", "env", types=(str,))
    app.add_directive("mnistlite-step-results", StepResultsDirective)
    app.add_directive("mnistlite-results-table", ResultsTableDirective)
    app.add_directive("mnistlite-frontier-table", FrontierTableDirective)
    app.add_directive("mnistlite-step-figure", StepFigureDirective)
    app.add_directive("mnistlite-figure-if-exists", FigureIfExistsDirective)
    app.add_directive("mnistlite-include-if-exists", IncludeIfExistsDirective)
    app.connect("autodoc-process-signature", _valid_defaults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
