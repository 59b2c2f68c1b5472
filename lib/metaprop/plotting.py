"""Plots of a meta-analysis: forest, subgroup forest, funnel and leave-one-out.

Every function takes ``ax=None`` (a new figure sized to its content) or an existing
matplotlib axes, draws on it and returns it. One style throughout: the Okabe-Ito
colour-blind-safe palette, a 9.5-point base font, proportions labelled in percent. The
forest-type tables are 7 inches wide (a printed page); ``compact=True`` keeps the labels
and the interval column only, 5 inches wide, legible at phone width.

The forest-type plots draw their text columns on ``ax`` (its frame hidden) and the
intervals on an inset axes that spans the middle of ``ax`` and shares its rows, so the
whole table stays inside the axes it was given: ``ax.child_axes[0]`` is the scale. A study
label too long for its column is written on one line and cut in the middle with an
ellipsis (:func:`shorten`), so that it never runs into the next column or widens the figure.
"""

from __future__ import annotations

import warnings

import numpy as np

from metaprop._validation import check_level
from metaprop.transforms import transform

__all__ = [
    "OKABE_ITO",
    "forest_plot",
    "funnel_plot",
    "leave_one_out_plot",
    "shorten",
    "subgroup_forest_plot",
]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
"""Okabe & Ito (2008) palette, distinguishable with the common colour-vision deficiencies."""

STUDY = OKABE_ITO["blue"]
POOLED = OKABE_ITO["black"]
PREDICTION = OKABE_ITO["vermillion"]
FILLED = OKABE_ITO["vermillion"]
FONT = 9.5
SMALL = 8.5
# The compact layout is drawn for a phone, where a 5-inch figure is shown about 360 CSS px
# wide: every text of it (tick labels, notes) is drawn at FONT, none smaller, so that all
# of it stays at least 9 CSS px high (issue 22: all text of a phone plot >= 9 CSS px).
COMPACT_MIN_FONT = FONT

_ROW_INCH = 0.26  # height of a table row in a figure made here
# text columns (x as a fraction of the width of ax, alignment; None = not drawn), the span
# of the interval scale, and the width in inches of a figure made here. Compact: for a
# narrow page (a phone): label and interval text only, in a 5-inch figure.
_LAYOUTS = {
    False: ([(0.0, "left"), (0.33, "right"), (0.665, "left"), (1.0, "right")], (0.35, 0.645), 7.0),
    True: ([(0.0, "left"), None, (0.70, "left"), None], (0.37, 0.68), 5.0),
}
_EN_DASH = "\u2013"
_ELLIPSIS = "\u2026"


# --------------------------------------------------------------------------------------
# text that comes from the data


def _text_width(s: str, fontsize: float, weight="normal") -> float:
    """Width in points of ``s`` drawn as plain text (no mathtext) in the current fonts."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=fontsize, weight=weight)
    return text_to_path.get_text_width_height_descent(s, prop, ismath=False)[0]


def shorten(text, width: float, *, fontsize: float = FONT, weight="normal") -> str:
    """``text`` on one line, cut in the middle to at most ``width`` points wide.

    Parameters
    ----------
    text : str
        A label (any object is converted with ``str``). Runs of white space, line breaks
        included, become one space.
    width : float
        Room in points (1/72 inch) at which the text is drawn.
    fontsize : float
        Font size in points.
    weight : str or int
        Font weight, as matplotlib takes it (``"normal"``, ``"bold"``).

    Returns
    -------
    str
        The text itself when it fits; otherwise its start and its end joined by an
        ellipsis (U+2026), as many characters as fit, a little more of the end than of
        the start: labels differ there (a year, a reference number, a variant).

    Notes
    -----
    Widths are measured with the fonts of the current matplotlib settings (font
    fallback included), without mathtext, as the plots here draw data text.

    Examples
    --------
    >>> from metaprop.plotting import shorten
    >>> shorten("Smith   2019  (ref 4)", 200)
    'Smith 2019 (ref 4)'
    >>> shorten("Longbottom" + "x" * 200 + " 2019 (ref 107)", 120)
    'Longbottomxx…(ref 107)'
    """
    s = " ".join(str(text).split())

    def fits(t: str, room: float) -> bool:
        return _text_width(t, fontsize, weight) <= room

    if fits(s, width):
        return s
    # the end: the longest run of whole words that takes at most 60% of the room, or, when
    # not even the last word does, as many of its last characters as do
    room = 0.6 * width
    words = [i + 1 for i, c in enumerate(s) if c == " "]
    start = next((i for i in words if fits(_ELLIPSIS + s[i:], room)), None)
    if start is None:
        start = len(s) - _longest(len(s) - 1, lambda k: fits(_ELLIPSIS + s[len(s) - k :], room))
    tail = s[start:]
    # the start: as many characters as fit before the ellipsis
    head = _longest(
        len(s) - len(tail) - 1, lambda k: fits(s[:k].rstrip() + _ELLIPSIS + tail, width)
    )
    return s[:head].rstrip() + _ELLIPSIS + tail


def _longest(n: int, ok) -> int:
    """The largest k in 0..n with ``ok(k)`` (``ok`` true up to some k, false above)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --------------------------------------------------------------------------------------
