"""Links of the built site, offline; and the scheduled external-link check, without network.

The internal check runs on the session's book build (fixture data with hostile text, see
``tests/browser/site_build.py``): every link, anchor, image, script and stylesheet that
stays inside the site must resolve. External links are the business of
``scripts/check_external_links.py``, run on a schedule; here it is only exercised against a
local server and a closed port.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from browser import site_build
from browser.sitecheck import Site

SCRIPT = site_build.REPO / "scripts" / "check_external_links.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return site_build.hostile_site(tmp_path_factory)


@pytest.mark.slow  # builds the book (shared with the browser tests when both run)
def test_built_site_has_no_broken_internal_link(built):
    """Every internal link, anchor and resource of every page of the book resolves."""
    site = Site(built.html)
    assert len(site.html_files()) >= len(site_build.toc_pages())
    problems = site.problems()
    assert not problems, "\n".join(problems)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_checker_reports_each_kind_of_broken_link(tmp_path):
    """The offline checker finds a missing page, a missing anchor, a missing image, a path
    out of the site and a javascript: URL, and accepts what is fine."""
    _write(tmp_path / "a" / "index.html", '<h1 id="top">A</h1><img src="../fig.png">')
    _write(tmp_path / "fig.png", "png")
    _write(
        tmp_path / "index.html",
        '<a href="a/index.html#top">ok</a> <a href="a/">dir</a> <a href="#here" id="here">x</a>'
        ' <a href="https://doi.org/10.1/x">external</a> <a href="mailto:x@y.z">mail</a>'
        ' <a href="b.html">missing page</a> <a href="a/index.html#nowhere">missing anchor</a>'
        ' <img src="missing.png"> <a href="../../etc/passwd">outside</a>'
        ' <a href="javascript:alert(1)">js</a>',
    )
    problems = Site(tmp_path).problems()
    assert len(problems) == 5, problems
    for expected in ("b.html", "#nowhere", "missing.png", "outside the site", "javascript:"):
        assert any(expected in p for p in problems), (expected, problems)


def _load_script():
    spec = importlib.util.spec_from_file_location("check_external_links", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def test_external_check_collects_site_and_data_links(tmp_path):
    """DOIs and source URLs of the data, and http(s) links of the pages, are collected."""
    script = _load_script()
    _write(tmp_path / "site" / "p.html", '<a href="https://a.org/x">x</a><a href="p2.html">y</a>')
    found = script.site_links(tmp_path / "site")
    assert found == {"https://a.org/x": {"p.html"}}
    data = script.data_links(site_build.FIXTURE)
    assert any(url.startswith("https://doi.org/10.") for url in data)
    assert script.is_reserved("https://example.org/fixture/fx01")
    assert not script.is_reserved("https://doi.org/10.1056/NEJMoa1509277")


def test_external_check_says_when_offline(tmp_path):
    """Without network (a probe to a closed port) it checks nothing and says so: exit 2."""
    _write(tmp_path / "site" / "p.html", '<a href="https://doi.org/10.1/x">x</a>')
    proc = _run(
        "--site", str(tmp_path / "site"), "--data", str(tmp_path / "none"),
        "--probe", f"http://127.0.0.1:{_closed_port()}/", "--timeout", "2",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "OFFLINE" in proc.stderr and "No external link was checked" in proc.stderr


def test_external_check_lists_broken_links(tmp_path):
    """Against a local server: the missing file is reported with its page, exit 1."""
    served = tmp_path / "served"
    _write(served / "ok.html", "fine")
    server = site_build.Server(served)
    try:
        _write(
            tmp_path / "site" / "p.html",
            f'<a href="{server.url}ok.html">ok</a> <a href="{server.url}gone.html">gone</a>',
        )
        proc = _run(
            "--site", str(tmp_path / "site"), "--data", str(tmp_path / "none"),
            "--probe", server.url, "--timeout", "5",
        )  # fmt: skip
    finally:
        server.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [line for line in proc.stdout.splitlines() if "BROKEN" in line]
    assert len(broken) == 1 and "gone.html: HTTP 404" in broken[0] and "p.html" in broken[0]
    assert "1 ok, 0 unsure, 1 broken" in proc.stdout
