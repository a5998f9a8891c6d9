"""Small Sphinx helpers for the mnistlite docs.

* The ``mnistlite-summary`` directive renders :func:`mnistlite.params.summary` of a
  registered model at build time, so the tables in the tutorial never drift from
  the code::

      .. mnistlite-summary:: step7

* Dataclass signatures show a ``default_factory`` as ``...``, which Sphinx can parse.
* :func:`reset_argv` gives the gallery's example scripts their command-line
  arguments, from the ``MNISTLITE_DOCS_EXAMPLE_ARGS`` environment variable.
* :func:`figure_scraper` puts into the gallery the figures that an example keeps in a
  module-level variable. :mod:`mnistlite.plots` builds
  :class:`matplotlib.figure.Figure` objects without pyplot, so sphinx-gallery's own
  matplotlib scraper (which asks pyplot for its open figures) does not see them.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from docutils import nodes
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
    """Arguments for every gallery script: ``$MNISTLITE_DOCS_EXAMPLE_ARGS``, split."""
    return shlex.split(os.environ.get("MNISTLITE_DOCS_EXAMPLE_ARGS", ""))


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
    """Register the directive and the signature hook."""
    app.add_directive("mnistlite-summary", SummaryDirective)
    app.connect("autodoc-process-signature", _valid_defaults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
