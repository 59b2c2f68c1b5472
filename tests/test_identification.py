"""review.analysis.identification: the number of studies behind a subgroup from its I² and p, and
what that implies for the identifications. Each expected value is worked by hand in the
test's docstring."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from review.analysis import identification as idf
from scipy import stats

ND, RR = idf.ND, idf.RR


def test_q_interval_from_i2_inverts_higgins_thompson():
    """I² = 50.0% on df = 2: Q = 2 / (1 - I²) for I² in [49.95, 50.05] -> [3.996, 4.004]."""
    lo, hi = idf.q_interval_from_i2(50.0, 2)
    assert lo == pytest.approx(2 / (1 - 0.4995))
    assert hi == pytest.approx(2 / (1 - 0.5005))


def test_q_interval_from_i2_zero_allows_any_q_up_to_df():
    lo, hi = idf.q_interval_from_i2(0.0, 4)
    assert lo == 0.0
    assert hi == pytest.approx(4 / (1 - 0.0005))


def test_q_interval_from_p_is_the_chi2_quantile_of_the_rounded_p():
    """p = 0.015 stands for [0.0145, 0.0155]; Q is the upper quantile of chi2 on df."""
    lo, hi = idf.q_interval_from_p("0.015", 6)
    assert lo == pytest.approx(stats.chi2.isf(0.0155, 6))
    assert hi == pytest.approx(stats.chi2.isf(0.0145, 6))
    assert idf.q_interval_from_p("<0.001", 3)[1] == math.inf
    assert all(math.isnan(v) for v in idf.q_interval_from_p("", 3))


@pytest.mark.parametrize(
    ("i2", "p", "k"),
    [
        # Q = 6 / (1 - 0.621) = 15.83 and P(chi2_6 > 15.83) = 0.0147; with k = 6,
        # Q = 5 / 0.379 = 13.19 gives p = 0.0216, and with k = 8 p = 0.010.
        (62.1, "0.015", (7,)),
        # Q = 1 / (1 - 0.425) = 1.739, P(chi2_1 > 1.739) = 0.187; k = 3 gives 0.176.
        (42.5, "0.187", (2,)),
        # Q = 2 / (1 - 0.781) = 9.13, P(chi2_2 > 9.13) = 0.0104; k = 4 gives 0.0033.
        (78.1, "0.010", (3,)),
    ],
)
def test_implied_k_hand_worked(i2, p, k):
    assert idf.implied_k(i2, p) == k


def test_implied_k_none_when_nothing_fits():
    """I² = 90% with p = 0.5 cannot hold: Q = 10 df would give p far below 0.5."""
    assert idf.implied_k(90.0, "0.5") == ()
    assert idf.implied_k(50.0, "") == ()


def test_implied_k_with_i2_zero_keeps_every_k_whose_q_fits():
    """I² = 0 and p = 0.482: with k = 3, Q = chi2_2 quantile = 1.46 <= 2, so k = 3 fits."""
    assert 3 in idf.implied_k(0.0, "0.482")


def _reported(rows):
    cols = ["outcome", "subgroup_by", "subgroup", "k", "estimate_pct", "ci_low_pct",
            "ci_high_pct", "pi_low_pct", "pi_high_pct", "i2_pct", "het_pvalue",
            "egger_pvalue", "cited_refs", "section"]  # fmt: skip
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def _studies(rows):
    cols = ["study_id", "paper_ref", "id_role", "disease_status", "id_confidence"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


# A toy paper with four references 1-4. Outcome A cites 1, 2, 3; its newly diagnosed subgroup
# prints I² 42.5% and p 0.187 (k = 2). Outcome B was reported by all four; its newly diagnosed
# subgroup also implies k = 2. Refs 1 (ND) and 2 (RR) are anchors.
TOY = _reported(
    [
        ("A", "all", "all", 3, 50, 40, 60, None, None, 80.0, "<0.001", None, "1;2;3", "1"),
        ("A", "disease_status", "newly diagnosed", None, 60, 50, 70, None, None, 42.5,
         "0.187", None, "", "1"),
        ("B", "all", "all", 4, 50, 40, 60, None, None, 80.0, "<0.001", None, "", "2"),
        ("B", "disease_status", "newly diagnosed", None, 60, 50, 70, None, None, 42.5,
         "0.187", None, "", "2"),
        ("C", "all", "all", 3, 50, 40, 60, None, None, 80.0, "<0.001", None, "", "3"),
        ("C", "disease_status", "newly diagnosed", None, 60, 50, 70, None, None, 42.5,
         "0.187", None, "", "3"),
    ]
)  # fmt: skip
TOY_STUDIES = _studies(
    [
        ("s1", 1, "best", ND, "high"),
        ("s2", 2, "best", RR, "moderate"),
        ("s3", 3, "best", RR, "low"),
        ("s3b", 3, "runner_up", ND, "low"),
        ("s4", 4, "best", ND, "low"),
    ]
)


def test_subgroup_constraints_use_cited_refs_or_all_studies():
    cons, unused = idf.subgroup_constraints(TOY, included=range(1, 5))
    pools = {c.outcome: c.pool for c in cons}
    assert pools == {"A": (1, 2, 3), "B": (1, 2, 3, 4)}
    assert all(c.counts == (2,) for c in cons)
    # C's k (3) is not the number of included studies and it cites nothing: unused.
    assert list(unused["outcome"]) == ["C"]


def test_anchors_need_agreeing_candidates_and_confidence():
    """Ref 3's candidates disagree (RR vs ND) and ref 4 is a single low identification."""
    assert idf.anchors(TOY_STUDIES) == {1: ND, 2: RR}


