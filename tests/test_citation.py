"""The repository can be cited and reused: a licence, two CITATION.cff files (the review at
the root, metaprop in lib/metaprop) valid against the Citation File Format 1.2.0 schema
(the copy check-jsonschema ships; cffconvert, the format's own validator, pins
jsonschema<4, which the book's environment cannot take),
and a changelog in the Keep a Changelog format whose newest release names the version and
date that the citation and ``metaprop._version`` carry."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import metaprop
import pytest
import tomllib
import yaml
from _tools import schema_errors

ROOT = Path(__file__).resolve().parents[1]
REVIEW_CFF = ROOT / "CITATION.cff"
METAPROP_CFF = ROOT / "lib" / "metaprop" / "CITATION.cff"
CHANGELOG = ROOT / "lib" / "metaprop" / "CHANGELOG.md"
LICENSE = ROOT / "LICENSE"
HOLDER = "The InO living review authors"

# Semantic Versioning 2.0.0, the regular expression its text recommends (semver.org, "Is
# there a suggested regular expression..."), written here for X.Y.Z with optional
# pre-release and build parts.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Keep a Changelog 1.1.0: the kinds of change a release section may hold
CHANGE_KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def _load_cff(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    # the schema's own note: YAML dates are cast to strings before validation
    def cast(value):
        if isinstance(value, dict):
            return {k: cast(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cast(v) for v in value]
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    return cast(data)


def _cff_errors(path: Path) -> str:
    return schema_errors(path, "vendor.citation-file-format")


def changelog_releases(text: str) -> list[tuple[str, dt.date]]:
    """The dated releases of a Keep a Changelog file, newest first; ValueError when the file
    does not follow the format (an Unreleased section first, then `## [X.Y.Z] - date`
    headings with semantic versions, newest first, change kinds from the format's list)."""
    headings = re.findall(r"^## (.*)$", text, re.M)
    if not headings or headings[0] != "[Unreleased]":
        raise ValueError("the first section must be '## [Unreleased]'")
    releases = []
    for heading in headings[1:]:
        m = re.fullmatch(r"\[([^\]]+)\] - (\d{4}-\d{2}-\d{2})", heading)
        if not m:
            raise ValueError(f"release heading {heading!r} is not '[X.Y.Z] - YYYY-MM-DD'")
        version, date = m.groups()
        if not SEMVER.match(version):
            raise ValueError(f"release {version!r} is not a semantic version")
        releases.append((version, dt.date.fromisoformat(date)))
    keys = [(tuple(int(p) for p in re.match(r"\d+\.\d+\.\d+", v)[0].split(".")), d)
            for v, d in releases]  # fmt: skip
    for newer, older in zip(keys, keys[1:], strict=False):
        if not (newer[0] > older[0] and newer[1] >= older[1]):
            raise ValueError("releases must be listed newest first, by version and date")
    for kind in re.findall(r"^### (.*)$", text, re.M):
        if kind not in CHANGE_KINDS:
            raise ValueError(f"change kind {kind!r} is not one of {', '.join(CHANGE_KINDS)}")
    return releases


def test_license_is_mit_with_the_holder_and_matches_the_metadata():
    text = LICENSE.read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert re.search(rf"^Copyright \(c\) \d{{4}} {re.escape(HOLDER)}$", text, re.M)
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]


@pytest.mark.parametrize("path", [REVIEW_CFF, METAPROP_CFF], ids=["review", "metaprop"])
def test_citation_files_are_valid_cff_1_2_0(path):
    assert _cff_errors(path) == ""
    data = _load_cff(path)
    assert data["cff-version"] == "1.2.0"
    assert data["license"] == "MIT"
    assert {"name": HOLDER} in data["authors"]
    assert SEMVER.match(str(data["version"]))
    dt.date.fromisoformat(data["date-released"])


def test_schema_check_rejects_a_broken_citation(tmp_path):
    data = _load_cff(METAPROP_CFF)
    del data["authors"]
    data["date-released"] = "6 Dec 2026"
    broken = tmp_path / "CITATION.cff"
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    errors = _cff_errors(broken)
    assert "'authors' is a required property" in errors
    assert "6 Dec 2026" in errors


def test_metaprop_citation_version_and_date_are_the_newest_release():
    (newest, *_) = changelog_releases(CHANGELOG.read_text(encoding="utf-8"))
    data = _load_cff(METAPROP_CFF)
    assert (data["version"], data["date-released"]) == (newest[0], newest[1].isoformat())
    assert metaprop.__version__ == newest[0]


def test_review_citation_names_its_package_version_and_the_library_it_ships():
    review_version = tomllib.loads(
        (ROOT / "lib" / "review" / "pyproject.toml").read_text(encoding="utf-8")
    )["project"]["version"]
    data = _load_cff(REVIEW_CFF)
    assert data["version"] == review_version
    (library,) = [r for r in data["references"] if r["title"].startswith("metaprop")]
    assert library["version"] == metaprop.__version__
    # the meta-analysis the review starts from is cited with its DOI (references.bib)
    assert any(r.get("doi") == "10.3389/fonc.2025.1613777" for r in data["references"])


def test_changelog_follows_keep_a_changelog():
    releases = changelog_releases(CHANGELOG.read_text(encoding="utf-8"))
    assert releases, "no dated release in the changelog"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Changelog\n\n## [0.1.0] - 2026-12-06\n", "Unreleased"),
        ("## [Unreleased]\n\n## 0.1.0 (unreleased)\n", "YYYY-MM-DD"),
        ("## [Unreleased]\n\n## [0.1] - 2026-12-06\n", "semantic version"),
        ("## [Unreleased]\n\n## [0.1.0] - 2026-12-06\n\n## [0.2.0] - 2026-12-07\n", "newest"),
        ("## [Unreleased]\n\n## [0.1.0] - 2026-12-06\n\n### New\n", "change kind"),
    ],
    ids=["no-unreleased", "old-heading", "not-semver", "wrong-order", "unknown-kind"],
)
def test_changelog_check_rejects_other_formats(text, message):
    with pytest.raises(ValueError, match=message):
        changelog_releases(text)


def test_no_placeholder_addresses_in_the_metadata():
    """Project addresses are real or absent: no example.* or .invalid host in either
    package's [project.urls], the CITATION.cff files, the API site's and the book's
    configuration."""
    texts = []
    for pyproject in (ROOT / "pyproject.toml", ROOT / "lib" / "review" / "pyproject.toml"):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        texts.append(json.dumps(project.get("urls", {})))
    texts += [p.read_text(encoding="utf-8") for p in (REVIEW_CFF, METAPROP_CFF)]
    texts += [
        (ROOT / p).read_text(encoding="utf-8") for p in ("docs/metaprop/conf.py", "_config.yml")
    ]
    for text in texts:
        for host in re.findall(r"https?://([^/\s\"']+)", text):
            assert not re.search(r"(^|\.)example\.|\.(invalid|test|localhost)$", host), host


def test_no_file_names_the_placeholder_host():
    """No tracked file holds the placeholder host that pyproject.toml once named
    (``example`` + ``.invalid``, RFC 2606), not even a test."""
    placeholder = "example" + ".invalid"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    holding = [
        name
        for name in files
        if name
        and (ROOT / name).is_file()
        and placeholder in (ROOT / name).read_text(encoding="utf-8", errors="ignore")
    ]
    assert holding == [], holding
