"""The searches of each round, as the reader sees them (PRISMA-S).

``data/search_strategies.csv`` records, per search round and source, how the search was run:
the exact strategy, its limits, the period covered, the date it was run and who ran it
(items 1-13 of PRISMA-S; Rethlefsen ML, Kirtley S, Waffenschmidt S, et al. 2021. PRISMA-S:
an extension to the PRISMA statement for reporting literature searches in systematic
reviews. Syst Rev 10:39. doi:10.1186/s13643-020-01542-z). The source paper's own search is
the first round, described in its words; a source not searched in a round is listed too, so
that the gap shows.
"""

from __future__ import annotations

import re

import pandas as pd

from review.book.prisma import REASON_WORDS

__all__ = [
    "DECISION_WORDS",
    "KIND_WORDS",
    "STAGE_WORDS",
    "database_searched",
    "round_label",
    "screening_table",
    "strategy_table",
]

KIND_WORDS = {
    "database": "Database search",
    "register": "Register search",
    "hand_search": "Hand search",
    "informal_lookup": "Informal look-up (not a database search)",
    "not_searched": "Not searched",
}


def round_label(name: str) -> str:
    """A search round in words: ``lao2024`` is round 1 (the source paper's search).

    >>> round_label("lao2024"), round_label("lu2")
    ('Round 1: the source paper', 'Living update 2')
    """
    if name == "lao2024":
        return "Round 1: the source paper"
    m = re.fullmatch(r"lu(\d+)", name)
    return f"Living update {m.group(1)}" if m else name


def _day(value) -> str:
    if value is None or pd.isna(value) or value == "":
        return ""
    text = str(value)
    try:
        if len(text) == 10:
            return pd.Timestamp(text).strftime("%-d %B %Y")
        if len(text) == 7:
            return pd.Timestamp(text + "-01").strftime("%B %Y")
    except ValueError:
        return text
    return text


def _period(row) -> str:
    if row["kind"] not in ("database", "register"):
        return ""
    start = _day(row["date_from"]) or "inception"
    end = _day(row["date_to"])
    return f"{start} to {end}" if end else ""


def database_searched(strategies: pd.DataFrame, search_round: str) -> bool:
    """True when the round ran at least one database or register search."""
    rows = strategies[strategies["search_round"] == search_round]
    return bool(rows["kind"].isin(["database", "register"]).any())


def strategy_table(strategies: pd.DataFrame) -> pd.DataFrame:
    """One row per round and source, in words, for the Methods page.

    Parameters
    ----------
    strategies : DataFrame
        ``data/search_strategies.csv`` as :func:`review.data.load` gives it.

    Returns
    -------
    DataFrame
        Columns ``Round``, ``Source``, ``Kind of search``, ``Strategy``, ``Limits``,
        ``Period covered``, ``Run on``, ``Run by``, ``Described in``; empty cells are blank
        (a date run that the report does not state is written as such).
    """
    s = strategies.astype(object).where(strategies.notna(), "")
    out = pd.DataFrame(
        {
            "Round": [round_label(r) for r in s["search_round"]],
            "Source": s["source"],
            "Kind of search": [KIND_WORDS.get(k, k) for k in s["kind"]],
            "Strategy": s["strategy"],
            "Limits": s["limits"],
            "Period covered": [_period(r) for _, r in s.iterrows()],
            "Run on": [
                _day(r["date_run"]) or ("" if r["kind"] == "not_searched" else "not stated")
                for _, r in s.iterrows()
            ],
            "Run by": s["run_by"],
            "Described in": s["reference"],
        }
    )
    return out.reset_index(drop=True)


DECISION_WORDS = {
    "include": "Included",
    "exclude": "Excluded",
    "duplicate": "Duplicate",
    "awaiting": "Awaiting classification",
    "pending": "Not yet screened",
}
STAGE_WORDS = {
    "abstract": "Title and abstract",
    "title": "Title only",
    "full_text": "Full text",
    "registry": "Registry record",
    "press": "Press release",
    "secondary": "Secondary summary",
    "other": "Other",
}


def screening_table(screening: pd.DataFrame) -> pd.DataFrame:
    """The screening log in words, one row per record, for the Studies page.

    Columns ``Record``, ``Search round``, ``Date``, ``Read``, ``Decision``,
    ``Exclusion criterion``, ``Reason``, ``Duplicate of``, ``Study``; codes are written out
    (the exclusion criteria in the words of :data:`review.book.prisma.REASON_WORDS`).
    """

    s = screening.astype(object).where(screening.notna(), "")
    criterion = [
        REASON_WORDS.get(code, code) if decision == "exclude" else ""
        for code, decision in zip(s["reason_code"], s["decision"], strict=True)
    ]
    return pd.DataFrame(
        {
            "Record": s["record_id"],
            "Search round": [round_label(r) for r in s["search_round"]],
            "Date": [_day(d) for d in s["date"]],
            "Read": [STAGE_WORDS.get(x, x) for x in s["stage"]],
            "Decision": [DECISION_WORDS.get(x, x) for x in s["decision"]],
            "Exclusion criterion": criterion,
            "Reason": s["reason"],
            "Duplicate of": s["duplicate_of"],
            "Study": s["study_id"],
        }
    ).reset_index(drop=True)
