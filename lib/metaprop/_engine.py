"""The one implementation of every estimator: many intercept-only fits at once.

All functions take ``(m, k)`` arrays (``m`` fits of up to ``k`` studies) with a boolean
mask of the studies in each fit, and return ``(m,)`` arrays. A single meta-analysis is
``m = 1``. Nothing here validates input or imports pandas: the public functions check
their arguments once and call :func:`fit_arrays`.

The model is metafor's ``rma.uni`` without moderators (``p = 1``). With
:math:`w_i = 1/(v_i + \\tau^2)`, :math:`\\hat\\mu = \\sum w_i y_i / \\sum w_i` and the
projection :math:`P = W - w w^\\top / \\sum w_i`, every matrix quantity metafor uses has
a closed form in sums of powers of the weights, which is what the code computes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from metaprop._validation import METHOD_ALIASES, METHODS, TESTS

_EPS = np.finfo(float).eps

FISHER_METHODS = ("REML", "ML")


@dataclass(frozen=True, eq=False)
class FitArrays:
    """Results of ``m`` intercept-only fits, one entry per fit (``w`` is ``(m, k)``).

    Attributes
    ----------
    k : ndarray of int
        Studies in each fit.
    beta, se : ndarray
        Pooled estimate and its standard error (Knapp-Hartung scaled for knha/adhoc).
    tau2, se_tau2 : ndarray
        Between-study variance (>= 0) and its standard error (NaN for FE and k = 1).
    q, q_df, q_pvalue : ndarray
        Cochran's Q (inverse-variance weights), its df (k - 1) and p-value.
    i2, h2 : ndarray
        I^2 (percent) and H^2, as metafor defines them for the method.
    vt : ndarray
        metafor's typical within-study variance, (k - 1) / tr(P) at tau^2 = 0.
    stat, pval, df, crit : ndarray
        Test statistic, p-value, degrees of freedom (NaN for z, and for a one-study fit,
        which uses the z test as metafor does) and the critical value.
    ci_lb, ci_ub : ndarray
        Confidence interval of ``beta``.
    pi_lb, pi_ub : ndarray
        metafor ``predict()`` prediction interval (z, or t(k-1) for knha/adhoc).
    s2w : ndarray
        Knapp-Hartung scaling factor (1 for z).
    converged : ndarray of bool
        The iterative estimator met its tolerance (always True for closed forms).
    w : ndarray
        ``(m, k)`` model weights :math:`1/(v_i+\\tau^2)`, 0 outside the mask.
    """

    method: str
    test: str
    level: float
    k: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    q: np.ndarray
    q_df: np.ndarray
    q_pvalue: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    vt: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    df: np.ndarray
    crit: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    pi_lb: np.ndarray
    pi_ub: np.ndarray
    s2w: np.ndarray
    converged: np.ndarray
    w: np.ndarray


_count = np.count_nonzero


@functools.lru_cache(maxsize=32)
def _ones(k: int) -> np.ndarray:
    out = np.ones(k)
    out.flags.writeable = False
    return out


def _rsum(x: np.ndarray) -> np.ndarray:
    """Row sums of an (m, k) array, as a dot product with ones (BLAS; faster than a
    ufunc reduction for the short rows of a meta-analysis)."""
    return x.dot(_ones(x.shape[1]))


@dataclass(frozen=True, eq=False)
class _Base:
    """What every estimator needs: masked data and the fixed-effect (tau^2 = 0) sums."""

    y: np.ndarray
    v: np.ndarray
    mf: np.ndarray
    k: np.ndarray
    km1: np.ndarray
    w0: np.ndarray
    sw0: np.ndarray
    q: np.ndarray
    trp0: np.ndarray
    spp0: np.ndarray


def _prepare(yi, vi, mask) -> _Base:
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    if y.ndim == 1:
        y, v = y[None, :], v[None, :]
    if mask is None:
        mf = np.ones(y.shape)
        k = np.full(y.shape[0], float(y.shape[1]))
    else:
        msk = np.asarray(mask, dtype=bool)
        if msk.ndim == 1:
            msk = msk[None, :]
        if msk.shape != y.shape:
            raise ValueError(f"mask {msk.shape} and yi {y.shape} differ in shape")
        mf = msk.astype(float)
        # outside the mask: y = 0, v = 1 keep every sum finite; the weight mf zeroes them
        y = np.where(msk, y, 0.0)
        v = np.where(msk, v, 1.0)
        k = _rsum(mf)
    if y.shape != v.shape:
        raise ValueError(f"yi {y.shape} and vi {v.shape} differ in shape")
    w0 = mf / v
    sw0 = _rsum(w0)
    r0 = y - (_rsum(w0 * y) / sw0)[:, None]
    # Cochran 1954: Q = sum w_i (y_i - mu_FE)^2 with w_i = 1 / v_i
    q = np.maximum(0.0, _rsum(w0 * r0 * r0))
    trp0, spp0 = _pp_sums(w0, sw0)
    return _Base(y, v, mf, k, k - 1.0, w0, sw0, q, trp0, spp0)


def _pp_sums(w, sw):
    """tr(P) and sum(P*P) for P = W - w w'/sum(w)."""
    w2 = w * w
    sw2 = _rsum(w2)
    ratio = sw2 / sw
    return sw - ratio, sw2 - 2.0 * _rsum(w2 * w) / sw + ratio * ratio


