"""What the chapters share: plot style, figure and table downloads, numbers glued into prose.

A chapter calls :func:`setup` in its one hidden cell. From then on every figure a cell draws
is shown, saved as PNG and SVG next to the page and followed by its download links; tables
go through :func:`table` (escaped HTML plus a CSV download); numbers reach the prose through
:func:`glue_text` and :func:`glue_values` (``{glue:text}`NAME```), formatted here once so
that every page writes a percentage or a p-value the same way; :func:`fit_sentence` says in
words what one population's analysis found.

Text that comes from the data is always shown as text: tables are escaped HTML, glued
values are plain text, figure labels are drawn by matplotlib. A study called
``<script>alert(1)</script>`` appears as those characters.

The package is review's page layer (CONTRIBUTING.md, Architecture): it imports from
:mod:`review.analysis` and :mod:`review.data` only.
"""

from __future__ import annotations

import ast
import html as html_lib
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from cycler import cycler
from IPython import get_ipython
from IPython.display import HTML, Image, Markdown, Pretty, display
from matplotlib import font_manager
from matplotlib.text import Text
from myst_nb import glue

from review import analysis, data
from review.book import downloads
from review.data import formats, labels

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
# Fonts of the plots, tried in turn for each character (matplotlib >= 3.6 falls back glyph
# by glyph), so that study labels in any script are drawn: DejaVu Sans (Latin, Greek,
# Cyrillic, Arabic; matplotlib ships it), Noto Sans CJK (Chinese, Japanese, Korean; Debian's
# fonts-noto-cjk) and Unifont Upper (emoji and other symbols; fonts-unifont), both installed
# by scripts/install_system_deps.sh. Each family maps to the Debian files that hold it.
FONTS = {
    "DejaVu Sans": (),
    "Noto Sans CJK JP": (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    "Unifont Upper": ("/usr/share/fonts/opentype/unifont/unifont_upper.otf",),
}


def _quiet_weight_fallback(record) -> bool:
    """Logging filter: drop matplotlib's note that a font has no bold face (Unifont has
    none; its regular face is the right fallback), which would print under every figure
    with bold text."""
    return not record.getMessage().startswith("findfont: Failed to find font weight")


_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _slug(name: str) -> str:
    if not _SLUG.match(name):
        raise ValueError(f"file name {name!r}: use letters, digits, '-', '_' and '.' only")
    return name


def style() -> None:
    """Apply the book's plot style (palette, sizes, fonts) to matplotlib.

    The font list holds the families of :data:`FONTS` found on this machine, and only
    those: a family that is missing is left out rather than named (matplotlib would warn
    about it on every figure). Without the fallback fonts, a character that DejaVu Sans
    lacks is drawn as a box, with matplotlib's warning naming it.
    """

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)
    manager = font_manager.fontManager
    family = []
    for name, files in FONTS.items():
        if not any(font.name == name for font in manager.ttflist):
            # installed after matplotlib cached its list of fonts: register the files
            for path in filter(os.path.isfile, files):
                manager.addfont(path)
        if any(font.name == name for font in manager.ttflist):
            family.append(name)
    mpl.rcParams["font.family"] = family or ["sans-serif"]
    logger = logging.getLogger("matplotlib.font_manager")
    if _quiet_weight_fallback not in logger.filters:
        logger.addFilter(_quiet_weight_fallback)


