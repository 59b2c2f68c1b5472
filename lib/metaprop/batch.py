"""Many meta-analyses at once: subsets of one set of studies, or a stack of datasets.

:func:`fit_batch` validates its input once, computes the effect sizes once, and hands
2-D arrays ``(m, k)`` with a boolean mask of the studies in each fit to the vectorised
engine (:func:`metaprop._engine.fit_arrays`), which iterates all fits together. GOSH,
the bootstrap, leave-one-out, cumulative and subgroup analyses are built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from metaprop import _validation as val
from metaprop._engine import fit_arrays
from metaprop.effects import _DEFAULT_ADD, _counts_to_effects, escalc
from metaprop.transforms import back_transform

__all__ = ["BatchResult", "fit_batch"]

_BACK_SCALES = (*val.MEASURES, *val.SCALES)

CHUNK_ELEMENTS = 2**17
"""The engine is called on chunks of about this many (fit, study) cells: each of its work
arrays then takes about 1 MiB, which stays in cache (measured 30-40% faster than one call
for 10^5 fits) and bounds the memory the engine needs whatever the number of fits."""


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Results of ``m`` meta-analyses, one array entry per fit.

    Attributes
    ----------
    k : ndarray of int
        Number of studies in each fit.
    estimate_t, se_t : ndarray
        Pooled estimate and its standard error on the analysis scale.
    ci_t_low, ci_t_high : ndarray
        Confidence interval on the analysis scale (normal, or t(k-1) for ``knha`` and
        ``adhoc``).
    estimate, ci_low, ci_high : ndarray
        The same back-transformed to the proportion scale (``PFT``: with the harmonic
        mean of the totals of the studies in that fit).
    statistic, pvalue : ndarray
        Test of the pooled estimate against 0.
    tau2, i2, h2, q : ndarray
        Between-study variance, I² (percent), H² and Cochran's Q of each fit.
    converged : ndarray of bool
        Whether the tau² estimator of each fit converged (always True for closed forms).
    measure, method, test : str
        Options shared by all fits (``measure`` names the back-transformation).
    level : float
        Confidence level.
    """

    k: np.ndarray
    estimate_t: np.ndarray
    se_t: np.ndarray
    ci_t_low: np.ndarray
    ci_t_high: np.ndarray
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    converged: np.ndarray
    measure: str
    method: str
    test: str
    level: float

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            fits=len(self.k),
            measure=self.measure,
            method=self.method,
            test=self.test,
            level=self.level,
        )

    def __len__(self) -> int:
        return int(self.k.shape[0])

    def to_frame(self):
        """One row per fit, one column per array attribute.

        Examples
        --------
        >>> import metaprop as mp
        >>> res = mp.fit_batch([4, 9, 12], [20, 30, 25], membership=[[1, 1, 0], [1, 1, 1]])
        >>> res.to_frame()["k"].tolist()
        [2, 3]
        """
        import pandas as pd

        names = (
            "k estimate_t se_t ci_t_low ci_t_high estimate ci_low ci_high statistic pvalue "
            "tau2 i2 h2 q converged"
        ).split()
        return pd.DataFrame({name: getattr(self, name) for name in names})


def fit_batch(
    events=None,
    totals=None,
    *,
    yi=None,
    vi=None,
    membership=None,
    measure: str = "PLO",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    add: float | None = None,
    to: str = "only0",
) -> BatchResult:
    """Fit many meta-analyses of proportions at once.

    Two shapes of input:

    * one set of ``k`` studies (1-D ``events``/``totals`` or ``yi``/``vi``) and a boolean
      ``membership`` matrix ``(m, k)``: fit ``j`` pools the studies where row ``j`` is
      True (subsets, leave-one-out, cumulative, subgroups);
    * a stack of ``m`` datasets as 2-D arrays ``(m, k)``: ``membership`` (default all
      True) then marks the cells that hold a study, so datasets of different sizes can be
      padded to a common ``k`` (the padding's values are ignored).

    Parameters
    ----------
    events, totals : array-like of int, optional
        Counts, shape ``(k,)`` or ``(m, k)``.
    yi, vi : array-like of float, optional
        Effect sizes and sampling variances on the scale named by ``measure`` (instead of
        counts). With ``measure="PFT"`` the ``totals`` are needed too (back-transform).
    membership : array-like of bool, optional
        ``(m, k)`` membership (1-D input) or mask (2-D input).
    measure : {"PLO", "PR", "PAS", "PFT"} or {"identity", "logit", "cloglog", "arcsine"}
        Effect-size measure for counts; with ``yi``/``vi`` the scale to back-transform
        from (the generic scale names are allowed there).
    method : {"REML", "FE", "EE", "CE", "DL", "ML", "PM", "HE", "SJ", "HS", "EB"}
        Estimator of tau², as :func:`metaprop.meta_prop`.
    test : {"z", "knha", "adhoc"}
        Test and confidence interval of the pooled estimate.
    level : float
        Confidence level.
    add, to
        Continuity correction, as :func:`metaprop.escalc` (``"if0all"`` is decided per
        dataset for stacked input).

    Returns
    -------
    BatchResult

    Raises
    ------
    ValueError
        Bad counts or effect sizes (the message names the fit, the study and the value),
        shapes that do not match, a fit with no study, or an unknown option.

    Notes
    -----
    Every fit is the random-effects model :math:`y_i = \\mu + u_i + e_i`,
    :math:`u_i \\sim N(0, \\tau^2)`, :math:`e_i \\sim N(0, v_i)` restricted to its own
    studies, estimated exactly as :func:`metaprop.meta_prop` does (the same engine); the
    iterative estimators iterate all fits together, each to its own convergence.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import numpy as np
    >>> import metaprop as mp
    >>> events, totals = [4, 9, 12, 7], [20, 30, 25, 40]
    >>> loo = ~np.eye(4, dtype=bool)  # leave-one-out
    >>> res = mp.fit_batch(events, totals, membership=loo, method="DL")
    >>> res.k.tolist()
    [3, 3, 3, 3]
    """
    method = val.canonical_method(method)
    test = val.check_choice(test, val.TESTS, "test")
    level = val.check_level(level)
    if events is not None:
        if yi is not None or vi is not None:
            raise ValueError("give either events/totals or yi/vi, not both")
        measure = val.check_choice(measure, val.MEASURES, "measure")
        y, v, mask, n = _from_counts(events, totals, membership, measure, add, to)
    else:
        if yi is None or vi is None:
            raise ValueError("give events and totals, or yi and vi")
        measure = val.check_choice(measure, _BACK_SCALES, "measure")
        y, v, mask, n = _from_effects(yi, vi, totals, membership, measure)
    return fit_masked(y, v, mask, n, measure=measure, method=method, test=test, level=level)


