"""The multiverse: data choices built by the plan's rules, batch fits equal single fits."""

import math

import metaprop as mp
import numpy as np
import pandas as pd
import pytest
from review.analysis import multiverse as mv
from review.data.plan import load_plan
from test_analysis import make_rows


@pytest.fixture(scope="module")
def plan():
    return load_plan()


@pytest.fixture(scope="module")
def pool():
    """Five relapsed/refractory studies, one with an alternative variant, one abstract, one
    low-confidence, one runner-up report of a cohort, and two newly diagnosed studies."""
    rows = make_rows(
        [
            {"events": 30, "total": 50},
            {"events": 44, "total": 60, "available_from": "2025-02"},
            {"events": 20, "total": 40, "source_tier": "abstract"},
            {"events": 25, "total": 30, "id_confidence": "low"},
            {
                "events": 18,
                "total": 30,
                "cohort_id": "C0",
                "available_from": "2018",
                "id_role": "runner_up",
            },
            {"events": 9, "total": 10, "disease_status": "newly_diagnosed"},
            {"events": 40, "total": 45, "disease_status": "newly_diagnosed"},
        ]
    )
    rows["id_role"] = rows["id_role"].fillna("best")
    alt = rows.iloc[[0]].assign(variant="responders", primary=False, events=30, total=40)
    return pd.concat([rows, alt], ignore_index=True)


def test_data_choices(plan, pool):
    as_of = pool[
        pool["primary"] & (pool["available_from"] != "2025-02") & (pool["id_role"] == "best")
    ]
    choices = {c.id: set(c.index) for c in mv.data_choices(pool, plan, as_of_rows=as_of)}
    assert choices["primary"] == {0, 1, 2, 3, 5, 6}
    assert choices["no_abstracts"] == {0, 1, 3, 5, 6}
    assert choices["no_low_confidence"] == {0, 1, 2, 5, 6}
    assert choices["all_reports"] == {0, 1, 2, 3, 4, 5, 6}
    assert choices["evidence_paper_date"] == {0, 2, 3, 5, 6}
    assert choices["variant:s0 responders"] == {7, 1, 2, 3, 5, 6}
    assert choices["paper_studies"] == choices["primary"]  # every fixture study is the paper's
    later = pool.assign(in_source_paper=pool.index != 0)
    later_choices = {c.id: set(c.index) for c in mv.data_choices(later, plan)}
    assert later_choices["paper_studies"] == {1, 2, 3, 5, 6}


@pytest.fixture(scope="module")
def frame(plan, pool):
    return mv.run_rows(pool, plan, outcome="CR")


def test_batch_fits_equal_single_fits(plan, frame):
    rr = frame[frame["population"] == "relapsed_refractory"].set_index(["data_choice", "model"])
    ev, n = [30, 44, 25], [50, 60, 30]  # no_abstracts: studies 0, 1, 3
    for spec in plan.multiverse_models:
        row = rr.loc[("no_abstracts", spec.id)]
        if spec.is_glmm:
            ref = mp.meta_prop_glmm(ev, n)
        else:
            ref = mp.meta_prop(ev, n, measure=spec.measure, method=spec.method, test=spec.test)
        assert row["k"] == 3
        assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-8)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(ref.ci), rel=1e-8)
    # every population x choice x model appears once
    assert not frame.duplicated(["population", "data_choice", "model"]).any()
    assert set(frame["population"]) == {"newly_diagnosed", "relapsed_refractory", "all"}


def test_small_sets_are_not_pooled(plan, frame):
    nd = frame[(frame["population"] == "newly_diagnosed")]
    # the variant of a relapsed/refractory study is not repeated for newly diagnosed
    assert not nd["data_choice"].str.startswith("variant:").any()
    one = make_rows(
        [{"events": 5, "total": 10}, {"events": 3, "total": 9, "disease_status": "newly_diagnosed"}]
    )
    one["id_role"] = "best"
    small = mv.run_rows(one, plan, outcome="CR")
    rr = small[small["population"] == "relapsed_refractory"]
    assert (
        rr["estimate"].isna().all() and (rr["note"] == "fewer than two studies: not pooled").all()
    )