def _weighted(y, v, mf, tau2):
    """Weights, their sum, the weighted mean and the residuals at tau2."""
    w = mf / (v + tau2[:, None])
    sw = _rsum(w)
    beta = _rsum(w * y) / sw
    return w, sw, beta, y - beta[:, None]


def q_stat(y, v, mf, tau2):
    """Generalised Q: :math:`Q(\\tau^2)=\\sum_i (y_i-\\hat\\mu)^2/(v_i+\\tau^2)` (per fit)."""
    w, _, _, r = _weighted(y, v, mf, tau2)
    return _rsum(w * r * r)


def q_root(y, v, mf, target, *, upper=None, tol=1e-10, maxiter=1000):
    """Solve :math:`Q(\\tau^2) = \\text{target}` for each fit (Newton from the left).

    Q is decreasing and convex in tau^2 (:math:`Q'=-\\sum w_i^2 r_i^2`,
    :math:`Q''=2y^\\top PPPy\\ge0`), so Newton steps from a point left of the root rise
    monotonically to it without overshooting. Fits with :math:`Q(0)\\le` target return 0;
    fits whose root lies beyond ``upper`` return ``upper``.

    Returns
    -------
    tau2 : ndarray
    converged : ndarray of bool
    """
    m = y.shape[0]
    target = np.broadcast_to(np.asarray(target, dtype=float), (m,))
    t = np.zeros(m)
    conv = q_stat(y, v, mf, t) <= target
    if upper is not None:
        upper = np.broadcast_to(np.asarray(upper, dtype=float), (m,))
        beyond = ~conv & (q_stat(y, v, mf, upper) > target)
        t[beyond] = upper[beyond]
        conv |= beyond
    active = ~conv
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        w, _, _, r = _weighted(y[idx], v[idx], mf[idx], t[idx])
        wr2 = w * r * r
        step = (_rsum(wr2) - target[idx]) / _rsum(w * wr2)  # -f / f'
        t[idx] += step
        done = ~(np.abs(step) > tol)
        conv[idx[done]] = True
        active[idx[done]] = False
    return t, conv


def _halve(tau2, adj):
    """metafor's step halving: halve ``adj`` until ``tau2 + adj >= 0``.

    At tau2 = 0 a negative step halves down to nothing (as in R, where it underflows).
    Returns the step and which fits needed halving (None when none did).
    """
    bad = tau2 + adj < 0
    if not _count(bad):
        return adj, None
    adj = adj.copy()
    at_zero = bad & (tau2 <= 0)
    adj[at_zero] = 0.0
    pos = bad & ~at_zero
    if _count(pos):
        adj[pos] *= np.exp2(-np.ceil(np.log2(-adj[pos] / tau2[pos])))
        still = pos & (tau2 + adj < 0)
        while _count(still):
            adj[still] /= 2.0
            still &= tau2 + adj < 0
    return adj, bad


_POLISH = 1e-4
"""Fisher steps smaller than this (relative to 1 + tau^2) switch to Newton steps."""


def _fisher_scoring(b: _Base, tau2, method, tol, maxiter):
    """ML / REML by Fisher scoring from ``tau2``, with step halving (metafor rma.uni).

    Scoring updates (Viechtbauer 2005): ML
    :math:`\\Delta=(y^\\top PPy-\\sum w_i)/\\sum w_i^2`, REML
    :math:`\\Delta=(y^\\top PPy-\\mathrm{tr}P)/\\mathrm{tr}(PP)`. Scoring converges
    linearly; once its step is below ``_POLISH`` the observed information replaces the
    expected one (Newton: :math:`2y^\\top PPPy-\\mathrm{tr}(PP)`, resp.
    :math:`2y^\\top PPPy-\\sum w_i^2`, when positive), which reaches the same maximum
    quadratically. A fit whose last step had to be halved is walking into the boundary,
    so its limit (0) is returned.
    """
    tau2 = tau2.copy()
    m = tau2.shape[0]
    conv = np.zeros(m, dtype=bool)
    idx = None  # rows still iterating; None while all are
    y, v, mf, t = b.y, b.v, b.mf, tau2
    reml = method == "REML"
    for _ in range(maxiter):
        w = mf / (v + t[:, None])
        w2 = w * w
        sw, sw2 = _rsum(w), _rsum(w2)
        u = w * (y - (_rsum(w * y) / sw)[:, None])  # u = Py
        ypp = _rsum(u * u)  # y'PPy
        if reml:
            ratio = sw2 / sw
            score = ypp - sw + ratio
            info = sw2 - 2.0 * _rsum(w2 * w) / sw + ratio * ratio  # tr(PP)
        else:
            score = ypp - sw
            info = sw2
        adj = score / info
        near = np.abs(adj) < _POLISH * (1.0 + t)
        if _count(near):
            wu = w * u
            upu = _rsum(wu * u) - _rsum(wu) ** 2 / sw  # y'PPPy = u'Pu
            observed = 2.0 * upu - info
            newton = near & (observed > 0)
            if _count(newton) == newton.shape[0]:
                adj = score / observed
            else:
                adj[newton] = score[newton] / observed[newton]
        adj, halved = _halve(t, adj)
        going = np.abs(adj) > tol  # NaN steps (k = 1) count as done
        t = t + adj
        if halved is not None:
            t[halved & ~going] = 0.0
        if idx is None:
            tau2 = t
        else:
            tau2[idx] = t
        n_going = _count(going)
        if n_going == going.shape[0]:
            continue
        if idx is None:
            conv = ~going
            idx = np.flatnonzero(going)
        else:
            conv[idx[~going]] = True
            idx = idx[going]
        if n_going == 0:
            break
        y, v, mf, t = b.y[idx], b.v[idx], b.mf[idx], tau2[idx]
    return tau2, conv


