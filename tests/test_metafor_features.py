"""The log proportion, user weights and the added tau^2 estimators against metafor (issue 26).

``tests/fixtures/metafor_features.json`` is made by ``scripts/metafor_features.R`` from
``scripts/metafor_features_inputs.json`` (metafor 3.8-1, tight convergence control). The
jobs are built by :func:`pinned_jobs` from the four datasets of the vendored reference
(``metafor_proportions.json``):

- ``PLN`` (log proportion) with FE, DL, REML and PM, tests z and knha;
- user weights (the totals, ``rma(weights=ni)``) on the logit scale with FE, DL, REML and
  GENQ, tests z, knha and adhoc;
- the estimators HSk, SJIT, DLIT and PMM on the PLO, PAS and PLN scales, tests z and knha.

With metafor before 4.6-0 (as pinned) a DLIT job is fitted by metafor as PM: metafor 4.6-0
replaced its DLIT update by one whose limit is the PM estimate (see the R script), which
is what metaprop computes. DLIT (and SJIT) are therefore also checked against their
defining equation solved here with scipy and against metafor 4.6-0's iteration written out
in numpy; a ``needs_r`` test shows what the installed metafor's own DLIT computes. The
``needs_r`` test runs the same script on seeded random jobs against the installed metafor.
Ids are ``dataset-MEASURE-METHOD-test[-w]`` (``-w``: user weights).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "metafor_features.R"
INPUTS = ROOT / "scripts" / "metafor_features_inputs.json"
FIXTURE = ROOT / "tests" / "fixtures" / "metafor_features.json"
VENDORED = ROOT / "tests" / "fixtures" / "metafor_proportions.json"

NEW_ESTIMATORS = ("HSk", "SJIT", "DLIT", "PMM")
FIELDS = (
    "yi",
    "vi",
    "estimate_t",
    "se_t",
    "ci_t",
    "stat",
    "pval",
    "tau2",
    "se_tau2",
    "I2",
    "H2",
    "QE",
    "QEp",
    "weights",
    "pi_t",
    "estimate",
    "ci",
    "pi",
)


def _job(name, data, measure, method, test, weights=None) -> dict:
    job = {
        "id": f"{name}-{measure}-{method}-{test}" + ("-w" if weights is not None else ""),
        "measure": measure,
        "method": method,
        "test": test,
        **data,
    }
    if weights is not None:
        job["weights"] = weights
    return job


# trim-and-fill where effects tie: synthetic counts with several studies at 100% (their
# arcsine effects are equal), and one set of studies all at 100% in its six orders
TIED = (
    ([5, 42, 66, 14, 54, 11, 36, 60, 27, 30, 24], [5, 42, 66, 14, 64, 13, 40, 66, 27, 30, 25]),
    ([22, 73, 71, 18, 43, 65, 68], [25, 77, 71, 18, 43, 75, 68]),
    ([65, 16, 44, 38, 25, 20, 8, 29, 59], [76, 16, 47, 38, 31, 22, 8, 35, 66]),
    ([71, 35, 20, 22, 51, 7], [78, 35, 20, 22, 58, 7]),
    ([76, 59, 47, 70, 30], [76, 69, 47, 78, 30]),
    ([52, 35, 45, 9, 16], [52, 35, 52, 11, 18]),
)
ALL_AT_100 = (
    [48, 47, 9],
    [48, 9, 47],
    [47, 48, 9],
    [47, 9, 48],
    [9, 48, 47],
    [9, 47, 48],
)


def trimfill_jobs() -> list[dict]:
    """Trim-and-fill jobs: tied effects (FE and DL, L0 and R0) and all-equal effects."""
    jobs = []
    for i, (events, totals) in enumerate(TIED):
        data = {"events": events, "totals": totals}
        for method in ("FE", "DL"):
            for estimator in ("L0", "R0"):
                job = _job(f"tied{i}", data, "PAS", method, "z")
                jobs.append({**job, "id": f"{job['id']}-{estimator}", "trimfill": estimator})
    for totals in ALL_AT_100:
        name = "all100-" + "-".join(map(str, totals))
        job = _job(name, {"events": totals, "totals": totals}, "PAS", "FE", "z")
        jobs.append({**job, "id": f"{job['id']}-L0", "trimfill": "L0"})
    return jobs


def pinned_jobs() -> list[dict]:
    """The jobs of the pinned fixture, from the vendored reference's datasets."""
    datasets = json.loads(VENDORED.read_text())["datasets"]
    jobs = []
    for ds in datasets:
        data = {"events": ds["events"], "totals": ds["totals"]}
        name = ds["name"]
        for method in ("FE", "DL", "REML", "PM"):
            for test in ("z", "knha"):
                jobs.append(_job(name, data, "PLN", method, test))
        for method in ("FE", "DL", "REML", "GENQ"):
            for test in ("z", "knha", "adhoc"):
                jobs.append(_job(name, data, "PLO", method, test, weights=ds["totals"]))
        for measure in ("PLO", "PAS", "PLN"):
            for method in NEW_ESTIMATORS:
                for test in ("z", "knha"):
                    job = _job(name, data, measure, method, test)
                    if len(ds["totals"]) >= 3:
                        job["regtest"] = True
                    jobs.append(job)
    return jobs + trimfill_jobs()


