"""Meta-regression in the binomial-normal GLMM (metafor ``rma.glmm(mods = ...)``).

The logit of study :math:`i` is :math:`x_i^T\\beta + \\tau u_i` with :math:`u_i\\sim N(0,1)`;
the random effect is integrated out by the same 7-point adaptive Gauss-Hermite quadrature
as :func:`metaprop.meta_prop_glmm` (metafor ``measure="PLO"``, ``model="UM.FS"``,
``method="ML"``, ``lme4::glmer(nAGQ = 7)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from metaprop._validation import check_choice, check_counts, check_level
from metaprop.effects import _resolve_counts, escalc
from metaprop.glmm import _TAU2_MAX, _loglik_terms, _modes

__all__ = ["GlmmRegressionResult", "meta_regression_glmm"]

_TESTS = ("z", "t")


@dataclass(frozen=True, eq=False, slots=True)
class GlmmRegressionResult:
    """A GLMM meta-regression of proportions (logit scale).

    Parameters
    ----------
    names : tuple of str
        Coefficient names (``"intercept"`` first when the model has one).
    beta, se, statistic, pvalue, ci_low, ci_high : ndarray, shape (p,)
        Coefficients, standard errors, Wald z (or t) statistics, their two-sided p-values
        and confidence bounds (read-only).
    vcov : ndarray, shape (p, p)
        Covariance matrix of the coefficients (read-only).
    tau2 : float
        Residual between-study variance of the logits.
    qm, qm_pvalue : float
        Omnibus Wald test of the moderators (every coefficient but the intercept): chi^2
        on ``qm_df`` df (``test="z"``), or ``QM / qm_df`` on F(``qm_df``, ``df``) (``"t"``),
        as metafor's ``QM``, ``QMp``.
    qm_df : int
        Number of coefficients tested.
    qe_wald, qe_wald_pvalue, qe_lrt, qe_lrt_pvalue : float
        Wald and likelihood-ratio tests for residual heterogeneity: the saturated logistic
        model (one logit per study) against the fixed-effects logistic regression on the
        moderators (metafor ``QE.Wld``, ``QE.LRT``), on ``qe_df = k - p`` df.
    qe_df : int
        k - p.
    i2, h2 : float
        Residual I^2 (percent) and H^2 from tau2 and the typical within-study variance of
        the escalc logits given the moderators.
    loglik : float
        Maximised marginal log-likelihood (with binomial coefficients). metafor's
        ``fit.stats`` for ``rma.glmm`` adds half of lme4's deviance to the saturated
        model's log-likelihood instead, which is a different number when tau2 > 0.
    k : int
        Number of studies.
    test : str
        ``"z"`` or ``"t"``.
    df : int or None
        Degrees of freedom of the t tests and intervals (k - p), None for z.
    level : float
        Confidence level.
    labels : tuple of str
        Study labels.

    Notes
    -----
    Built by :func:`meta_regression_glmm`, whose Notes give the model; the names follow
    metafor's ``rma.glmm`` object (``QM``, ``QE.Wld``, ``QE.LRT``, ``vb``).

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import metaprop as mp
    >>> reg = mp.meta_regression_glmm([5, 9, 14, 3, 8], [40, 41, 50, 33, 45], mods=[1, 2, 3, 4, 5])
    >>> reg.to_frame()["term"].tolist()
    ['intercept', 'mod1']
    """

    names: tuple[str, ...]
    beta: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray
    tau2: float
    qm: float
    qm_df: int
    qm_pvalue: float
    qe_wald: float
    qe_wald_pvalue: float
    qe_lrt: float
    qe_lrt_pvalue: float
    qe_df: int
    i2: float
    h2: float
    loglik: float
    k: int
    test: str
    df: int | None
    level: float
    labels: tuple[str, ...]

    def __post_init__(self):
        for name in ("beta", "se", "statistic", "pvalue", "ci_low", "ci_high", "vcov"):
            getattr(self, name).flags.writeable = False

    def to_frame(self):
        """The coefficient table: one row per coefficient.

        Returns
        -------
        pandas.DataFrame
            Columns ``term``, ``estimate``, ``se``, ``statistic``, ``pvalue``, ``ci_low``,
            ``ci_high`` (logit scale).
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "term": list(self.names),
                "estimate": self.beta,
                "se": self.se,
                "statistic": self.statistic,
                "pvalue": self.pvalue,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )

    def __repr__(self) -> str:
        return (
            f"GlmmRegressionResult(k={self.k}, terms={list(self.names)}, "
            f"tau2={self.tau2:.4g}, QM={self.qm:.4g} (df={self.qm_df}, "
            f"p={self.qm_pvalue:.4g}), QE_LRT={self.qe_lrt:.4g} (df={self.qe_df}))"
        )


