"""Consistency checks of a paper's reported pooled numbers."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from review.analysis import paper_checks as pc
from scipy import stats


def row(**kw):
    base = {
        "outcome": "X",
        "subgroup_by": "all",
        "subgroup": "all",
        "k": math.nan,
        "estimate_pct": 50.0,
        "ci_low_pct": 40.0,
        "ci_high_pct": 60.0,
        "pi_low_pct": math.nan,
        "pi_high_pct": math.nan,
        "i2_pct": math.nan,
        "het_pvalue": None,
        "cited_refs": None,
    }
    return pd.Series(base | kw)


def test_parse_pvalue():
    assert pc.parse_pvalue("<0.001") == (0.0, 0.001)
    lo, hi = pc.parse_pvalue("0.025")
    assert lo == pytest.approx(0.0245) and hi == pytest.approx(0.0255)
    assert all(math.isnan(v) for v in pc.parse_pvalue(None))


@pytest.mark.parametrize(
    ("est", "status"),
    [(50.0, "consistent"), (60.1, "consistent"), (60.2, "inconsistent"), (39.0, "inconsistent")],
)
def test_estimate_in_ci(est, status):
    assert pc.check_estimate_in_ci(row(estimate_pct=est))["status"] == status


def test_ci_in_pi():
    assert pc.check_ci_in_pi(row())["status"] == "not checkable"
    assert pc.check_ci_in_pi(row(pi_low_pct=20, pi_high_pct=80))["status"] == "consistent"
    out = pc.check_ci_in_pi(row(pi_low_pct=45, pi_high_pct=80))
    assert out["status"] == "inconsistent" and "estimate" not in out["detail"]
    out = pc.check_ci_in_pi(row(pi_low_pct=55, pi_high_pct=80))
    assert "even the estimate" in out["detail"]


def test_bounds():
    assert pc.check_bounds(row())["status"] == "consistent"
    out = pc.check_bounds(row(ci_low_pct=-0.02))
    # the bound is named in words (issue 22), with its value as printed
    assert out["status"] == "inconsistent" and "CI lower = -0.02%" in out["detail"]
    assert pc.check_bounds(row(pi_high_pct=100.5))["status"] == "inconsistent"


def test_asymmetry_is_zero_on_the_scale_the_interval_was_built_on():
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    expit = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    centre = logit(0.2)
    lo, hi = expit(centre - 0.5) * 100, expit(centre + 0.5) * 100
    asym = pc.interval_asymmetry(20.0, lo, hi)
    assert asym["logit"] == pytest.approx(0.0, abs=1e-12)
    assert asym["percent"] > 0.05


def test_shape_symmetric_with_freeman_tukey_stated_is_a_finding():
    out = pc.check_interval_shape(
        row(estimate_pct=10.0, ci_low_pct=6.0, ci_high_pct=14.0, i2_pct=80.0)
    )
    assert out["status"] == "inconsistent" and "fits raw proportions" in out["detail"]
    out = pc.check_interval_shape(
        row(estimate_pct=10.0, ci_low_pct=6.0, ci_high_pct=14.0, i2_pct=20.0)
    )
    assert out["status"] == "consistent"


def test_shape_arcsine_interval_is_consistent_with_freeman_tukey():
    g = lambda p: np.arcsin(np.sqrt(p))  # noqa: E731
    h = lambda x: np.sin(x) ** 2  # noqa: E731
    lo, hi = h(g(0.1) - 0.08) * 100, h(g(0.1) + 0.08) * 100
    out = pc.check_interval_shape(
        row(estimate_pct=10.0, ci_low_pct=round(lo, 1), ci_high_pct=round(hi, 1), i2_pct=80.0)
    )
    assert out["status"] == "consistent" and "arcsine" in out["detail"]


def test_shape_near_half_is_not_checkable():
    out = pc.check_interval_shape(
        row(estimate_pct=50.0, ci_low_pct=45.0, ci_high_pct=55.0, i2_pct=80.0)
    )
    assert out["status"] == "not checkable"


def test_shape_longer_arm_away_from_half_is_a_finding():
    out = pc.check_interval_shape(row(estimate_pct=22.5, ci_low_pct=4.3, ci_high_pct=30.7))
    assert out["status"] == "inconsistent" and "points away from 50%" in out["detail"]


def test_i2_q_k_with_k():
    # Q = 30 with 9 df: I2 = 70%, p = chi2.sf(30, 9)
    p = stats.chi2.sf(30, 9)
    ok = pc.check_i2_q_k(row(k=10, i2_pct=70.0, het_pvalue=f"{p:.4f}"))
    assert ok["status"] == "consistent"
    bad = pc.check_i2_q_k(row(k=10, i2_pct=70.0, het_pvalue="0.200"))
    assert bad["status"] == "inconsistent"
    zero = pc.check_i2_q_k(row(k=3, i2_pct=0.0, het_pvalue="0.482"))
    assert zero["status"] == "consistent"
    zero_bad = pc.check_i2_q_k(row(k=3, i2_pct=0.0, het_pvalue="0.020"))
    assert zero_bad["status"] == "inconsistent"


def test_i2_q_k_detail_writes_tiny_p_values_for_readers():
    # k = 15 with I2 = 90.1%: the implied p is about 1e-23, written with a power of ten
    out = pc.check_i2_q_k(row(k=15, i2_pct=90.1, het_pvalue="<0.001"))
    assert out["status"] == "consistent"
    assert "e-" not in out["detail"] and "I2" not in out["detail"]
    assert re.search(r"implies p from \d\.\d\d × 10⁻²³ to \d\.\d\d × 10⁻²³", out["detail"])


def test_i2_q_k_implies_k_when_missing():
    p = stats.chi2.sf(12.0, 4)  # k = 5, I2 = (12 - 4) / 12 = 66.7%
    out = pc.check_i2_q_k(row(i2_pct=66.7, het_pvalue=f"{p:.3f}"))
    assert out["status"] == "consistent" and "implies k = 5" in out["detail"]
    assert pc.check_i2_q_k(row())["status"] == "not checkable"


def test_study_count():
    assert pc.check_study_count(row(k=3, cited_refs="19;20;21"))["status"] == "consistent"
    out = pc.check_study_count(row(k=4, cited_refs="19;20;21"))
    assert out["status"] == "inconsistent" and "k = 4 but 3" in out["detail"]
    out = pc.check_study_count(row(k=2, cited_refs="19;40"), included_refs=range(17, 33))
    assert out["status"] == "inconsistent" and "[40]" in out["detail"]
    assert pc.check_study_count(row(cited_refs="19;20"))["status"] == "not checkable"


def test_grade3_not_above_any():
    table = pd.DataFrame(
        [
            row(outcome="AE_a_any", estimate_pct=30.0),
            row(outcome="AE_a_g3", estimate_pct=40.0),
            row(outcome="AE_b_any", estimate_pct=30.0),
            row(outcome="AE_b_g3", estimate_pct=10.0),
        ]
    )
    out = {r["outcome"]: r["status"] for r in pc.check_grade3_not_above_any(table)}
    assert out == {"AE_a_g3": "inconsistent", "AE_b_g3": "consistent"}


def test_findings_on_the_papers_numbers():
    """Known findings in Lao 2025 (reported_pooled.csv), each verifiable by hand."""
    res = pc.run_checks(pc.load_reported())
    find = res.set_index(["outcome", "subgroup", "check"])["status"]
    # CR: PI 3.3-76.9 does not contain the CI's upper bound 82.5 (section 3.3.2)
    assert find["CR", "all", "ci_in_pi"] == "inconsistent"
    # VOD: PI 6.6-54.5 does not contain the estimate 6.2 (section 3.7)
    assert find["VOD", "all", "ci_in_pi"] == "inconsistent"
    # VOD with InO + chemotherapy: lower bound -0.02%
    assert find["VOD", "InO + chemotherapy", "bounds_possible"] == "inconsistent"
    # Table 2: anaemia any grade upper bound 113.3%
    assert find["AE_anemia_any", "all", "bounds_possible"] == "inconsistent"
    # OR: 89.0 (85.8-92.2), symmetric, I2 90.1% > 50% where Freeman-Tukey is stated
    assert find["OR", "all", "interval_shape"] == "inconsistent"
    # the eight OS_1y references match k = 8
    assert find["OS_1y", "all", "study_count_fits_refs"] == "consistent"
    assert set(res["status"]) <= {"consistent", "inconsistent", "not checkable"}


# --- reproduction ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan():
    from review.data.plan import load_plan

    return load_plan()


def paper_rows():
    from test_analysis import make_rows

    rows = make_rows(
        [
            {"events": e, "total": n, "paper_ref": r, "disease_status": ds, "regimen_group": rg}
            for e, n, r, ds, rg in [
                (30, 50, 19, "relapsed_refractory", "ino_mono"),
                (44, 60, 20, "relapsed_refractory", "ino_chemo"),
                (20, 40, 21, "relapsed_refractory", "ino_mono"),
                (36, 40, 22, "newly_diagnosed", "ino_chemo"),
                (70, 77, 29, "newly_diagnosed", "ino_chemo_pm_blina"),
            ]
        ]
    )
    rows["in_source_paper"] = [True, True, True, True, True]
    extra = make_rows([{"events": 5, "total": 10, "paper_ref": pd.NA}])
    extra["in_source_paper"] = False
    return pd.concat([rows, extra], ignore_index=True)


def reported(**kw):
    base = {
        "outcome": "CR",
        "subgroup_by": "all",
        "subgroup": "all",
        "k": 5,
        "estimate_pct": 0.0,
        "ci_low_pct": 0.0,
        "ci_high_pct": 0.0,
        "cited_refs": None,
    }
    return pd.Series(base | kw)


def test_match_rows(plan):
    from review.analysis import reproduction as rp

    rows = paper_rows()
    assert len(rp.match_rows(rows, reported(), plan)) == 5  # the added study is not the paper's
    nd = rp.match_rows(
        rows, reported(subgroup_by="disease_status", subgroup="newly diagnosed"), plan
    )
    assert sorted(nd["paper_ref"]) == [22, 29]
    mono = rp.match_rows(rows, reported(subgroup_by="regimen", subgroup="InO monotherapy"), plan)
    assert sorted(mono["paper_ref"]) == [19, 21]
    cited = rp.match_rows(rows, reported(cited_refs="19;20;30"), plan)
    assert sorted(cited["paper_ref"]) == [19, 20]
    with pytest.raises(KeyError, match="subgroup_codes"):
        rp.match_rows(rows, reported(subgroup_by="regimen", subgroup="CAR-T"), plan)


def test_reproduce_names_the_method_that_fits(plan):
    """A reported number made with raw proportions + DL is reproduced by that candidate."""
    from review.analysis import reproduction as rp

    rows = paper_rows()
    ev, n = [30, 44, 20, 36, 70], [50, 60, 40, 40, 77]
    truth = mp_fit(ev, n, "PR", "DL")
    rep = pd.DataFrame(
        [
            reported(
                estimate_pct=round(100 * truth.estimate, 1),
                ci_low_pct=round(100 * truth.ci[0], 1),
                ci_high_pct=round(100 * truth.ci[1], 1),
                cited_refs="19;20;21;22;29;31",
            )
        ]
    )
    frame = rp.reproduce(rep, plan, rows={"CR": rows})
    got = frame.set_index("candidate")
    assert bool(got.loc["pr_dl", "reproduced"])
    assert not bool(got.loc["plo_reml", "reproduced"])
    summ = rp.summary(frame).iloc[0]
    assert summ["closest"] == "Raw proportions, DL" and summ["reproduced"]
    assert summ["refs_cited_not_matched"] == "31" and summ["k_matched"] == 5


def test_reproduce_survival_pseudo_counts(plan):
    from review.analysis import reproduction as rp
    from test_analysis import make_rows

    rows = make_rows(
        [
            {
                "kind": "survival",
                "events": pd.NA,
                "total": pd.NA,
                "outcome": "OS_1y",
                "estimate": s,
                "n_analysed": m,
                "paper_ref": r,
            }
            for s, m, r in [(0.6, 80, 19), (0.45, 60, 20)]
        ]
    )
    rows["in_source_paper"] = True
    fits = rp.candidate_fits(rows, plan)
    assert fits["pseudo_counts"].all()
    ref = mp_fit([48, 27], [80, 60], "PR", "DL")
    pr = fits.set_index("candidate").loc["pr_dl"]
    assert pr["estimate_pct"] == pytest.approx(100 * ref.estimate)


def mp_fit(ev, n, measure, method):
    import metaprop as mp

    return mp.meta_prop(ev, n, measure=measure, method=method, test="z")
