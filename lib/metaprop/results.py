"""The fitted meta-analysis: :class:`MetaResult` and :class:`Interval`."""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special

from metaprop import _validation as val
from metaprop.heterogeneity import q_profile
from metaprop.transforms import back_interval, back_transform

__all__ = ["Interval", "LeaveOneOutResult", "MetaResult"]

_DISTS = ("z", "t(k-1)", "t(k-2)")
_METHOD_NAMES = {
    "FE": "fixed-effect",
    "DL": "DerSimonian-Laird",
    "REML": "restricted maximum likelihood",
    "ML": "maximum likelihood",
    "PM": "Paule-Mandel",
    "HE": "Hedges",
    "SJ": "Sidik-Jonkman",
    "HS": "Hunter-Schmidt",
    "EB": "empirical Bayes",
    "GLMM": "binomial-normal GLMM",
}
_SCALE_NAMES = {
    "PR": "raw proportion",
    "PLO": "logit",
    "PAS": "arcsine square root",
    "PFT": "Freeman-Tukey double arcsine",
    "PLN": "log proportion",
    "identity": "identity",
    "logit": "logit",
    "cloglog": "complementary log-log, log(-log S)",
    "arcsine": "arcsine square root",
}
_TEST_NAMES = {
    "z": "z (normal)",
    "knha": "Hartung-Knapp (knha)",
    "adhoc": "Hartung-Knapp with the ad hoc floor (adhoc)",
    "t": "t(k-1) quantile (GLMM, metafor test='t')",
}
_WIDTH = 88


class Interval(NamedTuple):
    """A confidence or prediction interval ``(low, high)``; unpacks as a pair.

    Parameters
    ----------
    low, high : float
        Lower and upper bound (``low <= high``; NaN when not estimable).

    Notes
    -----
    A two-sided interval at level :math:`1-\\alpha`; on the proportion scale the bounds
    are the back-transformed bounds of the analysis scale, put in increasing order (a
    decreasing scale such as cloglog swaps them). The shape of scipy's
    ``ConfidenceInterval``.

    References
    ----------
    Virtanen P, Gommers R, Oliphant TE, et al. (2020). SciPy 1.0: fundamental algorithms
    for scientific computing in Python. Nat Methods 17:261-272.
    doi:10.1038/s41592-019-0686-2

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 10, 7], [20, 25, 30])
    >>> low, high = res.ci
    >>> bool(low < res.estimate < high), res.ci.low == low
    (True, True)
    """

    low: float
    high: float