class _FigureSaver:
    """After each cell: show each figure it drew, save it as PNG and SVG, link the files.

    Replaces the inline backend's own post-execute display, so that each figure's links sit
    right under it. A page that draws nothing never imports pyplot (half a second): the
    backend registers its hook when the first figure is made, and the first call that finds
    a figure unregisters that hook and calls it itself afterwards, to reset its state.
    """

    def __init__(self, prefix: str, shell):
        self.prefix = _slug(prefix)
        self.count = 0
        self.shell = shell
        self.backend_flush = None  # the inline backend's hook, once replaced
        self.inline = True  # False when figures go to another backend: leave them to it

    def _take_over_display(self) -> bool:
        """Unregister the inline backend's hook (once); False if it is not active."""
        if self.backend_flush is None and self.inline:
            # lazy: matplotlib-inline imports pyplot (about 1.5 s); a page that draws nothing
            # never needs it (see the class docstring)
            from matplotlib_inline.backend_inline import flush_figures

            try:
                self.shell.events.unregister("post_execute", flush_figures)
            except ValueError:
                self.inline = False
            else:
                self.backend_flush = flush_figures
        return self.inline

    def __call__(self) -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None or not plt.get_fignums() or not self._take_over_display():
            return

        figures = [plt.figure(number) for number in plt.get_fignums()]
        for fig in figures:
            if getattr(fig, "review_variant", False):
                continue  # a narrow variant: saved and shown with the figure it belongs to
            self.count += 1
            stem = f"{self.prefix}-figure-{self.count}"
            # the page shows the saved PNG itself: one rendering fewer than display(fig)
            fig.savefig(f"{stem}.png")
            fig.savefig(f"{stem}.svg")
            narrow = getattr(fig, "review_narrow", None)
            if narrow is None:
                display(Image(filename=f"{stem}.png"))
            else:
                # the PNG records its smallest text, for the phone check of the browser tests
                size = f"{smallest_text(narrow):.2f}"
                narrow.savefig(f"{stem}-narrow.png", metadata={SMALLEST_TEXT_KEY: size})
                display(Markdown(_pair(stem, f"{stem}-narrow")))
                plt.close(narrow)
            plt.close(fig)
            display(Markdown(_links(stem, ("png", "svg"))))
        self.backend_flush()  # nothing left to show; clears the backend's list of figures


SMALLEST_TEXT_KEY = "Smallest text (pt)"
"""Key of the PNG text chunk in which a phone figure records :func:`smallest_text`."""


def smallest_text(fig) -> float:
    """Size in points of the smallest visible, non-empty text of ``fig`` (ticks included).

    The figure is laid out first (without rendering), so that its tick labels exist. Times
    ``dpi / 72`` and the ratio of shown to saved width, it gives the height in CSS pixels
    at which that text reads on a page; ``inf`` for a figure with no text.
    """

    fig.draw_without_rendering()
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None
    ]
    return min(sizes, default=math.inf)


def _pair(wide: str, narrow: str) -> str:
    """MyST images of one figure in two layouts; the style sheet shows one per screen width."""
    return "\n".join(
        f"```{{image}} {stem}.png\n:class: {cls}\n:alt: {alt}\n```"
        for stem, cls, alt in (
            (wide, "review-wide", "figure"),
            (narrow, "review-narrow", "figure, narrow layout"),
        )
    )


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
    style()

    shell = get_ipython()
    if shell is None:  # plain Python (tests, scripts): style only
        return
    shell.events.register("post_execute", _FigureSaver(prefix, shell))


def glue_text(name: str, text: str) -> None:
    """Publish ``text`` for ``{glue:text}`name```; shown as plain text, never as markup."""

    glue(name, Pretty(_plain_payload(str(text))), display=False)


def _plain_payload(text: str) -> str:
    """``text`` as glued plain text that ``{glue:text}`` shows unchanged.

    myst-nb reads glued plain text with :func:`ast.literal_eval` before showing it
    (``myst_nb.core.variables.format_plain_text``), so "0.0000000001" would show as
    ``1e-10`` and "1,234" as ``(1, 234)``; such text is glued quoted, which that reading
    removes. Other text is glued as it is.
    """

    try:
        read = str(ast.literal_eval(text))
    except Exception:  # not a Python literal: shown as written
        return text
    return text if read == text else repr(text)


def glue_values(prefix: str, values: Mapping[str, object]) -> None:
    """Publish each ``values[key]`` as ``<prefix>_<key>`` (as text)."""
    for key, value in values.items():
        glue_text(f"{prefix}_{key}", value)


CODED_COLUMNS = (
    "disease_status",
    "regimen_group",
    "source_tier",
    "design",
    "ph_status",
    "id_confidence",
    "denominator_basis",
    "read_from",
)


def readable(df: pd.DataFrame, columns: Iterable[str] = CODED_COLUMNS) -> pd.DataFrame:
    """A copy of ``df`` with coded values replaced by their data-dictionary descriptions.

    ``relapsed_refractory`` becomes "Relapsed or refractory", ``ino_mono`` "InO
    monotherapy". A code the dictionary does not know is kept as it is.
    """

    dictionary = data.load().dictionary
    out = df.copy()
    for col in columns:
        if col not in out:
            continue
        rows = dictionary[(dictionary["column"] == col) & (dictionary["code"] != "")]
        names = dict(zip(rows["code"], rows["description"].str.split(":").str[0], strict=True))
        out[col] = out[col].map(lambda v, names=names: names.get(v, v) if pd.notna(v) else v)
    return out


