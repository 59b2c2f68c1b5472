"""GRADE rules for single-arm rates: one test per rule and boundary.

The tests use the repository plan with the thresholds of a test outcome ``CR`` set to
40% and 70%, so that they do not move when the review's clinical thresholds are revised.
"""

import copy
import dataclasses

import pandas as pd
import pytest
import yaml
from review import grade as g
from review.plan import Plan, default_plan_path


@pytest.fixture(scope="module")
def plan():
    raw = yaml.safe_load(default_plan_path().read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["grade"]["thresholds"]["CR"] = {"cuts": [0.4, 0.7], "reason": "test"}
    raw["grade"]["imprecision"]["min_patients"] = 100
    raw["grade"]["risk_of_bias"]["abstract_share_serious"] = 0.5
    raw["grade"]["risk_of_bias"]["low_quality_share_serious"] = 0.5
    raw["grade"]["indirectness"]["overlap_share_serious"] = 0.1
    raw["grade"]["publication_bias"]["alpha"] = 0.1
    raw["small_study_effects"]["min_k"] = 10
    raw["grade"]["starting_level"] = "high"
    return Plan(raw)


@pytest.fixture
def clean():
    """Four consistent, precise, direct studies of complete remission: no downgrade."""
    return g.EvidenceProfile(
        outcome="CR",
        population="relapsed_refractory",
        k=4,
        n_patients=400,
        estimate=0.55,
        ci=(0.48, 0.62),
        pi=(0.42, 0.68),
        study_estimates=(0.50, 0.55, 0.58, 0.60),
        abstract_share=0.2,
        low_quality_share=0.0,
        overlap_share=0.0,
        mixed_population=False,
    )


def test_helpers():
    assert g.thresholds_crossed(0.3, 0.8, [0.4, 0.7]) == 2
    assert g.thresholds_crossed(0.4, 0.6, [0.4, 0.7]) == 0  # touching is not crossing
    assert g.bands_spanned([0.1, 0.2], [0.4, 0.7]) == 1
    assert g.bands_spanned([0.1, 0.5, 0.9], [0.4, 0.7]) == 3


def test_clean_profile_stays_high(plan, clean):
    cert = g.assess(clean, plan)
    assert cert.start == "high" and cert.level == "high"
    assert [d.change for d in cert.domains] == [0, 0, 0, 0, 0]
    assert cert.reasons == "no domain rated down"


# risk of bias
@pytest.mark.parametrize(
    ("abstracts", "low_quality", "expected"),
    [(0.5, 0.5, 0), (0.51, 0.0, -1), (0.0, 0.9, -1), (0.8, 0.8, -2)],
)
def test_risk_of_bias(plan, clean, abstracts, low_quality, expected):
    p = dataclasses.replace(clean, abstract_share=abstracts, low_quality_share=low_quality)
    rating = g.rate_risk_of_bias(p, plan)
    assert rating.change == expected
    assert ("abstracts" in rating.reason) == (abstracts > 0.5)


def test_risk_of_bias_retrospective_designs(plan, clean):
    p = dataclasses.replace(clean, retrospective_share=0.6)
    rating = g.rate_risk_of_bias(p, plan)
    assert rating.change == -1 and "retrospective" in rating.reason
    all_three = dataclasses.replace(p, abstract_share=0.9, low_quality_share=0.9)
    assert g.rate_risk_of_bias(all_three, plan).change == -2  # never more than two levels


# inconsistency
def test_inconsistency_one_study_not_assessed(plan, clean):
    p = dataclasses.replace(clean, k=1, pi=None, study_estimates=(0.9,))
    rating = g.rate_inconsistency(p, plan)
    assert rating.change == 0 and not rating.assessed


def test_inconsistency_two_studies_use_estimates(plan, clean):
    same = dataclasses.replace(clean, k=2, pi=None, study_estimates=(0.45, 0.65))
    apart = dataclasses.replace(clean, k=2, pi=None, study_estimates=(0.2, 0.9))
    assert g.rate_inconsistency(same, plan).change == 0
    assert g.rate_inconsistency(apart, plan).change == -1  # at most one level with k = 2


def test_inconsistency_wide_pi_but_agreeing_studies_not_rated_down(plan, clean):
    p = dataclasses.replace(clean, pi=(0.1, 0.95), study_estimates=(0.45, 0.5, 0.6))
    rating = g.rate_inconsistency(p, plan)
    assert rating.change == 0 and "same decision" in rating.reason


def test_inconsistency_not_on_i2(plan, clean):
    """The rule has no I2 input at all: a profile's I2 cannot move the rating."""
    assert "i2" not in {f.name for f in dataclasses.fields(g.EvidenceProfile)}
    assert g.rate_inconsistency(clean, plan).change == 0


@pytest.mark.parametrize(
    ("pi", "studies", "expected"),
    [
        ((0.3, 0.65), (0.35, 0.5, 0.6), -1),  # one threshold, studies on both sides
        ((0.1, 0.95), (0.2, 0.5, 0.9), -2),  # two thresholds, three bands
        ((0.1, 0.95), (0.3, 0.5, 0.55), -1),  # two thresholds, but studies in two bands
        ((0.45, 0.65), (0.2, 0.5, 0.9), 0),  # PI inside one band
    ],
)
def test_inconsistency_prediction_interval(plan, clean, pi, studies, expected):
    p = dataclasses.replace(clean, pi=pi, study_estimates=studies)
    assert g.rate_inconsistency(p, plan).change == expected


# imprecision
@pytest.mark.parametrize(
    ("ci", "n", "expected"),
    [
        ((0.45, 0.65), 100, 0),
        ((0.45, 0.65), 99, -1),
        ((0.35, 0.65), 400, -1),
        ((0.35, 0.75), 400, -2),
        ((0.35, 0.65), 50, -2),
        ((0.30, 0.80), 20, -2),  # capped at two levels
    ],
)
def test_imprecision(plan, clean, ci, n, expected):
    p = dataclasses.replace(clean, ci=ci, n_patients=n)
    rating = g.rate_imprecision(p, plan)
    assert rating.change == expected
    assert ("fewer than 100" in rating.reason) == (n < 100)


# indirectness
@pytest.mark.parametrize(
    ("mixed", "overlap", "expected"),
    [(False, 0.1, 0), (True, 0.0, -1), (False, 0.11, -1), (True, 0.5, -2)],
)
def test_indirectness(plan, clean, mixed, overlap, expected):
    p = dataclasses.replace(clean, mixed_population=mixed, overlap_share=overlap)
    assert g.rate_indirectness(p, plan).change == expected


# publication bias
def test_publication_bias_not_assessed_below_min_k(plan, clean):
    rating = g.rate_publication_bias(
        dataclasses.replace(clean, k=9, small_study_pvalue=0.001), plan
    )
    assert rating.change == 0 and not rating.assessed and "not assessed" in rating.reason


@pytest.mark.parametrize(("p", "expected"), [(0.05, -1), (0.10, 0), (0.5, 0)])
def test_publication_bias_sample_size_test(plan, clean, p, expected):
    profile = dataclasses.replace(clean, k=12, small_study_pvalue=p)
    assert g.rate_publication_bias(profile, plan).change == expected


def test_publication_bias_missing_pvalue_is_an_error(plan, clean):
    with pytest.raises(ValueError, match="no small-study test"):
        g.rate_publication_bias(dataclasses.replace(clean, k=12), plan)


# overall level
def test_level_is_floored_at_very_low(plan, clean):
    p = dataclasses.replace(
        clean,
        abstract_share=1.0,
        low_quality_share=1.0,
        mixed_population=True,
        overlap_share=0.5,
        ci=(0.1, 0.9),
        n_patients=30,
    )
    cert = g.assess(p, plan)
    assert sum(d.change for d in cert.domains) == -6
    assert cert.level == "very low"


def test_levels_step_down(plan, clean):
    one = dataclasses.replace(clean, n_patients=60)
    two = dataclasses.replace(one, mixed_population=True)
    assert g.assess(one, plan).level == "moderate"
    assert g.assess(two, plan).level == "low"
    assert "imprecision (-1)" in g.assess(one, plan).reasons


def test_starting_level_comes_from_plan(plan, clean):
    raw = copy.deepcopy(plan.raw)
    raw["grade"]["starting_level"] = "low"
    assert g.assess(clean, Plan(raw)).level == "low"


def test_no_study_is_not_rated(plan, clean):
    with pytest.raises(ValueError, match="no study"):
        g.assess(dataclasses.replace(clean, k=0), plan)


def test_thresholds_are_read_from_plan(plan, clean):
    raw = copy.deepcopy(plan.raw)
    raw["grade"]["thresholds"]["CR"]["cuts"] = [0.5]
    assert g.rate_imprecision(clean, plan).change == 0
    assert g.rate_imprecision(clean, Plan(raw)).change == -1


# plain language
@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (
            "high",
            "About 55 in 100 adults with relapsed or refractory ALL reach complete "
            "remission (95% CI 48 to 62; high certainty).",
        ),
        (
            "moderate",
            "About 55 in 100 adults with relapsed or refractory ALL probably reach "
            "complete remission (95% CI 48 to 62; moderate certainty).",
        ),
        (
            "low",
            "About 55 in 100 adults with relapsed or refractory ALL may reach complete "
            "remission (95% CI 48 to 62; low certainty).",
        ),
        (
            "very low",
            "The evidence is very uncertain about how many adults with relapsed or "
            "refractory ALL reach complete remission: about 55 in 100 (95% CI 48 to "
            "62; very low certainty).",
        ),
    ],
)
def test_plain_language_wording(plan, clean, level, expected):
    cert = dataclasses.replace(g.assess(clean, plan), level=level)
    assert g.plain_language(clean, cert, plan) == expected