# shared table layout of the forest-type plots


def _new_axes(ax, n_rows: int, compact: bool = False):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    width = _LAYOUTS[compact][2]
    height = max(2.2, _ROW_INCH * (n_rows + 3.5))
    fig = plt.figure(figsize=(width, height))
    bottom = 0.9 / height
    top = 1.0 - 0.15 / height
    return fig.add_axes((0.02, bottom, 0.96, top - bottom))


class _Table:
    """A table of rows on ``ax``; intervals are drawn on ``self.scale`` (an inset axes).

    Column positions are fractions of the width of ``ax``; rows are numbered from the top
    (row 0 is the header) and drawn at y = -row.
    """

    def __init__(self, ax, n_rows, compact=False):
        self.ax = ax
        self.columns, scale_span, _ = _LAYOUTS[compact]
        # size of the secondary text (ticks, notes): never below FONT on a phone layout
        self.small = COMPACT_MIN_FONT if compact else SMALL
        self.scale_x0 = scale_span[0]
        # width of ax in points, for fitting labels to their column
        self.width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72.0
        ax.set_axis_off()
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(-(n_rows - 0.4), 1.0)  # headroom for two-line headers
        x0, x1 = scale_span
        self.scale = ax.inset_axes((x0, 0.0, x1 - x0, 1.0), sharey=ax)
        self.scale.patch.set_alpha(0.0)
        for side in ("left", "right", "top"):
            self.scale.spines[side].set_visible(False)
        self.scale.tick_params(axis="y", left=False, labelleft=False)
        self.scale.tick_params(axis="x", labelsize=self.small, length=3, color="#444444")
        self.scale.spines["bottom"].set_color("#444444")
        self.trans = ax.get_yaxis_transform()  # x in axes fraction, y in rows

    def text(self, row, col, s, **kw):
        if self.columns[col] is None:
            return
        x, ha = self.columns[col]
        kw.setdefault("fontsize", FONT)
        # Cell text can come from data (study labels): never parse it as mathtext.
        self.ax.text(x, -row, s, ha=ha, va="center", transform=self.trans, parse_math=False, **kw)

    def label(self, row, s, beside="", indent="", heading=False, **kw):
        """Text from the data (a study label, a group name) in the first column.

        One line, cut in the middle (:func:`shorten`) to end before ``beside``, the text of
        the row's second column, or before the interval scale when the row has none; a
        ``heading`` (a row with nothing else in it) may run across the scale.
        """
        kw.setdefault("fontsize", FONT)
        size = kw["fontsize"]
        if heading:
            right = self.columns[2][0] * self.width_pt
        elif beside and self.columns[1] is not None:
            right = self.columns[1][0] * self.width_pt - _text_width(beside, size)
        else:
            right = self.scale_x0 * self.width_pt
        room = right - self.columns[0][0] * self.width_pt - 0.8 * size  # a gap of 0.8 em
        weight = kw.get("fontweight", "normal")
        room -= _text_width(indent, size, weight) if indent else 0.0
        self.text(row, 0, indent + shorten(s, room, fontsize=size, weight=weight), **kw)

    def header(self, cells):
        """Bold column headings in row 0, bottom-aligned on the rule below them."""
        for spec, s in zip(self.columns, cells, strict=True):
            if spec and s:
                x, ha = spec
                self.ax.text(
                    x,
                    -0.4,
                    s,
                    ha=ha,
                    va="bottom",
                    transform=self.trans,
                    fontsize=FONT,
                    fontweight="bold",
                    linespacing=1.1,
                )

    def refline(self, x, last_row, **kw):
        """Vertical dashed line at ``x`` from the header down to ``last_row``."""
        kw.setdefault("color", POOLED)
        self.scale.plot([x, x], [-0.5, -(last_row + 0.5)], lw=0.8, ls=(0, (4, 3)), zorder=1, **kw)

    def rule(self, y):
        self.ax.plot([0.0, 1.0], [y, y], transform=self.trans, color="#444444", lw=0.6)


