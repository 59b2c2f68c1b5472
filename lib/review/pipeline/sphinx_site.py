"""A Sphinx extension of the book: each inline script of a page is written once.

Registered in ``_config.yml`` (``sphinx: extra_extensions: [review.pipeline.sphinx_site]``).

Why: an extension that adds an inline script (``app.add_js_file(None, body=...)``) after
the HTML builder was set up gets it twice in every page. Sphinx 7.4 records it once in
the builder as a script named ``None`` and again, when it starts writing, as a script named
``""``; the two compare unequal, so both stay. Jupyter Book's sphinx-thebe (0.3.1) adds
``const THEBE_JS_URL = ...`` that way (in ``env-before-read-docs``), and the second
``const`` stops the page with "Identifier 'THEBE_JS_URL' has already been declared";
sphinx-togglebutton's ``var togglebuttonSelector`` is doubled too (harmless). The book
does not use thebe, but Jupyter Book always loads it.

What: just before each page is written, drop from its ``script_files`` every script
that repeats an earlier one exactly (same file, or both inline with the same body, and the
same attributes). Nothing else changes; a page with no repeats is written as before.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    """What makes two entries of ``script_files`` the same script on the page."""
    if isinstance(script, str):  # old-style entry: a file name
        return (script, ())
    attributes = tuple(sorted((k, str(v)) for k, v in script.attributes.items()))
    return (script.filename or "", attributes)  # None and "" both mean "inline"


def unique_scripts(scripts: list) -> list:
    """``scripts`` without the entries that repeat an earlier one, in their order."""
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:  # noqa: ARG001
    if "script_files" in context:
        # a new list: the builder's own list is restored for the next page anyway
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app) -> dict:
    """Sphinx entry point."""
    # late (after other extensions added their page scripts), before the page is written
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