def test_plain_language_survival_and_rare(plan, clean):
    os = dataclasses.replace(
        clean, outcome="OS_1y", population="newly_diagnosed", estimate=0.8, ci=(0.7, 0.88)
    )
    cert = dataclasses.replace(g.assess(clean, plan), level="moderate")
    assert "adults with newly diagnosed ALL are probably alive at 1 year" in g.plain_language(
        os, cert, plan
    )
    vod = dataclasses.replace(clean, outcome="VOD", estimate=0.031, ci=(0.012, 0.07))
    text = g.plain_language(vod, cert, plan)
    assert text.startswith("About 31 in 1000") and "12 to 70" in text


def test_evidence_profile_from_rows(plan):
    class Fit:
        k = 3
        estimate = 0.5
        ci = (0.4, 0.6)
        pi = (0.3, 0.7)  # the default (normal) interval: not the one the plan asks for

        def prediction_interval(self, dist):
            assert dist == "t(k-1)"
            return (0.2, 0.8)

    df = pd.DataFrame(
        {
            "events": [10, 30, 40],
            "total": [20, 60, 120],
            "source_tier": ["abstract", "full_text", "full_text"],
            "minors": [12, 14, None],
            "jadad": [None, None, 4],
            "cohort_id": ["a", "b", "a"],
            "disease_status": ["relapsed/refractory"] * 3,
            "design": ["single_arm", "retrospective_cohort", "rct"],
        }
    )
    prof = g.evidence_profile(df, Fit(), outcome="CR", population="relapsed_refractory", plan=plan)
    assert prof.n_patients == 200 and prof.k == 3
    assert prof.abstract_share == pytest.approx(0.1)
    assert prof.low_quality_share == pytest.approx(0.1)  # MINORS 12 < 13; the RCT scores 4
    assert prof.overlap_share == pytest.approx(0.1)  # cohort a: the 20-patient report
    assert prof.study_estimates == pytest.approx((0.5, 0.5, 1 / 3))
    assert not prof.mixed_population and prof.pi == (0.2, 0.8)
    assert prof.retrospective_share == pytest.approx(0.3)


