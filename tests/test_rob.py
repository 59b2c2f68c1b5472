"""Risk of bias (review.analysis.rob): the plan's tool, the review's judgements, GRADE's share.

Rules tested: every study that feeds an analysis is judged on every domain of the plan's
tool, each judgement with its reason, the report's words and where they are; the overall
judgement is the worst domain (Murad et al. 2018 ask for a judgement, not a score); a study
not yet judged counts as unclear; the share GRADE reads is by patients, on the real dtypes
(nullable integers, pd.NA), and undefined (nan) where there are no patients.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from review import data
from review.analysis import rob
from review.data.plan import load_plan

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
HEADER = "study_id,domain,judgement,reason,quote,source,source_url,assessor,date_assessed\n"
DOMAINS = ("selection", "exposure", "outcome", "follow_up", "reporting")


@pytest.fixture(scope="module")
def plan():
    return load_plan()


@pytest.fixture(scope="module")
def ds():
    return data.load()


def _rows(study: str, codes: dict[str, str]) -> str:
    return "".join(
        f"{study},{dom},{codes.get(dom, 'low')},synthetic,synthetic quote,fixture,,"
        "review_team,2026-12-06\n"
        for dom in DOMAINS
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small fixture with judgements: fx01 all low, fx02 one unclear, fx03 one high
    (and one unclear), fx04 not judged."""
    ddir = tmp_path_factory.mktemp("rob") / "data"
    shutil.copytree(FIXTURE, ddir)
    (ddir / "risk_of_bias.csv").write_text(
        HEADER
        + _rows("fx01", {})
        + _rows("fx02", {"outcome": "unclear"})
        + _rows("fx03", {"reporting": "high", "selection": "unclear"}),
        encoding="utf-8",
    )
    return ddir


# --- the plan, the dictionary and the data agree -----------------------------------------------


def test_plan_domains_and_judgements_match_the_dictionary(plan, ds):
    d = ds.dictionary[(ds.dictionary["table"] == "risk_of_bias") & (ds.dictionary["code"] != "")]
    for column, expected in (
        ("domain", rob.domains(plan)),
        ("judgement", rob.judgement_levels(plan)),
    ):
        rows = d[d["column"] == column]
        assert dict(zip(rows["code"], rows["description"], strict=True)) == expected


def test_plan_of_concern_uses_judgement_codes(plan):
    assert set(plan.raw["risk_of_bias"]["of_concern"]) <= set(rob.judgement_levels(plan))


def test_every_analysed_study_is_judged_on_every_domain(plan, ds):
    analysed = set(ds.outcomes["study_id"])
    table = ds.risk_of_bias
    assert analysed <= set(table["study_id"]), analysed - set(table["study_id"])
    per_study = table.groupby("study_id")["domain"].apply(set)
    for sid in analysed:
        assert per_study[sid] == set(rob.domains(plan)), sid


def test_every_judgement_has_reason_quote_and_source(ds):
    t = ds.risk_of_bias
    assert (t["reason"].str.len() > 10).all()
    assert (t["quote"].str.len() > 10).all()
    # a source without a web address says so in its own words
    no_url = t[t["source_url"] == ""]
    assert no_url["source"].str.contains("without a web address").all(), no_url["study_id"]


def test_abstract_press_and_copies_are_not_judged_low_on_reporting(ds):
    """Press releases, news summaries, meeting abstracts and copies are not full reports."""
    rep = ds.risk_of_bias[ds.risk_of_bias["domain"] == "reporting"].set_index("study_id")
    tier = ds.studies.set_index("study_id")["source_tier"]
    for sid, row in rep.iterrows():
        if tier[sid] in ("press", "abstract", "secondary_copy"):
            assert row["judgement"] == "high", sid


# --- overall judgement -------------------------------------------------------------------------


def test_overall_is_the_worst_domain(small):
    out = rob.overall(data_dir=small).set_index("study_id")
    # worked by hand: fx01 all low; fx02 one unclear; fx03 unclear and high -> high
    assert out.loc["fx01", "overall"] == "low"
    assert out.loc["fx02", "overall"] == "unclear"
    assert out.loc["fx03", "overall"] == "high"
    assert out["assessed"].all()
    assert list(out["of_concern"]) == [False, True, True]
    assert (out["domains_judged"] == 5).all()


def test_unjudged_study_counts_as_unclear(small):
    out = rob.overall(["fx04", "fx01"], data_dir=small)
    assert list(out["study_id"]) == ["fx04", "fx01"]
    assert list(out["overall"]) == ["unclear", "low"]
    assert list(out["assessed"]) == [False, True]
    assert bool(out.loc[0, "of_concern"])