def test_anchors_accept_two_agreeing_low_candidates():
    s = _studies([("a", 5, "best", ND, "low"), ("b", 5, "runner_up", ND, "low")])
    assert idf.anchors(s) == {5: ND}


def test_ref_status_hand_worked():
    """A: 1 ND, 2 RR, two ND among 1-3 -> 3 is ND. B: two ND among 1-4 -> 4 is RR."""
    cons, _ = idf.subgroup_constraints(TOY, included=range(1, 5))
    st = idf.ref_status(cons, idf.anchors(TOY_STUDIES), range(1, 5)).set_index("paper_ref")
    assert st.at[3, "status"] == ND
    assert st.at[4, "status"] == RR
    assert "A, newly diagnosed" in st.at[3, "deciding"]
    # Left free, anchor 1 is decided too (two ND among 1-3 with 2 RR needs 1 and 3 ND...
    # but 3 is free then as well), so it is only checked for feasibility.
    assert bool(st.at[1, "feasible"])


def test_candidate_verdicts_flag_the_contradicted_best_and_keep_the_fitting_runner_up():
    inf = idf.infer(TOY, TOY_STUDIES, included=range(1, 5))
    v = inf.candidates.set_index("study_id")["verdict"]
    assert v["s3"] == "contradicted"
    assert v["s3b"] == "fits"
    assert v["s4"] == "contradicted"
    assert v["s2"] in {"fits", "not decided by the statistics"}


def test_joint_statement_exactly_one_of():
    """Pool (1, 2, 3) with exactly one ND and no anchors: the three vary, one is ND."""
    cons = [idf.Constraint("X", "newly diagnosed", ND, (1, 2, 3), (1,), "cited")]
    feas = idf.feasible_assignments(cons, {}, [1, 2, 3])
    assert len(feas) == 3
    assert idf.joint_statements(feas) == [{"refs": (1, 2, 3), "nd_counts": (1,), "n_solutions": 3}]


def test_no_feasible_assignment_is_reported():
    cons = [idf.Constraint("X", "newly diagnosed", ND, (1, 2), (2,), "cited")]
    st = idf.ref_status(cons, {1: RR, 2: RR}, [1, 2])
    # Both must be ND but both anchors say RR: freeing one does not help, nothing fits.
    assert list(st["status"]) == ["", ""]
    assert not st["feasible"].any()
    assert idf.feasible_assignments(cons, {1: RR, 2: RR}, []) == []


def test_admissible_range_hand_worked_raw_scale():
    """Estimate 50%, Q <= 1, n = 100 alone: 100 (y - 0.5)² <= y (1 - y), i.e.
    101 y² - 101 y + 25 <= 0, y in [0.4502, 0.5498]; the centre may move 0.05 points."""
    lo, hi = idf.admissible_range(50.0, 1.0, 100)
    assert lo == pytest.approx(45.0, abs=0.15)
    assert hi == pytest.approx(55.0, abs=0.15)


def test_admissible_range_shrinks_with_a_known_study_and_can_be_empty():
    alone = idf.admissible_range(50.0, 1.0, 100)
    # A known study at 54% of 100 already uses 100 * 0.04² / 0.2484 = 0.64 of Q.
    joint = idf.admissible_range(50.0, 1.0, 100, known=[(54.0, 100)])
    assert alone[0] < joint[0] and joint[1] < alone[1]
    # A known study at 70% of 100 alone exceeds Q (100 * 0.04 / 0.21 = 19): nothing fits.
    assert all(math.isnan(v) for v in idf.admissible_range(50.0, 1.0, 100, known=[(70.0, 100)]))


