"""Small-study effects: Egger's regression test, Begg's rank test and trim-and-fill.

Each function takes a fitted :class:`~metaprop.model.MetaResult` and follows metafor:
``regtest()``, ``ranktest()`` and ``trimfill()``. All need at least three studies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import special

from metaprop import _validation as val
from metaprop._engine import fit_arrays, fit_moderators
from metaprop.effects import EffectSizes
from metaprop.model import build_result, refuse_user_weights

__all__ = [
    "EggerResult",
    "RankTestResult",
    "TrimFillResult",
    "begg_test",
    "egger_test",
    "trim_and_fill",
]

PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
"""Egger-test predictors (metafor ``regtest``)."""

_LIMIT_PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")
# predictors that are 0 for an infinitely large study: the intercept is the limit estimate


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel-plot asymmetry, as returned by :func:`egger_test`.

    Parameters
    ----------
    statistic : float
        z (or t) statistic of the predictor's coefficient.
    pvalue : float
        Two-sided p-value.
    df : int or None
        Degrees of freedom of the t distribution (None for a z test).
    limit_estimate : float or None
        Intercept: the estimate for a study of infinite size (predictors ``sei``, ``vi``,
        ``ninv``, ``sqrtninv``; None otherwise), on the analysis scale.
    slope : float
        Coefficient of the predictor.
    model : str
        ``"rma"`` (the fitted model with the predictor as moderator) or ``"lm"``
        (weighted least squares, Egger et al. 1997).
    predictor : str
        The predictor used.

    Notes
    -----
    ``statistic`` is :math:`\\hat\\beta_1/\\mathrm{SE}(\\hat\\beta_1)` in
    :math:`y_i=\\beta_0+\\beta_1x_i+\\ldots`; a small ``pvalue`` says that smaller
    studies report systematically different proportions (funnel-plot asymmetry), which
    publication bias is only one explanation of.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected
    by a simple, graphical test. BMJ 315:629-634. doi:10.1136/bmj.315.7109.629

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60], method="DL")
    >>> eg = mp.egger_test(res, model="lm")
    >>> eg.df, eg.predictor
    (3, 'sei')
    """

    statistic: float
    pvalue: float
    df: int | None
    limit_estimate: float | None
    slope: float
    model: str
    predictor: str

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            statistic=self.statistic,
            pvalue=self.pvalue,
            model=self.model,
            predictor=self.predictor,
        )

    def to_frame(self):
        """The test as a one-row DataFrame (every field)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(self)])


@dataclass(frozen=True)
class RankTestResult:
    """Begg and Mazumdar's rank correlation test, as returned by :func:`begg_test`.

    Parameters
    ----------
    statistic : float
        Kendall's tau between standardised effects and their variances.
    pvalue : float
        Two-sided p-value (exact without ties, normal approximation with ties).

    Notes
    -----
    Kendall's :math:`\\tau_b` between :math:`(y_i-\\hat\\theta)/\\sqrt{v^*_i}` and
    :math:`v_i` (see :func:`begg_test`); it lies in [-1, 1].

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50:1088-1101. doi:10.2307/2533446

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> rt = mp.begg_test(res)
    >>> round(rt.statistic, 4), round(rt.pvalue, 4)
    (-0.6, 0.2333)
    """

    statistic: float
    pvalue: float

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(self, statistic=self.statistic, pvalue=self.pvalue)

    def to_frame(self):
        """The test as a one-row DataFrame (every field)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(self)])


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill analysis, as returned by :func:`trim_and_fill`.

    Parameters
    ----------
    k0 : int
        Estimated number of missing studies.
    side : str
        Side of the funnel on which studies were imputed (``"left"`` or ``"right"``).
    filled_yi, filled_vi : ndarray
        Effect sizes and variances of the imputed studies (empty when k0 = 0).
    result : MetaResult
        Model fitted to observed plus imputed studies (the original fit when k0 = 0).

    Notes
    -----
    The imputed studies mirror the :math:`k_0` most extreme ones about the pooled
    estimate, :math:`y^*_j=2\\hat\\mu-y_j`, with the same variances; ``result`` is a
    sensitivity analysis, not a corrected estimate.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. Biometrics 56:455-463.
    doi:10.1111/j.0006-341X.2000.00455.x

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> tf = mp.trim_and_fill(res)
    >>> tf.k0 == len(tf.filled_yi), tf.result.k == res.k + tf.k0
    (True, True)
    """

    k0: int
    side: str
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    result: object

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            k0=self.k0,
            side=self.side,
            estimate=self.result.estimate,
            ci=tuple(self.result.ci),
        )

    def to_frame(self):
        """The filled studies, one row each: label, yi, vi (empty when k0 = 0)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "label": [f"Filled {i + 1}" for i in range(self.k0)],
                "yi": self.filled_yi,
                "vi": self.filled_vi,
            }
        )


