"""The fixture book and the helpers to build it, shared by the tests that read a built site.

``build_fixture_site`` builds the whole book on a copy of ``tests/fixtures/data_small`` (one
study's author renamed ``<script>alert(1)</script>`` to check that data text stays text)
with ``python -m review build`` exactly as a reviewer runs it. A build takes about two
minutes, so ``conftest.py`` makes it the session fixture ``site``, built once and shared
by ``test_build.py`` and ``test_book_metafor.py``; tests that change the build work on a
copy of it.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

from review.data import hashes

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"
HOSTILE = "<script>alert(1)</script>"


def run_build(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m review build --data DATA --out OUT [extra]`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "review", "build", "--data", str(data), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def tree_hash(folder: Path) -> str:
    """Hash of every file under ``folder`` (links followed)."""
    return hashes.hash_tree(folder.resolve())


def edit_rows(data: Path, table: str, match: dict, changes: dict) -> None:
    """Set ``changes`` in every row of ``data/table`` whose columns equal ``match``."""
    path = data / table
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    hit = 0
    for row in rows:
        if all(row[k] == v for k, v in match.items()):
            row.update(changes)
            hit += 1
    assert hit, f"no row of {table} matches {match}"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def build_fixture_site(base: Path) -> tuple[Path, Path, str]:
    """A cold build of the fixture book under ``base``; returns (data folder, build folder,
    the build's output)."""
    data = base / "data"
    shutil.copytree(FIXTURE, data)
    edit_rows(data, "studies.csv", {"study_id": "fx03"}, {"first_author": HOSTILE})
    out = base / "_build"
    before = tree_hash(data)
    proc = run_build(data, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tree_hash(data) == before, "the build wrote into the data folder"
    return data, out, proc.stdout