def _pct(p, digits):
    return "NA" if not np.isfinite(p) else f"{100.0 * p:.{digits}f}"


def _interval_text(est, low, high, digits):
    return f"{_pct(est, digits)} ({_pct(low, digits)}{_EN_DASH}{_pct(high, digits)})"


def _percent_axis(scale, limits, label):
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    scale.set_xlim(*limits)
    scale.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    decimals = 0 if limits[1] - limits[0] > 0.1 else 1
    scale.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))
    scale.set_xlabel(label, fontsize=FONT)


def _limits(lows, highs, xlim):
    """Scale limits: the data padded by 3%, kept within [0, 1] when the data are."""
    if xlim is not None:
        return tuple(xlim)
    vals = np.concatenate([np.ravel(lows), np.ravel(highs)])
    vals = vals[np.isfinite(vals)]
    lo, hi = float(vals.min()), float(vals.max())
    pad = 0.03 * max(hi - lo, 0.05)
    lo = max(0.0, lo - pad) if lo >= 0.0 else lo - pad
    hi = min(1.0, hi + pad) if hi <= 1.0 else hi + pad
    return lo, hi


def _draw_studies(scale, rows, est, low, high, weights, gid):
    """Squares (area proportional to weight) with CI whiskers, one per study row."""
    y = -np.asarray(rows, dtype=float)
    scale.hlines(y, low, high, color=STUDY, lw=1.1, gid=f"{gid}-ci", zorder=2)
    w = np.asarray(weights, dtype=float)
    if np.all(np.isfinite(w)) and w.sum() > 0:
        size = 12.0 + 150.0 * w / w.max()
    else:
        size = np.full(len(y), 30.0)
    return scale.scatter(
        est, y, s=size, marker="s", color=STUDY, edgecolor="none", zorder=3, gid=gid, clip_on=False
    )


def _diamond(scale, row, est, low, high, gid="pooled"):
    from matplotlib.patches import Polygon

    y = -row
    poly = Polygon(
        [(low, y), (est, y + 0.36), (high, y), (est, y - 0.36)],
        closed=True,
        facecolor=POOLED,
        edgecolor=POOLED,
        zorder=4,
        gid=gid,
    )
    scale.add_patch(poly)
    return poly


def _prediction_bar(scale, row, low, high):
    y = -row
    scale.plot([low, high], [y, y], color=PREDICTION, lw=3.2, solid_capstyle="butt", gid="pi")


def _model_name(res):
    if res.method == "FE":
        return "Common-effect model"
    if res.method == "GLMM":
        return "Random-effects GLMM"
    return f"Random-effects model ({res.method})"


def _heterogeneity_text(res):
    if res.k < 2:
        return ""
    p = res.q_pvalue
    ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    tau = "" if res.method == "FE" else f", \u03c4\u00b2 = {res.tau2:.3g}"
    return f"Heterogeneity: I\u00b2 = {res.i2:.0f}%{tau}, Q({res.q_df}) = {res.q:.2f}, {ptxt}"


def _study_order(res, tab, sort):
    k = res.k
    if sort is None:
        return np.arange(k)
    if isinstance(sort, str):
        keys = {
            "estimate": tab["proportion"].to_numpy(),
            "weight": -tab["weight_pct"].to_numpy(),
            "precision": np.asarray(res.vi),
            "label": np.array(res.labels, dtype=object),
        }
        if sort not in keys:
            raise ValueError(f"unknown sort {sort!r}; expected one of {', '.join(keys)}")
        return np.argsort(keys[sort], kind="stable")
    order = np.asarray(sort)
    if sorted(order.tolist()) != list(range(k)):
        raise ValueError(f"sort must be a key name or a permutation of 0..{k - 1}")
    return order


# --------------------------------------------------------------------------------------