# --------------------------------------------------------------------------------------


def _varies(col: np.ndarray) -> bool:
    """False when ``col`` is collinear with the intercept (R's ``lm`` QR check, tol 1e-7)."""
    resid = col - col.mean()
    return bool(np.linalg.norm(resid) > 1e-7 * np.linalg.norm(col))


def _regress(res, col, method: str, test: str):
    """Meta-regression of ``res.yi`` on an intercept and ``col`` (metafor rma.uni with mods)."""
    y = np.asarray(res.yi, dtype=float)
    x = np.column_stack([np.ones(y.shape[0]), col])
    fit = fit_moderators(y, res.vi, x, method, test, res.level)
    if not fit.converged:
        raise ValueError(f"the {method} estimator of the meta-regression did not converge")
    return fit


def _not_glmm(res, what: str) -> None:
    if res.method == "GLMM":
        raise ValueError(
            f"{what} is not available for the GLMM (as in metafor); run it on an "
            "inverse-variance fit, e.g. meta_prop(..., measure='PLO')"
        )
    refuse_user_weights(res, what)


def _need_three(res, what: str) -> int:
    k = len(res.yi)
    if k < 3:
        raise ValueError(f"{what} needs at least 3 studies (k = {k})")
    return k


def _sample_sizes(res):
    ni = res.ni
    if ni is None:
        raise ValueError(
            "this predictor needs the studies' sample sizes: fit with meta_prop(), or pass "
            "ni= to meta_analysis()"
        )
    return np.asarray(ni, dtype=float)


