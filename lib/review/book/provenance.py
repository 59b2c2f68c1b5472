"""Where every study and every number of the review comes from, as tables for the book.

The Studies and Provenance chapters call these functions on :func:`review.data.load`'s
tables: study characteristics, quality scores, identification and overlapping cohorts,
every number with its quote and the variants beside it, and what is still missing.

Text from the data is never markup. The tables are plain DataFrames (the book shows them
escaped); :func:`numbers_html` builds its HTML itself and escapes every value with
:func:`html.escape`, and it links a source only when its address is ``http`` or ``https``.
A quote ``<script>alert(1)</script>`` appears as those characters.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

import pandas as pd

from review import data
from review.data import labels

__all__ = [
    "study_labels",
    "characteristics_table",
    "quality_table",
    "identification_table",
    "confidence_counts",
    "cohort_overlaps",
    "numbers_table",
    "numbers_html",
    "missing_table",
    "unidentified_table",
    "awaiting_table",
    "summary_counts",
]

CONFIDENCE_ORDER = ("high", "moderate", "low", "none")


def study_labels(studies: pd.DataFrame) -> pd.Series:
    """'Author year (ref N)' per study, the labels every chapter uses (index: study_id)."""
    # one labelling rule for the whole book: the data loader's
    return pd.Series(data._labels(studies).to_numpy(), index=studies["study_id"].to_numpy())


def _with_labels(studies: pd.DataFrame) -> pd.DataFrame:
    out = studies.copy()
    out.insert(0, "study", study_labels(studies).to_numpy())
    return out


def _in_review(studies: pd.DataFrame) -> pd.DataFrame:
    """The studies of the review: best identifications and added studies, no runner-ups."""
    return studies[studies["id_role"] != "runner_up"]


def characteristics_table(studies: pd.DataFrame) -> pd.DataFrame:
    """One row per study of the review: design, population, regimen, size, age, follow-up."""
    cols = [
        "study",
        "paper_ref",
        "source_tier",
        "design",
        "phase",
        "disease_status",
        "ph_status",
        "regimen_group",
        "regimen",
        "n_enrolled",
        "n_evaluable",
        "age_median",
        "age_range",
        "follow_up_median_months",
    ]
    return _with_labels(_in_review(studies))[cols].reset_index(drop=True)


def quality_table(quality: pd.DataFrame, studies: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Item scores of one scale (``modified_jadad`` or ``minors``), one row per study.

    Our own scoring (scorer ``review_team``) is shown where it exists, else the paper's;
    the column ``scorer`` says whose. Columns: study, scorer, one per item (labelled
    ``<item> <label>``), total, max.
    """
    q = quality[quality["scale"] == scale].copy()
    if q.empty:
        return pd.DataFrame(columns=["study", "scorer", "total", "max"])
    q["rank"] = (q["scorer"] == "review_team").astype(int)
    best = q.groupby("study_id")["rank"].transform("max")
    q = q[q["rank"] == best]
    items = q[q["item"] != "total"].copy()
    items["column"] = items["item"].astype(str) + " " + items["item_label"].astype(str)
    order = list(dict.fromkeys(items.sort_values("item", key=_item_key)["column"]))
    wide = items.pivot(index="study_id", columns="column", values="score").reindex(columns=order)
    totals = q[q["item"] == "total"].set_index("study_id")
    wide["total"] = totals["score"].reindex(wide.index)
    wide["max"] = totals["max_score"].reindex(wide.index)
    wide["scorer"] = q.groupby("study_id")["scorer"].first().reindex(wide.index)
    labels = study_labels(studies).reindex(wide.index)
    wide.insert(0, "study", labels.fillna(pd.Series(wide.index, index=wide.index)))
    wide = wide.reset_index(drop=True)
    return wide[["study", "scorer", *order, "total", "max"]]


def _item_key(items: pd.Series) -> pd.Series:
    return items.map(lambda v: int(v) if str(v).isdigit() else 10**6)