def forest_plot(
    res,
    ax=None,
    *,
    sort=None,
    ci: str = "exact",
    show_pi: bool = True,
    pi_dist: str | None = None,
    digits: int = 1,
    xlim=None,
    xlabel: str = "Proportion",
    compact: bool = False,
):
    """Forest plot of a meta-analysis of proportions.

    Parameters
    ----------
    res : MetaResult
        A fitted model.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (its frame is hidden; the interval scale is an inset axes in the
        middle of it). Default: a new figure sized to the number of studies.
    sort : {None, "estimate", "weight", "precision", "label"} or array-like of int
        Row order: input order (default), by proportion, by weight (largest first), by
        sampling variance, by label, or a permutation of the study indices.
    ci : {"exact", "wilson", "wald"}
        Study intervals for counts (Clopper-Pearson by default).
    show_pi : bool
        Draw the prediction interval under the pooled diamond (random-effects models).
    pi_dist : {None, "z", "t(k-1)", "t(k-2)"}
        Distribution of the prediction interval: None draws ``res.pi`` (metafor's
        ``predict()``), otherwise ``res.prediction_interval(pi_dist)``; the bar is left
        out where that interval is undefined (t(k-2) below three studies).
    digits : int
        Decimals of the percentages printed in the table.
    xlim : tuple of float, optional
        Limits of the proportion scale (default: the data, within [0, 1]).
    xlabel : str
        Label of the proportion scale (``"(%)"`` is appended).
    compact : bool
        Only the study label and the percentage column beside the intervals, in a
        5-inch figure: legible at phone width.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, with columns study, events/total, proportion (95% CI) and weight; the
        pooled diamond; the prediction-interval bar; heterogeneity in the last line.

    Raises
    ------
    ValueError
        For an unknown ``sort`` key.

    Notes
    -----
    Square areas are proportional to the model weights (equal when the model has none,
    as the GLMM). Intervals are drawn on the proportion scale; a percentage column
    prints estimate (low-high). A label longer than its column is cut in the middle
    (``metaprop.plotting.shorten``); ``res.labels`` holds it whole.

    References
    ----------
    Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ
    322:1479-1480. doi:10.1136/bmj.322.7300.1479

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22])
    >>> ax = mp.forest_plot(res)
    >>> len(ax.child_axes)
    1
    """
    tab = res.studies(ci=ci)
    order = _study_order(res, tab, sort)
    has_counts = res.events is not None
    has_weights = bool(np.all(np.isfinite(res.weights)))
    random = res.method != "FE"
    pi = res.pi
    if show_pi and random and res.k > 1 and pi_dist is not None:
        with warnings.catch_warnings():  # t(k-2) with k = 2: NaN, and the bar is left out
            warnings.simplefilter("ignore", UserWarning)
            pi = res.prediction_interval(pi_dist)
    pi_row = show_pi and random and res.k > 1 and bool(np.all(np.isfinite(pi)))
    n_rows = 1 + res.k + 1 + int(pi_row) + 1
    ax = _new_axes(ax, n_rows, compact)
    pct = f"{100 * res.level:g}%"
    t = _Table(ax, n_rows, compact)
    t.header(
        [
            "Study",
            "Events/Total" if has_counts else "",
            f"Proportion, %\n({pct} CI)",
            "Weight" if has_weights else "",
        ],
    )
    t.rule(-0.5)
    rows = np.arange(1, res.k + 1)
    tab = tab.iloc[order].reset_index(drop=True)
    for row, rec in zip(rows, tab.itertuples(index=False), strict=True):
        counts = f"{int(rec.events)}/{int(rec.total)}" if has_counts else ""
        t.label(row, rec.label, beside=counts)
        if has_counts:
            t.text(row, 1, counts)
        t.text(row, 2, _interval_text(rec.proportion, rec.ci_low, rec.ci_high, digits))
        if has_weights:
            t.text(row, 3, f"{rec.weight_pct:.1f}%")
    _draw_studies(
        t.scale,
        rows,
        tab["proportion"],
        tab["ci_low"],
        tab["ci_high"],
        tab["weight_pct"],
        "studies",
    )
    pooled_row = res.k + 1
    t.rule(-(pooled_row - 0.5))
    _diamond(t.scale, pooled_row, res.estimate, res.ci.low, res.ci.high)
    t.text(pooled_row, 0, _model_name(res), fontweight="bold")
    t.text(pooled_row, 2, _interval_text(res.estimate, *res.ci, digits), fontweight="bold")
    if has_weights:
        t.text(pooled_row, 3, "100%", fontweight="bold")
    lows = [tab["ci_low"], [res.ci.low]]
    highs = [tab["ci_high"], [res.ci.high]]
    if pi_row:
        _prediction_bar(t.scale, pooled_row + 1, *pi)
        t.text(pooled_row + 1, 0, "Prediction interval", color=PREDICTION)
        t.text(
            pooled_row + 1,
            2,
            f"({_pct(pi[0], digits)}{_EN_DASH}{_pct(pi[1], digits)})",
            color=PREDICTION,
        )
        lows.append([pi[0]])
        highs.append([pi[1]])
    t.text(n_rows - 1, 0, _heterogeneity_text(res), fontsize=t.small, color="#333333")
    t.refline(res.estimate, pooled_row)
    limits = _limits(np.concatenate(lows), np.concatenate(highs), xlim)
    _percent_axis(t.scale, limits, f"{xlabel} (%)")
    return ax