def egger_test(res, model: str = "rma", predictor: str = "sei") -> EggerResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest``).

    Parameters
    ----------
    res : MetaResult
        A fitted model with at least 3 studies.
    model : {"rma", "lm"}
        ``"rma"``: the fitted model (same method, test and level) with the predictor as a
        moderator; ``"lm"``: weighted least squares with weights :math:`1/v_i`, the
        classic Egger test.
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        Standard error, variance, sample size, its inverse, its square root, or the
        inverse square root (the sample-size predictors need the totals).

    Returns
    -------
    EggerResult

    Raises
    ------
    ValueError
        k < 3, an unknown model or predictor, missing sample sizes, a predictor that does
        not vary across studies, or a GLMM result (metafor's regtest refuses rma.glmm).

    Notes
    -----
    ``model="rma"`` fits :math:`y_i = \\beta_0 + \\beta_1 x_i + u_i + e_i` and tests
    :math:`\\beta_1 = 0` (z, or t(k-2) with Knapp-Hartung). ``model="lm"`` fits the
    same mean by least squares with weights :math:`1/v_i` and a free residual variance,
    :math:`t = \\hat\\beta_1/SE` on :math:`k - 2` df; with ``sei`` this is Egger's
    regression of :math:`y_i/s_i` on :math:`1/s_i`.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected
    by a simple, graphical test. BMJ 315:629-634. doi:10.1136/bmj.315.7109.629

    Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias
    in meta-analysis. In: Rothstein HR et al. (eds), Publication Bias in Meta-Analysis,
    99-110. Wiley. doi:10.1002/0470870168.ch6

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> mp.egger_test(res).model
    'rma'
    """
    if model not in ("rma", "lm"):
        raise ValueError(f"unknown model {model!r}; expected 'rma' or 'lm'")
    if predictor not in PREDICTORS:
        choices = ", ".join(PREDICTORS)
        raise ValueError(f"unknown predictor {predictor!r}; expected one of {choices}")
    _not_glmm(res, "Egger's regression test")
    _need_three(res, "Egger's test")
    v = np.asarray(res.vi, dtype=float)
    if predictor == "sei":
        col = np.sqrt(v)
    elif predictor == "vi":
        col = v
    else:
        ni = _sample_sizes(res)
        col = {"ni": ni, "ninv": 1.0 / ni, "sqrtni": np.sqrt(ni), "sqrtninv": 1.0 / np.sqrt(ni)}[
            predictor
        ]
    if not _varies(col):
        raise ValueError(
            f"the predictor {predictor!r} takes the same value in every study: the regression "
            "test cannot separate it from the intercept"
        )
    if model == "rma":
        fit = _regress(res, col, res.method, res.test)
    else:
        # Egger et al. 1997: weighted least squares with weights 1/vi and a free residual
        # variance, which is the FE meta-regression with the Knapp-Hartung scaling
        # s^2 = sum w_i e_i^2 / (k - 2) of its covariance matrix and t(k - 2) tests
        fit = _regress(res, col, "FE", "knha")
    beta = fit.beta
    limit = float(beta[0]) if predictor in _LIMIT_PREDICTORS else None
    return EggerResult(
        statistic=float(fit.stat[1]),
        pvalue=float(fit.pval[1]),
        df=fit.df,
        limit_estimate=limit,
        slope=float(beta[1]),
        model=model,
        predictor=predictor,
    )


# --------------------------------------------------------------------------------------


def _kendall_exact_cdf(n: int) -> np.ndarray:
    """P(T <= q), q = 0..n(n-1)/2, for the number of inversions of a random permutation.

    The distribution of Kendall's concordance count under independence (Mahonian numbers,
    built by adding one element at a time; probabilities kept normalised).
    """
    dist = np.ones(1)
    for m in range(2, n + 1):
        # adding the m-th element adds 0..m-1 inversions with equal probability:
        # new[q] = (C[q] - C[q - m]) / m with C the cumulative sum of the old distribution
        size = dist.size + m - 1
        c = np.cumsum(np.concatenate([dist, np.zeros(m - 1)]))
        dist = (c - np.concatenate([np.zeros(m), c[: size - m]])) / m
    return np.cumsum(dist)


def _kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of two samples, from all pairs (k is small: k^2 signs).

    Equal to ``scipy.stats.kendalltau(x, y, variant="b").statistic`` (the tests check it);
    written out because importing scipy.stats takes most of a second, more than a page of
    the review spends on everything else it pools.
    """
    n = x.size
    s = np.sum(np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])) / 2.0
    pairs = n * (n - 1) / 2.0

    def tied_pairs(values: np.ndarray) -> float:
        _, counts = np.unique(values, return_counts=True)
        return float(np.sum(counts * (counts - 1)) / 2.0)

    return float(s / np.sqrt((pairs - tied_pairs(x)) * (pairs - tied_pairs(y))))


def begg_test(res) -> RankTestResult:
    """Begg and Mazumdar's rank correlation test (metafor ``ranktest``).

    Parameters
    ----------
    res : MetaResult
        A fitted model with at least 3 studies.

    Returns
    -------
    RankTestResult
        Kendall's tau and its two-sided p-value.

    Raises
    ------
    ValueError
        k < 3, or all studies with the same variance (Kendall's tau undefined).

    Notes
    -----
    With fixed-effect weights :math:`w_i=1/v_i`, :math:`\\hat\\theta=\\sum w_iy_i/\\sum w_i`
    and :math:`v^*_i=v_i-1/\\sum w_i`, the standardised effects
    :math:`y^*_i=(y_i-\\hat\\theta)/\\sqrt{v^*_i}` are correlated with :math:`v_i` by
    Kendall's :math:`\\tau_b`. Without ties the p-value is exact (distribution of the
    number of concordant pairs); with ties it uses the normal approximation with the tie
    correction of the variance of :math:`S` (Kendall 1970), as R's ``cor.test``.

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50:1088-1101. doi:10.2307/2533446

    Kendall MG (1970). Rank Correlation Methods, 4th ed. London: Griffin.

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> -1 <= mp.begg_test(res).statistic <= 1
    True
    """
    n = _need_three(res, "Begg's rank test")
    y = np.asarray(res.yi, dtype=float)
    v = np.asarray(res.vi, dtype=float)
    w = 1.0 / v
    theta = np.sum(w * y) / np.sum(w)
    # Begg & Mazumdar 1994: deviates standardised by Var(y_i - theta) = v_i - 1 / sum(w)
    ystar = (y - theta) / np.sqrt(v - 1.0 / np.sum(w))
    if np.unique(v).size == 1 or np.unique(ystar).size == 1:
        raise ValueError(
            "Kendall's tau is undefined: every study has the same "
            + ("sampling variance" if np.unique(v).size == 1 else "standardised effect")
        )
    tau = _kendall_tau_b(ystar, v)
    ties = min(np.unique(ystar).size, np.unique(v).size) < n
    if not ties and n < 171:
        # exact: T = number of concordant pairs (R cor.test, exact = TRUE)
        q = int(round((tau + 1.0) * n * (n - 1) / 4.0))
        cdf = _kendall_exact_cdf(n)
        if q > n * (n - 1) / 4.0:
            p = 1.0 - cdf[q - 1]
        else:
            p = cdf[q]
        return RankTestResult(statistic=tau, pvalue=float(min(1.0, 2.0 * p)))
    # normal approximation with the tie-corrected variance of S
    _, tx = np.unique(ystar, return_counts=True)
    _, ty = np.unique(v, return_counts=True)
    t0 = n * (n - 1) / 2.0
    t1 = np.sum(tx * (tx - 1)) / 2.0
    t2 = np.sum(ty * (ty - 1)) / 2.0
    s = tau * np.sqrt((t0 - t1) * (t0 - t2))
    var_s = (
        (
            n * (n - 1) * (2 * n + 5)
            - np.sum(tx * (tx - 1) * (2 * tx + 5))
            - np.sum(ty * (ty - 1) * (2 * ty + 5))
        )
        / 18.0
        + np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1)) / (2.0 * n * (n - 1))
        + np.sum(tx * (tx - 1) * (tx - 2))
        * np.sum(ty * (ty - 1) * (ty - 2))
        / (9.0 * n * (n - 1) * (n - 2))
    )
    z = s / np.sqrt(var_s)
    return RankTestResult(statistic=tau, pvalue=float(2.0 * special.ndtr(-abs(z))))


