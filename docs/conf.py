"""Sphinx configuration of the mnistlite documentation.

Build (warnings are errors, every cross-reference must resolve)::

    python -m sphinx -W -n -b html docs docs/_build/html

Intersphinx works offline: the inventories of Python, PyTorch, torchvision and
matplotlib are kept in ``docs/_inv`` and tried before the URLs. The example gallery is rendered
from ``../examples``; its scripts run only when ``MNISTLITE_DOCS_RUN_EXAMPLES=1``
(their arguments come from ``MNISTLITE_DOCS_EXAMPLE_ARGS``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))  # the package itself when it is not installed

import mnistlite  # noqa: E402

# -- Project -------------------------------------------------------------------------

project = "mnistlite"
author = "mnistlite developers"
copyright = "mnistlite developers"
release = mnistlite.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "mnistlite_docs",
]

exclude_patterns = ["_build", "_inv", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
nitpicky = True
default_role = "py:obj"

# Only names that no inventory can hold: type variables and typing internals.
nitpick_ignore = [
    ("py:class", "mnistlite.models.registry.F"),
    # FastDropout's base as autodoc writes it; torch's inventory lists torch.nn.Dropout.
    ("py:class", "torch.nn.modules.dropout.Dropout"),
]
# Optuna (an optional extra) has no inventory here; its names appear in the sweep's hints.
nitpick_ignore_regex = [(r"py:(class|exc)", r"optuna\..*")]

# -- autodoc + napoleon (Google style) ----------------------------------------------

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
# Names imported only under TYPE_CHECKING (matplotlib is an optional extra).
autodoc_type_aliases = {
    "Figure": "matplotlib.figure.Figure",
    "Axes": "matplotlib.axes.Axes",
}
autodoc_preserve_defaults = True
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# -- intersphinx: local inventories first, so the build needs no network -------------

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", ("_inv/python.inv", None)),
    "torch": ("https://docs.pytorch.org/docs/stable", ("_inv/torch.inv", None)),
    "torchvision": ("https://docs.pytorch.org/vision/stable", ("_inv/torchvision.inv", None)),
    "matplotlib": ("https://matplotlib.org/stable", ("_inv/matplotlib.inv", None)),
}
intersphinx_timeout = 5

# -- sphinx-gallery ------------------------------------------------------------------

RUN_EXAMPLES = os.environ.get("MNISTLITE_DOCS_RUN_EXAMPLES", "") == "1"

# The gallery is generated into the source tree; start from scratch every build so a
# renamed or deleted example leaves no stale page behind (an orphan page fails -W).
shutil.rmtree(HERE / "auto_examples", ignore_errors=True)
(HERE / "sg_execution_times.rst").unlink(missing_ok=True)

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every script runs when examples are enabled; none otherwise.
    "filename_pattern": r"\.py$" if RUN_EXAMPLES else r"^$",
    "plot_gallery": "True" if RUN_EXAMPLES else "False",
    "ignore_pattern": r"(__init__|_common|conftest)\.py$",
    "reset_argv": "mnistlite_docs.reset_argv",
    # pyplot's figures, and the Figure objects that mnistlite.plots returns
    "image_scrapers": ("matplotlib", "mnistlite_docs.figure_scraper"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "write_computation_times": RUN_EXAMPLES,
    "abort_on_example_error": True,
}

# -- HTML ----------------------------------------------------------------------------

# Furo: a maintained theme whose content column is wide, which scrolls wide tables and
# code blocks inside their own box instead of cutting them, and which reads on a phone.
# docs/check_render.py screenshots pages at desktop and phone width to check that.
html_theme = "furo"
html_title = f"mnistlite {release}"
html_static_path = ["_static"]
html_css_files = ["mnistlite.css"]
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}

# -- The in-browser demo (try_it.rst) -----------------------------------------------------

# The committed part is the model (lite1k's bundled weights as ``mnistlite export lite1k
# --format web`` writes them: model.onnx and model.json); the page's files are written here
# on every build by the same function the export uses, so the demo is always today's page.
DEMO = HERE / "_static" / "demo"
from mnistlite import export_web  # noqa: E402

export_web.write_page(DEMO, json.loads((DEMO / "model.json").read_text(encoding="utf-8")))
