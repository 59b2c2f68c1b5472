"""Parametric bootstrap of a fitted model: intervals for tau², I² and a new study.

Datasets are simulated from the fitted random-effects model and refitted with the same
estimator through the batch engine (:func:`metaprop.batch.fit_masked`), all replicates
at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metaprop import _validation as val
from metaprop.batch import fit_masked
from metaprop.model import refuse_user_weights
from metaprop.results import Interval
from metaprop.transforms import back_transform

__all__ = ["BootstrapResult", "bootstrap"]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Replicates of a parametric bootstrap and their percentile intervals.

    Attributes
    ----------
    estimate_t, tau2, i2 : ndarray
        Refitted pooled estimate (analysis scale), tau² and I² (percent), one per
        replicate.
    converged : ndarray of bool
        Whether each refit converged; the intervals use the converged ones.
    theta_new : ndarray
        One draw of a new study's true effect per replicate (analysis scale).
    tau2_ci, i2_ci : Interval
        Percentile intervals of tau² and I².
    pi_t, pi : Interval
        Percentile prediction interval on the analysis and the proportion scale.
    n_boot : int
        Number of replicates.
    seed : int or None
        Seed of the simulation.
    level : float
        Level of the intervals.
    method, measure : str
        Estimator used for every refit, and the analysis scale.
    """

    estimate_t: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    converged: np.ndarray
    theta_new: np.ndarray
    tau2_ci: Interval
    i2_ci: Interval
    pi_t: Interval
    pi: Interval
    n_boot: int
    seed: int | None
    level: float
    method: str
    measure: str

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            n_boot=self.n_boot,
            seed=self.seed,
            measure=self.measure,
            method=self.method,
            level=self.level,
            tau2_ci=tuple(self.tau2_ci),
        )

    def to_frame(self):
        """One row per replicate: estimate_t, tau2, i2, theta_new, converged."""
        import pandas as pd

        return pd.DataFrame(
            {
                "estimate_t": self.estimate_t,
                "tau2": self.tau2,
                "i2": self.i2,
                "theta_new": self.theta_new,
                "converged": self.converged,
            }
        )


def bootstrap(
    res,
    n_boot: int = 1000,
    seed=None,
    *,
    level: float | None = None,
    samples=None,
) -> BootstrapResult:
    """Parametric bootstrap of ``res``: percentile intervals for tau², I² and a new study.

    Parameters
    ----------
    res : MetaResult
        Fitted model (any method and test of :func:`metaprop.meta_prop`).
    n_boot : int
        Number of simulated datasets.
    seed : int, optional
        Seed of the simulation (a NumPy ``Generator``).
    level : float, optional
        Level of the intervals (default ``res.level``).
    samples : array-like, optional
        ``(n, k)`` simulated effect sizes to refit instead of drawing them, e.g. to
        reproduce draws made elsewhere; ``n_boot`` is then ``n``.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        For ``n_boot`` < 2, ``samples`` of the wrong shape, or a model that is not an
        inverse-variance one (GLMM).

    Notes
    -----
    With the fitted :math:`\\hat\\mu`, :math:`\\hat\\tau^2` and the studies' sampling
    variances :math:`v_i`, replicate :math:`b` draws
    :math:`y^*_{bi} \\sim N(\\hat\\mu, \\hat\\tau^2 + v_i)` and refits the model with the
    same estimator, giving :math:`\\hat\\mu^*_b`, :math:`\\hat\\tau^{2*}_b`,
    :math:`I^{2*}_b`. The intervals are the :math:`\\alpha/2` and :math:`1-\\alpha/2`
    quantiles of the replicates (linear interpolation, R's type 7). For the prediction
    interval each replicate also draws a new study's effect
    :math:`\\theta^*_b = \\hat\\mu^*_b + \\hat\\tau^*_b z_b`, :math:`z_b \\sim N(0, 1)`,
    so the interval carries the uncertainty of both :math:`\\hat\\mu` and
    :math:`\\hat\\tau^2` (Nagashima et al. 2019 draw from the same predictive
    distribution, with a different approximation of the uncertainty of tau²).

    References
    ----------
    Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
    doi:10.1201/9780429246593

    Nagashima K, Noma H, Furukawa TA (2019). Prediction intervals for random-effects
    meta-analysis: a confidence distribution approach. Stat Methods Med Res
    28(6):1689-1702. doi:10.1177/0962280218773520

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 15], [20, 30, 25, 40, 33], method="REML")
    >>> boot = mp.bootstrap(res, n_boot=200, seed=1)
    >>> boot.tau2_ci.low <= boot.tau2_ci.high
    True
    """
    if res.method not in val.METHODS:
        raise ValueError(
            f"bootstrap refits inverse-variance models only, not method {res.method!r}"
        )
    refuse_user_weights(res, "the bootstrap")
    level = val.check_level(res.level if level is None else level)
    yi = np.asarray(res.yi, dtype=float)
    vi = np.asarray(res.vi, dtype=float)
    k = yi.shape[0]
    rng = np.random.default_rng(seed)
    mu, tau2 = float(res.estimate_t), float(res.tau2)
    if samples is None:
        n_boot = int(n_boot)
        if n_boot < 2:
            raise ValueError(f"n_boot must be >= 2, got {val.plain(n_boot)}")
        # y*_bi ~ N(mu, tau2 + v_i): the fitted random-effects model (tau2 = 0 for FE)
        ystar = mu + np.sqrt(tau2 + vi) * rng.standard_normal((n_boot, k))
    else:
        ystar = np.asarray(samples, dtype=float)
        if ystar.ndim != 2 or ystar.shape[1] != k or ystar.shape[0] < 2:
            raise ValueError(f"samples must have shape (n >= 2, {k}), got {ystar.shape}")
        if not np.isfinite(ystar).all():
            raise ValueError("samples must be finite")
        n_boot = ystar.shape[0]
    # sample sizes for the PFT back-transformation (meta_analysis(ni=...) or the totals)
    sizes = res.ni if res.ni is not None else res.totals
    totals = None if sizes is None else np.asarray(sizes, dtype=float)
    fit = fit_masked(
        ystar,
        vi,
        np.ones(ystar.shape, dtype=bool),
        totals,
        measure=res.transform,
        method=res.method,
        test=res.test,
        level=level,
    )
    # theta*_b = mu*_b + tau*_b z_b: a new study's effect under replicate b's fit
    theta = fit.estimate_t + np.sqrt(fit.tau2) * rng.standard_normal(n_boot)
    ok = fit.converged
    pi_t = _percentile(theta[ok], level)
    low, high = back_transform(np.array(pi_t), res.transform, ni=totals)
    return BootstrapResult(
        estimate_t=fit.estimate_t,
        tau2=fit.tau2,
        i2=fit.i2,
        converged=ok,
        theta_new=theta,
        tau2_ci=_percentile(fit.tau2[ok], level),
        i2_ci=_percentile(fit.i2[ok], level),
        pi_t=pi_t,
        pi=Interval(min(low, high), max(low, high)),
        n_boot=n_boot,
        seed=seed,
        level=level,
        method=res.method,
        measure=res.transform,
    )


def _percentile(x: np.ndarray, level: float) -> Interval:
    """Percentile interval: the (1 - level)/2 and (1 + level)/2 quantiles (R type 7)."""
    if x.size == 0:
        return Interval(np.nan, np.nan)
    low, high = np.quantile(x, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Interval(float(low), float(high))