def test_overall_of_the_real_data(ds):
    out = rob.overall().set_index("study_id")
    # INO-VATE (full report, all domains low) and study 1010: low; a press release: high
    assert out.loc["ref18_INO-VATE", "overall"] == "low"
    assert out.loc["ref19_DeAngelo_1010", "overall"] == "low"
    assert out.loc["lu1_Wieduwilt_A041703_JCO", "overall"] == "high"
    assert out.loc["ref17_NCT03677596", "overall"] == "unclear"
    assert set(out["overall_label"]) <= {"Low concern", "Unclear", "High concern"}


# --- the share GRADE reads ---------------------------------------------------------------------


def _frame(ids, totals, **extra):
    df = pd.DataFrame({"study_id": ids, "total": pd.array(totals, dtype="Int64")})
    for name, values in extra.items():
        df[name] = pd.array(values, dtype="Int64")
    return df


def test_concern_share_by_patients_on_nullable_ints(small):
    rows = _frame(["fx01", "fx02", "fx03"], [10, 30, 60])
    # fx01 low (10 patients); fx02 unclear and fx03 high are of concern: 90 of 100
    assert rob.concern_share(rows, data_dir=small) == pytest.approx(0.9)


def test_concern_share_missing_total_falls_back(small):
    # fx02's total is pd.NA: its n_analysed (20) counts; fx03 has neither, so its
    # study's n_enrolled (71) counts; fx01 low with 9: (20 + 71) / (9 + 20 + 71)
    rows = _frame(["fx01", "fx02", "fx03"], [9, pd.NA, pd.NA], n_analysed=[pd.NA, 20, pd.NA])
    assert rob.concern_share(rows, data_dir=small) == pytest.approx(91 / 100)


def test_concern_share_unjudged_study_is_of_concern(small):
    rows = _frame(["fx01", "fx04"], [50, 50])
    assert rob.concern_share(rows, data_dir=small) == pytest.approx(0.5)


def test_concern_share_only_low_studies_is_zero(small):
    assert rob.concern_share(_frame(["fx01"], [12]), data_dir=small) == 0.0


def test_concern_share_empty_rows_is_nan(small):
    assert math.isnan(rob.concern_share(_frame([], []), data_dir=small))


def test_concern_share_no_patients_is_nan(small):
    assert math.isnan(rob.concern_share(_frame(["fx01", "fx02"], [0, 0]), data_dir=small))


def test_concern_share_without_any_count_raises(small):
    # fx14_unidentified has no n_enrolled either
    with pytest.raises(ValueError, match="fx14_unidentified"):
        rob.concern_share(_frame(["fx14_unidentified"], [pd.NA]), data_dir=small)


def test_concern_share_needs_the_study_column(small):
    with pytest.raises(KeyError):
        rob.concern_share(pd.DataFrame({"total": [1]}), data_dir=small)


def test_concern_share_on_real_outcome_rows():
    rows = data.outcome("OR")
    share = rob.concern_share(rows)
    flags = rob.overall(rows["study_id"]).set_index("study_id")["of_concern"]
    total = rows["total"].astype(float)
    expected = total[rows["study_id"].map(flags).to_numpy(dtype=bool)].sum() / total.sum()
    assert share == pytest.approx(expected)
    assert 0 < share < 1  # INO-VATE is low concern, others are not


# --- reader tables and figures -----------------------------------------------------------------