@dataclass(frozen=True, eq=False, slots=True)
class MetaResult:
    """A fitted meta-analysis of proportions; every input, option and output.

    Values with suffix ``_t`` are on the analysis (transformed) scale; ``estimate``,
    ``ci`` and ``pi`` are proportions. Built by :func:`metaprop.meta_prop`,
    :func:`metaprop.meta_analysis` and :func:`metaprop.meta_prop_glmm`; the fields are
    the constructor's parameters and read-only attributes.

    Parameters
    ----------
    yi, vi : ndarray
        Effect sizes and sampling variances that were pooled.
    events, totals : ndarray of int or None
        Counts (None for generic input).
    labels : tuple of str
        Study labels.
    measure : str
        ``"PR"``, ``"PLO"``, ``"PAS"``, ``"PFT"`` or ``"GEN"``.
    transform : str
        Scale used for back-transformation (the measure, or a generic scale).
    ni : ndarray or None
        Sample sizes used by the PFT back-transformation (harmonic mean).
    method, method_requested : str
        Canonical tau^2 estimator (FE for EE/CE) and the code that was asked for.
    test : str
        ``"z"``, ``"knha"`` or ``"adhoc"`` (``"z"`` or ``"t"`` for the GLMM).
    level : float
        Confidence level (fraction).
    add, to : float, str
        Continuity correction used by :func:`metaprop.escalc`.
    k : int
        Number of studies.
    estimate_t, se_t : float
        Pooled estimate and its standard error on the analysis scale.
    ci_t, pi_t : Interval
        Confidence and (metafor ``predict()``) prediction intervals, analysis scale.
    statistic, pvalue : float
        Test of the pooled estimate against 0 on the analysis scale.
    df : int or None
        Degrees of freedom of the t test (None for z).
    tau2, se_tau2 : float
        Between-study variance (never negative) and its standard error (NaN for FE).
    i2, h2 : float
        I^2 (percent, never negative) and H^2.
    q, q_df, q_pvalue : float, int, float
        Cochran's Q test of homogeneity.
    typical_vi : float
        metafor's typical within-study variance :math:`(k-1)/\\mathrm{tr}P` (I^2 uses it).
    weights : ndarray
        Model weights in percent (sum 100).
    estimate : float
        Pooled proportion.
    ci, pi : Interval
        Confidence and prediction intervals as proportions.
    converged : bool
        The iterative estimator converged (True for closed forms).
    notes : tuple of str
        What could not be estimated and why (k = 1, k = 2, non-convergence).
    user_weights : ndarray or None
        The weights given with ``weights=`` (metafor ``rma(weights=)``), None for
        inverse-variance weights.

    Notes
    -----
    Random effects: :math:`I^2=100\\,\\hat\\tau^2/(\\tilde v+\\hat\\tau^2)` and
    :math:`H^2=\\hat\\tau^2/\\tilde v+1` with the typical within-study variance
    :math:`\\tilde v=(k-1)/\\mathrm{tr}P` (Higgins & Thompson 2002, eq. 9, in metafor's
    general form). Fixed effect: :math:`I^2=\\max(0,100(Q-(k-1))/Q)`, :math:`H^2=Q/(k-1)`.
    Cochran's :math:`Q=\\sum_i(y_i-\\hat\\mu_{FE})^2/v_i` on k - 1 df. ``weights`` are
    :math:`100\\,w_i/\\sum_j w_j` with :math:`w_i=1/(v_i+\\hat\\tau^2)`.

    References
    ----------
    Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis.
    Stat Med 21:1539-1558. doi:10.1002/sim.1186

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([16, 10, 4, 43, 10], [17, 12, 8, 58, 10], method="DL")
    >>> res.k, res.method, res.measure
    (5, 'DL', 'PLO')
    >>> round(res.estimate, 4), round(res.tau2, 4), round(res.i2, 1)
    (0.7883, 0.4068, 45.1)
    >>> round(float(res.weights.sum()), 10)
    100.0
    """

    yi: np.ndarray
    vi: np.ndarray
    events: np.ndarray | None
    totals: np.ndarray | None
    labels: tuple[str, ...]
    measure: str
    transform: str
    ni: np.ndarray | None
    method: str
    method_requested: str
    test: str
    level: float
    add: float
    to: str
    k: int
    estimate_t: float
    se_t: float
    ci_t: Interval
    pi_t: Interval
    statistic: float
    pvalue: float
    df: int | None
    tau2: float
    se_tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    typical_vi: float
    weights: np.ndarray
    estimate: float
    ci: Interval
    pi: Interval
    converged: bool
    notes: tuple[str, ...]
    user_weights: np.ndarray | None = None

    # ------------------------------------------------------------------ intervals

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def _back(self, low: float, high: float) -> Interval:
        return Interval(*back_interval(low, high, self.transform, self.ni))

    def prediction_interval(self, dist: str = "z", *, transformed: bool = False) -> Interval:
        """Prediction interval for the true proportion in a new study.

        Parameters
        ----------
        dist : {"z", "t(k-1)", "t(k-2)"}
            Quantile: normal (metafor ``predict()`` with test z), t with k - 1 df
            (metafor with knha; R meta >= 8), t with k - 2 df (Higgins, Thompson and
            Spiegelhalter 2009; Stata metan/metaprop). t(k-2) needs k >= 3: NaN with a
            warning otherwise.
        transformed : bool
            Return the interval on the analysis scale instead of as proportions.

        Returns
        -------
        Interval

        Notes
        -----
        :math:`\\hat\\mu \\pm q\\sqrt{\\hat\\tau^2+\\mathrm{SE}(\\hat\\mu)^2}`, back-transformed.

        References
        ----------
        Higgins JPT, Thompson SG, Spiegelhalter DJ (2009). A re-evaluation of random-effects
        meta-analysis. J R Stat Soc A 172:137-159. doi:10.1111/j.1467-985X.2008.00552.x

        Examples
        --------
        >>> import metaprop as mp
        >>> res = mp.meta_prop([16, 10, 4, 43, 10], [17, 12, 8, 58, 10])
        >>> lo, hi = res.prediction_interval("t(k-2)")
        >>> bool(lo < res.estimate < hi)
        True
        """
        val.check_choice(dist, _DISTS, "dist")
        upper = 1.0 - (1.0 - self.level) / 2.0
        if dist == "z":
            crit = float(special.ndtri(upper))
        else:
            df = self.k - (1 if dist == "t(k-1)" else 2)
            if df < 1:
                warnings.warn(
                    f"{dist} prediction interval needs k >= {self.k - df + 1}; k = {self.k}",
                    stacklevel=2,
                )
                return Interval(np.nan, np.nan)
            crit = float(special.stdtrit(df, upper))
        half = crit * np.sqrt(self.tau2 + self.se_t**2)
        low, high = self.estimate_t - half, self.estimate_t + half
        return Interval(low, high) if transformed else self._back(low, high)

    def tau2_ci(self, level: float | None = None) -> Interval:
        """Q-profile confidence interval for tau^2 (metafor ``confint()``).

        Parameters
        ----------
        level : float, optional
            Confidence level; defaults to the fit's level.

        Returns
        -------
        Interval
            NaN for a fixed-effect model or k = 1. A bound equal to
            :math:`\\max(100, 10\\hat\\tau^2)` means "beyond" (metafor prints ">").

        Notes
        -----
        Bounds solve :math:`Q(\\tau^2)=\\chi^2_{k-1,1-\\alpha/2}` and
        :math:`\\chi^2_{k-1,\\alpha/2}` for the generalised Q statistic; see
        ``metaprop.heterogeneity.q_profile``.

        References
        ----------
        Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
        meta-analysis. Stat Med 26:37-52. doi:10.1002/sim.2514

        Examples
        --------
        >>> import metaprop as mp
        >>> res = mp.meta_prop([16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42])
        >>> lo, hi = res.tau2_ci()
        >>> bool(lo <= res.tau2 <= hi)
        True
        """
        lvl = self.level if level is None else val.check_level(level)
        if self.method in ("FE", "GLMM") or self.k < 2:
            return Interval(np.nan, np.nan)
        if self.method == "GENQ":
            # metafor's confint() inverts the generalised Q (Jackson 2013), not done here
            raise ValueError(
                "the tau^2 interval of a GENQ fit is not available; use Q-profile "
                "(fit with another method) instead"
            )
        low, high, _ = q_profile(self.yi, self.vi, None, [self.tau2], lvl)
        return Interval(float(low[0]), float(high[0]))

    def i2_ci(self, level: float | None = None) -> Interval:
        """Q-profile confidence interval for I^2 (percent), from :meth:`tau2_ci`.

        Notes
        -----
        :math:`I^2 = 100\\,\\tau^2/(\\tilde v+\\tau^2)` at each bound, with metafor's typical
        within-study variance :math:`\\tilde v`.

        References
        ----------
        Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis.
        Stat Med 21:1539-1558. doi:10.1002/sim.1186

        Examples
        --------
        >>> import metaprop as mp
        >>> res = mp.meta_prop([16, 10, 4, 43, 10, 25], [17, 12, 8, 58, 10, 42])
        >>> lo, hi = res.i2_ci()
        >>> bool(0 <= lo <= res.i2 <= hi <= 100)
        True
        """
        lo, hi = self.tau2_ci(level)
        vt = self.typical_vi
        return Interval(100.0 * lo / (vt + lo), 100.0 * hi / (vt + hi))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """Options and scalar results as a flat dict of plain Python values.

        Examples
        --------
        >>> import metaprop as mp
        >>> d = mp.meta_prop([4, 10, 7], [20, 25, 30]).to_dict()
        >>> d["method"], d["k"]
        ('REML', 3)
        """

        def f(x):
            return None if x is None else float(x)

        return {
            "measure": self.measure,
            "transform": self.transform,
            "method": self.method,
            "method_requested": self.method_requested,
            "test": self.test,
            "level": self.level,
            "add": self.add,
            "to": self.to,
            "k": self.k,
            "estimate": f(self.estimate),
            "ci_low": f(self.ci.low),
            "ci_high": f(self.ci.high),
            "pi_low": f(self.pi.low),
            "pi_high": f(self.pi.high),
            "estimate_t": f(self.estimate_t),
            "se_t": f(self.se_t),
            "ci_t_low": f(self.ci_t.low),
            "ci_t_high": f(self.ci_t.high),
            "pi_t_low": f(self.pi_t.low),
            "pi_t_high": f(self.pi_t.high),
            "statistic": f(self.statistic),
            "pvalue": f(self.pvalue),
            "df": self.df,
            "tau2": f(self.tau2),
            "se_tau2": f(self.se_tau2),
            "i2": f(self.i2),
            "h2": f(self.h2),
            "q": f(self.q),
            "q_df": self.q_df,
            "q_pvalue": f(self.q_pvalue),
            "converged": self.converged,
        }

    def to_frame(self):
        """The :meth:`to_dict` values as a one-row DataFrame.

        Examples
        --------
        >>> import metaprop as mp
        >>> mp.meta_prop([4, 10, 7], [20, 25, 30]).to_frame().shape[0]
        1
        """
        import pandas as pd

        return pd.DataFrame([self.to_dict()])

    def studies(self, ci: str = "exact"):
        """Per-study table: label, counts, yi, vi, proportion, CI and weight (percent).

        Parameters
        ----------
        ci : {"exact", "wilson", "wald"}
            Interval for each study's proportion (counts only). Generic input uses the
            Wald interval on the analysis scale, back-transformed.

        Returns
        -------
        DataFrame
            Columns label, events, total, yi, vi, proportion, ci_low, ci_high, weight_pct.

        Examples
        --------
        >>> import metaprop as mp
        >>> tab = mp.meta_prop([4, 10, 7], [20, 25, 30]).studies()
        >>> tab["proportion"].round(3).tolist()
        [0.2, 0.4, 0.233]
        """
        import pandas as pd

        from metaprop.effects import study_ci

        if self.events is not None:
            prop = self.events / self.totals
            low, high = study_ci(self.events, self.totals, method=ci, level=self.level)
        else:
            z = special.ndtri(1.0 - (1.0 - self.level) / 2.0)
            half = z * np.sqrt(self.vi)
            scale = self.transform
            if scale == "PFT":
                pairs_n = zip(self.yi, self.ni, strict=True)
                prop = np.array([back_transform(y, "PFT", [n]) for y, n in pairs_n])
                pairs = [
                    back_interval(y - h, y + h, "PFT", [n])
                    for y, h, n in zip(self.yi, half, self.ni, strict=True)
                ]
            else:
                prop = np.asarray(back_transform(self.yi, scale), dtype=float)
                pairs = [
                    back_interval(y - h, y + h, scale) for y, h in zip(self.yi, half, strict=True)
                ]
            low = np.array([p[0] for p in pairs])
            high = np.array([p[1] for p in pairs])
        return pd.DataFrame(
            {
                "label": list(self.labels),
                "events": self.events,
                "total": self.totals,
                "yi": self.yi,
                "vi": self.vi,
                "proportion": prop,
                "ci_low": low,
                "ci_high": high,
                "weight_pct": self.weights,
            }
        )

    def summary(self) -> str:
        """A printable report: the model, the pooled proportion, heterogeneity, notes.

        Proportions are printed as percentages with two decimals (four as fractions), the
        analysis-scale numbers with four decimals, as metafor's ``print.rma.uni``.

        Returns
        -------
        str
            Lines: the model (method, test, scale); the pooled proportion with its
            confidence and prediction intervals; the analysis-scale estimate with its test
            against 0 on that scale; heterogeneity (tau^2, I^2, H^2, Q); the notes.

        Examples
        --------
        >>> import metaprop as mp
        >>> print(mp.meta_prop([4, 10, 7], [20, 25, 30], method="DL").summary())
        Random-effects meta-analysis of proportions (k = 3)
          tau^2 estimator: DerSimonian-Laird (DL)
          test:            z (normal)
          scale:           logit (PLO)
        <BLANKLINE>
        Pooled proportion:   28.31% (95% CI 17.81% to 41.83%)
        Prediction interval: 15.12% to 46.68% (95%, normal quantile)
        Analysis scale:      estimate -0.9293, SE 0.3060; z = -3.0374, p = 0.0024 (test of 0)
        <BLANKLINE>
        Heterogeneity: tau^2 = 0.0715 (tau = 0.2673), I^2 = 25.17%, H^2 = 1.3364
                       Q(2) = 2.6728, p = 0.2628
        """
        pct = f"{100 * self.level:g}%"
        lines = [self._model_line()]
        scale = _SCALE_NAMES.get(self.transform, self.transform)
        scale = f"{scale} ({self.measure})" if self.measure != "GEN" else f"{scale} (generic)"
        test = _TEST_NAMES.get(self.test, self.test)
        if self.method == "GLMM":
            how = "fit:             maximum likelihood (adaptive Gauss-Hermite, 7 points)"
        elif self.method == "FE":
            how = "weights:         inverse variance"
        else:
            how = f"tau^2 estimator: {_METHOD_NAMES.get(self.method, self.method)} ({self.method})"
        lines += [f"  {how}", f"  test:            {test}", f"  scale:           {scale}"]
        lines.append("")
        lines.append(
            f"Pooled proportion:   {_pct(self.estimate)} "
            f"({pct} CI {_pct(self.ci.low)} to {_pct(self.ci.high)})"
        )
        if self.method != "FE":
            if self.k < 2:
                lines.append("Prediction interval: not estimable with one study (k = 1)")
            else:
                dist = "normal quantile" if self.test == "z" else f"t({self.k - 1}) quantile"
                lines.append(
                    f"Prediction interval: {_pct(self.pi.low)} to {_pct(self.pi.high)} "
                    f"({pct}, {dist})"
                )
        stat = "z" if self.df is None else f"t({self.df})"
        lines.append(
            f"Analysis scale:      estimate {self.estimate_t:.4f}, SE {self.se_t:.4f}; "
            f"{stat} = {self.statistic:.4f}, {_fmt_p(self.pvalue)} (test of 0)"
        )
        lines.append("")
        lines.extend(self._heterogeneity_lines())
        if not self.converged:
            lines.append("WARNING: the tau^2 estimator did not converge.")
        for note in self.notes:
            lines.extend(textwrap.wrap(f"Note: {note}", _WIDTH, subsequent_indent="      "))
        return "\n".join(lines)

    def _model_line(self) -> str:
        if self.method == "GLMM":
            kind = "Random-effects logistic (binomial-normal) meta-analysis"
        elif self.method == "FE":
            kind = "Fixed-effect meta-analysis"
        else:
            kind = "Random-effects meta-analysis"
        return f"{kind} of proportions (k = {self.k})"

    def _heterogeneity_lines(self) -> list[str]:
        if self.k < 2:
            return ["Heterogeneity: not estimable with one study (k = 1)"]
        q = f"Q({self.q_df}) = {self.q:.4f}, {_fmt_p(self.q_pvalue)}"
        if self.method == "GLMM":
            q = f"Wald-type {q}"
        ih = f"I^2 = {self.i2:.2f}%, H^2 = {self.h2:.4f}"
        if self.method == "FE":
            return [f"Heterogeneity: {ih} (no tau^2: fixed-effect model)", f"{'':15}{q}"]
        tau = f"tau^2 = {self.tau2:.4f} (tau = {np.sqrt(self.tau2):.4f})"
        return [f"Heterogeneity: {tau}, {ih}", f"{'':15}{q}"]

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(k={self.k}, measure={self.measure!r}, "
            f"method={self.method!r}, "
            f"test={self.test!r}, estimate={self.estimate:.4g}, "
            f"ci=({self.ci.low:.4g}, {self.ci.high:.4g}), tau2={self.tau2:.4g}, "
            f"i2={self.i2:.3g})"
        )

    # ------------------------------------------------------------------ plots
    def forest(self, ax=None, **kwargs):
        """Forest plot (delegates to :func:`metaprop.forest_plot`); returns the axes.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import metaprop as mp
        >>> ax = mp.meta_prop([4, 10, 7], [20, 25, 30]).forest()
        """
        from metaprop.plotting import forest_plot

        return forest_plot(self, ax=ax, **kwargs)

    def funnel(self, ax=None, **kwargs):
        """Funnel plot (delegates to :func:`metaprop.funnel_plot`); returns the axes.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import metaprop as mp
        >>> ax = mp.meta_prop([4, 10, 7], [20, 25, 30]).funnel()
        """
        from metaprop.plotting import funnel_plot

        return funnel_plot(self, ax=ax, **kwargs)


