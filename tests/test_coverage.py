"""The coverage study (``metaprop.coverage``) and the plan's choice of the primary interval
(``review.analysis.coverage_study``), issue 21."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from metaprop.coverage import METHODS, coverage_study, simulate, summarise
from review.analysis import coverage_study as cs
from review.data.plan import default_plan_path


def test_simulate_shapes_and_truth():
    rng = np.random.default_rng(3)
    events, totals = simulate(4, 0.3, 0.0, [50, 100], 5000, rng)
    assert events.shape == totals.shape == (5000, 4)
    assert np.all((events >= 0) & (events <= totals)) and set(np.unique(totals)) == {50, 100}
    assert abs(events.sum() / totals.sum() - 0.3) < 0.005  # SE ~ 0.0012


def test_reproducible_and_cells_independent():
    """Each cell has its own stream: the k = 3 rows do not depend on k = 2 being run."""
    kw = {"reps": 6, "seed": 11, "methods": ("glmm_z", "reml_hk_adhoc")}
    both = coverage_study([2, 3], [0.2], [0.5], [30, 60], **kw)
    again = coverage_study([2, 3], [0.2], [0.5], [30, 60], **kw)
    alone = coverage_study([3], [0.2], [0.5], [30, 60], **kw)
    pd.testing.assert_frame_equal(both, again)
    pd.testing.assert_frame_equal(both[both["k"] == 3].reset_index(drop=True), alone)


def test_hartung_knapp_keeps_its_coverage():
    """A deterministic (seeded) check that the machinery measures coverage: the
    Hartung-Knapp interval, near-nominal by design, covers 90-99% of 400 datasets."""
    tab = coverage_study([5], [0.3], [0.5], [40, 120], reps=400, seed=5, methods=("reml_hk_adhoc",))
    assert 0.90 <= tab["coverage"].iloc[0] <= 0.99
    assert tab["n_ok"].iloc[0] == 400


def test_unknown_method_and_bad_k_are_refused():
    with pytest.raises(ValueError, match="unknown method"):
        coverage_study([3], [0.2], [0.0], [50], reps=2, seed=1, methods=("wald",))
    with pytest.raises(ValueError, match="k must be at least 2"):
        coverage_study([1], [0.2], [0.0], [50], reps=2, seed=1, methods=("reml_hk_adhoc",))


def test_summarise_by_hand():
    cells = pd.DataFrame(
        {
            "k": [2, 2],
            "p": [0.1, 0.3],
            "tau2": [0.0, 0.0],
            "method": ["bayes", "bayes"],
            "reps": [100, 100],
            "n_ok": [100, 80],
            "coverage": [0.9, 1.0],
            "mean_width": [0.2, 0.4],
            "median_width": [0.2, 0.4],
        }
    )
    row = summarise(cells).iloc[0]
    assert row["coverage"] == pytest.approx(0.95)
    assert row["min_coverage"] == pytest.approx(0.9)
    assert row["mean_width"] == pytest.approx(0.3)
    assert row["fail_rate"] == pytest.approx(0.1)
    # sqrt(0.9 * 0.1 / 100 + 1.0 * 0.0 / 80) / 2
    assert row["mcse"] == pytest.approx(0.015)


RULE = {
    "min_mean_coverage": 0.94,
    "min_scenario_coverage": 0.9,
    "max_fail_rate": 0.05,
    "width_tie": 0.01,
}


def _group(rows):
    return pd.DataFrame(
        rows, columns=["method", "coverage", "min_coverage", "mean_width", "fail_rate"]
    )


def test_rule_takes_the_narrowest_that_keeps_coverage():
    g = _group(
        [
            ("glmm_z", 0.85, 0.70, 0.10, 0.0),  # too low
            ("glmm_t", 0.95, 0.88, 0.20, 0.0),  # one scenario below 0.90
            ("reml_hk_adhoc", 0.96, 0.93, 0.40, 0.0),
            ("bayes", 0.95, 0.91, 0.30, 0.0),  # the narrowest that qualifies
        ]
    )
    assert cs._choose(g, RULE) == "bayes"
    # failing to give an interval too often disqualifies
    g.loc[g["method"] == "bayes", "fail_rate"] = 0.2
    assert cs._choose(g, RULE) == "reml_hk_adhoc"


def test_rule_keeps_the_previous_choice_within_the_width_tie():
    g = _group([("glmm_profile", 0.95, 0.91, 0.155, 0.0), ("bayes", 0.96, 0.93, 0.164, 0.0)])
    assert cs._choose(g, RULE) == "glmm_profile"  # narrowest, no previous choice
    assert cs._choose(g, RULE, previous="bayes") == "bayes"  # 0.9 points wider: a tie
    assert cs._choose(g, {**RULE, "width_tie": 0.005}, previous="bayes") == "glmm_profile"
    assert cs._choose(g, RULE, previous="glmm_z") == "glmm_profile"  # not among the tied


def test_rule_without_a_qualifier_takes_the_best_coverage():
    g = _group([("glmm_z", 0.80, 0.6, 0.1, 0.0), ("bayes", 0.90, 0.8, 0.3, 0.0)])
    assert cs._choose(g, RULE) == "bayes"


def test_rule_text_and_choice_read_the_plan(tmp_path):
    """The sentence and the function take the thresholds from the same plan keys."""
    raw = yaml.safe_load(default_plan_path().read_text(encoding="utf-8"))
    raw["primary_interval"]["rule"]["min_mean_coverage"] = 0.5
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert "at least 50%" in cs.rule_text(path)
    assert "at least 94%" in cs.rule_text()
    assert "within 1 percentage point of" in cs.rule_text()
    assert "(s)" not in cs.rule_text()


def test_study_sizes_span_the_reviews_studies():
    """The plan's range of study sizes covers every binary outcome row of the review."""
    from review import data

    study = cs.settings()["study"]["study_sizes"]
    totals = []
    for code in data.outcome_codes("binary"):
        df = data.outcome(code)
        totals.extend(df["total"].dropna().astype(int).tolist())
    assert totals
    assert study["min"] <= min(totals) and max(totals) <= study["max"]


# --------------------------------------------------------------- the committed result
def test_committed_result_is_current_and_complete():
    """The committed cells match the plan and the code (else the build would recompute
    them), and hold every cell of the grid for every method."""
    cells = cs.load_or_run(run=False)
    inp = cs._inputs(cs.settings()["study"])
    assert len(cells) == len(inp["ks"]) * len(inp["ps"]) * len(inp["tau2s"]) * len(inp["methods"])
    assert (cells["reps"] == inp["reps"]).all()


def test_primary_method_per_k():
    table = cs.results_table()
    assert {"k", "method", "coverage", "mean_width", "primary"} <= set(table.columns)
    assert (table.groupby("k")["primary"].sum() == 1).all()
    for k in range(2, 11):
        assert cs.primary_method(k) in METHODS
    assert cs.primary_method(1) is None
    assert cs.primary_method(40) == cs.primary_method(10)


def test_page_values_and_plot():
    import matplotlib.pyplot as plt

    values = cs.page_values()
    assert values["rule"].startswith("At each number of studies k")
    assert "k = 2" in values["choice"]
    axes = cs.plot()
    assert len(axes) == 2 and axes[0].get_ylabel() == "Coverage (%)"
    plt.close("all")
