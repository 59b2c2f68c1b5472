"""Bad-input suite for ``review.data.validate``: each case names the file, line and column.

Every case copies the small valid data directory ``tests/fixtures/data_small`` into a
temporary directory, breaks (or harmlessly varies) one thing, and checks the report: the
exact file, editor line and column of the problem and the rule broken, or, for ordinary
input, that it is accepted and loads unchanged.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from review import data
from review.data import validate

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"


@pytest.fixture
def ddir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    return d


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, table: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def line_of(path: Path, **match: str) -> int:
    """Editor line of the first row whose cells match (the fixture has no multi-line cells)."""
    table = rows(path)
    header = table[0]
    for i, row in enumerate(table[1:], start=2):
        if all(row[header.index(k)] == v for k, v in match.items()):
            return i
    raise LookupError(match)


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    table = rows(path)
    table[line - 1][table[0].index(column)] = value
    write_rows(path, table)


def get_cell(path: Path, line: int, column: str) -> str:
    table = rows(path)
    return table[line - 1][table[0].index(column)]


def find(report, file, line, column, rule, severity="error"):
    """The problem with exactly this file, line, column and rule (substring)."""
    pool = report.errors if severity == "error" else report.warnings
    hits = [
        p
        for p in pool
        if p.file == file and p.line == line and p.column == column and rule in p.rule
    ]
    assert hits, f"no {severity} {file}:{line} [{column}] {rule!r} in:\n{report}"
    shown = f"{file}:{line}" if line is not None else file
    if column:
        shown += f" [{column}]"
    assert shown in str(report)
    return hits[0]


OUT = "outcomes.csv"
STU = "studies.csv"


def outcomes(d: Path) -> Path:
    return d / OUT


def or_line(d: Path, study: str = "fx03") -> int:
    return line_of(outcomes(d), study_id=study, outcome="OR")


def os_line(d: Path) -> int:
    return line_of(outcomes(d), study_id="fx02", outcome="OS_1y")


# --- the fixture itself ---------------------------------------------------------------------


def test_fixture_is_valid_without_warnings():
    report = validate.run(FIXTURE)
    assert report.ok and not report.warnings, str(report)


# --- columns --------------------------------------------------------------------------------


def test_missing_column(ddir):
    table = rows(outcomes(ddir))
    k = table[0].index("total")
    write_rows(outcomes(ddir), [r[:k] + r[k + 1 :] for r in table])
    report = validate.run(ddir)
    find(report, OUT, 1, "total", "missing column")


def test_extra_column(ddir):
    table = rows(outcomes(ddir))
    write_rows(outcomes(ddir), [r + (["weight"] if i == 0 else ["1"]) for i, r in enumerate(table)])
    p = find(validate.run(ddir), OUT, 1, "weight", "unexpected column")
    assert "not a column of outcomes.csv" in p.detail


def test_renamed_column(ddir):
    table = rows(outcomes(ddir))
    table[0][table[0].index("events")] = "n_events"
    write_rows(outcomes(ddir), table)
    report = validate.run(ddir)
    p = find(report, OUT, 1, "n_events", "unexpected column")
    assert "'events' is expected (renamed?)" in p.detail
    find(report, OUT, 1, "events", "missing column")


# --- file-level problems ----------------------------------------------------------------------


def test_missing_file(ddir):
    (ddir / STU).unlink()
    p = find(validate.run(ddir), STU, None, None, "file missing")
    assert "study_id,paper_ref" in p.detail


def test_empty_file(ddir):
    outcomes(ddir).write_bytes(b"")
    p = find(validate.run(ddir), OUT, None, None, "empty file")
    assert "expected a header line" in p.detail


def test_whitespace_only_file(ddir):
    outcomes(ddir).write_text("\n  \n", encoding="utf-8")
    find(validate.run(ddir), OUT, None, None, "empty file")


def test_header_only(ddir):
    header = outcomes(ddir).read_text(encoding="utf-8").splitlines()[0]
    outcomes(ddir).write_text(header + "\n", encoding="utf-8")
    p = find(validate.run(ddir), OUT, None, None, "header only")
    assert "no data rows" in p.detail


def test_header_only_allowed_for_screening(ddir):
    header = (ddir / "screening.csv").read_text(encoding="utf-8").splitlines()[0]
    (ddir / "screening.csv").write_text(header + "\n", encoding="utf-8")
    assert validate.run(ddir).ok


def test_bytes_not_utf8(ddir):
    line = or_line(ddir)
    text = outcomes(ddir).read_text(encoding="utf-8").split("\n")
    text[line - 1] = text[line - 1].replace("patients responded", "patients r\xe9pondu")
    outcomes(ddir).write_bytes("\n".join(text).encode("latin-1"))
    p = find(validate.run(ddir), OUT, line, None, "bytes that are not UTF-8")
    assert "0xe9" in p.detail and "expected UTF-8" in p.detail


def test_semicolon_delimiter(ddir):
    table = rows(outcomes(ddir))
    with outcomes(ddir).open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\n").writerows(table)
    p = find(validate.run(ddir), OUT, 1, None, "wrong delimiter")
    assert "semicolon" in p.detail and "expected commas" in p.detail


def test_unbalanced_quote_at_end(ddir):
    text = outcomes(ddir).read_text(encoding="utf-8").rstrip("\n").split("\n")
    line = len(text)
    text[-1] = '"' + text[-1]
    outcomes(ddir).write_text("\n".join(text) + "\n", encoding="utf-8")
    p = find(validate.run(ddir), OUT, line, None, "unbalanced quotes")
    assert "not closed" in p.detail


def test_unbalanced_quote_inside_file(ddir):
    line = or_line(ddir, "fx03")
    text = outcomes(ddir).read_text(encoding="utf-8").split("\n")
    text[line - 1] = text[line - 1].replace("Fixture study 03", '"Fixture study 03')
    outcomes(ddir).write_text("\n".join(text), encoding="utf-8")
    p = find(validate.run(ddir), OUT, line, None, "unbalanced quotes")
    assert f"starting on line {line}" in p.detail


def test_wrong_number_of_fields(ddir):
    line = or_line(ddir)
    text = outcomes(ddir).read_text(encoding="utf-8").split("\n")
    text[line - 1] += ",surplus"
    outcomes(ddir).write_text("\n".join(text), encoding="utf-8")
    p = find(validate.run(ddir), OUT, line, None, "wrong number of fields")
    assert "26 fields where the header has 25" in p.detail


# --- cells: types and ranges ------------------------------------------------------------------


def test_wrong_type_text_in_count(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "total", "many")
    find(validate.run(ddir), OUT, line, "total", "integer expected")


def test_decimal_comma_in_number(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "percent_reported", "91,5")
    find(validate.run(ddir), OUT, line, "percent_reported", "decimal comma")


@pytest.mark.parametrize("column", ["events", "total"])
def test_decimal_comma_in_count(ddir, column):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, column, "12,5")
    find(validate.run(ddir), OUT, line, column, "decimal comma")


def test_percent_sign_in_count(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "45%")
    find(validate.run(ddir), OUT, line, "events", "percent sign in a count")


def test_negative_count(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "-3")
    find(validate.run(ddir), OUT, line, "events", "negative count")


def test_non_integer_count(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "12.5")
    find(validate.run(ddir), OUT, line, "events", "not a whole number")


def test_events_greater_than_total(ddir):
    line = or_line(ddir)
    total = get_cell(outcomes(ddir), line, "total")
    set_cell(outcomes(ddir), line, "events", str(int(total) + 1))
    p = find(validate.run(ddir), OUT, line, "events", "events <= total")
    assert f"/{total}" in p.detail


def test_total_zero(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "0")
    set_cell(outcomes(ddir), line, "total", "0")
    find(validate.run(ddir), OUT, line, "total", "value > 0")


def test_percentage_above_100(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "estimate_pct", "101")
    set_cell(outcomes(ddir), line, "ci_high_pct", "102")
    find(validate.run(ddir), OUT, line, "estimate_pct", "value <= 100")


def test_ci_not_around_estimate(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "ci_low_pct", "70")
    set_cell(outcomes(ddir), line, "ci_high_pct", "80")
    find(validate.run(ddir), OUT, line, "estimate_pct", "CI contains the estimate")


def test_ci_inconsistent_flag_makes_it_a_warning(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "ci_low_pct", "70")
    set_cell(outcomes(ddir), line, "ci_high_pct", "80")
    set_cell(outcomes(ddir), line, "flags", "ci_inconsistent")
    # a flagged row is not a usable number: it is kept, but never primary (row rule usable)
    set_cell(outcomes(ddir), line, "primary", "false")
    report = validate.run(ddir)
    assert report.ok, str(report)
    find(report, OUT, line, "estimate_pct", "printed CI does not contain", "warning")


def test_ci_low_above_high(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "ci_low_pct", "90")
    set_cell(outcomes(ddir), line, "ci_high_pct", "50")
    find(validate.run(ddir), OUT, line, "ci_low_pct", "ci_low_pct <= ci_high_pct")


def test_boolean_not_true_false(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "primary", "yes")
    find(validate.run(ddir), OUT, line, "primary", "true or false expected")


def test_invalid_date(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "date_public", "2024-13-01")
    find(validate.run(ddir), OUT, line, "date_public", "ISO date expected")


def test_blank_required_field(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "quote", "")
    find(validate.run(ddir), OUT, line, "quote", "required value is blank")


def test_source_url_missing_without_flag(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "source_url", "")
    find(validate.run(ddir), OUT, line, "source_url", "source_url given (or flag no_url)")


def test_source_url_missing_with_no_url_flag_is_accepted(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "source_url", "")
    set_cell(outcomes(ddir), line, "flags", "no_url")
    # kept as data, but a number without its address is never primary (row rule usable)
    set_cell(outcomes(ddir), line, "primary", "false")
    assert validate.run(ddir).ok


# --- codes, keys and references ---------------------------------------------------------------


def test_unknown_outcome_code(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "outcome", "ORR")
    p = find(validate.run(ddir), OUT, line, "outcome", "known code")
    assert "allowed:" in p.detail and "MRD_neg" in p.detail


def test_unknown_regimen_group(ddir):
    line = line_of(ddir / STU, study_id="fx05")
    set_cell(ddir / STU, line, "regimen_group", "InO + chemo")
    find(validate.run(ddir), STU, line, "regimen_group", "known code")


def test_kind_does_not_match_code(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "kind", "binary")
    find(validate.run(ddir), OUT, line, "kind", "kind matches the outcome code")


def test_unknown_study(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "study_id", "fx99")
    find(validate.run(ddir), OUT, line, "study_id", "unknown study")


def test_duplicate_key(ddir):
    table = rows(outcomes(ddir))
    line = or_line(ddir)
    table.append(list(table[line - 1]))
    write_rows(outcomes(ddir), table)
    report = validate.run(ddir)
    p = find(report, OUT, len(table), "variant", "duplicate key")
    assert f"already on line {line}" in p.detail


def test_two_primary_variants(ddir):
    line = line_of(outcomes(ddir), study_id="fx02", outcome="MRD_neg", variant="responders")
    set_cell(outcomes(ddir), line, "primary", "true")
    p = find(validate.run(ddir), OUT, line, "primary", "exactly one primary variant")
    assert "two or more rows" in p.detail and "fx02 / MRD_neg" in p.detail


def test_no_primary_variant(ddir):
    line = line_of(outcomes(ddir), study_id="fx02", outcome="MRD_neg", variant="all_treated")
    set_cell(outcomes(ddir), line, "primary", "false")
    p = find(validate.run(ddir), OUT, line, "primary", "exactly one primary variant")
    assert "no row" in p.detail


def test_supersedes_unknown_variant(ddir):
    line = line_of(outcomes(ddir), study_id="fx11", outcome="OR", variant="update2024")
    set_cell(outcomes(ddir), line, "supersedes", "no_such_variant")
    find(validate.run(ddir), OUT, line, "supersedes", "supersedes names another variant")


def test_same_doi_twice_without_declared_overlap(ddir):
    doi = get_cell(ddir / STU, line_of(ddir / STU, study_id="fx04"), "doi")
    line = line_of(ddir / STU, study_id="fx05")
    set_cell(ddir / STU, line, "doi", doi)
    p = find(validate.run(ddir), STU, line, "doi", "same report entered twice")
    assert "fx04" in p.detail


def test_same_doi_with_declared_overlap_is_accepted(ddir):
    s = ddir / STU
    doi = get_cell(s, line_of(s, study_id="fx04"), "doi")
    line = line_of(s, study_id="fx05")
    set_cell(s, line, "doi", doi)
    set_cell(s, line, "overlap_note", "Nested cohort of fx04 (patients 1-40)")
    report = validate.run(ddir)
    assert report.ok, str(report)


def test_same_pmid_in_one_cohort_without_declared_overlap(ddir):
    """Sharing a cohort_id records overlap; it does not license one PMID twice."""
    s = ddir / STU
    l4, l5 = line_of(s, study_id="fx04"), line_of(s, study_id="fx05")
    set_cell(s, l4, "pmid", "12345678")
    set_cell(s, l5, "pmid", "12345678")
    set_cell(s, l5, "cohort_id", get_cell(s, l4, "cohort_id"))
    p = find(validate.run(ddir), STU, l5, "pmid", "same report entered twice")
    assert "fx04" in p.detail and "overlap_note" in p.detail


def test_same_registry_id_in_one_cohort_without_declared_overlap(ddir):
    s = ddir / STU
    l4, l5 = line_of(s, study_id="fx04"), line_of(s, study_id="fx05")
    for line in (l4, l5):
        set_cell(s, line, "nct", "NCT00000001")
        set_cell(s, line, "cohort_id", "C_shared")
    p = find(validate.run(ddir), STU, l5, "nct", "same report entered twice")
    assert "cohort_id 'C_shared'" in p.detail


def test_same_registry_id_in_two_cohorts_is_accepted(ddir):
    """One registry record may cover several cohorts (e.g. frontline and salvage)."""
    s = ddir / STU
    for sid in ("fx04", "fx05"):
        set_cell(s, line_of(s, study_id=sid), "nct", "NCT00000001")
    report = validate.run(ddir)
    assert report.ok and not report.warnings, str(report)


# --- every number with its source and quote ----------------------------------------------------


def test_study_number_without_quote(ddir):
    s = ddir / STU
    line = line_of(s, study_id="fx06")
    set_cell(s, line, "quote", "")
    find(validate.run(ddir), STU, line, "quote", "study numbers have a quote")


def test_study_number_without_source(ddir):
    s = ddir / STU
    line = line_of(s, study_id="fx06")
    set_cell(s, line, "source_url", "")
    set_cell(s, line, "doi", "")
    find(validate.run(ddir), STU, line, "source_url", "study numbers have a source")


@pytest.mark.parametrize(
    "change",
    [{"source_url": ""}, {"source_url": "", "doi": "", "note": "seen without address: no_url"}],
    ids=["doi-only", "no_url-note"],
)
def test_study_number_with_doi_or_declared_no_url_is_accepted(ddir, change):
    s = ddir / STU
    line = line_of(s, study_id="fx06")
    for col, value in change.items():
        set_cell(s, line, col, value)
    report = validate.run(ddir)
    assert report.ok and not report.warnings, str(report)


def test_study_without_numbers_needs_no_quote(ddir):
    s = ddir / STU
    assert get_cell(s, line_of(s, study_id="fx14_unidentified"), "quote") == ""
    assert validate.run(ddir).ok


@pytest.mark.parametrize("column", ["quote", "source"])
def test_prisma_count_without_quote_or_source(ddir, column):
    path = ddir / "prisma.csv"
    line = line_of(path, step="studies_included")
    set_cell(path, line, column, "")
    find(validate.run(ddir), "prisma.csv", line, column, "stated count")


def test_prisma_unknown_count_needs_no_quote(ddir):
    path = ddir / "prisma.csv"
    line = line_of(path, step="duplicates_removed")
    assert get_cell(path, line, "count") == "" and get_cell(path, line, "quote") == ""
    assert validate.run(ddir).ok


def test_quality_score_without_source(ddir):
    path = ddir / "quality.csv"
    set_cell(path, 2, "source", "")
    find(validate.run(ddir), "quality.csv", 2, "source", "required value is blank")


# --- survival rows ----------------------------------------------------------------------------


def test_survival_row_with_count_from_percentage(ddir):
    """A landmark turned into a count (62.5% x n) is rejected."""
    line = os_line(ddir)
    n = int(get_cell(outcomes(ddir), line, "n_analysed"))
    est = float(get_cell(outcomes(ddir), line, "estimate_pct"))
    set_cell(outcomes(ddir), line, "events", str(round(est / 100 * n)))
    set_cell(outcomes(ddir), line, "total", str(n))
    set_cell(outcomes(ddir), line, "derived", "true")
    set_cell(outcomes(ddir), line, "derivation", f"{est}% x {n}")
    report = validate.run(ddir)
    find(report, OUT, line, "events", "survival row carries no count")
    find(report, OUT, line, "derived", "survival row is never derived")


def test_survival_row_without_estimate(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "estimate_pct", "")
    find(validate.run(ddir), OUT, line, "estimate_pct", "survival row needs estimate_pct")


def test_km_curve_read_is_a_warning(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "read_from", "km_curve")
    report = validate.run(ddir)
    assert report.ok
    find(report, OUT, line, "read_from", "number read off a curve", "warning")


def test_percent_off_by_more_than_rounding_is_a_warning(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "percent_reported", "50.0")
    report = validate.run(ddir)
    assert report.ok
    p = find(report, OUT, line, "percent_reported", "within rounding", "warning")
    assert "events/total" in p.detail


# --- all at once, exit status -------------------------------------------------------------------


def test_all_problems_reported_at_once(ddir):
    l1, l2 = or_line(ddir, "fx03"), or_line(ddir, "fx05")
    set_cell(outcomes(ddir), l1, "events", "x")
    set_cell(outcomes(ddir), l2, "total", "-1")
    sline = line_of(ddir / STU, study_id="fx06")
    set_cell(ddir / STU, sline, "id_confidence", "certain")
    report = validate.run(ddir)
    find(report, OUT, l1, "events", "integer expected")
    find(report, OUT, l2, "total", "negative count")
    find(report, STU, sline, "id_confidence", "known code")
    text = str(report)
    assert text.index("ERROR") < text.index("outcomes.csv") or "error(s)" in text


def test_main_exit_status(ddir, capsys):
    assert validate.main([str(ddir)]) == 0
    set_cell(outcomes(ddir), or_line(ddir), "events", "x")
    assert validate.main([str(ddir)]) == 1
    err = capsys.readouterr().err
    assert f"outcomes.csv:{or_line(ddir)} [events]" in err


def test_command_line_exit_status(ddir):
    """`python -m review validate DATA_DIR`: 0 on good data, 1 with the report otherwise."""
    cmd = [sys.executable, "-m", "review", "validate", str(ddir)]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "0 error(s)" in ok.stdout
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "x")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert f"ERROR outcomes.csv:{line} [events]" in bad.stderr


def test_load_refuses_bad_data(ddir):
    set_cell(outcomes(ddir), or_line(ddir), "events", "x")
    with pytest.raises(data.DataError) as exc:
        data.load(ddir)
    assert not exc.value.report.ok


# --- ordinary input, accepted unchanged ---------------------------------------------------------


def _same_as_fixture(ddir: Path) -> None:
    a, b = data.load(FIXTURE), data.load(ddir)
    for name in ("studies", "outcomes", "quality", "prisma", "screening"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_utf8_bom_accepted(ddir):
    for f in ("outcomes.csv", "studies.csv"):
        (ddir / f).write_bytes(b"\xef\xbb\xbf" + (ddir / f).read_bytes())
    report = validate.run(ddir)
    assert report.ok and not report.warnings, str(report)
    _same_as_fixture(ddir)


def test_crlf_accepted(ddir):
    for f in ("outcomes.csv", "studies.csv", "dictionary.csv"):
        raw = (ddir / f).read_bytes()
        (ddir / f).write_bytes(raw.replace(b"\n", b"\r\n"))
    report = validate.run(ddir)
    assert report.ok and not report.warnings, str(report)
    _same_as_fixture(ddir)


def test_crlf_keeps_line_numbers(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", "x")
    (ddir / OUT).write_bytes((ddir / OUT).read_bytes().replace(b"\n", b"\r\n"))
    find(validate.run(ddir), OUT, line, "events", "integer expected")


def test_trailing_spaces_trimmed_with_warning(ddir):
    line = or_line(ddir)
    set_cell(outcomes(ddir), line, "events", get_cell(outcomes(ddir), line, "events") + "  ")
    report = validate.run(ddir)
    assert report.ok
    find(report, OUT, line, "events", "spaces trimmed", "warning")
    _same_as_fixture(ddir)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<b onmouseover="x()">bold</b> &amp; &lt;',
        "**Markdown** _emphasis_ [link](http://example.org) # heading",
        "{glue:text}`x` ```{code-cell} python\nimport os\n``` $x^2$ {{ jinja }}",
        "日本語のテキスト, Ελληνικά, العربية, עברית, русский",
        "NA",
        "x" * 100_000,
    ],
    ids=["script", "html", "markdown", "myst", "non-latin", "NA-text", "very-long"],
)
def test_text_kept_verbatim(ddir, text):
    line = line_of(ddir / STU, study_id="fx07")
    set_cell(ddir / STU, line, "citation", text)
    oline = or_line(ddir, "fx07")
    set_cell(outcomes(ddir), oline, "definition", text)
    report = validate.run(ddir)
    assert report.ok and not report.warnings, str(report)
    ds = data.load(ddir)
    assert ds.studies.set_index("study_id").at["fx07", "citation"] == text
    row = data.outcome("OR", data_dir=ddir)
    assert row.set_index("study_id").at["fx07", "definition"] == text


def test_multiline_cell_keeps_later_line_numbers(ddir):
    """A quoted cell spanning two lines shifts the editor lines of the rows below it."""
    first = or_line(ddir, "fx03")
    set_cell(outcomes(ddir), first, "note", "first line\nsecond line, with a comma")
    later = or_line(ddir, "fx05") + 1  # one extra physical line above it
    table = rows(outcomes(ddir))
    table[later - 2][table[0].index("events")] = "x"  # csv row index ignores the extra line
    write_rows(outcomes(ddir), table)
    find(validate.run(ddir), OUT, later, "events", "integer expected")


def test_percent_sign_in_a_number(ddir):
    line = os_line(ddir)
    set_cell(outcomes(ddir), line, "estimate_pct", "62.5%")
    find(validate.run(ddir), OUT, line, "estimate_pct", "percent sign in a number")


def test_undescribed_column_in_dictionary(ddir):
    path = ddir / "dictionary.csv"
    line = line_of(path, table="outcomes", column="derivation", code="")
    table = rows(path)
    del table[line - 1]
    write_rows(path, table)
    p = find(validate.run(ddir), "dictionary.csv", None, "column", "every column is described")
    assert p.value == "outcomes.derivation"


def test_screening_exclusion_needs_a_reason(ddir):
    path = ddir / "screening.csv"
    line = line_of(path, record_id="fx-s1")
    set_cell(path, line, "reason", "")
    find(validate.run(ddir), "screening.csv", line, "reason", "excluded record gives a reason")
