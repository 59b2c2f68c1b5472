"""Sphinx configuration of metaprop's API reference, a site of its own.

Built by ``make docs`` (``python -m sphinx -W -n --keep-going``: every warning and every
unresolved reference is an error) into ``_build/api``, and by ``tests/test_api_docs.py``.
Strict and offline, as the book: no intersphinx, MathJax served from the site itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the package from this checkout, whether or not it is installed
sys.path.insert(0, str(ROOT / "lib"))

import metaprop  # noqa: E402

project = "metaprop"
author = "The InO living review authors"
copyright = f"2026, {author}"
version = release = metaprop.__version__

extensions = [
    "sphinx.ext.autodoc",
    # numpydoc-style docstrings (Parameters, Returns, Notes, References)
    "sphinx.ext.napoleon",
    # the changelog and the README are Markdown
    "myst_parser",
    # MathJax 3 copied into the site: the docstrings' formulas render offline
    "sphinx-mathjax-offline",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

# as the book's API page (_config.yml): types shown as text, so strict -n needs no
# intersphinx inventories (no network)
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_param = False
napoleon_use_rtype = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# numpy's and pandas' classes named as docstring types resolve only through intersphinx;
# two module constants of metaprop.bayes are named in its docstring, not documented
nitpick_ignore_regex = [
    ("py:class", "ndarray"),
    ("py:class", "DataFrame"),
    ("py:data", "TAU_SCALE"),
    ("py:data", "MU_SD"),
]
smartquotes = False
myst_heading_anchors = 2

html_theme = "alabaster"
html_title = f"metaprop {release}"
html_theme_options = {"description": "Meta-analysis of single proportions, as metafor"}
