"""metaprop against metafor: escalc and every ``fit`` field of every reference case.

Cases come from ``tests/fixtures/metafor_proportions.json`` (R 4.2.2, metafor 3.8-1;
``escalc()`` then ``rma(yi, vi, method, test)``, ``predict()``), ids
``dataset-MEASURE-METHOD-test``. Tolerances are in ``tests/tolerances.py``.
"""

from __future__ import annotations

import warnings

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from reference import case_id, cases, load, n_cases, params

FIT_CASES = params("fit")


def _fit(dataset: dict, case: dict) -> mp.MetaResult:
    return mp.meta_prop(
        dataset["events"],
        dataset["totals"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )


def _mismatches(res: mp.MetaResult, case: dict) -> list[str]:
    fit = case["fit"]
    iterative = case["method"] in tol.ITERATIVE_METHODS
    pairs = {
        "yi": (res.yi, case["yi"]),
        "vi": (res.vi, case["vi"]),
        "estimate_t": (res.estimate_t, fit["estimate_t"]),
        "se_t": (res.se_t, fit["se_t"]),
        "ci_t": (res.ci_t, fit["ci_t"]),
        "stat": (res.statistic, fit["stat"]),
        "pval": (res.pvalue, fit["pval"]),
        "tau2": (res.tau2, fit["tau2"]),
        "I2": (res.i2, fit["I2"]),
        "H2": (res.h2, fit["H2"]),
        "QE": (res.q, fit["QE"]),
        "QEp": (res.q_pvalue, fit["QEp"]),
        "estimate": (res.estimate, fit["estimate"]),
        "ci": (res.ci, fit["ci"]),
    }
    if "pi_default" in fit:
        pairs["pi_t_default"] = (res.pi_t, fit["pi_t_default"])
        pairs["pi_default"] = (res.pi, fit["pi_default"])
    if "pi_k2" in fit:
        pairs["pi_t_k2"] = (res.prediction_interval("t(k-2)", transformed=True), fit["pi_t_k2"])
        pairs["pi_k2"] = (res.prediction_interval("t(k-2)"), fit["pi_k2"])
    out = []
    if res.k != fit["k"]:
        out.append(f"k: got {res.k}, want {fit['k']}")
    for field, (got, want) in pairs.items():
        rtol, atol = tol.for_field(field, iterative=iterative)
        got_a = np.asarray(got, dtype=float)
        want_a = np.asarray(want, dtype=float)
        if got_a.shape != want_a.shape or not np.allclose(got_a, want_a, rtol=rtol, atol=atol):
            out.append(f"{field}: got {got_a.tolist()}, want {want_a.tolist()}")
    return out


@pytest.mark.parametrize(("dataset", "case"), FIT_CASES)
def test_fit_matches_metafor(dataset, case):
    """yi, vi and every fit field (including both prediction intervals) agree."""
    res = _fit(dataset, case)
    problems = _mismatches(res, case)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("dataset", "case"), FIT_CASES)
def test_fixed_effect_or_default_prediction_interval(dataset, case):
    """metafor's predict() gives no PI for FE; ours is the normal interval with tau^2 = 0."""
    res = _fit(dataset, case)
    if case["method"] == "FE":
        assert "pi_default" not in case["fit"]
        assert res.tau2 == 0.0
        np.testing.assert_allclose(res.pi_t, res.ci_t, rtol=1e-14)
    else:
        assert "pi_default" in case["fit"]


def test_no_case_is_skipped():
    """Every case in the file is either fitted above or an expected metafor error."""
    fitted = {case_id(ds, c) for ds, c in cases("fit")}
    failed = {case_id(ds, c) for ds, c in cases("error")}
    assert len(FIT_CASES) == len(fitted) == len(cases("fit"))  # ids are unique
    assert fitted.isdisjoint(failed)
    assert len(fitted) + len(failed) == n_cases()
    # the grid the README describes: 4 datasets x 4 measures x (FE z + 8 methods x 2 tests)
    assert n_cases() == 4 * 4 * (1 + 8 * 2)


def test_metafor_errors_are_errors_here_too():
    """A case metafor could not fit raises here, or reports non-convergence with a warning."""
    for ds, case in cases("error"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = _fit(ds, case)
            except ValueError:
                continue
        assert not res.converged, case_id(ds, case)
        assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_non_convergence_is_reported_as_metafor_stops():
    """metafor stops when Fisher scoring does not converge; here: a warning and a flag."""
    ds = cases()[0][0]
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = mp.meta_prop(ds["events"], ds["totals"], method="REML", maxiter=1)
    assert not res.converged
    assert any("did not converge" in note for note in res.notes)
    assert "did not converge" in res.summary()


@pytest.mark.parametrize("method", ["FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB"])
@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_one_study(method, test):
    """k = 1 fits (as metafor: tau^2 = 0, Q = 0, the z test) and says what is missing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mp.meta_prop([7], [20], method=method, test=test)
    assert not caught  # what is not estimable goes to res.notes, not to warnings
    assert (res.k, res.tau2, res.i2, res.h2, res.q, res.q_pvalue) == (1, 0.0, 0.0, 1.0, 0.0, 1.0)
    assert res.test == "z" and res.df is None
    assert res.se_t == pytest.approx(np.sqrt(1 / 7 + 1 / 13), rel=1e-12)
    assert res.ci_t.low < res.estimate_t < res.ci_t.high
    assert any("k = 1" in note for note in res.notes)
    assert "k = 1" in res.summary()
    assert np.isnan(res.tau2_ci()).all()


def test_two_studies_note_the_missing_t_k2_interval():
    res = mp.meta_prop([12, 30], [20, 35])
    assert any("t(k-2)" in note for note in res.notes)
    assert not np.isnan(res.tau2_ci()).any()


def test_ll0_check_resets_a_worse_maximum(monkeypatch):
    """metafor sets tau^2 = 0 when Fisher scoring ends where the likelihood is below L(0)."""
    from metaprop import _engine

    yi, vi = np.array([0.1, 0.12, 0.11, 0.13]), np.array([0.02, 0.03, 0.025, 0.02])
    honest = _engine.fit_arrays(yi, vi, method="REML")
    assert honest.tau2[0] == 0.0

    def stuck(b, tau2, method, tol, maxiter):  # pretend scoring converged at a poor point
        return np.full_like(tau2, 0.5), np.ones(tau2.shape, dtype=bool)

    monkeypatch.setattr(_engine, "_fisher_scoring", stuck)
    assert _engine.fit_arrays(yi, vi, method="REML").tau2[0] == 0.0
    assert _engine.fit_arrays(yi, vi, method="REML", ll0check=False).tau2[0] == 0.5


def test_fixture_records_its_provenance_and_tight_convergence():
    """The iterative tolerances assume metafor ran with threshold = tol <= 1e-12."""
    src = load()["source"]
    assert src["r_version"] and src["metafor_version"] and src["script_md5"]
    assert src["control"]["threshold"] <= 1e-12 and src["control"]["tol"] <= 1e-12
