"""Random-intercept logistic (binomial-normal) model for single proportions.

The exact-likelihood alternative to pooling logits: each study's event count is binomial
with a study-specific logit drawn from a normal distribution, and the normal random
effect is integrated out with adaptive Gauss-Hermite quadrature, as metafor's
``rma.glmm(measure="PLO", method="ML")`` asks of ``lme4::glmer(nAGQ = 7)``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np
from scipy import optimize, special

from metaprop._validation import check_choice, check_counts, check_level
from metaprop.effects import _resolve_counts, escalc
from metaprop.results import Interval, MetaResult

__all__ = ["GlmmResult", "glmm_profile_ci", "meta_prop_glmm"]

N_AGQ = 7
"""Quadrature points per study (metafor's default ``nAGQ = 7``)."""

_NODES, _W = np.polynomial.hermite_e.hermegauss(N_AGQ)
_WEIGHTS = _W / _W.sum()  # probabilists' Gauss-Hermite rule for the N(0, 1) density
_LOG_WEIGHTS = np.log(_WEIGHTS)
_HALF_Z2 = 0.5 * _NODES**2

_MODE_TOL = 1e-10  # a Newton step this small leaves an error of ~1e-20
_MODE_MAXITER = 200
_TAU2_MAX = 1e3  # sd of 30 logits: no finite maximum in practice (separated studies)


@dataclass(frozen=True)
class GlmmFit:
    """Plain numbers of a binomial-normal fit (what :func:`meta_prop_glmm` builds on).

    Attributes
    ----------
    beta, se : float
        Pooled logit and its standard error (inverse Hessian over (tau, beta)).
    tau2 : float
        Between-study variance of the logits.
    loglik : float
        Maximised marginal log-likelihood (with binomial coefficients).
    qe_wald, qe_lrt : float
        Wald and likelihood-ratio tests of the saturated against the common-proportion
        logistic model, each on ``k - 1`` degrees of freedom.
    i2, h2 : float
        I^2 (percent) and H^2 from tau2 and the typical within-study variance.
    vt : float
        Typical within-study variance of the escalc logits.

    A fit that does not converge raises ValueError instead of returning.
    """

    beta: float
    se: float
    tau2: float
    loglik: float
    qe_wald: float
    qe_lrt: float
    i2: float
    h2: float
    vt: float


@dataclass(frozen=True, eq=False, slots=True, repr=False)  # MetaResult's short repr
class GlmmResult(MetaResult):
    """A binomial-normal GLMM fit: a :class:`MetaResult` with both heterogeneity tests.

    Built by :func:`meta_prop_glmm`. ``q``, ``q_df`` and ``q_pvalue`` repeat the Wald
    test (metafor prints it first); the fields below hold both tests as metafor's
    ``rma.glmm`` returns them.

    Parameters
    ----------
    *fields
        Those of :class:`MetaResult`, then:
    qe_wald, qe_wald_pvalue : float
        Wald test of the saturated against the common-proportion logistic model
        (metafor ``QE.Wld``, ``QEp.Wld``).
    qe_lrt, qe_lrt_pvalue : float
        Likelihood-ratio test of the same two models (metafor ``QE.LRT``, ``QEp.LRT``).
    qe_df : int
        Their degrees of freedom, k - 1.

    Notes
    -----
    Both statistics compare fixed-effects logistic models: one logit per study against
    one common logit (Stijnen et al. 2010; metafor ``rma.glmm``). They are referred to
    :math:`\\chi^2_{k-1}`.

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome
    in the framework of the generalized linear mixed model with applications in sparse
    data. Stat Med 29:3046-3067. doi:10.1002/sim.4040

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop_glmm([16, 10, 4, 43, 10], [17, 12, 8, 58, 10])
    >>> res.qe_df, bool(res.qe_lrt > 0), res.qe_wald == res.q
    (4, True, True)
    """

    # keyword-only: MetaResult ends in defaulted fields (user_weights)
    _: KW_ONLY
    qe_wald: float
    qe_wald_pvalue: float
    qe_lrt: float
    qe_lrt_pvalue: float
    qe_df: int

    def to_dict(self) -> dict:
        """:meth:`MetaResult.to_dict` with the two heterogeneity tests added.

        Examples
        --------
        >>> import metaprop as mp
        >>> d = mp.meta_prop_glmm([16, 10, 4, 43, 10], [17, 12, 8, 58, 10]).to_dict()
        >>> d["qe_df"], d["qe_wald"] == d["q"]
        (4, True)
        """
        out = MetaResult.to_dict(self)  # slots dataclass: no zero-argument super()
        out.update(
            qe_wald=float(self.qe_wald),
            qe_wald_pvalue=float(self.qe_wald_pvalue),
            qe_lrt=float(self.qe_lrt),
            qe_lrt_pvalue=float(self.qe_lrt_pvalue),
            qe_df=int(self.qe_df),
        )
        return out


def _modes(beta, tau, x, n, u0):
    """Conditional modes of the random effects (safeguarded Newton, all studies at once).

    Solves :math:`g(u)=\\tau(x-n\\,\\mathrm{expit}(\\beta+\\tau u)) - u = 0`, the score of
    the penalised log-likelihood :math:`x\\eta-n\\log(1+e^\\eta)-u^2/2`. ``g`` decreases
    strictly, and the root lies in :math:`[-\\tau(n-x), \\tau x]`; Newton steps that leave
    the current bracket are replaced by bisection.
    """
    lo = -tau * (n - x) - 1e-12
    hi = tau * x + 1e-12
    u = np.clip(u0, lo, hi)
    for _ in range(_MODE_MAXITER):
        mu = special.expit(beta + tau * u)
        g = tau * (x - n * mu) - u
        lo = np.where(g > 0, u, lo)
        hi = np.where(g < 0, u, hi)
        step = g / (1.0 + tau * tau * n * mu * (1.0 - mu))
        small = np.abs(step) <= _MODE_TOL * (1.0 + np.abs(u))
        new = u + step
        out = ~small & ((new <= lo) | (new >= hi))
        u = np.where(out, 0.5 * (lo + hi), new)
        if small.all():
            return u
    raise ValueError("the conditional modes of the random effects did not converge")


def _h(eta, u, x, n):
    # penalised conditional log-likelihood x*eta - n*log(1 + e^eta) - u^2/2
    return x * eta - n * np.logaddexp(0.0, eta) - 0.5 * u * u


def _loglik(beta, tau, x, n, logc, u0):
    """Marginal log-likelihood by adaptive Gauss-Hermite quadrature, and its gradient.

    Returns ``(loglik, d/dbeta, d/dtau, modes)`` for the common logit ``beta``; see
    :func:`_loglik_terms`.
    """
    ll, g_eta, g_t, u_hat = _loglik_terms(np.full(len(x), beta), tau, x, n, logc, u0)
    return ll, float(g_eta.sum()), g_t, u_hat


def _loglik_terms(eta0, tau, x, n, logc, u0):
    """Marginal log-likelihood with a linear predictor per study, and its gradient.

    ``eta0`` (shape (k,)) is each study's fixed part of the logit (``beta`` for the
    intercept-only model, :math:`x_i^T\\beta` with moderators). Returns
    ``(loglik, d/deta0 per study, d/dtau, modes)``. The gradient is the exact derivative
    of the quadrature approximation (the mode and the scale move with the parameters:
    implicit differentiation of the mode equation).
    """
    u_hat = _modes(eta0, tau, x, n, u0)
    eta_hat = eta0 + tau * u_hat
    mu_hat = special.expit(eta_hat)
    s = n * mu_hat * (1.0 - mu_hat)
    d = 1.0 + tau * tau * s
    sigma = 1.0 / np.sqrt(d)
    # nodes u_j = u_hat + sigma z_j, shape (k, 7)
    u = u_hat[:, None] + sigma[:, None] * _NODES
    eta = eta0[:, None] + tau * u
    h0 = _h(eta_hat, u_hat, x, n)
    a = _h(eta, u, x[:, None], n[:, None]) - h0[:, None] + _HALF_Z2 + _LOG_WEIGHTS
    amax = a.max(axis=1)
    e = np.exp(a - amax[:, None])
    ssum = e.sum(axis=1)
    # Liu & Pierce 1994: L_i = sigma_i sum_j w_j exp(h(u_j) + z_j^2/2)
    ll = float(np.sum(logc + np.log(sigma) + h0 + amax + np.log(ssum)))

    pi = e / ssum[:, None]
    resid = x[:, None] - n[:, None] * special.expit(eta)
    dh_du = tau * resid - u
    # implicit derivatives of the mode and of the scale sigma = (1 + tau^2 s)^(-1/2)
    r_hat = x - n * mu_hat
    du_db = -tau * s / d
    du_dt = (r_hat - tau * s * u_hat) / d
    ds_deta = s * (1.0 - 2.0 * mu_hat)
    dd_db = tau * tau * ds_deta * (1.0 + tau * du_db)
    dd_dt = 2.0 * tau * s + tau * tau * ds_deta * (u_hat + tau * du_dt)
    dsig_db = -0.5 * sigma / d * dd_db
    dsig_dt = -0.5 * sigma / d * dd_dt
    g_b = -0.5 * dd_db / d + np.sum(
        pi * (resid + dh_du * (du_db[:, None] + _NODES * dsig_db[:, None])), axis=1
    )
    g_t = -0.5 * dd_dt / d + np.sum(
        pi * (resid * u + dh_du * (du_dt[:, None] + _NODES * dsig_dt[:, None])), axis=1
    )
    return ll, g_b, float(g_t.sum()), u_hat


class _Objective:
    """Negative log-likelihood over (beta, tau^2) with warm-started modes."""

    def __init__(self, x, n):
        self.x, self.n = x, n
        self.logc = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
        self.u = np.zeros_like(x)

    def value_and_grad(self, par):
        beta, v = float(par[0]), max(float(par[1]), 0.0)
        tau = np.sqrt(v)
        ll, g_b, g_t, self.u = _loglik(beta, tau, self.x, self.n, self.logc, self.u)
        if tau > 1e-6:
            g_v = g_t / (2.0 * tau)
        else:
            # limit tau -> 0: d loglik / d tau^2 = sum((x - n mu)^2 - n mu (1 - mu)) / 2
            mu = special.expit(beta)
            g_v = 0.5 * float(np.sum((self.x - self.n * mu) ** 2 - self.n * mu * (1 - mu)))
        return -ll, np.array([-g_b, -g_v])

    def grad_beta_tau(self, beta, tau):
        _, g_b, g_t, _ = _loglik(beta, tau, self.x, self.n, self.logc, self.u)
        return np.array([g_b, g_t])


def _start(x, n):
    """Starting values: pooled logit of the sum, DerSimonian-Laird tau^2 of the logits."""
    xa = np.where((x == 0) | (x == n), x + 0.5, x)
    na = np.where((x == 0) | (x == n), n + 1.0, n)
    y = np.log(xa / (na - xa))
    w = 1.0 / (1.0 / xa + 1.0 / (na - xa))
    yw = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - yw) ** 2)
    c = np.sum(w) - np.sum(w * w) / np.sum(w)
    tau2 = max(0.0, (q - (len(x) - 1)) / c) if c > 0 else 0.0
    beta = np.log(x.sum() / (n.sum() - x.sum()))
    return beta, max(tau2, 0.05)