def fit(job: dict):
    """metaprop's fit of a job (warnings about FE with knha and k = 1 are not compared)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if job["measure"] == "GEN":
            return mp.meta_analysis(
                np.array(job["yi"]),
                np.array(job["vi"]),
                method=job["method"],
                test=job["test"],
                weights=job.get("weights"),
            )
        return mp.meta_prop(
            job["events"],
            job["totals"],
            measure=job["measure"],
            method=job["method"],
            test=job["test"],
            weights=job.get("weights"),
        )


def _arr(x) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def ours(res) -> dict:
    """metaprop's values under metafor's names."""
    return {
        "yi": res.yi,
        "vi": res.vi,
        "estimate_t": res.estimate_t,
        "se_t": res.se_t,
        "ci_t": tuple(res.ci_t),
        "stat": res.statistic,
        "pval": res.pvalue,
        "tau2": res.tau2,
        "se_tau2": res.se_tau2,
        "I2": res.i2,
        "H2": res.h2,
        "QE": res.q,
        "QEp": res.q_pvalue,
        "weights": res.weights,
        "pi_t": tuple(res.pi_t),
        "estimate": res.estimate,
        "ci": tuple(res.ci),
        "pi": tuple(res.pi),
    }


def differences(job: dict, ref: dict) -> dict[str, float]:
    """Largest absolute difference per field, and the fields outside their tolerance."""
    iterative = job["method"] in tol.ITERATIVE_METHODS
    got = ours(fit(job))
    out, bad = {}, []
    for field in FIELDS:
        g, w = _arr(got[field]), _arr(ref[field])
        rtol, atol = tol.for_field(field, iterative=iterative)
        if g.shape != w.shape:
            bad.append(f"{field}: shape {g.shape} vs {w.shape}")
            continue
        both = ~(np.isnan(g) & np.isnan(w))
        out[field] = float(np.max(np.abs(g - w)[both], initial=0.0))
        if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
            bad.append(f"{field}: metaprop {g.tolist()} metafor {w.tolist()}")
    out["problems"] = bad
    return out


REF = json.loads(FIXTURE.read_text())
RESULTS = {r["id"]: r for r in REF["results"]}
PINNED = pinned_jobs()


def test_inputs_file_is_what_pinned_jobs_builds():
    """The committed inputs are the jobs built here, so the fixture cannot drift from them."""
    assert json.loads(INPUTS.read_text()) == {"jobs": PINNED}


def test_fixture_has_every_job_fitted():
    assert [r["id"] for r in REF["results"]] == [j["id"] for j in PINNED]
    failed = [r["id"] for r in REF["results"] if "error" in r]
    assert not failed, failed
    assert REF["source"]["metafor_version"] == "3.8.1"


@pytest.mark.parametrize("job", PINNED, ids=[j["id"] for j in PINNED])
def test_agrees_with_pinned_metafor(job):
    diff = differences(job, RESULTS[job["id"]])
    assert not diff["problems"], "\n".join(diff["problems"])


REGTEST_JOBS = [j for j in PINNED if j.get("regtest")]


@pytest.mark.parametrize("job", REGTEST_JOBS, ids=[j["id"] for j in REGTEST_JOBS])
def test_egger_test_with_new_estimators_matches_metafor(job):
    """regtest() refits with the model's method: the estimators in meta-regression."""
    ref = RESULTS[job["id"]]["regtest"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = mp.egger_test(fit(job))
    rtol, atol = tol.for_field("regtest", iterative=job["method"] in tol.ITERATIVE_METHODS)
    np.testing.assert_allclose(
        [got.statistic, got.pvalue, got.limit_estimate],
        [ref["zval"], ref["pval"], ref["est"]],
        rtol=rtol,
        atol=atol,
    )


def test_regtest_jobs_cover_every_new_estimator():
    assert {j["method"] for j in REGTEST_JOBS} == set(NEW_ESTIMATORS)
    assert len(REGTEST_JOBS) >= 50


TIED_JOBS = [j for j in PINNED if j["id"].startswith("tied")]
ALL100_JOBS = [j for j in PINNED if j["id"].startswith("all100")]


def _trim(job):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mp.trim_and_fill(fit(job), estimator=job["trimfill"])


@pytest.mark.parametrize("job", TIED_JOBS, ids=[j["id"] for j in TIED_JOBS])
def test_trimfill_with_tied_effects_matches_metafor(job):
    """Studies at 100% tie on the arcsine scale; ranks of ties go by position in both."""
    ref = RESULTS[job["id"]]
    tf = _trim(job)
    assert (tf.k0, tf.side) == (ref["k0"], ref["side"])


def test_tied_jobs_tie_and_fill():
    """The tie cases are not hollow: they hold tied effects and some fill studies."""
    assert all(sum(e == n for e, n in zip(*t, strict=True)) >= 2 for t in TIED)
    assert sum(RESULTS[j["id"]]["k0"] > 0 for j in TIED_JOBS) >= 4


def test_trimfill_all_equal_effects_fill_nothing_in_any_order():
    """Regression (issue 26): all studies at 100% (FE, arcsine) gave k0 = 1 where metafor
    gave 2. Every effect is pi/2, so the centred effects are rounding noise of the pooled
    estimate: metafor's k0 and side change with the order of the same three studies (the
    pinned runs), while metaprop fills nothing and takes the left side in every order."""
    got = {(tf.k0, tf.side) for tf in map(_trim, ALL100_JOBS)}
    assert got == {(0, "left")}
    theirs = [
        (r["k0"], r["side"]) if "k0" in r else r["trimfill_error"]
        for r in (RESULTS[j["id"]] for j in ALL100_JOBS)
    ]
    assert (2, "right") in theirs and (0, "left") in theirs and len(set(theirs)) >= 3


def test_trimfill_rounding_rule_keeps_real_differences():
    """Shrinking the spread of the effects to 1e-9 around pi/2 keeps k0 and the side: the
    centred effects scale with it, and the rounding rule snaps nothing that large."""
    job = next(j for j in TIED_JOBS if j["id"] == "tied0-PAS-FE-z-L0")
    base = fit(job)
    shrunk = np.pi / 2 + 1e-9 * (base.yi - base.yi.mean())
    small = mp.meta_analysis(shrunk, base.vi, method="FE", transform="arcsine")
    want = mp.trim_and_fill(base)
    got = mp.trim_and_fill(small)
    assert want.k0 > 0
    assert (got.k0, got.side) == (want.k0, want.side)


def test_weights_change_the_estimate():
    """The comparison is not hollow: user weights move the pooled value away from IV's."""
    job = next(j for j in PINNED if j["id"] == "pritz1997-PLO-DL-z-w")
    weighted = fit(job)
    plain = fit({k: v for k, v in job.items() if k != "weights"})
    assert abs(weighted.estimate_t - plain.estimate_t) > 1e-3
    assert weighted.tau2 == pytest.approx(plain.tau2, rel=1e-12)  # DL ignores user weights
    assert any("user-supplied weights" in note for note in weighted.notes)
    want = 100 * np.array(job["totals"]) / np.sum(job["totals"])
    np.testing.assert_allclose(weighted.weights, want, rtol=1e-12)


def test_new_estimators_differ_where_they_should():
    """HSk and PMM each give their own tau^2 (SJIT and DLIT: see the tests below)."""
    e, n = PINNED[0]["events"], PINNED[0]["totals"]
    tau2 = {
        m: fit(_job("x", {"events": e, "totals": n}, "PLO", m, "z")).tau2
        for m in ("HS", "HSk", "PM", "PMM")
    }
    assert tau2["HSk"] > tau2["HS"] > 0
    assert tau2["PMM"] > tau2["PM"] > 0  # the chi^2 median is below k - 1


# ------------------------------------------- DLIT and SJIT against independent computations
# The installed metafor (3.8-1) has DLIT, but the update it iterates is not the one metafor
# has used since 4.6-0, which metaprop follows: DLIT cannot be checked against it. Here both
# estimators are checked against their defining equations solved in this file, with numpy
# and scipy only, never against metaprop's own PM.


def _independent_datasets() -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded effects and variances: k from 2 to 30, with and without heterogeneity."""
    rng = np.random.default_rng(SEED_INDEPENDENT)
    out = []
    for j, k in enumerate((2, 3, 4, 5, 8, 12, 20, 30, 3, 6, 10, 25)):
        vi = rng.uniform(0.01, 0.5, size=k)
        spread = (0.0, 0.2, 0.8)[j % 3]
        yi = rng.normal(0.3, 1.0) + rng.normal(0.0, np.sqrt(vi + spread**2))
        out.append((yi, vi))
    return out


SEED_INDEPENDENT = 20261207


def _q(tau2: float, yi: np.ndarray, vi: np.ndarray) -> float:
    """Cochran's generalised Q at tau2 (weights 1 / (v_i + tau2))."""
    w = 1.0 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    return float(np.sum(w * (yi - mu) ** 2))


def _trace_p(tau2: float, vi: np.ndarray) -> tuple[float, float]:
    """tr(P) and tr(PV) of the intercept-only model, P = W - w w' / sum(w)."""
    w = 1.0 / (vi + tau2)
    return (
        float(w.sum() - (w**2).sum() / w.sum()),
        float((w * vi).sum() - (w**2 * vi).sum() / w.sum()),
    )


def _root(f, upper: float = 1.0) -> float:
    """Root of ``f`` on (0, inf) by bracketing (f(0) < 0 < f(upper)), scipy's brentq."""
    from scipy.optimize import brentq

    while f(upper) <= 0:
        upper *= 10
    return brentq(f, 0.0, upper, xtol=1e-15, rtol=1e-14)


def _pm_equation_root(yi: np.ndarray, vi: np.ndarray) -> float:
    """Paule & Mandel (1982): Q(tau2) = k - 1, 0 when Q(0) <= k - 1."""
    k = len(yi)
    if _q(0.0, yi, vi) <= k - 1:
        return 0.0
    return _root(lambda t: (k - 1) - _q(t, yi, vi))


def _dlit_iteration_since_46(yi: np.ndarray, vi: np.ndarray) -> float:
    """metafor >= 4.6-0's DLIT (rma.uni.r): tau2 <- max(0, (Q(tau2) - tr(PV)) / tr(P))
    from 0 until a step is below 1e-14."""
    tau2 = 0.0
    for _ in range(100_000):
        trp, trpv = _trace_p(tau2, vi)
        new = max(0.0, (_q(tau2, yi, vi) - trpv) / trp)
        if abs(new - tau2) < 1e-14:
            return new
        tau2 = new
    raise AssertionError("the DLIT iteration did not converge")


def _dlit_fixed_point_before_46(yi: np.ndarray, vi: np.ndarray) -> float:
    """Fixed point of metafor < 4.6-0's DLIT update tau2 <- (Q(tau2) - (k - 1)) / tr(P):
    tau2 tr(P(tau2)) = Q(tau2) - (k - 1) (for data with Q(0) > k - 1)."""
    k = len(yi)
    return _root(lambda t: t * _trace_p(t, vi)[0] - (_q(t, yi, vi) - (k - 1)))


INDEPENDENT = _independent_datasets()


@pytest.mark.parametrize("method", ["DLIT", "SJIT"])
@pytest.mark.parametrize(
    "data", INDEPENDENT, ids=[f"k{len(y)}-{i}" for i, (y, _) in enumerate(INDEPENDENT)]
)
def test_dlit_and_sjit_solve_the_paule_mandel_equation(method, data):
    """DLIT (metafor >= 4.6-0) and SJIT converge to the root of Q(tau2) = k - 1 (or to 0):
    metaprop's value against that equation solved by scipy, and DLIT also against metafor
    4.6-0's iteration run here step by step."""
    yi, vi = data
    got = mp.meta_analysis(yi, vi, method=method).tau2
    rtol, atol = tol.for_field("tau2", iterative=True)
    assert got == pytest.approx(_pm_equation_root(yi, vi), rel=rtol, abs=atol)
    if method == "DLIT":
        assert got == pytest.approx(_dlit_iteration_since_46(yi, vi), rel=rtol, abs=atol)


def test_independent_datasets_are_not_hollow():
    """Both cases occur: a root above 0 (most) and the boundary at 0 (some)."""
    roots = [_pm_equation_root(yi, vi) for yi, vi in INDEPENDENT]
    assert sum(r > 1e-3 for r in roots) >= 6 and sum(r == 0.0 for r in roots) >= 2


def test_dlit_before_46_has_another_fixed_point():
    """The update metafor iterated before 4.6-0 (the installed 3.8-1) stops elsewhere: its
    fixed point is not the Paule-Mandel root, so metaprop's DLIT cannot equal it."""
    positive = [(yi, vi) for yi, vi in INDEPENDENT if _pm_equation_root(yi, vi) > 1e-3]
    for yi, vi in positive:
        old = _dlit_fixed_point_before_46(yi, vi)
        assert old < 0.9 * mp.meta_analysis(yi, vi, method="DLIT").tau2


def test_pln_back_transform_is_exp_and_not_clipped():
    res = mp.meta_prop([9, 10, 10], [10, 10, 10], measure="PLN", method="FE")
    assert res.estimate == pytest.approx(np.exp(res.estimate_t), rel=1e-15)
    assert res.ci.high > 1.0  # as metafor's transf=exp: a log-scale bound above 0
    assert mp.back_transform(np.log(0.3), "PLN") == pytest.approx(0.3, rel=1e-15)
    assert mp.transform(0.3, "PLN") == pytest.approx(np.log(0.3), rel=1e-15)


def test_pln_in_batch_and_leave_one_out_matches_single_fits():
    """The log proportion passes through the batch engine (leave-one-out) unchanged."""
    job = next(j for j in PINNED if j["id"] == "pritz1997-PLN-REML-z")
    res = fit(job)
    loo = mp.leave_one_out(res)
    i = 3
    drop = [x for j, x in enumerate(zip(job["events"], job["totals"], strict=True)) if j != i]
    single = mp.meta_prop([e for e, _ in drop], [n for _, n in drop], measure="PLN")
    row = loo.to_frame().iloc[i] if hasattr(loo, "to_frame") else loo.iloc[i]
    assert row["estimate"] == pytest.approx(single.estimate, rel=1e-9)
    assert row["tau2"] == pytest.approx(single.tau2, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "GENQ"}, "needs user weights"),
        ({"weights": [1, 2]}, "length mismatch"),
        ({"weights": [1, -2, 3]}, "index 1"),
        ({"weights": [1, float("nan"), 3]}, "index 1"),
        ({"weights": [0, 0, 0]}, "all 0"),
        ({"weights": "w"}, "no DataFrame"),
    ],
)
def test_bad_weights_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mp.meta_prop([3, 4, 5], [10, 12, 14], **kwargs)


