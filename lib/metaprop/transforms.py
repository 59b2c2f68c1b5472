"""Transformations of proportions and the one back-transformation used everywhere.

Every result on the proportion scale (pooled estimate, confidence and prediction
intervals, leave-one-out, subgroups) goes through :func:`back_transform`, so that a
change of rule happens in one place.
"""

from __future__ import annotations

import numpy as np

from metaprop._validation import plain

__all__ = ["back_transform", "transform"]

_SCALE_OF = {
    "PR": "identity",
    "PLO": "logit",
    "PAS": "arcsine",
    "PFT": "PFT",
    "PLN": "log",
    "identity": "identity",
    "logit": "logit",
    "cloglog": "cloglog",
    "arcsine": "arcsine",
}


def _scale(measure: str) -> str:
    try:
        return _SCALE_OF[measure]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown measure or scale {measure!r}; expected one of {', '.join(_SCALE_OF)}"
        ) from None


def _harmonic_mean(ni) -> float:
    if ni is None:
        raise ValueError("the PFT back-transformation needs the sample sizes: pass ni=")
    n = np.asarray(ni, dtype=float)
    if n.size == 0 or np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"ni must be positive finite sample sizes, got {plain(ni)}")
    return float(n.size / np.sum(1.0 / n))


def _out(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


def _pft(p: np.ndarray, n: float) -> np.ndarray:
    # Freeman & Tukey 1950 double arcsine of a proportion p at sample size n (metafor transf.pft)
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))


def transform(p, measure: str, ni=None):
    """Transform proportions to the scale of ``measure``.

    Parameters
    ----------
    p : float or array-like
        Proportions in [0, 1] (for ``cloglog``: survival probabilities S).
    measure : {"PR", "PLO", "PAS", "PFT", "PLN", "identity", "logit", "cloglog", "arcsine"}
        metafor measure code or generic scale name.
    ni : array-like, optional
        Sample sizes; ``PFT`` uses their harmonic mean.

    Returns
    -------
    float or ndarray
        The transformed value(s).

    Notes
    -----
    PR / identity: :math:`p`; PLN: :math:`\\log p`; PLO / logit: :math:`\\log(p/(1-p))`;
    PAS / arcsine: :math:`\\arcsin\\sqrt{p}`; cloglog: :math:`\\log(-\\log p)`; PFT at the
    harmonic mean :math:`\\bar n` of ``ni``, with :math:`x = p\\bar n`:
    :math:`\\tfrac12[\\arcsin\\sqrt{x/(\\bar n+1)}+\\arcsin\\sqrt{(x+1)/(\\bar n+1)}]`.

    References
    ----------
    Freeman MF, Tukey JW (1950). Transformations related to the angular and the square
    root. Ann Math Stat 21:607-611. doi:10.1214/aoms/1177729756

    Examples
    --------
    >>> from metaprop.transforms import transform
    >>> round(transform(0.5, "PLO"), 6)
    0.0
    >>> round(transform(0.25, "PAS"), 6)
    0.523599
    """
    scale = _scale(measure)
    x = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "identity":
            out = x.copy()
        elif scale == "logit":
            out = np.log(x / (1.0 - x))
        elif scale == "arcsine":
            out = np.arcsin(np.sqrt(x))
        elif scale == "cloglog":
            out = np.log(-np.log(x))
        elif scale == "log":
            out = np.log(x)
        else:
            out = _pft(x, _harmonic_mean(ni))
    return _out(out)


def back_transform(x, measure: str, ni=None):
    """Back-transform values on the scale of ``measure`` to proportions.

    Parameters
    ----------
    x : float or array-like
        Values on the transformed scale (estimates or interval bounds).
    measure : {"PR", "PLO", "PAS", "PFT", "PLN", "identity", "logit", "cloglog", "arcsine"}
        metafor measure code or generic scale name.
    ni : array-like, optional
        Sample sizes of the studies in the fit (required for ``PFT``).

    Returns
    -------
    float or ndarray
        Proportions. ``PR``/identity and ``PLN`` are not clipped (a bound may fall
        outside [0, 1], as in metafor); ``PLO``, ``PAS``, ``PFT`` and cloglog lie in [0, 1].

    Notes
    -----
    PLO: :math:`1/(1+e^{-x})`. PLN: :math:`e^x`. PAS: :math:`\\sin^2 x`, 0 for :math:`x<0` and 1 for
    :math:`x>\\pi/2` (metafor ``transf.iarcsin``). cloglog: :math:`S=\\exp(-e^{x})`
    (decreasing: the bounds of an interval swap). PFT: Miller's inversion at the harmonic
    mean :math:`\\bar n` of the sample sizes (metafor ``transf.ipft.hm``),

    .. math:: p = \\tfrac12\\Big[1-\\operatorname{sgn}(\\cos 2x)\\sqrt{1-\\big(\\sin 2x
              + (\\sin 2x - 1/\\sin 2x)/\\bar n\\big)^2}\\Big],

    set to 0 below the transform of 0 and to 1 above the transform of 1.

    References
    ----------
    Miller JJ (1978). The inverse of the Freeman-Tukey double arcsine transformation.
    Am Stat 32:138. doi:10.1080/00031305.1978.10479283

    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> from metaprop.transforms import back_transform
    >>> round(back_transform(0.0, "PLO"), 6)
    0.5
    >>> round(back_transform(0.7, "PFT", ni=[20, 30, 40]), 6)
    0.412003
    """
    scale = _scale(measure)
    t = np.asarray(x, dtype=float)
    if scale == "identity":
        out = t.copy()
    elif scale == "logit":
        out = 1.0 / (1.0 + np.exp(-t))
    elif scale == "arcsine":
        out = np.where(t < 0.0, 0.0, np.where(t > np.pi / 2, 1.0, np.sin(t) ** 2))
    elif scale == "cloglog":
        out = np.exp(-np.exp(t))
    elif scale == "log":
        out = np.exp(t)  # metafor transf=exp: not clipped at 1
    else:
        out = _ipft(t, _harmonic_mean(ni))
    return _out(np.asarray(out, dtype=float))


def _ipft(t: np.ndarray, n: float) -> np.ndarray:
    # Miller 1978 inversion of the Freeman-Tukey transform at sample size n
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2.0 * t)
        p = 0.5 * (1.0 - np.sign(np.cos(2.0 * t)) * np.sqrt(1.0 - (s + (s - 1.0 / s) / n) ** 2))
    lo, hi = _pft(np.array([0.0, 1.0]), n)
    return np.where(t > hi, 1.0, np.where(t < lo, 0.0, p))


def back_interval(low, high, measure: str, ni=None) -> tuple[float, float]:
    """Back-transform an interval and keep its bounds in increasing order."""
    a, b = (float(x) for x in back_transform(np.array([low, high], dtype=float), measure, ni))
    return (a, b) if not b < a else (b, a)
