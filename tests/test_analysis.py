"""review.analysis applies the plan: row rules, model choice, fallbacks, k = 0/1, landmarks.

The rows are built here (the columns ``review.data`` returns), so each rule is tested on
rows made to trigger it.
"""

import math

import metaprop as mp
import numpy as np
import pandas as pd
import pytest
from review import analysis as an
from review.data.plan import load_plan


@pytest.fixture(scope="module")
def plan():
    return load_plan()


def make_rows(specs):
    """Rows like review.data.outcome(): one dict per study, defaults filled in."""
    rows = []
    for i, s in enumerate(specs):
        base = {
            "study_id": f"s{i}",
            "label": f"Study {i}",
            "outcome": "CR",
            "kind": "binary",
            "variant": "all_treated",
            "primary": True,
            "events": 10,
            "total": 20,
            "disease_status": "relapsed_refractory",
            "regimen_group": "ino_mono",
            "source_tier": "journal",
            "design": "single_arm",
            "cohort_id": f"C{i}",
            "id_confidence": "high",
            "available_from": "2020-01",
            "minors": 14,
            "jadad": pd.NA,
            "curve_read": False,
            "in_source_paper": True,
            "estimate": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "n_analysed": pd.NA,
        }
        rows.append(base | s)
    df = pd.DataFrame(rows)
    df["events"] = df["events"].astype("Int64")
    df["total"] = df["total"].astype("Int64")
    return df


def test_select_rows_rules(plan):
    df = make_rows(
        [
            {"events": pd.NA},  # percentage only
            {"id_confidence": "none"},  # not identified
            {"cohort_id": "A", "available_from": "2019", "total": 50},
            {"cohort_id": "A", "available_from": "2023-05", "total": 40},  # latest report of A
            {"cohort_id": "B", "available_from": "2022", "total": 30},
            {"cohort_id": "B", "available_from": "2022", "total": 60},  # same date, larger
            {"source_tier": "abstract"},
        ]
    )
    kept, dropped = an.select_rows(df, plan)
    assert kept["study_id"].tolist() == ["s3", "s5", "s6"]
    reasons = dict(zip(dropped["study_id"], dropped["reason"], strict=True))
    assert "no usable numbers" in reasons["s0"]
    assert "confidence" in reasons["s1"]
    assert "same cohort" in reasons["s2"] and "same cohort" in reasons["s4"]
    kept, _ = an.select_rows(df, plan, exclude_tiers=("abstract",), one_per_cohort=False)
    assert set(kept["study_id"]) == {"s2", "s3", "s4", "s5"}
    kept, _ = an.select_rows(df, plan, min_id_confidence="high")
    assert "s1" not in set(kept["study_id"])


def test_no_study_and_one_study(plan):
    none = an.primary_fit(make_rows([{"events": pd.NA}]), plan, outcome="CR")
    assert not none.pooled and none.k == 0 and "no study" in none.note
    one = an.primary_fit(make_rows([{"events": 7, "total": 25}]), plan, outcome="CR")
    assert not one.pooled and one.k == 1 and one.result is None
    low, high = mp.study_ci([7], [25], method="exact")
    row = one.single.iloc[0]
    assert row["proportion"] == pytest.approx(7 / 25)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low[0], high[0]))
    assert "no pooled estimate" in row["reason"]


def test_primary_is_glmm(plan):
    df = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19), (40, 52)]])
    fit = an.primary_fit(df, plan, outcome="CR")
    assert fit.model.is_glmm and fit.result.method == "GLMM"
    ref = mp.meta_prop_glmm([12, 30, 8, 40], [20, 41, 19, 52])
    assert fit.result.estimate == pytest.approx(ref.estimate)
    assert "coverage is poor below 5" in fit.note


def test_fallback_when_glmm_not_identified(plan):
    df = make_rows([{"events": e, "total": n} for e, n in [(0, 10), (10, 10), (4, 9)]])
    fit = an.primary_fit(df, plan, outcome="CR")
    assert not fit.model.is_glmm and fit.model.id == plan.fallback.id
    assert "fallback model" in fit.note
    ref = mp.meta_prop([0, 10, 4], [10, 10, 9], measure="PLO", method="REML", test="adhoc")
    assert fit.result.estimate == pytest.approx(ref.estimate)


