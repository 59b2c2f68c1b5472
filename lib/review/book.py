"""What the chapters share: plot style, figure and table downloads, numbers glued into prose.

A chapter calls :func:`setup` in its one hidden cell. From then on every figure a cell draws
is shown, saved as PNG and SVG next to the page and followed by its download links; tables
go through :func:`table` (escaped HTML plus a CSV download); numbers reach the prose through
:func:`glue_result` and :func:`glue_values` (``{glue:text}`NAME```), formatted here once so
that every page writes a percentage or a p-value the same way.

Text that comes from the data is always shown as text: tables are escaped HTML, glued
values are plain text, figure labels are drawn by matplotlib. A study called
``<script>alert(1)</script>`` appears as those characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

# Okabe & Ito (2008) colour-blind-safe palette, in the order the plots use it.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
# Sized for a phone: a figure 5.5 inches wide shrinks to about 360 px and 12 pt text
# stays legible; saved at 150 dpi for sharp PNGs on desktop screens.
STYLE = {
    "figure.figsize": (5.5, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.5,
    "svg.fonttype": "path",
}
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _slug(name: str) -> str:
    if not _SLUG.match(name):
        raise ValueError(f"file name {name!r}: use letters, digits, '-', '_' and '.' only")
    return name


def style() -> None:
    """Apply the book's plot style (palette, sizes) to matplotlib."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)


