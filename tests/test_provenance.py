"""Provenance tables: every number with its quote (escaped), variants together, the gaps."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from review import data
from review.book import provenance

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def ds():
    return data.load(FIXTURE)


def _hostile_numbers(ds, **changes):
    out = ds.outcomes.copy()
    first = out.index[0]
    for col, value in changes.items():
        out.loc[first, col] = value
    return provenance.numbers_table(out, ds.studies)


@pytest.mark.parametrize("column", ["quote", "variant", "report", "flags", "date_public"])
def test_hostile_text_is_escaped_in_the_numbers_html(ds, column):
    html = provenance.numbers_html(_hostile_numbers(ds, **{column: HOSTILE}))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_hostile_study_name_is_escaped(ds):
    studies = ds.studies.copy()
    studies.loc[studies["study_id"] == "fx01", "first_author"] = HOSTILE
    html = provenance.numbers_html(provenance.numbers_table(ds.outcomes, studies))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_markup_in_a_quote_stays_characters(ds):
    quote = 'He said "50%" & {glue:text}`x` <b>bold</b> [link](javascript:alert(1))'
    html = provenance.numbers_html(_hostile_numbers(ds, quote=quote))
    assert "He said &quot;50%&quot; &amp; {glue:text}`x` &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>bold</b>" not in html


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://x.org/a", "//x"],
)
def test_only_http_addresses_become_links(ds, url):
    html = provenance.numbers_html(_hostile_numbers(ds, source_url=url))
    first_row = html.split("<tr>")[2]
    assert "<a " not in first_row
    assert "javascript:" not in html
    assert "<script" not in html


def test_an_http_address_is_linked_with_its_quotes_escaped(ds):
    url = 'https://example.org/a?b="><script>alert(1)</script>'
    html = provenance.numbers_html(_hostile_numbers(ds, source_url=url))
    assert 'href="https://example.org/a?b=&quot;&gt;&lt;script&gt;' in html
    assert "<script" not in html


def test_each_quote_is_collapsible_and_every_number_has_a_row(ds):
    numbers = provenance.numbers_table(ds.outcomes, ds.studies)
    html = provenance.numbers_html(numbers)
    rows = html.count("<tr>") - 1  # minus the header row
    assert rows == len(ds.outcomes)
    with_quote = int((ds.outcomes["quote"] != "").sum())
    assert html.count("<details><summary>quote</summary>") == with_quote


def test_variants_follow_one_another_primary_first(ds):
    numbers = provenance.numbers_table(ds.outcomes, ds.studies)
    mrd = numbers[numbers["outcome"] == "MRD_neg"]
    for _, group in mrd.groupby("study", sort=False):
        positions = group.index.to_list()
        assert positions == list(range(positions[0], positions[0] + len(positions)))
        assert bool(group["primary"].iloc[0])
        assert not group["primary"].iloc[1:].any()


def test_value_text_for_counts_and_survival(ds):
    numbers = provenance.numbers_table(ds.outcomes, ds.studies)
    row = ds.outcomes[(ds.outcomes["study_id"] == "fx01") & (ds.outcomes["outcome"] == "CR")]
    events, total = int(row["events"].iloc[0]), int(row["total"].iloc[0])
    fx01 = numbers[(numbers["outcome"] == "CR") & numbers["study"].str.startswith("AuthorA")]
    assert fx01["value"].iloc[0].startswith(f"{events}/{total}")
    surv = ds.outcomes[ds.outcomes["kind"] == "survival"].iloc[0]
    shown = numbers[numbers["outcome"] == surv["outcome"]]["value"]
    assert shown.str.contains(f"{surv['estimate_pct']:g}%", regex=False).any()
    assert not shown.str.contains("/").any()  # a survival estimate is never a count


def test_missing_list_groups_the_gaps_per_study():
    missing = pd.DataFrame(
        {
            "study_id": ["a", "a", "b"],
            "outcome": ["OS_1y", "CR", "VOD"],
            "extraction_line": [3, 2, 9],
            "looked_in": ["https://x.org", "https://x.org", ""],
            "note": ["not printed", "not printed", "abstract only"],
        }
    )
    studies = pd.DataFrame(
        {
            "study_id": ["a", "b"],
            "first_author": ["Ann", "Bo"],
            "year": [2020, 2021],
            "paper_ref": pd.array([1, pd.NA], dtype="Int64"),
            "id_role": ["best", "added"],
        }
    )
    table = provenance.missing_table(missing, studies)
    assert table["study"].tolist() == ["Ann 2020 (ref 1)", "Bo 2021"]
    assert table["outcomes"].tolist() == ["CR, OS_1y", "VOD"]
    assert table["n_missing"].tolist() == [2, 1]
    assert table["looked_in"].tolist() == ["https://x.org", ""]
    assert table["note"].tolist() == ["not printed", "abstract only"]


def test_missing_list_of_the_fixture_and_an_empty_one(ds):
    table = provenance.missing_table(ds.missing, ds.studies)
    assert table["n_missing"].sum() == len(ds.missing)
    empty = provenance.missing_table(ds.missing.iloc[0:0], ds.studies)
    assert empty.empty and "outcomes" in empty.columns


def test_unidentified_references_are_listed(ds):
    table = provenance.unidentified_table(ds.studies)
    expected = ds.studies[
        (ds.studies["id_confidence"] == "none") & ds.studies["in_source_paper"].fillna(False)
    ]
    assert len(table) == len(expected) >= 1
    assert all(re.search(r"\(ref \d+\)", s) for s in table["study"])


def test_cohort_overlaps_list_only_shared_cohorts(ds):
    studies = ds.studies.copy()
    studies.loc[studies["study_id"] == "fx02", "cohort_id"] = "C_fx01"
    table = provenance.cohort_overlaps(studies)
    assert table["cohort_id"].tolist() == ["C_fx01"]
    assert table["reports"].iloc[0].count(";") == 1
    assert provenance.cohort_overlaps(ds.studies).empty


def test_quality_prefers_our_scoring_over_the_papers():
    rows = [
        ("s1", "minors", "1", "aim", 1, 2, "lao2025"),
        ("s1", "minors", "total", "total score", 1, 16, "lao2025"),
        ("s1", "minors", "1", "aim", 2, 2, "review_team"),
        ("s1", "minors", "total", "total score", 2, 16, "review_team"),
        ("s2", "minors", "1", "aim", 0, 2, "lao2025"),
        ("s2", "minors", "total", "total score", 0, 16, "lao2025"),
    ]
    cols = ["study_id", "scale", "item", "item_label", "score", "max_score", "scorer"]
    quality = pd.DataFrame(rows, columns=cols)
    studies = pd.DataFrame(
        {
            "study_id": ["s1", "s2"],
            "first_author": ["Ann", "Bo"],
            "year": [2020, 2021],
            "paper_ref": pd.array([1, 2], dtype="Int64"),
            "id_role": ["best", "best"],
        }
    )
    table = provenance.quality_table(quality, studies, "minors")
    assert table.columns.tolist() == ["study", "scorer", "1 aim", "total", "max"]
    assert table["scorer"].tolist() == ["review_team", "lao2025"]
    assert table["1 aim"].tolist() == [2, 0]
    assert table["total"].tolist() == [2, 0]
    assert provenance.quality_table(quality, studies, "modified_jadad").empty


def test_summary_counts(ds):
    counts = provenance.summary_counts(ds)
    assert counts["numbers"] == len(ds.outcomes)
    assert counts["primary"] == int(ds.outcomes["primary"].sum())
    assert counts["missing"] == len(ds.missing)


def test_awaiting_records_are_listed_oldest_first():
    log = pd.DataFrame(
        {
            "record_id": ["r1", "r2", "r3"],
            "search_round": ["u1", "u1", "u1"],
            "date": ["2026-12-02", "2026-11-25", "2026-11-25"],
            "record": ["later", "earlier", "excluded"],
            "identifier": ["", "NCT1", ""],
            "url": ["", "https://x.org", ""],
            "decision": ["awaiting", "awaiting", "exclude"],
            "reason": ["no address", "no results", "review"],
            "note": ["", "", ""],
        }
    )
    table = provenance.awaiting_table(log)
    assert table["record"].tolist() == ["earlier", "later"]
    assert table.columns.tolist() == [
        "search_round", "date", "record", "identifier", "url", "reason", "note"
    ]  # fmt: skip
    assert provenance.awaiting_table(log.iloc[0:0]).empty


def test_awaiting_records_of_the_fixture(ds):
    table = provenance.awaiting_table(ds.screening)
    assert len(table) == int((ds.screening["decision"] == "awaiting").sum())


def test_numbers_html_shows_variants_flags_and_outcomes_in_words(ds):
    """Issue 22: the variant, caveat and outcome codes of a row are shown in words."""
    html = provenance.numbers_html(
        _hostile_numbers(ds, variant="eot_responders", flags="no_url;lower_bound")
    )
    shown = re.sub(r"<[^>]+>", " ", html)
    assert "end of treatment responders" in shown
    assert "Count is a lower bound" in shown
    assert not re.search(r"\b[a-z][a-z0-9]*_[a-z0-9_.]*[a-z0-9]\b", shown), re.findall(
        r"\b[a-z][a-z0-9]*_[a-z0-9_.]*[a-z0-9]\b", shown
    )[:10]


def test_cohort_overlap_roles_read_in_words(ds):
    from review.data import labels

    studies = ds.studies.copy()
    studies.loc[studies.index[:2], "cohort_id"] = "C_shared"
    studies.loc[studies.index[1], "id_role"] = "runner_up"
    shown = labels.frame(provenance.cohort_overlaps(studies))
    assert "runner-up" in shown["Roles"].iloc[0]
    assert "runner_up" not in shown.to_string()
