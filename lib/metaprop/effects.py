"""Effect sizes for single proportions: metafor's ``escalc`` and friends.

Step one of metafor's two steps: turn counts (or reported estimates) into effect sizes
``yi`` with sampling variances ``vi`` on an analysis scale; :func:`metaprop.meta_analysis`
then pools them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from metaprop import _validation as val
from metaprop.transforms import transform

__all__ = ["EffectSizes", "escalc", "estimates_to_effects", "study_ci"]

_DEFAULT_ADD = {"PR": 0.5, "PLO": 0.5, "PAS": 0.0, "PFT": 0.0, "PLN": 0.5}


@dataclass(frozen=True, eq=False)
class EffectSizes:
    """Effect sizes and sampling variances, with the options that produced them.

    Step one of the two steps (as metafor's ``escalc`` object): :func:`escalc` and
    :func:`estimates_to_effects` build it, :func:`meta_analysis` pools it. The fields are
    the constructor's parameters and read-only attributes.

    Parameters
    ----------
    yi, vi : ndarray
        Effect sizes and their sampling variances on the analysis scale.
    events, totals : ndarray of int or None
        The counts (None for generic input).
    measure : str
        ``"PR"``, ``"PLO"``, ``"PAS"``, ``"PFT"``, ``"PLN"`` or ``"GEN"`` (generic).
    labels : tuple of str
        Study labels.
    add : float
        Continuity correction that was used (0 when none).
    to : str
        Which studies received it (metafor's ``to``).
    transform : str
        Scale used to back-transform (the measure itself, or the generic scale).
    approximate : ndarray of bool or None
        For :func:`estimates_to_effects`: rows whose variance came from ``n`` alone.

    Notes
    -----
    ``sei`` is :math:`\\sqrt{v_i}`; the formulas of ``yi`` and ``vi`` are those of
    :func:`escalc` (counts) and :func:`estimates_to_effects` (reported estimates).

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import metaprop as mp
    >>> es = mp.escalc([4, 10], [20, 25], measure="PLO")
    >>> es.k, es.measure, es.labels
    (2, 'PLO', ('Study 1', 'Study 2'))
    >>> es.sei.round(4).tolist()
    [0.559, 0.4082]
    """

    yi: np.ndarray
    vi: np.ndarray
    events: np.ndarray | None
    totals: np.ndarray | None
    measure: str
    labels: tuple[str, ...]
    add: float
    to: str
    transform: str
    approximate: np.ndarray | None = None

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            k=self.k,
            measure=self.measure,
            transform=self.transform,
            counts=self.events is not None,
        )

    @property
    def k(self) -> int:
        """Number of studies."""
        return int(self.yi.shape[0])

    @property
    def sei(self) -> np.ndarray:
        """Standard errors, ``sqrt(vi)``."""
        return np.sqrt(self.vi)

    def to_frame(self):
        """One row per study: label, counts (if any), yi, vi, sei (and approximate).

        Examples
        --------
        >>> import metaprop as mp
        >>> mp.escalc([4, 10], [20, 25]).to_frame().columns.tolist()
        ['label', 'events', 'totals', 'yi', 'vi', 'sei']
        """
        import pandas as pd

        cols = {"label": list(self.labels)}
        if self.events is not None:
            cols["events"] = self.events
            cols["totals"] = self.totals
        cols.update(yi=self.yi, vi=self.vi, sei=self.sei)
        if self.approximate is not None:
            cols["approximate"] = self.approximate
        return pd.DataFrame(cols)


def _resolve_counts(events, totals, data, labels):
    """Sort out the calling forms ``f(ev, n)`` and ``f(data=df, events="x", totals="n")``."""
    cols, framed = val.resolve_columns(
        data, ("events", "totals"), events=events, totals=totals, labels=labels
    )
    if framed and (cols["events"] is None or cols["totals"] is None):
        raise ValueError("with a DataFrame, give the column names events= and totals=")
    if cols["events"] is None:
        raise ValueError("events are required")
    return cols["events"], cols["totals"], cols["labels"]


def _counts_to_effects(ev: np.ndarray, n: np.ndarray, measure: str, add: float, to: str):
    """metafor escalc() for PR, PLO, PAS, PFT on validated counts (no checks)."""
    x = ev.astype(float)
    m = (n - ev).astype(float)
    if add != 0.0 and to != "none":
        if to == "all":
            x, m = x + add, m + add
        else:
            zero = (x == 0) | (m == 0)
            if to == "only0":
                x, m = x + add * zero, m + add * zero
            elif zero.any():  # if0all
                x, m = x + add, m + add
    nn = x + m
    p = x / nn
    if measure == "PR":
        return p, p * (1.0 - p) / nn
    if measure == "PLO":
        with np.errstate(divide="ignore"):  # 0 or n events without correction: +-inf
            return np.log(p / (1.0 - p)), 1.0 / x + 1.0 / m
    if measure == "PAS":
        return np.arcsin(np.sqrt(p)), 1.0 / (4.0 * nn)
    if measure == "PLN":
        # log proportion (metafor escalc "PLN", vtype "LS"): delta-method variance 1/x - 1/n
        with np.errstate(divide="ignore"):  # 0 events without correction: -inf
            return np.log(p), 1.0 / x - 1.0 / nn
    # PFT: Freeman & Tukey 1950 double arcsine; variance 1/(4n + 2)
    yi = 0.5 * (np.arcsin(np.sqrt(x / (nn + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (nn + 1.0))))
    return yi, 1.0 / (4.0 * nn + 2.0)


def escalc(
    events=None,
    totals=None,
    measure: str = "PLO",
    *,
    data=None,
    labels=None,
    add: float | None = None,
    to: str = "only0",
) -> EffectSizes:
    """Effect sizes for single proportions (metafor ``escalc``).

    Parameters
    ----------
    events, totals : array-like of int or str
        Number of events and of participants per study, positionally or by keyword;
        column names when ``data`` is given: ``escalc(data=df, events="x", totals="n")``.
        (metafor's ``xi``/``ni`` are not accepted: one name per role.)
    measure : {"PLO", "PR", "PAS", "PFT", "PLN"}
        Logit (default), raw proportion, arcsine square root, Freeman-Tukey double
        arcsine, log proportion.
    data : DataFrame, optional
        Table holding the columns named by ``events``, ``totals`` and ``labels``.
    labels : array-like of str or str, optional
        Study labels (a column name with ``data``).
    add : float, optional
        Continuity correction added to events and non-events. Default as metafor:
        0.5 for PR, PLO and PLN, 0 (none) for PAS and PFT.
    to : {"only0", "all", "if0all", "none"}
        Studies that get ``add``: those with 0 events or 0 non-events (default), all,
        all if any has a zero, none.

    Returns
    -------
    EffectSizes

    Raises
    ------
    ValueError
        Bad counts (the message names the study and value), unknown ``measure``/``to``.

    Notes
    -----
    With :math:`x_i` events (after correction) of :math:`n_i`, :math:`p_i=x_i/n_i`:
    PR :math:`y_i=p_i`, :math:`v_i=p_i(1-p_i)/n_i`; PLO :math:`y_i=\\log(p_i/(1-p_i))`,
    :math:`v_i=1/x_i+1/(n_i-x_i)`; PLN :math:`y_i=\\log p_i`, :math:`v_i=1/x_i-1/n_i`
    (delta method, metafor's ``vtype="LS"``); PAS :math:`y_i=\\arcsin\\sqrt{p_i}`,
    :math:`v_i=1/(4n_i)`; PFT :math:`y_i=\\tfrac12[\\arcsin\\sqrt{x_i/(n_i+1)}
    +\\arcsin\\sqrt{(x_i+1)/(n_i+1)}]`, :math:`v_i=1/(4n_i+2)`.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Freeman MF, Tukey JW (1950). Transformations related to the angular and the square
    root. Ann Math Stat 21:607-611. doi:10.1214/aoms/1177729756

    Examples
    --------
    >>> import metaprop as mp
    >>> es = mp.escalc([0, 5], [10, 20], measure="PLO")
    >>> es.yi.round(4).tolist()
    [-3.0445, -1.0986]
    >>> es.vi.round(4).tolist()
    [2.0952, 0.2667]
    """
    measure = val.check_choice(measure, val.MEASURES, "measure")
    to = val.check_choice(to, val.TO_OPTIONS, "to")
    events, totals, labels = _resolve_counts(events, totals, data, labels)
    ev, n, labs = val.check_counts(events, totals, labels)
    add = _DEFAULT_ADD[measure] if add is None else float(add)
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add must be a finite number >= 0, got {val.plain(add)}")
    yi, vi = _counts_to_effects(ev, n, measure, add, to)
    return EffectSizes(
        yi=yi,
        vi=vi,
        events=ev,
        totals=n,
        measure=measure,
        labels=labs,
        add=add,
        to=to,
        transform=measure,
    )


def study_ci(events, totals, method: str = "exact", level: float = 0.95):
    """Confidence interval for each study's proportion.

    Parameters
    ----------
    events, totals : array-like of int
    method : {"exact", "wilson", "wald"}
        Clopper-Pearson (default), Wilson score, or Wald (clipped to [0, 1]).
    level : float
        Confidence level.

    Returns
    -------
    low, high : ndarray
        Bounds on the proportion scale.

    Notes
    -----
    Exact: :math:`[B^{-1}(\\alpha/2; x, n-x+1),\\ B^{-1}(1-\\alpha/2; x+1, n-x)]`, with 0
    (1) when :math:`x=0` (:math:`x=n`). Wilson:
    :math:`(\\hat p+z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n+z^2/4n^2})/(1+z^2/n)`.
    Wald: :math:`\\hat p\\pm z\\sqrt{\\hat p(1-\\hat p)/n}`.

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated
    in the case of the binomial. Biometrika 26:404-413. doi:10.1093/biomet/26.4.404

    Wilson EB (1927). Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc 22:209-212. doi:10.1080/01621459.1927.10502953

    Examples
    --------
    >>> from metaprop.effects import study_ci
    >>> low, high = study_ci([0, 5], [10, 20])
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.0, 0.0866], [0.3085, 0.491])
    """
    method = val.check_choice(method, ("exact", "wilson", "wald"), "method")
    level = val.check_level(level)
    x, n, _ = val.check_counts(events, totals)
    x, n = x.astype(float), n.astype(float)
    alpha = 1.0 - level
    if method == "exact":
        with np.errstate(invalid="ignore"):
            low = np.where(x == 0, 0.0, special.betaincinv(x, n - x + 1.0, alpha / 2))
            high = np.where(x == n, 1.0, special.betaincinv(x + 1.0, n - x, 1.0 - alpha / 2))
        return low, high
    z = special.ndtri(1.0 - alpha / 2)
    p = x / n
    if method == "wilson":
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half
    half = z * np.sqrt(p * (1 - p) / n)
    return np.clip(p - half, 0.0, 1.0), np.clip(p + half, 0.0, 1.0)


def _scale_derivative(p: np.ndarray, scale: str) -> np.ndarray:
    """d g(p) / dp for the generic scales (delta method)."""
    if scale == "identity":
        return np.ones_like(p)
    if scale == "logit":
        return 1.0 / (p * (1.0 - p))
    if scale == "arcsine":
        return 1.0 / (2.0 * np.sqrt(p * (1.0 - p)))
    return 1.0 / (p * np.log(p))  # cloglog: g(S) = log(-log S)


def estimates_to_effects(
    estimate,
    ci_low=None,
    ci_high=None,
    *,
    n=None,
    scale: str = "cloglog",
    level: float = 0.95,
    percent: bool = True,
    labels=None,
) -> EffectSizes:
    """Effect sizes from reported estimates (with a CI, or a sample size only).

    Use for outcomes reported as a proportion or a survival probability with its
    confidence interval (e.g. a Kaplan-Meier estimate). For survival use ``cloglog``,
    :math:`\\log(-\\log S)`.

    Parameters
    ----------
    estimate : array-like of float
        Reported proportions (percent when ``percent=True``).
    ci_low, ci_high : array-like of float, optional
        Reported confidence bounds (NaN where a study reports none).
    n : array-like of float, optional
        Sample sizes, used for rows without a CI (binomial variance, delta method; these
        rows are flagged ``approximate``).
    scale : {"cloglog", "logit", "arcsine", "identity"}
        Analysis scale.
    level : float
        Level of the reported intervals.
    percent : bool
        Inputs are percentages (divided by 100).
    labels : array-like of str, optional

    Returns
    -------
    EffectSizes
        ``measure="GEN"``, ``transform=scale``, ``approximate`` flags n-only rows.

    Raises
    ------
    ValueError
        A row with neither a CI nor ``n``, an estimate at 0 or 1 on a scale that cannot
        hold it, a bound on the wrong side of the estimate; the study is named.

    Notes
    -----
    With a CI: :math:`y_i=g(\\hat p_i)`, :math:`\\mathrm{se}_i=|g(u_i)-g(l_i)|/(2z_{1-\\alpha/2})`.
    With n only (delta method): :math:`v_i=g'(\\hat p_i)^2\\,\\hat p_i(1-\\hat p_i)/n_i`.

    References
    ----------
    Parmar MKB, Torri V, Stewart L (1998). Extracting summary statistics to perform
    meta-analyses of the published literature for survival endpoints. Stat Med
    17:2815-2834. doi:10.1002/(SICI)1097-0258(19981230)17:24<2815::AID-SIM110>3.0.CO;2-8

    Examples
    --------
    >>> from metaprop.effects import estimates_to_effects
    >>> es = estimates_to_effects([40.0, 55.0], [30.0, float("nan")], [50.0, float("nan")],
    ...                           n=[None, 60], scale="logit")
    >>> es.approximate.tolist()
    [False, True]
    >>> es.yi.round(4).tolist()
    [-0.4055, 0.2007]
    """
    scale = val.check_choice(scale, val.SCALES, "scale")
    level = val.check_level(level)
    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    k = est.shape[0]
    if k == 0:
        raise ValueError("no studies: k = 0")
    labs = val.make_labels(labels, k)

    def column(values, name):
        if values is None:
            return np.full(k, np.nan)
        arr = np.atleast_1d(np.asarray(values, dtype=float))
        if arr.shape[0] != k:
            raise ValueError(f"length mismatch: {k} estimates but {arr.shape[0]} {name}")
        return arr

    lo, hi, nn = column(ci_low, "ci_low"), column(ci_high, "ci_high"), column(n, "n")
    scale_by = 100.0 if percent else 1.0
    p, lo, hi = est / scale_by, lo / scale_by, hi / scale_by
    has_ci = ~np.isnan(lo) & ~np.isnan(hi)
    open_unit = scale in ("logit", "cloglog")
    for i in range(k):
        where = f"study at index {i} ({labs[i]!r})"
        bounds = (p[i], lo[i], hi[i]) if has_ci[i] else (p[i],)
        for b in bounds:
            if not np.isfinite(b) or b < 0 or b > 1 or (open_unit and b in (0.0, 1.0)):
                rng = "(0, 1)" if open_unit else "[0, 1]"
                raise ValueError(
                    f"{where}: value {val.plain(b * scale_by)} outside {rng} for scale {scale!r}"
                )
        if has_ci[i] and not lo[i] <= p[i] <= hi[i]:
            raise ValueError(
                f"{where}: estimate {val.plain(est[i])} not inside its CI "
                f"({val.plain(lo[i] * scale_by)}, {val.plain(hi[i] * scale_by)})"
            )
        if not has_ci[i] and not (np.isfinite(nn[i]) and nn[i] > 0):
            raise ValueError(f"{where}: needs a CI (ci_low, ci_high) or a sample size n > 0")
    z = special.ndtri(1.0 - (1.0 - level) / 2)
    yi = np.asarray(transform(p, scale), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gl = np.asarray(transform(lo, scale), dtype=float)
        gh = np.asarray(transform(hi, scale), dtype=float)
        vi_ci = (np.abs(gh - gl) / (2.0 * z)) ** 2
        vi_n = _scale_derivative(p, scale) ** 2 * p * (1.0 - p) / nn
    vi = np.where(has_ci, vi_ci, vi_n)
    for i in np.flatnonzero(~(np.isfinite(vi) & (vi > 0))):
        raise ValueError(
            f"study at index {i} ({labs[i]!r}): sampling variance is {val.plain(vi[i])} "
            f"on scale {scale!r}; check the estimate and its interval or n"
        )
    return EffectSizes(
        yi=yi,
        vi=vi,
        events=None,
        totals=None,
        measure="GEN",
        labels=labs,
        add=0.0,
        to="none",
        transform=scale,
        approximate=~has_ci,
    )