def forest(fit, plan, **kwargs):
    """Forest plot of one population's pooled fit, with the plan's prediction interval.

    The interval uses the plan's distribution (t with k - 1 df) and is drawn only from the
    plan's minimum number of studies, as the text reports it; the title is the population.
    ``kwargs`` go to :func:`metaprop.forest_plot`. Returns the axes.
    """
    pi = plan["heterogeneity"]["prediction_interval"]
    title = plan.population(fit.population)["label"]
    ax = fit.result.forest(pi_dist=pi["dist"], show_pi=fit.k >= pi["min_k"], **kwargs)
    narrow_title = title
    if fit.headline is not None:
        # the pooled row is the GLMM's; the reported rate comes from the plan's interval model
        reported = f"Reported rate {formats.fmt_pct(fit.estimate)} ({formats.fmt_interval(fit.ci)})"
        title += (
            f"\n{reported}, Bayesian model chosen for its coverage;\n"
            "the pooled row below is the GLMM's"
        )
        narrow_title += f"\n{reported}, Bayesian model"
    ax.set_title(title, loc="left")
    narrow = fit.result.forest(
        pi_dist=pi["dist"], show_pi=fit.k >= pi["min_k"], compact=True, **kwargs
    )
    narrow.set_title(narrow_title, loc="left")
    with_narrow(ax, narrow)
    return ax


def with_narrow(ax, narrow):
    """Mark ``narrow`` (axes of the compact layout) as the phone variant of ``ax``'s figure.

    The page then shows ``ax``'s figure on a wide screen and ``narrow``'s on a phone
    (labels and intervals only, text at least 9 CSS px on a 360 px column); the PNG and SVG
    downloads are the wide figure. Returns ``ax``.
    """
    ax.figure.review_narrow = narrow.figure
    narrow.figure.review_variant = True
    return ax


def subgroup_forest(sub, title: str):
    """Forest plot of subgroups (``metaprop.SubgroupResult``), with its phone variant.

    Returns the axes of the wide figure, titled ``title``.
    """
    ax = sub.forest()
    ax.set_title(title, loc="left")
    narrow = sub.forest(compact=True)
    narrow.set_title(title, loc="left")
    return with_narrow(ax, narrow)


def for_page(df: pd.DataFrame, plan) -> pd.DataFrame:
    """A table of one outcome's page: population keys as their labels, no outcome column."""
    out = df.drop(columns=["outcome"], errors="ignore")
    if "population" in out:
        names = {p["key"]: p["label"] for p in [*plan.strata, plan.comparison]}
        out["population"] = out["population"].map(lambda v: names.get(v, v))
    return out


def fit_sentence(fit, plan) -> str:
    """What one population's analysis found, in one or two sentences of plain text.

    Parameters
    ----------
    fit : review.analysis.PooledFit
    plan : review.data.plan.Plan

    Returns
    -------
    str
        With a pooled result: "Across K studies (N patients), the pooled proportion is E
        (L confidence interval A to B)", the prediction interval when the plan shows one,
        and the fit's note. With one study: its own proportion and exact interval. With
        none: that no study reports the outcome.
    """

    level = f"{100 * plan.level:g}%"
    if fit.result is None:
        if fit.single is None or fit.single.empty:
            return "No study reports this outcome in this population."
        one = fit.single.iloc[0]

        note = formats.wide_note(one["ci_low"], one["ci_high"], 1, fit.population)
        return (
            f"One study ({one['label']}) reports this outcome: "
            f"{formats.fmt_pct(one['proportion'])} ({level} confidence interval "
            f"{formats.fmt_interval((one['ci_low'], one['ci_high']))}); nothing is pooled from a "
            "single study." + (f" {note}" if note else "")
        )
    het = analysis.heterogeneity(fit, plan)
    kind = "credible" if fit.headline is not None else "confidence"
    text = (
        f"Across {formats.fmt_int(fit.k)} studies "
        f"({formats.fmt_int(analysis.patients(fit.rows, plan))} "
        f"patients), the pooled proportion is {formats.fmt_pct(fit.estimate)} ({level} {kind} "
        f"interval {formats.fmt_interval(fit.ci)}; {fit.interval_label})."
    )
    if not math.isnan(het["pi_low"]):
        text += (
            f" The rate in a new setting like these is expected to lie between "
            f"{formats.fmt_interval((het['pi_low'], het['pi_high'])).replace(' to ', ' and ')} "
            "(prediction interval)."
        )

    note = formats.wide_note(fit.ci[0], fit.ci[1], fit.k, fit.population)
    return f"{text} {note}" if note else text


