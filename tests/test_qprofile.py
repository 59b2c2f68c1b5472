"""Q-profile confidence intervals for tau^2 and I^2 against metafor ``confint()``.

Every reference case with ``tau2_ci_qprofile`` (all random-effects cases with k >= 3)
is checked; ids ``dataset-MEASURE-METHOD-test``.
"""

from __future__ import annotations

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from reference import cases, params

QP_CASES = params("tau2_ci_qprofile")


def _fit(dataset, case):
    return mp.meta_prop(
        dataset["events"],
        dataset["totals"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )


@pytest.mark.parametrize(("dataset", "case"), QP_CASES)
def test_qprofile_matches_metafor(dataset, case):
    res = _fit(dataset, case)
    rtol, atol = tol.for_field("tau2_ci_qprofile", iterative=True)
    np.testing.assert_allclose(res.tau2_ci(), case["tau2_ci_qprofile"], rtol=rtol, atol=atol)
    rtol, atol = tol.for_field("I2_ci_qprofile", iterative=True)
    np.testing.assert_allclose(res.i2_ci(), case["I2_ci_qprofile"], rtol=rtol, atol=atol)


def test_every_random_effects_case_with_three_studies_is_covered():
    """The reference has a Q-profile CI exactly for non-FE cases with k >= 3."""
    expected = [
        (ds["name"], c["measure"], c["method"], c["test"])
        for ds, c in cases("fit")
        if c["method"] != "FE" and c["fit"]["k"] >= 3
    ]
    covered = [
        (ds["name"], c["measure"], c["method"], c["test"]) for ds, c in cases("tau2_ci_qprofile")
    ]
    assert covered == expected
    assert len(QP_CASES) == len(expected) == 3 * 4 * 8 * 2
    assert all("I2_ci_qprofile" in c for _, c in cases("tau2_ci_qprofile"))


def test_qprofile_not_defined_for_fixed_effect_or_one_study():
    fe = mp.meta_prop([4, 10, 7], [20, 25, 30], method="FE")
    assert np.isnan(fe.tau2_ci()).all() and np.isnan(fe.i2_ci()).all()
    one = mp.meta_prop([4], [20])
    assert np.isnan(one.tau2_ci()).all()


def test_qprofile_level_and_null_set():
    res = mp.meta_prop([16, 10, 4, 43, 10, 25, 13, 12], [17, 12, 8, 58, 10, 42, 14, 12])
    lo95, hi95 = res.tau2_ci()
    lo80, hi80 = res.tau2_ci(level=0.8)
    assert lo95 <= lo80 <= res.tau2 <= hi80 <= hi95
    # identical studies: Q(0) = 0 lies below the lower critical value -> {0} ("null set")
    same = mp.meta_prop([5, 5, 5, 5], [20, 20, 20, 20])
    assert tuple(same.tau2_ci()) == (0.0, 0.0)
