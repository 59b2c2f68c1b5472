"""How the review writes numbers for readers: percentages, intervals, statistics, p-values,
counts, and the warning that stands beside a very wide interval.

Every page, table and glued sentence formats through these functions, so that a percentage
or a p-value reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd


def fmt_pct(p: float, digits: int = 1) -> str:
    """A proportion as a percentage: ``0.7264`` -> ``72.6%``; NaN -> ``not estimable``."""
    if p is None or not math.isfinite(p):
        return "not estimable"
    return f"{100 * p:.{digits}f}%"


def fmt_interval(interval: Iterable[float], digits: int = 1, percent: bool = True) -> str:
    """An interval of proportions: ``65.1% to 79.0%``."""
    low, high = interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not estimable"
    if percent:
        return f"{fmt_pct(low, digits)} to {fmt_pct(high, digits)}"
    return f"{fmt_num(low)} to {fmt_num(high)}"


def fmt_num(x: float, sig: int = 3) -> str:
    """A statistic with ``sig`` significant digits, never in exponent notation.

    ``0.0412``, ``45.2``, ``0.00000717`` (a reader may not read ``7.17e-06``), ``1,234``.
    """
    if x is None or not math.isfinite(x):
        return "not estimable"
    if x == 0:
        return "0"
    if abs(x) >= 10**sig:
        return f"{x:,.0f}"
    return np.format_float_positional(
        float(f"{x:.{sig}g}"), precision=sig, unique=False, fractional=False, trim="-"
    )


def fmt_p(p: float) -> str:
    """A p-value as journals print it: ``p < 0.001``, ``p = 0.034``, ``p = 0.21``."""
    if p is None or not math.isfinite(p):
        return "p not estimable"
    if p < 0.001:
        return "p < 0.001"
    # three decimals near the usual thresholds, two above
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` with the right form of its noun: ``1 study``, ``3 studies``, ``0 rows``.

    Without ``many``, a noun ending in a consonant and ``y`` takes ``ies``, others ``s``.
    """
    if many is None:
        many = one[:-1] + "ies" if one.endswith("y") and one[-2:-1] not in "aeiou" else one + "s"
    return f"{fmt_int(n)} {one if n == 1 else many}"


def fmt_int(n: float) -> str:
    """A count with thousands separators: ``1,034``."""
    return f"{int(n):,}"


def interval_column(
    df: pd.DataFrame, low: str, high: str, scale: float = 1.0, digits: int = 1
) -> list[str]:
    """``df[low]`` to ``df[high]`` (divided by ``scale``) as percentages; "" where missing."""
    return [
        "" if pd.isna(lo) or pd.isna(hi) else fmt_interval((lo / scale, hi / scale), digits)
        for lo, hi in zip(df[low], df[high], strict=True)
    ]


def rate_column(
    df: pd.DataFrame, estimate: str, low: str, high: str, scale: float = 1.0, digits: int = 1
) -> list[str]:
    """A rate with its interval in one cell, ``72.6% (65.1% to 79.0%)``; "" where missing."""
    bounds = interval_column(df, low, high, scale, digits)
    return [
        "" if pd.isna(est) else f"{fmt_pct(est / scale, digits)} ({ci})"
        for est, ci in zip(df[estimate], bounds, strict=True)
    ]


def studies_column(df: pd.DataFrame) -> list[str]:
    """Studies and patients in one cell: ``3 (1,234)``."""
    return [f"{k} ({fmt_int(n)})" for k, n in zip(df["k"], df["patients"], strict=True)]


# An interval wider than this (as a proportion, i.e. 50 percentage points) spans at least
# half of the possible range of a rate: it no longer separates a rare outcome from a common
# one, and is flagged where it is shown.
WIDE = 0.5
WIDE_MARK = "†"


def is_wide(low: float, high: float) -> bool:
    """Whether the interval ``(low, high)`` of a proportion is wider than :data:`WIDE`."""
    if low is None or high is None:
        return False
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    return high - low > WIDE


def wide_note(low: float, high: float, k: int, population: str = "") -> str:
    """One sentence explaining a very wide interval, or "" when the interval is not wide.

    Parameters
    ----------
    low, high : float
        The interval, as proportions.
    k : int
        Number of studies behind it.
    population : str
        The population's key; ``"all"`` (newly diagnosed and relapsed disease mixed) adds
        why mixing widens it.

    Returns
    -------
    str
        Plain text starting with :data:`WIDE_MARK`.
    """
    if not is_wide(low, high):
        return ""
    span = f"{fmt_pct(low)} to {fmt_pct(high)}"
    why = (
        f"with only {plural(k, 'study', 'studies')} whose rates differ, the interval must "
        "allow for that spread and for how poorly so few studies measure it, so it covers "
        "most of the possible range"
    )
    if k == 1:
        why = "one small study gives little information"
    if population == "all":
        why += (
            "; here newly diagnosed and relapsed or refractory patients, whose rates differ "
            "by disease stage, are pooled together"
        )
    return (
        f"{WIDE_MARK} The interval {span} is very wide, not an error: {why}. "
        "Read it as 'not known', not as a result."
    )


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_sig(x: float, sig: int = 3) -> str:
    """``x`` to ``sig`` significant digits, powers of ten written as a reader writes them.

    ``0.0412`` and ``45.2`` stay as they are; ``2.67e-23`` becomes ``2.67 × 10⁻²³`` (a reader
    may not read exponent notation, and 22 zeros are no better).

    Examples
    --------
    >>> fmt_sig(2.6712e-23), fmt_sig(0.041234), fmt_sig(-1.5e-7, 2)
    ('2.67 × 10⁻²³', '0.0412', '-1.5 × 10⁻⁷')
    """
    if not math.isfinite(x):
        return "not estimable"
    text = f"{x:.{sig}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa} \u00d7 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
