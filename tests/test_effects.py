"""Effect sizes, study intervals, reported estimates and the back-transformation.

escalc() is checked against metafor's yi and vi for every reference case; the options
metafor documents (``add``, ``to``) and the other helpers against their definitions or
an independent implementation (scipy's binomtest).
"""

from __future__ import annotations

import doctest
import importlib

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from metaprop.transforms import back_interval
from reference import params
from scipy import stats

MEASURES = ("PR", "PLO", "PAS", "PFT")
SCALES = ("identity", "logit", "cloglog", "arcsine")


@pytest.mark.parametrize(("dataset", "case"), params("yi"))
def test_escalc_matches_metafor(dataset, case):
    es = mp.escalc(dataset["events"], dataset["totals"], measure=case["measure"])
    rtol, atol = tol.for_field("yi", iterative=False)
    np.testing.assert_allclose(es.yi, case["yi"], rtol=rtol, atol=atol)
    np.testing.assert_allclose(es.vi, case["vi"], rtol=rtol, atol=atol)
    assert es.measure == es.transform == case["measure"]
    assert es.add == (0.5 if case["measure"] in ("PR", "PLO") else 0.0)


def test_escalc_continuity_options():
    ev, n = np.array([0, 3, 7]), np.array([10, 12, 7])

    def plo(x, m):  # logit and its variance on corrected counts
        return np.log(x / m), 1 / x + 1 / m

    only0 = mp.escalc(ev, n, "PLO")
    y, v = plo(np.array([0.5, 3, 7.5]), np.array([10.5, 9, 0.5]))
    np.testing.assert_allclose(only0.yi, y)
    np.testing.assert_allclose(only0.vi, v)
    everyone = mp.escalc(ev, n, "PLO", add=0.25, to="all")
    y, v = plo(ev + 0.25, n - ev + 0.25)
    np.testing.assert_allclose(everyone.yi, y)
    np.testing.assert_allclose(everyone.vi, v)
    if0all = mp.escalc(ev, n, "PLO", to="if0all")
    y, v = plo(ev + 0.5, n - ev + 0.5)
    np.testing.assert_allclose(if0all.yi, y)
    no_zero = mp.escalc([2, 3], [10, 12], "PLO", to="if0all")
    np.testing.assert_allclose(no_zero.yi, np.log(np.array([2, 3]) / np.array([8, 9])))
    none = mp.escalc([2, 3], [10, 12], "PLO", to="none")
    np.testing.assert_allclose(none.yi, no_zero.yi)
    # PAS and PFT: metafor adds nothing unless asked
    pas = mp.escalc(ev, n, "PAS")
    np.testing.assert_allclose(pas.yi, np.arcsin(np.sqrt(ev / n)))
    pas_add = mp.escalc(ev, n, "PAS", add=0.5)
    np.testing.assert_allclose(pas_add.yi[0], np.arcsin(np.sqrt(0.5 / 11)))


def test_escalc_dataframe_and_frame_output():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [4, 10], "n": [20, 25], "study": ["A", "B"]})
    a = mp.escalc("x", "n", data=df, labels="study")
    b = mp.escalc(events="x", totals="n", labels="study", data=df, measure="PLO")
    np.testing.assert_array_equal(a.yi, b.yi)
    assert a.labels == ("A", "B")
    frame = a.to_frame()
    assert frame["label"].tolist() == ["A", "B"]
    np.testing.assert_allclose(frame["sei"], np.sqrt(a.vi))


@pytest.mark.parametrize("method", ["exact", "wilson"])
def test_study_ci_matches_scipy_binomtest(method):
    events = [0, 1, 5, 12, 20]
    totals = [20, 20, 20, 20, 20]
    low, high = mp.study_ci(events, totals, method=method, level=0.9)
    for x, n, lo, hi in zip(events, totals, low, high, strict=True):
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.9, method=method)
        assert lo == pytest.approx(ci.low, rel=1e-10, abs=1e-14)
        assert hi == pytest.approx(ci.high, rel=1e-10, abs=1e-14)


def test_study_ci_wald_is_clipped_normal_interval():
    low, high = mp.study_ci([1, 10], [20, 20], method="wald")
    z = stats.norm.ppf(0.975)
    p = np.array([0.05, 0.5])
    half = z * np.sqrt(p * (1 - p) / 20)
    np.testing.assert_allclose(low, np.clip(p - half, 0, 1))
    np.testing.assert_allclose(high, p + half)
    assert low[0] == 0.0


