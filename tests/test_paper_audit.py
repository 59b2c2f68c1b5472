"""review.analysis.paper_audit: each check with a case that flags and one that does not."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from review.analysis import identification as idf
from review.analysis import paper_audit as pa
from scipy import stats


def _row(est, lo, hi, plo=math.nan, phi=math.nan, k=math.nan, outcome="X", section="3.3"):
    return pd.Series(
        {
            "outcome": outcome,
            "subgroup_by": "all",
            "subgroup": "all",
            "k": k,
            "estimate_pct": est,
            "ci_low_pct": lo,
            "ci_high_pct": hi,
            "pi_low_pct": plo,
            "pi_high_pct": phi,
            "i2_pct": 50.0,
            "het_pvalue": "0.01",
            "cited_refs": "",
            "section": section,
        }
    )


# --- class 1 ---------------------------------------------------------------------------------


def test_pi_width_bound_hand_worked():
    """k = 15: t(13) = 2.160, sqrt(16) = 4, z = 1.960 -> 4.41."""
    expected = stats.t.ppf(0.975, 13) * 4 / stats.norm.ppf(0.975)
    assert pa.pi_width_bound(15) == pytest.approx(expected)
    assert pa.pi_width_bound(15) == pytest.approx(4.408, abs=0.001)
    # A t-based CI has a larger quantile, so its bound is tighter.
    assert pa.pi_width_bound(15, ci_quantile="t") < pa.pi_width_bound(15)


def test_pi_width_flags_a_pi_far_wider_than_k_allows():
    """CI half-width 3.2 points, PI half-width about 49: a ratio above 13 on every scale."""
    f = pa.check_pi_width(_row(89.0, 85.8, 92.2, 1.2, 99.9, k=15))
    assert f["verdict"] == pa.INCONSISTENT


def test_pi_width_passes_a_pi_within_the_bound():
    """Raw scale: CI 50 +/- 5, PI 50 +/- 15 -> ratio 3 < 4.41."""
    f = pa.check_pi_width(_row(50.0, 45.0, 55.0, 35.0, 65.0, k=15))
    assert f["verdict"] == pa.CONSISTENT


def test_pi_width_silent_without_pi():
    assert pa.check_pi_width(_row(50.0, 45.0, 55.0, k=15)) is None


def test_fits_scale_symmetric_percent_and_logit():
    assert pa.fits_scale("percent", 50.0, 40.0, 60.0)
    assert not pa.fits_scale("percent", 20.0, 10.0, 40.0)
    # logit(0.2) = -1.386; logit bounds at -1.386 -/+ 0.5: 0.1317 and 0.2920
    assert pa.fits_scale("logit", 20.0, 13.2, 29.2)


def test_pi_centre_flags_an_off_centre_pi_and_passes_a_centred_one():
    flagged = pa.check_pi_centre(_row(6.2, 3.8, 8.6, 6.6, 54.5, k=16))
    assert flagged["verdict"] == pa.INCONSISTENT
    assert "does not even contain the estimate" in flagged["reasoning"]
    assert pa.check_pi_centre(_row(50.0, 45.0, 55.0, 35.0, 65.0, k=15))["verdict"] == (
        pa.CONSISTENT
    )


def test_pi_centre_leaves_truncated_bounds_uncheckable():
    f = pa.check_pi_centre(_row(10.0, 8.0, 12.0, 0.0, 40.0, k=10))
    assert f["verdict"] == pa.UNCHECKABLE


def test_pi_coincidence_flags_copied_bounds_only():
    rep = pd.DataFrame(
        [
            _row(23.6, 16.6, 30.6, 16.6, 99.6, k=10, outcome="relapse"),
            _row(50.0, 45.0, 55.0, 35.0, 65.0, k=15, outcome="Y"),
        ]
    )
    out = {f["subject"]: f["verdict"] for f in pa.check_pi_coincidence(rep)}
    assert out == {"relapse": pa.QUESTIONABLE, "Y": pa.CONSISTENT}


# --- class 2 ---------------------------------------------------------------------------------


def test_ci_pi_models_flags_raw_ci_with_non_raw_pi():
    assert pa.check_ci_pi_models(_row(89.0, 85.8, 92.2, 1.2, 99.9, k=15))["verdict"] == (
        pa.INCONSISTENT
    )
    assert pa.check_ci_pi_models(_row(50.0, 45.0, 55.0, 35.0, 65.0, k=15))["verdict"] == (
        pa.CONSISTENT
    )


def test_ae_table_flags_a_mix_of_scales_and_passes_one_kind():
    raw = _row(40.0, 30.0, 50.0, outcome="AE_a_any", section="Table 2")
    logit = _row(20.0, 13.2, 29.2, outcome="AE_b_any", section="Table 2")
    mixed = pa.check_ae_table_scales(pd.DataFrame([raw, logit]))
    assert mixed[0]["verdict"] == pa.INCONSISTENT
    same = pa.check_ae_table_scales(pd.DataFrame([raw, raw.copy().replace("AE_a_any", "AE_c")]))
    assert same[0]["verdict"] == pa.CONSISTENT


# --- class 3 ---------------------------------------------------------------------------------


def _quality(rows):
    cols = ["study_id", "paper_ref", "scale", "item", "item_label", "score", "max_score",
            "scorer", "rationale", "source"]  # fmt: skip
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def _studies(rows):
    cols = ["study_id", "paper_ref", "in_source_paper", "design", "id_confidence", "cohort_id",
            "overlap_note", "disease_status"]  # fmt: skip
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def test_items_sum_flags_a_wrong_total_and_passes_a_right_one():
    q = _quality(
        [
            ("a", 1, "minors", "1", "aim", 2, 2, "lao2025", "", ""),
            ("a", 1, "minors", "2", "consecutive", 1, 2, "lao2025", "", ""),
            ("a", 1, "minors", "total", "total", 4, 16, "lao2025", "", ""),
            ("b", 2, "minors", "1", "aim", 2, 2, "lao2025", "", ""),
            ("b", 2, "minors", "total", "total", 2, 16, "lao2025", "", ""),
        ]
    )
    out = {f["subject"]: f["verdict"] for f in pa.check_quality_items_sum(q)}
    assert out == {"ref 1": pa.INCONSISTENT, "ref 2": pa.CONSISTENT}


def test_quality_design_flags_points_the_design_cannot_earn():
    q = _quality(
        [
            ("a", 1, "minors", "3", "prospective data collection", 2, 2, "lao2025", "", ""),
            ("b", 2, "minors", "3", "prospective data collection", 2, 2, "lao2025", "", ""),
            ("c", 3, "modified_jadad", "3", "blinding", 1, 2, "lao2025", "", ""),
            ("c", 3, "modified_jadad", "3", "blinding", 0, 2, "review_team", "Open-label.", "x"),
            ("d", 4, "modified_jadad", "3", "blinding", 1, 2, "lao2025", "", ""),
            ("d", 4, "modified_jadad", "3", "blinding", 1, 2, "review_team", "Blinded.", "x"),
        ]
    )
    s = _studies(
        [
            ("a", 1, True, "retrospective_cohort", "moderate", "", "", ""),
            ("b", 2, True, "single_arm", "moderate", "", "", ""),
            ("c", 3, True, "rct", "high", "", "", ""),
            ("d", 4, True, "rct", "high", "", "", ""),
        ]
    )
    out = {f["subject"]: f["verdict"] for f in pa.check_quality_design(q, s)}
    assert out == {"ref 1": pa.INCONSISTENT, "ref 3": pa.INCONSISTENT}


def test_quality_text_flags_a_range_the_table_does_not_have():
    q = _quality(
        [
            ("a", 1, "minors", "total", "total", 12, 16, "lao2025", "", ""),
            ("b", 2, "minors", "total", "total", 14, 16, "lao2025", "", ""),
        ]
    )
    assert pa.check_quality_text(q)[0]["verdict"] == pa.INCONSISTENT
    text = dict(pa.QUALITY_TEXT, high=14)
    assert pa.check_quality_text(q, text)[0]["verdict"] == pa.CONSISTENT


def test_quality_coverage_flags_an_unassessed_study():
    q = _quality([("a", 1, "minors", "total", "total", 12, 16, "lao2025", "", "")])
    assert pa.check_quality_coverage(q, [1, 2])[0]["verdict"] == pa.INCONSISTENT
    assert pa.check_quality_coverage(q, [1])[0]["verdict"] == pa.CONSISTENT


def test_design_classification_flags_a_randomised_dose_study_left_out():
    q = _quality(
        [
            ("b", 2, "minors", "total", "total", 12, 16, "lao2025", "", ""),
            ("c", 3, "minors", "total", "total", 12, 16, "lao2025", "", ""),
        ]
    )
    s = _studies(
        [
            ("a", 1, True, "randomised_dose", "moderate", "", "", ""),
            ("b", 2, True, "single_arm", "high", "", "", ""),
            ("c", 3, True, "retrospective_cohort", "low", "", "", ""),
        ]
    )
    out = {f["subject"]: f["verdict"] for f in pa.check_design_classification(q, s)}
    assert out == {"ref 1": pa.INCONSISTENT, "ref 2": pa.CONSISTENT, "ref 3": pa.QUESTIONABLE}


# --- class 4 ---------------------------------------------------------------------------------


def test_double_counting_flags_two_references_of_one_cohort():
    s = _studies(
        [
            ("a", 1, True, "single_arm", "high", "C1", "same as b", ""),
            ("b", 2, True, "single_arm", "moderate", "C1", "", ""),
            ("c", 3, True, "single_arm", "high", "C2", "", ""),
            ("d", 4, False, "single_arm", "low", "C2", "", ""),
        ]
    )
    out = pa.check_double_counting(s)
    assert len(out) == 1
    assert out[0]["subject"] == "ref 1, ref 2"
    assert out[0]["verdict"] == pa.INCONSISTENT


def test_double_counting_resting_on_a_low_identification_is_questionable():
    s = _studies(
        [
            ("a", 1, True, "single_arm", "high", "C1", "", ""),
            ("b", 2, True, "single_arm", "low", "C1", "", ""),
        ]
    )
    assert pa.check_double_counting(s)[0]["verdict"] == pa.QUESTIONABLE


# --- class 5 ---------------------------------------------------------------------------------


def test_subgroup_citations_against_coded_status():
    nd, rr = idf.ND, idf.RR
    cons = (
        idf.Constraint("OS_1y", "newly diagnosed", nd, (1, 2, 3), (2,), "cited"),
        idf.Constraint("OS_2y", "newly diagnosed", nd, (1, 2), (1,), "cited"),
        idf.Constraint("OS_3y", "newly diagnosed", nd, (1, 4), (2,), "cited"),
    )
    inf = idf.Inference(
        pd.DataFrame(), cons, pd.DataFrame(), {}, pd.DataFrame(), (), pd.DataFrame(),
        pd.DataFrame(),
    )  # fmt: skip
    s = _studies(
        [
            ("a", 1, True, "single_arm", "high", "", "", nd),
            ("b", 2, True, "single_arm", "high", "", "", rr),
            ("c", 3, True, "single_arm", "high", "", "", rr),
            ("d", 4, True, "", "none", "", "", ""),
        ]
    )
    out = {f["subject"]: f["verdict"] for f in pa.check_subgroup_citations(inf, s)}
    assert out == {
        "OS_1y, newly diagnosed": pa.INCONSISTENT,
        "OS_2y, newly diagnosed": pa.CONSISTENT,
        "OS_3y, newly diagnosed": pa.QUESTIONABLE,
    }


# --- class 6 ---------------------------------------------------------------------------------


def test_claim_infrequent_flags_a_third_or_more_and_passes_low_rates():
    claim = [c for c in pa.CLAIMS if c["id"] == "infrequent_g3"]
    s = _studies([("a", 1, True, "single_arm", "high", "", "", "")])
    high = pd.DataFrame([_row(37.4, 27.2, 47.5, outcome="AE_x_g3")])
    low = pd.DataFrame([_row(4.0, 1.0, 8.0, outcome="AE_x_g3")])
    assert pa.check_claims(high, s, claim)[0]["verdict"] == pa.INCONSISTENT
    assert pa.check_claims(low, s, claim)[0]["verdict"] == pa.CONSISTENT


def test_comparative_claim_needs_a_test_of_the_difference():
    claim = [c for c in pa.CLAIMS if c["id"] == "nd_better"]
    s = _studies([("a", 1, True, "single_arm", "high", "", "", "")])
    rep = pd.DataFrame([_row(50.0, 40.0, 60.0)])
    assert pa.check_claims(rep, s, claim)[0]["verdict"] == pa.QUESTIONABLE
    tested = rep.assign(difference_pvalue=[0.01])
    assert pa.check_claims(tested, s, claim)[0]["verdict"] == pa.CONSISTENT


def test_text_counts_flag_parts_that_do_not_add_up():
    good = ({"quote": "q", "total": 3, "parts": (1, 2), "section": "s"},)
    bad = ({"quote": "q", "total": 4, "parts": (1, 2), "section": "s"},)
    assert pa.check_text_counts(good)[0]["verdict"] == pa.CONSISTENT
    assert pa.check_text_counts(bad)[0]["verdict"] == pa.INCONSISTENT


PAPER_TEXT = Path(__file__).resolve().parents[1] / ".." / "shared" / "paper" / "lao2025_article.txt"


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="the paper's text is not beside the repo")
def test_every_quote_is_verbatim_in_the_paper():
    text = PAPER_TEXT.read_text(encoding="utf-8")
    quotes = [c["quote"] for c in pa.CLAIMS] + [c["quote"] for c in pa.TEXT_COUNTS]
    quotes.append(pa.QUALITY_TEXT["quote"])
    missing = [q for q in quotes if q not in text]
    assert not missing


# --- verdicts ----------------------------------------------------------------------------------


def test_verdicts_rank_inconsistent_then_reproduced_then_not_reproducible():
    checks = pd.DataFrame(
        [
            {"outcome": "A", "subgroup": "all", "check": "bounds_possible",
             "status": "inconsistent", "detail": ""},
            {"outcome": "B", "subgroup": "all", "check": "bounds_possible",
             "status": "consistent", "detail": ""},
        ]
    )  # fmt: skip
    audit = pd.DataFrame(columns=["subject", "verdict", "check"])
    summary = pd.DataFrame(
        [
            {"outcome": o, "subgroup_by": "all", "subgroup": "all", "k_reported": 5,
             "k_matched": m, "reproduced": r, "reproducing": "DL" if r else "",
             "max_abs_diff_pp": d}
            for o, m, r, d in [("A", 5, True, 0.1), ("B", 5, True, 0.1), ("C", 2, False, 4.0)]
        ]
    )  # fmt: skip
    v = pa.verdicts(checks, audit, summary).set_index("outcome")
    assert v.at["A", "verdict"] == "internally inconsistent"
    assert "bound below 0% or above 100%" in v.at["A", "why"]
    assert v.at["B", "verdict"] == "reproduced"
    assert v.at["C", "verdict"] == "not reproducible with the studies we could identify"
    assert "2 of 5 studies" in v.at["C", "why"]
    assert pa.verdict_counts(v.reset_index())["inconsistent"] == "1"


def test_findings_html_escapes_text_and_links_the_section():
    audit = pd.DataFrame(
        [pa._finding(1, "<script>", "c", "p", "r", pa.INCONSISTENT, "Section 3.3.1")]
    )
    out = pa.findings_html(audit)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert f'<a href="{pa.PAPER_URL}">Section 3.3.1</a>' in out
    assert pa.findings_html(audit, only=["consistent"]) == "<p>No finding.</p>"
    v = pd.DataFrame([{"outcome": "<b>", "verdict": "reproduced", "why": "because"}])
    assert pa.verdicts_html(v) == (
        '<ul class="audit-verdicts"><li><strong>&lt;b&gt;</strong>: reproduced. Because.</li></ul>'
    )


def test_tables_for_readers_use_words():
    checks = pd.DataFrame(
        [{"outcome": "A", "subgroup": "all", "check": "ci_in_pi", "status": "inconsistent",
          "detail": "d"}]
    )  # fmt: skip
    t = pa.checks_table(checks, lambda c: {"A": "Outcome A"}[c])
    assert list(t["Finding"]) == ["CI not inside its prediction interval"]
    assert list(t["Outcome"]) == ["Outcome A"]
    assert pa.CHECK_QUESTIONS.keys() == pa.CHECK_WORDS.keys()
    every = pa.checks_table(checks, with_result=True)
    assert every.columns.tolist() == ["Outcome", "Subgroup", "Check", "Result", "Detail"]
    assert every.iloc[0][["Check", "Result"]].tolist() == [
        "CI inside its prediction interval",
        "Inconsistent",
    ]
    audit = pd.DataFrame([pa._finding(1, "X", "c", "p", "r", pa.INCONSISTENT, "s")])
    audit.insert(1, "class_name", audit["class"].map(pa.CLASSES))
    counts = pa.count_table(audit)
    assert counts.loc[0, "inconsistent"] == 1 and counts.loc[0, "consistent"] == 0