def _ll_gain_at_zero(b: _Base, tau2, w, sw, r, reml):
    """log L(0) - log L(tau2) of the ML / REML likelihood (metafor's ll0 check).

    ``w``, ``sw`` and ``r`` are the weights, their sum and the residuals at ``tau2``.
    """
    # -2 log L = sum log(v + tau2) + Q(tau2) [+ log sum w for REML] + constant
    m2ll_tau = _rsum(b.mf * np.log(b.v + tau2[:, None])) + _rsum(w * r * r)
    m2ll_zero = _rsum(b.mf * np.log(b.v)) + b.q
    if reml:
        m2ll_tau = m2ll_tau + np.log(sw)
        m2ll_zero = m2ll_zero + np.log(b.sw0)
    return 0.5 * (m2ll_tau - m2ll_zero)


def estimate_tau2(b: _Base, method, *, tol=1e-10, maxiter=1000, a=None):
    """Estimate tau^2 for every fit with one method (metafor rma.uni, intercept only).

    ML and REML still need metafor's check against tau^2 = 0, which :func:`fit_arrays`
    makes with the final weights. ``a`` are the user weights (``(m, k)``, 0 outside the
    mask), used by GENQ only.

    Returns
    -------
    tau2 : ndarray
    converged : ndarray of bool
    """
    m = b.y.shape[0]
    k, km1 = b.k, b.km1
    conv = np.ones(m, dtype=bool)
    if method == "FE":
        return np.zeros(m), conv
    if method == "DL":
        # DerSimonian & Laird 1986: (Q - (k - 1)) / (sum w - sum w^2 / sum w)
        tau2 = (b.q - km1) / b.trp0
    elif method == "HS":
        # Hunter & Schmidt 2004: (Q - k) / sum w
        tau2 = (b.q - k) / b.sw0
    elif method == "HSk":
        # Hunter & Schmidt 2004 with the small-sample factor k/(k-1) on Q (metafor "HSk")
        tau2 = (k / km1 * b.q - k) / b.sw0
    elif method in ("PM", "EB", "DLIT", "SJIT"):
        # Paule & Mandel 1982: solve Q(tau2) = k - 1. metafor's EB scoring update,
        # (Q k/(k-1) - k) / sum w, has the same root and the same zero truncation.
        # (metafor stops when the PM root exceeds max(100, 10 mad(yi)^2); here it is found.)
        # DLIT and SJIT are iterations whose limit is this root (fit_arrays, Notes).
        tau2, conv = q_root(b.y, b.v, b.mf, km1, tol=tol, maxiter=maxiter)
    elif method == "PMM":
        # Paule-Mandel median-unbiased (Viechtbauer 2021): Q(tau2) = median of chi^2(k-1)
        tau2, conv = q_root(b.y, b.v, b.mf, special.chdtri(km1, 0.5), tol=tol, maxiter=maxiter)
    elif method == "GENQ":
        tau2 = _genq(b, a)
    else:
        ybar = _rsum(b.y) / k
        ru = (b.y - ybar[:, None]) * b.mf
        rss_u = _rsum(ru * ru)
        # Hedges 1983 (unweighted moments): (sum (y - ybar)^2 - tr(PV)) / (k - 1)
        tau2 = (rss_u - _rsum(b.mf * b.v) * km1 / k) / km1
        if method == "SJ":
            # Sidik & Jonkman 2005: start at the mean squared deviation, one reweighting
            tau0 = rss_u / k
            tau2 = tau0 * q_stat(b.y, b.v, b.mf, tau0) / km1
        elif method in FISHER_METHODS:
            start = np.fmax(tau2, 0.0)  # HE start, truncated (NaN for k = 1 becomes 0)
            tau2, conv = _fisher_scoring(b, start, method, tol, maxiter)
    tau2 = np.where(k <= 1, 0.0, np.maximum(tau2, 0.0))
    return tau2, conv