def identification_table(studies: pd.DataFrame) -> pd.DataFrame:
    """Per report: what it was identified as, how sure we are, its source tier and cohort."""
    out = _with_labels(studies)
    ids = out[["doi", "pmid", "nct"]].apply(
        lambda r: "; ".join(
            f"{name} {value}"
            for name, value in zip(("DOI", "PMID", "NCT"), r, strict=True)
            if pd.notna(value) and value != ""
        ),
        axis=1,
    )
    out["identifiers"] = ids
    cols = [
        "study",
        "paper_ref",
        "id_role",
        "id_confidence",
        "source_tier",
        "cohort_id",
        "citation",
        "identifiers",
        "runner_ups",
    ]
    out["_rank"] = out["id_role"].map({"best": 0, "added": 1, "runner_up": 2}).fillna(3)
    out = out.sort_values(["_rank", "paper_ref", "study"], na_position="last", kind="stable")
    return out[cols].reset_index(drop=True)


def confidence_counts(studies: pd.DataFrame) -> pd.DataFrame:
    """How many reports per identification confidence and role (best, added, runner-up)."""
    conf = studies["id_confidence"].replace("", pd.NA).fillna("not stated")
    table = pd.crosstab(conf, studies["id_role"]).reindex(
        [c for c in (*CONFIDENCE_ORDER, "not stated") if c in set(conf)]
    )
    table.index.name = "id_confidence"
    table.columns.name = None
    return table.reset_index()


def cohort_overlaps(studies: pd.DataFrame) -> pd.DataFrame:
    """Cohorts reported by more than one report: which reports, in which role, and the note.

    Reports of one cohort share patients; the analysis keeps one report per cohort (the
    plan's rule), so such rows are never pooled twice.
    """
    s = _with_labels(studies)
    s = s[s["cohort_id"].notna() & (s["cohort_id"] != "")]
    shared = s[s.duplicated("cohort_id", keep=False)]
    if shared.empty:
        return pd.DataFrame(columns=["cohort_id", "reports", "roles", "note"])
    rows = []
    for cohort, group in shared.groupby("cohort_id", sort=True):
        notes = [n for n in group["overlap_note"].dropna().unique() if n]
        rows.append(
            {
                "cohort_id": cohort,
                "reports": "; ".join(group["study"]),
                "roles": "; ".join(group["id_role"]),
                "note": " ".join(notes),
            }
        )
    return pd.DataFrame(rows)


def _value_text(r) -> str:
    """The number as reported: ``30/42 (71.4%)`` or ``84% (72-98), n = 33``."""
    if r["kind"] == "survival":
        if pd.isna(r["estimate_pct"]):
            return "no estimate"
        text = f"{r['estimate_pct']:g}%"
        if pd.notna(r["ci_low_pct"]) and pd.notna(r["ci_high_pct"]):
            text += f" ({r['ci_low_pct']:g} to {r['ci_high_pct']:g}%)"
        if pd.notna(r["n_analysed"]):
            text += f", n = {int(r['n_analysed'])}"
        return text
    events = "?" if pd.isna(r["events"]) else str(int(r["events"]))
    total = "?" if pd.isna(r["total"]) else str(int(r["total"]))
    text = f"{events}/{total}"
    if pd.notna(r["percent_reported"]):
        text += f" ({r['percent_reported']:g}% as printed)"
    return text