def test_summary_rows_from_fits(plan):
    from review import analysis
    from test_analysis import make_rows

    df = make_rows(
        [{"events": e, "total": n} for e, n in [(30, 50), (44, 60), (20, 40)]]
        + [{"events": 40, "total": 45, "disease_status": "newly_diagnosed"}]
    )
    fits = analysis.by_population(df, plan, outcome="CR")
    rows = {key: g.summary_row(fit, plan) for key, fit in fits.items()}
    nd, rr, both = rows["newly_diagnosed"], rows["relapsed_refractory"], rows["all"]
    # one study: its exact CI, certainty still rated, no pooled claim
    assert nd["k"] == 1 and not nd["pooled"]
    assert nd["ci_low"] == pytest.approx(fits["newly_diagnosed"].single["ci_low"].iloc[0])
    assert "fewer than 100" in nd["reasons"]
    assert rr["pooled"] and rr["estimate"] == pytest.approx(
        fits["relapsed_refractory"].result.estimate
    )
    assert rr["statement"].startswith("About") or rr["statement"].startswith("The evidence")
    assert "pooled together" in both["reasons"]  # mixed disease status: indirectness
    empty = analysis.by_population(
        df[df["disease_status"] == "newly_diagnosed"], plan, outcome="CR"
    )["relapsed_refractory"]
    none = g.summary_row(empty, plan)
    assert none["certainty"] == "no evidence" and none["statement"].startswith("No study")