@pytest.mark.parametrize("scale", SCALES)
def test_estimates_with_ci_recover_yi_and_vi(scale):
    """Build reported estimates and CIs from known yi, vi and get them back."""
    yi = {"identity": [0.3, 0.6], "logit": [-1.0, 0.5], "cloglog": [-0.5, 0.8]}.get(
        scale, [0.4, 1.0]
    )
    yi = np.array(yi)
    sei = np.array([0.05, 0.08])
    z = stats.norm.ppf(0.975)
    est = 100 * np.asarray(mp.back_transform(yi, scale))
    lo, hi = (100 * np.asarray(mp.back_transform(yi + s * z * sei, scale)) for s in (-1, 1))
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    es = mp.estimates_to_effects(est, lo, hi, scale=scale)
    np.testing.assert_allclose(es.yi, yi, rtol=1e-12)
    np.testing.assert_allclose(es.vi, sei**2, rtol=1e-9)
    assert es.measure == "GEN" and es.transform == scale
    assert not es.approximate.any()


@pytest.mark.parametrize("scale", SCALES)
def test_estimates_with_n_only_use_the_delta_method(scale):
    p, n = 0.3, 80
    es = mp.estimates_to_effects([30.0], n=[n], scale=scale)
    h = 1e-6
    deriv = (mp.transform(p + h, scale) - mp.transform(p - h, scale)) / (2 * h)
    assert es.vi[0] == pytest.approx(deriv**2 * p * (1 - p) / n, rel=1e-6)
    assert es.approximate.tolist() == [True]


def test_estimates_mixed_rows_and_errors():
    es = mp.estimates_to_effects(
        [0.4, 0.5],
        [0.3, np.nan],
        [0.5, np.nan],
        n=[np.nan, 50],
        scale="logit",
        percent=False,
        labels=["a", "b"],
    )
    assert es.approximate.tolist() == [False, True]
    with pytest.raises(ValueError, match=r"index 1 \('b'\).*CI .* or a sample size"):
        mp.estimates_to_effects([40, 50], [30, np.nan], [50, np.nan], labels=["a", "b"])
    with pytest.raises(ValueError, match=r"index 0 .*outside \(0, 1\)"):
        mp.estimates_to_effects([100.0], n=[10], scale="cloglog")
    with pytest.raises(ValueError, match=r"not inside its CI"):
        mp.estimates_to_effects([40.0], [45.0], [50.0], scale="logit")


@pytest.mark.parametrize("measure", MEASURES + SCALES)
def test_back_transform_inverts_transform(measure):
    p = np.array([0.01, 0.2, 0.5, 0.77, 0.99])
    ni = np.array([30, 50, 80]) if measure == "PFT" else None
    t = mp.transform(p, measure, ni)
    np.testing.assert_allclose(mp.back_transform(t, measure, ni), p, rtol=1e-12)


def test_back_transform_limits():
    assert mp.back_transform(-0.1, "PR") == -0.1  # PR is not clipped (metafor)
    assert mp.back_transform(-0.1, "PAS") == 0.0
    assert mp.back_transform(2.0, "PAS") == 1.0
    assert mp.back_transform(-0.1, "PFT", ni=[20]) == 0.0
    assert mp.back_transform(1.7, "PFT", ni=[20]) == 1.0
    assert 0.0 < mp.back_transform(5.0, "PLO") < 1.0
    # cloglog is decreasing: an interval keeps its bounds in order
    low, high = back_interval(-1.0, 1.0, "cloglog")
    assert low == pytest.approx(np.exp(-np.exp(1.0))) and high == pytest.approx(np.exp(-np.exp(-1)))
    with pytest.raises(ValueError, match="PFT back-transformation needs"):
        mp.back_transform(0.5, "PFT")
    with pytest.raises(ValueError, match="unknown measure"):
        mp.back_transform(0.5, "XYZ")


@pytest.mark.parametrize(
    "module",
    [
        "metaprop._engine",
        "metaprop.effects",
        "metaprop.heterogeneity",
        "metaprop.model",
        "metaprop.results",
        "metaprop.subgroups",
        "metaprop.transforms",
    ],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("measure", MEASURES)
def test_two_steps_equal_one_step(measure):
    """escalc() then meta_analysis() is meta_prop() (PFT: harmonic mean of the totals)."""
    ev, n = [0, 4, 10, 7, 30], [15, 20, 25, 30, 30]
    one = mp.meta_prop(ev, n, measure=measure, method="REML", test="knha")
    two = mp.meta_analysis(mp.escalc(ev, n, measure), method="REML", test="knha")
    assert one.to_dict() == two.to_dict()
    np.testing.assert_array_equal(one.weights, two.weights)
    assert one.studies().equals(two.studies())
