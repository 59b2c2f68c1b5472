"""Hostile and careless input (issue 24): each attack is refused at its file, line and column.

Every case copies the small valid data folder ``tests/fixtures/data_small``, changes one
thing as an attacker or a careless editor would, and checks the exact problem reported.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from review import data
from review.data import guards, validate
from review.data.plan import PLAN_FILE, default_plan_path, plan_path_for
from test_data_validation import rows, write_rows

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
OUT, STU = "outcomes.csv", "studies.csv"


@pytest.fixture
def ddir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    return d


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    table = rows(path)
    table[line - 1][table[0].index(column)] = value
    write_rows(path, table)


def find(report, file, line, column, rule):
    """The error at exactly this file, line and column whose rule contains ``rule``."""
    hits = [
        p
        for p in report.errors
        if p.file == file and p.line == line and p.column == column and rule in p.rule
    ]
    assert hits, f"no error {file}:{line} [{column}] {rule!r} in:\n{report}"
    assert f"{file}:{line}" + (f" [{column}]" if column else ":") in str(report)
    return hits[0]


# --- column names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("study_id ", "a leading or trailing space"),
        (" study_id", "a leading or trailing space"),
        ("study_id\u00a0", "a no-break space"),
        ("Study_ID", "another letter case"),
        ("\uff53\uff54\uff55\uff44\uff59_id", "look-alike"),  # full-width letters
        ("study\u200b_id", "an invisible character"),  # zero-width space
    ],
)
def test_column_name_that_only_looks_right(ddir, written, why):
    table = rows(ddir / OUT)
    table[0][0] = written
    write_rows(ddir / OUT, table)
    report = validate.run(ddir)
    p = find(report, OUT, 1, "study_id", "column name written exactly")
    assert p.value == written
    assert why in p.detail and "write it as 'study_id'" in p.detail
    # read under its expected name: the rest of the file is still checked, and nothing else
    assert [q.rule for q in report.errors] == ["column name written exactly"]
    with pytest.raises(data.DataError, match="column name written exactly"):
        data.load(ddir)


def test_header_fixes_leaves_exact_names_alone():
    assert guards.header_fixes(["a", "b"], ["a", "b"]) == []
    assert guards.canonical_name("\uff33tudy_\u00a0ID ") == "study_id"


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["FX01", "Fx01", "\uff46\uff58\uff10\uff11", "fx01\u00a0"])
def test_keys_differing_only_in_case_space_or_form_are_one_study(ddir, variant):
    table = rows(ddir / STU)
    copy = list(table[1])
    assert copy[0] == "fx01"
    copy[0] = variant
    table.append(copy)
    write_rows(ddir / STU, table)
    line = len(table)
    report = validate.run(ddir)
    p = find(report, STU, line, "study_id", "keys differ by more than case")
    assert "'fx01' on line 2" in p.detail


def test_key_with_no_break_space_breaks_the_key_form(ddir):
    set_cell(ddir / OUT, 2, "variant", "all\u00a0treated")
    report = validate.run(ddir)
    find(report, OUT, 2, "variant", "key of ASCII letters")


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("2300-01-01", "date not after today"),
        ("2300", "date not after today"),
        ("0001-01-01", "date not before the first report of inotuzumab ozogamicin"),
        ("1999-12", "date not before the first report"),
        ("2003-11-12", "date not before the first report"),
    ],
)
def test_implausible_dates(ddir, value, rule):
    set_cell(ddir / OUT, 2, "date_public", value)
    report = validate.run(ddir)
    p = find(report, OUT, 2, "date_public", rule)
    if "first report" in rule:
        assert "2003-11-13" in p.rule and "PMID 14615373" in p.rule


def test_date_after_today_uses_the_day_of_validation(ddir, monkeypatch):
    monkeypatch.setattr(guards, "today", lambda: dt.date(2013, 5, 31))
    report = validate.run(ddir)  # the fixture's dates are 2013-06 and later
    find(report, OUT, 2, "date_public", "date not after today (2013-05-31)")


@pytest.mark.parametrize("value", ["2003-11-13", "2003-11", "2003"])
def test_dates_that_include_the_first_report_are_accepted(ddir, value):
    set_cell(ddir / OUT, 2, "date_public", value)
    assert validate.run(ddir).ok


@pytest.mark.parametrize(("value", "rule"), [("2300", "not after today"), ("1999", "before")])
def test_implausible_study_year(ddir, value, rule):
    set_cell(ddir / STU, 2, "year", value)
    find(validate.run(ddir), STU, 2, "year", rule)


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("total", "1" + "0" * 30, "number of at most 24 characters"),
        ("total", "9" * 19, "integer within 64 bits"),
        ("total", str(2**63), "integer within 64 bits"),
        ("total", str(2**63 - 1), "value <= 10,000,000"),
        ("total", "1e30", "integer expected"),
        ("total", "50000000", "value <= 10,000,000"),
        ("events", "-" + "9" * 20, "integer within 64 bits"),
        ("estimate_pct", "1e30", "number expected"),
        ("estimate_pct", "1" + "0" * 40, "number of at most 24 characters"),
        ("percent_reported", "100.01", "value <= 100"),
    ],
)
def test_numbers_out_of_declared_range(ddir, column, value, rule):
    set_cell(ddir / OUT, 2, column, value)
    report = validate.run(ddir)
    find(report, OUT, 2, column, rule)
    with pytest.raises(data.DataError):
        data.load(ddir)


def test_study_number_beyond_the_ceiling(ddir):
    set_cell(ddir / STU, 2, "follow_up_median_months", "12345678901")
    find(validate.run(ddir), STU, 2, "follow_up_median_months", "value <= 10,000,000")


# --- identifiers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("doi", "https://doi.org/10.9999/fixture.01", "not as a web address"),
        ("doi", "http://dx.doi.org/10.9999/fixture.01", "not as a web address"),
        ("doi", "doi.org/10.9999/fixture.01", "not as a web address"),
        ("doi", "doi:10.9999/fixture.01", "without the 'doi:' prefix"),
        ("doi", "DOI: 10.9999/fixture.01", "without the 'doi:' prefix"),
        ("doi", "10.99/x", "a DOI as 10.NNNN/suffix"),
        ("doi", "10.9999/has space", "a DOI as 10.NNNN/suffix"),
        ("pmid", "PMID: 30307611", "a PubMed id as digits only"),
        ("pmid", "0123", "a PubMed id as digits only"),
        ("nct", "nct01564784", "NCT and 8 digits"),
        ("nct", "NCT0156478", "NCT and 8 digits"),
    ],
)
def test_identifier_not_in_canonical_form(ddir, column, value, rule):
    set_cell(ddir / STU, 2, column, value)
    p = find(validate.run(ddir), STU, 2, column, rule)
    assert p.value == value


@pytest.mark.parametrize(
    ("column", "value"), [("doi", "10.1182/blood.2023022330"), ("pmid", "30307611")]
)
def test_canonical_identifiers_are_accepted(ddir, column, value):
    set_cell(ddir / STU, 2, column, value)
    assert validate.run(ddir).ok


# --- sizes ----------------------------------------------------------------------------------------


def test_five_megabyte_cell_is_reported_at_its_row_and_column(ddir):
    set_cell(ddir / OUT, 3, "note", "x" * 5_000_000)
    report = validate.run(ddir)
    p = find(report, OUT, 3, "note", f"cell at most {guards.MAX_CELL_CHARS:,} characters")
    assert "unbalanced" not in str(report)
    assert len(str(p)) < 400  # the value is shown shortened


def test_file_beyond_the_size_limit_is_refused_unread(ddir, monkeypatch):
    monkeypatch.setattr(guards, "MAX_FILE_BYTES", 1000)
    report = validate.run(ddir)
    p = next(q for q in report.errors if q.file == OUT)
    assert p.rule == "table file within the size limit"
    assert "the limit is 1,000 bytes" in p.detail


def test_table_beyond_the_row_limit_is_refused_with_the_limit(ddir, monkeypatch):
    monkeypatch.setattr(guards, "MAX_ROWS", 50)
    report = validate.run(ddir)  # the fixture's outcomes.csv has 61 rows
    p = find(report, OUT, 52, None, "table within the row limit")
    assert "61 data rows; the limit is 50 rows" in p.detail


def test_thousands_of_variants_of_one_outcome_are_refused(ddir):
    table = rows(ddir / OUT)
    head, first = table[0], table[1]
    for i in range(2000):
        extra = list(first)
        extra[head.index("variant")] = f"v{i}"
        extra[head.index("primary")] = "false"
        table.append(extra)
    write_rows(ddir / OUT, table)
    report = validate.run(ddir)
    line = len(rows(FIXTURE / OUT)) + guards.MAX_VARIANTS  # the 21st row of fx01 / CR
    p = find(report, OUT, line, "variant", f"at most {guards.MAX_VARIANTS} variants")
    assert "2,001 variants of fx01 / CR" in p.detail


# --- scale ------------------------------------------------------------------------------------


def _scaled_review(base: Path, factor: int) -> Path:
    """``base/data``: today's data ``factor`` times (tests/_scale.py), with the plan scaled
    alike beside it (the plan validation takes for that folder)."""
    from _scale import scaled_copy, scaled_plan

    root = Path(__file__).resolve().parents[1]
    big = scaled_copy(root / "data", base / "data", factor)
    plan = scaled_plan(root / "analysis_plan.yaml", base / PLAN_FILE, factor)
    assert plan_path_for(big) == plan
    return big


def _limit_factor() -> int:
    """The largest whole multiple of today's data within the build's size limits."""
    root = Path(__file__).resolve().parents[1]
    return min(
        limit // (len(rows(root / "data" / f"{name}.csv")) - 1)
        for name, limit in guards.MAX_BUILD_ROWS.items()
    )


def test_ten_times_todays_data_is_refused_with_the_build_limit(tmp_path, capsys):
    """Ten times today's data (every table that grows with studies, the plan's exceptions
    repeated for every copy) would build in more than twice a cold build (measured:
    guards.BUILD_LIMIT_SOURCE), so the call a build makes (``validate.main([data_dir])``)
    refuses it, naming the limit at the file, row and column past it; nothing else in
    the copy is an error, so the plan beside it is the one applied."""
    big = _scaled_review(tmp_path / "review10", 10)
    n = {name: len(rows(big / f"{name}.csv")) - 1 for name in guards.MAX_BUILD_ROWS}
    assert all(n[name] > limit for name, limit in guards.MAX_BUILD_ROWS.items())
    assert validate.main([str(big)]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("ERROR")]
    assert len(errors) == len(guards.MAX_BUILD_ROWS), "\n".join(errors[:20])
    for name, limit in guards.MAX_BUILD_ROWS.items():
        file = f"{name}.csv"
        line = next(x for x in errors if x.startswith(f"ERROR {file}:"))
        assert line.startswith(f"ERROR {file}:{limit + 2} [study_id]: breaks the rule")
        assert f"{n[name]:,} data rows; the limit is {limit:,} rows of {file}" in line
        assert "more than twice as long as a cold build" in line


def test_data_at_the_build_limit_validates(tmp_path, capsys):
    """The largest multiple of today's data within the limits (its build time against a
    cold build: test_scale_build.py, slow) validates with no error."""
    factor = _limit_factor()
    assert factor >= 2, "the limits leave no room to grow"
    big = _scaled_review(tmp_path / "review", factor)
    assert validate.main([str(big)]) == 0, capsys.readouterr().err[:3000]
    # each copy is a study of its own: one reference number of the paper names one study
    # (the paper audit of the build looks studies up by it)
    studies = rows(big / STU)
    ref, role = studies[0].index("paper_ref"), studies[0].index("id_role")
    refs = [r[ref] for r in studies[1:] if r[ref] and r[role] == "best"]
    assert len(refs) == len(set(refs)) > 0


def test_build_limit_is_reported_at_the_first_row_past_it(ddir, monkeypatch):
    monkeypatch.setattr(guards, "MAX_BUILD_ROWS", {"studies": 1000, "outcomes": 50})
    report = validate.run(ddir)  # the fixture's outcomes.csv has 61 rows
    p = find(report, OUT, 52, "study_id", "table within the build's size limit of 50 rows")
    assert p.detail.startswith("61 data rows; the limit is 50 rows of outcomes.csv")
    assert [q.file for q in report.errors] == [OUT]


def test_the_plan_of_a_data_folder_is_the_one_beside_it(tmp_path):
    """Row rules are checked against the plan of the review that holds the data; a data
    folder with no plan beside it (a fixture, a folder on its own) gets the repository's."""
    d = tmp_path / "review" / "data"
    shutil.copytree(FIXTURE, d)
    assert plan_path_for(d) == default_plan_path()
    # a plan beside the data whose exception names no row: the warning names that plan
    raw = yaml.safe_load(default_plan_path().read_text(encoding="utf-8"))
    entry = {"study_id": "fx01", "outcome": "CR", "variant": "all_treated"}
    raw["row_selection"]["exceptions"] = [{**entry, "rule": "denominator", "reason": "test"}]
    (tmp_path / "review" / PLAN_FILE).write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert plan_path_for(d) == tmp_path / "review" / PLAN_FILE
    report = validate.run(d)
    assert any(p.file == PLAN_FILE and "fx01 / CR" in str(p.value) for p in report.warnings)
    assert not any(p.file == PLAN_FILE for p in validate.run(d, default_plan_path()).problems)


