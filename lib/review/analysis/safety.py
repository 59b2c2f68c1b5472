"""The adverse-event table and its summary plot: one row per event and grade.

Each event of the data dictionary (codes ``AE_<event>_any`` and ``AE_<event>_g3``; serious
adverse events, ``SAE_*``, are not event rates and stay out) is analysed by the plan's
primary analysis, :func:`review.analysis.primary_fit`: pooled where at least two studies
report it, the single study's proportion with its exact (Clopper-Pearson) interval where
one does, and "no data" with the reason where none does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from review import analysis, data
from review.data.plan import Plan

__all__ = ["GRADES", "ae_codes", "fits", "ae_table", "counts", "forest_note", "summary_plot"]

# code suffix -> how the table names the grade
GRADES = {"any": "any grade", "g3": "grade 3 or worse"}


def ae_codes(*, data_dir=None) -> list[str]:
    """Adverse-event codes of the data dictionary, event by event, any grade first."""
    codes = [c for c in data.outcome_codes("binary", data_dir=data_dir) if c.startswith("AE_")]
    return sorted(codes, key=lambda c: (_event(c), list(GRADES).index(_grade(c))))


def _event(code: str) -> str:
    return code.removeprefix("AE_").rsplit("_", 1)[0].replace("_", " ")


def _grade(code: str) -> str:
    return code.rsplit("_", 1)[1]


def fits(plan: Plan, *, data_dir=None) -> dict[str, analysis.PooledFit]:
    """The primary analysis of every adverse-event code (all patients), by code.

    Rows with a percentage but no count are passed on, so that the plan's rules leave them
    out with their reason rather than silently.
    """
    return {
        code: analysis.primary_fit(
            data.outcome(code, data_dir=data_dir, complete=False), plan, outcome=code
        )
        for code in ae_codes(data_dir=data_dir)
    }


def _reason(fit: analysis.PooledFit) -> str:
    if fit.pooled:
        return fit.note
    if fit.k == 1:
        return "one study: its own proportion with its exact confidence interval, not pooled"
    if len(fit.dropped):
        why = "; ".join(sorted(set(fit.dropped["reason"])))
        n = len(fit.dropped)
        return f"no usable study: {n} {'row' if n == 1 else 'rows'} left out ({why})"
    return "no study reports this event"


def ae_table(ae_fits: dict[str, analysis.PooledFit], plan: Plan) -> pd.DataFrame:
    """One row per event and grade: k, patients, estimate and CI, how it was obtained, why.

    Columns: event, grade, k, patients, estimate, ci_low, ci_high (0-1 scale; empty with
    no data), basis (``pooled: <model>``, ``single study`` or ``no data``), studies, reason.
    """
    rows = []
    for code, fit in ae_fits.items():
        row = {
            "event": _event(code),
            "grade": GRADES[_grade(code)],
            "k": fit.k,
            "patients": int(fit.rows["total"].sum()) if fit.k else 0,
            "estimate": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "basis": "no data",
            "studies": "; ".join(fit.rows["label"]) if fit.k else "",
            "reason": _reason(fit),
        }
        if fit.pooled:
            row.update(
                estimate=fit.estimate,
                ci_low=fit.ci[0],
                ci_high=fit.ci[1],
                basis=f"pooled: {fit.model.label}",
            )
        elif fit.k == 1:
            one = fit.single.iloc[0]
            row.update(
                estimate=float(one["proportion"]),
                ci_low=float(one["ci_low"]),
                ci_high=float(one["ci_high"]),
                basis="single study",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows of :func:`ae_table`: all, events, pooled, single study, no data."""
    return {
        "rows": len(table),
        "events": int(table["event"].nunique()),
        "pooled": int(table["basis"].str.startswith("pooled").sum()),
        "single": int((table["basis"] == "single study").sum()),
        "none": int((table["basis"] == "no data").sum()),
    }


def forest_note(ae_fits: dict[str, analysis.PooledFit]) -> str:
    """A sentence when no forest plot is drawn (no event with two studies); else empty."""
    if any(fit.pooled for fit in ae_fits.values()):
        return ""
    return "No event and grade is reported by two or more studies, so no forest plot is drawn."


def summary_plot(table: pd.DataFrame, ax=None):
    """Every event and grade on one proportion scale: pooled (diamond), single study (square).

    Rows without data say so in place of an interval.

    Parameters
    ----------
    table : DataFrame
        :func:`ae_table`.
    ax : matplotlib.axes.Axes, optional
        Default: a new figure sized to the number of rows.

    Returns
    -------
    matplotlib.axes.Axes
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    n = len(table)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.8 + 0.32 * n))
    y = np.arange(n)[::-1]
    colours = {"any grade": "#0072B2", "grade 3 or worse": "#D55E00"}
    for yi, (_, r) in zip(y, table.iterrows(), strict=True):
        colour = colours.get(r["grade"], "#000000")
        if r["basis"] == "no data":
            ax.text(0.01, yi, "no data", va="center", ha="left", fontsize=9, color="#555555")
            continue
        marker = "D" if r["basis"].startswith("pooled") else "s"
        ax.plot([r["ci_low"], r["ci_high"]], [yi, yi], color=colour, lw=1.5)
        ax.plot(r["estimate"], yi, marker=marker, color=colour, ms=6)
    ax.set_yticks(y, [f"{e}, {g}" for e, g in zip(table["event"], table["grade"], strict=True)])
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, n - 0.3)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax.set_xlabel("Patients with the event (%)")
    handles = [
        plt.Line2D([], [], marker="D", ls="", color="#333333", label="pooled"),
        plt.Line2D([], [], marker="s", ls="", color="#333333", label="single study, exact CI"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=9, frameon=False)
    ax.grid(axis="x", color="#DDDDDD", lw=0.6)
    ax.set_axisbelow(True)
    return ax