def test_by_population_and_comparison(plan):
    df = make_rows(
        [{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19)]]
        + [
            {"events": e, "total": n, "disease_status": "newly_diagnosed"}
            for e, n in [(40, 45), (50, 60)]
        ]
    )
    fits = an.by_population(df, plan, outcome="CR")
    assert list(fits) == ["newly_diagnosed", "relapsed_refractory", "all"]
    assert [f.k for f in fits.values()] == [2, 3, 5]
    table = an.results_table(fits, plan)
    assert table["population"].iloc[2].startswith("All patients")
    assert "for comparison only" in table["population"].iloc[2]
    assert table["patients"].tolist() == [105, 80, 185]
    # prediction interval only with k >= 3, from t(k-1)
    assert math.isnan(table["pi_low"].iloc[0])
    # three studies: the plan's interval model is the Bayesian one (coverage study), whose
    # posterior predictive interval is the reported prediction interval
    rr = fits["relapsed_refractory"]
    assert rr.headline is not None and rr.headline.method == "bayes"
    assert table["estimate"].iloc[1] == pytest.approx(rr.headline.estimate)
    assert (table["pi_low"].iloc[1], table["pi_high"].iloc[1]) == pytest.approx(rr.headline.pi)
    # two studies: the GLMM with a t(1) interval, no headline from another model
    nd = fits["newly_diagnosed"]
    assert nd.headline is None and nd.model.test == "t"


def test_heterogeneity_i2_ci_from_inverse_variance(plan):
    df = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19), (40, 52)]])
    fit = an.primary_fit(df, plan, outcome="CR")
    het = an.heterogeneity(fit, plan)
    iv = mp.meta_prop([12, 30, 8, 40], [20, 41, 19, 52], method="REML", test="adhoc")
    assert (het["i2_ci_low"], het["i2_ci_high"]) == pytest.approx(tuple(iv.i2_ci()))
    assert "inverse-variance logit" in het["note"]


def test_sensitivity_table_has_every_model_and_the_papers(plan):
    df = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19), (40, 52)]])
    table = an.sensitivity_table(df, plan, outcome="CR")
    labels = set(table["model"])
    assert plan.primary.label in labels
    assert {s.label for s in plan.sensitivity} <= labels
    assert any(label.startswith("Paper:") for label in labels)
    assert set(table["k"]) == {4}


def test_small_study_effects_needs_ten(plan):
    df = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19)]])
    out = an.small_study_effects(an.primary_fit(df, plan), plan)
    assert out["run"] is False and "fewer than the 10" in out["reason"]


def surv_rows(specs):
    return make_rows(
        [
            {"kind": "survival", "events": pd.NA, "total": pd.NA, "outcome": "OS_1y"} | s
            for s in specs
        ]
    )


def test_landmark_fit_uses_reported_estimates(plan):
    df = surv_rows(
        [
            {"estimate": 0.6, "ci_low": 0.5, "ci_high": 0.7, "n_analysed": 80},
            {"estimate": 0.4, "ci_low": 0.3, "ci_high": 0.52, "n_analysed": 60},
            {"estimate": 0.55, "n_analysed": 40},  # no CI: approximate from n
        ]
    )
    fit = an.landmark_fit(df, plan, outcome="OS_1y")
    es = mp.estimates_to_effects(
        [0.6, 0.4, 0.55],
        [0.5, 0.3, np.nan],
        [0.7, 0.52, np.nan],
        n=[80, 60, 40],
        scale="cloglog",
        percent=False,
    )
    ref = mp.meta_analysis(es, method="REML", test="adhoc")
    assert fit.result.estimate == pytest.approx(ref.estimate)
    assert "number analysed" in fit.note and "Study 2" in fit.note


