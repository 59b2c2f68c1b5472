"""Parametric bootstrap: refits equal metafor's, and the intervals' coverage (issue 14, item 3).

``tests/fixtures/metafor_bootstrap.json`` is made by ``scripts/metafor_bootstrap.R``
(metafor 3.8-1): 40 datasets drawn in R from the REML fit of pritz1997 (PLO), each refitted
by metafor with every tau^2 estimator. Ids are the method codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import assert_fixture_remade
from scipy import special

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_bootstrap.json"
REF = json.loads(FIXTURE.read_text())
METHODS = list(REF["refits"])


def _base(method: str):
    return mp.meta_prop(REF["events"], REF["totals"], measure=REF["measure"], method=method)


def test_fixture_was_drawn_from_the_reml_fit():
    res = _base("REML")
    rtol, atol = tol.for_field("tau2", iterative=True)
    assert res.tau2 == pytest.approx(REF["base"]["tau2"], rel=rtol, abs=atol)
    np.testing.assert_allclose(res.vi, REF["vi"], rtol=tol.CLOSED_FORM_RTOL)


@pytest.mark.parametrize("method", METHODS)
def test_refits_equal_metafor(method):
    """The bootstrap's refits of R's draws equal metafor's fits of the same datasets."""
    ref = REF["refits"][method]
    boot = mp.bootstrap(_base(method), samples=REF["ystar"], level=REF["level"])
    assert boot.n_boot == len(REF["ystar"]) and boot.converged.all()
    iterative = method in tol.ITERATIVE_METHODS
    for ours, theirs in (("estimate_t", "estimate"), ("tau2", "tau2"), ("i2", "I2")):
        rtol, atol = tol.for_field(theirs, iterative=iterative)
        np.testing.assert_allclose(getattr(boot, ours), ref[theirs], rtol=rtol, atol=atol)
    rtol, atol = tol.for_field("tau2", iterative=iterative)
    np.testing.assert_allclose(boot.tau2_ci, ref["tau2_quantiles"], rtol=rtol, atol=atol)
    rtol, atol = tol.for_field("I2", iterative=iterative)
    np.testing.assert_allclose(boot.i2_ci, ref["I2_quantiles"], rtol=rtol, atol=atol)


def test_seeded_and_reproducible():
    res = _base("REML")
    a = mp.bootstrap(res, n_boot=300, seed=11)
    b = mp.bootstrap(res, n_boot=300, seed=11)
    c = mp.bootstrap(res, n_boot=300, seed=12)
    np.testing.assert_array_equal(a.tau2, b.tau2)
    assert a.pi == b.pi and a.tau2_ci == b.tau2_ci
    assert not np.array_equal(a.tau2, c.tau2)
    assert len(a.to_frame()) == 300


def test_intervals_are_ordered_and_on_the_right_scales():
    res = _base("DL")
    boot = mp.bootstrap(res, n_boot=500, seed=3)
    assert 0 <= boot.tau2_ci.low <= res.tau2 <= boot.tau2_ci.high
    assert 0 <= boot.i2_ci.low <= boot.i2_ci.high <= 100
    assert boot.pi_t.low < res.estimate_t < boot.pi_t.high
    low, high = mp.back_transform(np.array(boot.pi_t), "PLO")
    assert boot.pi == pytest.approx((low, high))
    assert 0 <= boot.pi.low < res.estimate < boot.pi.high <= 1


def test_fixed_effect_bootstrap_has_no_heterogeneity():
    boot = mp.bootstrap(_base("FE"), n_boot=200, seed=1)
    np.testing.assert_array_equal(boot.tau2, 0.0)
    assert boot.tau2_ci == (0.0, 0.0)


def test_pft_prediction_interval_uses_the_harmonic_mean():
    res = mp.meta_prop(REF["events"], REF["totals"], measure="PFT", method="REML")
    boot = mp.bootstrap(res, n_boot=200, seed=4)
    low = mp.back_transform(boot.pi_t.low, "PFT", ni=REF["totals"])
    assert boot.pi.low == pytest.approx(low)


def test_bad_arguments():
    res = _base("REML")
    with pytest.raises(ValueError, match="n_boot must be >= 2"):
        mp.bootstrap(res, n_boot=1)
    with pytest.raises(ValueError, match="samples must have shape"):
        mp.bootstrap(res, samples=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        mp.bootstrap(res, samples=np.full((5, 14), np.nan))


def test_coverage_with_known_tau2(record_property):
    """Simulated meta-analyses with known mu and tau^2: how often the intervals cover.

    200 datasets of k = 20 studies (mu = -0.5, tau^2 = 0.1, v_i uniform on [0.02, 0.2]),
    each bootstrapped 400 times (REML). Reports the coverage of the 95% percentile
    intervals for tau^2 and I^2, and the mean probability that a new study's true effect
    falls inside the prediction interval; asserts each lies in a band around 0.95 wide
    enough for 200 replications and the known small-k behaviour of percentile intervals.
    """
    rng = np.random.default_rng(2026)
    mu, tau2, k, n_sim = -0.5, 0.1, 20, 200
    vi = rng.uniform(0.02, 0.2, size=k)
    w = 1.0 / vi
    vt = (k - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())  # metafor's typical variance
    i2_true = 100.0 * tau2 / (tau2 + vt)
    covered = {"tau2": 0, "i2": 0}
    pi_mass = []
    for _ in range(n_sim):
        yi = mu + np.sqrt(tau2 + vi) * rng.standard_normal(k)
        res = mp.meta_analysis(yi, vi, method="REML")
        boot = mp.bootstrap(res, n_boot=400, seed=int(rng.integers(2**31)))
        covered["tau2"] += boot.tau2_ci.low <= tau2 <= boot.tau2_ci.high
        covered["i2"] += boot.i2_ci.low <= i2_true <= boot.i2_ci.high
        # P(theta_new in PI) for theta_new ~ N(mu, tau2)
        z = (np.array(boot.pi_t) - mu) / np.sqrt(tau2)
        pi_mass.append(special.ndtr(z[1]) - special.ndtr(z[0]))
    coverage = {
        "tau2": float(covered["tau2"] / n_sim),
        "i2": float(covered["i2"] / n_sim),
        "pi": float(np.mean(pi_mass)),
    }
    for name, value in coverage.items():
        record_property(f"coverage_{name}", value)
    print(f"bootstrap coverage at 95%: {coverage}")
    assert 0.85 <= coverage["tau2"] <= 0.99, coverage
    assert 0.85 <= coverage["i2"] <= 0.99, coverage
    assert 0.88 <= coverage["pi"] <= 0.99, coverage


def test_glmm_results_are_refused():
    res = mp.meta_prop_glmm(REF["events"], REF["totals"])
    with pytest.raises(ValueError, match="inverse-variance models only"):
        mp.bootstrap(res)


@pytest.mark.needs_r
def test_fixture_is_what_the_script_makes(tmp_path):
    """Rerunning scripts/metafor_bootstrap.R with the installed metafor gives the pinned fixture."""
    assert_fixture_remade(FIXTURE.parents[2] / "scripts" / "metafor_bootstrap.R", FIXTURE, tmp_path)