def _pct(p: float) -> str:
    return f"{100 * p:.2f}%" if np.isfinite(p) else "NA"


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "p = NA"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


@dataclass(frozen=True, eq=False)
class LeaveOneOutResult:
    """The model refitted once without each study (metafor ``leave1out``).

    Built by :func:`metaprop.leave_one_out`. Each array has one entry per omitted study,
    in the order of the studies; values with suffix ``_t`` are on the analysis scale.

    Parameters
    ----------
    labels : tuple of str
        The omitted study of each refit.
    k : ndarray of int
        Number of studies in each refit (k - 1).
    estimate_t, se_t, ci_t_low, ci_t_high : ndarray
        Pooled estimate, its standard error and confidence interval, analysis scale.
    statistic, pvalue : ndarray
        Test of the pooled estimate against 0 (z, or t(k - 2) for knha/adhoc).
    tau2, i2, h2 : ndarray
        Between-study variance, I^2 (percent) and H^2 of each refit.
    q, q_df, q_pvalue : ndarray
        Cochran's Q of each refit, its degrees of freedom (k - 2) and upper-tail
        :math:`\\chi^2` p-value (metafor's ``Q`` and ``Qp``; 1 when no df are left).
    estimate, ci_low, ci_high : ndarray
        Pooled proportion and confidence interval (``PFT``: harmonic mean of the remaining
        studies' totals).
    converged : ndarray of bool
        The iterative tau^2 estimator converged.
    measure, method, test : str
        As in the model that was refitted.
    level : float
        Confidence level.

    Notes
    -----
    Refit :math:`i` is the model fitted to the studies :math:`j\\ne i`;
    :math:`Q_{(i)}=\\sum_{j\\ne i}(y_j-\\hat\\mu_{FE,(i)})^2/v_j` on k - 2 df.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Res Synth Methods 1:112-125. doi:10.1002/jrsm.11

    Examples
    --------
    >>> import metaprop as mp
    >>> loo = mp.leave_one_out(mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22]))
    >>> loo.labels, loo.q_df.tolist()
    (('Study 1', 'Study 2', 'Study 3', 'Study 4'), [2, 2, 2, 2])
    >>> bool(((loo.q_pvalue >= 0) & (loo.q_pvalue <= 1)).all())
    True
    """

    labels: tuple[str, ...]
    k: np.ndarray
    estimate_t: np.ndarray
    se_t: np.ndarray
    ci_t_low: np.ndarray
    ci_t_high: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    q_df: np.ndarray
    q_pvalue: np.ndarray
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    converged: np.ndarray
    measure: str
    method: str
    test: str
    level: float

    _COLUMNS = (
        "k estimate_t se_t ci_t_low ci_t_high statistic pvalue tau2 i2 h2 q q_df q_pvalue "
        "estimate ci_low ci_high converged"
    ).split()

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __len__(self) -> int:
        return len(self.labels)

    def to_frame(self):
        """One row per omitted study: ``label`` then every array, in the field order.

        Examples
        --------
        >>> import metaprop as mp
        >>> loo = mp.leave_one_out(mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22]))
        >>> loo.to_frame().columns.tolist()[:3], len(loo.to_frame())
        (['label', 'k', 'estimate_t'], 4)
        """
        import pandas as pd

        cols = {"label": list(self.labels)}
        cols.update({name: getattr(self, name) for name in self._COLUMNS})
        return pd.DataFrame(cols)

    def __repr__(self) -> str:
        low, high = np.nanmin(self.estimate), np.nanmax(self.estimate)
        return (
            f"LeaveOneOutResult({len(self)} refits, measure={self.measure!r}, "
            f"method={self.method!r}, test={self.test!r}, "
            f"estimate from {low:.4g} to {high:.4g})"
        )