def test_beyond_the_row_limit_is_refused_not_slow(tmp_path):
    from _scale import scaled_copy

    root = Path(__file__).resolve().parents[1]
    factor = guards.MAX_ROWS // (len(rows(root / "data" / "missing.csv")) - 1) + 1
    big = scaled_copy(root / "data", tmp_path / "big", factor)
    report = validate.run(big)
    p = next(q for q in report.errors if q.file == "missing.csv")
    assert p.rule == "table within the row limit"
    assert f"the limit is {guards.MAX_ROWS:,} rows" in p.detail
    assert p.line == guards.MAX_ROWS + 2


# --- the whole command on a folder of malformed tables ---------------------------------------

MALFORMED = Path(__file__).parent / "fixtures" / "data_malformed"
EXPECTED = [
    ("outcomes.csv", 1, "study_id", "column name written exactly"),
    ("outcomes.csv", 2, "total", "integer expected"),
    ("outcomes.csv", 3, "total", "number of at most 24 characters"),
    ("outcomes.csv", 4, "date_public", "date not after today"),
    ("outcomes.csv", 5, "date_public", "date not before the first report"),
    ("outcomes.csv", 6, "note", "cell at most 100,000 characters"),
    ("outcomes.csv", 7, "percent_reported", "value <= 100"),
    ("outcomes.csv", 8, "total", "integer within 64 bits"),
    ("outcomes.csv", 82, "variant", "at most 20 variants of one outcome"),
    ("studies.csv", 2, "doi", "not as a web address"),
    ("studies.csv", 3, "doi", "without the 'doi:' prefix"),
    ("studies.csv", 4, "pmid", "a PubMed id as digits only"),
    ("studies.csv", 5, "nct", "NCT and 8 digits"),
    ("studies.csv", 6, "year", "date not after today"),
    ("studies.csv", 16, "study_id", "keys differ by more than case"),
]