def test_summary_of_findings_on_fixture_data(plan):
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "data_small"
    table = g.summary_of_findings(plan, outcomes=["OR", "OS_1y"], data_dir=fixture)
    assert len(table) == 6  # two outcomes x (two strata + all patients)
    assert set(table["certainty"]) <= {"high", "moderate", "low", "very low", "no evidence"}
    both = table[(table["outcome"] == "OR") & table["population"].str.startswith("All")]
    # k = 12 >= 10: the sample-size test is part of the rating
    assert both["k"].iloc[0] >= 10
    assert (
        "publication bias" in both["reasons"].iloc[0]
        or "sample-size" not in both["reasons"].iloc[0]
    )


def test_display_table_formats_for_readers(plan):
    sof = pd.DataFrame(
        [
            {
                "outcome": "CR",
                "outcome_name": "complete remission",
                "population": "P",
                "k": 3,
                "patients": 1234,
                "estimate": 0.5,
                "ci_low": 0.4,
                "ci_high": 0.6,
                "pi_low": None,
                "pi_high": None,
                "certainty": "low",
                "rated_down": "imprecision -1, inconsistency -1",
                "reasons": "r",
            },
            {
                "outcome": "CR",
                "outcome_name": "complete remission",
                "population": "Q",
                "k": 0,
                "patients": 0,
                "estimate": None,
                "ci_low": None,
                "ci_high": None,
                "pi_low": None,
                "pi_high": None,
                "certainty": "no evidence",
                "reasons": "none",
            },
        ]
    ).reindex(columns=g.SOF_COLUMNS)
    shown = g.display_table(sof, plan)
    assert shown["Studies (patients)"].tolist() == ["3 (1,234)", "0 (0)"]
    assert shown["Rate (95% CI)"].tolist() == ["50.0% (40.0% to 60.0%)", ""]
    assert shown["95% PI"].iloc[0] == ""
    assert shown["Certainty"].tolist() == ["⊕⊕◯◯ low", "no evidence"]
    assert shown["Rated down for"].iloc[0] == "imprecision -1, inconsistency -1"
    one = g.display_table(sof.assign(population=["Newly diagnosed", "Q"]), plan, "newly_diagnosed")
    assert "Population" not in one and one["Outcome"].tolist() == ["complete remission"]


def test_publication_bias_not_assessable_is_said(plan, clean):
    profile = dataclasses.replace(clean, k=12, small_study_unavailable="no test for landmarks")
    rating = g.rate_publication_bias(profile, plan)
    assert rating.change == 0 and not rating.assessed and "no test for landmarks" in rating.reason