def subgroup_forest_plot(
    sub, ax=None, *, ci: str = "exact", digits: int = 1, xlim=None, compact: bool = False
):
    """Forest plot with one block per subgroup and the test for subgroup differences.

    Parameters
    ----------
    sub : SubgroupResult
        Result of :func:`metaprop.subgroup_analysis` (``results`` maps each level to its
        :class:`MetaResult`; ``q_between`` holds the test across levels).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure sized to the number of rows.
    ci : {"exact", "wilson", "wald"}
        Study intervals for counts.
    digits : int
        Decimals of the printed percentages.
    xlim : tuple of float, optional
        Limits of the proportion scale.
    compact : bool
        Only labels and the percentage column (see :func:`forest_plot`).

    Returns
    -------
    matplotlib.axes.Axes
        Each level: a bold heading, its studies, its diamond with k, I^2 and weight
        within the level; then the overall diamond (when ``sub.overall`` exists) and, last,
        Q between subgroups, its df and p-value.

    Notes
    -----
    Weights are within each subgroup (percent of that subgroup's total weight), as each
    subgroup is a separate model.

    References
    ----------
    Borenstein M, Higgins JPT (2013). Meta-analysis and subgroups. Prev Sci 14:134-143.
    doi:10.1007/s11121-013-0377-7

    Examples
    --------
    >>> import metaprop as mp
    >>> sub = mp.subgroup_analysis([4, 9, 12, 7], [20, 30, 25, 22], groups=list("aabb"))
    >>> ax = mp.subgroup_forest_plot(sub)
    >>> len(ax.child_axes)
    1
    """
    import pandas as pd

    levels = list(sub.results.items())
    overall = getattr(sub, "overall", None)
    n_rows = 1 + sum(r.k + 3 for _, r in levels) + (overall is not None) + 1
    ax = _new_axes(ax, n_rows, compact)
    any_counts = any(r.events is not None for _, r in levels)
    level_pct = f"{100 * levels[0][1].level:g}%"
    t = _Table(ax, n_rows, compact)
    t.header(
        [
            "Study",
            "Events/Total" if any_counts else "",
            f"Proportion, %\n({level_pct} CI)",
            "Weight",
        ],
    )
    t.rule(-0.5)
    row = 1
    lows, highs, study_rows, studies = [], [], [], []
    for name, res in levels:
        t.label(row, name, heading=True, fontweight="bold")
        row += 1
        tab = res.studies(ci=ci)
        rows = np.arange(row, row + res.k)
        for r, rec in zip(rows, tab.itertuples(index=False), strict=True):
            counts = f"{int(rec.events)}/{int(rec.total)}" if res.events is not None else ""
            t.label(r, rec.label, beside=counts, indent="  ")
            if counts:
                t.text(r, 1, counts)
            t.text(r, 2, _interval_text(rec.proportion, rec.ci_low, rec.ci_high, digits))
            if np.isfinite(rec.weight_pct):
                t.text(r, 3, f"{rec.weight_pct:.1f}%")
        study_rows.append(rows)
        studies.append(tab)
        row += res.k
        _diamond(t.scale, row, res.estimate, res.ci.low, res.ci.high)
        i2 = "" if res.k < 2 else f", I\u00b2 = {res.i2:.0f}%"
        t.text(row, 0, f"  Subgroup ({_model_label(res)}, k = {res.k}{i2})", fontsize=t.small)
        t.text(row, 2, _interval_text(res.estimate, *res.ci, digits), fontweight="bold")
        lows += [tab["ci_low"].to_numpy(), [res.ci.low]]
        highs += [tab["ci_high"].to_numpy(), [res.ci.high]]
        row += 2
    tab_all = pd.concat(studies, ignore_index=True)
    _draw_studies(
        t.scale,
        np.concatenate(study_rows),
        tab_all["proportion"],
        tab_all["ci_low"],
        tab_all["ci_high"],
        tab_all["weight_pct"],
        "studies",
    )
    if overall is not None:
        t.rule(-(row - 0.5))
        _diamond(t.scale, row, overall.estimate, *overall.ci, gid="overall")
        t.text(row, 0, f"Overall ({_model_label(overall)}, k = {overall.k})", fontweight="bold")
        t.text(row, 2, _interval_text(overall.estimate, *overall.ci, digits), fontweight="bold")
        t.refline(overall.estimate, row)
        lows.append([overall.ci.low])
        highs.append([overall.ci.high])
    qb = sub.q_between
    p = qb.pvalue
    ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    t.text(
        n_rows - 1,
        0,
        f"Test for subgroup differences: Q = {qb.statistic:.2f}, df = {qb.df}, {ptxt}",
        fontsize=t.small,
        gid="q-between",
    )
    limits = _limits(np.concatenate(lows), np.concatenate(highs), xlim)
    _percent_axis(t.scale, limits, "Proportion (%)")
    return ax