def test_weights_by_column_name():
    import pandas as pd

    df = pd.DataFrame({"x": [3, 4, 5], "n": [10, 12, 14], "w": [1.0, 2.0, 3.0]})
    by_name = mp.meta_prop(data=df, events="x", totals="n", weights="w", method="DL")
    direct = mp.meta_prop([3, 4, 5], [10, 12, 14], weights=[1.0, 2.0, 3.0], method="DL")
    assert by_name.estimate_t == direct.estimate_t


# ---------------------------------------------------------------- live metafor (needs R)

SEED = 20261206
N_LIVE = 24


def live_jobs() -> list[dict]:
    """Seeded random jobs: k from 1 to 30, zero- and all-event studies, random weights."""
    rng = np.random.default_rng(SEED)
    jobs = []
    for j in range(N_LIVE):
        k = int([1, 2, 3, 30][j] if j < 4 else rng.integers(1, 31))
        totals = rng.integers(5, 301, size=k)
        p = 1.0 / (1.0 + np.exp(-(rng.uniform(-3, 2) + rng.uniform(0, 1.2) * rng.normal(size=k))))
        events = rng.binomial(totals, p)
        if k > 1 and j % 3 == 0:
            events[0] = 0
        if k > 1 and j % 4 == 1:
            events[-1] = totals[-1]
        data = {"events": events.tolist(), "totals": totals.tolist()}
        weights = rng.uniform(0.1, 5.0, size=k).round(6).tolist()
        name = f"r{j:02d}-k{k}"
        for method in ("FE", "DL", "REML"):
            jobs.append(_job(name, data, "PLN", method, ("z", "knha")[j % 2]))
        for method in ("FE", "DL", "REML", "GENQ"):
            jobs.append(_job(name, data, "PLO", method, ("z", "knha", "adhoc")[j % 3], weights))
        for method in NEW_ESTIMATORS:
            jobs.append(_job(name, data, ("PLO", "PAS", "PFT")[j % 3], method, "z"))
    return jobs


