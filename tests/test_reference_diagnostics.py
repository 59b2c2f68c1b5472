"""Sensitivity and small-study diagnostics against metafor, for every reference case.

Fields of ``tests/fixtures/metafor_proportions.json`` (R 4.2.2, metafor 3.8-1):
``leave1out`` (``leave1out()``), ``cumulative`` (``cumul(res, order = year)``),
``egger_rma`` (``regtest()``), ``egger_lm`` (``regtest(model = "lm")``), ``begg``
(``ranktest()``), ``trimfill_L0`` and ``trimfill_R0`` (``trimfill(estimator = ...)``).
Ids follow ``dataset-MEASURE-METHOD-test``; tolerances come from ``tests/tolerances.py``.
The ``needs_r`` test at the end repeats the comparison on seeded random datasets (every
``regtest`` predictor and model, every method, z/knha/adhoc) with live metafor.
"""

from __future__ import annotations

import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from reference import case_id, cases, params

DIAGNOSTICS = ("leave1out", "cumulative", "egger_rma", "egger_lm", "begg")
TRIMFILL = ("trimfill_L0", "trimfill_R0")


def _fit(dataset: dict, case: dict) -> mp.MetaResult:
    return mp.meta_prop(
        dataset["events"],
        dataset["totals"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )


def _check(pairs: dict, case: dict, *, always_iterative: bool = False) -> None:
    """Assert every (got, want) pair within the tolerance named for its field."""
    iterative = always_iterative or case["method"] in tol.ITERATIVE_METHODS
    bad = []
    for field, (got, want) in pairs.items():
        if want is None:
            continue
        rtol, atol = tol.for_field(field.split(".")[-1], iterative=iterative)
        g = np.atleast_1d(np.asarray(got, dtype=float))
        w = np.atleast_1d(np.asarray(want, dtype=float))
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
            bad.append(f"{field}: got {g}, want {w} (rtol {rtol:g}, atol {atol:g})")
    assert not bad, "; ".join(bad)


def test_no_diagnostic_case_is_dropped():
    """Each field is present exactly where the generator computes it, and tested there."""
    for field in (*DIAGNOSTICS[2:], *TRIMFILL):
        want = {case_id(ds, c) for ds, c in cases("fit") if len(ds["events"]) >= 3}
        assert {case_id(ds, c) for ds, c in cases(field)} == want, field
    assert {case_id(ds, c) for ds, c in cases("leave1out")} == {
        case_id(ds, c) for ds, c in cases("fit")
    }
    want = {
        case_id(ds, c)
        for ds, c in cases("fit")
        if ds["year"] is not None and c["method"] == "REML" and c["test"] == "z"
    }
    assert {case_id(ds, c) for ds, c in cases("cumulative")} == want
    assert len(params("leave1out")) == len(cases("fit")) > 0


@pytest.mark.parametrize(("dataset", "case"), params("leave1out"))
def test_leave1out(dataset, case):
    ref = case["leave1out"]
    got = mp.leave_one_out(_fit(dataset, case)).to_frame()
    assert got["label"].tolist() == [f"Study {i + 1}" for i in range(len(dataset["events"]))]
    _check(
        {
            "leave1out.estimate_t": (got["estimate_t"], ref["estimate_t"]),
            "leave1out.se_t": (got["se_t"], ref["se_t"]),
            "leave1out.ci_t_lb": (got["ci_t_low"], ref["ci_t_lb"]),
            "leave1out.ci_t_ub": (got["ci_t_high"], ref["ci_t_ub"]),
            "leave1out.tau2": (got["tau2"], ref["tau2"]),
            "leave1out.I2": (got["i2"], ref["I2"]),
            "leave1out.Q": (got["q"], ref["Q"]),
            "leave1out.estimate": (got["estimate"], ref["estimate"]),
        },
        case,
    )


@pytest.mark.parametrize(("dataset", "case"), params("cumulative"))
def test_cumulative(dataset, case):
    ref = case["cumulative"]
    assert ref["order_by"] == dataset["year"]
    got = mp.cumulative(_fit(dataset, case), order=dataset["year"])
    assert got["label"].tolist() == [f"Study {i}" for i in ref["order"]]
    assert got["k"].tolist() == list(range(1, len(ref["order"]) + 1))
    _check(
        {
            "cumulative.estimate_t": (got["estimate_t"], ref["estimate_t"]),
            "cumulative.ci_t_lb": (got["ci_t_low"], ref["ci_t_lb"]),
            "cumulative.ci_t_ub": (got["ci_t_high"], ref["ci_t_ub"]),
            "cumulative.tau2": (got["tau2"], ref["tau2"]),
            "cumulative.I2": (got["i2"], ref["I2"]),
        },
        case,
    )


@pytest.mark.parametrize(("dataset", "case"), params("egger_rma"))
def test_egger_rma(dataset, case):
    ref = case["egger_rma"]
    got = mp.egger_test(_fit(dataset, case))
    assert got.model == "rma" and got.predictor == "sei"
    assert got.df == (None if case["test"] == "z" else len(dataset["events"]) - 2)
    _check(
        {
            "egger_rma.stat": (got.statistic, ref["stat"]),
            "egger_rma.pval": (got.pvalue, ref["pval"]),
        },
        case,
    )


@pytest.mark.parametrize(("dataset", "case"), params("egger_lm"))
def test_egger_lm(dataset, case):
    ref = case["egger_lm"]
    got = mp.egger_test(_fit(dataset, case), model="lm")
    assert got.df == ref["df"]
    # weighted least squares does not depend on tau^2: closed form for every method
    _check(
        {
            "egger_lm.stat": (got.statistic, ref["stat"]),
            "egger_lm.pval": (got.pvalue, ref["pval"]),
            "egger_lm.limit_estimate": (got.limit_estimate, ref["limit_estimate"]),
            "egger_lm.slope_sei": (got.slope, ref["slope_sei"]),
        },
        {**case, "method": "FE"},
    )


@pytest.mark.parametrize(("dataset", "case"), params("begg"))
def test_begg(dataset, case):
    ref = case["begg"]
    got = mp.begg_test(_fit(dataset, case))
    # centred on the fixed-effect estimate: closed form for every method
    _check(
        {"begg.tau": (got.statistic, ref["tau"]), "begg.pval": (got.pvalue, ref["pval"])},
        {**case, "method": "FE"},
    )


def _check_trimfill(dataset, case, estimator):
    ref = case[f"trimfill_{estimator}"]
    res = _fit(dataset, case)
    got = mp.trim_and_fill(res, estimator=estimator)
    assert (got.k0, got.side) == (ref["k0"], ref["side"])
    out = got.result
    if ref["k0"] == 0:
        assert out is res and got.filled_yi.size == 0
    else:
        assert out.k == res.k + ref["k0"] and out.test == "z"
        assert out.labels[-1] == f"Filled {ref['k0']}"
    _check(
        {
            "trimfill.estimate_t": (out.estimate_t, ref["estimate_t"]),
            "trimfill.se_t": (out.se_t, ref["se_t"]),
            "trimfill.ci_t": (out.ci_t, ref["ci_t"]),
            "trimfill.tau2": (out.tau2, ref["tau2"]),
            "trimfill.filled_yi": (got.filled_yi, ref["filled_yi"]),
            "trimfill.estimate": (out.estimate, ref["estimate"]),
        },
        case,
        always_iterative=True,
    )


@pytest.mark.parametrize(("dataset", "case"), params("trimfill_L0"))
def test_trimfill_l0(dataset, case):
    _check_trimfill(dataset, case, "L0")


@pytest.mark.parametrize(("dataset", "case"), params("trimfill_R0"))
def test_trimfill_r0(dataset, case):
    _check_trimfill(dataset, case, "R0")


@pytest.mark.parametrize(
    "func",
    [mp.egger_test, mp.begg_test, mp.trim_and_fill],
    ids=["egger", "begg", "trimfill"],
)
def test_small_study_tests_need_three_studies(func):
    res = mp.meta_prop([12, 30], [20, 35])
    with pytest.raises(ValueError, match=r"at least 3 studies \(k = 2\)"):
        func(res)


def test_leave_one_out_needs_two_studies():
    with pytest.raises(ValueError, match="at least 2 studies"):
        mp.leave_one_out(mp.meta_prop([3], [10]))


def test_egger_sample_size_predictors_need_sizes():
    res = mp.meta_analysis([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.015, 0.03])
    with pytest.raises(ValueError, match="sample sizes"):
        mp.egger_test(res, predictor="ninv")
    with pytest.raises(ValueError, match="unknown predictor"):
        mp.egger_test(res, predictor="n")


def test_trimfill_side_undefined_with_equal_standard_errors():
    res = mp.meta_prop([3, 8, 5, 9], [40, 40, 40, 40], measure="PAS")
    with pytest.raises(ValueError, match="same standard error.*side="):
        mp.trim_and_fill(res)
    assert mp.trim_and_fill(res, side="left").side == "left"


def test_begg_exact_p_matches_scipy_without_ties():
    # the exact null distribution of Kendall's S (no ties), checked against scipy
    from scipy import stats

    rng = np.random.default_rng(5)
    events = rng.integers(2, 40, 12)
    res = mp.meta_prop(events, events + rng.integers(5, 60, 12))
    got = mp.begg_test(res)
    w = 1 / res.vi
    ystar = (res.yi - np.sum(w * res.yi) / w.sum()) / np.sqrt(res.vi - 1 / w.sum())
    want = stats.kendalltau(ystar, res.vi, method="exact")
    assert got.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert got.pvalue == pytest.approx(want.pvalue, rel=1e-9)


# --------------------------------------------------------------------------------------
# randomised cross-check against live R metafor (needs Rscript with metafor, jsonlite)

LIVE_R = r"""
suppressMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
jobs <- fromJSON(args[1], simplifyVector = FALSE)$jobs
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
num <- function(x) if (is.null(x) || length(x) == 0) NA else unname(as.numeric(x))
try_ <- function(expr) tryCatch(suppressWarnings(expr), error = function(e) NULL)
one <- function(j) {
  xi <- unlist(j$events); ni <- unlist(j$totals); year <- unlist(j$year)
  dat <- escalc(measure = j$measure, xi = xi, ni = ni)
  res <- rma(yi, vi, data = dat, method = j$method, test = j$test, control = ctrl)
  out <- list(id = j$id, regtest = list())
  for (m in c("rma", "lm")) for (p in c("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")) {
    eg <- try_(regtest(res, model = m, predictor = p))
    out$regtest[[paste(m, p)]] <- if (is.null(eg)) NULL else
      list(stat = num(eg$zval), pval = num(eg$pval), est = num(eg$est),
           slope = num(coef(eg$fit)[2]))
  }
  rk <- suppressWarnings(ranktest(res))
  out$begg <- c(num(rk$tau), num(rk$pval))
  for (est in c("L0", "R0")) {
    tf <- try_(trimfill(res, estimator = est, control = ctrl))
    out[[est]] <- if (is.null(tf)) NULL else
      list(k0 = num(tf$k0), side = tf$side, beta = num(tf$beta), se = num(tf$se),
           tau2 = num(tf$tau2), filled = num(tf$yi[tf$fill]))
  }
  l1 <- suppressWarnings(leave1out(res))
  out$l1 <- list(est = num(l1$estimate), se = num(l1$se), lb = num(l1$ci.lb),
                 Q = num(l1$Q), I2 = num(l1$I2))
  cu <- suppressWarnings(cumul(res, order = year))
  out$cu <- list(est = num(cu$estimate), se = num(cu$se), lb = num(cu$ci.lb),
                 I2 = num(cu$I2))
  out
}
write(toJSON(list(results = lapply(jobs, one)), auto_unbox = TRUE, digits = NA,
             na = "null", null = "null"), args[2])
"""

LIVE_METHODS = ("FE", "DL", "REML", "PM", "ML", "HE", "SJ", "HS", "EB")
LIVE_MEASURES = ("PR", "PLO", "PAS", "PFT")


def _live_jobs(seed: int = 20261125, n: int = 36) -> list[dict]:
    """Seeded datasets, k from 3 to 30, with zero- and all-event studies and tied years."""
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n):
        k = int(rng.integers(3, 31))
        totals = rng.integers(5, 301, size=k)
        p = 1.0 / (1.0 + np.exp(-rng.normal(rng.uniform(-3, 3), rng.uniform(0, 1.5), k)))
        events = rng.binomial(totals, p)
        if j % 4 == 0:
            events[rng.integers(k)] = 0
        if j % 5 == 0:
            i = rng.integers(k)
            events[i] = totals[i]
        method = LIVE_METHODS[j % len(LIVE_METHODS)]
        test = "z" if method == "FE" else ("z", "knha", "adhoc")[j % 3]
        measure = LIVE_MEASURES[(j // len(LIVE_METHODS)) % len(LIVE_MEASURES)]
        jobs.append(
            {
                "id": f"live{j:02d}-k{k}-{measure}-{method}-{test}",
                "events": events.tolist(),
                "totals": totals.tolist(),
                "year": rng.integers(2000, 2008, size=k).tolist(),
                "measure": measure,
                "method": method,
                "test": test,
            }
        )
    return jobs


LIVE_JOBS = _live_jobs()


@pytest.fixture(scope="module")
def live_results(tmp_path_factory) -> dict:
    """Every live job run through metafor in one Rscript call, keyed by job id."""
    work = tmp_path_factory.mktemp("live_diagnostics")
    script, jobs_path, out_path = work / "run.R", work / "jobs.json", work / "out.json"
    script.write_text(LIVE_R)
    jobs_path.write_text(json.dumps({"jobs": LIVE_JOBS}))
    run_r(script, jobs_path, out_path)
    return {r["id"]: r for r in json.loads(out_path.read_text())["results"]}


def _near_ties(x: np.ndarray) -> bool:
    s = np.sort(np.asarray(x, dtype=float))
    return bool(np.any(np.diff(s) <= 1e-9 * np.abs(s[1:])))


@pytest.mark.needs_r
@pytest.mark.parametrize("job", [pytest.param(j, id=j["id"]) for j in LIVE_JOBS])
def test_live_diagnostics_match_metafor(job, live_results):
    """Egger (all predictors, both models), Begg, trim-and-fill, leave-one-out, cumulative."""
    ref = live_results[job["id"]]
    res = mp.meta_prop(
        job["events"],
        job["totals"],
        measure=job["measure"],
        method=job["method"],
        test=job["test"],
    )
    pairs = {}
    for key, want in ref["regtest"].items():
        model, predictor = key.split()
        got = mp.egger_test(res, model=model, predictor=predictor)
        limit = np.nan if got.limit_estimate is None else got.limit_estimate
        closed = {**job, "method": "FE"} if model == "lm" else job
        _check(
            {
                f"{key}.stat": (got.statistic, want["stat"]),
                f"{key}.pval": (got.pvalue, want["pval"]),
                f"{key}.slope": (got.slope, want["slope"]),
            },
            closed,
        )
        assert np.isnan(limit) == (want["est"] is None)
        pairs[f"{key}.limit"] = (limit, np.nan if want["est"] is None else want["est"])
    w = 1 / res.vi
    ystar = (res.yi - np.sum(w * res.yi) / w.sum()) / np.sqrt(res.vi - 1 / w.sum())
    if not (_near_ties(res.vi) or _near_ties(ystar)):
        # near-equal values are ties or not depending on the last bit of each side's
        # arithmetic; exact ties are covered by the vendored reference (debruin2009)
        got = mp.begg_test(res)
        _check(
            {
                "begg.tau": (got.statistic, ref["begg"][0]),
                "begg.pval": (got.pvalue, ref["begg"][1]),
            },
            {**job, "method": "FE"},
        )
    for est in ("L0", "R0"):
        want = ref.get(est)
        if want is None:
            with pytest.raises(ValueError):
                mp.trim_and_fill(res, estimator=est)
            continue
        got = mp.trim_and_fill(res, estimator=est)
        assert (got.k0, got.side) == (want["k0"], want["side"]), est
        _check(
            {
                f"{est}.estimate_t": (got.result.estimate_t, want["beta"]),
                f"{est}.se_t": (got.result.se_t, want["se"]),
                f"{est}.tau2": (got.result.tau2, want["tau2"] or 0.0),
                f"{est}.filled_yi": (got.filled_yi, want["filled"] if got.k0 else None),
            },
            job,
            always_iterative=True,
        )
    l1 = mp.leave_one_out(res).to_frame()
    cu = mp.cumulative(res, order=job["year"])
    _check(
        {
            "leave1out.estimate_t": (l1["estimate_t"], ref["l1"]["est"]),
            "leave1out.se_t": (l1["se_t"], ref["l1"]["se"]),
            "leave1out.ci_t_lb": (l1["ci_t_low"], ref["l1"]["lb"]),
            "leave1out.Q": (l1["q"], ref["l1"]["Q"]),
            "leave1out.I2": (l1["i2"], ref["l1"]["I2"]),
            "cumulative.estimate_t": (cu["estimate_t"], ref["cu"]["est"]),
            "cumulative.se_t": (cu["se_t"], ref["cu"]["se"]),
            "cumulative.ci_t_lb": (cu["ci_t_low"], ref["cu"]["lb"]),
            "cumulative.I2": (cu["i2"], ref["cu"]["I2"]),
            **{k: v for k, v in pairs.items() if np.isfinite(v[1])},
        },
        job,
    )