# --------------------------------------------------------------------------------------


def trim_and_fill(res, estimator: str = "L0", side: str | None = None, *, maxiter: int = 100):
    """Duval and Tweedie's trim-and-fill (metafor ``trimfill``).

    Parameters
    ----------
    res : MetaResult
        A fitted model with at least 3 studies; its method is reused.
    estimator : {"L0", "R0"}
        Estimator of the number of missing studies.
    side : {"left", "right"}, optional
        Side on which studies are missing. Default: chosen from the sign of the slope in
        the regression of the effects on their standard errors (the fitted model's
        method, z test): a positive slope means studies are missing on the left.
    maxiter : int
        Iteration limit of the trim-and-fill loop.

    Returns
    -------
    TrimFillResult

    Raises
    ------
    ValueError
        k < 3, an unknown estimator or side, equal standard errors with ``side=None``, a
        GLMM result (metafor's trimfill is for rma.uni), or no convergence.

    Notes
    -----
    On the side where studies are missing, the effects are centred at the pooled
    estimate of the studies that remain after trimming the :math:`k_0` most extreme
    ones, the absolute centred values ranked (ties by position, as R's
    ``rank(ties.method = "first")`` after a stable sort, which metafor uses), and :math:`k_0`
    re-estimated until it stops changing:
    :math:`L_0=[4S_r-k(k+1)]/(2k-1)` with :math:`S_r` the sum of the positive signed
    ranks, :math:`R_0=k-r-1` with :math:`r` the largest negative rank in absolute
    value; both rounded and floored at 0. The :math:`k_0` trimmed studies are mirrored
    about the last pooled estimate and the model is refitted to all
    :math:`k+k_0` studies with the same method and, as metafor, the z test.

    Unlike metafor, a centred effect within rounding of 0 (16 k machine epsilons of the
    largest absolute effect) counts as 0, and effects that are all equal choose the left
    side. Where every effect is equal (e.g. every study at 100% on the arcsine scale) the
    centred values are otherwise rounding noise of the pooled estimate whose signs decide
    :math:`k_0`: metafor's answer then depends on the order of the studies and its
    floating-point arithmetic (for totals 48, 47, 9 all at 100%, FE: k0 = 2 right, 0 left,
    0 right, or no convergence across the six orders). Here such data give :math:`k_0=0`.
    ``PFT`` estimates are back-transformed with the harmonic mean of the observed totals.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. Biometrics 56:455-463.
    doi:10.1111/j.0006-341X.2000.00455.x

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> mp.trim_and_fill(res).k0 >= 0
    True
    """
    if estimator not in ("L0", "R0"):
        raise ValueError(f"unknown estimator {estimator!r}; expected 'L0' or 'R0'")
    if side not in (None, "left", "right"):
        raise ValueError(f"unknown side {side!r}; expected 'left', 'right' or None")
    _not_glmm(res, "trim-and-fill")
    k = _need_three(res, "trim-and-fill")
    y0 = np.asarray(res.yi, dtype=float)
    v0 = np.asarray(res.vi, dtype=float)
    if side is None:
        if not _varies(np.sqrt(v0)):
            raise ValueError(
                "cannot choose the side: every study has the same standard error, so the "
                "regression on the standard errors has no slope; pass side='left' or 'right'"
            )
        if np.ptp(y0) <= _rounding(y0):
            # equal effects: the slope is 0 (its computed sign is rounding), and metafor
            # takes the left side when the slope is not negative
            side = "left"
        else:
            slope = _regress(res, np.sqrt(v0), res.method, "z").beta[1]
            side = "right" if slope < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y0, kind="stable")
    y = sign * y0[order]
    v = v0[order]

    k0, k0_prev, beta = 0, -1, np.nan
    for _ in range(maxiter):
        if k0 == k0_prev:
            break
        k0_prev = k0
        keep = np.arange(k) < k - k0
        beta = float(fit_arrays(y, v, keep, res.method, "z", res.level).beta[0])
        centred = y - beta
        # an effect equal to the pooled estimate up to rounding lies on it (sign 0, as R's
        # sign(0)): otherwise the last bits of the weighted mean would decide its side
        centred[np.abs(centred) <= _rounding(y)] = 0.0
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(centred) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            if neg.size == 0:
                raise ValueError(
                    "R0 is undefined: every study lies on one side of the pooled estimate "
                    "(or on it); use estimator='L0'"
                )
            # Duval & Tweedie 2000, R0 = gamma* - 1: length of the rightmost run of
            # positive ranks (k minus the largest negative rank), less one
            k0_new = (k - neg.max()) - 1
        else:
            # Duval & Tweedie 2000, L0 = [4 T_n - n(n + 1)] / (2n - 1), T_n the sum of the
            # positive signed ranks
            sr = signed[signed > 0].sum()
            k0_new = (4.0 * sr - k * (k + 1)) / (2.0 * k - 1.0)
        # R's round(); L0 is never a half (odd denominator), R0 is an integer
        k0 = int(max(0, np.round(k0_new)))
    else:
        raise ValueError(f"trim-and-fill did not converge in {maxiter} iterations")

    if k0 == 0:
        return TrimFillResult(0, side, np.empty(0), np.empty(0), res)
    # mirror the k0 most extreme studies about the last pooled estimate
    filled_yi = sign * (2.0 * beta - y[k - k0 :])
    filled_vi = v[k - k0 :]
    result = _refit(res, np.concatenate([y0, filled_yi]), np.concatenate([v0, filled_vi]), k0)
    return TrimFillResult(k0, side, filled_yi, filled_vi, result)


