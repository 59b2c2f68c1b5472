"""The PRISMA 2020 flow: stated counts kept (unknown stays unknown), logged rounds computed."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from review import data, prisma

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
    assert set(table["source"]) == {"stated (prisma.csv)"}


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
    assert [f.search_round for f in flows] == ["fixture"]
    assert flows[0].counts["records_identified_databases"] == 120
    assert flows[0].counts["duplicates_removed"] is None