def paper_sentence(reported: pd.DataFrame, outcome: str) -> str:
    """What the source paper reports for ``outcome`` over all patients, or that it reports none.

    Parameters
    ----------
    reported : DataFrame
        The paper's pooled results (``review.analysis.paper_checks.load_reported()``).
    outcome : str
        Outcome code.
    """
    hit = reported[(reported["outcome"] == outcome) & (reported["subgroup_by"] == "all")]
    if hit.empty:
        return "The source paper reports no pooled rate of this outcome over all patients."
    row = hit.iloc[0]
    k = f" from {formats.fmt_int(row['k'])} studies" if pd.notna(row["k"]) else ""
    return (
        f"The source paper reports {row['estimate_pct']:.1f}% "
        f"({row['ci_low_pct']:.1f}% to {row['ci_high_pct']:.1f}%){k}, pooled over all "
        "patients."
    )


def table_html(
    df: pd.DataFrame,
    percent: Iterable[str] = (),
    digits: int = 1,
    index=False,
    note: str = "",
    missing: str = "—",
) -> str:
    """The HTML :func:`table` shows: reader's words and numbers, every text escaped.

    Headers, codes, flags and missing values go through :func:`review.data.labels.frame`. Each
    cell carries its column's header (``data-label``), which the style sheet shows beside
    the value when a narrow screen stacks each row as a card (``_static/review.css``).
    ``note`` is a line shown under the table (e.g. what a mark in it means).
    """

    source = df.reset_index() if index else df
    shown = labels.frame(source, percent=percent, digits=digits, missing=missing)
    esc = html_lib.escape
    head = "".join(f'<th scope="col">{esc(str(h))}</th>' for h in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = "".join(
            f'<td data-label="{esc(str(h), quote=True)}">{esc(str(v))}</td>'
            for h, v in zip(shown.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    # every text is escaped: text from the data is shown as characters, never as markup
    table = (
        '<table class="review-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    after = f'<p class="review-table-note">{esc(note)}</p>' if note else ""
    return f'<div class="review-table-wrap">{table}</div>{after}'


def download(df: pd.DataFrame, name: str, index=False) -> None:
    """Offer ``df`` as ``<name>.csv`` for download without showing it (a long table)."""

    stem = _slug(name)
    downloads.write_csv(df, f"{stem}.csv", index=index)
    display(Markdown(_links(stem, ("csv",))))


def download_text(text: str, filename: str) -> None:
    """Offer ``text`` as the file ``filename`` (e.g. ``summary.html``) for download."""

    stem, dot, ext = filename.rpartition(".")
    stem = _slug(stem)
    if not dot or not ext.isalnum():
        raise ValueError(f"file name {filename!r} needs an extension such as .html")
    Path(f"{stem}.{ext}").write_text(text, encoding="utf-8")
    display(Markdown(_links(stem, (ext,))))


def table(
    df: pd.DataFrame,
    name: str,
    percent: Iterable[str] = (),
    digits: int = 1,
    index=False,
    note: str = "",
    missing: str = "—",
) -> None:
    """Show ``df`` as an escaped HTML table, with its CSV (unformatted numbers) for download.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; written as ``<name>.csv`` in the page's folder as given, except that a
        text cell a spreadsheet would run as a formula is neutralised
        (:func:`review.book.downloads.write_csv`).
    name : str
        File name without extension (letters, digits, ``-``, ``_``, ``.``).
    percent : iterable of str
        Columns of proportions shown as percentages.
    digits : int
        Decimals of the percentages and of other floating-point columns.
    note : str
        A line of text under the table (what a mark in it means), or nothing.
    missing : str
        What an empty cell reads ("—", or e.g. "not reported" or "unknown" where the
        context needs it).
    """

    stem = _slug(name)
    downloads.write_csv(df, f"{stem}.csv", index=index)
    display(HTML(table_html(df, percent, digits, index, note=note, missing=missing)))
    display(Markdown(_links(stem, ("csv",))))


def results(df: pd.DataFrame, name: str, plan) -> None:
    """Show a results table of :func:`review.analysis.results_table` as a reader reads it.

    One row per population, with the rate and its confidence interval in one column, the
    prediction interval, tau^2, I^2 with its interval, the model and the note; the
    unrounded table (every column) is the CSV download.
    """

    level = f"{100 * plan.level:g}%"
    shown = pd.DataFrame(
        {
            "Population": df["population"],
            "Studies (patients)": formats.studies_column(df),
            f"Rate ({level} CI)": formats.rate_column(df, "estimate", "ci_low", "ci_high"),
            f"{level} prediction interval": formats.interval_column(df, "pi_low", "pi_high"),
            "τ²": [formats.fmt_num(t) if pd.notna(t) else "" for t in df["tau2"]],
            "I² (CI)": formats.rate_column(
                df, "i2", "i2_ci_low", "i2_ci_high", scale=100, digits=0
            ),
            "Model": df["model"],
            "Note": df["note"].fillna(""),
        }
    )
    stem = _slug(name)
    downloads.write_csv(df, f"{stem}.csv", index=False)
    display(HTML(table_html(shown)))
    display(Markdown(_links(stem, ("csv",))))


def subgroup_tests(by: Mapping, key: str = "variable") -> pd.DataFrame:
    """Tests of a difference between subgroups, one row per subgroup analysis.

    Columns: ``key`` (the mapping's keys: a subgroup variable, or a population), groups,
    q_between, df, p_between (Q between the subgroup estimates) and q_m, p_m
    (mixed-effects moderator test, metafor ``rma(mods = ~ group)``; empty when it is not
    estimable), note.
    """
    return pd.DataFrame(
        [
            {
                key: variable,
                "groups": len(sub.results),
                "q_between": sub.q_between.statistic,
                "df": sub.q_between.df,
                "p_between": sub.q_between.pvalue,
                "q_m": sub.moderator.statistic,
                "p_m": sub.moderator.pvalue,
                "note": " ".join(sub.notes),
            }
            for variable, sub in by.items()
        ],
        columns=[key, "groups", "q_between", "df", "p_between", "q_m", "p_m", "note"],
    )


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack tables with the same columns, leaving out empty ones (an empty table if all are)."""
    frames = list(frames)
    full = [f for f in frames if not f.empty]
    if not full:
        return frames[0].iloc[0:0] if frames else pd.DataFrame()
    return pd.concat(full, ignore_index=True)


def outcome_definition(outcome: str) -> str:
    """The outcome's definition in the data dictionary (``data/dictionary.csv``)."""

    d = data.load().dictionary
    hit = d[(d["table"] == "outcomes") & (d["column"] == "outcome") & (d["code"] == outcome)]
    return str(hit["description"].iloc[0]) if len(hit) else f"outcome code {outcome}"


def small_study_sentence(sse: Mapping, plan) -> str:
    """The small-study tests of :func:`review.analysis.small_study_effects`, in words."""
    if not sse["run"]:
        return (
            f"Small-study tests are not run: {sse['reason']}, below which these tests have "
            "too little power to mean anything."
        )
    rule = plan["small_study_effects"]["primary_test"]
    egger, begg, filled = sse["egger"], sse["begg"], sse["trim_and_fill"]
    parts = [
        f"Regression test for funnel asymmetry with {rule['predictor']} as predictor (the "
        f"plan's test): {formats.fmt_p(sse['sample_size_test'].pvalue)}.",
        f"For comparison with the paper: Egger's test {formats.fmt_p(egger.pvalue)}; Begg's rank "
        f"correlation, Kendall's tau {formats.fmt_num(begg.statistic)}, "
        f"{formats.fmt_p(begg.pvalue)}.",
    ]
    if filled.k0 == 0:
        parts.append("Trim-and-fill imputes no study.")
    else:
        parts.append(
            f"Trim-and-fill imputes {filled.k0} {'study' if filled.k0 == 1 else 'studies'} "
            f"on the {filled.side} side; the "
            f"adjusted estimate is {formats.fmt_pct(filled.result.estimate)} "
            f"({formats.fmt_interval(filled.result.ci)})."
        )
    parts.append(sse["caveat"])
    return " ".join(parts)