def test_summary_rows_sum_to_one(small):
    for weight in ("studies", "patients"):
        share = rob.summary(weight, data_dir=small)
        assert list(share.index)[-1] == "Overall"
        assert share.sum(axis=1).to_numpy() == pytest.approx(1.0)
    by_study = rob.summary("studies", data_dir=small)
    # overall: one of three studies low, one unclear, one high
    assert by_study.loc["Overall"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # by patients (37, 54, 71 enrolled): high concern share is 71 / 162
    by_n = rob.summary("patients", data_dir=small)
    assert by_n.loc["Overall", "High concern"] == pytest.approx(71 / 162)


def test_summary_rejects_unknown_weight(small):
    with pytest.raises(ValueError):
        rob.summary("rows", data_dir=small)


def test_wide_table_speaks_words(small):
    wide = rob.wide_table(data_dir=small)
    assert list(wide.columns) == ["Study", *rob.domains().values(), "Overall"]
    words = set(wide.drop(columns="Study").to_numpy().ravel())
    assert words <= {"Low concern", "Unclear", "High concern"}


def _overlaps(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


def test_traffic_light_one_row_per_study_and_legend_off_the_marks(small):
    ax = rob.traffic_light(data_dir=small)
    fig = ax.figure
    fig.canvas.draw()
    assert len(ax.get_yticks()) == 3
    assert len(ax.collections) == 3 * (len(DOMAINS) + 1)
    legend = ax.get_legend().get_window_extent()
    for coll in ax.collections:
        assert not _overlaps(legend, coll.get_window_extent())
    plt.close(fig)


def test_summary_bars_legend_below_the_bars(small):
    ax = rob.summary_bars("patients", data_dir=small)
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0
    plt.close(fig)


def test_tool_table_follows_the_plan(plan):
    t = rob.tool_table(plan)
    assert list(t["Domain"]) == list(rob.domains(plan).values())
    assert (t["Question"].str.len() > 20).all()


def test_reasons_table_has_one_row_per_judgement(small):
    t = rob.reasons_table(data_dir=small)
    assert len(t) == 3 * len(DOMAINS)
    assert set(t["Judgement"]) <= {"Low concern", "Unclear", "High concern"}


def test_headline_counts_match_overall(small):
    key = rob.headline(data_dir=small)
    # worked by hand from the fixture: one study per judgement; patients 37, 54, 71
    assert (key["n_studies"], key["n_low"], key["n_unclear"], key["n_high"]) == (3, 1, 1, 1)
    assert key["share_concern"] == pytest.approx((54 + 71) / 162)
    assert key["top_domain"] == "Reporting" and key["n_top_domain"] == 1


def test_paper_score_reads_the_papers_jadad_item(ds):
    # the paper printed a blinding point for the open-label INO-VATE trial
    assert rob.paper_score(ds.quality, "ref18_INO-VATE", "modified_jadad", "blinding") == (1, 2)
    with pytest.raises(KeyError):
        rob.paper_score(ds.quality, "ref18_INO-VATE", "minors", "blinding")


def test_concern_by_outcome_matches_concern_share_per_stratum(small, plan):
    table = rob.concern_by_outcome(["OR"], data_dir=small, plan=plan)
    rows = data.outcome("OR", data_dir=small)
    assert len(table) >= 1
    labels = {s["label"]: s["value"] for s in plan.raw["populations"]["strata"]}
    for _, r in table.iterrows():
        sub = rows[rows["disease_status"] == labels[r["Population"]]]
        assert r["Studies"] == sub["study_id"].nunique()
        assert r["Patients"] == int(sub["total"].sum())
        expected = rob.concern_share(sub, data_dir=small, plan=plan)
        assert r["Share of patients in reports of concern"] == pytest.approx(expected)


def test_paper_blinding_note(ds, small):
    note = rob.paper_blinding_note(ds.quality)
    assert "1 of 2 points for blinding" in note and "open-label" in note
    # a data folder without INO-VATE's score: no sentence
    assert rob.paper_blinding_note(data.load(small).quality) == ""


def test_reader_tables_with_a_domain_nobody_judged(tmp_path):
    """A study judged on one domain only (e.g. mid-way through an update)."""
    ddir = tmp_path / "data"
    shutil.copytree(FIXTURE, ddir)  # the fixture judges fx01 on selection only
    wide = rob.wide_table(data_dir=ddir)
    assert wide.loc[0, "Selection of patients"] == "Low concern"
    assert wide.loc[0, "Reporting"] == "Not judged"
    share = rob.summary("studies", data_dir=ddir)
    assert share.loc["Reporting"].sum() == 0.0
    ax = rob.traffic_light(data_dir=ddir)
    assert len(ax.collections) == 2  # selection and overall
    plt.close(ax.figure)


def _counting_load_plan(monkeypatch) -> list[int]:
    """Count the calls of rob's ``load_plan`` (each parses the plan's YAML again)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return load_plan(*args, **kwargs)

    monkeypatch.setattr(rob, "load_plan", counted)
    return calls


def test_overall_without_a_plan_reads_the_plan_once(monkeypatch):
    """Regression: ``overall()`` with the default plan parsed the YAML again for each
    study and each lookup (486 parses, two minutes, in one summary of findings)."""
    calls = _counting_load_plan(monkeypatch)
    table = rob.overall()
    assert len(table) > 1
    assert len(calls) == 1


def test_overall_and_judgements_with_a_plan_never_read_the_file(monkeypatch, plan):
    calls = _counting_load_plan(monkeypatch)
    rob.overall(plan=plan)
    rob.judgements(plan=plan)
    assert calls == []
