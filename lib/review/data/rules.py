"""The rules of ``data/``: pandera schemas that check a table's text cells and rows.

:func:`error_schema` and :func:`warning_schema` turn a table definition
(:mod:`review.data.schema`) into pandera ``DataFrameSchema`` objects that check a frame of *text*
cells (the files are read as text, see :mod:`review.data.validate`): every check is named after
the rule it enforces, so a failure can be reported as file, line, column, value and rule.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.pandas import Check, Column, DataFrameSchema

from review.data import guards
from review.data.schema import (
    BOOL,
    CODE,
    CODES,
    DATE,
    INT,
    INT_PATTERN,
    NUM,
    NUM_PATTERN,
    STUDY_NUMBER_COLUMNS,
    URL,
    Col,
    Table,
    parse_date_end,
)

__all__ = ["RULE_COLUMNS", "SchemaErrors", "error_schema", "warning_schema"]

# Column a dataframe-level rule is reported against.
RULE_COLUMNS = {
    "events <= total": "events",
    "kind matches the outcome code": "kind",
    "binary row needs total": "total",
    "binary row needs events (or the flag percent_only and a percent_reported)": "events",
    "survival row carries no count (events/total blank)": "events",
    "survival row is never derived": "derived",
    "survival row needs estimate_pct": "estimate_pct",
    "survival row states read_from": "read_from",
    "ci_low_pct <= ci_high_pct": "ci_low_pct",
    "CI contains the estimate": "estimate_pct",
    "source_url given (or flag no_url)": "source_url",
    "derived row says how (derivation)": "derivation",
    "reported percent matches events/total within rounding": "percent_reported",
    "number read off a curve": "read_from",
    "survival row states n_analysed": "n_analysed",
    "printed CI does not contain the estimate (flag ci_inconsistent)": "estimate_pct",
    "paper study has a paper_ref": "paper_ref",
    "study numbers have a quote": "quote",
    "study numbers have a source (source_url, doi, or no_url in note)": "source_url",
    "stated count has its quote": "quote",
    "stated count says where it is stated (source)": "source",
    "runner-up is not the paper's study": "in_source_paper",
    "score <= max_score": "score",
    "excluded record gives a reason": "reason",
    "included record names its study_id": "study_id",
    "excluded record gives a reason code": "reason_code",
    "duplicate names what it duplicates (duplicate_of or study_id)": "duplicate_of",
    "a search that was run states its strategy": "strategy",
    "a search that was run states its date (date_run or date_to)": "date_run",
    "exclusion for an eligibility reason (outside_window is not a criterion)": "reason_code",
}


def _num(s: pd.Series) -> pd.Series:
    """Numbers of well-formed cells, NaN elsewhere (malformed cells are reported by type)."""
    ok = s.str.fullmatch(NUM_PATTERN).fillna(False)
    return pd.to_numeric(s.where(ok, None), errors="coerce")


def _blank(s: pd.Series) -> pd.Series:
    return s == ""


# --- column checks ------------------------------------------------------------------------------


def _type_checks(col: Col, codes: dict[str, set[str]] | None, table: str) -> list[Check]:
    """Named checks for one column; the most specific rule comes first."""
    # limits and canonical forms first (review.data.guards): a 5 MB cell is reported as that
    checks: list[Check] = guards.cell_checks(col, table)
    if col.required:
        checks.append(Check(lambda s: ~_blank(s), name="required value is blank"))
    if col.type == INT:
        checks += [
            Check(lambda s: ~s.str.contains("%", regex=False), name="percent sign in a count"),
            Check(
                lambda s: ~s.str.fullmatch(r"-?[0-9]+,[0-9]+").fillna(False),
                name="decimal comma (use a point)",
            ),
            Check(
                lambda s: ~s.str.fullmatch(r"-?[0-9]*\.[0-9]*").fillna(False),
                name="not a whole number",
            ),
            Check(
                lambda s: _blank(s) | s.str.fullmatch(INT_PATTERN).fillna(False),
                name="integer expected",
            ),
        ]
        if col.minimum == 0 or col.positive:
            checks.append(
                Check(lambda s: ~s.str.startswith("-"), name="negative count"),
            )
    if col.type == NUM:
        checks += [
            Check(
                lambda s: ~s.str.fullmatch(r"-?[0-9]+,[0-9]+").fillna(False),
                name="decimal comma (use a point)",
            ),
            Check(
                lambda s: ~s.str.contains("%", regex=False),
                name="percent sign in a number (give the number only)",
            ),
            Check(
                lambda s: _blank(s) | s.str.fullmatch(NUM_PATTERN).fillna(False),
                name="number expected",
            ),
        ]
    if col.type in (INT, NUM) and not (table == "paper_reported" and col.maximum == 100):
        if col.minimum is not None:
            lo = col.minimum
            checks.append(Check(lambda s, lo=lo: ~(_num(s) < lo), name=f"value >= {lo:g}"))
        if col.maximum is not None:
            hi = col.maximum
            checks.append(Check(lambda s, hi=hi: ~(_num(s) > hi), name=f"value <= {hi:g}"))
        if col.positive:
            checks.append(Check(lambda s: ~(_num(s) <= 0), name="value > 0"))
    if col.type == BOOL:
        checks.append(Check(lambda s: s.isin(["", "true", "false"]), name="true or false expected"))
    if col.type == DATE:
        checks.append(
            Check(
                lambda s: s.map(lambda v: v == "" or parse_date_end(v) is not None),
                name="ISO date expected (YYYY, YYYY-MM or YYYY-MM-DD)",
            )
        )
    if col.type == URL:
        checks.append(
            Check(lambda s: _blank(s) | s.str.match(r"https?://\S+$"), name="web address")
        )
    if col.type in (CODE, CODES) and codes is not None:
        allowed = codes.get(col.codes or f"{table}.{col.name}", set())
        if col.type == CODE:
            checks.append(
                Check(lambda s, a=frozenset(allowed): _blank(s) | s.isin(a), name="known code")
            )
        else:
            checks.append(
                Check(
                    lambda s, a=frozenset(allowed): s.map(
                        lambda v: all(x in a for x in v.split(";") if x)
                    ),
                    name="known codes (semicolon-separated)",
                )
            )
    return checks


# --- row checks (several columns) --------------------------------------------------------------


def _has(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns for c in cols)


def _flag(df: pd.DataFrame, flag: str) -> pd.Series:
    if "flags" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["flags"].map(lambda v: flag in v.split(";"))


def _outcome_error_checks(kinds: dict[str, str]) -> list[Check]:
    def events_le_total(df):
        if not _has(df, "events", "total"):
            return pd.Series(True, index=df.index)
        return ~(_num(df["events"]) > _num(df["total"]))

    def kind_matches(df):
        if not _has(df, "kind", "outcome") or not kinds:
            return pd.Series(True, index=df.index)
        want = df["outcome"].map(kinds)
        return want.isna() | (df["kind"] == want)

    def binary(df):
        return df["kind"] == "binary" if "kind" in df.columns else pd.Series(False, df.index)

    def survival(df):
        return df["kind"] == "survival" if "kind" in df.columns else pd.Series(False, df.index)

    def needs_total(df):
        if "total" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(binary(df) & _blank(df["total"]))

    def needs_events(df):
        if not _has(df, "events", "percent_reported"):
            return pd.Series(True, index=df.index)
        pct_only = _flag(df, "percent_only") & ~_blank(df["percent_reported"])
        return ~(binary(df) & _blank(df["events"]) & ~pct_only)

    def survival_no_counts(df):
        if not _has(df, "events", "total"):
            return pd.Series(True, index=df.index)
        return ~(survival(df) & (~_blank(df["events"]) | ~_blank(df["total"])))

    def survival_not_derived(df):
        if "derived" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(survival(df) & (df["derived"] == "true"))

    def survival_estimate(df):
        if "estimate_pct" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(survival(df) & _blank(df["estimate_pct"]))

    def survival_read_from(df):
        if "read_from" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(survival(df) & _blank(df["read_from"]))

    def ci_order(df):
        if not _has(df, "ci_low_pct", "ci_high_pct"):
            return pd.Series(True, index=df.index)
        return ~(_num(df["ci_low_pct"]) > _num(df["ci_high_pct"]))

    def ci_around(df):
        if not _has(df, "ci_low_pct", "ci_high_pct", "estimate_pct"):
            return pd.Series(True, index=df.index)
        est = _num(df["estimate_pct"])
        bad = (_num(df["ci_low_pct"]) > est) | (_num(df["ci_high_pct"]) < est)
        return ~(bad & ~_flag(df, "ci_inconsistent"))

    def source(df):
        if "source_url" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(_blank(df["source_url"]) & ~_flag(df, "no_url"))

    def derivation(df):
        if not _has(df, "derived", "derivation"):
            return pd.Series(True, index=df.index)
        return ~((df["derived"] == "true") & _blank(df["derivation"]))

    rules = [
        (events_le_total, "events <= total"),
        (kind_matches, "kind matches the outcome code"),
        (needs_total, "binary row needs total"),
        (needs_events, "binary row needs events (or the flag percent_only and a percent_reported)"),
        (survival_no_counts, "survival row carries no count (events/total blank)"),
        (survival_not_derived, "survival row is never derived"),
        (survival_estimate, "survival row needs estimate_pct"),
        (survival_read_from, "survival row states read_from"),
        (ci_order, "ci_low_pct <= ci_high_pct"),
        (ci_around, "CI contains the estimate"),
        (source, "source_url given (or flag no_url)"),
        (derivation, "derived row says how (derivation)"),
    ]
    return [Check(f, name=n) for f, n in rules]


def _rounding_ok(events: pd.Series, total: pd.Series, printed: pd.Series) -> pd.Series:
    """True where 100*events/total rounds to the printed percentage (or no check applies).

    Tolerance: half a unit of the last printed decimal, plus 0.06 points so that a printed
    value truncated rather than rounded (69.86 -> 69.8) is not flagged twice over.
    """
    ev, tot, pct = _num(events), _num(total), _num(printed)
    decimals = printed.map(lambda v: len(v.split(".")[1]) if "." in v else 0)
    tol = 0.5 * 10.0 ** (-decimals.astype(float)) + 1e-9
    diff = (100 * ev / tot - pct).abs()
    return ~(diff > tol)


def _outcome_warning_checks() -> list[Check]:
    def pct_consistent(df):
        if not _has(df, "events", "total", "percent_reported"):
            return pd.Series(True, index=df.index)
        return _rounding_ok(df["events"], df["total"], df["percent_reported"])

    def curve(df):
        if "read_from" not in df.columns:
            return pd.Series(True, index=df.index)
        return df["read_from"] != "km_curve"

    def n_analysed(df):
        if not _has(df, "kind", "n_analysed"):
            return pd.Series(True, index=df.index)
        return ~((df["kind"] == "survival") & _blank(df["n_analysed"]))

    def ci_flagged(df):
        if not _has(df, "ci_low_pct", "ci_high_pct", "estimate_pct"):
            return pd.Series(True, index=df.index)
        est = _num(df["estimate_pct"])
        bad = (_num(df["ci_low_pct"]) > est) | (_num(df["ci_high_pct"]) < est)
        return ~(bad & _flag(df, "ci_inconsistent"))

    return [
        Check(pct_consistent, name="reported percent matches events/total within rounding"),
        Check(curve, name="number read off a curve"),
        Check(n_analysed, name="survival row states n_analysed"),
        Check(ci_flagged, name="printed CI does not contain the estimate (flag ci_inconsistent)"),
    ]


def _studies_error_checks() -> list[Check]:
    def paper_ref(df):
        if not _has(df, "in_source_paper", "paper_ref"):
            return pd.Series(True, index=df.index)
        return ~((df["in_source_paper"] == "true") & _blank(df["paper_ref"]))

    def runner_up(df):
        if not _has(df, "in_source_paper", "id_role"):
            return pd.Series(True, index=df.index)
        return ~((df["id_role"] == "runner_up") & (df["in_source_paper"] == "true"))

    def has_numbers(df):
        cols = [c for c in STUDY_NUMBER_COLUMNS if c in df.columns]
        if not cols:
            return pd.Series(False, index=df.index)
        return ~df[cols].eq("").all(axis=1)

    def quote(df):
        if "quote" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(has_numbers(df) & _blank(df["quote"]))

    def source(df):
        if "source_url" not in df.columns:
            return pd.Series(True, index=df.index)
        doi = df["doi"] if "doi" in df.columns else pd.Series("", index=df.index)
        note = df["note"] if "note" in df.columns else pd.Series("", index=df.index)
        no_url = note.str.contains(r"\bno_url\b", regex=True)
        return ~(has_numbers(df) & _blank(df["source_url"]) & _blank(doi) & ~no_url)

    return [
        Check(paper_ref, name="paper study has a paper_ref"),
        Check(runner_up, name="runner-up is not the paper's study"),
        Check(quote, name="study numbers have a quote"),
        Check(source, name="study numbers have a source (source_url, doi, or no_url in note)"),
    ]


def _prisma_error_checks() -> list[Check]:
    """A count the source states carries the words that state it and where they are."""

    def stated(df):
        if "count" not in df.columns:
            return pd.Series(False, index=df.index)
        return ~_blank(df["count"])

    def quote(df):
        if "quote" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(stated(df) & _blank(df["quote"]))

    def source(df):
        if "source" not in df.columns:
            return pd.Series(True, index=df.index)
        return ~(stated(df) & _blank(df["source"]))

    return [
        Check(quote, name="stated count has its quote"),
        Check(source, name="stated count says where it is stated (source)"),
    ]


def _quality_error_checks() -> list[Check]:
    def score(df):
        if not _has(df, "score", "max_score"):
            return pd.Series(True, index=df.index)
        return ~(_num(df["score"]) > _num(df["max_score"]))

    return [Check(score, name="score <= max_score")]


def _screening_error_checks() -> list[Check]:
    def reason(df):
        if not _has(df, "decision", "reason"):
            return pd.Series(True, index=df.index)
        return ~((df["decision"] == "exclude") & _blank(df["reason"]))

    def study(df):
        if not _has(df, "decision", "study_id"):
            return pd.Series(True, index=df.index)
        return ~((df["decision"] == "include") & _blank(df["study_id"]))

    def reason_code(df):
        if not _has(df, "decision", "reason_code"):
            return pd.Series(True, index=df.index)
        return ~((df["decision"] == "exclude") & _blank(df["reason_code"]))

    def duplicate(df):
        if not _has(df, "decision", "duplicate_of", "study_id"):
            return pd.Series(True, index=df.index)
        dup = df["decision"] == "duplicate"
        return ~(dup & _blank(df["duplicate_of"]) & _blank(df["study_id"]))

    return [
        Check(reason, name="excluded record gives a reason"),
        Check(reason_code, name="excluded record gives a reason code"),
        Check(study, name="included record names its study_id"),
        Check(duplicate, name="duplicate names what it duplicates (duplicate_of or study_id)"),
    ]


def _search_strategy_error_checks() -> list[Check]:
    """A search that was run says how (strategy) and when (date run or period covered)."""

    def strategy(df):
        if not _has(df, "kind", "strategy"):
            return pd.Series(True, index=df.index)
        return ~((df["kind"] != "not_searched") & _blank(df["strategy"]))

    def when(df):
        if not _has(df, "kind", "date_run", "date_to"):
            return pd.Series(True, index=df.index)
        searched = df["kind"].isin(["database", "register", "informal_lookup"])
        return ~(searched & _blank(df["date_run"]) & _blank(df["date_to"]))

    return [
        Check(strategy, name="a search that was run states its strategy"),
        Check(when, name="a search that was run states its date (date_run or date_to)"),
    ]


def _screening_warning_checks() -> list[Check]:
    def window(df):
        if "reason_code" not in df.columns:
            return pd.Series(True, index=df.index)
        return df["reason_code"] != "outside_window"

    return [
        Check(
            window,
            name="exclusion for an eligibility reason (outside_window is not a criterion)",
        )
    ]


def error_schema(
    table: Table,
    present: list[str],
    codes: dict[str, set[str]] | None,
    kinds: dict[str, str] | None = None,
) -> DataFrameSchema:
    """Schema of the error rules of ``table`` for a text frame with columns ``present``.

    ``codes`` maps ``table.column`` to the allowed codes (from the dictionary); None skips
    the code checks (the dictionary itself could not be read). ``kinds`` maps each outcome
    code to ``binary`` or ``survival``.
    """
    columns = {}
    for col in table.columns:
        if col.name not in present:
            continue
        checks = _type_checks(col, codes, table.name)
        if table.percent_range_is_warning and col.maximum == 100:
            checks = [c for c in checks if not c.name.startswith("value ")]
        columns[col.name] = Column(str, checks=checks, nullable=False, required=False)
    row_checks: list[Check] = {
        "outcomes": lambda: _outcome_error_checks(kinds or {}),
        "studies": _studies_error_checks,
        "quality": _quality_error_checks,
        "screening": _screening_error_checks,
        "search_strategies": _search_strategy_error_checks,
        "prisma": _prisma_error_checks,
    }.get(table.name, list)()
    return DataFrameSchema(columns, checks=row_checks, name=table.file)


def warning_schema(table: Table, present: list[str]) -> DataFrameSchema:
    """Schema of the rules whose failure is a warning (data kept, but worth a look)."""
    columns = {}
    if table.percent_range_is_warning:
        for col in table.columns:
            if col.name in present and col.maximum == 100:
                columns[col.name] = Column(
                    str,
                    checks=[
                        Check(lambda s: ~(_num(s) < 0), name="value >= 0 (as printed)"),
                        Check(lambda s: ~(_num(s) > 100), name="value <= 100 (as printed)"),
                    ],
                    required=False,
                )
    checks = {
        "outcomes": _outcome_warning_checks,
        "screening": _screening_warning_checks,
    }.get(table.name, list)()
    return DataFrameSchema(columns, checks=checks, name=table.file)


SchemaErrors = pa.errors.SchemaErrors
