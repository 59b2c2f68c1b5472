"""Limits and canonical forms that hostile or careless input must meet to enter ``data/``.

The checks of :mod:`review.data.rules` say what a cell means; these say what it may not be:
a column name that only looks right (a no-break space, another letter case, full-width
letters), a key that differs from another only in case or spacing, a date before the drug
existed or after today, a number beyond any plausible count (or beyond 64 bits), an
identifier not in its canonical form, a cell or a table too large to be a transcription.
Every limit is declared here once, with its reason, and every message states it.

Cell checks are pandera checks (``Check.str_length``, ``Check.str_matches`` where pandera
has one; a named :class:`pandera.Check` otherwise), added to the column checks of
:func:`review.data.rules.error_schema`; file and header limits are applied while a file is read
(:func:`review.data.validate.read_table`), before any cell is parsed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict

import pandas as pd

from review.data.schema import DATE, INT, KEY, NUM, NUM_PATTERN, Col

__all__ = [
    "FIRST_REPORT",
    "FIRST_REPORT_SOURCE",
    "MAX_CELL_CHARS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "MAX_BUILD_ROWS",
    "BUILD_LIMIT_SOURCE",
    "MAX_VARIANTS",
    "MAX_INTEGER",
    "MAX_NUMBER_CHARS",
    "KEY_PATTERN",
    "IDENTIFIERS",
    "canonical_name",
    "header_fixes",
    "near_duplicate_keys",
    "variant_counts",
    "cell_checks",
    "today",
]

# --- declared limits ---------------------------------------------------------------------------

# No cell of a transcription is this long: the longest today is a quote of 1,220 characters
# (studies.csv), and a text of 100,000 characters is kept verbatim by contract
# (tests/test_data_validation.py, "very-long"). A 5 MB note is a paste gone wrong, reported
# at its row and column.
MAX_CELL_CHARS = 100_000
# A table file larger than this is refused before it is parsed (today's largest: 104 kB).
MAX_FILE_BYTES = 32 * 1024 * 1024
# Rows per table: ten times the largest table today (missing.csv, 414 rows) fits; beyond,
# the table is refused with this limit in the message rather than validated and built slowly.
MAX_ROWS = 5_000
# Rows of the tables whose size sets the build time (each study is a row of studies.csv and
# a point of every forest plot, leave-one-out and multiverse fit of the outcomes it reports)
# that a build handles in at most twice the time of a cold build of today's data (issue 24,
# item 2): about twice today's 24 studies and 147 outcome rows. Measured, not assumed (see
# BUILD_LIMIT_SOURCE): ten times today's data took five times as long, the summary and
# "what's new" pages growing faster than the data. A larger table is refused before any
# page runs, with this limit in the message, instead of being built slowly; raising the
# limit takes a new measurement (benchmarks/scale_build.py).
MAX_BUILD_ROWS = {"studies": 50, "outcomes": 300}
BUILD_LIMIT_SOURCE = (
    "benchmarks/scale_build.py, 2026-12-06, on a shared 2-core machine: ten times today's "
    "data built in 3,173 s against 626 s for today's (5.1 times, one after the other); "
    "twice today's data in 757 s against 632 s (1.2 times, the two built side by side)"
)

# Variants of one outcome in one study (today at most 5): each variant is a fit on the
# sensitivity pages, so thousands of them would multiply the build time.
MAX_VARIANTS = 20
# Ceiling of an integer column that declares no maximum: more than any count of patients,
# records or lines this review can hold, far below 64 bits (2**63 - 1 ~ 9.2e18).
MAX_INTEGER = 10_000_000
# Characters of a number cell: enough for any count or percentage written in full.
MAX_NUMBER_CHARS = 24

# The first report of inotuzumab ozogamicin (CMC-544): DiJoseph JF et al., "Antibody-
# targeted chemotherapy with CMC-544: a CD22-targeted immunoconjugate of calicheamicin for
# the treatment of B-lymphoid malignancies", Blood 2004;103(5):1807-14, PMID 14615373:
# "Blood. 2004 Mar 1;103(5):1807-14. Epub 2003 Nov 13." No study of the drug, and no
# number of one, can be public before that day.
FIRST_REPORT = dt.date(2003, 11, 13)
FIRST_REPORT_SOURCE = "DiJoseph et al., Blood 2004, online 2003-11-13, PMID 14615373"

# Keys (study_id, variant, record_id): ASCII letters, digits, '.', '_' and '-' only, so that
# two keys cannot differ by an invisible character or a look-alike letter.
KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"

# Identifier columns of studies.csv: (canonical pattern, how to write it).
IDENTIFIERS = {
    "doi": (r"10\.[0-9]{4,9}/\S+", "a DOI as 10.NNNN/suffix"),
    "pmid": (r"[1-9][0-9]{0,8}", "a PubMed id as digits only"),
    "nct": (r"NCT[0-9]{8}", "a ClinicalTrials.gov number as NCT and 8 digits"),
}


_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def today() -> dt.date:
    """The date a validation runs (UTC): no date in the data may be later."""
    return dt.datetime.now(dt.timezone.utc).date()


# --- column names and keys ------------------------------------------------------------------


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Zs")


def canonical_name(text: str) -> str:
    """The form two names are compared in: NFKC, without any space or invisible character,
    case-folded (``'ＳＴＵＤＹ_ID\\u00a0'`` -> ``'study_id'``)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not _invisible(ch)).casefold()