def _se_tau2(b: _Base, tau2, method, w, sw, a=None):
    """Standard error of tau^2 as metafor reports it (``w``, ``sw``: weights at tau2;
    ``a``: user weights, for GENQ)."""
    k, km1, mf, v = b.k, b.km1, b.mf, b.v
    t2 = tau2 * tau2
    if method == "FE":
        return np.full(k.shape, np.nan)
    if method in ("HS", "HSk"):
        out = np.sqrt((2 * km1 + 4 * tau2 * b.trp0 + 2 * t2 * b.spp0) / b.sw0**2)
        if method == "HSk":
            out = k / km1 * out
    elif method == "DL":
        out = np.sqrt((2 * km1 + 4 * tau2 * b.trp0 + 2 * t2 * b.spp0) / b.trp0**2)
    elif method == "HE":
        v2, vs = _rsum(mf * v * v), _rsum(mf * v)
        trpvpv = v2 - 2.0 * v2 / k + vs**2 / k**2  # tr(PVPV) with P = I - J/k
        out = np.sqrt((2 * trpvpv + 4 * tau2 * vs * km1 / k + 2 * t2 * km1) / km1**2)
    elif method == "SJ":
        ru = (b.y - (_rsum(b.y) / k)[:, None]) * mf
        tau0 = _rsum(ru * ru) / k
        w = mf / (v + tau0[:, None])
        sw = _rsum(w)
        w2, w3 = w * w, w * w * w
        w2v = _rsum(w2 * v)
        trpvpv = _rsum(w2 * v * v) - 2.0 * _rsum(w3 * v * v) / sw + w2v**2 / sw**2
        spvp = w2v - 2.0 * _rsum(w3 * v) / sw + _rsum(w2) * w2v / sw**2
        _, spp = _pp_sums(w, sw)
        out = np.sqrt(tau0**2 / km1**2 * (2 * trpvpv + 4 * tau2 * spvp + 2 * t2 * spp))
    else:
        if method == "ML":
            out = np.sqrt(2.0 / _rsum(w * w))
        elif method == "REML":
            out = np.sqrt(2.0 / _pp_sums(w, sw)[1])
        elif method == "GENQ":
            out = _se_genq(b, tau2, a)
        else:  # PM, EB, PMM, DLIT, SJIT
            out = np.sqrt(2.0 * k**2 / km1 / sw**2)
    return np.where(k <= 1, np.nan, out)


def _genq_sums(a, sa, v):
    """For :math:`P = A - aa^\\top/\\sum a`: tr P, tr(PV), tr(PVPV), sum(P * PV), sum(P * P)."""
    a2 = a * a
    a2v = _rsum(a2 * v)
    trp, spp = _pp_sums(a, sa)
    trpv = _rsum(a * v) - a2v / sa
    trpvpv = _rsum(a2 * v * v) - 2.0 * _rsum(a2 * a * v * v) / sa + a2v**2 / sa**2
    spvp = a2v - 2.0 * _rsum(a2 * a * v) / sa + _rsum(a2) * a2v / sa**2
    return trp, trpv, trpvpv, spvp, spp


def _genq(b: _Base, a):
    """Generalised Q estimator with user weights ``a`` (DerSimonian & Kacker 2007).

    :math:`\\hat\\tau^2=(Q_a-\\mathrm{tr}(PV))/\\mathrm{tr}P` with
    :math:`Q_a=\\sum a_i(y_i-\\hat\\mu_a)^2` and :math:`P=A-aa^\\top/\\sum a_i` (metafor "GENQ";
    with :math:`a_i=1/v_i` it is DL, with :math:`a_i=1` HE). Truncated at 0 by the caller.
    """
    if a is None:
        raise ValueError("method 'GENQ' needs user weights: pass weights=")
    sa = _rsum(a)
    r = b.y - (_rsum(a * b.y) / sa)[:, None]
    qa = _rsum(a * r * r)
    trp, trpv, *_ = _genq_sums(a, sa, b.v)
    return (qa - trpv) / trp


def _se_genq(b: _Base, tau2, a):
    """Standard error of the GENQ estimate (metafor rma.uni)."""
    trp, _, trpvpv, spvp, spp = _genq_sums(a, _rsum(a), b.v)
    return np.sqrt((2 * trpvpv + 4 * tau2 * spvp + 2 * tau2 * tau2 * spp) / trp**2)


def canonical(method: str) -> str:
    """Canonical method code (EE, CE -> FE)."""
    return METHOD_ALIASES.get(method, method)


def _t_crit(df, level: float):
    """Upper t(df) quantile for a two-sided interval (NaN where df <= 0)."""
    return np.where(df > 0, special.stdtrit(np.fmax(df, 1.0), 1.0 - (1.0 - level) / 2.0), np.nan)