def fit_masked(y, v, mask, totals, *, measure, method, test, level) -> BatchResult:
    """Fit validated ``(m, k)`` arrays (or ``(k,)`` ones broadcast over ``mask``).

    The common path of :func:`fit_batch`, :func:`metaprop.gosh` and
    :func:`metaprop.bootstrap`: no checks, options already canonical. ``totals`` (``(k,)``
    or ``(m, k)``, or None) is only used for the ``PFT`` back-transformation.
    """
    shape = mask.shape
    y, v = np.broadcast_to(y, shape), np.broadcast_to(v, shape)
    rows = max(1, CHUNK_ELEMENTS // shape[1])
    parts = [
        _fit_rows(y[a : a + rows], v[a : a + rows], mask[a : a + rows], method, test, level)
        for a in range(0, shape[0], rows)
    ]
    fit = parts[0]
    if len(parts) > 1:
        fit = SimpleNamespace(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIT_FIELDS}
        )
    ni_hm = None
    if measure == "PFT":
        # harmonic mean of the totals of the studies in each fit (metafor transf.ipft.hm)
        ni_hm = fit.k / np.sum(np.where(mask, 1.0 / np.broadcast_to(totals, shape), 0.0), axis=1)
    est, low, high = _back(np.stack([fit.beta, fit.ci_lb, fit.ci_ub]), measure, ni_hm)
    return BatchResult(
        k=fit.k,
        estimate_t=fit.beta,
        se_t=fit.se,
        ci_t_low=fit.ci_lb,
        ci_t_high=fit.ci_ub,
        estimate=est,
        ci_low=np.minimum(low, high),
        ci_high=np.maximum(low, high),
        statistic=fit.stat,
        pvalue=fit.pval,
        tau2=fit.tau2,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.q,
        converged=fit.converged,
        measure=measure,
        method=method,
        test=test,
        level=level,
    )


_FIT_FIELDS = (
    "k",
    "beta",
    "se",
    "ci_lb",
    "ci_ub",
    "stat",
    "pval",
    "tau2",
    "i2",
    "h2",
    "q",
    "converged",
)


def _fit_rows(y, v, mask, method, test, level) -> SimpleNamespace:
    """The engine on one chunk of rows; the fields used here, as a namespace of arrays."""
    fit = fit_arrays(y, v, mask, method, test, level)
    return SimpleNamespace(**{name: getattr(fit, name) for name in _FIT_FIELDS})


