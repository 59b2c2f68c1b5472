"""Properties every fit must have, on random data (hypothesis).

tau^2 >= 0, 0 <= I^2 <= 100, estimate inside its CI, CI inside the PI, results that do
not depend on the order of the studies, RE = FE when tau^2 = 0, back-transform inverting
the transform, and the ad hoc Hartung-Knapp rule (metafor 3.8 ``test="adhoc"``).
"""

from __future__ import annotations

import metaprop as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

MEASURES = ("PR", "PLO", "PAS", "PFT")
METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
FAST = settings(max_examples=40, deadline=None)


@st.composite
def counts(draw, min_k=2, max_k=12):
    k = draw(st.integers(min_k, max_k))
    totals = draw(st.lists(st.integers(5, 300), min_size=k, max_size=k))
    events = [draw(st.integers(0, n)) for n in totals]
    return events, totals


def _fit(data, measure, method, test="z"):
    events, totals = data
    return mp.meta_prop(events, totals, measure=measure, method=method, test=test)


@FAST
@given(
    counts(), st.sampled_from(MEASURES), st.sampled_from(METHODS), st.sampled_from(["z", "knha"])
)
def test_bounds_and_interval_nesting(data, measure, method, test):
    if method == "FE" and test == "knha":
        test = "z"
    res = _fit(data, measure, method, test)
    assert res.tau2 >= 0.0
    assert 0.0 <= res.i2 <= 100.0
    assert res.h2 >= 1.0 or method == "FE"
    assert abs(res.weights.sum() - 100.0) < 1e-9
    lo_t, hi_t = res.ci_t
    if np.isfinite(lo_t):  # knha with all yi equal has se 0
        assert lo_t <= res.estimate_t <= hi_t
        assert res.pi_t.low <= lo_t and hi_t <= res.pi_t.high
        assert res.ci.low <= res.estimate <= res.ci.high
        assert res.pi.low <= res.ci.low and res.ci.high <= res.pi.high
    if measure != "PR":
        assert 0.0 <= res.pi.low and res.pi.high <= 1.0


@FAST
@given(counts(min_k=3), st.sampled_from(MEASURES), st.sampled_from(METHODS), st.randoms())
def test_invariant_to_study_order(data, measure, method, rnd):
    events, totals = data
    order = list(range(len(events)))
    rnd.shuffle(order)
    a = _fit(data, measure, method)
    b = _fit(([events[i] for i in order], [totals[i] for i in order]), measure, method)
    for x, y in [
        (a.estimate_t, b.estimate_t),
        (a.se_t, b.se_t),
        (a.q, b.q),
        (a.estimate, b.estimate),
    ]:
        assert np.isclose(x, y, rtol=1e-8, atol=1e-12)
    assert np.isclose(a.tau2, b.tau2, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.weights[order], b.weights, rtol=1e-7, atol=1e-10)


@FAST
@given(counts(), st.sampled_from(MEASURES), st.sampled_from(METHODS[1:]))
@example(([10, 21, 30], [100, 200, 300]), "PLO", "REML")
@example(([10, 21, 30], [100, 200, 300]), "PFT", "DL")
@example(([10, 21, 30], [100, 200, 300]), "PR", "PM")
def test_random_effects_equals_fixed_effect_when_tau2_is_zero(data, measure, method):
    re = _fit(data, measure, method)
    fe = _fit(data, measure, "FE")
    if data == ([10, 21, 30], [100, 200, 300]):
        assert re.tau2 == 0.0  # homogeneous: every estimator truncates at 0
    if re.tau2 == 0.0:
        assert np.isclose(re.estimate_t, fe.estimate_t, rtol=1e-12, atol=1e-14)
        assert np.isclose(re.se_t, fe.se_t, rtol=1e-12)
        assert np.allclose(re.ci, fe.ci, rtol=1e-12, atol=1e-14)
    assert re.q == fe.q


@FAST
@given(
    st.lists(st.floats(0.001, 0.999), min_size=1, max_size=8),
    st.sampled_from(MEASURES + ("identity", "logit", "cloglog", "arcsine")),
    st.lists(st.integers(2, 500), min_size=1, max_size=5),
)
def test_back_transform_inverts_transform(p, measure, ni):
    p = np.array(p)
    t = mp.transform(p, measure, ni)
    np.testing.assert_allclose(mp.back_transform(t, measure, ni), p, rtol=1e-9, atol=1e-12)


@FAST
@given(counts(min_k=2), st.sampled_from(MEASURES), st.sampled_from(METHODS[1:]))
def test_adhoc_is_knha_with_the_scaling_factor_floored_at_one(data, measure, method):
    z = _fit(data, measure, method, "z")
    kh = _fit(data, measure, method, "knha")
    ah = _fit(data, measure, method, "adhoc")
    assert kh.df == ah.df == z.k - 1 and z.df is None
    assert ah.estimate_t == kh.estimate_t == z.estimate_t
    factor = (kh.se_t / z.se_t) ** 2  # Knapp-Hartung scaling factor s^2_w
    crit = stats.t.ppf(0.975, z.k - 1)
    if factor >= 1.0:
        assert np.isclose(ah.se_t, kh.se_t, rtol=1e-12)
        np.testing.assert_allclose(ah.ci_t, kh.ci_t, rtol=1e-12, atol=1e-14)
        assert np.isclose(ah.pvalue, kh.pvalue, rtol=1e-10, atol=1e-300)
    else:
        assert np.isclose(ah.se_t, z.se_t, rtol=1e-12)
        half = crit * z.se_t
        np.testing.assert_allclose(
            ah.ci_t, (z.estimate_t - half, z.estimate_t + half), rtol=1e-10, atol=1e-12
        )
        p = 2 * stats.t.sf(abs(z.estimate_t / z.se_t), z.k - 1)
        assert np.isclose(ah.pvalue, p, rtol=1e-8, atol=1e-300)
    assert ah.se_t >= z.se_t * (1 - 1e-12)


@given(
    st.lists(st.integers(0, 6), min_size=3, max_size=40),
    st.lists(st.integers(0, 6), min_size=3, max_size=40),
)
@settings(max_examples=200, deadline=None)
@example([1, 2, 3], [3, 2, 1])
@example([1, 1, 2, 2], [1, 2, 2, 3])
def test_kendall_tau_b_equals_scipy(xs, ys):
    # few distinct values: ties in either sample, the case the tie correction is for
    from metaprop.smallstudy import _kendall_tau_b

    n = min(len(xs), len(ys))
    x, y = np.array(xs[:n], dtype=float), np.array(ys[:n], dtype=float)
    if np.unique(x).size < 2 or np.unique(y).size < 2:
        return  # tau-b undefined: begg_test refuses such data before computing it
    expected = stats.kendalltau(x, y, variant="b").statistic
    assert _kendall_tau_b(x, y) == pytest.approx(expected, rel=1e-12, abs=1e-14)