def test_influence_table(plan, frame):
    table = mv.influence_table(frame, plan)
    rr = table[table["population"] == "relapsed_refractory"]
    models = rr[rr["dimension"] == "model"]
    assert len(models) == len(plan.multiverse_models) - 1
    ref = frame[
        (frame["population"] == "relapsed_refractory")
        & (frame["data_choice"] == "primary")
        & (frame["model"] == plan.primary.id)
    ].iloc[0]
    pr = frame[
        (frame["population"] == "relapsed_refractory")
        & (frame["data_choice"] == "primary")
        & (frame["model"] == "pr_dl")
    ].iloc[0]
    got = models[models["choice"] == pr["model_label"]].iloc[0]
    assert got["delta_estimate_pp"] == pytest.approx(100 * (pr["estimate"] - ref["estimate"]))
    width = (pr["ci_high"] - pr["ci_low"]) / (ref["ci_high"] - ref["ci_low"])
    assert got["ci_width_ratio"] == pytest.approx(width)


def test_spec_curve(plan, frame):
    top, bottom = mv.spec_curve(
        frame, outcome="CR", population="relapsed_refractory", reference=0.7
    )
    fitted = frame[(frame["population"] == "relapsed_refractory") & frame["estimate"].notna()]
    x = top.lines[0].get_xdata() if top.lines else None
    assert x is not None and len(x) == len(fitted)
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert set(fitted["model_label"]) <= set(labels)
    assert set(fitted["data_label"]) <= set(labels)
    import matplotlib.pyplot as plt

    plt.close(top.figure)


def test_survival_landmarks_use_reported_estimates(plan):
    rows = make_rows(
        [
            {
                "kind": "survival",
                "events": pd.NA,
                "total": pd.NA,
                "outcome": "OS_1y",
                "estimate": s,
                "ci_low": lo,
                "ci_high": hi,
                "n_analysed": n,
            }
            for s, lo, hi, n in [
                (0.6, 0.5, 0.7, 80),
                (0.4, 0.3, 0.52, 60),
                (0.5, math.nan, math.nan, 40),
            ]
        ]
    )
    rows["id_role"] = "best"
    frame = mv.run_rows(rows, plan, outcome="OS_1y")
    got = frame[
        (frame["population"] == "relapsed_refractory")
        & (frame["data_choice"] == "primary")
        & (frame["model"] == "cloglog_reml_adhoc")
    ].iloc[0]
    es = mp.estimates_to_effects(
        [0.6, 0.4, 0.5],
        [0.5, 0.3, np.nan],
        [0.7, 0.52, np.nan],
        n=[80, 60, 40],
        scale="cloglog",
        percent=False,
    )
    ref = mp.meta_analysis(es, method="REML", test="adhoc")
    assert got["estimate"] == pytest.approx(ref.estimate, rel=1e-8)
    assert {"cloglog_reml_adhoc", "logit_reml_adhoc"} <= set(frame["model"])


def test_run_on_fixture_data(plan):
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "data_small"
    frame = mv.run("OR", plan, data_dir=fixture)
    choices = set(frame["data_choice"])
    assert {
        "primary",
        "no_abstracts",
        "no_low_confidence",
        "all_reports",
        "evidence_paper_date",
    } <= choices
    assert set(frame["model"]) == {m.id for m in plan.multiverse_models}
    # all reports of each cohort include the runner-up report, the primary set does not
    rr = frame[frame["population"] == "relapsed_refractory"]
    assert "fx13_alt" in rr[rr["data_choice"] == "all_reports"]["studies"].iloc[0]
    assert "fx13_alt" not in rr[rr["data_choice"] == "primary"]["studies"].iloc[0]