def test_validate_command_on_malformed_tables():
    """``python -m review validate DIR`` on tests/fixtures/data_malformed (its README lists
    each change): exit status 1, and every message names file, row and column."""
    import os
    import re
    import subprocess
    import sys

    env_path = str(Path(validate.__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-m", "review", "validate", str(MALFORMED)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": env_path},
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith(("ERROR", "WARNING"))]
    where = re.compile(r"^(ERROR|WARNING) (\w+\.csv):(\d+) \[(\w+)\]: ")
    found = []
    for line in lines:
        m = where.match(line)
        assert m, f"message without file, row and column: {line[:200]}"
        if m.group(1) == "ERROR":
            found.append((m.group(2), int(m.group(3)), m.group(4), line))
    assert len(found) == len(EXPECTED), proc.stderr[:5000]
    for (file, row, col, rule), (f, r, c, line) in zip(EXPECTED, found, strict=True):
        assert (file, row, col) == (f, r, c) and rule in line, line[:300]
    assert "unbalanced quotes" not in proc.stderr


def test_reference_written_another_way_names_the_study(ddir):
    set_cell(ddir / OUT, 2, "study_id", "FX01")
    p = find(validate.run(ddir), OUT, 2, "study_id", "unknown study")
    assert p.detail == "written 'fx01' in studies.csv"
