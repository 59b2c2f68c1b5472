"""Table definitions of ``data/``: the columns of each table, their types and keys.

Each table is a list of typed columns (:class:`Col`) with a key. The rules that check a
table's cells and rows are in :mod:`review.data.rules` (pandera schemas built from these
definitions); reading the data (:mod:`review.data`) needs only the definitions, so it does
not import pandera. Codes (outcome codes, regimen groups, ...) are not listed here but read
from ``data/dictionary.csv``, so that a reviewer adds a code in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "Col",
    "Table",
    "TABLES",
    "DICTIONARY",
    "STUDY_NUMBER_COLUMNS",
    "parse_date_end",
]

INT, NUM, BOOL, DATE, TEXT, CODE, CODES, URL, KEY = (
    "integer",
    "number",
    "boolean",
    "date",
    "text",
    "code",
    "code_list",
    "url",
    "key",
)

# Study characteristics that are numbers read from a source: a row holding any of them
# needs the quote they were read from and where (source_url, doi, or "no_url" in note).
STUDY_NUMBER_COLUMNS = (
    "n_enrolled",
    "n_evaluable",
    "age_median",
    "age_range",
    "follow_up_median_months",
)

# Whole-cell patterns of integer and decimal cells (checked by review.data.rules).
INT_PATTERN = r"-?[0-9]+"
NUM_PATTERN = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


@dataclass(frozen=True)
class Col:
    """A column: name, type, whether a value is required, and value constraints.

    ``minimum``/``maximum`` bound numbers; ``positive`` requires > 0. ``codes`` names the
    dictionary entry ``table.column`` holding the allowed codes (for ``code`` and
    ``code_list`` columns; defaults to the column itself).
    """

    name: str
    type: str = TEXT
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    codes: str | None = None


@dataclass(frozen=True)
class Table:
    """A table of ``data/``: its file, columns (in file order), key and minimum row count."""

    name: str
    columns: tuple[Col, ...]
    key: tuple[str, ...] = ()
    min_rows: int = 1
    percent_range_is_warning: bool = field(default=False)

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


def _pct(name: str, required: bool = False) -> Col:
    return Col(name, NUM, required, minimum=0, maximum=100)


STUDIES = Table(
    "studies",
    (
        Col("study_id", KEY, True),
        Col("paper_ref", INT, minimum=1),
        Col("id_role", CODE, True),
        Col("in_source_paper", BOOL, True),
        Col("first_author"),
        Col("year", INT, minimum=1990, maximum=2100),
        Col("citation", TEXT, True),
        Col("doi"),
        Col("pmid"),
        Col("nct"),
        Col("source_url", URL),
        Col("source_tier", CODE),
        Col("design", CODE),
        Col("phase"),
        Col("disease_status", CODE),
        Col("ph_status", CODE),
        Col("regimen_group", CODE),
        Col("regimen"),
        Col("n_enrolled", INT, minimum=0),
        Col("n_evaluable", INT, minimum=0),
        Col("age_median", NUM, minimum=0, maximum=120),
        Col("age_range"),
        Col("follow_up_median_months", NUM, minimum=0),
        Col("id_confidence", CODE, True),
        Col("runner_ups"),
        Col("cohort_id"),
        Col("overlap_note"),
        Col("date_public", DATE),
        Col("quote"),
        Col("extraction_lines"),
        Col("note"),
        Col("id_reasoning"),
    ),
    key=("study_id",),
)

OUTCOMES = Table(
    "outcomes",
    (
        Col("study_id", KEY, True),
        Col("outcome", CODE, True),
        Col("variant", KEY, True),
        Col("primary", BOOL, True),
        Col("kind", CODE, True),
        Col("events", INT, minimum=0),
        Col("total", INT, positive=True),
        _pct("percent_reported"),
        _pct("estimate_pct"),
        _pct("ci_low_pct"),
        _pct("ci_high_pct"),
        Col("n_analysed", INT, positive=True),
        Col("read_from", CODE),
        Col("definition"),
        Col("denominator_basis", CODE),
        Col("derived", BOOL, True),
        Col("derivation"),
        Col("flags", CODES),
        Col("supersedes"),
        Col("date_public", DATE, True),
        Col("report", TEXT, True),
        Col("source_url", URL),
        Col("quote", TEXT, True),
        Col("extraction_line", INT, minimum=2),
        Col("note"),
    ),
    key=("study_id", "outcome", "variant"),
)

SCREENING = Table(
    "screening",
    (
        Col("record_id", KEY, True),
        Col("search_round", TEXT, True),
        Col("date", DATE, True),
        Col("source", TEXT, True),
        Col("record", TEXT, True),
        Col("identifier"),
        Col("url", URL),
        Col("stage", CODE, True),
        Col("decision", CODE, True),
        Col("reason"),
        Col("study_id"),
        Col("note"),
        # added with the import of search exports (review.data.screen); see data/README.md
        Col("reason_code", CODE),
        Col("duplicate_of"),
        Col("doi"),
        Col("pmid"),
        Col("nct"),
        Col("title"),
        Col("year", INT, minimum=1900, maximum=2100),
        Col("export_hash"),
        Col("export_record", INT, minimum=1),
    ),
    key=("record_id",),
    min_rows=0,
)

# How each search of each round was run (PRISMA-S; Rethlefsen et al. 2021,
# doi:10.1186/s13643-020-01542-z): one row per source and date run.
SEARCH_STRATEGIES = Table(
    "search_strategies",
    (
        Col("search_round", TEXT, True),
        Col("source", TEXT, True),
        Col("kind", CODE, True),
        Col("interface"),
        Col("strategy"),
        Col("limits"),
        Col("date_from", DATE),
        Col("date_to", DATE),
        Col("date_run", DATE),
        Col("run_by"),
        Col("quote"),
        Col("reference", TEXT, True),
        Col("note"),
    ),
    key=("search_round", "source", "date_run"),
)

QUALITY = Table(
    "quality",
    (
        Col("study_id", KEY, True),
        Col("paper_ref", INT, minimum=1),
        Col("scale", CODE, True),
        Col("item", TEXT, True),
        Col("item_label", TEXT, True),
        Col("score", INT, True, minimum=0),
        Col("max_score", INT, True, minimum=1),
        Col("scorer", CODE, True),
        Col("rationale", TEXT, True),
        Col("source", TEXT, True),
    ),
    key=("study_id", "scale", "item", "scorer"),
)

# This review's own risk-of-bias judgements (analysis_plan.yaml `risk_of_bias`;
# review.analysis.rob):
# one row per study and domain, each with its reason and the words of the report behind it.
RISK_OF_BIAS = Table(
    "risk_of_bias",
    (
        Col("study_id", KEY, True),
        Col("domain", CODE, True),
        Col("judgement", CODE, True),
        Col("reason", TEXT, True),
        Col("quote", TEXT, True),
        Col("source", TEXT, True),
        Col("source_url", URL),
        Col("assessor", CODE, True),
        Col("date_assessed", DATE, True),
    ),
    key=("study_id", "domain", "assessor"),
    min_rows=0,
)

PRISMA = Table(
    "prisma",
    (
        Col("search_round", TEXT, True),
        Col("step", CODE, True),
        Col("count", INT, minimum=0),
        Col("quote"),
        Col("source"),
    ),
    key=("search_round", "step"),
)

PAPER_REPORTED = Table(
    "paper_reported",
    (
        Col("outcome", TEXT, True),
        Col("subgroup_by", TEXT, True),
        Col("subgroup", TEXT, True),
        Col("k", INT, minimum=1),
        _pct("estimate_pct", True),
        _pct("ci_low_pct"),
        _pct("ci_high_pct"),
        _pct("pi_low_pct"),
        _pct("pi_high_pct"),
        _pct("i2_pct"),
        Col("het_pvalue"),
        Col("egger_pvalue", NUM, minimum=0, maximum=1),
        Col("cited_refs"),
        Col("section", TEXT, True),
    ),
    key=("outcome", "subgroup_by", "subgroup"),
    # the paper prints intervals outside 0-100 (e.g. anaemia 113.3); kept as printed
    percent_range_is_warning=True,
)

EXCLUSIONS = Table(
    "exclusions",
    (
        Col("extraction_line", INT, True, minimum=2),
        Col("extraction_study_id", TEXT, True),
        Col("outcome", TEXT, True),
        Col("role", TEXT, True),
        Col("events"),
        Col("total"),
        Col("percent_reported"),
        Col("reason_code", CODE, True),
        Col("reason", TEXT, True),
    ),
    key=("extraction_line",),
    min_rows=0,
)

MISSING = Table(
    "missing",
    (
        Col("study_id", KEY, True),
        Col("outcome", TEXT, True),
        Col("extraction_line", INT, True, minimum=2),
        Col("looked_in"),
        Col("note"),
    ),
    key=("extraction_line",),
    min_rows=0,
)

DICTIONARY = Table(
    "dictionary",
    (
        Col("table", TEXT, True),
        Col("column", TEXT, True),
        Col("code"),
        Col("type"),
        Col("unit"),
        Col("required"),
        Col("description", TEXT, True),
    ),
    key=("table", "column", "code"),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        DICTIONARY,
        STUDIES,
        OUTCOMES,
        QUALITY,
        RISK_OF_BIAS,
        PRISMA,
        SCREENING,
        SEARCH_STRATEGIES,
        PAPER_REPORTED,
        EXCLUSIONS,
        MISSING,
    )
}

# --- value parsing shared with review.data ----------------------------------------------------


def parse_date_end(value: str) -> pd.Timestamp | None:
    """Last day of a full or partial ISO date (``2024`` -> 2024-12-31); None if invalid.

    A partial date counts as its last day, so that a number dated ``2024`` is not taken as
    public on 2 December 2024.
    """
    m = _DATE_RE.fullmatch(value)
    if not m:
        return None
    year, month, day = m.groups()
    try:
        if day:
            return pd.Timestamp(int(year), int(month), int(day))
        if month:
            return pd.Timestamp(int(year), int(month), 1) + pd.offsets.MonthEnd(0)
        return pd.Timestamp(int(year), 12, 31)
    except ValueError:
        return None