def _hessian(obj, beta, tau):
    """Hessian of the log-likelihood over (tau, beta), central differences of the gradient.

    lme4 reports ``vcov`` from the Hessian of the deviance over (theta, beta) (theta = tau
    for a binomial model); step 1e-4 as lme4's ``deriv12``, shortened at the tau = 0 bound.
    """
    delta = 1e-4
    hess = np.empty((2, 2))
    up = delta
    down = min(delta, tau)
    g_hi = obj.grad_beta_tau(beta, tau + up)[::-1]  # order (tau, beta)
    g_lo = obj.grad_beta_tau(beta, tau - down)[::-1]
    hess[0] = (g_hi - g_lo) / (up + down)
    g_hi = obj.grad_beta_tau(beta + delta, tau)[::-1]
    g_lo = obj.grad_beta_tau(beta - delta, tau)[::-1]
    hess[1] = (g_hi - g_lo) / (2 * delta)
    return 0.5 * (hess + hess.T)


def _heterogeneity_tests(x, n):
    """Wald and likelihood-ratio tests of the saturated logistic model (k - 1 df).

    Notes
    -----
    The saturated model gives each study its own logit; the reduced model a common one.
    The Wald statistic of the k - 1 study contrasts equals Cochran's Q of the maximum
    likelihood logits with weights :math:`n_i\\hat p_i(1-\\hat p_i)`; a study with 0 or
    :math:`n_i` events has weight 0 in the limit (its logit diverges, its information
    vanishes), which is the value ``glm`` approaches. The likelihood-ratio statistic is
    :math:`2[\\ell(\\hat p_1..\\hat p_k) - \\ell(\\bar p)]` with :math:`\\bar p=\\sum x/\\sum n`.
    """
    p = x / n
    inner = (x > 0) & (x < n)
    w = np.where(inner, n * p * (1 - p), 0.0)
    if w.sum() > 0:
        yl = np.log(np.where(inner, x, 1.0) / np.where(inner, n - x, 1.0))
        ybar = np.sum(w * yl) / w.sum()
        wald = float(np.sum(w * (yl - ybar) ** 2))
    else:
        wald = 0.0
    pbar = x.sum() / n.sum()
    ll_sat = np.sum(special.xlogy(x, p) + special.xlogy(n - x, 1 - p))
    ll_fe = np.sum(special.xlogy(x, pbar) + special.xlogy(n - x, 1 - pbar))
    return max(wald, 0.0), max(float(2 * (ll_sat - ll_fe)), 0.0)


