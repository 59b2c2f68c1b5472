"""The GLMM's heterogeneity tests as result fields (issue 26, item 4): metafor's
``rma.glmm`` ``QE.Wld``, ``QEp.Wld``, ``QE.LRT``, ``QEp.LRT`` and ``QE.df``, pinned in
``tests/fixtures/metafor_glmm_profile_cumulative.json`` and (``needs_r``) from live R."""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from features_reference import load, params
from scipy import stats

FIELDS = {
    "qe_wald": "QE_wald",
    "qe_wald_pvalue": "QEp_wald",
    "qe_lrt": "QE_lrt",
    "qe_lrt_pvalue": "QEp_lrt",
}


def _atol(field: str) -> float:
    return tol.GLM_P_ATOL if field.endswith("pvalue") else 0.0


def test_every_dataset_with_two_studies_has_the_tests():
    names = [ds["name"] for ds in load()["datasets"] if "glmm_het" in ds]
    assert names == ["pritz1997", "debruin2009", "rare_events", "two_studies"]


@pytest.mark.parametrize(("ds", "ref"), params("glmm_het"))
def test_heterogeneity_tests_match_metafor(ds, ref):
    res = mp.meta_prop_glmm(ds["events"], ds["totals"])
    assert isinstance(res, mp.GlmmResult) and isinstance(res, mp.MetaResult)
    assert res.qe_df == ref["QE_df"] == res.k - 1
    for field, name in FIELDS.items():
        got, want = getattr(res, field), ref[name]
        assert np.isclose(got, want, rtol=tol.GLM_RTOL, atol=_atol(field)), (field, got, want)


def test_fields_are_consistent():
    res = mp.meta_prop_glmm([16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42])
    assert res.q == res.qe_wald and res.q_pvalue == res.qe_wald_pvalue
    assert np.isclose(res.qe_lrt_pvalue, stats.chi2.sf(res.qe_lrt, res.qe_df), rtol=1e-12)
    assert np.isclose(res.qe_wald_pvalue, stats.chi2.sf(res.qe_wald, res.qe_df), rtol=1e-12)
    assert f"{res.qe_lrt:.4f}" in " ".join(res.notes)


def test_tests_are_in_the_table():
    res = mp.meta_prop_glmm([16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42])
    row = res.to_frame().iloc[0]
    for field in (*FIELDS, "qe_df"):
        assert row[field] == getattr(res, field)
    assert row["estimate"] == res.estimate


def test_lrt_by_hand():
    """LRT = 2 [saturated - common] binomial log-likelihoods, here by scipy's pmf."""
    x, n = np.array([3, 8, 1, 12]), np.array([20, 22, 15, 30])
    res = mp.meta_prop_glmm(x, n)
    sat = stats.binom.logpmf(x, n, x / n).sum()
    common = stats.binom.logpmf(x, n, x.sum() / n.sum()).sum()
    assert np.isclose(res.qe_lrt, 2 * (sat - common), rtol=1e-12)


R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (name in names(jobs)) {
  j <- jobs[[name]]
  fit <- rma.glmm(measure = "PLO", xi = unlist(j$events), ni = unlist(j$totals), method = "ML")
  out[[name]] <- list(QE_wald = fit$QE.Wld, QEp_wald = fit$QEp.Wld, QE_lrt = fit$QE.LRT,
                      QEp_lrt = fit$QEp.LRT, QE_df = fit$QE.df)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


@pytest.mark.needs_r
def test_heterogeneity_tests_match_live_metafor(tmp_path):
    rng = np.random.default_rng(2026)
    jobs = {}
    for i in range(4):
        k = int(rng.integers(3, 12))
        n = rng.integers(10, 200, size=k)
        x = rng.binomial(n, special_expit(rng.normal(-1.0, 0.8, size=k)))
        jobs[f"random{i}"] = {"events": x.tolist(), "totals": n.tolist()}
    (tmp_path / "run.R").write_text(R_CODE)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_r(tmp_path / "run.R", tmp_path / "jobs.json", tmp_path / "out.json")
    ref = json.loads((tmp_path / "out.json").read_text())
    for name, job in jobs.items():
        res = mp.meta_prop_glmm(job["events"], job["totals"])
        assert res.qe_df == ref[name]["QE_df"]
        for field, key in FIELDS.items():
            got, want = getattr(res, field), ref[name][key]
            ok = np.isclose(got, want, rtol=tol.GLM_RTOL, atol=_atol(field))
            assert ok, (name, field, got, want)


def special_expit(z):
    return 1.0 / (1.0 + np.exp(-z))