def _model_label(res):
    return "common effect" if res.method == "FE" else res.method


def leave_one_out_plot(
    res, ax=None, *, loo=None, digits: int = 1, xlim=None, compact: bool = False
):
    """Leave-one-out plot: the pooled proportion with each study omitted in turn.

    Parameters
    ----------
    res : MetaResult
        The fitted model.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure.
    loo : LeaveOneOutResult, optional
        Output of :func:`metaprop.leave_one_out` (computed when not given).
    digits : int
        Decimals of the printed percentages.
    xlim : tuple of float, optional
        Limits of the proportion scale.
    compact : bool
        Only labels and the percentage column (see :func:`forest_plot`).

    Returns
    -------
    matplotlib.axes.Axes
        One row per omitted study (estimate and CI, I^2), then the full model's diamond;
        a shaded band marks the full model's CI.

    Notes
    -----
    Row :math:`i` shows the model refitted without study :math:`i`
    (:func:`metaprop.leave_one_out`, same method, test and level), back-transformed; a
    study whose omission moves the estimate outside the band is influential.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Res Synth Methods 1:112-125. doi:10.1002/jrsm.11

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22])
    >>> ax = mp.leave_one_out_plot(res)
    >>> len(ax.child_axes)
    1
    """
    if loo is None:
        from metaprop.sensitivity import leave_one_out

        loo = leave_one_out(res)
    if not hasattr(loo, "to_frame") or not hasattr(loo, "q_pvalue"):
        raise ValueError(
            f"loo must be the LeaveOneOutResult of leave_one_out(res), got {type(loo).__name__}"
        )
    loo = loo.to_frame()
    k = len(loo)
    n_rows = 1 + k + 2
    ax = _new_axes(ax, n_rows, compact)
    pct = f"{100 * res.level:g}%"
    t = _Table(ax, n_rows, compact)
    t.header(["Omitted study", "", f"Proportion, %\n({pct} CI)", "I\u00b2"])
    t.rule(-0.5)
    rows = np.arange(1, k + 1)
    for r, rec in zip(rows, loo.itertuples(index=False), strict=True):
        t.label(r, rec.label)
        t.text(r, 2, _interval_text(rec.estimate, rec.ci_low, rec.ci_high, digits))
        t.text(r, 3, f"{rec.i2:.0f}%")
    y = -rows.astype(float)
    t.scale.hlines(y, loo["ci_low"], loo["ci_high"], color=STUDY, lw=1.1, zorder=2)
    t.scale.scatter(loo["estimate"], y, s=30, marker="o", color=STUDY, zorder=3, gid="studies")
    pooled_row = k + 1
    t.scale.fill_betweenx(
        [-0.5, -(pooled_row + 0.5)],
        res.ci.low,
        res.ci.high,
        color=OKABE_ITO["sky_blue"],
        alpha=0.2,
        lw=0,
        zorder=0,
        gid="ci-band",
    )
    t.refline(res.estimate, pooled_row)
    t.rule(-(pooled_row - 0.5))
    _diamond(t.scale, pooled_row, res.estimate, res.ci.low, res.ci.high)
    t.text(pooled_row, 0, "All studies", fontweight="bold")
    t.text(pooled_row, 2, _interval_text(res.estimate, *res.ci, digits), fontweight="bold")
    t.text(pooled_row, 3, f"{res.i2:.0f}%", fontweight="bold")
    limits = _limits(
        np.concatenate([loo["ci_low"], [res.ci.low]]),
        np.concatenate([loo["ci_high"], [res.ci.high]]),
        xlim,
    )
    _percent_axis(t.scale, limits, "Proportion (%)")
    return ax


# --------------------------------------------------------------------------------------


