"""Releases of the living review and the comparison with the last one (What changed)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from review import release
from review.data import hashes, versions

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"
DAY = dt.date(2026, 1, 15)


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(FIXTURE, folder)
    return folder


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_status_before_any_release(data):
    info = versions.status(data)
    assert info["version"] == "unreleased"
    assert info["last_release"] == "none"
    assert info["data_hash"] == versions.data_hash(data)
    assert len(info["data_hash"]) == versions.SHORT_HASH
    # the latest date in the data, and the latest screening date as the last search
    _, screening = _rows(data / "screening.csv")
    assert info["search_date"] == max(r["date"] for r in screening if r["date"])


def test_release_snapshots_tables_and_pooled_results(data):
    target = release.make_release("1.0", data, ROOT, today=DAY)
    manifest = json.loads((target / versions.MANIFEST).read_text())
    assert manifest["version"] == "1.0"
    assert manifest["date"] == DAY.isoformat()
    assert manifest["data_hash"] == versions.data_hash(data, short=False)
    for table in versions.data_tables(data):
        copy = target / release.TABLES / table.name
        assert copy.read_bytes() == table.read_bytes()
        assert manifest["files"][f"{release.TABLES}/{table.name}"] == hashes.sha256_file(copy)
    pooled = pd.read_csv(target / release.POOLED)
    expected = release.pooled_results(data, ROOT)
    # outcomes with no study keep their row, with no estimate (NaN on both sides)
    assert pooled["estimate"].isna().tolist() == expected["estimate"].isna().tolist()
    both = pooled["estimate"].notna()
    assert pooled.loc[both, "estimate"].tolist() == pytest.approx(
        expected.loc[both, "estimate"].tolist(), rel=1e-12
    )
    assert list(pooled.columns) == release.POOLED_COLUMNS
    assert {"OR", "CR", "MRD_neg"} <= set(pooled["outcome"])
    assert set(pooled["certainty"].dropna()) <= {
        "high",
        "moderate",
        "low",
        "very low",
        "no evidence",
    }
    # the release does not change the data hash, and the version is now the release's
    assert versions.status(data)["version"] == "1.0"


def test_release_never_overwrites_and_checks_the_version(data):
    release.make_release("1.0", data, ROOT, today=DAY)
    with pytest.raises(release.ReleaseError, match="exists already"):
        release.make_release("1.0", data, ROOT, today=DAY)
    for bad in ("", "../x", ".hidden", " 1.1"):
        with pytest.raises(release.ReleaseError, match="bad version"):
            release.make_release(bad, data, ROOT, today=DAY)


def test_failed_release_leaves_nothing(data, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("interrupted")

    # fail after the tables are copied, while the pooled results are written
    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(RuntimeError):
        release.make_release("1.0", data, ROOT, today=DAY)
    assert list((data / versions.RELEASES).iterdir()) == []


def test_changed_data_shows_as_unreleased_changes(data):
    release.make_release("1.0", data, ROOT, today=DAY)
    fields, rows = _rows(data / "studies.csv")
    rows[0]["year"] = str(int(rows[0]["year"]) + 1)
    _write(data / "studies.csv", fields, rows)
    assert versions.status(data)["version"] == "1.0 + unreleased changes"


def test_table_changes_lists_added_removed_and_corrected_fields(tmp_path, data):
    old = tmp_path / "old"
    shutil.copytree(data, old)
    fields, rows = _rows(data / "studies.csv")
    removed = rows.pop(1)["study_id"]
    rows[0]["regimen_group"] = "ino_mono"
    before = _rows(old / "studies.csv")[1][0]["regimen_group"]
    added = {**rows[2], "study_id": "fx99"}
    _write(data / "studies.csv", fields, [*rows, added])
    changes = release.table_changes(old, data)
    studies = changes[changes["table"] == "studies.csv"]
    assert set(studies.loc[studies["change"] == "added", "key"]) == {"fx99"}
    assert set(studies.loc[studies["change"] == "removed", "key"]) == {removed}
    corrected = studies[studies["change"] == "corrected"]
    assert corrected[["key", "field", "old", "new"]].values.tolist() == [
        [rows[0]["study_id"], "regimen_group", before, "ino_mono"]
    ]


def test_pooled_changes_lists_what_moved_beyond_rounding():
    key = {"outcome": "OR", "population": "all", "subgroup_by": "all", "subgroup": "all"}
    old = pd.DataFrame([{**key, "k": 5, "estimate": 0.7001, "ci_low": 0.6, "ci_high": 0.8}])
    same = old.assign(estimate=0.70012)  # shown as 70.0% both times
    moved = old.assign(k=6, estimate=0.712)
    assert release.pooled_changes(old, same).empty
    out = release.pooled_changes(old, moved)
    assert out[["k_old", "k_new", "estimate_old", "estimate_new"]].values.tolist() == [
        [5, 6, 0.7001, 0.712]
    ]
    # a certainty rating that moves is a change even when the numbers stay
    rated = old.assign(certainty="low")
    out = release.pooled_changes(rated, same.assign(certainty="very low"))
    assert out[["certainty_old", "certainty_new"]].values.tolist() == [["low", "very low"]]


def test_diff_from_last_compares_with_the_latest_release(data):
    release.make_release("1.0", data, ROOT, today=DAY)
    fields, rows = _rows(data / "outcomes.csv")
    row = next(r for r in rows if r["outcome"] == "CR" and r["primary"] == "true")
    row["events"] = str(int(row["events"]) - 3)
    _write(data / "outcomes.csv", fields, rows)
    diff = release.diff_from_last(data, ROOT)
    assert diff.last["version"] == "1.0"
    assert diff.counts()["fields_corrected"] == "1"
    assert "CR" in set(diff.pooled["outcome"])
    assert "OR" not in set(diff.pooled["outcome"])
    assert list(dict.fromkeys(diff.history["version"])) == ["1.0", "1.0 + unreleased changes"]
    axes = release.plot_history(diff.history)
    # a panel per population, a marker series per version, the key outcomes on the x axis
    assert len(axes) == diff.history["population"].nunique()
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == [
        "1.0",
        "1.0 + unreleased changes",
    ]
    shown = {t.get_text() for t in axes[-1].get_xticklabels()}
    assert "complete remission" in shown and not any("grade 3" in s for s in shown)
    # the legend lies above the first panel: it covers no data point
    fig = axes[0].figure
    fig.canvas.draw()
    legend = axes[0].get_legend().get_window_extent()
    assert legend.y0 >= axes[0].get_window_extent().y1
    assert diff.certainty_changes().columns.tolist() == [
        "outcome",
        "population",
        "certainty_old",
        "certainty_new",
        "reasons_new",  # why the new rating is what it is (issue 21)
    ]


def test_release_command_validates_then_snapshots(data, capsys):
    from review import cli

    assert cli.main(["release", "2.0", "--data", str(data)]) == 0
    assert "Release 2.0 written" in capsys.readouterr().out
    assert (data / versions.RELEASES / "2.0" / versions.MANIFEST).is_file()
    assert cli.main(["release", "2.0", "--data", str(data)]) == 1
    assert "exists already" in capsys.readouterr().err


def test_a_released_version_is_compared_with_the_release_before_it(data):
    release.make_release("1.0", data, ROOT, today=DAY)
    first = release.diff_from_last(data, ROOT)
    # the data are release 1.0 itself: nothing earlier, so everything counts as new
    assert first.last is None and first.current["version"] == "1.0"
    assert "the first of this living review" in first.summary()
    assert list(dict.fromkeys(first.history["version"])) == ["1.0"]
    fields, rows = _rows(data / "outcomes.csv")
    row = next(r for r in rows if r["outcome"] == "CR" and r["primary"] == "true")
    row["events"] = str(int(row["events"]) - 3)
    _write(data / "outcomes.csv", fields, rows)
    release.make_release("1.1", data, ROOT, today=DAY)
    second = release.diff_from_last(data, ROOT)
    assert second.last["version"] == "1.0" and second.current["version"] == "1.1"
    assert second.counts()["fields_corrected"] == "1"
    assert list(dict.fromkeys(second.history["version"])) == ["1.0", "1.1"]