def _what_differs(written: str, expected: str) -> str:
    """Plain words for how ``written`` differs from ``expected``."""
    why = []
    if any(ch in written for ch in "\u00a0\u2007\u202f"):
        why.append("a no-break space")
    if any(unicodedata.category(ch) == "Cf" for ch in written):
        why.append("an invisible character")
    if written != written.strip(" \t"):
        why.append("a leading or trailing space")
    visible = "".join(ch for ch in written if not _invisible(ch))
    if unicodedata.normalize("NFKC", visible) != visible:
        why.append("look-alike (full-width or compatibility) characters")
    bare = unicodedata.normalize("NFKC", visible)
    if bare != expected and bare.casefold() == expected.casefold():
        why.append("another letter case")
    return " and ".join(why) or "another spelling"


def header_fixes(header: list[str], expected: list[str]) -> list[tuple[int, str, str, str]]:
    """Column names that match an expected name only once normalised.

    Returns ``(position, written, expected, what differs)`` for each such name; the caller
    reports it and reads the column under its expected name, so that the rest of the file
    is still checked.
    """
    by_form = {canonical_name(c): c for c in expected}
    out = []
    for i, h in enumerate(header):
        if h in expected:
            continue
        want = by_form.get(canonical_name(h))
        if want is not None:
            out.append((i, h, want, _what_differs(h, want)))
    return out