def numbers_table(outcomes: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Every number of ``outcomes.csv``: study, outcome, variant (primary first), the value,
    how it was read, flags, when it became public, the report, its address and its quote.
    """
    labels = study_labels(studies)
    out = outcomes.copy()
    out["study"] = out["study_id"].map(labels).fillna(out["study_id"])
    out["value"] = out.apply(_value_text, axis=1)
    out["_primary_first"] = ~out["primary"].fillna(False).astype(bool)
    out = out.sort_values(["study", "outcome", "_primary_first", "variant"], kind="stable")
    cols = [
        "study",
        "outcome",
        "variant",
        "primary",
        "value",
        "read_from",
        "flags",
        "date_public",
        "report",
        "source_url",
        "quote",
        "definition",
        "note",
    ]
    return out[cols].reset_index(drop=True)


def _safe_url(url) -> str | None:
    """The address if it is an http(s) URL, else None (never a javascript: or data: link)."""
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _esc(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def numbers_html(numbers: pd.DataFrame) -> str:
    """An HTML table of :func:`numbers_table`: one row per number, its quote collapsible.

    Every value is escaped; the variants of one study and outcome follow one another,
    the primary first (marked). The report links to its source only for http(s) addresses.
    """
    head = ("Study", "Outcome", "Variant", "Value", "Read from", "Public", "Source and quote")
    lines = [
        '<div class="review-table-wrap"><table class="review-table provenance-table">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>",
    ]
    for _, r in numbers.iterrows():
        primary = bool(r["primary"]) if pd.notna(r["primary"]) else False
        variant = _esc(labels.fmt_value(r["variant"], "variant", ""))
        variant += " <strong>(primary)</strong>" if primary else ""
        report = _esc(r["report"]) or "source"
        url = _safe_url(r["source_url"])
        source = f'<a href="{_esc(url)}" rel="noopener">{report}</a>' if url else report
        quote = _esc(r["quote"])
        details = (
            f"<details><summary>quote</summary><blockquote>{quote}</blockquote></details>"
            if quote
            else "<em>no quote</em>"
        )
        flags = _esc(labels.fmt_value(r["flags"], "flags", ""))
        value = _esc(r["value"]) + (f"<br><small>caveats: {flags}</small>" if flags else "")
        cells = (
            _esc(r["study"]),
            _esc(labels.fmt_value(r["outcome"], "outcome", "")),
            variant,
            value,
            _esc(labels.fmt_value(r["read_from"], "read_from", "")),
            _esc(r["date_public"]),
            f"{source}{details}",
        )
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def missing_table(missing: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """What was looked for and not found, one row per study: the outcomes, where we looked."""
    if missing.empty:
        return pd.DataFrame(columns=["study", "outcomes", "n_missing", "looked_in", "note"])
    labels = study_labels(studies)
    rows = []
    for sid, group in missing.groupby("study_id", sort=False):
        looked = [x for x in group["looked_in"].dropna().unique() if x]
        notes = [x for x in group["note"].dropna().unique() if x]
        rows.append(
            {
                "study": labels.get(sid, sid),
                "outcomes": ", ".join(sorted(group["outcome"].unique())),
                "n_missing": len(group),
                "looked_in": "; ".join(looked),
                "note": " | ".join(notes),
            }
        )
    return pd.DataFrame(rows).sort_values("study", kind="stable").reset_index(drop=True)


def unidentified_table(studies: pd.DataFrame) -> pd.DataFrame:
    """References of the source paper whose report we could not identify (confidence none)."""
    s = _with_labels(studies)
    s = s[(s["id_confidence"] == "none") & s["in_source_paper"].fillna(False).astype(bool)]
    return s[["study", "paper_ref", "citation", "note"]].reset_index(drop=True)


def awaiting_table(screening: pd.DataFrame) -> pd.DataFrame:
    """Records of the living update that look eligible but cannot be used yet.

    The screening log's ``awaiting`` decisions: reports seen without a web address or
    without results, so none of their numbers is in the review. One row per record, oldest
    search first: round, date, record, identifier, address, why it waits, and a note.
    """
    cols = ["search_round", "date", "record", "identifier", "url", "reason", "note"]
    if screening.empty or "decision" not in screening.columns:
        return pd.DataFrame(columns=cols)
    rows = screening[screening["decision"] == "awaiting"]
    rows = rows.sort_values(["date", "record_id"], kind="stable")
    return rows[cols].reset_index(drop=True)


def summary_counts(ds: data.Dataset) -> dict[str, int]:
    """Counts for the prose: reports, numbers, primary numbers, missing and set-aside values."""
    primary = ds.outcomes["primary"].fillna(False).astype(bool)
    return {
        "reports": len(ds.studies),
        "numbers": len(ds.outcomes),
        "primary": int(primary.sum()),
        "missing": len(ds.missing),
        "unused": len(ds.exclusions),
    }
