"""Profile-likelihood interval for tau^2 (``tau2_profile_ci``, issue 26 item 4) against
metafor's ``confint(rma(..., method = "ML" | "REML"), type = "PL")``: pinned references in
``tests/fixtures/metafor_glmm_profile_cumulative.json`` and (``needs_r``) live R on random
datasets."""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from features_reference import params
from metaprop.profile import _loglik
from scipy import stats

CASES = params("tau2_pl")


def test_reference_covers_measures_methods_levels():
    keys = {(c.values[1]["measure"], c.values[1]["method"], c.values[1]["level"]) for c in CASES}
    assert len(keys) == 4 * 2 * 2 and len(CASES) == 4 * len(keys)
    # the reference holds both special cases: a lower bound of 0 and the search limit
    assert any(c.values[1]["ci_lb"] == 0 for c in CASES)
    assert any(c.values[1]["ci_ub"] == 100 for c in CASES)


@pytest.mark.parametrize(("ds", "ref"), CASES)
def test_profile_interval_matches_metafor(ds, ref):
    res = mp.meta_prop(ds["events"], ds["totals"], measure=ref["measure"], method=ref["method"])
    rtol, atol = tol.for_field("tau2_ci", iterative=True)
    assert np.isclose(res.tau2, ref["tau2"], rtol=rtol, atol=atol)
    lo, hi = mp.tau2_profile_ci(res, level=ref["level"])
    assert np.allclose([lo, hi], [ref["ci_lb"], ref["ci_ub"]], rtol=rtol, atol=atol), (
        lo,
        hi,
        ref,
    )


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_bounds_cut_the_likelihood_at_chi2(method):
    x = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
    n = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
    res = mp.meta_prop(x, n, method=method)
    lo, hi = mp.tau2_profile_ci(res, level=0.9)
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    reml = method == "REML"
    top = _loglik(res.tau2, y, v, reml)
    crit = stats.chi2.ppf(0.9, 1)
    assert 0 < lo < res.tau2 < hi
    for bound in (lo, hi):
        assert np.isclose(2 * (top - _loglik(bound, y, v, reml)), crit, atol=1e-9)
    # wider at a higher level; the fit's level by default
    lo95, hi95 = mp.tau2_profile_ci(res)
    assert lo95 < lo and hi < hi95


def test_reml_loglik_is_scipy_multivariate_normal_up_to_a_constant():
    """The REML log-likelihood differs from the ML one by -log(sum w)/2, and the ML one is
    the normal density of y at the weighted mean (checked with scipy)."""
    y, v = np.array([0.1, 0.5, 0.9, 0.3]), np.array([0.04, 0.05, 0.06, 0.05])
    diffs = []
    for t2 in (0.0, 0.1, 0.7):
        w = 1 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        full = stats.norm.logpdf(y, mu, np.sqrt(v + t2)).sum()
        diffs.append(full - _loglik(t2, y, v, reml=False))
        assert np.isclose(
            _loglik(t2, y, v, reml=True), _loglik(t2, y, v, False) - 0.5 * np.log(w.sum())
        )
    assert np.allclose(diffs, diffs[0])


@pytest.mark.parametrize("method", ["DL", "FE", "PM"])
def test_other_estimators_are_refused(method):
    res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22], method=method)
    with pytest.raises(ValueError, match="'ML' or 'REML'"):
        mp.tau2_profile_ci(res)


def test_glmm_and_single_study_are_refused():
    with pytest.raises(ValueError, match="'ML' or 'REML'"):
        mp.tau2_profile_ci(mp.meta_prop_glmm([4, 9, 12, 7], [20, 30, 25, 22]))
    res = mp.meta_prop([4], [20], method="REML")
    with pytest.raises(ValueError, match="at least 2 studies"):
        mp.tau2_profile_ci(res)


R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (name in names(jobs)) {
  j <- jobs[[name]]
  es <- escalc(measure = j$measure, xi = unlist(j$events), ni = unlist(j$totals))
  fit <- rma(yi, vi, data = es, method = j$method,
             control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000))
  ci <- confint(fit, type = "PL", control = list(tol = 1e-12))
  out[[name]] <- list(tau2 = fit$tau2, ci_lb = ci$random["tau^2", "ci.lb"],
                      ci_ub = ci$random["tau^2", "ci.ub"])
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


@pytest.mark.needs_r
def test_profile_interval_matches_live_metafor(tmp_path):
    rng = np.random.default_rng(4026)
    jobs = {}
    for i in range(8):
        k = int(rng.integers(3, 15))
        n = rng.integers(10, 300, size=k)
        p = 1 / (1 + np.exp(-rng.normal(-1.0, rng.uniform(0.0, 1.0), size=k)))
        jobs[f"random{i}"] = {
            "events": rng.binomial(n, p).tolist(),
            "totals": n.tolist(),
            "measure": ["PLO", "PFT", "PAS", "PR"][i % 4],
            "method": ["ML", "REML"][(i // 4) % 2],
        }
    (tmp_path / "run.R").write_text(R_CODE)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_r(tmp_path / "run.R", tmp_path / "jobs.json", tmp_path / "out.json")
    ref = json.loads((tmp_path / "out.json").read_text())
    rtol, atol = tol.for_field("tau2_ci", iterative=True)
    for name, job in jobs.items():
        res = mp.meta_prop(
            job["events"], job["totals"], measure=job["measure"], method=job["method"]
        )
        got = mp.tau2_profile_ci(res)
        want = [ref[name]["ci_lb"], ref[name]["ci_ub"]]
        assert np.allclose(got, want, rtol=rtol, atol=atol), (name, got, want)
