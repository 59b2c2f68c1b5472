"""Which version of the data this is: the data hash, the releases made so far, and the
status every page shows (version, data hash, dates of the data and of the last search).

The read side of releases; :mod:`review.release` writes them.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from packaging.version import InvalidVersion, Version

from review.data.hashes import hash_tree

RELEASES = "releases"
MANIFEST = "manifest.json"
# Columns whose latest value dates the data, and the one that dates the last search.
DATE_COLUMNS = ("date_public", "date")
SEARCH_TABLE, SEARCH_COLUMN = "screening.csv", "date"
SHORT_HASH = 10


def default_root() -> Path:
    """Book sources the chapters belong to: ``$REVIEW_BOOK_ROOT``, else this checkout."""
    env = os.environ.get("REVIEW_BOOK_ROOT")
    return Path(env) if env else Path(__file__).resolve().parents[3]


def default_data_dir() -> Path:
    """The data folder chapters read: ``$REVIEW_DATA_DIR``, else ``data/`` of this checkout."""
    env = os.environ.get("REVIEW_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "data"


def data_tables(data_dir: Path) -> list[Path]:
    """The data tables: every CSV at the top of the data folder (releases excluded)."""
    return sorted(Path(data_dir).glob("*.csv"))


def data_hash(data_dir: Path, short: bool = True) -> str:
    """Hash of every file of the data folder except the release snapshots."""
    digest = hash_tree(Path(data_dir), exclude=(RELEASES,))
    return digest[:SHORT_HASH] if short else digest


def _latest(path: Path, columns: tuple[str, ...]) -> str | None:
    """Latest non-empty ISO date (full or partial) in ``columns`` of one CSV."""
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        values = [
            row[c].strip()
            for row in csv.DictReader(fh)
            for c in columns
            if (row.get(c) or "").strip()
        ]
    return max(values) if values else None


def version_order(manifest: dict) -> tuple:
    """Sort key of a release: its version as a version (1.9 < 1.10); a folder whose version
    is not one (written before versions were checked) sorts first, by date."""
    try:
        return (1, Version(manifest["version"]), manifest["date"])
    except InvalidVersion:
        return (0, manifest["date"], manifest["version"])


def list_releases(data_dir: Path) -> list[dict]:
    """Manifests of every release, oldest first: ordered as versions (1.9 before 1.10).

    Folders whose name starts with a dot (a release being written) are not releases.
    """
    root = Path(data_dir) / RELEASES
    found = []
    for manifest in root.glob(f"*/{MANIFEST}"):
        if manifest.parent.name.startswith("."):
            continue
        info = json.loads(manifest.read_text(encoding="utf-8"))
        found.append({**info, "path": str(manifest.parent)})
    return sorted(found, key=version_order)


def status(data_dir: Path | None = None) -> dict:
    """Version, data hash and dates of the data in ``data_dir``, as every page shows them.

    The version is that of the last release when the data still hash the same; otherwise
    the last version followed by ``+ unreleased changes`` (or ``unreleased``, before any).
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    full = data_hash(data_dir, short=False)
    releases = list_releases(data_dir)
    last = releases[-1] if releases else None
    if last is None:
        version = "unreleased"
    elif last["data_hash"] == full:
        version = last["version"]
    else:
        version = f"{last['version']} + unreleased changes"
    dates = [_latest(p, DATE_COLUMNS) for p in data_tables(data_dir)]
    dates = [d for d in dates if d]
    return {
        "version": version,
        "last_release": last["version"] if last else "none",
        "last_release_date": last["date"] if last else "none",
        "data_hash": full[:SHORT_HASH],
        "data_date": max(dates) if dates else "not recorded",
        "search_date": _latest(data_dir / SEARCH_TABLE, (SEARCH_COLUMN,)) or "not recorded",
    }
