"""metaprop's API reference is a Sphinx site of its own (docs/metaprop): it builds with
every warning and unresolved reference as an error, with the command of `make docs`, and
documents every public name of the package; `make book` puts it in the book's site as
api/, where the book's pages API reference and Reuse link to it."""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import metaprop
import pytest
from browser import site_build
from browser.sitecheck import Site, is_external, parse
from sphinx.util.inventory import InventoryFile

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "metaprop"


def _make_docs_command() -> list[str]:
    """The sphinx arguments of the Makefile's `docs` recipe, with our paths."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n\t(.*)$", text, re.M).group(1)
    args = recipe.split()
    assert args[:3] == ["$(PY)", "-m", "sphinx"], recipe
    return args[3:]


def _build(source: Path, out: Path) -> subprocess.CompletedProcess:
    args = [
        a.replace("$(API_OUT)", str(out)).replace("docs/metaprop", str(source))
        for a in _make_docs_command()
    ]
    return subprocess.run(
        [sys.executable, "-m", "sphinx", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_make_docs_treats_warnings_and_broken_references_as_errors():
    args = _make_docs_command()
    assert "-W" in args and "-n" in args and "--keep-going" in args


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("api")
    run = _build(DOCS, out)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out / "html"


@pytest.mark.slow
def test_api_site_documents_every_public_name(site):
    with open(site / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", posixpath.join)
    documented = {
        name.removeprefix("metaprop.")
        for kind in ("py:function", "py:class")
        for name in inventory.get(kind, {})
    }
    public = {n for n in metaprop.__all__ if not n.startswith("__")}
    assert public - documented == set(), "public names missing from docs/metaprop/api.rst"


@pytest.mark.slow
def test_api_site_pages_and_offline_math(site):
    api = (site / "api.html").read_text(encoding="utf-8")
    assert 'id="metaprop.meta_prop"' in api
    assert "_static/mathjax/" in api and "cdn.jsdelivr" not in api
    assert metaprop.__version__ in (site / "index.html").read_text(encoding="utf-8")
    changelog = (site / "changelog.html").read_text(encoding="utf-8")
    assert f"[{metaprop.__version__}]" in changelog


@pytest.mark.slow
def test_api_site_build_fails_on_a_broken_reference(tmp_path):
    broken = tmp_path / "src"
    shutil.copytree(DOCS, broken, ignore=shutil.ignore_patterns("_build"))
    # conf.py finds the package from its own folder: point it at this checkout
    conf = broken / "conf.py"
    conf.write_text(
        conf.read_text(encoding="utf-8").replace(
            "ROOT = Path(__file__).resolve().parents[2]", f"ROOT = Path({str(ROOT)!r})"
        ),
        encoding="utf-8",
    )
    for name in ("readme.md", "changelog.md"):
        (broken / name).write_text(
            (broken / name).read_text(encoding="utf-8").replace("../../", f"{ROOT}/"),
            encoding="utf-8",
        )
    api = broken / "api.rst"
    api.write_text(
        api.read_text(encoding="utf-8") + "\nSee :func:`metaprop.no_such_function`.\n",
        encoding="utf-8",
    )
    run = _build(broken, tmp_path / "out")
    assert run.returncode != 0
    assert "no_such_function" in run.stdout + run.stderr


# the book's pages that link to the API site, and where `make book` puts that site
LINKING_PAGES = ("chapters/api/index.html", "chapters/reuse/index.html")
API_IN_BOOK = "api/index.html"


def test_make_book_puts_the_api_site_into_the_book():
    """`make book` builds the API site and copies it into the book's site as api/."""
    run = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "book", "PY=python", "SITE=SITE"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    sphinx = next(i for i, line in enumerate(lines) if "-m sphinx" in line)
    book = next(i for i, line in enumerate(lines) if "-m review build" in line)
    copy = lines.index("cp -R _build/api/html SITE/api")
    assert sphinx < copy and book < copy


@pytest.mark.slow  # builds the book (shared with the browser tests and the link check)
def test_book_links_to_the_api_site_inside_the_built_site(tmp_path_factory):
    """In the book built as `make book` builds it, the pages API reference and Reuse link
    to the API site's start page in the book's api/ (not to the book's own API chapter),
    and the link resolves."""
    built = site_build.hostile_site(tmp_path_factory)
    book = Site(built.html)
    start = built.html / API_IN_BOOK
    for page in LINKING_PAGES:
        links = [
            url
            for tag, url in parse(built.html / page).urls
            if tag == "a"
            and not is_external(url)
            and ((built.html / page).parent / urlsplit(url).path).resolve() == start
        ]
        assert links, f"{page} does not link to {API_IN_BOOK}"
        for url in links:
            assert book.check_url(page, url) is None, (page, url)
    assert f"metaprop {metaprop.__version__}" in start.read_text(encoding="utf-8")
