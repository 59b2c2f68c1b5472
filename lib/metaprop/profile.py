"""Profile-likelihood confidence interval for tau^2 (metafor ``confint(type = "PL")``).

Beside the Q-profile interval (:meth:`metaprop.MetaResult.tau2_ci`): for a model fitted by
maximum likelihood (ML) or restricted maximum likelihood (REML), the set of tau^2 values
whose likelihood-ratio statistic against the maximum stays below the chi-square(1)
critical value.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from metaprop._validation import check_level
from metaprop.results import Interval

__all__ = ["tau2_profile_ci"]

PL_METHODS = ("ML", "REML")
"""Estimators whose log-likelihood the interval profiles (metafor's ``logLik``)."""


def _loglik(tau2: float, y: np.ndarray, v: np.ndarray, reml: bool) -> float:
    """ML or REML log-likelihood of the random-effects model at ``tau2`` (the mean
    profiled out by weighted least squares), without the constant terms."""
    w = 1.0 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * np.sum(w * (y - mu) ** 2)
    if reml:
        ll -= 0.5 * np.log(np.sum(w))
    return float(ll)


def tau2_profile_ci(res, level=None, *, xtol=1e-13) -> Interval:
    """Profile-likelihood confidence interval for tau^2 (metafor ``confint(type="PL")``).

    Parameters
    ----------
    res : MetaResult
        A random-effects fit with ``method="ML"`` or ``"REML"`` (the likelihood that is
        profiled is the one the estimate maximises).
    level : float, optional
        Confidence level; defaults to the fit's level.
    xtol : float, default 1e-13
        Absolute tolerance of the root search on tau^2.

    Returns
    -------
    Interval
        Bounds for tau^2. The lower bound is 0 when the likelihood-ratio statistic at
        tau^2 = 0 is below the critical value; the upper bound is metafor's search limit
        :math:`\\max(100, 10\\hat\\tau^2)` when the statistic stays below it up to there
        (metafor prints ">").

    Raises
    ------
    ValueError
        A fit with another estimator, a GLMM, fewer than 2 studies, or an estimate that
        did not converge.

    Notes
    -----
    With :math:`w_i=1/(v_i+\\tau^2)` and :math:`\\hat\\mu(\\tau^2)=\\sum w_iy_i/\\sum w_i`,
    the log-likelihood is
    :math:`\\ell(\\tau^2)=-\\tfrac12\\sum\\log(v_i+\\tau^2)-\\tfrac12\\sum w_i(y_i-\\hat\\mu)^2`
    (ML) and :math:`\\ell(\\tau^2)-\\tfrac12\\log\\sum w_i` (REML). The interval is
    :math:`\\{\\tau^2\\ge0:2[\\ell(\\hat\\tau^2)-\\ell(\\tau^2)]\\le\\chi^2_{1,\\text{level}}\\}`;
    each bound is found by Brent's method between 0 (or the estimate) and the search limit.
    Hardy and Thompson (1996) proposed it for the random-effects model; Viechtbauer
    (2007) compared it with the Q-profile interval.

    References
    ----------
    Hardy RJ, Thompson SG (1996). A likelihood approach to meta-analysis with random
    effects. Stat Med 15:619-629.
    doi:10.1002/(SICI)1097-0258(19960330)15:6<619::AID-SIM188>3.0.CO;2-A

    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 26:37-52. doi:10.1002/sim.2514

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42], method="REML")
    >>> lo, hi = mp.tau2_profile_ci(res)
    >>> bool(lo <= res.tau2 <= hi)
    True
    """
    if res.method not in PL_METHODS:
        raise ValueError(
            f"the profile-likelihood interval needs a fit with method 'ML' or 'REML' (this "
            f"one is {res.method!r}); refit with meta_prop(..., method='REML') or use "
            "res.tau2_ci() (Q-profile)"
        )
    if res.k < 2:
        raise ValueError(f"the profile-likelihood interval needs at least 2 studies (k = {res.k})")
    if not res.converged:
        raise ValueError("the fit did not converge: its tau^2 is no maximum to profile from")
    lvl = res.level if level is None else check_level(level)
    y = np.asarray(res.yi, dtype=float)
    v = np.asarray(res.vi, dtype=float)
    reml = res.method == "REML"
    tau2 = float(res.tau2)
    crit = float(special.chdtri(1, 1.0 - lvl))
    ll_max = _loglik(tau2, y, v, reml)

    def excess(t2):
        return 2.0 * (ll_max - _loglik(t2, y, v, reml)) - crit

    upper_limit = max(100.0, 10.0 * tau2)
    if tau2 <= 0.0 or excess(0.0) < 0:
        low = 0.0
    else:
        low = float(optimize.brentq(excess, 0.0, tau2, xtol=xtol, rtol=4 * np.finfo(float).eps))
    if excess(upper_limit) < 0:
        high = upper_limit
    else:
        high = float(
            optimize.brentq(excess, tau2, upper_limit, xtol=xtol, rtol=4 * np.finfo(float).eps)
        )
    return Interval(low, high)