def _typical_variance(x, n):
    """Typical within-study variance of the escalc logits (metafor rma.glmm, i2def "1").

    :math:`v_t = (k-1)/\\mathrm{tr}(P)`, :math:`\\mathrm{tr}(P)=\\sum w_i-\\sum w_i^2/\\sum w_i`,
    :math:`w_i=1/v_i`, with :math:`v_i = 1/x_i + 1/(n_i-x_i)` after adding 1/2 to both cells
    of a study with 0 or :math:`n_i` events (escalc defaults).
    """
    zero = (x == 0) | (x == n)
    xa = np.where(zero, x + 0.5, x)
    ma = np.where(zero, n - x + 0.5, n - x)
    w = 1.0 / (1.0 / xa + 1.0 / ma)
    return (len(x) - 1) / (w.sum() - np.sum(w * w) / w.sum())


def fit_glmm(events, totals) -> GlmmFit:
    """Fit the random-intercept logistic model to validated counts (plain numbers).

    Parameters
    ----------
    events, totals : ndarray of int
        Validated counts (see :func:`meta_prop_glmm` for the checks).

    Returns
    -------
    GlmmFit

    Raises
    ------
    ValueError
        k < 2, all studies with 0 events or all with only events (no finite maximum), or
        an optimiser that does not converge.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    k = len(x)
    if k < 2:
        raise ValueError(
            "the binomial-normal GLMM needs at least 2 studies to estimate the between-study "
            "variance; with one study use meta_prop(..., method='FE') or study_ci()"
        )
    if x.sum() == 0 or x.sum() == n.sum():
        which = "0 events" if x.sum() == 0 else "only events (events == totals)"
        raise ValueError(
            f"every study has {which}: the logistic likelihood has no finite maximum "
            "(complete separation); pool with meta_prop(..., measure='PFT') or report the "
            "exact binomial interval of the summed counts instead"
        )
    obj = _Objective(x, n)
    beta0, v0 = _start(x, n)
    opt = optimize.minimize(
        obj.value_and_grad,
        np.array([beta0, v0]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None), (0.0, None)],
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500},
    )
    beta, tau2 = float(opt.x[0]), float(max(opt.x[1], 0.0))
    if tau2 > _TAU2_MAX:
        raise ValueError(
            f"the between-study variance of the logits diverges (tau^2 = {tau2:.3g}): the "
            "studies are separated (some with no events, some with only events), and the "
            "binomial-normal likelihood has no finite maximum; use meta_prop(..., "
            "measure='PFT') or report the studies separately"
        )
    grad_ok = abs(opt.jac[0]) < 1e-5 and (abs(opt.jac[1]) < 1e-5 or tau2 == 0.0)
    if not (np.isfinite(opt.fun) and (opt.success or grad_ok)):
        raise ValueError(
            f"the GLMM likelihood did not converge ({opt.message}); the data may be nearly "
            "separated (almost all studies with 0 or only events): try meta_prop(..., "
            "measure='PFT') instead"
        )
    if abs(beta) > 30:
        raise ValueError(
            f"the pooled logit diverges (beta = {beta:.1f}): the data are quasi-separated; "
            "try meta_prop(..., measure='PFT') instead"
        )
    tau = np.sqrt(tau2)
    se = _standard_error(obj, beta, tau)
    wald, lrt = _heterogeneity_tests(x, n)
    vt = _typical_variance(x, n)
    return GlmmFit(
        beta=beta,
        se=se,
        tau2=tau2,
        loglik=-float(opt.fun),
        qe_wald=wald,
        qe_lrt=lrt,
        i2=100.0 * tau2 / (vt + tau2),
        h2=tau2 / vt + 1.0,
        vt=vt,
    )


def _standard_error(obj, beta, tau):
    """SE of beta: the beta block of the inverse Hessian over (tau, beta), as lme4.

    At tau = 0 (or a Hessian that is not negative definite, where lme4 falls back to the
    penalised least-squares variance), the variance is
    :math:`1/\\sum_i W_i/(1+\\tau^2W_i)` with :math:`W_i=n_i\\mu_i(1-\\mu_i)` at the
    conditional modes.
    """
    if tau > 0:
        hess = _hessian(obj, beta, tau)
        if np.all(np.isfinite(hess)) and np.all(np.linalg.eigvalsh(-hess) > 0):
            cov = np.linalg.inv(-hess)
            return float(np.sqrt(cov[1, 1]))
    u = _modes(beta, tau, obj.x, obj.n, obj.u)
    mu = special.expit(beta + tau * u)
    w = obj.n * mu * (1 - mu)
    return float(1.0 / np.sqrt(np.sum(w / (1 + tau * tau * w))))


def meta_prop_glmm(events, totals=None, *, data=None, labels=None, level=0.95, test="z"):
    """Pool proportions with the random-intercept logistic (binomial-normal) model.

    Parameters
    ----------
    events, totals : array-like of int or str
        Events and participants per study, or column names when ``data`` is given.
    data : pandas.DataFrame, optional
        Table holding the columns named by ``events``, ``totals`` and ``labels``.
    labels : array-like of str or str, optional
        Study labels (or a column name with ``data``).
    level : float, default 0.95
        Confidence level of the CI and the prediction interval.
    test : {"z", "t"}, default "z"
        Quantile of the CI, the prediction interval and the test of the pooled logit:
        normal (``"z"``), or t with k - 1 degrees of freedom (``"t"``, as metafor's
        ``rma.glmm(test="t")``; a small-sample adjustment in the spirit of Hartung-Knapp,
        with the model-based standard error left as it is).

    Returns
    -------
    GlmmResult
        ``method="GLMM"``, ``measure="PLO"``; ``estimate_t`` is the pooled logit,
        ``se_t`` its standard error, ``tau2`` the variance of the study logits, ``q`` the
        Wald test of heterogeneity (``qe_wald``; the likelihood-ratio test is
        ``qe_lrt`` with p-value ``qe_lrt_pvalue``), ``ci`` the
        Wald (z) interval and ``pi`` the prediction interval
        :math:`\\hat\\beta\\pm z\\sqrt{SE^2+\\hat\\tau^2}`, both back-transformed.
        ``weights`` are NaN: metafor defines no study weights for this model.

    Raises
    ------
    ValueError
        Bad counts (named by study), k < 2, complete separation (every study with 0
        events, or every study with only events) or no convergence; each message says
        what to use instead.

    Notes
    -----
    Study :math:`i` has :math:`x_i\\sim\\mathrm{Bin}(n_i,\\mathrm{expit}(\\beta+\\tau u_i))`
    with :math:`u_i\\sim N(0,1)`. The marginal likelihood
    :math:`\\prod_i\\int \\mathrm{Bin}(x_i)\\,\\phi(u)\\,du` is approximated per study by
    7-point adaptive Gauss-Hermite quadrature centred at the conditional mode
    :math:`\\hat u_i` and scaled by
    :math:`\\sigma_i=(1+\\tau^2n_i\\hat\\mu_i(1-\\hat\\mu_i))^{-1/2}` (Liu & Pierce 1994),
    and maximised over :math:`(\\beta,\\tau^2\\ge0)` with analytic gradients. ``se_t``
    is taken from the inverse Hessian over :math:`(\\tau,\\beta)` jointly, as ``lme4``
    reports it. I^2 uses the typical within-study variance of the logits from
    ``escalc`` (as ``rma.glmm``).

    References
    ----------
    Liu Q, Pierce DA (1994). A note on Gauss-Hermite quadrature. Biometrika 81:624-629.
    doi:10.1093/biomet/81.3.624

    Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome
    in the framework of the generalized linear mixed model with applications in sparse
    data. Stat Med 29:3046-3067. doi:10.1002/sim.4040

    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models
    using lme4. J Stat Softw 67(1):1-48. doi:10.18637/jss.v067.i01

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop_glmm([16, 10, 4, 43, 10], [17, 12, 8, 58, 10])
    >>> res.method
    'GLMM'
    """
    level = check_level(level)
    events, totals, labels = _resolve_counts(events, totals, data, labels)
    x, n, labs = check_counts(events, totals, labels)
    test = check_choice(test, GLMM_TESTS, "test")
    fit = fit_glmm(x, n)
    return _result(fit, x, n, labs, level, test)


GLMM_TESTS = ("z", "t")
"""Tests of :func:`meta_prop_glmm`: normal quantile, or t with k - 1 df (metafor's
``rma.glmm(test="t")``)."""


def _result(fit: GlmmFit, x, n, labs, level, test="z") -> GlmmResult:
    """Report a GLMM fit as a :class:`GlmmResult` (z or t(k-1) intervals, PLO scale)."""
    es = escalc(x, n, measure="PLO")
    k = len(x)
    df = k - 1 if test == "t" else None
    # metafor rma.glmm / predict.rma: the same quantile for the CI and the PI
    if df is None:
        z = float(special.ndtri(0.5 + level / 2))
    else:
        z = float(special.stdtrit(df, 0.5 + level / 2))
    ci_t = Interval(fit.beta - z * fit.se, fit.beta + z * fit.se)
    half = z * np.sqrt(fit.se**2 + fit.tau2)
    pi_t = Interval(fit.beta - half, fit.beta + half)
    stat = fit.beta / fit.se
    if df is None:
        pvalue = float(2.0 * special.ndtr(-abs(stat)))
    else:
        pvalue = float(2.0 * special.stdtr(df, -abs(stat)))
    q_p = float(special.chdtrc(k - 1, fit.qe_wald))
    lrt_p = float(special.chdtrc(k - 1, fit.qe_lrt))
    notes = (
        f"heterogeneity: Wald QE({k - 1}) = {fit.qe_wald:.4f} (reported as q), "
        f"likelihood-ratio QE({k - 1}) = {fit.qe_lrt:.4f}, p = {lrt_p:.4g}",
        "study weights are not defined for the GLMM (as in metafor): weights are NaN",
        "I^2 uses the typical within-study variance of the escalc logits",
    )
    return GlmmResult(
        yi=es.yi,
        vi=es.vi,
        events=x,
        totals=n,
        labels=labs,
        measure="PLO",
        transform="PLO",
        ni=n.astype(float),
        method="GLMM",
        method_requested="GLMM",
        test=test,
        level=level,
        add=es.add,
        to=es.to,
        k=k,
        estimate_t=fit.beta,
        se_t=fit.se,
        ci_t=ci_t,
        pi_t=pi_t,
        statistic=stat,
        pvalue=pvalue,
        df=df,
        tau2=fit.tau2,
        se_tau2=np.nan,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.qe_wald,
        q_df=k - 1,
        q_pvalue=q_p,
        typical_vi=fit.vt,
        weights=np.full(k, np.nan),
        estimate=float(special.expit(fit.beta)),
        ci=Interval(float(special.expit(ci_t.low)), float(special.expit(ci_t.high))),
        pi=Interval(float(special.expit(pi_t.low)), float(special.expit(pi_t.high))),
        converged=True,  # fit_glmm raises when the optimiser fails
        notes=notes,
        qe_wald=fit.qe_wald,
        qe_wald_pvalue=q_p,
        qe_lrt=fit.qe_lrt,
        qe_lrt_pvalue=lrt_p,
        qe_df=k - 1,
    )


def _profile_loglik(obj: _Objective, beta: float, v0: float) -> tuple[float, float]:
    """Log-likelihood maximised over tau^2 >= 0 at a fixed pooled logit; ``(ll, tau2)``."""

    def fun(v):
        val, grad = obj.value_and_grad(np.array([beta, v[0]]))
        return val, grad[1:]

    opt = optimize.minimize(
        fun,
        np.array([max(v0, 1e-4)]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, _TAU2_MAX)],
        options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 200},
    )
    return -float(opt.fun), float(opt.x[0])


def glmm_profile_ci(events, totals, *, level=0.95) -> Interval:
    """Profile-likelihood confidence interval of the pooled logit of the GLMM.

    Parameters
    ----------
    events, totals : array-like of int
        Events and participants per study (k >= 2).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    Interval
        Bounds on the logit scale; a bound is infinite when the profile does not reach
        the cut-off within 40 logits of the estimate.

    Raises
    ------
    ValueError
        As :func:`meta_prop_glmm`.

    Notes
    -----
    The set of :math:`\\beta` with
    :math:`2[\\ell(\\hat\\beta,\\hat\\tau^2)-\\max_{\\tau^2\\ge0}\\ell(\\beta,\\tau^2)]\\le
    \\chi^2_{1,\\text{level}}`, the marginal likelihood computed as in
    :func:`meta_prop_glmm`; its bounds are found by Brent's method after bracketing.

    References
    ----------
    Hardy RJ, Thompson SG (1996). A likelihood approach to meta-analysis with random
    effects. Stat Med 15:619-629.
    doi:10.1002/(SICI)1097-0258(19960330)15:6<619::AID-SIM188>3.0.CO;2-A

    Examples
    --------
    >>> from metaprop.glmm import glmm_profile_ci
    >>> lo, hi = glmm_profile_ci([16, 10, 4, 43, 10], [17, 12, 8, 58, 10])
    >>> bool(lo < 1.3 < hi)
    True
    """
    level = check_level(level)
    x_int, n_int, _ = check_counts(events, totals)
    fit = fit_glmm(x_int, n_int)
    obj = _Objective(x_int.astype(float), n_int.astype(float))
    crit = float(special.ndtri(0.5 + level / 2)) ** 2
    state = {"v": max(fit.tau2, 1e-4)}

    def excess(beta):
        ll, v = _profile_loglik(obj, beta, state["v"])
        state["v"] = v
        return 2.0 * (fit.loglik - ll) - crit

    bounds = []
    for sign in (-1.0, 1.0):
        state["v"] = max(fit.tau2, 1e-4)
        step = max(fit.se, 0.05)
        inner, outer = fit.beta, fit.beta + sign * step
        while excess(outer) < 0:
            inner, outer = outer, outer + sign * step
            step *= 2.0
            if abs(outer - fit.beta) > 40.0:
                outer = None
                break
        if outer is None:
            bounds.append(sign * np.inf)
            continue
        a, b = sorted((inner, outer))
        bounds.append(float(optimize.brentq(excess, a, b, xtol=1e-8)))
    return Interval(bounds[0], bounds[1])
