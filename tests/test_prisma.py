"""The PRISMA 2020 flow: stated counts kept (unknown stays unknown), logged rounds computed."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from review import data
from review.book import prisma

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"


def _prisma(round_name="paper", **counts):
    return pd.DataFrame(
        [{"search_round": round_name, "step": k, "count": v} for k, v in counts.items()]
    )


def _log(rows):
    cols = ["record_id", "search_round", "date", "stage", "decision", "study_id"]
    return pd.DataFrame(rows, columns=cols)


STUDIES = pd.DataFrame(
    {
        "study_id": ["s1", "s2", "s3", "new_a", "later_s1"],
        "cohort_id": ["C1", "C2", "C3", "CA", "C1"],
        "in_source_paper": [True, True, True, False, False],
    }
)
# one update round: 2 duplicates, 3 excluded on abstract, 1 excluded on full text,
# 1 awaiting, 2 included reports (one new study, one later report of cohort C1)
LOG = _log(
    [
        ("r1", "u1", "2026-01-02", "abstract", "duplicate", ""),
        ("r2", "u1", "2026-01-02", "registry", "duplicate", ""),
        ("r3", "u1", "2026-01-02", "abstract", "exclude", ""),
        ("r4", "u1", "2026-01-02", "abstract", "exclude", ""),
        ("r5", "u1", "2026-01-02", "other", "exclude", ""),
        ("r6", "u1", "2026-01-02", "full_text", "exclude", ""),
        ("r7", "u1", "2026-01-02", "registry", "awaiting", ""),
        ("r8", "u1", "2026-01-02", "full_text", "include", "new_a"),
        ("r9", "u1", "2026-01-02", "press", "include", "later_s1"),
    ]
)


def test_stated_counts_are_kept_and_unknown_stays_unknown():
    stated = _prisma(
        records_identified_databases=2503, duplicates_removed=pd.NA, studies_included=3
    )
    (flow,) = prisma.flows(stated, _log([]), STUDIES)
    assert not flow.computed and not flow.update
    assert flow.counts["records_identified_databases"] == 2503
    assert flow.counts["studies_included"] == 3
    assert flow.counts["duplicates_removed"] is None  # empty in the file
    assert flow.counts["records_screened"] is None  # absent from the file
    table = prisma.flow_table([flow])
    assert table.loc[table["step"] == "duplicates_removed", "count"].isna().all()
    assert "studies_total" not in set(table["step"])  # a first review has no total box
    assert set(table["source"]) == {"reported by the source paper (prisma.csv)"}


def test_logged_round_is_computed_box_by_box():
    stated = _prisma(studies_included=3)
    first, update = prisma.flows(stated, LOG, STUDIES)
    assert update.computed and update.update and update.search_round == "u1"
    c = update.counts
    assert c["records_identified_registers"] == 2
    assert c["records_identified_databases"] == 7
    assert c["duplicates_removed"] == 2
    assert c["records_screened"] == 7
    assert c["records_excluded"] == 3  # decided on title and abstract (abstract, other)
    assert c["reports_assessed"] == 4
    assert c["reports_excluded"] == 1
    assert c["reports_awaiting"] == 1
    assert c["reports_included"] == 2
    # the later report of cohort C1 is a new report, not a new study
    assert c["studies_included"] == 1
    assert c["studies_previous"] == first.counts["studies_total"] == 3
    assert c["studies_total"] == 4
    assert c["reports_assessed"] == c["reports_excluded"] + c["reports_awaiting"] + 2


def test_unknown_previous_total_makes_the_total_unknown():
    stated = _prisma(records_identified_databases=10)  # studies included not stated
    _, update = prisma.flows(stated, LOG, STUDIES)
    assert update.counts["studies_previous"] is None
    assert update.counts["studies_total"] is None


def test_included_report_without_a_study_row_leaves_new_studies_unknown():
    log = LOG.copy()
    log.loc[log["record_id"] == "r8", "study_id"] = ""
    _, update = prisma.flows(_prisma(studies_included=3), log, STUDIES)
    assert update.counts["reports_included"] == 2
    assert update.counts["studies_included"] is None
    assert update.counts["studies_total"] is None


def test_a_round_in_both_files_is_taken_as_stated():
    stated = _prisma("u1", studies_included=5)
    (flow,) = prisma.flows(stated, LOG, STUDIES)
    assert not flow.computed
    assert flow.counts["studies_included"] == 5
    assert flow.counts["records_screened"] is None


def test_rounds_follow_the_dates_of_their_logs():
    later = LOG.assign(search_round="u2", date="2026-06-01")
    log = pd.concat([later, LOG], ignore_index=True)
    names = [f.search_round for f in prisma.flows(_prisma(studies_included=3), log, STUDIES)]
    assert names == ["paper", "u1", "u2"]


def test_second_update_counts_only_cohorts_not_seen_before():
    later = LOG.assign(search_round="u2", date="2026-06-01")
    log = pd.concat([LOG, later], ignore_index=True)
    _, u1, u2 = prisma.flows(_prisma(studies_included=3), log, STUDIES)
    assert u1.counts["studies_total"] == 4
    assert u2.counts["studies_included"] == 0  # new_a was added by u1 already
    assert u2.counts["studies_previous"] == 4


@pytest.mark.parametrize("update", [False, True])
def test_diagram_writes_every_count_and_unknown_as_unknown(update):
    stated = _prisma(records_identified_databases=2503, studies_included=3)
    flows = prisma.flows(stated, LOG if update else _log([]), STUDIES)
    ax = prisma.flow_diagram(flows[-1], title="round")
    text = " ".join(t.get_text() for t in ax.texts).replace("\u00a0", " ")
    if update:
        assert "Total studies included in the review (n = 4)" in text
        assert "duplicates (n = 2)" in text
        assert "n unknown" not in text
    else:
        assert "(n = 2,503)" in text
        assert "Studies included (n = 3)" in text
        assert "Records screened (n unknown)" in text
    assert ax.get_title(loc="left") == "round"
    plt.close("all")


def test_fixture_data_flow():
    ds = data.load(FIXTURE)
    flows = prisma.flows(ds.prisma, ds.screening, ds.studies)
    assert [f.search_round for f in flows] == ["fixture", "fixture_update"]
    assert flows[0].counts["records_identified_databases"] == 120
    assert flows[0].counts["duplicates_removed"] is None


# --- counted per source and reason, reports sought, pending records, all updates ------------

STRATEGIES = pd.DataFrame(
    {
        "search_round": ["u2", "u2", "u2"],
        "source": ["MEDLINE via PubMed", "ClinicalTrials.gov", "Stored web pages (corpus=pages)"],
        "kind": ["database", "register", "informal_lookup"],
    }
)
LOG2 = pd.DataFrame(
    [
        # record, round, date, source, stage, decision, study, url, reason_code
        ("p1", "u2", "2026-06-01", "MEDLINE via PubMed", "abstract", "duplicate", "", "u", ""),
        ("p2", "u2", "2026-06-01", "MEDLINE via PubMed", "abstract", "exclude", "", "u", "design"),
        ("p3", "u2", "2026-06-01", "MEDLINE via PubMed", "title", "exclude", "", "u", "design"),
        ("p4", "u2", "2026-06-01", "MEDLINE via PubMed", "abstract", "pending", "", "u", ""),
        ("p5", "u2", "2026-06-01", "MEDLINE via PubMed", "full_text", "exclude", "", "u",
         "not_adult"),
        ("p6", "u2", "2026-06-01", "ClinicalTrials.gov", "registry", "awaiting", "", "u", ""),
        ("p7", "u2", "2026-06-01", "ClinicalTrials.gov", "registry", "include", "new_a", "u", ""),
        ("p8", "u2", "2026-06-01", "search tool, corpus=pages, query 'x'", "registry", "awaiting",
         "", "", ""),
    ],
    columns=["record_id", "search_round", "date", "source", "stage", "decision", "study_id",
             "url", "reason_code"],
)  # fmt: skip


def test_round_is_counted_per_source_and_reason():
    _, flow = prisma.flows(_prisma(studies_included=3), LOG2, STUDIES, STRATEGIES)
    assert flow.sources == {
        "MEDLINE via PubMed": 5,
        "ClinicalTrials.gov": 2,
        "Stored web pages (corpus=pages)": 1,
    }
    c = flow.counts
    # a register search, and a registry record found by an informal look-up
    assert c["records_identified_registers"] == 3
    assert c["records_identified_databases"] == 5
    assert c["duplicates_removed"] == 1
    assert c["records_pending"] == 1
    assert c["records_screened"] == 6
    assert c["records_excluded"] == 2
    assert flow.reasons["records_excluded"] == {"design": 2}
    assert c["reports_sought"] == 4
    assert c["reports_not_retrieved"] == 1  # awaiting, seen without an address
    assert c["reports_assessed"] == 3
    assert c["reports_excluded"] == 1
    assert flow.reasons["reports_excluded"] == {"not_adult": 1}
    assert c["reports_awaiting"] == 1
    assert c["reports_included"] == 1
    assert c["records_screened"] == c["records_excluded"] + c["reports_sought"]
    assert c["reports_sought"] == c["reports_not_retrieved"] + c["reports_assessed"]


def test_all_updates_add_up():
    later = LOG2.assign(search_round="u3", date="2026-09-01")
    log = pd.concat([LOG.assign(source="x", url="u", reason_code=""), LOG2, later])
    flows = prisma.flows(_prisma(studies_included=3), log, STUDIES, STRATEGIES)
    total = prisma.cumulative(flows)
    assert total.update and total.computed
    for step in ("duplicates_removed", "records_screened", "reports_included"):
        assert total.counts[step] == sum(f.counts[step] for f in flows[1:])
    assert total.counts["studies_previous"] == 3
    assert total.counts["studies_total"] == flows[-1].counts["studies_total"] == 4
    assert total.reasons["records_excluded"]["design"] == 4
    assert prisma.cumulative(flows[:1]) is None


def test_text_table_and_diagram_show_the_same_counts():
    flows = prisma.flows(_prisma(studies_included=3), LOG2, STUDIES, STRATEGIES)
    texts = prisma.count_texts(flows[-1])
    table = prisma.reader_table(flows, {"u2": "Living update 2"})
    rows = table[table["Search round"] == "Living update 2"].set_index("Box")["Count"]
    assert rows["Records screened"] == texts["records_screened"] == "6"
    assert rows["Records excluded: review, case report or other design"] == "2"
    assert rows["Records identified from ClinicalTrials.gov"] == "2"
    ax = prisma.flow_diagram(flows[-1])
    text = " ".join(" ".join(t.get_text().replace("\u00a0", " ").split()) for t in ax.texts)
    assert f"Records screened (n = {texts['records_screened']})" in text
    assert "not yet screened (n = 1)" in text
    assert "Reports not retrieved (n = 1)" in text
    assert "review, case report or other design (n = 2)" in text
    plt.close("all")
    # words, not codes, and no <NA>
    assert not table.isna().any().any()
    assert "unknown" in set(table["Count"])
    assert not any("_" in box for box in table["Box"])


def test_the_papers_counts_are_labelled_as_the_papers():
    flows = prisma.flows(_prisma(studies_included=3), LOG2, STUDIES, STRATEGIES)
    assert prisma.flow_title(flows[0]) == "paper (counts as the paper reports them)"
    assert prisma.flow_title(flows[1]) == "u2"
    assert set(prisma.flow_table(flows[:1])["source"]) == {
        "reported by the source paper (prisma.csv)"
    }
    assert prisma.count_texts(None)["records_screened"] == "unknown"