def _design(mods, data, k, intercept):
    """Design matrix and coefficient names from ``mods`` (array or column names)."""
    if mods is None:
        cols, names = np.empty((k, 0)), []
    elif data is not None and (isinstance(mods, str) or _all_str(mods)):
        keys = [mods] if isinstance(mods, str) else list(mods)
        missing = [key for key in keys if key not in data.columns]
        if missing:
            raise ValueError(f"mods names columns that data does not have: {missing}")
        cols = np.column_stack([np.asarray(data[key], dtype=float) for key in keys])
        names = keys
    else:
        cols = np.asarray(mods, dtype=float)
        if cols.ndim == 1:
            cols = cols[:, None]
        if cols.ndim != 2 or cols.shape[0] != k:
            raise ValueError(f"mods must have one row per study ({k}), got shape {np.shape(mods)}")
        names = [f"mod{j + 1}" for j in range(cols.shape[1])]
        if hasattr(mods, "columns"):
            names = [str(c) for c in mods.columns]
        elif hasattr(mods, "name") and mods.name is not None:
            names = [str(mods.name)]
    if not np.all(np.isfinite(cols)):
        raise ValueError("mods must be finite numbers (no NaN or infinity)")
    if intercept:
        cols = np.column_stack([np.ones(k), cols])
        names = ["intercept", *names]
    if cols.shape[1] == 0:
        raise ValueError("the model has no coefficients: give mods or intercept=True")
    if np.linalg.matrix_rank(cols) < cols.shape[1]:
        raise ValueError(
            "the moderators are linearly dependent (or constant besides the intercept): "
            "drop the redundant columns"
        )
    if cols.shape[1] >= k:
        raise ValueError(
            f"{cols.shape[1]} coefficients need more than {cols.shape[1]} studies (k = {k})"
        )
    return cols, tuple(names)


def _all_str(values) -> bool:
    try:
        return all(isinstance(v, str) for v in values)
    except TypeError:
        return False


def _scaling(X, intercept):
    """metafor's ``scaleX``: centre and scale every non-0/1 moderator when there is an
    intercept. Returns the scaled matrix and ``M`` with ``beta = M @ beta_scaled``."""
    p = X.shape[1]
    M = np.eye(p)
    if not intercept or p == 1:
        return X, M
    Xs = X.copy()
    for j in range(1, p):
        col = X[:, j]
        if np.all((col == 0) | (col == 1)):
            continue
        mean, sd = col.mean(), col.std(ddof=1)
        Xs[:, j] = (col - mean) / sd
        M[0, j] = -mean / sd
        M[j, j] = 1.0 / sd
    return Xs, M