def fit_arrays(
    yi,
    vi,
    mask=None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    *,
    tol: float = 1e-10,
    maxiter: int = 1000,
    ll0check: bool = True,
    weights=None,
) -> FitArrays:
    """Fit ``m`` random-effects (or fixed-effect) models at once.

    Parameters
    ----------
    yi, vi : array-like, shape (m, k) or (k,)
        Effect sizes and sampling variances (values outside the mask are ignored).
    mask : array-like of bool, shape (m, k), optional
        True for the studies in each fit (default: all).
    method : {"FE", "EE", "CE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB", \
"HSk", "DLIT", "SJIT", "PMM", "GENQ"}
        GENQ needs ``weights``.
    test : {"z", "knha", "adhoc"}
    level : float
        Confidence level (fraction).
    tol : float
        Convergence tolerance on tau^2 for the iterative estimators (absolute change).
    maxiter : int
        Iteration limit for the iterative estimators.
    ll0check : bool
        For ML/REML, set tau^2 = 0 when the likelihood at 0 is larger (as metafor).
    weights : array-like, shape (m, k) or (k,), optional
        User weights :math:`a_i \\ge 0` of the pooled estimate (metafor ``rma(weights=)``);
        default the inverse-variance weights. Only GENQ uses them to estimate tau^2.

    Returns
    -------
    FitArrays
        With ``weights``, ``w`` holds the user weights (0 outside the mask).

    Notes
    -----
    Pooled estimate :math:`\\hat\\mu=\\sum w_i y_i/\\sum w_i`,
    :math:`\\mathrm{Var}(\\hat\\mu)=s^2_w/\\sum w_i` with :math:`s^2_w=1` for z,
    :math:`s^2_w=\\sum w_i(y_i-\\hat\\mu)^2/(k-1)` for knha (0 if that sum is below machine
    epsilon) and :math:`\\max(1, s^2_w)` for adhoc; knha/adhoc use t(k-1).
    :math:`I^2=100\\,\\tau^2/(\\tilde v+\\tau^2)`, :math:`H^2=\\tau^2/\\tilde v+1` with
    :math:`\\tilde v=(k-1)/\\mathrm{tr}P` (FE: :math:`I^2=\\max(0,100(Q-(k-1))/Q)`,
    :math:`H^2=Q/(k-1)`).

    User weights (metafor ``rma(weights=)``): :math:`\\hat\\mu=\\sum a_iy_i/\\sum a_i`,
    :math:`\\mathrm{Var}(\\hat\\mu)=s^2_w\\sum a_i^2(v_i+\\tau^2)/(\\sum a_i)^2`, with
    :math:`s^2_w` (knha, adhoc) from the inverse-variance fit, as metafor computes it; Q,
    :math:`I^2`, :math:`H^2` and every estimator but GENQ keep the inverse-variance weights.

    HSk is HS with :math:`Q` scaled by :math:`k/(k-1)` (its SE likewise). PMM solves
    :math:`Q(\\tau^2)=\\chi^2_{k-1,0.5}` (the median), PM :math:`Q(\\tau^2)=k-1`. GENQ is
    :math:`(Q_a-\\mathrm{tr}(PV))/\\mathrm{tr}P` with :math:`P=A-aa^\\top/\\sum a_i` built from
    the user weights. DLIT and SJIT are computed as their limits, the PM root: metafor's
    DLIT (>= 4.6-0) repeats
    :math:`\\tau^2\\leftarrow\\max(0,(Q(\\tau^2)-\\mathrm{tr}(PV))/\\mathrm{tr}P)` from 0 with
    :math:`P` at the previous value; as
    :math:`\\mathrm{tr}(PV)+\\tau^2\\mathrm{tr}P=\\mathrm{tr}(P(V+\\tau^2I))=k-1`, a step adds
    :math:`(Q(\\tau^2)-(k-1))/\\mathrm{tr}P`, so its fixed points solve :math:`Q(\\tau^2)=k-1`
    or sit at 0 (metafor's source: "when this converges, same as PM"). SJIT repeats
    :math:`\\tau^2\\leftarrow\\tau^2Q(\\tau^2)/(k-1)` from the mean squared deviation: a fixed
    point above 0 solves :math:`Q(\\tau^2)=k-1`, and when :math:`Q(0)\\le k-1` the iteration
    decays to 0. metafor stops both when a step falls below its ``threshold``; here the
    root is found to ``tol``. metafor before 4.6-0 iterated DLIT with
    :math:`(Q-(k-1))/\\mathrm{tr}P`, which has another fixed point.

    References
    ----------
    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261-293. doi:10.3102/10769986030003261

    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a
    single covariate. Stat Med 22:2693-2710. doi:10.1002/sim.1482

    DerSimonian R, Kacker R (2007). Random-effects model for meta-analysis of clinical
    trials: an update. Contemp Clin Trials 28:105-114. doi:10.1016/j.cct.2006.04.004

    Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for
    meta-analysis. J R Stat Soc C 54:367-384. doi:10.1111/j.1467-9876.2005.00489.x

    Hunter JE, Schmidt FL (2004). Methods of meta-analysis: correcting error and bias in
    research findings, 2nd ed. Sage. doi:10.4135/9781412985031

    Viechtbauer W (2021). Median-unbiased estimators for the amount of heterogeneity in
    meta-analysis. European Congress of Methodology, Valencia (metafor's PMM; slides).

    Examples
    --------
    >>> import numpy as np
    >>> from metaprop._engine import fit_arrays
    >>> fa = fit_arrays(np.array([[0.1, 0.5, 0.9]]), np.array([[0.04, 0.05, 0.06]]))
    >>> round(float(fa.beta[0]), 4), round(float(fa.tau2[0]), 4)
    (0.4834, 0.1104)
    """
    method = canonical(method)
    if method not in METHODS or test not in TESTS:
        raise ValueError(f"unknown method {method!r} or test {test!r}")
    if method == "GENQ" and weights is None:
        raise ValueError("method 'GENQ' needs user weights: pass weights=")
    with np.errstate(divide="ignore", invalid="ignore"):
        b = _prepare(yi, vi, mask)
        k, km1 = b.k, b.km1
        a = None if weights is None else _user_weights(weights, b)
        tau2, conv = estimate_tau2(b, method, tol=tol, maxiter=maxiter, a=a)
        w, sw, beta, r = _weighted(b.y, b.v, b.mf, tau2)
        if ll0check and method in FISHER_METHODS:
            # metafor: Fisher scoring may stop at a local maximum below L(0); then tau^2 = 0
            check = conv & (tau2 > tol)
            if _count(check):
                gain = _ll_gain_at_zero(b, tau2, w, sw, r, method == "REML")
                reset = check & (gain > tol)
                if _count(reset):
                    tau2 = np.where(reset, 0.0, tau2)
                    w, sw, beta, r = _weighted(b.y, b.v, b.mf, tau2)
        se_tau2 = _se_tau2(b, tau2, method, w, sw, a)
        vb = 1.0 / sw
        if test == "z":
            s2w = np.ones_like(vb)
            df = np.full_like(vb, np.nan)
            crit = np.full_like(vb, special.ndtri(1.0 - (1.0 - level) / 2.0))
        else:
            # Knapp & Hartung 2003: scale Var(mu) by the weighted residual variance
            rss = _rsum(w * r * r)
            s2w = np.where(rss <= _EPS, 0.0, rss / km1)
            if test == "adhoc":
                s2w = np.maximum(s2w, 1.0)  # ad hoc floor: the factor is never below 1
            # one study: metafor falls back to the z test (no residual df)
            one = k <= 1
            s2w = np.where(one, 1.0, s2w)
            df = np.where(one, np.nan, km1)
            crit = np.where(one, special.ndtri(1.0 - (1.0 - level) / 2.0), _t_crit(df, level))
        if a is not None:
            # metafor rma(weights=): weighted mean with its sandwich variance; the
            # Knapp-Hartung factor above stays that of the inverse-variance fit
            sa = _rsum(a)
            beta = _rsum(a * b.y) / sa
            vb = _rsum(a * a * (b.v + tau2[:, None])) / sa**2
            w = a
        se = np.sqrt(s2w * vb)
        stat = beta / se
        if test == "z":
            pval = 2.0 * special.ndtr(-np.abs(stat))
        else:
            pval = np.where(
                df > 0,
                2.0 * special.stdtr(np.fmax(df, 1.0), -np.abs(stat)),
                2.0 * special.ndtr(-np.abs(stat)),
            )
        half = crit * se
        pi_half = crit * np.sqrt(se * se + tau2)
        q = b.q
        q_pvalue = special.chdtrc(km1, q)
        vt = km1 / b.trp0  # metafor's typical within-study variance
        if method == "FE":
            i2 = np.maximum(0.0, 100.0 * (q - km1) / q)
            h2 = q / km1
        else:
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
        single = k <= 1
        if _count(single):
            # one study: metafor reports Q = 0 (p = 1), I^2 = 0, H^2 = 1 and vt = 0
            q, q_pvalue, vt, i2, h2 = (
                np.where(single, fill, x)
                for x, fill in ((q, 0.0), (q_pvalue, 1.0), (vt, 0.0), (i2, 0.0), (h2, 1.0))
            )
    return FitArrays(
        method=method,
        test=test,
        level=level,
        k=k.astype(np.int64),
        beta=beta,
        se=se,
        tau2=tau2,
        se_tau2=se_tau2,
        q=q,
        q_df=km1.astype(np.int64),
        q_pvalue=q_pvalue,
        i2=i2,
        h2=h2,
        vt=vt,
        stat=stat,
        pval=pval,
        df=df,
        crit=crit,
        ci_lb=beta - half,
        ci_ub=beta + half,
        pi_lb=beta - pi_half,
        pi_ub=beta + pi_half,
        s2w=s2w,
        converged=conv,
        w=w,
    )