def _back(x: np.ndarray, measure: str, ni_hm: np.ndarray | None) -> np.ndarray:
    """Back-transform ``x`` (rows of per-fit values) with the one rule in transforms."""
    if measure != "PFT":
        return np.asarray(back_transform(x, measure), dtype=float)
    # transforms.back_transform takes one harmonic mean per call: one call per distinct
    # value (few for leave-one-out or subgroups, up to one per fit for GOSH), over the
    # fits sorted by that value
    out = np.empty_like(x)
    order = np.argsort(ni_hm, kind="stable")
    values, starts = np.unique(ni_hm[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    for n, start, end in zip(values, starts, ends, strict=True):
        cols = order[start:end]
        out[:, cols] = back_transform(x[:, cols], "PFT", ni=[n])
    return out


def _membership(membership, shape: tuple[int, int] | None, k: int) -> np.ndarray:
    """Validate a membership matrix or mask; ``shape`` is fixed for stacked input."""
    if membership is None:
        return np.ones(shape if shape is not None else (1, k), dtype=bool)
    mask = np.asarray(membership)
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.number) or not np.isin(mask, (0, 1)).all():
            raise ValueError("membership must be boolean (or 0/1)")
        mask = mask.astype(bool)
    if mask.ndim == 1:
        mask = mask[None, :]
    if mask.ndim != 2 or mask.shape[1] != k or (shape is not None and mask.shape != shape):
        want = shape if shape is not None else f"(m, {k})"
        raise ValueError(f"membership must have shape {want}, got {np.shape(membership)}")
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(f"fit {empty[0]} has no study (membership row {empty[0]} is all False)")
    return mask


def _first_bad(bad: np.ndarray, what: str, values: np.ndarray) -> None:
    """Raise a ValueError naming the first (fit, study) cell where ``bad`` is True."""
    if bad.any():
        j, i = np.argwhere(bad)[0]
        raise ValueError(f"dataset {j}, study at index {i}: {what} ({val.plain(values[j, i])})")


def _from_counts(events, totals, membership, measure, add, to):
    ev = np.asarray(events)
    if ev.ndim == 1:
        es = escalc(ev, totals, measure, add=add, to=to)
        mask = _membership(membership, None, es.k)
        return es.yi, es.vi, mask, es.totals.astype(float)
    if ev.ndim != 2:
        raise ValueError(f"events must be 1-D (k,) or 2-D (m, k), got shape {ev.shape}")
    if totals is None:
        raise ValueError("totals are required (number of participants per study)")
    n = np.asarray(totals)
    if n.shape != ev.shape:
        raise ValueError(f"events have shape {ev.shape} but totals {n.shape}")
    mask = _membership(membership, ev.shape, ev.shape[1])
    to = val.check_choice(to, val.TO_OPTIONS, "to")
    add = _DEFAULT_ADD[measure] if add is None else float(add)
    if not np.isfinite(add) or add < 0:
        raise ValueError(f"add must be a finite number >= 0, got {val.plain(add)}")
    try:
        x, nn = ev.astype(float), n.astype(float)
    except (TypeError, ValueError):
        raise ValueError("events and totals must be numbers") from None
    for name, arr in (("events", x), ("totals", nn)):
        _first_bad(mask & ~np.isfinite(arr), f"{name} is missing or not finite", arr)
        _first_bad(mask & (arr < 0), f"{name} is negative", arr)
        _first_bad(mask & (arr != np.floor(arr)), f"{name} is not an integer", arr)
    _first_bad(mask & (nn == 0), "totals is 0 (a proportion needs totals > 0)", nn)
    over = mask & (x > nn)
    if over.any():
        j, i = np.argwhere(over)[0]
        raise ValueError(
            f"dataset {j}, study at index {i}: events ({x[j, i]:g}) > totals ({nn[j, i]:g})"
        )
    # padding cells get a harmless 1 of 2, so that the engine sees finite numbers only
    x, nn = np.where(mask, x, 1.0), np.where(mask, nn, 2.0)
    if to == "if0all":
        # metafor decides "if0all" per dataset: all its studies, if any has a zero cell
        rows = (mask & ((x == 0) | (x == nn))).any(axis=1)
        y, v = np.empty_like(x), np.empty_like(x)
        for sel, rule in ((rows, "all"), (~rows, "none")):
            y[sel], v[sel] = _counts_to_effects(x[sel], nn[sel], measure, add, rule)
    else:
        y, v = _counts_to_effects(x, nn, measure, add, to)
    return y, v, mask, nn


def _from_effects(yi, vi, totals, membership, measure):
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if y.shape != v.shape or y.ndim not in (1, 2):
        raise ValueError(f"yi and vi must have the same shape (k,) or (m, k): {y.shape}, {v.shape}")
    n = None
    if totals is not None:
        n = np.asarray(totals, dtype=float)
        if n.shape != y.shape:
            raise ValueError(f"yi have shape {y.shape} but totals {n.shape}")
    elif measure == "PFT":
        raise ValueError("the PFT back-transformation needs the totals: pass totals=")
    if y.ndim == 1:
        y, v, labels = val.check_effects(y, v)
        mask = _membership(membership, None, y.shape[0])
        return y, v, mask, None if n is None else val.check_ni(n, y.shape[0], labels)
    mask = _membership(membership, y.shape, y.shape[1])
    _first_bad(mask & ~np.isfinite(y), "yi is not finite", y)
    _first_bad(mask & ~(v > 0), "vi must be finite and > 0", v)
    _first_bad(mask & ~np.isfinite(v), "vi must be finite and > 0", v)
    if n is not None:
        _first_bad(mask & ~(n > 0), "totals must be > 0", n)
        n = np.where(mask, n, 1.0)
    return np.where(mask, y, 0.0), np.where(mask, v, 1.0), mask, n
