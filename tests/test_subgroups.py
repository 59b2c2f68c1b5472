"""Subgroup analysis against metafor: per-level fits, Q between and the moderator test.

Reference cases hold ``subgroups``, ``q_between`` and ``moderator_test`` for DL and REML
with test z where the dataset has groups (``debruin2009``, ``rare_events``).
"""

from __future__ import annotations

import json
import subprocess

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import require_tool
from metaprop._engine import fit_moderators
from reference import cases, params
from test_reference_fit import _mismatches

SG_CASES = params("subgroups")


def _analyse(dataset, case):
    return mp.subgroup_analysis(
        dataset["events"],
        dataset["totals"],
        dataset["groups"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )


@pytest.mark.parametrize(("dataset", "case"), SG_CASES)
def test_subgroup_fits_match_metafor(dataset, case):
    sg = _analyse(dataset, case)
    assert list(sg.results) == list(case["subgroups"])
    groups = np.array(dataset["groups"])
    problems = []
    for level, ref_fit in case["subgroups"].items():
        res = sg.results[level]
        sel = groups == level
        sub_case = {
            "method": case["method"] if sel.sum() > 1 else "FE",
            "yi": np.asarray(case["yi"])[sel],
            "vi": np.asarray(case["vi"])[sel],
            "fit": ref_fit,
        }
        assert res.method == sub_case["method"]
        problems += [f"{level}: {p}" for p in _mismatches(res, sub_case)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("dataset", "case"), SG_CASES)
def test_q_between_and_moderator_match_metafor(dataset, case):
    sg = _analyse(dataset, case)
    iterative = case["method"] in tol.ITERATIVE_METHODS
    rtol, atol = tol.for_field("q_between", iterative=iterative)
    qb = case["q_between"]
    assert sg.q_between.df == qb["df"]
    np.testing.assert_allclose(
        [sg.q_between.statistic, sg.q_between.pvalue], [qb["Q"], qb["pval"]], rtol=rtol, atol=atol
    )
    mt = case["moderator_test"]
    np.testing.assert_allclose(
        [sg.moderator.statistic, sg.moderator.pvalue, sg.moderator.tau2],
        [mt["QM"], mt["QMp"], mt["tau2"]],
        rtol=rtol,
        atol=atol,
    )
    assert sg.moderator.df == len(sg.results) - 1
    assert sg.moderator.df_denominator is None


def test_every_grouped_case_is_covered():
    grouped = {ds["name"] for ds, _ in cases() if ds["groups"]}
    assert grouped == {"debruin2009", "rare_events"}
    expected = [
        (ds["name"], c["measure"], c["method"])
        for ds, c in cases("fit")
        if ds["groups"] and c["method"] in ("DL", "REML") and c["test"] == "z"
    ]
    covered = [(ds["name"], c["measure"], c["method"]) for ds, c in cases("subgroups")]
    assert covered == expected and len(covered) == 2 * 4 * 2
    assert all("q_between" in c and "moderator_test" in c for _, c in cases("subgroups"))


def test_one_study_level_is_fixed_effect_and_inputs():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"x": [4, 6, 10, 12, 9], "n": [20, 22, 25, 24, 30], "g": ["a", "a", "b", "b", "c"]}
    )
    sg = mp.subgroup_analysis(data=df, events="x", totals="n", groups="g")
    assert sg.results["c"].method == "FE" and sg.results["c"].k == 1
    assert sg.overall.k == 5
    assert sg.to_frame()["group"].tolist() == ["a", "b", "c"]
    same = mp.subgroup_analysis(mp.meta_prop(data=df, events="x", totals="n"), groups=df["g"])
    assert same.q_between == sg.q_between
    with pytest.raises(ValueError, match="at least two groups"):
        mp.subgroup_analysis([4, 6], [20, 22], ["a", "a"])
    with pytest.raises(ValueError, match=r"index 1 .*group is missing"):
        mp.subgroup_analysis([4, 6, 7], [20, 22, 25], ["a", None, "b"])
    with pytest.raises(ValueError, match="length mismatch"):
        mp.subgroup_analysis([4, 6, 7], [20, 22, 25], ["a", "b"])


