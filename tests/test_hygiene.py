"""The test suite leaves the book alone, and published files hold no local paths (issue 23)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from _site import ROOT
from review.pipeline import cache as cache_mod


def test_build_leftovers_in_the_checkout_do_not_change_the_environment_fingerprint(
    tmp_path, monkeypatch
):
    """`make test` builds the wheel, which leaves ``lib/metaprop.egg-info`` on ``sys.path``
    (the editable install puts ``lib/`` there); the installed packages did not change."""
    checkout = tmp_path / "checkout"
    (checkout / "lib").mkdir(parents=True)
    site = tmp_path / "site-packages"
    (site / "numpy-2.0.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(cache_mod, "SOURCE_TREE", checkout)
    monkeypatch.setattr(sys, "path", [str(site), str(checkout / "lib")])
    before = cache_mod.environment_fingerprint()
    (checkout / "lib" / "metaprop.egg-info").mkdir()
    (checkout / "build").mkdir()
    assert cache_mod.environment_fingerprint() == before
    # an installed package that does change still changes it
    (site / "numpy-2.0.0.dist-info").rename(site / "numpy-2.1.0.dist-info")
    assert cache_mod.environment_fingerprint() != before


def test_the_suite_removes_its_temporary_folders(pytestconfig):
    """A passing test's folder goes at once, the session's when all passed (pytest's
    ``tmp_path_retention_policy``); the builds the tests make are large."""
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"
    assert int(pytestconfig.getini("tmp_path_retention_count")) <= 1


def _local_paths(data: Path, out: Path) -> list[str]:
    """Absolute paths of the machine that built: the checkout, data, build folder, the
    temporary folder and the Python installation."""
    found = {str(ROOT), str(data.resolve()), str(out.resolve()), sys.prefix}
    found.add(str(Path(tempfile.gettempdir()).resolve()) + "/")
    return sorted(found)


@pytest.mark.slow
def test_published_sources_and_pages_hold_no_local_path(site):
    data, out, _ = site
    html = (out / "html").resolve()
    paths = _local_paths(data, out)
    checked = 0
    for path in [*html.rglob("*.html"), *html.glob("_sources/**/*.ipynb")]:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [p for p in paths if p in text]
        assert not leaked, f"{path.relative_to(html)} holds {leaked}"
        checked += 1
    assert checked > 30
    assert any(html.glob("_sources/**/*.ipynb"))


def test_local_folders_in_outputs_and_metadata_become_book_names(tmp_path):
    import nbformat
    from review.pipeline import params
    from review.pipeline.execute import strip_local_paths

    page = params.Page("outcome", "cr", None, "Efficacy", {"outcome": "CR"})
    entry, data = tmp_path / "build" / ".cache" / ".tmp-x", tmp_path / "data"
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": "/tmp/review-input-1/input.ipynb"}
    code = nbformat.v4.new_code_cell("print(1)  # /kept/in/the/code")
    code.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text=f"{ROOT}/lib/review/analysis/memo.py:3: UserWarning: x\n"
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/plain": f"{data}/studies.csv", "image/png": "/tmp/AAAA"}
        ),
    ]
    nb.cells = [code]
    strip_local_paths(nb, page, {str(entry): ".", str(data): "data", str(ROOT): "."})
    assert nb.metadata["papermill"]["input_path"] == "chapters/outcome.md"
    assert code.outputs[0]["text"] == "./lib/review/analysis/memo.py:3: UserWarning: x\n"
    assert code.outputs[1]["data"]["text/plain"] == "data/studies.csv"
    assert code.outputs[1]["data"]["image/png"] == "/tmp/AAAA"  # image data untouched
    assert code.source.endswith("/kept/in/the/code")
