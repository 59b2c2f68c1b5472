"""Search strategies (PRISMA-S) and the screening rules that gate inclusion."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from review import data
from review.book import searches
from review.data import screen, validate

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
PAPER = ROOT.parent / "shared" / "paper" / "lao2025_article.txt"


@pytest.fixture
def ddir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    return d


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def _set(path: Path, line: int, column: str, value: str) -> None:
    table = _rows(path)
    table[line - 1][table[0].index(column)] = value
    _write(path, table)


def _append(path: Path, **cells: str) -> int:
    table = _rows(path)
    header = table[0]
    table.append([cells.get(c, "") for c in header])
    _write(path, table)
    return len(table)


def _find(report, file, line, column, rule, severity="error"):
    pool = report.errors if severity == "error" else report.warnings
    hits = [p for p in pool if p.file == file and p.line == line and p.column == column]
    hits = [p for p in hits if rule in p.rule]
    assert hits, f"no {severity} {file}:{line} [{column}] {rule!r} in:\n{report}"


# --- the strategies table -----------------------------------------------------------------------


def _strategies() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "search_strategies.csv", dtype=str, keep_default_na=False)


@pytest.mark.skipif(not PAPER.is_file(), reason="source paper not available")
def test_round_one_quotes_are_verbatim_from_the_paper():
    text = " ".join(PAPER.read_text(encoding="utf-8").split())
    s = _strategies()
    quoted = s[(s["search_round"] == "lao2024") & (s["quote"] != "")]
    assert len(quoted) == len(s[s["search_round"] == "lao2024"])
    for q in quoted["quote"]:
        assert " ".join(q.split()) in text, q[:80]
    assert all("10.3389/fonc.2025.1613777" in r for r in quoted["reference"])


@pytest.mark.skipif(not PAPER.is_file(), reason="source paper not available")
def test_pubmed_strategy_is_the_papers_string():
    s = _strategies()
    row = s[(s["search_round"] == "lao2024") & (s["source"] == "MEDLINE via PubMed")].iloc[0]
    text = PAPER.read_text(encoding="utf-8").replace("\u201c", '"').replace("\u201d", '"')
    assert row["strategy"] in text
    assert row["date_to"] == "2024-12-02"


def test_every_round_of_the_log_says_which_searches_were_database_searches():
    s = _strategies()
    log = pd.read_csv(ROOT / "data" / "screening.csv", dtype=str, keep_default_na=False)
    for rnd in set(log["search_round"]):
        kinds = set(s.loc[s["search_round"] == rnd, "kind"])
        assert kinds, rnd
        # the informal look-ups of a round are labelled as such, and so is every database
        # the round did not search
        if not searches.database_searched(s, rnd):
            assert "informal_lookup" in kinds and "not_searched" in kinds


def test_strategy_table_is_in_words():
    table = searches.strategy_table(data.load(ROOT / "data").search_strategies)
    assert list(table.columns) == [
        "Round",
        "Source",
        "Kind of search",
        "Strategy",
        "Limits",
        "Period covered",
        "Run on",
        "Run by",
        "Described in",
    ]
    assert not table.isna().any().any()
    codes = set(searches.KIND_WORDS)
    assert not set(table["Kind of search"]) & codes
    assert "Round 1: the source paper" in set(table["Round"])
    first = table[table["Source"] == "MEDLINE via PubMed"].iloc[0]
    assert first["Period covered"] == "inception to 2 December 2024"
    assert first["Run on"] == "not stated"


def test_a_search_without_strategy_or_date_fails(ddir):
    path = ddir / "search_strategies.csv"
    _set(path, 2, "strategy", "")
    _set(path, 2, "date_run", "")
    _set(path, 2, "date_to", "")
    report = validate.run(ddir)
    _find(report, "search_strategies.csv", 2, "strategy", "states its strategy")
    _find(report, "search_strategies.csv", 2, "date_run", "states its date")


def test_a_source_not_searched_needs_no_strategy(ddir):
    path = ddir / "search_strategies.csv"
    _append(
        path, search_round="fixture_update", source="WHO ICTRP", kind="not_searched", reference="x"
    )
    assert validate.run(ddir).ok


def test_unknown_search_kind_fails(ddir):
    _set(ddir / "search_strategies.csv", 2, "kind", "google")
    _find(validate.run(ddir), "search_strategies.csv", 2, "kind", "known code")


def test_a_round_of_the_log_without_strategies_fails(ddir):
    _set(ddir / "screening.csv", 2, "search_round", "undocumented")
    _find(validate.run(ddir), "screening.csv", 2, "search_round", "described in search_strat")


# --- screening gates inclusion ----------------------------------------------------------------


def _add_study(ddir: Path, sid: str, in_paper: str = "false", role: str = "added") -> int:
    path = ddir / "studies.csv"
    table = _rows(path)
    header = table[0]
    row = list(table[1])  # a copy of a valid study row, renamed
    row[header.index("study_id")] = sid
    row[header.index("in_source_paper")] = in_paper
    row[header.index("id_role")] = role
    row[header.index("paper_ref")] = "" if in_paper == "false" else row[header.index("paper_ref")]
    for col in ("doi", "pmid", "nct", "cohort_id"):
        row[header.index(col)] = ""
    table.append(row)
    _write(path, table)
    return len(table)


def test_added_study_without_include_record_fails(ddir):
    line = _add_study(ddir, "fx_new")
    _find(validate.run(ddir), "studies.csv", line, "study_id", "has an include record")


def test_added_study_with_include_record_passes(ddir):
    _add_study(ddir, "fx_new")
    _append(
        ddir / "screening.csv",
        record_id="fx-s3",
        search_round="fixture_update",
        date="2025-01-10",
        source="pubmed",
        record="A new eligible study",
        stage="full_text",
        decision="include",
        study_id="fx_new",
    )
    assert validate.run(ddir).ok


def test_a_duplicate_record_does_not_let_a_study_in(ddir):
    _add_study(ddir, "fx_new")
    _append(
        ddir / "screening.csv",
        record_id="fx-s3",
        search_round="fixture_update",
        date="2025-01-10",
        source="pubmed",
        record="Another copy",
        stage="abstract",
        decision="duplicate",
        study_id="fx_new",
    )
    assert not validate.run(ddir).ok


def test_runner_up_identification_needs_no_screening_record(ddir):
    _add_study(ddir, "fx_alt2", in_paper="false", role="runner_up")
    report = validate.run(ddir)
    assert not [p for p in report.errors if "include record" in p.rule], str(report)


def test_included_record_must_name_a_known_study(ddir):
    path = ddir / "screening.csv"
    _set(path, 3, "study_id", "")
    _find(validate.run(ddir), "screening.csv", 3, "study_id", "names its study_id")
    _set(path, 3, "study_id", "no_such_study")
    _find(validate.run(ddir), "screening.csv", 3, "study_id", "unknown study")


def test_exclusion_needs_a_reason_code_from_the_list(ddir):
    path = ddir / "screening.csv"
    _set(path, 2, "reason_code", "")
    _find(validate.run(ddir), "screening.csv", 2, "reason_code", "gives a reason code")
    _set(path, 2, "reason_code", "did_not_like_it")
    _find(validate.run(ddir), "screening.csv", 2, "reason_code", "known code")


def test_outside_window_is_only_a_warning(ddir):
    _set(ddir / "screening.csv", 2, "reason_code", "outside_window")
    report = validate.run(ddir)
    assert report.ok
    _find(report, "screening.csv", 2, "reason_code", "outside_window", severity="warning")


def test_duplicate_must_say_of_what(ddir):
    path = ddir / "screening.csv"
    line = _append(
        path,
        record_id="fx-s3",
        search_round="fixture_update",
        date="2025-01-10",
        source="pubmed",
        record="Copy",
        stage="abstract",
        decision="duplicate",
    )
    _find(validate.run(ddir), "screening.csv", line, "duplicate_of", "what it duplicates")
    _set(path, line, "duplicate_of", "fx-s9")
    _find(validate.run(ddir), "screening.csv", line, "duplicate_of", "names another record")
    _set(path, line, "duplicate_of", "fx-s1")
    assert validate.run(ddir).ok


def test_pending_record_is_valid(ddir):
    _append(
        ddir / "screening.csv",
        record_id="fx-s3",
        search_round="fixture_update",
        date="2025-01-10",
        source="pubmed",
        record="Not yet screened",
        stage="title",
        decision="pending",
    )
    assert validate.run(ddir).ok


# --- migration ----------------------------------------------------------------------------------


def test_migration_keeps_every_cell_and_adds_the_new_columns():
    old = pd.DataFrame(
        {
            "record_id": ["a-1", "a-2", "a-3", "a-4"],
            "search_round": ["a"] * 4,
            "date": ["2026-01-01"] * 4,
            "source": ["s"] * 4,
            "record": ["r"] * 4,
            "identifier": [
                "PMID:35142153; doi:10.3324/haematol.2021.280433",
                "EudraCT 2018-001557-27 / NCT03677596",
                "Blood 140(Suppl 1):8906",
                "doi:10.1056/NEJMoa1509277",
            ],
            "url": [""] * 4,
            "stage": ["abstract"] * 4,
            "decision": ["exclude", "duplicate", "exclude", "include"],
            "reason": ["Paediatric population.", "Same trial", "Review.", "Eligible"],
            "study_id": ["", "s1", "", "s2"],
            "note": ["n1", "", "", ""],
        }
    )
    new = screen.migrate(old)
    assert list(new.columns[: len(old.columns)]) == list(old.columns)
    pd.testing.assert_frame_equal(new[old.columns], old)
    assert new["reason_code"].tolist() == ["not_adult", "", "design", ""]
    assert new["pmid"].tolist() == ["35142153", "", "", ""]
    assert new["doi"].tolist() == ["10.3324/haematol.2021.280433", "", "", "10.1056/nejmoa1509277"]
    assert new["nct"].tolist() == ["", "NCT03677596", "", ""]
    pd.testing.assert_frame_equal(screen.migrate(new), new)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Review (systematic literature review of 34 publications).", "design"),
        ("Case series of 3 patients.", "design"),
        (
            "Study of CAR-T outcomes in which only a subset had prior InO (exclusion 2).",
            "ino_subset",
        ),
        ("Includes a patient aged 15 and reports a transplanted subset.", "not_adult"),
        ("Subgroup of ref 18 (overlap); predates.", "subgroup"),
        (
            "Predates; prescription patterns, no efficacy or safety outcome of the review.",
            "no_outcome",
        ),
        ("Published 2022: outside this update's window.", "outside_window"),
        ("Something else entirely.", "other"),
    ],
)
def test_reason_code_rules(reason, code):
    assert screen.reason_code_for(reason) == code


def test_repository_log_is_migrated():
    log = pd.read_csv(ROOT / "data" / "screening.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(screen.migrate(log), log)
    excluded = log[log["decision"] == "exclude"]
    assert (excluded["reason_code"] != "").all()
    assert not re.search(r"other", " ".join(excluded["reason_code"]))


def test_a_logged_round_is_not_typed_in_prisma(ddir):
    path = ddir / "prisma.csv"
    line = _append(path, search_round="fixture_update", step="records_screened", count="2",
                   quote="two", source="typed")  # fmt: skip
    _find(validate.run(ddir), "prisma.csv", line, "search_round", "counted from the log")


def test_screening_table_is_in_words():
    log = data.load(ROOT / "data").screening  # typed: year and export_record are Int64
    table = searches.screening_table(log)
    assert len(table) == len(log)
    assert not table.isna().any().any()
    assert set(table["Decision"]) <= set(searches.DECISION_WORDS.values())
    assert set(table["Read"]) <= set(searches.STAGE_WORDS.values())
    excluded = table[table["Decision"] == "Excluded"]
    assert (excluded["Exclusion criterion"] != "").all()
    assert not any("_" in c for c in excluded["Exclusion criterion"])
    assert (table.loc[table["Decision"] != "Excluded", "Exclusion criterion"] == "").all()