def test_one_study_per_level_leaves_the_moderator_test_unestimated():
    """k = 3 studies in 3 levels: metafor's rma(mods = ~ g) stops ("Number of parameters to
    be estimated is larger than the number of observations"); the levels and Q_B remain."""
    sg = mp.subgroup_analysis([12, 9, 47], [83, 33, 131], ["a", "b", "c"], method="REML")
    assert [r.k for r in sg.results.values()] == [1, 1, 1]
    assert np.isfinite(sg.q_between.statistic) and sg.q_between.df == 2
    assert sg.moderator.df == 2
    assert np.isnan(sg.moderator.statistic) and np.isnan(sg.moderator.pvalue)
    assert np.isnan(sg.moderator.tau2)
    assert any("moderator test" in note for note in sg.notes)
    # the fixed-effect moderator model needs only k >= p, as metafor
    fe = mp.subgroup_analysis([12, 9, 47], [83, 33, 131], ["a", "b", "c"], method="FE")
    assert np.isfinite(fe.moderator.statistic) and not fe.notes
    with pytest.raises(ValueError, match="parameters to be estimated"):
        fit_moderators([0.1, 0.2, 0.3], [0.01, 0.02, 0.01], np.eye(3), "REML")


def test_knha_moderator_test_is_an_f_test():
    sg = mp.subgroup_analysis(
        [11, 24, 179, 82, 60, 11, 99],
        [29, 33, 326, 240, 110, 29, 244],
        ["o", "c", "c", "o", "c", "o", "c"],
        test="knha",
    )
    assert sg.moderator.df == 1 and sg.moderator.df_denominator == 5


_MODS_R = r"""
suppressMessages({library(metafor); library(jsonlite)})
a <- fromJSON(commandArgs(trailingOnly = TRUE)[1])
d <- escalc("PLO", xi = a$events, ni = a$totals); g <- factor(a$groups)
out <- list()
for (m in a$methods) for (t in a$tests) {
  r <- rma(yi, vi, mods = ~ g, data = d, method = m, test = t,
           control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000))
  out[[paste(m, t)]] <- c(r$QM, r$QMp, r$tau2)
}
cat(toJSON(out, digits = NA))
"""


@pytest.mark.needs_r
def test_moderator_model_matches_live_metafor_for_every_method_and_test(tmp_path):
    """fit_moderators with all estimators and tests against rma(mods = ~ group) in R."""
    rscript = require_tool("Rscript")
    ds = next(d for d in (c[0] for c in cases()) if d["name"] == "debruin2009")
    methods = ["FE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB"]
    tests = ["z", "knha", "adhoc"]
    args = tmp_path / "args.json"
    args.write_text(
        json.dumps({**ds, "cases": None, "glmm": None, "methods": methods, "tests": tests})
    )
    script = tmp_path / "mods.R"
    script.write_text(_MODS_R)
    proc = subprocess.run(
        [rscript, str(script), str(args)], capture_output=True, text=True, check=True, timeout=120
    )
    want = json.loads(proc.stdout)
    es = mp.escalc(ds["events"], ds["totals"], "PLO")
    g = np.array(ds["groups"])
    X = np.column_stack([np.ones(len(g)), (g == "other").astype(float)])
    for m in methods:
        for t in tests:
            fit = fit_moderators(es.yi, es.vi, X, m, t)
            rtol, atol = tol.for_field("QM", iterative=m in tol.ITERATIVE_METHODS)
            np.testing.assert_allclose(
                [fit.qm, fit.qm_pvalue, fit.tau2],
                want[f"{m} {t}"],
                rtol=rtol,
                atol=atol,
                err_msg=f"{m} {t}",
            )
