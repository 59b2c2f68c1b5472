"""Bayesian binomial-normal random-effects meta-analysis of proportions, by quadrature.

Study :math:`i` has :math:`x_i\\sim\\mathrm{Bin}(n_i,\\mathrm{expit}(\\theta_i))` with
:math:`\\theta_i\\sim N(\\mu,\\tau^2)`; the priors are :math:`\\mu\\sim N(m_0, s_0^2)` (vague)
and :math:`\\tau\\sim\\mathrm{HN}(s)` (weakly informative). The posterior of
:math:`(\\mu,\\tau)` is computed on a grid, with each study's :math:`\\theta_i` integrated
out by adaptive Gauss-Hermite quadrature: deterministic (no MCMC, no random numbers), and
vectorised over the grid so one fit takes milliseconds.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np
from scipy import integrate, interpolate, optimize, special

from metaprop._validation import check_counts, check_level, plain, readonly_arrays
from metaprop.effects import _resolve_counts
from metaprop.results import Interval

__all__ = ["BayesResult", "meta_prop_bayes"]

TAU_SCALE = 1.0
"""Default scale of the half-normal prior on tau (logit scale).

Röver et al. (2021) and Friede et al. (2017) use half-normal scales 0.5 (typical) and 1.0
(conservative) for log odds ratios, whose heterogeneity is smaller than that of logits of
single-arm rates (a rate varies with the population, a ratio cancels much of that). Scale
1.0 gives a prior median tau of 0.67 and a 95% quantile of 1.96 logits: "substantial" to
"extreme" heterogeneity on Spiegelhalter et al.'s (2004) scale for logits is allowed,
values beyond 2.5 (proportions spread over almost all of 0-1) are not expected."""

MU_SD = 10.0
"""Default standard deviation of the normal prior on mu (logit scale), mean 0: flat over
every logit a proportion between 1e-4 and 1 - 1e-4 can take, so the data decide."""

_MIN_GRID = 16
_NEWTON_MAXITER = 60
_NEWTON_TOL = 1e-10
_TAIL = 36.0  # grid edges where the log posterior is 36 below its maximum (e^-36 ~ 2e-16)
_PRIOR_TAU_SD_MAX = 8.5  # the first grid of tau ends at 8.5 prior scales (tail mass 2e-17)
_TAU_FLOOR = 1e-6  # tau = 0 is the limit of the model; the grid starts just above it


@dataclass(frozen=True, eq=False, slots=True)
class BayesResult:
    """A Bayesian binomial-normal meta-analysis of proportions: inputs, options, outputs.

    Built by :func:`metaprop.meta_prop_bayes`; the fields are read-only (arrays too).

    Parameters
    ----------
    events, totals : ndarray of int
        Counts per study.
    labels : tuple of str
        Study labels.
    k : int
        Number of studies.
    level : float
        Credible level (fraction) of the equal-tailed intervals.
    tau_scale : float
        Scale of the half-normal prior on tau.
    mu_prior_mean, mu_prior_sd : float
        Mean and standard deviation of the normal prior on mu.
    n_mu, n_tau, n_nodes : int
        Grid points for mu and tau, Gauss-Hermite nodes per study.
    estimate : float
        Posterior median of the pooled proportion :math:`\\mathrm{expit}(\\mu)`.
    ci : Interval
        Equal-tailed credible interval of the pooled proportion.
    pi : Interval
        Equal-tailed posterior predictive interval of a new study's true proportion
        :math:`\\mathrm{expit}(\\theta_{new})`, :math:`\\theta_{new}\\sim N(\\mu,\\tau^2)`.
    mu, mu_ci, mu_mean, mu_sd : float, Interval, float, float
        Posterior median, credible interval, mean and standard deviation of mu (logit).
    pi_t : Interval
        Predictive interval on the logit scale.
    tau, tau_ci, tau_mean : float, Interval, float
        Posterior median, credible interval and mean of tau.
    mu_grid, tau_grid, posterior : ndarray
        The grid and the normalised posterior mass of each ``(mu, tau)`` cell
        (shape ``(n_mu, n_tau)``, sums to 1).
    log_evidence : float
        Log marginal likelihood of the data (binomial coefficients included).

    Notes
    -----
    Intervals are equal-tailed: the :math:`\\alpha/2` and :math:`1-\\alpha/2` posterior
    quantiles, mapped to proportions by the logistic function (quantiles are invariant
    under monotone maps, so ``estimate`` is exactly :math:`\\mathrm{expit}` of ``mu``).

    References
    ----------
    Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
    J Stat Softw 93(6):1-51. doi:10.18637/jss.v093.i06

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop_bayes([4, 10, 7], [20, 25, 30])
    >>> res.k, res.tau_scale
    (3, 1.0)
    >>> res.posterior.flags.writeable
    False
    """

    events: np.ndarray
    totals: np.ndarray
    labels: tuple[str, ...]
    k: int
    level: float
    tau_scale: float
    mu_prior_mean: float
    mu_prior_sd: float
    n_mu: int
    n_tau: int
    n_nodes: int
    estimate: float
    ci: Interval
    pi: Interval
    mu: float
    mu_ci: Interval
    mu_mean: float
    mu_sd: float
    pi_t: Interval
    tau: float
    tau_ci: Interval
    tau_mean: float
    mu_grid: np.ndarray
    tau_grid: np.ndarray
    posterior: np.ndarray
    log_evidence: float

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        readonly_arrays(self)

    def to_dict(self) -> dict:
        """Options and scalar results as a flat dict of plain Python values.

        Examples
        --------
        >>> import metaprop as mp
        >>> d = mp.meta_prop_bayes([4, 10, 7], [20, 25, 30]).to_dict()
        >>> d["method"], d["k"], d["tau_scale"]
        ('Bayes-BNHN', 3, 1.0)
        """
        return {
            "method": "Bayes-BNHN",
            "k": self.k,
            "level": self.level,
            "tau_scale": self.tau_scale,
            "mu_prior_mean": self.mu_prior_mean,
            "mu_prior_sd": self.mu_prior_sd,
            "n_mu": self.n_mu,
            "n_tau": self.n_tau,
            "n_nodes": self.n_nodes,
            "estimate": self.estimate,
            "ci_low": self.ci.low,
            "ci_high": self.ci.high,
            "pi_low": self.pi.low,
            "pi_high": self.pi.high,
            "mu": self.mu,
            "mu_ci_low": self.mu_ci.low,
            "mu_ci_high": self.mu_ci.high,
            "mu_mean": self.mu_mean,
            "mu_sd": self.mu_sd,
            "pi_t_low": self.pi_t.low,
            "pi_t_high": self.pi_t.high,
            "tau": self.tau,
            "tau_ci_low": self.tau_ci.low,
            "tau_ci_high": self.tau_ci.high,
            "tau_mean": self.tau_mean,
            "log_evidence": self.log_evidence,
        }

    def to_frame(self):
        """The :meth:`to_dict` values as a one-row DataFrame.

        Examples
        --------
        >>> import metaprop as mp
        >>> mp.meta_prop_bayes([4, 10, 7], [20, 25, 30]).to_frame().shape[0]
        1
        """
        import pandas as pd

        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        """A printable report: model and priors, pooled proportion, prediction, tau.

        Examples
        --------
        >>> import metaprop as mp
        >>> print(mp.meta_prop_bayes([4, 10, 7], [20, 25, 30]).summary())
        Bayesian binomial-normal meta-analysis of proportions (k = 3)
          priors: mu ~ N(0, 10^2), tau ~ half-normal(1) (logit scale)
          computed by quadrature: 160 x 80 grid, 16 Gauss-Hermite nodes per study
        <BLANKLINE>
        Pooled proportion (posterior median): 27.33% (95% CrI 11.81% to 49.40%)
        Prediction (new study's proportion):  5.53% to 69.05%
        Logit scale: mu median -0.9781, mean -0.9889, sd 0.4882
        Heterogeneity: tau median 0.4602 (95% CrI 0.0230 to 1.6618), mean 0.5570
        """
        pct = f"{100 * self.level:g}%"
        lines = [
            f"Bayesian binomial-normal meta-analysis of proportions (k = {self.k})",
            f"  priors: mu ~ N({self.mu_prior_mean:g}, {self.mu_prior_sd:g}^2), "
            f"tau ~ half-normal({self.tau_scale:g}) (logit scale)",
            f"  computed by quadrature: {self.n_mu} x {self.n_tau} grid, "
            f"{self.n_nodes} Gauss-Hermite nodes per study",
            "",
            f"Pooled proportion (posterior median): {_pct(self.estimate)} "
            f"({pct} CrI {_pct(self.ci.low)} to {_pct(self.ci.high)})",
            f"Prediction (new study's proportion):  {_pct(self.pi.low)} to {_pct(self.pi.high)}",
            f"Logit scale: mu median {self.mu:.4f}, mean {self.mu_mean:.4f}, sd {self.mu_sd:.4f}",
            f"Heterogeneity: tau median {self.tau:.4f} ({pct} CrI {self.tau_ci.low:.4f} to "
            f"{self.tau_ci.high:.4f}), mean {self.tau_mean:.4f}",
        ]
        if self.k == 1:
            note = (
                "Note: with one study, tau is informed by its prior only; the credible "
                "interval of the pooled proportion is wider than the study's own interval."
            )
            lines.extend(textwrap.wrap(note, 88, subsequent_indent="      "))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"BayesResult(k={self.k}, estimate={self.estimate:.4g}, "
            f"ci=({self.ci.low:.4g}, {self.ci.high:.4g}), "
            f"pi=({self.pi.low:.4g}, {self.pi.high:.4g}), tau={self.tau:.4g}, "
            f"tau_scale={self.tau_scale:g})"
        )


def _pct(p: float) -> str:
    return f"{100 * p:.2f}%"


def _positive(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {plain(value)}") from None
    if not (np.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a positive finite number, got {plain(value)}")
    return out


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {plain(value)}")
    return int(value)


def _modes(x, n, mu, tau2):
    """Mode of each study's conditional log density of theta (bracketed Newton).

    Maximises :math:`h(\\theta)=x\\theta-n\\log(1+e^\\theta)-(\\theta-\\mu)^2/(2\\tau^2)`,
    concave; its root lies between :math:`\\mu` and the study's own logit. Arrays broadcast.
    """
    shape = np.broadcast_shapes(np.shape(x), np.shape(n), np.shape(mu), np.shape(tau2))
    x, n, mu, tau2 = (np.broadcast_to(a, shape).ravel() for a in (x, n, mu, tau2))
    # the root lies between mu and the study's own logit (h' changes sign there); with 0
    # (or n) events, between mu and mu -+ tau^2 n expit(-+mu), where h' has the other sign
    with np.errstate(divide="ignore"):
        own = np.log(x / (n - x))
    pm = special.expit(mu)
    own = np.where(x == 0, mu - tau2 * n * pm, np.where(x == n, mu + tau2 * n * (1 - pm), own))
    lo = np.minimum(mu, own)
    hi = np.maximum(mu, own)
    # start: the normal-normal posterior of theta with the study's empirical logit
    y = np.log((x + 0.5) / (n - x + 0.5))
    v = 1.0 / (x + 0.5) + 1.0 / (n - x + 0.5)
    t = np.clip((y * tau2 + mu * v) / (tau2 + v), lo, hi)
    last = hi - lo
    out = t.copy()
    idx = np.arange(t.size)  # the elements still iterating
    for _ in range(_NEWTON_MAXITER):
        xa, na, ma, ta = x[idx], n[idx], mu[idx], tau2[idx]
        p = special.expit(t)
        g = xa - na * p - (t - ma) / ta
        lo = np.where(g > 0, t, lo)
        hi = np.where(g < 0, t, hi)
        step = g / (na * p * (1.0 - p) + 1.0 / ta)
        new = t + step
        # bisect when Newton leaves the bracket or does not halve its step (Press et al.
        # 2007, rtsafe): a Newton cycle on the sigmoid cannot then stall the iteration
        slow = (new <= lo) | (new >= hi) | (np.abs(step) > 0.5 * np.abs(last))
        new = np.where(slow, 0.5 * (lo + hi), new)
        last = new - t
        done = np.abs(last) <= _NEWTON_TOL * (1.0 + np.abs(t))
        out[idx] = new
        if done.all():
            return out.reshape(shape)
        keep = ~done
        idx, t, lo, hi, last = idx[keep], new[keep], lo[keep], hi[keep], last[keep]
    raise ValueError("the conditional modes of the study logits did not converge")


def _log_lik(x, n, logc, mu, tau, nodes, logw):
    """Log marginal likelihood of all studies on the ``(mu, tau)`` grid, shape ``(M, T)``.

    Each study's :math:`\\int \\mathrm{Bin}(x_i\\mid\\mathrm{expit}\\theta)\\,
    \\phi((\\theta-\\mu)/\\tau)/\\tau\\,d\\theta` by adaptive Gauss-Hermite quadrature
    (Liu & Pierce 1994): nodes :math:`\\hat\\theta+\\sqrt2\\hat\\sigma z_g` around the mode
    :math:`\\hat\\theta` with :math:`\\hat\\sigma^{-2}=n\\hat p(1-\\hat p)+\\tau^{-2}`.
    """
    m = mu[:, None, None]
    t2 = (tau * tau)[None, :, None]
    xs, ns = x[None, None, :], n[None, None, :]
    th = _modes(xs, ns, m, t2)
    p = special.expit(th)
    sig = 1.0 / np.sqrt(ns * p * (1.0 - p) + 1.0 / t2)

    def h(theta):
        return xs * theta - ns * np.logaddexp(0.0, theta) - 0.5 * (theta - m) ** 2 / t2

    h0 = h(th)
    th_g = th[..., None] + math.sqrt(2.0) * sig[..., None] * nodes
    a = h(th_g.transpose(3, 0, 1, 2)).transpose(1, 2, 3, 0) - h0[..., None] + logw
    amax = a.max(axis=-1)
    lse = amax + np.log(np.exp(a - amax[..., None]).sum(axis=-1))
    # sqrt(2) sigma / (sqrt(2 pi) tau) = sigma / (sqrt(pi) tau)
    per_study = logc + np.log(sig) - 0.5 * np.log(np.pi * t2) + h0 + lse
    return per_study.sum(axis=-1)


def _trapezoid(grid):
    """Trapezoidal-rule weights of any increasing grid."""
    d = np.diff(grid)
    return 0.5 * (np.concatenate([[0.0], d]) + np.concatenate([d, [0.0]]))


def _support(grid, log_density):
    """The grid range where the log density is within ``_TAIL`` of its maximum, widened
    by one grid point each side."""
    keep = np.flatnonzero(log_density >= log_density.max() - _TAIL)
    lo, hi = max(keep[0] - 1, 0), min(keep[-1] + 1, len(grid) - 1)
    return float(grid[lo]), float(grid[hi])


def _quantile(grid, density, q):
    """Quantile of a density tabulated on an equally spaced grid.

    The CDF at the grid points is integrated by Simpson's rule (``cumulative_simpson``),
    interpolated by a monotone cubic (PCHIP) and inverted by Brent's method.
    """
    cdf = integrate.cumulative_simpson(density, x=grid, initial=0.0)
    cdf = np.maximum.accumulate(np.maximum(cdf, 0.0))
    cdf /= cdf[-1]
    spline = interpolate.PchipInterpolator(grid, cdf)
    j = int(np.clip(np.searchsorted(cdf, q, side="left"), 1, len(grid) - 1))
    lo, hi = grid[j - 1], grid[j]
    if cdf[j] == cdf[j - 1]:
        return float(0.5 * (lo + hi))
    return float(optimize.brentq(lambda t: spline(t) - q, lo, hi, xtol=1e-12))


def meta_prop_bayes(
    events,
    totals=None,
    *,
    data=None,
    labels=None,
    tau_scale: float = TAU_SCALE,
    mu_prior_mean: float = 0.0,
    mu_prior_sd: float = MU_SD,
    level: float = 0.95,
    n_mu: int = 160,
    n_tau: int = 80,
    n_nodes: int = 16,
) -> BayesResult:
    """Bayesian binomial-normal random-effects meta-analysis of proportions.

    Parameters
    ----------
    events, totals : array-like of int or str
        Events and participants per study, or column names when ``data`` is given.
    data : pandas.DataFrame, optional
        Table holding the columns named by ``events``, ``totals`` and ``labels``.
    labels : array-like of str or str, optional
        Study labels (or a column name with ``data``).
    tau_scale : float, default 1.0
        Scale of the half-normal prior on tau, the between-study standard deviation of the
        logits (see :data:`TAU_SCALE` for why 1.0).
    mu_prior_mean, mu_prior_sd : float, default 0 and 10
        Normal prior on mu, the mean logit (vague: see :data:`MU_SD`).
    level : float, default 0.95
        Level of the equal-tailed credible and predictive intervals.
    n_mu, n_tau, n_nodes : int, default 160, 80, 16
        Resolution: grid points for mu, cells of equal prior mass for tau, adaptive
        Gauss-Hermite nodes per study. The defaults give quantiles to about 1e-4 logits
        (``tests/test_bayes.py`` doubles each to check).

    Returns
    -------
    BayesResult
        Posterior medians, equal-tailed credible intervals of the pooled proportion and of
        tau, and the posterior predictive interval of a new study's proportion.

    Raises
    ------
    ValueError
        Bad counts (named by study), a prior scale that is not a positive number, a level
        outside (0, 1) or a resolution below 16 grid points (4 nodes).

    Notes
    -----
    Model: :math:`x_i\\sim\\mathrm{Bin}(n_i,\\mathrm{expit}\\,\\theta_i)`,
    :math:`\\theta_i\\sim N(\\mu,\\tau^2)`, :math:`\\mu\\sim N(m_0,s_0^2)`,
    :math:`\\tau\\sim\\mathrm{HN}(s)` (the binomial-normal model of Stijnen et al. 2010,
    with the half-normal heterogeneity prior of Friede et al. 2017 and Röver 2020).

    Computation: the likelihood of study :math:`i` at :math:`(\\mu,\\tau)` integrates
    :math:`\\theta_i` out by adaptive Gauss-Hermite quadrature around the mode of its
    conditional density (Liu & Pierce 1994), exact at :math:`\\tau\\to0`. Tau takes
    ``n_tau`` values at the midpoints of cells of equal prior mass (uniform in the prior
    CDF), so each carries prior weight ``1/n_tau``; mu takes ``n_mu`` equally spaced
    values over the range where the log posterior is within 36 of its maximum (found on a
    first, wide grid), integrated by the trapezoidal rule. Quantiles of mu and tau invert
    the tabulated marginal CDFs (linear interpolation); the predictive quantiles solve
    :math:`\\sum_{jk} w_{jk}\\Phi((t-\\mu_j)/\\tau_k)=q` (Brent's method).

    As ``tau_scale`` goes to 0 the result approaches the common-effect posterior
    :math:`p(\\mu\\mid x)\\propto N(\\mu;m_0,s_0^2)\\prod_i\\mathrm{Bin}(x_i\\mid
    \\mathrm{expit}\\,\\mu)`. With a single study, or with studies that all have 0 (or
    all :math:`n_i`) events, the tail of the posterior of mu follows the prior: a 0/n
    study alone gives a posterior median far below 1/n.

    References
    ----------
    Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
    J Stat Softw 93(6):1-51. doi:10.18637/jss.v093.i06

    Friede T, Röver C, Wandel S, Neuenschwander B (2017). Meta-analysis of two studies in
    the presence of heterogeneity with applications in rare diseases. Biom J 59:658-671.
    doi:10.1002/bimj.201500236

    Röver C, Bender R, Dias S, et al. (2021). On weakly informative prior distributions
    for the heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth
    Methods 12:448-474. doi:10.1002/jrsm.1475

    Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome
    in the framework of the generalized linear mixed model with applications in sparse
    data. Stat Med 29:3046-3067. doi:10.1002/sim.4040

    Liu Q, Pierce DA (1994). A note on Gauss-Hermite quadrature. Biometrika 81:624-629.
    doi:10.1093/biomet/81.3.624

    Spiegelhalter DJ, Abrams KR, Myles JP (2004). Bayesian approaches to clinical trials
    and health-care evaluation. Wiley, Chichester. doi:10.1002/0470092602

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop_bayes([16, 10, 4, 43, 10], [17, 12, 8, 58, 10])
    >>> bool(res.ci.low < res.estimate < res.ci.high), bool(res.pi.low < res.ci.low)
    (True, True)
    """
    level = check_level(level)
    events, totals, labels = _resolve_counts(events, totals, data, labels)
    x_int, n_int, labs = check_counts(events, totals, labels)
    scale = _positive(tau_scale, "tau_scale")
    m0 = float(mu_prior_mean)
    if not np.isfinite(m0):
        raise ValueError(f"mu_prior_mean must be finite, got {plain(mu_prior_mean)}")
    s0 = _positive(mu_prior_sd, "mu_prior_sd")
    n_mu = _count(n_mu, "n_mu", _MIN_GRID)
    n_tau = _count(n_tau, "n_tau", _MIN_GRID)
    n_nodes = _count(n_nodes, "n_nodes", 4)

    x = x_int.astype(float)
    n = n_int.astype(float)
    logc = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    z, w = np.polynomial.hermite.hermgauss(n_nodes)
    logw = np.log(w) + z * z  # physicists' rule: weight e^{-z^2} moved into the integrand
    tau_top = scale * _PRIOR_TAU_SD_MAX

    def log_post(mu_values, tau_values):
        lp = _log_lik(x, n, logc, mu_values, tau_values, z, logw)
        # N(m0, s0^2) on mu, half-normal(scale) on tau, without their constants
        return lp - 0.5 * ((mu_values[:, None] - m0) / s0) ** 2 - 0.5 * (tau_values / scale) ** 2

    # pass 1: a wide grid (the prior's range) merged with a fine one around the data
    y = np.log((x + 0.5) / (n - x + 0.5))
    v = 1.0 / (x + 0.5) + 1.0 / (n - x + 0.5)
    centre = float(np.average(y, weights=1.0 / v))
    half = 6.0 * math.sqrt(1.0 / np.sum(1.0 / v)) + float(np.ptp(y)) + 4.0 * scale
    wide = np.linspace(m0 - 8.0 * s0, m0 + 8.0 * s0, 2 * n_mu // 3)
    fine = np.linspace(centre - half, centre + half, n_mu // 2)
    mu1 = np.unique(np.concatenate([wide, fine]))
    tau1 = np.linspace(_TAU_FLOOR * scale, tau_top, n_tau)
    lp1 = log_post(mu1, tau1)
    lm1 = special.logsumexp(lp1, axis=1)
    mu_lo, mu_hi = _support(mu1, lm1)
    t_lo, t_hi = _support(tau1, special.logsumexp(lp1, axis=0))
    # pass 2: the grid of the result over the range that carries the posterior; mu is
    # spaced uniformly in u = asinh((mu - c) / a), dense near the centre c (the pass-1
    # posterior mean) on the scale a (its sd), sparse in the tails
    p1 = np.exp(lm1 - lm1.max()) * _trapezoid(mu1)
    p1 /= p1.sum()
    c = float(np.sum(p1 * mu1))
    a = max(float(np.sqrt(np.sum(p1 * (mu1 - c) ** 2))), 1e-3 * (mu_hi - mu_lo))
    u = np.linspace(np.arcsinh((mu_lo - c) / a), np.arcsinh((mu_hi - c) / a), n_mu)
    mu = c + a * np.sinh(u)
    jac = a * np.cosh(u)  # d mu / d u
    tau = np.linspace(max(t_lo, _TAU_FLOOR * scale), t_hi, n_tau)
    lp = log_post(mu, tau)
    lmax = lp.max()
    dens = np.exp(lp - lmax)
    w_mu, w_tau = _trapezoid(u) * jac, _trapezoid(tau)
    mass = dens * w_mu[:, None] * w_tau[None, :]
    total = mass.sum()
    post = mass / total
    # prior constants: N(m0, s0^2) and half-normal 2 / (scale sqrt(2 pi))
    log_evidence = float(
        lmax
        + np.log(total)
        - 0.5 * np.log(2 * np.pi * s0 * s0)
        + np.log(2.0 / (scale * math.sqrt(2 * np.pi)))
    )

    alpha = 1.0 - level
    qs = (alpha / 2.0, 0.5, 1.0 - alpha / 2.0)
    fm = dens @ w_tau  # marginal density of mu at the grid points (unnormalised)
    ft = w_mu @ dens
    # quantiles of u (density f(mu(u)) mu'(u)), mapped back to mu
    mu_lo, mu_med, mu_hi = (float(c + a * np.sinh(_quantile(u, fm * jac, q))) for q in qs)
    tau_lo, tau_med, tau_hi = (_quantile(tau, ft, q) for q in qs)
    pm, pt = post.sum(axis=1), post.sum(axis=0)
    mu_mean = float(np.sum(pm * mu))
    mu_sd = float(np.sqrt(max(np.sum(pm * (mu - mu_mean) ** 2), 0.0)))
    tau_mean = float(np.sum(pt * tau))
    # predictive: theta_new ~ N(mu, tau^2) mixed over the posterior
    nz = post > 1e-300
    pw = post[nz]
    pmu = np.broadcast_to(mu[:, None], post.shape)[nz]
    # the trapezoidal rule reads the posterior as piecewise linear in mu, a mixture of
    # hat functions of variance h^2/6 (h the local spacing): each kernel N(mu, tau^2) is
    # widened by it, so the predictive CDF stays smooth when tau is below the spacing
    h2 = (jac * (u[1] - u[0])) ** 2 / 6.0
    ptau = np.sqrt(tau[None, :] ** 2 + h2[:, None])[nz]

    def pred_cdf(t):
        return float(np.sum(pw * special.ndtr((t - pmu) / ptau)))

    span = mu[-1] - mu[0] + 10.0 * tau[-1]
    bracket = (mu[0] - span, mu[-1] + span)
    pred = [
        optimize.brentq(lambda t, q=q: pred_cdf(t) - q, *bracket, xtol=1e-10)
        for q in (qs[0], qs[2])
    ]
    expit = special.expit
    return BayesResult(
        events=_frozen(x_int),
        totals=_frozen(n_int),
        labels=labs,
        k=len(x_int),
        level=level,
        tau_scale=scale,
        mu_prior_mean=m0,
        mu_prior_sd=s0,
        n_mu=n_mu,
        n_tau=n_tau,
        n_nodes=n_nodes,
        estimate=float(expit(mu_med)),
        ci=Interval(float(expit(mu_lo)), float(expit(mu_hi))),
        pi=Interval(float(expit(pred[0])), float(expit(pred[1]))),
        mu=mu_med,
        mu_ci=Interval(mu_lo, mu_hi),
        mu_mean=mu_mean,
        mu_sd=mu_sd,
        pi_t=Interval(float(pred[0]), float(pred[1])),
        tau=tau_med,
        tau_ci=Interval(tau_lo, tau_hi),
        tau_mean=tau_mean,
        mu_grid=_frozen(mu),
        tau_grid=_frozen(tau),
        posterior=_frozen(post),
        log_evidence=log_evidence,
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out