class _FigureSaver:
    """After each cell: show each figure it drew, save it as PNG and SVG, link the files.

    Replaces the inline backend's own post-execute display, so that each figure's links sit
    right under it; the backend's hook is still called afterwards to reset its state.
    """

    def __init__(self, prefix: str, backend_flush):
        self.prefix = _slug(prefix)
        self.count = 0
        self.backend_flush = backend_flush

    def __call__(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display

        for number in plt.get_fignums():
            fig = plt.figure(number)
            self.count += 1
            stem = f"{self.prefix}-figure-{self.count}"
            display(fig)
            fig.savefig(f"{stem}.png")
            fig.savefig(f"{stem}.svg")
            plt.close(fig)
            display(Markdown(_links(stem, ("png", "svg"))))
        self.backend_flush()  # nothing left to show; clears the backend's list of figures


def _links(stem: str, formats: Iterable[str]) -> str:
    """MyST download roles for ``stem.<format>`` files in the page's folder."""
    roles = [f"{{download}}`{fmt.upper()} <{stem}.{fmt}>`" for fmt in formats]
    return "Download: " + " · ".join(roles)


def setup(prefix: str = "page") -> None:
    """Set the plot style and save every figure the page draws, with download links.

    Call once, in the chapter's hidden set-up cell.

    Parameters
    ----------
    prefix : str
        Start of the figure file names (``<prefix>-figure-1.png``), e.g. the outcome code.
    """
    import matplotlib.pyplot as plt  # activates the inline backend and its display hook

    style()
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # plain Python (tests, scripts): style only
        return
    from matplotlib_inline.backend_inline import flush_figures

    plt.close(plt.figure())  # make sure the backend, and its display hook, are loaded
    plt.close("all")
    try:
        shell.events.unregister("post_execute", flush_figures)
    except ValueError:  # the inline backend is not active: nothing to replace
        return
    shell.events.register("post_execute", _FigureSaver(prefix, flush_figures))


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
    """A statistic with ``sig`` significant digits (``0.0412``, ``45.2``)."""
    if x is None or not math.isfinite(x):
        return "not estimable"
    if x == 0:
        return "0"
    return f"{x:.{sig}g}" if abs(x) < 10**sig else f"{x:,.0f}"


def fmt_p(p: float) -> str:
    """A p-value as journals print it: ``p < 0.001``, ``p = 0.034``, ``p = 0.21``."""
    if p is None or not math.isfinite(p):
        return "p not estimable"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def fmt_int(n: float) -> str:
    """A count with thousands separators: ``1,034``."""
    return f"{int(n):,}"


def glue_text(name: str, text: str) -> None:
    """Publish ``text`` for ``{glue:text}`name```; shown as plain text, never as markup."""
    from IPython.display import Pretty
    from myst_nb import glue

    glue(name, Pretty(str(text)), display=False)


def glue_values(prefix: str, values: Mapping[str, object]) -> None:
    """Publish each ``values[key]`` as ``<prefix>_<key>`` (as text)."""
    for key, value in values.items():
        glue_text(f"{prefix}_{key}", value)


RESULT_KEYS = (
    "estimate",
    "ci",
    "pi",
    "tau2",
    "tau2_ci",
    "i2",
    "i2_ci",
    "q",
    "q_df",
    "q_p",
    "k",
    "n",
    "level",
    "model",
)


def result_values(res) -> dict[str, str]:
    """The numbers of a ``metaprop.MetaResult``, formatted as the prose shows them.

    Keys: ``estimate``, ``ci``, ``pi``, ``tau2``, ``tau2_ci``, ``i2``, ``i2_ci``, ``q``,
    ``q_df``, ``q_p``, ``k``, ``n``, ``level``, ``model``.
    """
    values = {
        "estimate": fmt_pct(res.estimate),
        "ci": fmt_interval(res.ci),
        "pi": fmt_interval(res.pi),
        "tau2": fmt_num(res.tau2),
        "i2": fmt_pct(res.i2 / 100),
        "q": fmt_num(res.q),
        "q_df": fmt_int(res.q_df),
        "q_p": fmt_p(res.q_pvalue),
        "k": fmt_int(res.k),
        "n": fmt_int(res.totals.sum()) if res.totals is not None else "not applicable",
        "level": f"{100 * res.level:g}%",
        "model": f"{res.measure}, {res.method}, test {res.test}",
    }
    if res.k >= 2 and res.method != "FE":
        values["tau2_ci"] = fmt_interval(res.tau2_ci(), percent=False)
        i2 = res.i2_ci()
        values["i2_ci"] = fmt_interval((i2[0] / 100, i2[1] / 100))
    else:
        values["tau2_ci"] = values["i2_ci"] = "not estimable"
    return values


def glue_result(prefix: str, res, rows: pd.DataFrame | None = None) -> None:
    """Publish a MetaResult's numbers as ``<prefix>_estimate``, ``<prefix>_ci`` ...

    See :func:`result_values` for the names. With ``res`` None (too few studies to pool)
    every value reads "not estimable", except ``k`` and ``n``, counted from ``rows``.
    """
    if res is not None:
        glue_values(prefix, result_values(res))
        return
    values = dict.fromkeys(RESULT_KEYS, "not estimable")
    if rows is not None:
        values["k"] = fmt_int(len(rows))
        values["n"] = fmt_int(rows["total"].sum()) if len(rows) else "0"
    glue_values(prefix, values)


def pooling_note(k: int, min_k: int) -> str:
    """Whether the studies are pooled, and why not when they are too few."""
    if k >= min_k:
        return f"All {k} studies enter the pooled estimate."
    return (
        f"With {k} {'study' if k == 1 else 'studies'}, nothing is pooled: the analysis plan "
        f"pools from {min_k} studies. A single study's own proportion and its exact "
        "confidence interval are in the table above."
    )


def download(df: pd.DataFrame, name: str, index=False) -> None:
    """Offer ``df`` as ``<name>.csv`` for download without showing it (a long table)."""
    from IPython.display import Markdown, display

    stem = _slug(name)
    df.to_csv(Path(f"{stem}.csv"), index=index)
    display(Markdown(_links(stem, ("csv",))))


def table(
    df: pd.DataFrame, name: str, percent: Iterable[str] = (), digits: int = 1, index=False
) -> None:
    """Show ``df`` as an escaped HTML table, with its CSV (unformatted numbers) for download.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; written as ``<name>.csv`` in the page's folder exactly as given.
    name : str
        File name without extension (letters, digits, ``-``, ``_``, ``.``).
    percent : iterable of str
        Columns of proportions shown as percentages.
    digits : int
        Decimals of the percentages and of other floating-point columns.
    """
    from IPython.display import HTML, Markdown, display

    stem = _slug(name)
    df.to_csv(Path(f"{stem}.csv"), index=index)
    shown = df.copy()
    for col in percent:  # an empty cell where there is no value (e.g. no earlier release)
        shown[col] = shown[col].map(lambda p: fmt_pct(p, digits) if pd.notna(p) else "")
    floats = [c for c in shown.columns if pd.api.types.is_float_dtype(shown[c])]
    for col in floats:
        shown[col] = shown[col].map(lambda x: fmt_num(x) if pd.notna(x) else "")
    # escape=True: text from the data is shown as characters, never as markup
    html = shown.to_html(index=index, escape=True, border=0, classes="review-table", na_rep="")
    display(HTML(f'<div class="review-table-wrap">{html}</div>'))
    display(Markdown(_links(stem, ("csv",))))


POOLED_COLUMNS = (
    "subgroup_by",
    "subgroup",
    "k",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "q",
    "q_pvalue",
)


def pooled_frame(res, by: Mapping | None = None) -> pd.DataFrame:
    """One row per pooled result: the overall fit, then each level of each subgroup fit.

    Parameters
    ----------
    res : metaprop.MetaResult or None
        The overall fit (None: too few studies, an empty table).
    by : mapping of str to metaprop.SubgroupResult, optional
        Subgroup fits by variable name.

    Returns
    -------
    pandas.DataFrame
        Columns subgroup_by, subgroup, k, n, estimate, ci_low, ci_high, pi_low, pi_high,
        tau2, i2 (percent), q, q_pvalue; proportions on the 0-1 scale.
    """
    if res is None:  # too few studies to pool
        return pd.DataFrame(columns=POOLED_COLUMNS)
    fits = [("all", "all", res)]
    for variable, sub in (by or {}).items():
        fits += [(variable, str(level), fit) for level, fit in sub.results.items()]
    return pd.DataFrame(
        [
            {
                "subgroup_by": variable,
                "subgroup": level,
                "k": fit.k,
                "n": int(fit.totals.sum()) if fit.totals is not None else None,
                "estimate": fit.estimate,
                "ci_low": fit.ci.low,
                "ci_high": fit.ci.high,
                "pi_low": fit.pi.low,
                "pi_high": fit.pi.high,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "q": fit.q,
                "q_pvalue": fit.q_pvalue,
            }
            for variable, level, fit in fits
        ],
        columns=list(POOLED_COLUMNS),
    )


def subgroup_tests(by: Mapping) -> pd.DataFrame:
    """Tests of a difference between subgroups, one row per subgroup variable.

    Columns: variable, groups, q_between, df, p_between (Q between the subgroup estimates)
    and q_m, p_m (mixed-effects moderator test, metafor ``rma(mods = ~ group)``).
    """
    return pd.DataFrame(
        [
            {
                "variable": variable,
                "groups": len(sub.results),
                "q_between": sub.q_between.statistic,
                "df": sub.q_between.df,
                "p_between": sub.q_between.pvalue,
                "q_m": sub.moderator.statistic,
                "p_m": sub.moderator.pvalue,
            }
            for variable, sub in by.items()
        ]
    )


def small_study_text(k: int, min_k: int, egger=None, begg=None, filled=None) -> str:
    """One paragraph on small-study effects: the tests' results, or why they were not run."""
    if k < min_k:
        return (
            f"Small-study tests are not run: {k} studies, fewer than the {min_k} the analysis "
            "plan requires, below which these tests have too little power to mean anything."
        )
    parts = [
        f"Regression test for funnel asymmetry (sample-size predictor): {fmt_p(egger.pvalue)}.",
        f"Begg's rank correlation: Kendall's tau {fmt_num(begg.statistic)}, {fmt_p(begg.pvalue)}.",
    ]
    if filled.k0 == 0:
        parts.append("Trim-and-fill imputes no study.")
    else:
        parts.append(
            f"Trim-and-fill imputes {filled.k0} study(ies) on the {filled.side} side; the "
            f"adjusted estimate is {fmt_pct(filled.result.estimate)} "
            f"({fmt_interval(filled.result.ci)})."
        )
    return " ".join(parts)
