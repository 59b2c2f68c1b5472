"""Meta-regression in the binomial-normal GLMM (``meta_regression_glmm``, issue 26 item 4)
against metafor's ``rma.glmm(measure="PLO", mods=..., method="ML")``: pinned references in
``tests/fixtures/metafor_glmm_profile_cumulative.json`` and (``needs_r``) live R on random
datasets."""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pandas as pd
import pytest
import tolerances as tol
from _tools import run_r
from features_reference import load, params
from scipy import special, stats

FIELDS = {
    "beta": "beta",
    "se": "se",
    "statistic": "zval",
    "pvalue": "pval",
    "ci_low": "ci_lb",
    "ci_high": "ci_ub",
    "vcov": "vb",
    "tau2": "tau2",
    "qm": "QM",
    "qm_pvalue": "QMp",
    "qe_wald": "QE_wald",
    "qe_wald_pvalue": "QEp_wald",
    "qe_lrt": "QE_lrt",
    "qe_lrt_pvalue": "QEp_lrt",
    "i2": "I2",
    "h2": "H2",
}


def _compare(res, ref) -> list[str]:
    bad = []
    for field, key in FIELDS.items():
        got = np.asarray(getattr(res, field), dtype=float)
        want = np.asarray(ref[key], dtype=float)
        atol = tol.GLM_P_ATOL if "pval" in field else 0.0
        if field in ("tau2", "i2") and float(want) < 1e-8:
            atol = tol.ITERATIVE_ATOL  # lme4 stops at the tau = 0 bound
        if not np.allclose(got, want, rtol=tol.GLMM_RTOL, atol=atol):
            bad.append(f"{field}: got {got}, want {want}")
    return bad


def test_reference_has_every_regression():
    ids = [p.id for p in params("glmm_mods")]
    assert len(ids) == 9 and len(set(ids)) == 9
    assert any(p.values[1]["test"] == "t" for p in params("glmm_mods"))
    assert load()["source"]["generator"] == "scripts/metafor_glmm_profile_cumulative.R"


@pytest.mark.parametrize(("ds", "ref"), params("glmm_mods"))
def test_regression_matches_metafor(ds, ref):
    X = np.array(ref["X"], dtype=float)
    res = mp.meta_regression_glmm(ds["events"], ds["totals"], mods=X[:, 1:], test=ref["test"])
    assert res.qm_df == ref["QMdf"][0] and res.qe_df == ref["QE_df"]
    assert res.df == (None if ref["test"] == "z" else ref["QMdf"][1])
    bad = _compare(res, ref)
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("test", ["z", "t"])
def test_intercept_only_is_meta_prop_glmm(test):
    x, n = [16, 10, 4, 43, 10, 25, 13], [17, 12, 8, 58, 10, 42, 14]
    reg = mp.meta_regression_glmm(x, n, test=test)
    fit = mp.meta_prop_glmm(x, n, test=test)
    assert reg.names == ("intercept",)
    assert np.isclose(reg.beta[0], fit.estimate_t, rtol=1e-6)
    assert np.isclose(reg.se[0], fit.se_t, rtol=1e-4)
    assert np.isclose(reg.tau2, fit.tau2, rtol=1e-5)
    assert np.isclose(reg.qe_lrt, fit.qe_lrt, rtol=1e-10)
    assert np.isclose(reg.qe_wald, fit.qe_wald, rtol=1e-10)
    assert np.isclose(reg.i2, fit.i2, rtol=1e-5)
    # the intercept-only model tests the intercept itself
    assert np.isclose(reg.qm, reg.statistic[0] ** 2, rtol=1e-12)