def test_influence_table_for_survival_uses_the_survival_model(plan):
    rows = make_rows(
        [
            {
                "kind": "survival",
                "events": pd.NA,
                "total": pd.NA,
                "outcome": "OS_1y",
                "estimate": s,
                "ci_low": lo,
                "ci_high": hi,
                "n_analysed": n,
            }
            for s, lo, hi, n in [(0.6, 0.5, 0.7, 80), (0.4, 0.3, 0.52, 60)]
        ]
    )
    rows["id_role"] = "best"
    frame = mv.run_rows(rows, plan, outcome="OS_1y")
    table = mv.influence_table(frame, plan)
    assert mv.primary_model_id(plan, "OS_1y") == "cloglog_reml_adhoc"
    assert len(table) and (table["dimension"] == "model").any()
    empty = mv.influence_table(frame.iloc[0:0], plan)
    assert "estimate" in empty.columns and empty.empty


def test_curve_read_choice_for_landmarks_only(plan, pool):
    assert "no_curve_read" not in {c.id for c in mv.data_choices(pool, plan)}
    rows = make_rows(
        [
            {
                "kind": "survival",
                "events": pd.NA,
                "total": pd.NA,
                "outcome": "OS_1y",
                "estimate": s,
                "ci_low": lo,
                "ci_high": hi,
                "n_analysed": n,
                "curve_read": c,
            }
            for s, lo, hi, n, c in [
                (0.6, 0.5, 0.7, 80, False),
                (0.4, 0.3, 0.52, 60, True),
                (0.5, 0.4, 0.6, 90, False),
            ]
        ]
    )
    rows["id_role"] = "best"
    choices = {c.id: set(c.index) for c in mv.data_choices(rows, plan)}
    assert choices["no_curve_read"] == {0, 2} and choices["primary"] == {0, 1, 2}


def test_spec_curve_draws_data_labels_as_text_within_the_figure():
    """Choice labels name studies (text from the data): a mathtext-like label is drawn as
    typed, a very long one is cut, and the figure keeps its width."""
    import matplotlib.pyplot as plt

    labels = ["Variant: Dollarhide $\\badmacro{x}$ 2018, responders",
              "Variant: Longbottom" + "x" * 240 + " 2019, responders", "Primary set"]  # fmt: skip
    frame = pd.DataFrame(
        {
            "outcome": "CR",
            "population": "all",
            "estimate": [0.4, 0.5, 0.6],
            "ci_low": [0.3, 0.4, 0.5],
            "ci_high": [0.5, 0.6, 0.7],
            "data_label": labels,
            "data_choice": ["v1", "v2", "primary"],
            "model_label": "Logit, REML, z",
            "model": "glmm",
        }
    )
    top, bottom = mv.spec_curve(frame, outcome="CR", population="all")
    fig = top.figure
    fig.canvas.draw()
    shown = [t.get_text() for t in bottom.get_yticklabels()]
    assert labels[0] in shown and labels[2] in shown
    (cut,) = [s for s in shown if s.startswith("Variant: Long")]
    assert "\u2026" in cut and cut.endswith("2019, responders")
    assert fig.get_tightbbox(fig.canvas.get_renderer()).width <= fig.get_figwidth() + 0.05
    plt.close(fig)


def test_paper_studies_choice_keeps_only_the_papers_studies():
    """The source paper's set is a sensitivity analysis: every study added since (for
    example Kayser 2022, which the paper missed though it was public) is left out."""
    from review import analysis
    from review.analysis import multiverse
    from review.data.plan import load_plan

    plan = load_plan()
    pool = analysis.rows_for("OR", plan, variants="all", runner_ups=True)
    choices = {c.id: c for c in multiverse.data_choices(pool, plan)}
    kept = pool.loc[list(choices["paper_studies"].index)]
    assert len(kept) and kept["in_source_paper"].all()
    assert "lu1_Kayser_Haematologica2022" not in set(kept["study_id"])
    primary = pool.loc[list(choices["primary"].index)]
    assert "lu1_Kayser_Haematologica2022" in set(primary["study_id"])
