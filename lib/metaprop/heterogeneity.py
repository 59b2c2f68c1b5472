"""Confidence intervals for the heterogeneity: Q-profile for tau^2, I^2 and H^2.

The Q-profile interval (Viechtbauer 2007) inverts the generalised Q statistic
:math:`Q(\\tau^2)=\\sum_i (y_i-\\hat\\mu(\\tau^2))^2/(v_i+\\tau^2)`, which follows a
:math:`\\chi^2_{k-1}` distribution at the true :math:`\\tau^2`; metafor ``confint()``
computes it for every estimator except GENQ.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from metaprop import _engine

__all__ = ["q_profile"]


def q_profile(yi, vi, mask=None, tau2=None, level: float = 0.95, *, tol=1e-10, maxiter=1000):
    """Q-profile confidence interval for tau^2, for ``m`` fits at once.

    Parameters
    ----------
    yi, vi : array-like, shape (m, k) or (k,)
        Effect sizes and sampling variances.
    mask : array-like of bool, shape (m, k), optional
        Studies in each fit (default: all).
    tau2 : array-like, shape (m,), optional
        The fitted tau^2 values; they set metafor's search limit
        :math:`\\tau^2_{\\max}=\\max(100, 10\\hat\\tau^2)`.
    level : float
        Confidence level (fraction).
    tol, maxiter : float, int
        Root-finding tolerance on tau^2 and iteration limit.

    Returns
    -------
    low, high : ndarray, shape (m,)
        Bounds for tau^2 (NaN where k < 2). A bound beyond :math:`\\tau^2_{\\max}` is
        returned as :math:`\\tau^2_{\\max}`; when :math:`Q(0)` is below the lower
        critical value both bounds are 0 (metafor's "null set").
    converged : ndarray of bool

    Notes
    -----
    The bounds solve :math:`Q(\\tau^2_{lo})=\\chi^2_{k-1,1-\\alpha/2}` and
    :math:`Q(\\tau^2_{hi})=\\chi^2_{k-1,\\alpha/2}`; a bound is 0 when :math:`Q(0)` is
    already below its critical value. Q decreases monotonically in tau^2, so each bound
    is the unique root found by :func:`metaprop._engine.q_root`.

    References
    ----------
    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 26:37-52. doi:10.1002/sim.2514

    Examples
    --------
    >>> from metaprop.heterogeneity import q_profile
    >>> low, high, ok = q_profile([0.1, 0.5, 0.9, 0.3], [0.04, 0.05, 0.06, 0.05])
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.0, 1.5696)
    """
    b = _engine._prepare(yi, vi, mask)
    m = b.y.shape[0]
    t_hat = np.zeros(m) if tau2 is None else np.broadcast_to(np.asarray(tau2, float), (m,))
    upper = np.maximum(100.0, 10.0 * t_hat)
    df = np.maximum(b.km1, 1.0)
    alpha = 1.0 - level
    crit_u = special.chdtri(df, alpha / 2)  # upper critical value of chi^2(k - 1)
    crit_l = special.chdtri(df, 1.0 - alpha / 2)  # lower critical value
    with np.errstate(divide="ignore", invalid="ignore"):
        low, ok_l = _engine.q_root(b.y, b.v, b.mf, crit_u, upper=upper, tol=tol, maxiter=maxiter)
        high, ok_h = _engine.q_root(b.y, b.v, b.mf, crit_l, upper=upper, tol=tol, maxiter=maxiter)
    few = b.k < 2
    low = np.where(few, np.nan, low)
    high = np.where(few, np.nan, high)
    return low, high, ok_l & ok_h