def test_column_names_from_data_and_frame():
    df = pd.DataFrame(
        {
            "x": [11, 24, 179, 82, 60, 11, 99, 9],
            "n": [29, 33, 326, 240, 110, 29, 244, 17],
            "year": [2005, 2003, 2003, 2006, 1999, 2002, 2003, 2005],
            "europe": [1, 0, 0, 1, 0, 1, 0, 0],
        }
    )
    by_name = mp.meta_regression_glmm("x", "n", mods=["year", "europe"], data=df)
    by_array = mp.meta_regression_glmm(df["x"], df["n"], mods=df[["year", "europe"]])
    assert by_name.names == by_array.names == ("intercept", "year", "europe")
    assert np.allclose(by_name.beta, by_array.beta, rtol=1e-12)
    frame = by_name.to_frame()
    assert frame["term"].tolist() == ["intercept", "year", "europe"]
    assert np.allclose(frame["estimate"], by_name.beta)
    assert by_name.qm_df == 2 and by_name.qe_df == 5
    # the z statistics, p-values and intervals follow from beta and se
    z = stats.norm.ppf(0.975)
    assert np.allclose(by_name.ci_low, by_name.beta - z * by_name.se)
    assert np.allclose(by_name.pvalue, 2 * stats.norm.sf(np.abs(by_name.beta / by_name.se)))
    assert np.isclose(by_name.qm_pvalue, stats.chi2.sf(by_name.qm, 2))
    assert "GlmmRegressionResult(k=8" in repr(by_name) and len(repr(by_name)) < 200


def test_arrays_are_read_only():
    res = mp.meta_regression_glmm([5, 9, 14, 3, 8], [40, 41, 50, 33, 45], mods=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="read-only"):
        res.beta[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        res.vcov[0, 0] = 0.0


@pytest.mark.parametrize(
    ("mods", "message"),
    [
        ([1, 2, 3], "one row per study"),
        ([1, 1, 1, 1, 1], "linearly dependent"),
        ([[1, 2], [2, 4], [3, 6], [4, 8], [5, 10]], "linearly dependent"),
        ([1, 2, np.nan, 4, 5], "finite"),
        ([[1, 0, 3, 1], [2, 1, 0, 0], [3, 0, 1, 1], [4, 1, 1, 0], [5, 0, 0, 0]], "studies"),
    ],
)
def test_bad_moderators_are_refused(mods, message):
    with pytest.raises(ValueError, match=message):
        mp.meta_regression_glmm([5, 9, 14, 3, 8], [40, 41, 50, 33, 45], mods=mods)


def test_unknown_column_and_test_are_refused():
    df = pd.DataFrame({"x": [5, 9, 14], "n": [40, 41, 50], "z": [1.0, 2.0, 4.0]})
    with pytest.raises(ValueError, match="columns"):
        mp.meta_regression_glmm("x", "n", mods="zz", data=df)
    with pytest.raises(ValueError, match="test"):
        mp.meta_regression_glmm("x", "n", mods="z", data=df, test="knha")


R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (name in names(jobs)) {
  j <- jobs[[name]]
  fit <- rma.glmm(measure = "PLO", xi = unlist(j$events), ni = unlist(j$totals),
                  mods = unlist(j$mod), method = "ML", test = j$test)
  out[[name]] <- list(beta = as.numeric(fit$beta), se = as.numeric(fit$se),
                      zval = as.numeric(fit$zval), pval = as.numeric(fit$pval),
                      ci_lb = as.numeric(fit$ci.lb), ci_ub = as.numeric(fit$ci.ub),
                      vb = unname(fit$vb), tau2 = fit$tau2, QM = fit$QM, QMp = fit$QMp,
                      QE_wald = fit$QE.Wld, QEp_wald = fit$QEp.Wld, QE_lrt = fit$QE.LRT,
                      QEp_lrt = fit$QEp.LRT, I2 = fit$I2, H2 = fit$H2)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, matrix = "rowmajor"), args[2])
"""


@pytest.mark.needs_r
def test_regression_matches_live_metafor(tmp_path):
    rng = np.random.default_rng(326)
    jobs = {}
    for i in range(4):
        k = int(rng.integers(6, 14))
        n = rng.integers(20, 300, size=k)
        mod = rng.normal(50.0, 10.0, size=k).round(1)
        logit = -1.5 + 0.03 * (mod - 50) + rng.normal(0.0, 0.5, size=k)
        x = rng.binomial(n, special.expit(logit))
        jobs[f"random{i}"] = {
            "events": x.tolist(),
            "totals": n.tolist(),
            "mod": mod.tolist(),
            "test": "z" if i % 2 == 0 else "t",
        }
    (tmp_path / "run.R").write_text(R_CODE)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_r(tmp_path / "run.R", tmp_path / "jobs.json", tmp_path / "out.json")
    ref = json.loads((tmp_path / "out.json").read_text())
    for name, job in jobs.items():
        res = mp.meta_regression_glmm(
            job["events"], job["totals"], mods=job["mod"], test=job["test"]
        )
        bad = _compare(res, ref[name])
        assert not bad, (name, bad)