def _user_weights(weights, b: _Base) -> np.ndarray:
    """User weights as an ``(m, k)`` array, 0 outside the mask (checked by the caller)."""
    a = np.asarray(weights, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    a = np.broadcast_to(a, b.y.shape)
    return a * b.mf


@dataclass(frozen=True, eq=False)
class ModeratorFit:
    """One mixed-effects meta-regression (metafor ``rma(yi, vi, mods = ~ X)``).

    Attributes
    ----------
    beta, se : ndarray
        Coefficients and standard errors (Knapp-Hartung scaled for knha/adhoc).
    stat, pval : ndarray
        Wald test of each coefficient against 0 (metafor ``zval``, ``pval``): z, or t on
        ``df`` degrees of freedom for knha/adhoc.
    df : int or None
        Residual degrees of freedom k - p of the t and F tests (None for z).
    vb : ndarray
        Covariance matrix of ``beta``.
    tau2 : float
        Residual between-study variance.
    qm, qm_df, qm_pvalue : float, tuple of int, float
        Omnibus test of all coefficients but the intercept: chi^2(m) for z, F(m, k - p)
        (statistic divided by m) for knha/adhoc.
    qe, qe_pvalue : float
        Residual heterogeneity test, chi^2(k - p).
    converged : bool
    """

    beta: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    df: int | None
    vb: np.ndarray
    tau2: float
    qm: float
    qm_df: tuple[int, ...]
    qm_pvalue: float
    qe: float
    qe_pvalue: float
    converged: bool


def _proj(X, w):
    """P = W - W X (X'WX)^-1 X'W for diagonal weights ``w``, and (X'WX)^-1."""
    xw = X * w[:, None]
    inv = np.linalg.inv(X.T @ xw)
    return np.diag(w) - xw @ inv @ xw.T, inv


def _m2ll_moderators(y, v, X, tau2, reml):
    """-2 log-likelihood of a meta-regression at ``tau2``, up to a constant (ML or REML)."""
    w = 1.0 / (v + tau2)
    pw, inv = _proj(X, w)
    # Viechtbauer 2005: -2 log L = sum log(v + tau2) + y'Py [+ log det(X'WX) for REML]
    out = float(np.sum(np.log(v + tau2)) + y @ pw @ y)
    if reml:
        out -= float(np.linalg.slogdet(inv)[1])
    return out


def fit_moderators(
    yi, vi, X, method="REML", test="z", level=0.95, *, tol=1e-10, maxiter=1000
) -> ModeratorFit:
    """Mixed-effects meta-regression with tau^2 by ``method`` (metafor rma.uni with mods).

    The intercept-only case is :func:`fit_arrays` (vectorised); this general-``X`` form
    serves the moderator test of subgroup analyses and the regression tests of
    small-study effects, one fit at a time.

    Parameters
    ----------
    yi, vi : array-like, shape (k,)
    X : array-like, shape (k, p)
        Model matrix whose first column is the intercept; ``qm`` tests the others.
    method, test, level, tol, maxiter
        As :func:`fit_arrays`.

    Returns
    -------
    ModeratorFit

    Notes
    -----
    With :math:`W=\\mathrm{diag}(1/(v_i+\\tau^2))` and
    :math:`P(\\tau^2)=W-WX(X^\\top WX)^{-1}X^\\top W`:
    DL :math:`\\hat\\tau^2=(y^\\top P_0y-(k-p))/\\mathrm{tr}P_0`; HE
    :math:`(y^\\top(I-H)y-\\mathrm{tr}((I-H)V))/(k-p)`; HS :math:`(y^\\top P_0y-k)/\\sum w_i`;
    SJ one reweighting from :math:`\\tau^2_0=\\sum(y_i-\\bar y)^2/k`; PM solves
    :math:`y^\\top Py=k-p`; ML, REML and EB by Fisher scoring from the truncated HE value,
    with step halving, all truncated at 0; ML and REML fall back to 0 when the likelihood
    is larger there (metafor rma.uni, ``ll0check``).
    :math:`\\hat\\beta=(X^\\top WX)^{-1}X^\\top Wy`, :math:`V=s^2_w(X^\\top WX)^{-1}`
    (:math:`s^2_w` as in :func:`fit_arrays`, on k - p df);
    :math:`Q_M=\\hat\\beta_{[2:p]}^\\top V_{[2:p]}^{-1}\\hat\\beta_{[2:p]}`.

    References
    ----------
    Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F (2015). A comparison
    of procedures to test for moderators in mixed-effects meta-regression models.
    Psychol Methods 20:360-374. doi:10.1037/met0000023

    Examples
    --------
    >>> import numpy as np
    >>> from metaprop._engine import fit_moderators
    >>> X = np.column_stack([np.ones(4), [0, 0, 1, 1]])
    >>> fit = fit_moderators([0.1, 0.2, 0.6, 0.7], [0.01, 0.02, 0.01, 0.02], X, "DL")
    >>> round(fit.qm, 4), fit.qm_df
    (18.75, (1,))
    """
    method = canonical(method)
    if method not in METHODS or test not in TESTS:
        raise ValueError(f"unknown method {method!r} or test {test!r}")
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float)
    k, p = X.shape
    # metafor rma.uni: p coefficients (FE) or p + 1 parameters (with tau^2) need k studies
    if k < p + (method != "FE"):
        raise ValueError(
            f"Number of parameters to be estimated ({p + (method != 'FE')}) is larger "
            f"than the number of studies ({k})"
        )
    y_c = y - y.mean()  # metafor centres y for the tau^2 computations
    w0 = 1.0 / v
    p0, _ = _proj(X, w0)
    rss0 = float(y_c @ p0 @ y_c)
    conv = True
    h = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
    # Hedges 1983 (unweighted moments); also the start of ML, REML and EB
    tau2_he = (float(y_c @ h @ y_c) - float(np.trace(h * v))) / (k - p) if k > p else 0.0
    if method == "FE":
        tau2 = 0.0
    elif method == "DL":
        # DerSimonian & Laird 1986, with moderators: (Q_E - (k - p)) / tr(P_0)
        tau2 = (rss0 - (k - p)) / float(np.trace(p0))
    elif method == "HE":
        tau2 = tau2_he
    elif method == "HS":
        # Hunter & Schmidt 2004: (Q_E - k) / sum w
        tau2 = (rss0 - k) / float(w0.sum())
    elif method == "SJ":
        # Sidik & Jonkman 2005: start at the mean squared deviation, one reweighting
        tau0 = float(y_c @ y_c) / k
        pj, _ = _proj(X, 1.0 / (v + tau0))
        tau2 = tau0 * float(y_c @ pj @ y_c) / (k - p)
    elif method == "HSk":
        # Hunter & Schmidt 2004 with Q_E scaled by k / (k - p) (metafor "HSk")
        tau2 = (k / (k - p) * rss0 - k) / float(w0.sum())
    elif method in ("PM", "DLIT", "SJIT"):
        # Paule & Mandel 1982: Q_E(tau2) = k - p (DLIT and SJIT: their limit, see fit_arrays)
        tau2, conv = _pm_moderators(y_c, v, X, k - p, tol, maxiter)
    elif method == "PMM":
        # median-unbiased Paule-Mandel: Q_E(tau2) = median of chi^2(k - p)
        tau2, conv = _pm_moderators(y_c, v, X, special.chdtri(k - p, 0.5), tol, maxiter)
    elif method == "GENQ":
        raise ValueError("method 'GENQ' needs user weights, which meta-regression does not take")
    else:
        tau2, conv = _scoring_moderators(y_c, v, X, max(0.0, tau2_he), method, tol, maxiter)
    tau2 = max(0.0, tau2)
    if method in FISHER_METHODS and conv and tau2 > tol:
        # metafor's ll0check: scoring may stop at a local maximum below L(0)
        reml = method == "REML"
        gain = 0.5 * (
            _m2ll_moderators(y_c, v, X, tau2, reml) - _m2ll_moderators(y_c, v, X, 0.0, reml)
        )
        if gain > tol:
            tau2 = 0.0
    w = 1.0 / (v + tau2)
    xw = X * w[:, None]
    vb = np.linalg.inv(X.T @ xw)
    beta = vb @ (xw.T @ y)
    df_den = k - p
    if test != "z":
        # Knapp & Hartung 2003 scaling of the covariance matrix
        rss = float(w @ (y - X @ beta) ** 2)
        s2w = 0.0 if rss <= _EPS else rss / df_den
        vb = vb * (max(s2w, 1.0) if test == "adhoc" else s2w)
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    btt = slice(1, p)
    m = p - 1
    qm = float(beta[btt] @ np.linalg.solve(vb[btt, btt], beta[btt]))
    if test == "z":
        pval = 2.0 * special.ndtr(-np.abs(stat))
        qm_df: tuple[int, ...] = (m,)
        qm_p = float(special.chdtrc(m, qm))
    else:
        pval = 2.0 * special.stdtr(df_den, -np.abs(stat))
        qm = qm / m
        qm_df = (m, df_den)
        qm_p = float(special.fdtrc(m, df_den, qm)) if df_den > 0 else np.nan
    qe = max(0.0, rss0)
    return ModeratorFit(
        beta=beta,
        se=se,
        stat=stat,
        pval=pval,
        df=None if test == "z" else df_den,
        vb=vb,
        tau2=tau2,
        qm=qm,
        qm_df=qm_df,
        qm_pvalue=qm_p,
        qe=qe,
        qe_pvalue=float(special.chdtrc(df_den, qe)) if df_den > 0 else 1.0,
        converged=conv,
    )


