"""Input checks shared by the public functions.

Every check raises :class:`ValueError` with a message that names the offending study by
its position (0-based index) and its label, and quotes the value, so that a bad row in a
data table can be found at once. The checks run once per public call; the engine
(:mod:`metaprop._engine`) trusts its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import numpy as np

MEASURES = ("PR", "PLO", "PAS", "PFT", "PLN")
"""Outcome measures for single proportions (metafor's codes; PLN is the log proportion)."""

SCALES = ("identity", "logit", "cloglog", "arcsine")
"""Generic scales for :func:`metaprop.meta_analysis` (``transform=``)."""

METHODS = (
    "FE",
    "DL",
    "REML",
    "ML",
    "PM",
    "HE",
    "SJ",
    "HS",
    "EB",
    "HSk",
    "SJIT",
    "DLIT",
    "PMM",
    "GENQ",
)
"""Canonical estimator codes for tau^2 (GENQ needs user weights)."""

METHOD_ALIASES = {"EE": "FE", "CE": "FE"}
"""metafor's equal-effects and common-effect codes are the fixed-effect model here."""

TESTS = ("z", "knha", "adhoc")
"""Tests for the pooled estimate."""

TO_OPTIONS = ("only0", "all", "if0all", "none")
"""Which studies receive the continuity correction (metafor's ``to``)."""


def check_choice(value: str, allowed: Sequence[str], name: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError naming both."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {plain(value)}; expected one of {', '.join(allowed)}")
    return value


def canonical_method(method: str) -> str:
    """Map a method code (or alias EE/CE) to its canonical code, or raise ValueError."""
    if isinstance(method, str) and method in METHOD_ALIASES:
        return METHOD_ALIASES[method]
    return check_choice(method, METHODS, "method")


def check_level(level, name: str = "level") -> float:
    """Confidence level as a fraction; a percentage (95) is read as metafor reads it.

    Parameters
    ----------
    level : float
        A fraction in [0.5, 1) or a percentage in [50, 100).
    name : str
        The argument's name, for the error message.

    Returns
    -------
    float
        The level as a fraction in [0.5, 1).

    Raises
    ------
    ValueError
        For anything else: a bool, a string, an array, NaN, a value <= 0 or >= 100, a
        fraction below 0.5 or a percentage below 50. The message names the argument and
        quotes the value as Python prints it.

    Notes
    -----
    metafor (``.level()`` in ``misc.func.hidden.r``, 4.x) refuses values outside
    [0, 100] and turns the rest into :math:`\\alpha`: a value >= 1 is a percentage
    (:math:`\\alpha=(100-\\text{level})/100`), a value in (0.5, 1) a fraction
    (:math:`\\alpha=1-\\text{level}`) and a value <= 0.5 is read as :math:`\\alpha`
    itself (``level = 0.05`` gives a 95% interval). metaprop takes the two readings on
    which everyone agrees, fractions in [0.5, 1) and percentages in [50, 100), with
    metafor's result, and refuses the rest: below 0.5 metafor's reading (alpha) and the
    plain one (a level) disagree, and a percentage from 1 to 50 (``level = 1.5``) gives an
    interval narrower than 50%, which is almost always a slip for a fraction. No
    meta-analysis reports intervals narrower than 50%.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> from metaprop._validation import check_level
    >>> check_level(0.9), check_level(95)
    (0.9, 0.95)
    >>> check_level(1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: level must be a fraction in [0.5, 1) or a percentage in [50, 100) ... got 1.5
    """
    bad = isinstance(level, bool) or not isinstance(level, int | float | np.integer | np.floating)
    value = None if bad else float(level)
    if value is not None and 50.0 <= value < 100.0:
        return value / 100.0
    if value is not None and 0.5 <= value < 1.0:
        return value
    shown = plain(level)
    raise ValueError(
        f"{name} must be a fraction in [0.5, 1) or a percentage in [50, 100) "
        f"(95 or 0.95 for a 95% interval), got {shown}"
    )


def make_labels(labels, k: int) -> tuple[str, ...]:
    """Study labels as a tuple of strings; ``Study 1`` ... ``Study k`` when not given."""
    if labels is None:
        return tuple(f"Study {i + 1}" for i in range(k))
    out = tuple(str(x) for x in _array1d(labels, "labels").tolist())
    if len(out) != k:
        raise ValueError(f"length mismatch: {k} studies but {len(out)} labels")
    return out


def _array1d(values, name: str) -> np.ndarray:
    """A 1-D array of the input (a scalar is one study); strings and 2-D input are refused."""
    if isinstance(values, str | bytes):
        raise ValueError(f"{name}: expected a sequence of values, got the string {plain(values)}")
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim > 1:
        raise ValueError(f"{name}: expected a one-dimensional sequence, got shape {arr.shape}")
    return arr


def _where(i: int, labels: tuple[str, ...]) -> str:
    return f"study at index {i} ({labels[i]!r})"


def _float_array(values, name: str, labels: tuple[str, ...]) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        out = None
    if out is not None and out.ndim == 1:
        return out
    # slow path, only to name the value that does not convert
    out = np.empty(len(values), dtype=float)
    for i, x in enumerate(values.tolist() if isinstance(values, np.ndarray) else values):
        try:
            out[i] = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{_where(i, labels)}: {name} is not a number: {plain(x)}") from None
    return out


def check_counts(events, totals, labels=None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate event counts and totals.

    Parameters
    ----------
    events, totals : array-like of int
        Number of events and number of participants per study.
    labels : array-like of str, optional
        Study labels, used in error messages and results.

    Returns
    -------
    events, totals : ndarray of int64
    labels : tuple of str

    Raises
    ------
    ValueError
        For k = 0, a length mismatch, or a study whose count is NaN, negative,
        non-integer, has totals 0, or has more events than totals; the message names the
        study (index and label) and the value.

    Examples
    --------
    >>> from metaprop._validation import check_counts
    >>> check_counts([3, 12], [10, 10], ["A", "B"])
    Traceback (most recent call last):
    ...
    ValueError: study at index 1 ('B'): events (12) > totals (10)
    """
    if totals is None:
        raise ValueError("totals are required (number of participants per study)")
    ev_raw, n_raw = _array1d(events, "events"), _array1d(totals, "totals")
    k = ev_raw.shape[0]
    if k == 0:
        raise ValueError("no studies: k = 0")
    if n_raw.shape[0] != k:
        raise ValueError(f"length mismatch: {k} events but {n_raw.shape[0]} totals")
    labs = make_labels(labels, k)
    if ev_raw.dtype.kind in "iu" and n_raw.dtype.kind in "iu":
        # integer input: only the order checks remain
        if np.all((ev_raw >= 0) & (ev_raw <= n_raw) & (n_raw > 0)):
            return ev_raw.astype(np.int64), n_raw.astype(np.int64), labs
    ev = _float_array(ev_raw, "events", labs)
    n = _float_array(n_raw, "totals", labs)
    with np.errstate(invalid="ignore"):
        fine = np.all(np.isfinite(ev) & np.isfinite(n) & (ev >= 0) & (ev <= n) & (n > 0))
        fine = fine and np.all(ev == np.floor(ev)) and np.all(n == np.floor(n))
    if fine:
        return ev.astype(np.int64), n.astype(np.int64), labs
    for name, arr in (("events", ev), ("totals", n)):
        for i, x in enumerate(arr):
            if np.isnan(x):
                raise ValueError(f"{_where(i, labs)}: {name} is missing (NaN)")
            if not np.isfinite(x):
                raise ValueError(f"{_where(i, labs)}: {name} is not finite ({plain(x)})")
            if x < 0:
                raise ValueError(f"{_where(i, labs)}: {name} is negative ({_fmt(x)})")
            if x != np.floor(x):
                raise ValueError(f"{_where(i, labs)}: {name} is not an integer ({_fmt(x)})")
    for i in range(k):
        if n[i] == 0:
            raise ValueError(f"{_where(i, labs)}: totals is 0 (a proportion needs totals > 0)")
        if ev[i] > n[i]:
            raise ValueError(f"{_where(i, labs)}: events ({_fmt(ev[i])}) > totals ({_fmt(n[i])})")
    return ev.astype(np.int64), n.astype(np.int64), labs


def check_effects(
    yi, vi=None, sei=None, labels=None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate generic effect sizes and their sampling variances (or standard errors).

    Exactly one of ``vi`` and ``sei`` must be given; variances must be finite and > 0
    (``vi = sei**2``).

    Raises
    ------
    ValueError
        For k = 0, a length mismatch, a NaN or infinite value, or a variance (standard
        error) that is not positive; the message names the study and the value.
    """
    if (vi is None) == (sei is None):
        raise ValueError("give exactly one of vi (sampling variances) and sei (standard errors)")
    y_seq = _array1d(yi, "yi")
    k = len(y_seq)
    if k == 0:
        raise ValueError("no studies: k = 0")
    second, name = (vi, "vi") if vi is not None else (sei, "sei")
    s_seq = _array1d(second, name)
    if len(s_seq) != k:
        raise ValueError(f"length mismatch: {k} yi but {len(s_seq)} {name}")
    labs = make_labels(labels, k)
    y = _float_array(y_seq, "yi", labs)
    s = _float_array(s_seq, name, labs)
    if np.all(np.isfinite(y) & np.isfinite(s) & (s > 0)):
        return y, (s if vi is not None else s * s), labs
    for i in range(k):
        if not np.isfinite(y[i]):
            raise ValueError(f"{_where(i, labs)}: yi is not finite ({plain(y[i])})")
        if not np.isfinite(s[i]):
            raise ValueError(f"{_where(i, labs)}: {name} is not finite ({plain(s[i])})")
        if s[i] <= 0:
            raise ValueError(f"{_where(i, labs)}: {name} must be > 0, got {_fmt(s[i])}")
    v = s if vi is not None else s * s
    return y, v, labs


def check_ni(ni, k: int, labels: tuple[str, ...]) -> np.ndarray | None:
    """Validate optional sample sizes (used by the PFT back-transformation)."""
    if ni is None:
        return None
    n_seq = _array1d(ni, "ni")
    if len(n_seq) != k:
        raise ValueError(f"length mismatch: {k} studies but {len(n_seq)} ni")
    n = _float_array(n_seq, "ni", labels)
    for i, x in enumerate(n):
        if not np.isfinite(x) or x <= 0:
            raise ValueError(f"{_where(i, labels)}: ni must be a positive number, got {plain(x)}")
    return n


def frame_columns(data, **columns):
    """Pull the named columns out of a DataFrame (``None`` names are passed through).

    Raises
    ------
    ValueError
        If a name is not a column of ``data``.
    """
    out = {}
    for role, col in columns.items():
        if col is None:
            out[role] = None
            continue
        if not isinstance(col, str):
            raise ValueError(f"with data=, {role} must be a column name, got {type(col).__name__}")
        if col not in data.columns:
            raise ValueError(
                f"column {col!r} (for {role}) not found; columns are {list(data.columns)}"
            )
        out[role] = data[col].to_numpy()
    return out


def resolve_columns(data, names: tuple[str, ...], **roles):
    """Inputs of the two calling forms ``f(a, b)`` and ``f(data=df, a="col", b="col")``.

    Each role has one name (``events``, ``totals``, ``yi``, ...), given positionally or by
    keyword; with ``data=`` the values are column names.

    Parameters
    ----------
    data : DataFrame or None
        The table holding the named columns.
    names : tuple of str
        The leading roles, for the hint in the error message (e.g. ``("events",
        "totals")``).
    **roles
        Every role (``names`` included) mapped to its value: the data, a column name,
        or None.

    Returns
    -------
    values : dict of str to object
        Each role's values: the named columns with a DataFrame, else the values given.
    framed : bool
        A DataFrame was given.

    Raises
    ------
    ValueError
        A DataFrame given as a role instead of ``data=``, ``data`` that is not a
        DataFrame, a role that is not a column name with ``data``, or a column that
        ``data`` lacks.

    Examples
    --------
    >>> import pandas as pd
    >>> from metaprop._validation import resolve_columns
    >>> df = pd.DataFrame({"x": [3, 5], "n": [10, 12]})
    >>> cols, framed = resolve_columns(df, ("events", "totals"), events="x", totals="n",
    ...                                labels=None)
    >>> cols["events"].tolist(), framed
    ([3, 5], True)
    >>> resolve_columns(None, ("events", "totals"), events=[3, 5], totals=[10, 12],
    ...                 labels=None)[0]["totals"]
    [10, 12]
    """
    hint = ", ".join(f"{n}='column'" for n in names)
    if data is None:
        for role, value in roles.items():
            if is_frame(value):
                raise ValueError(
                    f"{role} is a DataFrame: give the table as data= and name its columns, "
                    f"data=df, {hint}"
                )
        return dict(roles), False
    if not is_frame(data):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    return frame_columns(data, **roles), True


def is_frame(obj) -> bool:
    """True for a pandas DataFrame (checked without importing pandas)."""
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


def plain(x) -> str:
    """A number as Python prints a float or int, never numpy's repr (``np.float64(-inf)``).

    Examples
    --------
    >>> import numpy as np
    >>> from metaprop._validation import plain
    >>> plain(np.float64(-np.inf)), plain(np.int64(3)), plain(0.25)
    ('-inf', '3', '0.25')
    """
    if isinstance(x, bool | np.bool_):
        return repr(bool(x))
    if isinstance(x, int | np.integer):
        return repr(int(x))
    if isinstance(x, float | np.floating):
        return repr(float(x))
    if isinstance(x, str):
        return repr(str(x))  # np.str_ too
    if isinstance(x, np.ndarray):
        return repr(x.tolist())
    return repr(x)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def readonly_arrays(obj) -> None:
    """Replace every ndarray field of a frozen dataclass by a read-only view of it.

    Called from each result's ``__post_init__``: a frozen dataclass forbids rebinding a
    field, and this makes ``res.weights[0] = 1`` raise too. A view (not a copy) keeps
    large batch results cheap; the caller's own array, if one was stored, stays writeable.

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 10, 7], [20, 25, 30])
    >>> res.weights.flags.writeable
    False
    """
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.flags.writeable:
            view = value.view()
            view.flags.writeable = False
            object.__setattr__(obj, f.name, view)


def short_repr(obj, **shown) -> str:
    """``ClassName(name=value, ...)`` on one line: numbers to 4 significant digits.

    The reprs of the result objects: what was fitted and its headline numbers, never the
    arrays or tables they hold (those are in ``to_frame()``).

    Examples
    --------
    >>> import numpy as np
    >>> from metaprop._validation import short_repr
    >>> class R: pass
    >>> short_repr(R(), k=np.int64(8), estimate=np.float64(0.297512), ci=(0.21943, 0.3896))
    'R(k=8, estimate=0.2975, ci=(0.2194, 0.3896))'
    """
    parts = ", ".join(f"{name}={_short(value)}" for name, value in shown.items())
    return f"{type(obj).__name__}({parts})"


def _short(value) -> str:
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_short(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)