def near_duplicate_keys(keys: list[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, j < i, of keys that differ but are equal once normalised.

    Normalised as :func:`canonical_name` (Unicode NFKC, spaces and invisible characters
    removed, case-folded): ``ref17`` and ``REF17`` or ``ref17\\u00a0`` name one study.
    """
    first: dict[tuple[str, ...], int] = {}
    out = []
    for i, key in enumerate(keys):
        form = tuple(canonical_name(k) for k in key)
        j = first.setdefault(form, i)
        if j != i and keys[j] != key:
            out.append((i, j))
    return out


def variant_counts(study: list[str], outcome: list[str]) -> dict[tuple[str, str], list[int]]:
    """Row positions of each (study, outcome) with more than :data:`MAX_VARIANTS` rows."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(study, outcome, strict=True)):
        groups[key].append(i)
    return {k: v for k, v in groups.items() if len(v) > MAX_VARIANTS}


# --- cell checks (pandera) ----------------------------------------------------------------------


def _date_range(value: str) -> tuple[dt.date, dt.date] | None:
    """First and last day of a full or partial ISO date, or of a year; None if not one.

    Plain :class:`datetime.date` (years 1 to 9999), so that 0001-01-01 and 2300-01-01 are
    read as the dates they are and reported against the plausible range.
    """
    m = _DATE_RE.fullmatch(value)
    if not m:
        return None
    year, month, day = (int(x) if x else None for x in m.groups())
    try:
        if day:
            d = dt.date(year, month, day)
            return d, d
        if month:
            first = dt.date(year, month, 1)
            nxt = dt.date(year + month // 12, month % 12 + 1, 1) if year < 9999 else None
            return first, (nxt - dt.timedelta(days=1)) if nxt else dt.date(9999, 12, 31)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        return None


def _not_after(s: pd.Series, last: dt.date) -> pd.Series:
    return s.map(lambda v: (r := _date_range(v)) is None or r[0] <= last)


def _not_before(s: pd.Series, first: dt.date) -> pd.Series:
    return s.map(lambda v: (r := _date_range(v)) is None or r[1] >= first)


def cell_checks(col: Col, table: str) -> list:
    """The guard checks of one column, in the order their rules are reported.

    The size check comes first: a cell too long to be a transcription is reported as that,
    at its row and column, and nothing else is checked in it.
    """
    # lazy: pandera takes about 0.9 s to import; only a validation needs it, not a read of
    # validated data
    from pandera.pandas import Check

    checks = [
        Check.str_length(
            max_value=MAX_CELL_CHARS,
            error=f"cell at most {MAX_CELL_CHARS:,} characters",
        )
    ]
    if col.type == KEY:
        checks.append(
            Check(
                lambda s: (s == "") | s.str.fullmatch(KEY_PATTERN).fillna(False),
                name="key of ASCII letters, digits, '.', '_' and '-' only "
                "(no spaces, no-break spaces or look-alike letters)",
            )
        )
    if col.type in (INT, NUM):
        checks.append(
            Check(
                lambda s: s.str.len() <= MAX_NUMBER_CHARS,
                name=f"number of at most {MAX_NUMBER_CHARS} characters",
            )
        )
    if col.type == INT:
        checks.append(
            Check(
                lambda s: s.map(_within_64_bits),
                name="integer within 64 bits",
            )
        )
    if col.type in (INT, NUM) and col.maximum is None:
        checks.append(
            Check(
                lambda s: ~(_num_or_nan(s) > MAX_INTEGER),
                name=f"value <= {MAX_INTEGER:,} (no count in this review comes near)",
            )
        )
    if col.type == DATE or (col.type == INT and col.name == "year"):
        now, first = today(), FIRST_REPORT
        checks += [
            Check(
                lambda s: _not_after(s, now),
                name=f"date not after today ({now.isoformat()})",
            ),
            Check(
                lambda s: _not_before(s, first),
                name=f"date not before the first report of inotuzumab ozogamicin "
                f"({first.isoformat()}: {FIRST_REPORT_SOURCE})",
            ),
        ]
    if table == "studies" and col.name == "doi":
        checks += [
            Check(
                lambda s: ~s.str.match(r"(?i)\s*(https?://|(dx\.)?doi\.org/)").fillna(False),
                name="DOI written as 10.NNNN/suffix, not as a web address (drop https://doi.org/)",
            ),
            Check(
                lambda s: ~s.str.match(r"(?i)\s*doi\s*:").fillna(False),
                name="DOI written as 10.NNNN/suffix, without the 'doi:' prefix",
            ),
        ]
    if table == "studies" and col.name in IDENTIFIERS:
        pattern, how = IDENTIFIERS[col.name]
        checks.append(
            Check(
                lambda s, p=pattern: (s == "") | s.str.fullmatch(p).fillna(False),
                name=f"identifier in canonical form: {how}",
            )
        )
    return checks


def _within_64_bits(value: str) -> bool:
    """False only for a whole number outside a signed 64-bit integer (pandas ``Int64``)."""
    if not re.fullmatch(r"-?[0-9]+", value) or len(value) > MAX_NUMBER_CHARS:
        return True  # another rule reports it
    return -(2**63) <= int(value) < 2**63


def _num_or_nan(s: pd.Series) -> pd.Series:
    """Numbers of cells that are plain decimals, NaN elsewhere (others are type errors)."""
    ok = s.str.fullmatch(NUM_PATTERN).fillna(False) & (s.str.len() <= MAX_NUMBER_CHARS)
    return pd.to_numeric(s.where(ok, None), errors="coerce")