def test_input_tests_flag_an_input_outside_and_pass_one_inside():
    """I² = 0, p = 0.482 on refs 1-3 (df = 2): Q <= 1.46. 5% of 73 against 44.9% is outside
    (73 x 0.399² / 0.0475 = 245 > 1.46); 45% of 80 is inside."""
    rep = _reported(
        [("OS", "all", "all", 3, 44.9, 39.2, 50.5, None, None, 0.0, "0.482", None, "1;2;3", "x")]
    )
    held = pd.DataFrame(
        {"outcome": ["OS", "OS"], "paper_ref": [1, 2], "estimate_pct": [5.0, 45.0], "n": [73, 80]}
    )
    t = idf.input_tests(rep, held).set_index("paper_ref")
    assert not t.at[1, "inside"]
    assert t.at[2, "inside"]
    lo, hi = t.at[1, "raw_range"]
    assert 30 < lo < 44.9 < hi < 60


def test_input_tests_skip_pools_with_heterogeneity():
    rep = _reported(
        [("OS", "all", "all", 3, 44.9, 39.2, 50.5, None, None, 12.0, "0.3", None, "1;2;3", "x")]
    )
    held = pd.DataFrame({"outcome": ["OS"], "paper_ref": [1], "estimate_pct": [5.0], "n": [73]})
    assert idf.input_tests(rep, held).empty


def test_reasoning_names_the_status_and_the_verdict():
    inf = idf.infer(TOY, TOY_STUDIES, included=range(1, 5))
    text = inf.reasoning()
    assert "ref 3 must be newly diagnosed" in text["s3"]
    assert "is contradicted" in text["s3"]
    assert text["s3b"].endswith("fits.")


def test_studies_id_reasoning_is_current():
    """data/studies.csv holds the generated sentence the current data give (rerun
    ``python -m review.analysis.identification data`` after changing an identification)."""
    from review import data
    from review.data.plan import load_plan

    studies = data.load().studies
    expected = idf.reasoning_column(studies, idf.for_review(load_plan()))
    stored = studies["id_reasoning"].fillna("").astype(str)
    stale = studies.loc[stored != expected, "study_id"].tolist()
    assert not stale, f"id_reasoning out of date for {stale}"


def test_reasoning_column_keeps_the_recorded_decision():
    inf = idf.infer(TOY, TOY_STUDIES, included=range(1, 5))
    s = TOY_STUDIES.assign(id_reasoning=["", "old text. Decision: keep.", "", "", ""])
    col = idf.reasoning_column(s, inf)
    assert col[1].endswith("Decision: keep.")
    assert not col[1].startswith("old text")


def test_reader_tables_speak_words():
    inf = idf.infer(TOY, TOY_STUDIES.assign(citation="A report"), included=range(1, 5))
    sub = idf.subgroup_table(inf)
    assert "2 of references 1, 2, 3 are newly diagnosed" in " ".join(sub["What follows"])
    ref = idf.reference_table(inf, TOY_STUDIES.assign(citation="A report"))
    text = " ".join(ref.astype(str).to_numpy().ravel())
    assert "newly_diagnosed" not in text and "relapsed_refractory" not in text
    assert "contradicted" in set(ref["Verdict"])


def test_paper_refs_are_the_paper_rows_of_the_study_table():
    s = pd.DataFrame(
        {
            "paper_ref": [17, 17, 18, None],
            "in_source_paper": [True, False, True, False],
        }
    )
    assert idf.paper_refs(s) == (17, 18)


def test_summary_values_are_words_not_bare_lists():
    """myst-nb reads a glued "17, 18" as a tuple and prints "(17, 18)"; words avoid it."""
    inf = idf.infer(TOY, TOY_STUDIES, included=range(1, 5))
    v = idf.summary_values(inf)
    # Ref 1 left free: A needs 1 and 3 ND (2 is RR); ref 2 left free: one of 2, 3 is ND,
    # so 2 stays open; 3 ND and 4 RR as in test_ref_status_hand_worked.
    assert v["decided_nd"] == "references 1 and 3"
    assert v["decided_rr"] == "reference 4"
    assert "s3" in v["contradicted"]