class _RegObjective:
    """Negative log-likelihood over (beta, tau^2) with warm-started modes."""

    def __init__(self, x, n, X):
        self.x, self.n, self.X = x, n, X
        self.logc = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
        self.u = np.zeros_like(x)

    def value_and_grad(self, par):
        beta, v = par[:-1], max(float(par[-1]), 0.0)
        tau = np.sqrt(v)
        eta0 = self.X @ beta
        ll, g_eta, g_t, self.u = _loglik_terms(eta0, tau, self.x, self.n, self.logc, self.u)
        if tau > 1e-6:
            g_v = g_t / (2.0 * tau)
        else:
            # limit tau -> 0: d loglik / d tau^2 = sum((x - n mu)^2 - n mu (1 - mu)) / 2
            mu = special.expit(eta0)
            g_v = 0.5 * float(np.sum((self.x - self.n * mu) ** 2 - self.n * mu * (1 - mu)))
        return -ll, -np.append(self.X.T @ g_eta, g_v)

    def grad_tau_beta(self, beta, tau):
        """Gradient of the log-likelihood over (tau, beta)."""
        _, g_eta, g_t, _ = _loglik_terms(
            self.X @ beta, tau, self.x, self.n, self.logc, self.u.copy()
        )
        return np.append(g_t, self.X.T @ g_eta)


def _logistic_fe(x, n, X, maxiter=200):
    """Fixed-effects logistic regression by Newton-Raphson; returns its log-likelihood."""
    beta = np.zeros(X.shape[1])
    xa = np.where((x == 0) | (x == n), x + 0.5, x)
    na = np.where((x == 0) | (x == n), n + 1.0, n)
    beta = np.linalg.lstsq(X, np.log(xa / (na - xa)), rcond=None)[0]

    def ll(b):
        eta = X @ b
        return float(np.sum(x * eta - n * np.logaddexp(0.0, eta)))

    cur = ll(beta)
    for _ in range(maxiter):
        mu = special.expit(X @ beta)
        grad = X.T @ (x - n * mu)
        info = X.T @ (X * (n * mu * (1 - mu))[:, None])
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-10:
            new = ll(beta + t * step)
            if new >= cur - 1e-12:
                break
            t /= 2.0
        beta = beta + t * step
        if abs(new - cur) <= 1e-14 * (1.0 + abs(cur)):
            cur = new
            break
        cur = new
    return cur


def _residual_tests(x, n, X):
    """Wald and likelihood-ratio tests of the saturated model against the logistic
    regression on ``X`` (k - p df); see :func:`metaprop.glmm._heterogeneity_tests`.

    The Wald statistic of the study contrasts that the regression leaves out is the
    weighted residual sum of squares of the saturated logits regressed on ``X`` with
    weights :math:`n_i\\hat p_i(1-\\hat p_i)` (0 for a study with 0 or :math:`n_i` events,
    the limit of its vanishing information).
    """
    p = x / n
    inner = (x > 0) & (x < n)
    w = np.where(inner, n * p * (1 - p), 0.0)
    yl = np.log(np.where(inner, x, 1.0) / np.where(inner, n - x, 1.0))
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(X * sw[:, None], yl * sw, rcond=None)[0]
    wald = float(np.sum(w * (yl - X @ coef) ** 2))
    ll_sat = float(np.sum(special.xlogy(x, p) + special.xlogy(n - x, 1 - p)))
    ll_fe = _logistic_fe(x, n, X)
    # both log-likelihoods without the binomial coefficients
    return max(wald, 0.0), max(2.0 * (ll_sat - ll_fe), 0.0)


def _hessian(obj, beta, tau):
    """Hessian over (tau, beta) by central differences of the analytic gradient (step
    1e-4 as lme4's ``deriv12``, shortened at the tau = 0 bound)."""
    p = len(beta)
    delta = 1e-4
    hess = np.empty((p + 1, p + 1))
    down = min(delta, tau)
    hess[0] = (obj.grad_tau_beta(beta, tau + delta) - obj.grad_tau_beta(beta, tau - down)) / (
        delta + down
    )
    for j in range(p):
        e = np.zeros(p)
        e[j] = delta
        hess[j + 1] = (obj.grad_tau_beta(beta + e, tau) - obj.grad_tau_beta(beta - e, tau)) / (
            2 * delta
        )
    return 0.5 * (hess + hess.T)