def funnel_plot(
    res,
    ax=None,
    *,
    x: str = "se",
    contours: bool = False,
    filled=None,
    null: float = 0.5,
    levels=(0.90, 0.95, 0.99),
):
    """Funnel plot: study effects against standard error or sample size.

    Parameters
    ----------
    res : MetaResult
        The fitted model (studies on its analysis scale).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure.
    x : {"se", "n"}
        Precision axis (vertical): standard error (inverted, 0 at the top, with the
        pseudo-95% region around the pooled estimate) or sample size (``res.ni``).
    contours : bool
        Contour-enhanced funnel (Peters et al. 2008): shade where a study's z test
        against ``null`` has p < 0.01, 0.01-0.05 and 0.05-0.10 (``x="se"`` only).
    filled : TrimFillResult, optional
        Trim-and-fill result: its imputed studies are drawn as open markers and its
        adjusted estimate as a dashed line.
    null : float
        Proportion under the null hypothesis of the contours (transformed to the
        analysis scale).
    levels : tuple of float
        Confidence levels of the contours.

    Returns
    -------
    matplotlib.axes.Axes
        Horizontal axis on the analysis scale, labelled with the back-transformed
        percentages.

    Raises
    ------
    ValueError
        For an unknown ``x``; ``x="n"`` without sample sizes, or with ``contours`` or
        ``filled`` (neither has a sample-size version).

    Notes
    -----
    With ``x="se"`` the pseudo-confidence region is
    :math:`\\hat\\mu\\pm z_{1-\\alpha/2}\\,s` for standard error :math:`s` (Sterne &
    Egger 2001); a contour at level :math:`1-\\alpha` is
    :math:`\\theta_0\\pm z_{1-\\alpha/2}\\,s`, with :math:`\\theta_0` the proportion
    ``null`` on the analysis scale (Peters et al. 2008).

    References
    ----------
    Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis:
    guidelines on choice of axis. J Clin Epidemiol 54:1046-1055.
    doi:10.1016/S0895-4356(01)00377-8

    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced
    meta-analysis funnel plots help distinguish publication bias from other causes of
    asymmetry. J Clin Epidemiol 61:991-996. doi:10.1016/j.jclinepi.2007.11.010

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7, 30], [20, 30, 25, 22, 60])
    >>> ax = mp.funnel_plot(res, contours=True)
    >>> bool(ax.get_ylim()[0] > ax.get_ylim()[1])
    True
    """
    import matplotlib.pyplot as plt

    if x not in ("se", "n"):
        raise ValueError(f"unknown x {x!r}; expected 'se' or 'n'")
    levels = tuple(check_level(lv, "levels") for lv in np.atleast_1d(np.asarray(levels, object)))
    if x == "n" and (contours or filled is not None):
        raise ValueError("contours and filled studies need x='se' (they have no sample size)")
    if x == "n" and res.ni is None:
        raise ValueError("x='n' needs the studies' sample sizes (fit with counts or ni=)")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.2), layout="constrained")
    handles = []
    yi = np.asarray(res.yi, dtype=float)
    sei = np.sqrt(np.asarray(res.vi, dtype=float))
    if x == "se":
        ypos = sei
        all_se = sei if filled is None else np.concatenate([sei, np.sqrt(filled.filled_vi)])
        ymax = 1.05 * all_se.max()
        se_grid = np.linspace(0.0, ymax, 100)
        if contours:
            handles += _contours(ax, res, se_grid, null, levels)
        else:
            z = _z(res.level)
            ax.fill_betweenx(
                se_grid,
                res.estimate_t - z * se_grid,
                res.estimate_t + z * se_grid,
                color=OKABE_ITO["sky_blue"],
                alpha=0.15,
                lw=0,
                gid="funnel",
            )
            for s in (-1, 1):
                ax.plot(
                    res.estimate_t + s * z * se_grid,
                    se_grid,
                    color="#555555",
                    lw=0.8,
                    ls=(0, (4, 3)),
                )
        ax.set_ylim(ymax, 0.0)
        ax.set_ylabel("Standard error", fontsize=FONT)
    else:
        ypos = np.asarray(res.ni, dtype=float)
        ax.set_ylabel("Sample size", fontsize=FONT)
        ax.set_ylim(0.0, 1.05 * ypos.max())
    ax.axvline(res.estimate_t, color=POOLED, lw=1.0, gid="estimate")
    ax.scatter(yi, ypos, s=28, color=STUDY, edgecolor="white", lw=0.5, zorder=3, gid="studies")
    if filled is not None and filled.k0 > 0:
        open_markers = ax.scatter(
            filled.filled_yi,
            np.sqrt(filled.filled_vi),
            s=28,
            facecolors="none",
            edgecolors=FILLED,
            lw=1.2,
            zorder=3,
            gid="filled",
            label=f"Imputed (trim-and-fill, k0 = {filled.k0})",
        )
        ax.axvline(
            filled.result.estimate_t, color=FILLED, lw=1.0, ls=(0, (4, 3)), gid="filled-estimate"
        )
        handles.append(open_markers)
    if handles:
        title = f"Study p vs {100 * null:g}%" if contours else None
        leg = ax.legend(
            handles=handles,
            fontsize=SMALL,
            loc="best",
            title=title,
            title_fontsize=SMALL,
            framealpha=0.9,
            edgecolor="none",
        )
        leg.set_zorder(5)
    _proportion_ticks(ax, res)
    ax.set_xlabel(f"Proportion (%), {_scale_name(res)} scale", fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


_TICK_TIERS = (
    (0.0, 0.5, 1.0),
    (0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.01, 0.99),
    (0.05, 0.95, 0.25, 0.75, 0.02, 0.98, 0.001, 0.999),
    tuple(np.round(np.arange(0.05, 1.0, 0.1), 2)) + (0.005, 0.995),
    tuple(np.round(np.arange(0.01, 1.0, 0.01), 2)),
)


def _proportion_ticks(ax, res):
    """Ticks of the analysis-scale axis at round proportions, labelled in percent.

    Candidates come in tiers of decreasing roundness; each is kept if it is in view and
    at least a seventh of the axis away from the ticks already kept.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator

    lo, hi = sorted(ax.get_xlim())
    gap = (hi - lo) / 7.0
    kept: list[tuple[float, float]] = []
    for tier in _TICK_TIERS:
        cand = np.array(tier, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.asarray(transform(cand, res.transform, res.ni), dtype=float)
        for p, t in zip(cand, pos, strict=True):
            if np.isfinite(t) and lo <= t <= hi and all(abs(t - u) >= gap for _, u in kept):
                kept.append((p, t))
    kept.sort(key=lambda pt: pt[1])
    ax.xaxis.set_major_locator(FixedLocator([t for _, t in kept]))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{100 * p:g}%" for p, _ in kept]))


def _z(level):
    from scipy import special

    return float(special.ndtri(1.0 - (1.0 - level) / 2.0))


def _scale_name(res):
    return {
        "PR": "raw",
        "identity": "raw",
        "PLO": "logit",
        "logit": "logit",
        "PAS": "arcsine",
        "arcsine": "arcsine",
        "PFT": "Freeman-Tukey",
        "PLN": "log",
        "cloglog": "complementary log-log",
    }.get(res.transform, res.transform)


def _contours(ax, res, se_grid, null, levels):
    """Shade the regions of study-level significance against ``null`` (Peters 2008).

    Returns the legend handles, darkest (smallest p) first.
    """
    from matplotlib.patches import Patch

    centre = float(transform(null, res.transform, res.ni))
    alphas = sorted(1.0 - lv for lv in levels)  # e.g. 0.01, 0.05, 0.10
    zs = [_z(1.0 - a) for a in alphas]  # decreasing critical values
    shades = ["#A3A3A3", "#C2C2C2", "#E0E0E0", "#FFFFFF"][-(len(alphas) + 1) :]
    far = 1e3 * (float(np.ptp(res.yi)) + se_grid.max() + 1.0)
    ax.fill_betweenx(se_grid, centre - far, centre + far, color=shades[0], lw=0, zorder=0)
    for j, z in enumerate(zs):
        ax.fill_betweenx(
            se_grid,
            centre - z * se_grid,
            centre + z * se_grid,
            color=shades[j + 1],
            lw=0,
            zorder=0,
            gid=f"contour-{alphas[j]:g}",
        )
    yi = np.asarray(res.yi, dtype=float)
    span = max(float(np.ptp(yi)), 1e-6)
    lo = min(yi.min(), centre - zs[0] * se_grid.max()) - 0.05 * span
    hi = max(yi.max(), centre + zs[0] * se_grid.max()) + 0.05 * span
    ax.set_xlim(lo, hi)
    labels = [f"p < {alphas[0]:g}"] + [
        f"{a:g} < p < {b:g}" for a, b in zip(alphas[:-1], alphas[1:], strict=True)
    ]
    return [
        Patch(facecolor=c, edgecolor="#888888", lw=0.4, label=lab)
        for c, lab in zip(shades[: len(labels)], labels, strict=True)
    ]