def test_landmark_curve_read_sensitivity_and_single(plan):
    df = surv_rows(
        [
            {"estimate": 0.6, "ci_low": 0.5, "ci_high": 0.7, "n_analysed": 80},
            {"estimate": 0.4, "ci_low": 0.3, "ci_high": 0.52, "n_analysed": 60, "curve_read": True},
        ]
    )
    assert an.landmark_fit(df, plan).k == 2
    fit = an.landmark_fit(df, plan, exclude_curve_read=True)
    assert fit.k == 1 and not fit.pooled and "curve-read" in fit.note
    assert fit.single["proportion"].iloc[0] == pytest.approx(0.6)
    assert fit.single["ci_low"].iloc[0] < 0.6 < fit.single["ci_high"].iloc[0]


FIXTURE = __import__("pathlib").Path(__file__).parent / "fixtures" / "data_small"


def test_fixture_data_end_to_end(plan):
    """The small fixture dataset through review.data and the plan (k = 12 for OR)."""
    df = an.rows_for("OR", plan, data_dir=FIXTURE)
    fits = an.by_population(df, plan, outcome="OR")
    ks = {key: fit.k for key, fit in fits.items()}
    assert ks["all"] == ks["newly_diagnosed"] + ks["relapsed_refractory"]
    # the runner-up report (fx13_alt) and the unidentified study never enter
    assert not fits["all"].rows["study_id"].isin(["fx13_alt", "fx14_unidentified"]).any()
    both = fits["all"]
    ref = mp.meta_prop_glmm(both.rows["events"].astype(int), both.rows["total"].astype(int))
    assert both.result.estimate == pytest.approx(ref.estimate)
    sse = an.small_study_effects(both, plan)
    assert sse["run"] and sse["sample_size_test"].predictor == "sqrtninv"
    assert not an.small_study_effects(fits["newly_diagnosed"], plan)["run"]


def test_regimen_subgroups_within_a_population(plan):
    df = make_rows(
        [
            {"events": e, "total": n, "regimen_group": g}
            for e, n, g in [
                (12, 20, "ino_mono"),
                (30, 41, "ino_mono"),
                (8, 19, "ino_chemo"),
                (15, 22, "ino_chemo"),
            ]
        ]
        + [
            {
                "events": 40,
                "total": 45,
                "disease_status": "newly_diagnosed",
                "regimen_group": "ino_blina",
            }
        ]
    )
    sub = an.regimen_subgroups(df, plan, "relapsed_refractory")
    assert set(sub.results) == {"ino_mono", "ino_chemo"}  # the other population stays out
    spec = plan.fallback
    ref = mp.subgroup_analysis(
        [12, 30, 8, 15],
        [20, 41, 19, 22],
        ["ino_mono", "ino_mono", "ino_chemo", "ino_chemo"],
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
    )
    assert sub.moderator.statistic == pytest.approx(ref.moderator.statistic)
    assert an.regimen_subgroups(df, plan, "newly_diagnosed") is None  # one group only


@pytest.mark.parametrize("method", ["glmm_z", "glmm_t", "glmm_profile", "reml_hk_adhoc", "bayes"])
def test_primary_fit_reports_each_interval_the_coverage_study_may_choose(method, monkeypatch):
    """Whatever method the coverage study picks for k, the headline is that method's interval."""
    from review.analysis import coverage_study

    monkeypatch.setattr(coverage_study, "primary_method", lambda k, plan_path=None: method)
    plan = load_plan()
    events, totals = [5, 12, 30, 8], [40, 60, 110, 35]
    fit = an.primary_fit(
        make_rows([{"events": e, "total": n} for e, n in zip(events, totals, strict=True)]),
        plan,
        outcome="CR",
    )
    if method == "glmm_z":
        expected = mp.meta_prop_glmm(events, totals).ci
    elif method == "glmm_t":
        expected = mp.meta_prop_glmm(events, totals, test="t").ci
    elif method == "glmm_profile":
        expected = mp.transforms.back_transform(
            np.asarray(mp.glmm.glmm_profile_ci(events, totals)), "PLO"
        )
    elif method == "reml_hk_adhoc":
        expected = mp.meta_prop(events, totals, measure="PLO", method="REML", test="adhoc").ci
    else:
        expected = mp.meta_prop_bayes(events, totals).ci
    assert fit.ci == pytest.approx(tuple(float(x) for x in expected), rel=1e-9)
    assert fit.ci[0] < fit.estimate < fit.ci[1]
    assert method == "glmm_z" or "coverage study" in fit.note