def _vcov(obj, beta, tau):
    """Covariance of beta: the beta block of the inverse Hessian over (tau, beta), as
    lme4; at tau = 0 (or without a negative definite Hessian) the penalised least-squares
    form :math:`(X^TWX)^{-1}`, :math:`W_i=n_i\\mu_i(1-\\mu_i)/(1+\\tau^2n_i\\mu_i(1-\\mu_i))`."""
    if tau > 0:
        hess = _hessian(obj, beta, tau)
        if np.all(np.isfinite(hess)) and np.all(np.linalg.eigvalsh(-hess) > 0):
            return np.linalg.inv(-hess)[1:, 1:]
    eta0 = obj.X @ beta
    u = _modes(eta0, tau, obj.x, obj.n, obj.u)
    mu = special.expit(eta0 + tau * u)
    s = obj.n * mu * (1 - mu)
    w = s / (1 + tau * tau * s)
    return np.linalg.inv(obj.X.T @ (obj.X * w[:, None]))


def _typical_variance(x, n, X):
    """metafor's typical within-study variance given the moderators: (k - p) / tr(P)."""
    es = escalc(x, n, measure="PLO")
    w = 1.0 / np.asarray(es.vi, dtype=float)
    XtW = X.T * w
    P = np.diag(w) - XtW.T @ np.linalg.solve(XtW @ X, XtW)
    return (len(x) - X.shape[1]) / np.trace(P)


