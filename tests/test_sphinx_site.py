"""The book's Sphinx extension (``review.pipeline.sphinx_site``): each inline script written once.

A one-page Sphinx project whose own extension adds an inline script the way sphinx-thebe
does (in ``env-before-read-docs``, after the HTML builder is set up): Sphinx writes it
twice; with ``review.pipeline.sphinx_site`` it is there once, and the page's other scripts stay.
"""

from __future__ import annotations

import io
from pathlib import Path

from review.pipeline.sphinx_site import unique_scripts

SCRIPT = 'const LATE_INLINE = "x"'
LATE_EXTENSION = f"""
def _add(app, env, docnames):
    app.add_js_file(None, body={SCRIPT!r})
    app.add_js_file("late.js")


def setup(app):
    app.connect("env-before-read-docs", _add)
    return {{"parallel_read_safe": True}}
"""


def _build(tmp_path: Path, extensions: list[str]) -> str:
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "late_inline.py").write_text(LATE_EXTENSION, encoding="utf-8")
    (src / "conf.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\n"
        f"extensions = {extensions!r}\n",
        encoding="utf-8",
    )
    (src / "index.rst").write_text("Title\n=====\n\nText.\n", encoding="utf-8")
    out = tmp_path / "html"
    app = Sphinx(
        str(src), str(src), str(out), str(tmp_path / "doctrees"), "html",
        status=io.StringIO(), warning=io.StringIO(), freshenv=True,
    )  # fmt: skip
    app.build()
    return (out / "index.html").read_text(encoding="utf-8")


def test_late_inline_script_is_doubled_without_the_extension(tmp_path):
    """The Sphinx behaviour the extension exists for (if this fails, Sphinx fixed it and
    ``review.pipeline.sphinx_site`` can go)."""
    assert _build(tmp_path, ["late_inline"]).count(SCRIPT) == 2


def test_extension_writes_each_inline_script_once(tmp_path):
    html = _build(tmp_path, ["late_inline", "review.pipeline.sphinx_site"])
    assert html.count(SCRIPT) == 1
    assert html.count("_static/late.js") == 1
    assert "_static/doctools.js" in html


def test_unique_scripts_keeps_first_of_exact_repeats_only():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [
        _JavaScript("_static/a.js"),
        _JavaScript(None, body="var x = 1"),
        _JavaScript("", body="var x = 1"),  # the same inline script, named "" this time
        _JavaScript("", body="var y = 2"),  # another inline script
        _JavaScript("_static/a.js", defer="defer"),  # same file, other attributes
        "_static/old-style.js",
        "_static/old-style.js",
    ]
    kept = unique_scripts(scripts)
    assert kept == [scripts[0], scripts[1], scripts[3], scripts[4], scripts[5]]