def _scoring_moderators(y_c, v, X, tau2, method, tol, maxiter):
    """ML, REML and EB with moderators: Fisher scoring from ``tau2`` with step halving.

    Scoring updates (Viechtbauer 2005; metafor rma.uni): ML
    :math:`(y^\\top PPy-\\sum w_i)/\\sum w_i^2`, REML
    :math:`(y^\\top PPy-\\mathrm{tr}P)/\\mathrm{tr}(PP)`, EB (Morris 1983)
    :math:`(y^\\top Py\\,k/(k-p)-k)/\\sum w_i`.
    """
    k, p = X.shape
    for _ in range(maxiter):
        w = 1.0 / (v + tau2)
        pw, _ = _proj(X, w)
        py = pw @ y_c
        if method == "ML":
            adj = (py @ py - w.sum()) / (w * w).sum()
        elif method == "REML":
            adj = (py @ py - np.trace(pw)) / float(np.sum(pw * pw))
        else:  # EB
            adj = (float(y_c @ py) * k / (k - p) - k) / w.sum()
        while tau2 + adj < 0:  # step halving, as metafor
            if tau2 == 0.0:  # a step below the boundary from 0 halves down to nothing
                adj = 0.0
                break
            adj /= 2.0
        tau2 += adj
        if abs(adj) <= tol:
            return tau2, True
    return tau2, False


def _pm_moderators(y_c, v, X, target, tol, maxiter):
    """Paule-Mandel with moderators: Newton from 0 on y'P(tau2)y = k - p (convex, decreasing)."""
    t = 0.0
    for _ in range(maxiter):
        pw, _ = _proj(X, 1.0 / (v + t))
        py = pw @ y_c
        f = float(y_c @ py) - target
        if t == 0.0 and f <= 0:
            return 0.0, True
        step = f / float(py @ py)  # d(y'Py)/dtau2 = -y'PPy
        t += step
        if abs(step) <= tol:
            return t, True
    return t, False
