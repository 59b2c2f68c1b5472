"""The key results a page opens with, in words: rate, interval, evidence and certainty.

A reader (a clinician on a phone) should meet the answer before the method: each results
page starts with a short "Key results" block whose lines come from here, glued into the
prose (``{glue:text}``), and the About page carries the same lines for a few outcomes. The
numbers are the summary of findings' (:func:`review.analysis.grade.outcome_summary`), so that the
block, the Summary of findings and the outcome pages can never disagree.

An interval so wide that it says almost nothing reads like a bug unless a word stands
beside it: :func:`review.data.formats.wide_note` writes that word wherever such an interval
is shown. (A second estimate from another model beside a headline, such as the "Overall"
row of a regimen plot, is explained in the chapter's prose right where it is drawn.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from review import analysis, book
from review.analysis import grade
from review.data import formats
from review.data.plan import Plan


def certainty_words(level: str) -> str:
    """``⊕⊕⊕◯ moderate certainty``; "no evidence" as it is."""
    if level in grade.SYMBOLS:
        return f"{grade.SYMBOLS[level]} {level} certainty"
    return str(level)


def result_line(row: Mapping, plan: Plan) -> str:
    """One summary-of-findings row in one line of plain text.

    Parameters
    ----------
    row : mapping
        A row of :func:`review.analysis.grade.summary_of_findings` (``estimate``, ``ci_low``,
        ``ci_high``, ``k``, ``patients``, ``certainty``).
    plan : Plan

    Returns
    -------
    str
        E.g. ``72.6% (95% CI 65.1% to 79.0%) from 3 studies with 284 patients; ⊕⊕◯◯ low
        certainty``; a single study is named as such; no study: "no study reports it".
    """
    if row.get("certainty") == "no evidence" or pd.isna(row.get("estimate", float("nan"))):
        return "no study reports it"
    level = f"{100 * plan.level:g}%"
    k = int(row["k"])
    source = (
        f"one study with {formats.plural(int(row['patients']), 'patient')}"
        if k == 1
        else f"{formats.plural(k, 'study', 'studies')} with "
        f"{formats.plural(int(row['patients']), 'patient')}"
    )
    mark = formats.WIDE_MARK if formats.is_wide(row["ci_low"], row["ci_high"]) else ""
    return (
        f"{formats.fmt_pct(row['estimate'])} ({level} CI "
        f"{formats.fmt_interval((row['ci_low'], row['ci_high']))}){mark} from {source}; "
        f"{certainty_words(row['certainty'])}"
    )


def outcome_rows(code: str, plan: Plan) -> pd.DataFrame:
    """The summary-of-findings rows of one outcome, indexed by population key."""

    rows = pd.DataFrame(
        grade.outcome_summary(
            code, analysis.rows_for(code, plan), grade.study_context(code, plan), plan
        )
    )
    keys = {p["label"]: p["key"] for p in [*plan.strata, plan.comparison]}
    return rows.set_index(rows["population"].map(keys))


def glue_outcome(code: str, plan: Plan, prefix: str = "key") -> None:
    """Glue one outcome's key results: ``<prefix>_<population>`` and ``<prefix>_notes``.

    ``<prefix>_notes`` holds the explanation of every very wide interval among them (or a
    blank), to be shown right under the lines.
    """
    rows = outcome_rows(code, plan)
    notes = []
    for key, row in rows.iterrows():
        book.glue_text(f"{prefix}_{key}", result_line(row, plan))
        if row.get("certainty") != "no evidence":
            note = formats.wide_note(row["ci_low"], row["ci_high"], int(row["k"]), str(key))
            if note:
                notes.append(f"{plan.population(str(key))['label']}: {note}")
    book.glue_text(f"{prefix}_notes", " ".join(notes) if notes else " ")


def glue_landing(plan: Plan, outcomes: Sequence[str], prefix: str = "key") -> None:
    """Glue, for the About page, ``<prefix>_<outcome>_<population>`` for each stratum.

    Each value reads "Overall response: 72.6% (95% CI ...) from 3 studies with 284
    patients; ⊕⊕◯◯ low certainty", for the disease-status strata only (the all-patients
    row is not a result to act on); ``<prefix>_notes`` explains each very wide interval.
    """
    notes = []
    for code in outcomes:
        rows = outcome_rows(code, plan)
        name = plan.wording(code)["name"]
        for stratum in plan.strata:
            key = stratum["key"]
            line = result_line(rows.loc[key], plan) if key in rows.index else "not analysed"
            book.glue_text(f"{prefix}_{code}_{key}", f"{name[:1].upper()}{name[1:]}: {line}")
            if key in rows.index and rows.loc[key, "certainty"] != "no evidence":
                row = rows.loc[key]
                note = formats.wide_note(row["ci_low"], row["ci_high"], int(row["k"]), key)
                if note:
                    notes.append(f"{name[:1].upper()}{name[1:]}, {stratum['label']}: {note}")
    book.glue_text(f"{prefix}_notes", " ".join(notes) if notes else " ")


def sof_table(sof: pd.DataFrame, plan: Plan, population: str) -> tuple[pd.DataFrame, str]:
    """One population's summary-of-findings table, very wide intervals marked.

    Returns the table of :func:`review.analysis.grade.display_table` with
    :data:`review.data.formats.WIDE_MARK` after
    each very wide interval, and the note that explains them ("" when there is none).
    """
    label = plan.population(population)["label"]
    rows = sof[sof["population"] == label].reset_index(drop=True)
    table = grade.display_table(sof, plan, population).reset_index(drop=True)
    rate = next(c for c in table.columns if c.startswith("Rate"))
    wide = [
        formats.is_wide(lo, hi) if pd.notna(lo) and pd.notna(hi) else False
        for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
    ]
    table[rate] = [
        f"{v}{formats.WIDE_MARK}" if w else v for v, w in zip(table[rate], wide, strict=True)
    ]
    if not any(wide):
        return table, ""
    names = ", ".join(rows.loc[wide, "outcome_name"])
    note = (
        f"{formats.WIDE_MARK} Very wide interval ({names}): not an error. With so few studies "
        "whose rates differ, the interval must allow for that spread and for how poorly so "
        "few studies measure it"
    )
    if population == "all":
        note += ", and these rows pool newly diagnosed with relapsed or refractory disease"
    return table, note + ". Read it as 'not known'."


def top_events(table: pd.DataFrame, grade: str, n: int = 3) -> str:
    """The ``n`` most frequent adverse events of one grade, in one line of plain text.

    Parameters
    ----------
    table : DataFrame
        :func:`review.analysis.safety.ae_table` (event, grade, k, patients, estimate, ci_low,
        ci_high).
    grade : str
        A value of its ``grade`` column, e.g. "grade 3 or worse".
    n : int
        How many events to name.

    Returns
    -------
    str
        "thrombocytopenia 77.5% (95% CI 66.8% to 86.1%; one study, 80 patients); ..."
        with a mark and its explanation after a very wide interval; "no event has data"
        when none does.
    """
    rows = table[(table["grade"] == grade) & table["estimate"].notna()]
    rows = rows.sort_values("estimate", ascending=False).head(n)
    if rows.empty:
        return "no event has data"
    items, notes = [], []
    for _, r in rows.iterrows():
        k = int(r["k"])
        source = "one study" if k == 1 else formats.plural(k, "study", "studies")
        wide = formats.is_wide(r["ci_low"], r["ci_high"])
        items.append(
            f"{r['event']} {formats.fmt_pct(r['estimate'])} (CI "
            f"{formats.fmt_interval((r['ci_low'], r['ci_high']))}"
            f"{formats.WIDE_MARK if wide else ''}; "
            f"{source}, {formats.plural(int(r['patients']), 'patient')})"
        )
        if wide and not notes:
            notes.append(formats.wide_note(r["ci_low"], r["ci_high"], k))
    return "; ".join(items) + (". " + notes[0] if notes else "")


def spread_line(frame: pd.DataFrame, plan: Plan, population: str, primary_model: str) -> str:
    """How far one population's pooled rate moves across every choice, in one line.

    Parameters
    ----------
    frame : DataFrame
        :func:`review.analysis.multiverse.run` (population, data_choice, model, estimate).
    plan : Plan
    population : str
        Population key.
    primary_model : str
        Model id of the primary analysis (:func:`review.analysis.multiverse.primary_model_id`).

    Returns
    -------
    str
        "from 61.0% to 78.2% across 30 pooled specifications (primary analysis 72.6%)", or
        why there is no spread (nothing pooled).
    """
    rows = frame[(frame["population"] == population) & frame["estimate"].notna()]
    if rows.empty:
        return "no specification pools two studies or more"
    primary = rows[(rows["data_choice"] == "primary") & (rows["model"] == primary_model)]
    main = (
        f" (primary analysis {formats.fmt_pct(primary['estimate'].iloc[0])})"
        if len(primary)
        else " (the primary analysis pools nothing)"
    )
    n = formats.plural(len(rows), "pooled specification", "pooled specifications")
    if len(rows) == 1:
        return f"{formats.fmt_pct(rows['estimate'].iloc[0])} in the only {n[2:]}{main}"
    low, high = rows["estimate"].min(), rows["estimate"].max()
    return f"from {formats.fmt_pct(low)} to {formats.fmt_pct(high)} across {n}{main}"


def glue_spread(frame: pd.DataFrame, plan: Plan, primary_model: str, prefix="key") -> None:
    """Glue :func:`spread_line` of each disease-status stratum as ``<prefix>_<key>``."""
    for stratum in plan.strata:
        line = spread_line(frame, plan, stratum["key"], primary_model)
        book.glue_text(f"{prefix}_{stratum['key']}", line)