def _rounding(y: np.ndarray) -> float:
    """Rounding error of a weighted mean of ``y`` (a bound: 16 k machine epsilons of max|y|).

    Effects closer than this to the pooled estimate are taken to lie on it.
    """
    return 16.0 * y.size * np.finfo(float).eps * float(np.max(np.abs(y)))


def _refit(res, yi, vi, k0):
    """The model refitted to observed plus filled studies (z test, as metafor).

    Filled studies carry no counts. Each gets the harmonic mean of the observed sample
    sizes as its ``ni``, which leaves that harmonic mean, and so the PFT
    back-transformation, that of the observed studies.
    """
    fa = fit_arrays(yi, vi, None, res.method, "z", res.level)
    ni = None
    if res.ni is not None:
        observed = np.asarray(res.ni, dtype=float)
        hm = observed.size / np.sum(1.0 / observed)
        ni = np.concatenate([observed, np.full(k0, hm)])
    labels = tuple(res.labels) + tuple(f"Filled {i + 1}" for i in range(k0))
    es = EffectSizes(
        yi=yi,
        vi=vi,
        events=None,
        totals=None,
        measure=res.measure,
        labels=labels,
        add=res.add,
        to=res.to,
        transform=res.transform,
    )
    return build_result(fa, 0, es, ni=ni, method_requested=res.method_requested)