def meta_regression_glmm(
    events,
    totals=None,
    mods=None,
    *,
    data=None,
    labels=None,
    intercept=True,
    level=0.95,
    test="z",
):
    """Meta-regression of proportions in the binomial-normal GLMM (metafor ``rma.glmm``).

    Parameters
    ----------
    events, totals : array-like of int or str
        Events and participants per study, or column names when ``data`` is given.
    mods : array-like, shape (k,) or (k, m), or str or list of str
        Numeric moderators (one column each; code a categorical moderator as 0/1 columns),
        or column names of ``data``. None fits the intercept-only model of
        :func:`metaprop.meta_prop_glmm`.
    data : pandas.DataFrame, optional
        Table holding the named columns.
    labels : array-like of str or str, optional
        Study labels (or a column name with ``data``).
    intercept : bool, default True
        Add an intercept (metafor's default).
    level : float, default 0.95
        Confidence level of the coefficient intervals.
    test : {"z", "t"}, default "z"
        Normal tests and intervals, or t with k - p df and the omnibus test as F
        (metafor ``test="t"``).

    Returns
    -------
    GlmmRegressionResult

    Raises
    ------
    ValueError
        Bad counts, moderators of the wrong shape, non-finite or linearly dependent, as
        many coefficients as studies, separated data or no convergence.

    Notes
    -----
    :math:`x_i\\sim\\mathrm{Bin}(n_i,\\mathrm{expit}(x_i^T\\beta+\\tau u_i))`,
    :math:`u_i\\sim N(0,1)`. The marginal likelihood is approximated by 7-point adaptive
    Gauss-Hermite quadrature per study (Liu & Pierce 1994) and maximised over
    :math:`(\\beta,\\tau^2\\ge0)` with analytic gradients; moderators other than 0/1
    columns are centred and scaled while fitting and the coefficients transformed back
    (metafor's ``scaleX``). The covariance of :math:`\\hat\\beta` is the corresponding
    block of the inverse Hessian over :math:`(\\tau,\\beta)` (as ``lme4``). The omnibus
    test is :math:`Q_M=\\hat\\beta_M^T V_M^{-1}\\hat\\beta_M` over the moderators' coefficients.
    The tests for residual heterogeneity compare the saturated logistic model with the
    fixed-effects logistic regression on the moderators (Stijnen et al. 2010).

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome
    in the framework of the generalized linear mixed model with applications in sparse
    data. Stat Med 29:3046-3067. doi:10.1002/sim.4040

    Liu Q, Pierce DA (1994). A note on Gauss-Hermite quadrature. Biometrika 81:624-629.
    doi:10.1093/biomet/81.3.624

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import metaprop as mp
    >>> x, n = [16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42]
    >>> reg = mp.meta_regression_glmm(x, n, mods=[1, 1, 0, 0, 1, 0])
    >>> reg.names, reg.qm_df, reg.qe_df
    (('intercept', 'mod1'), 1, 4)
    """
    level = check_level(level)
    test = check_choice(test, _TESTS, "test")
    events, totals, labels = _resolve_counts(events, totals, data, labels)
    x_int, n_int, labs = check_counts(events, totals, labels)
    x, n = x_int.astype(float), n_int.astype(float)
    k = len(x)
    X, names = _design(mods, data, k, intercept)
    if x.sum() == 0 or x.sum() == n.sum():
        raise ValueError(
            "every study has 0 events or only events: the logistic likelihood has no "
            "finite maximum (complete separation)"
        )
    p = X.shape[1]
    Xs, M = _scaling(X, intercept)
    obj = _RegObjective(x, n, Xs)
    xa = np.where((x == 0) | (x == n), x + 0.5, x)
    na = np.where((x == 0) | (x == n), n + 1.0, n)
    b0 = np.linalg.lstsq(Xs, np.log(xa / (na - xa)), rcond=None)[0]
    opt = optimize.minimize(
        obj.value_and_grad,
        np.append(b0, 0.1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None)] * p + [(0.0, None)],
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 1000},
    )
    beta_s, tau2 = opt.x[:-1], float(max(opt.x[-1], 0.0))
    if tau2 > _TAU2_MAX or np.any(np.abs(Xs @ beta_s) > 30):
        raise ValueError(
            "the GLMM regression diverges: the studies are (quasi-)separated given the "
            "moderators, and the binomial-normal likelihood has no finite maximum"
        )
    grad_ok = np.all(np.abs(opt.jac[:-1]) < 1e-5) and (abs(opt.jac[-1]) < 1e-5 or tau2 == 0)
    if not (np.isfinite(opt.fun) and (opt.success or grad_ok)):
        raise ValueError(f"the GLMM regression likelihood did not converge ({opt.message})")
    tau = np.sqrt(tau2)
    vb_s = _vcov(obj, beta_s, tau)
    beta = M @ beta_s
    vb = M @ vb_s @ M.T
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    df = k - p if test == "t" else None
    if df is None:
        crit = float(special.ndtri(0.5 + level / 2))
        pval = 2.0 * special.ndtr(-np.abs(stat))
    else:
        crit = float(special.stdtrit(df, 0.5 + level / 2))
        pval = 2.0 * special.stdtr(df, -np.abs(stat))
    btt = np.arange(1 if intercept and p > 1 else 0, p)
    qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    m = len(btt)
    if df is None:
        qm_p = float(special.chdtrc(m, qm))
    else:
        qm = qm / m
        qm_p = float(special.fdtrc(m, df, qm))
    wald, lrt = _residual_tests(x, n, X)
    qe_df = k - p
    vt = _typical_variance(x_int, n_int, X)
    return GlmmRegressionResult(
        names=names,
        beta=beta,
        se=se,
        statistic=stat,
        pvalue=pval,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        vcov=vb,
        tau2=tau2,
        qm=qm,
        qm_df=m,
        qm_pvalue=qm_p,
        qe_wald=wald,
        qe_wald_pvalue=float(special.chdtrc(qe_df, wald)),
        qe_lrt=lrt,
        qe_lrt_pvalue=float(special.chdtrc(qe_df, lrt)),
        qe_df=qe_df,
        i2=100.0 * tau2 / (vt + tau2),
        h2=tau2 / vt + 1.0,
        loglik=-float(opt.fun),
        k=k,
        test=test,
        df=df,
        level=level,
        labels=labs,
    )
