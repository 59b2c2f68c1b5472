"""Cumulative meta-analysis with tied order values pooled (``cumulative(..., collapse=True)``,
issue 26 item 4), against metafor: ``cumul(collapse = TRUE)`` exists from metafor 4.8-0;
the pinned reference (metafor 3.8-1) refits ``rma()`` to the studies whose year is at most
each distinct year, which is what ``cumul(collapse = TRUE)`` computes. The live test uses
``cumul(collapse = TRUE)`` itself where R has metafor >= 4.8 and the same refits otherwise."""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from features_reference import params

CASES = params("cumul_collapse")

COLUMNS = {
    "k": "k",
    "estimate_t": "estimate",
    "se_t": "se",
    "ci_t_low": "ci_lb",
    "ci_t_high": "ci_ub",
    "pvalue": "pval",
    "q": "Q",
    "tau2": "tau2",
    "i2": "I2",
    "h2": "H2",
}


def _compare(frame, rows, method) -> list[str]:
    bad = []
    if frame["order"].tolist() != [r["order"] for r in rows]:
        return [f"order: {frame['order'].tolist()}"]
    iterative = method in tol.ITERATIVE_METHODS
    for col, key in COLUMNS.items():
        rtol, atol = tol.for_field("i2" if col == "i2" else col, iterative=iterative)
        got = frame[col].to_numpy(dtype=float)
        want = np.array([r[key] for r in rows], dtype=float)
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            bad.append(f"{col}: got {got}, want {want}")
    return bad


def test_reference_has_ties_and_no_ties():
    names = {c.values[0]["name"] for c in CASES}
    assert names == {"debruin2009", "rare_events"} and len(CASES) == 8
    tied = [c for c in CASES if c.values[0]["name"] == "debruin2009"]
    assert all(len(c.values[1]["rows"]) < len(c.values[0]["year"]) for c in tied)


@pytest.mark.parametrize(("ds", "ref"), CASES)
def test_collapse_matches_metafor(ds, ref):
    res = mp.meta_prop(ds["events"], ds["totals"], measure=ref["measure"], method=ref["method"])
    frame = mp.cumulative(res, order=ds["year"], collapse=True)
    bad = _compare(frame, ref["rows"], ref["method"])
    assert not bad, "; ".join(bad)
    plain = mp.cumulative(res, order=ds["year"])
    rtol, atol = tol.for_field("estimate_t", iterative=ref["method"] in tol.ITERATIVE_METHODS)
    assert np.allclose(plain["estimate_t"], ref["plain_estimate"], rtol=rtol, atol=atol)


def test_collapse_rows_are_the_last_of_each_tie_without_collapse():
    x, n = [4, 9, 12, 7, 15, 3], [20, 30, 25, 22, 40, 18]
    years = [2003, 2001, 2004, 2001, 2003, 2001]
    res = mp.meta_prop(x, n, labels=list("ABCDEF"), method="DL")
    plain = mp.cumulative(res, order=years)
    pooled = mp.cumulative(res, order=years, collapse=True)
    assert pooled["order"].tolist() == [2001, 2003, 2004]
    assert pooled["k"].tolist() == [3, 5, 6]
    assert pooled["label"].tolist() == ["B; D; F", "A; E", "C"]
    last = plain.groupby("order").tail(1).reset_index(drop=True)
    cols = ["k", "estimate_t", "se_t", "tau2", "q", "estimate", "ci_low", "ci_high"]
    assert np.allclose(pooled[cols].to_numpy(float), last[cols].to_numpy(float), rtol=1e-12)


def test_collapse_without_ties_is_the_plain_analysis():
    res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22], method="REML")
    years = [2004, 2001, 2003, 2002]
    plain = mp.cumulative(res, order=years)
    pooled = mp.cumulative(res, order=years, collapse=True)
    assert pooled["label"].tolist() == plain["label"].tolist()
    assert np.allclose(pooled["estimate"], plain["estimate"], rtol=1e-12)


def test_collapse_needs_order_and_string_keys_work():
    res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22])
    with pytest.raises(ValueError, match="order="):
        mp.cumulative(res, collapse=True)
    frame = mp.cumulative(res, order=["b", "a", "b", "c"], collapse=True)
    assert frame["order"].tolist() == ["a", "b", "c"] and frame["k"].tolist() == [1, 3, 4]


R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
native <- packageVersion("metafor") >= "4.8.0"
out <- list()
for (name in names(jobs)) {
  j <- jobs[[name]]
  es <- escalc(measure = j$measure, xi = unlist(j$events), ni = unlist(j$totals))
  year <- unlist(j$year)
  if (native) {
    fit <- rma(yi, vi, data = es, method = j$method, control = ctrl)
    cu <- cumul(fit, order = year, collapse = TRUE)
    out[[name]] <- list(order = as.numeric(cu$order), k = cu$k,
                        estimate = as.numeric(cu$estimate), se = cu$se, tau2 = cu$tau2,
                        Q = cu$Q)
  } else {
    fits <- lapply(sort(unique(year)), function(u)
      rma(yi, vi, data = es, subset = year <= u, method = j$method, control = ctrl))
    out[[name]] <- list(order = sort(unique(year)), k = sapply(fits, function(f) f$k),
                        estimate = sapply(fits, function(f) as.numeric(f$beta)),
                        se = sapply(fits, function(f) f$se),
                        tau2 = sapply(fits, function(f) f$tau2),
                        Q = sapply(fits, function(f) f$QE))
  }
}
writeLines(toJSON(out, auto_unbox = FALSE, digits = NA), args[2])
"""


@pytest.mark.needs_r
def test_collapse_matches_live_metafor(tmp_path):
    rng = np.random.default_rng(5026)
    jobs = {}
    for i in range(4):
        k = int(rng.integers(5, 15))
        n = rng.integers(10, 300, size=k)
        p = 1 / (1 + np.exp(-rng.normal(-1.0, 0.6, size=k)))
        jobs[f"random{i}"] = {
            "events": rng.binomial(n, p).tolist(),
            "totals": n.tolist(),
            "year": rng.integers(2000, 2006, size=k).tolist(),
            "measure": ["PLO", "PFT"][i % 2],
            "method": ["DL", "REML"][(i // 2) % 2],
        }
    (tmp_path / "run.R").write_text(R_CODE)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_r(tmp_path / "run.R", tmp_path / "jobs.json", tmp_path / "out.json")
    ref = json.loads((tmp_path / "out.json").read_text())
    for name, job in jobs.items():
        res = mp.meta_prop(
            job["events"], job["totals"], measure=job["measure"], method=job["method"]
        )
        frame = mp.cumulative(res, order=job["year"], collapse=True)
        r = ref[name]
        assert frame["order"].tolist() == r["order"] and frame["k"].tolist() == r["k"]
        rtol, atol = tol.for_field("tau2", iterative=job["method"] in tol.ITERATIVE_METHODS)
        for col, key in (("estimate_t", "estimate"), ("se_t", "se"), ("tau2", "tau2"), ("q", "Q")):
            assert np.allclose(frame[col], r[key], rtol=rtol, atol=atol), (name, col)