@pytest.fixture(scope="module")
def live_results(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("metafor_features")
    jobs_path, out_path = work / "jobs.json", work / "results.json"
    jobs_path.write_text(json.dumps({"jobs": live_jobs()}))
    run_r(SCRIPT, jobs_path, out_path)
    return {r["id"]: r for r in json.loads(out_path.read_text())["results"]}


@pytest.mark.needs_r
def test_agrees_with_live_metafor(live_results):
    jobs = live_jobs()
    problems, fitted = [], 0
    for job in jobs:
        ref = live_results[job["id"]]
        if "error" in ref:
            continue
        fitted += 1
        problems += [f"{job['id']} {p}" for p in differences(job, ref)["problems"]]
    assert fitted >= 0.98 * len(jobs), [i for i, r in live_results.items() if "error" in r]
    assert not problems, "\n".join(problems)


@pytest.mark.needs_r
def test_installed_metafor_dlit_is_the_update_of_its_version(tmp_path):
    """metafor's own DLIT (job ``as_is``), as installed: from 4.6-0 it equals metaprop's
    DLIT; before (3.8-1 here) it is the fixed point of the older update, computed in this
    file, and differs from metaprop's by far (or the older update does not converge).
    The docs' statement about DLIT rests on this."""
    data = [(yi, vi) for yi, vi in INDEPENDENT if _pm_equation_root(yi, vi) > 1e-3]
    jobs = [
        {"id": f"dlit{i}", "measure": "GEN", "yi": yi.tolist(), "vi": vi.tolist(),
         "method": "DLIT", "test": "z", "as_is": True}
        for i, (yi, vi) in enumerate(data)
    ]  # fmt: skip
    jobs_path, out_path = tmp_path / "jobs.json", tmp_path / "out.json"
    jobs_path.write_text(json.dumps({"jobs": jobs}))
    run_r(SCRIPT, jobs_path, out_path)
    out = json.loads(out_path.read_text())
    new = tuple(int(x) for x in out["source"]["metafor_version"].split(".")) >= (4, 6, 0)
    rtol, atol = tol.for_field("tau2", iterative=True)
    compared = 0
    for (yi, vi), ref in zip(data, out["results"], strict=True):
        ours = mp.meta_analysis(yi, vi, method="DLIT").tau2
        if "error" in ref:
            assert not new and "did not converge" in ref["error"], ref
            continue
        assert ref["fitted_method"] == "DLIT"
        compared += 1
        if new:
            assert ref["tau2"] == pytest.approx(ours, rel=rtol, abs=atol)
        else:
            want = _dlit_fixed_point_before_46(yi, vi)
            assert ref["tau2"] == pytest.approx(want, rel=rtol, abs=atol)
            assert abs(ref["tau2"] - ours) > 0.1 * ours
    assert compared >= len(data) - 2 >= 4


WEIGHTED = dict(events=[4, 9, 12, 7, 30, 3], totals=[20, 30, 25, 22, 60, 15])


@pytest.mark.parametrize(
    "diagnostic",
    [
        mp.leave_one_out,
        mp.cumulative,
        mp.gosh,
        lambda res: mp.bootstrap(res, n_boot=10, seed=1),
        mp.trim_and_fill,
        mp.egger_test,
    ],
    ids=["leave_one_out", "cumulative", "gosh", "bootstrap", "trim_and_fill", "egger_test"],
)
def test_refits_refuse_a_weighted_fit(diagnostic):
    """Diagnostics that refit with inverse-variance weights refuse a fit with user weights
    (their answer would belong to another model), and still run on the unweighted fit."""
    res = mp.meta_prop(**WEIGHTED, method="DL", weights=WEIGHTED["totals"])
    with pytest.raises(ValueError, match="user weights"):
        diagnostic(res)
    diagnostic(mp.meta_prop(**WEIGHTED, method="DL"))


def test_tau2_interval_with_weights():
    """Q-profile ignores user weights, as metafor's confint(); GENQ's own interval
    (generalised Q, Jackson 2013) is not implemented and is refused."""
    weighted = mp.meta_prop(**WEIGHTED, method="DL", weights=WEIGHTED["totals"])
    plain = mp.meta_prop(**WEIGHTED, method="DL")
    assert tuple(weighted.tau2_ci()) == tuple(plain.tau2_ci())
    genq = mp.meta_prop(**WEIGHTED, method="GENQ", weights=WEIGHTED["totals"])
    with pytest.raises(ValueError, match="GENQ"):
        genq.tau2_ci()
    np.testing.assert_array_equal(genq.user_weights, WEIGHTED["totals"])
    assert plain.user_weights is None
