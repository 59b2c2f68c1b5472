"""The GLMM with a t(k-1) interval (``meta_prop_glmm(test="t")``, issue 21) and its
profile-likelihood interval: structure, and (``needs_r``) metafor's
``rma.glmm(test = "t")`` with ``predict()``."""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from metaprop.glmm import glmm_profile_ci
from scipy import special, stats

CASES = {
    "pritz5": ([16, 10, 4, 43, 10], [17, 12, 8, 58, 10]),
    "two": ([5, 3], [100, 50]),
    "three": ([30, 90, 150], [40, 100, 300]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_t_interval_is_the_z_fit_with_a_t_quantile(name):
    x, n = CASES[name]
    z, t = mp.meta_prop_glmm(x, n), mp.meta_prop_glmm(x, n, test="t")
    k = len(x)
    q = stats.t.ppf(0.975, k - 1)
    assert t.test == "t" and t.df == k - 1 and z.df is None
    assert t.estimate_t == z.estimate_t and t.se_t == z.se_t
    assert np.allclose(t.ci_t, [z.estimate_t - q * z.se_t, z.estimate_t + q * z.se_t])
    half = q * np.sqrt(z.se_t**2 + z.tau2)
    assert np.allclose(t.pi_t, [z.estimate_t - half, z.estimate_t + half])
    assert np.isclose(t.pvalue, 2 * stats.t.sf(abs(z.statistic), k - 1))
    assert np.isclose(t.ci.low, special.expit(t.ci_t.low))
    assert "t(k-1) quantile" in t.summary()


def test_unknown_test_is_refused():
    with pytest.raises(ValueError, match="test"):
        mp.meta_prop_glmm([5, 3], [100, 50], test="knha")


@pytest.mark.parametrize("name", sorted(CASES))
def test_profile_interval_contains_the_estimate_and_cuts_at_chi2(name):
    """Each bound of the profile interval lies where twice the log-likelihood drop equals
    the chi-square(1) 95% point (checked by re-profiling at the bound)."""
    from metaprop.glmm import _Objective, _profile_loglik, fit_glmm

    x, n = CASES[name]
    lo, hi = glmm_profile_ci(x, n)
    fit = fit_glmm(np.array(x), np.array(n))
    assert lo < fit.beta < hi
    obj = _Objective(np.array(x, float), np.array(n, float))
    for bound in (lo, hi):
        ll, _ = _profile_loglik(obj, bound, fit.tau2)
        assert np.isclose(2 * (fit.loglik - ll), stats.chi2.ppf(0.95, 1), atol=1e-4)


R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (name in names(jobs)) {
  j <- jobs[[name]]
  fit <- rma.glmm(measure = "PLO", xi = unlist(j$events), ni = unlist(j$totals),
                  method = "ML", test = "t")
  p <- predict(fit)
  out[[name]] <- list(b = as.numeric(fit$beta), ci_lb = fit$ci.lb, ci_ub = fit$ci.ub,
                      pval = fit$pval, pi_lb = p$pi.lb, pi_ub = p$pi.ub)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


@pytest.mark.needs_r
def test_t_interval_matches_metafor(tmp_path):
    jobs = {k: {"events": v[0], "totals": v[1]} for k, v in CASES.items()}
    (tmp_path / "run.R").write_text(R_CODE)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_r(tmp_path / "run.R", tmp_path / "jobs.json", tmp_path / "out.json")
    ref = json.loads((tmp_path / "out.json").read_text())
    for name, (x, n) in CASES.items():
        res = mp.meta_prop_glmm(x, n, test="t")
        r = ref[name]
        got = [res.estimate_t, *res.ci_t, res.pvalue, *res.pi_t]
        want = [r["b"], r["ci_lb"], r["ci_ub"], r["pval"], r["pi_lb"], r["pi_ub"]]
        assert np.allclose(got, want, rtol=tol.GLMM_RTOL, atol=1e-4), (name, got, want)
