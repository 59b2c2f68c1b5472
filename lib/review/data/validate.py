"""Validate ``data/``: every problem at once, each with file, line, column, value and rule.

``run(data_dir)`` reads every table as text (UTF-8; a byte-order mark and CRLF line ends are
normalised silently; leading or trailing spaces in a cell are trimmed with a warning), checks
the file itself (present, decodable, comma-separated, balanced quotes, expected header, rows
present), then each cell and row against the pandera schemas of :mod:`review.data.rules`, then the
rules that span rows and tables (unique keys, one primary variant per study and outcome,
known studies, no report entered twice), the limits and canonical forms of
:mod:`review.data.guards` (column names written exactly, keys, plausible dates and numbers,
identifiers, sizes), then the analysis plan's row rules (:mod:`review.data.row_rules`; the plan
is the ``analysis_plan.yaml`` of the review that holds the data folder, see
:func:`review.data.plan.plan_path_for`, unless ``plan_path`` names another). Line numbers are
those an editor shows (the header is line 1; a row whose quoted text spans lines is
reported at its first line).

``python -m review validate [DATA_DIR]`` calls :func:`main`: exit status 0 when there is no
error, 1 with the report otherwise.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from review.data import guards, row_rules, screening_checks
from review.data.plan import PlanError, load_plan, plan_path_for
from review.data.problems import ERROR, WARNING, Parsed, Problem
from review.data.schema import TABLES, Table

__all__ = ["Report", "read_table", "run", "main", "default_data_dir"]


@dataclass
class Report:
    """All problems found in one data directory."""

    data_dir: Path
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        head = f"{self.data_dir}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *(str(p) for p in self.errors + self.warnings)])


def default_data_dir() -> Path:
    """``$REVIEW_DATA_DIR`` if set, else the repository's ``data/`` beside ``lib/``."""
    env = os.environ.get("REVIEW_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "data"


# --- reading ----------------------------------------------------------------------------------


def read_table(path: Path, table: Table, problems: list[Problem]) -> Parsed:
    """Read one CSV file as text, appending file-level and cell-trim problems.

    Nothing in a cell is interpreted: no NA strings, no number parsing, no HTML handling.
    """
    name = path.name
    expected = ",".join(table.names)
    empty = Parsed(table, pd.DataFrame(columns=table.names, dtype=object), [], readable=False)

    def file_problem(rule: str, detail: str, line: int | None = None) -> Parsed:
        problems.append(Problem(name, line, None, None, rule, ERROR, detail))
        return empty

    if not path.is_file():
        return file_problem("file missing", f"expected {name} with header: {expected}")
    size = path.stat().st_size
    if size > guards.MAX_FILE_BYTES:
        return file_problem(
            "table file within the size limit",
            f"{size:,} bytes; the limit is {guards.MAX_FILE_BYTES:,} bytes (review.data.guards)",
        )
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # UTF-8 byte-order mark: ordinary, dropped silently
    if not raw.strip():
        return file_problem("empty file", f"expected a header line: {expected}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        return file_problem(
            "bytes that are not UTF-8",
            f"byte 0x{byte} at line {line}; expected UTF-8 text (save the file as UTF-8)",
            line,
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    # a long cell is reported by the cell-size rule at its row and column, not by csv's own
    # field limit (131,072 characters) as a parse error
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text), strict=True)
    start = 1
    try:
        for record in reader:
            rows.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        return file_problem(
            "unbalanced quotes",
            f"a quoted field starting on line {start} is not closed properly ({exc}); "
            'expected every opening " to be closed',
            start,
        )
    rows = [(n, r) for n, r in rows if r != []]  # blank lines
    if not rows:
        return file_problem("empty file", f"expected a header line: {expected}")

    header_line, header = rows[0]
    header = _normalised_header(name, header_line, header, table, problems)
    if len(header) == 1 and len(table.names) > 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                return file_problem(
                    "wrong delimiter",
                    f"the header is separated by {label}s ({sep!r}); expected commas: {expected}",
                    header_line,
                )
    _check_header(name, header, table, problems)
    body = rows[1:]
    if not body and table.min_rows > 0:
        problems.append(
            Problem(
                name,
                None,
                None,
                None,
                "header only",
                ERROR,
                f"no data rows; expected at least {table.min_rows} row(s) under the header",
            )
        )
    if len(body) > guards.MAX_ROWS:
        problems.append(
            Problem(
                name,
                body[guards.MAX_ROWS][0],
                None,
                None,
                "table within the row limit",
                ERROR,
                f"{len(body):,} data rows; the limit is {guards.MAX_ROWS:,} rows per table "
                "(review.data.guards.MAX_ROWS); the table was not checked further",
            )
        )
        return empty
    present = [h for h in header if h in table.names]
    records: list[dict[str, str]] = []
    lines: list[int] = []
    for line, record in body:
        if len(record) != len(header):
            spans = _record_spans(text, line)
            hint = (
                "; the record spans several lines, so a quote is probably unbalanced"
                if spans
                else "; check the delimiter and quoting"
            )
            problems.append(
                Problem(
                    name,
                    line,
                    None,
                    None,
                    "wrong number of fields",
                    ERROR,
                    f"{len(record)} fields where the header has {len(header)}{hint}",
                )
            )
            continue
        cells = {}
        for col, value in zip(header, record, strict=True):
            if col not in present:
                continue
            trimmed = value.strip(" \t")
            if trimmed != value:
                problems.append(
                    Problem(
                        name,
                        line,
                        col,
                        value,
                        "leading or trailing spaces trimmed",
                        WARNING,
                    )
                )
            cells[col] = trimmed
        records.append(cells)
        lines.append(line)
    frame = pd.DataFrame.from_records(records, columns=present)
    frame = frame.astype(object) if frame.empty else frame
    frame.index = range(len(frame))
    return Parsed(table, frame, lines, readable=bool(present))


def _normalised_header(
    name: str, line: int, header: list[str], table: Table, problems: list[Problem]
) -> list[str]:
    """Column names as written, each that is an expected name only once normalised
    (spaces, no-break spaces, invisible characters, letter case, Unicode NFKC) reported as an
    error and read under the expected name, so that the rest of the file is still checked.
    """
    out = list(header)
    for pos, written, want, why in guards.header_fixes(header, table.names):
        problems.append(
            Problem(
                name,
                line,
                want,
                written,
                "column name written exactly",
                ERROR,
                f"the name has {why}; write it as {want!r}",
            )
        )
        out[pos] = want
    return out


def _near_key_problems(parsed: Parsed) -> list[Problem]:
    """Keys that differ from an earlier one only in case, spacing or Unicode form."""
    frame, table = parsed.frame, parsed.table
    if frame.empty or not set(table.key) <= set(frame.columns):
        return []
    keys = list(zip(*(frame[c] for c in table.key), strict=True))
    return [
        Problem(
            table.file,
            parsed.lines[i],
            table.key[-1],
            " / ".join(keys[i]),
            "keys differ by more than case, spaces or Unicode form",
            ERROR,
            f"({', '.join(table.key)}) is {' / '.join(keys[j])!r} on line {parsed.lines[j]}: "
            "the same key written another way; write it exactly as there",
        )
        for i, j in guards.near_duplicate_keys(keys)
    ]


def _variant_limit_problems(out_p: Parsed) -> list[Problem]:
    """At most ``guards.MAX_VARIANTS`` variants of one outcome in one study."""
    f = out_p.frame
    if f.empty or not {"study_id", "outcome", "variant"} <= set(f.columns):
        return []
    out = []
    for (sid, code), idx in guards.variant_counts(list(f["study_id"]), list(f["outcome"])).items():
        at = idx[guards.MAX_VARIANTS]
        out.append(
            Problem(
                out_p.table.file,
                out_p.lines[at],
                "variant",
                f.at[at, "variant"],
                f"at most {guards.MAX_VARIANTS} variants of one outcome in one study",
                ERROR,
                f"{len(idx):,} variants of {sid} / {code} (lines {out_p.lines[idx[0]]} to "
                f"{out_p.lines[idx[-1]]}); the limit is {guards.MAX_VARIANTS} "
                "(review.data.guards.MAX_VARIANTS): keep the variants the plan uses",
            )
        )
    return out


def _build_limit_problems(parsed: dict[str, Parsed]) -> list[Problem]:
    """Tables larger than a build handles within twice a cold build
    (``guards.MAX_BUILD_ROWS``): reported at the first row past the limit."""
    out = []
    for name, limit in guards.MAX_BUILD_ROWS.items():
        p = parsed[name]
        if len(p.frame) <= limit:
            continue
        out.append(
            Problem(
                p.table.file,
                p.lines[limit],
                p.table.columns[0].name,
                None,
                f"table within the build's size limit of {limit:,} rows",
                ERROR,
                f"{len(p.frame):,} data rows; the limit is {limit:,} rows of {p.table.file} "
                f"(review.data.guards.MAX_BUILD_ROWS): a larger table would take the build more "
                f"than twice as long as a cold build of today's data "
                f"({guards.BUILD_LIMIT_SOURCE})",
            )
        )
    return out


def _record_spans(text: str, line: int) -> bool:
    """True if the record starting at ``line`` continues on the next line (open quote)."""
    lines = text.split("\n")
    if line - 1 >= len(lines):
        return False
    return lines[line - 1].count('"') % 2 == 1


def _check_header(name: str, header: list[str], table: Table, problems: list[Problem]) -> bool:
    """Report missing, extra, renamed and duplicated columns; True if there was any."""
    expected = table.names
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    found = False
    for col in sorted({c for c in header if header.count(c) > 1}):
        problems.append(Problem(name, 1, col, col, "duplicated column", ERROR))
        found = True
    for col in extra:
        pos = header.index(col)
        was = expected[pos] if pos < len(expected) and expected[pos] in missing else None
        detail = (
            f"column {col!r} where {was!r} is expected (renamed?)"
            if was
            else f"not a column of {name}; expected: {','.join(expected)}"
        )
        problems.append(Problem(name, 1, col, col, "unexpected column", ERROR, detail))
        found = True
    for col in missing:
        problems.append(
            Problem(name, 1, col, None, "missing column", ERROR, f"expected: {','.join(expected)}")
        )
        found = True
    if not found and header != expected:
        problems.append(
            Problem(
                name,
                1,
                None,
                None,
                "columns in another order",
                WARNING,
                f"expected order: {','.join(expected)}",
            )
        )
    return found


# --- checks -----------------------------------------------------------------------------------


def _codes(parsed: Parsed | None) -> tuple[dict[str, set[str]] | None, dict[str, str]]:
    """Allowed codes per ``table.column`` and the kind of each outcome code."""
    if parsed is None or not parsed.readable or parsed.frame.empty:
        return None, {}
    d = parsed.frame
    if not {"table", "column", "code", "type"} <= set(d.columns):
        return None, {}
    codes: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, str] = {}
    for t, c, k, typ in zip(d["table"], d["column"], d["code"], d["type"], strict=True):
        if k:
            codes[f"{t}.{c}"].add(k)
            if t == "outcomes" and c == "outcome":
                kinds[k] = typ
    return dict(codes), kinds


def _schema_problems(
    parsed: Parsed, codes: dict[str, set[str]] | None, kinds: dict[str, str]
) -> list[Problem]:
    """Run the pandera schemas of a table; one problem per failing cell (first rule wins)."""
    # lazy: rules imports pandera (about 0.9 s); a page reads data the build validated
    # already and never checks them
    from review.data import rules

    frame, table = parsed.frame, parsed.table
    if frame.empty:
        return []
    present = list(frame.columns)
    out: list[Problem] = []
    seen: set[tuple[int, str | None]] = set()
    for severity, sch in (
        (ERROR, rules.error_schema(table, present, codes, kinds)),
        (WARNING, rules.warning_schema(table, present)),
    ):
        try:
            sch.validate(frame, lazy=True)
        except rules.SchemaErrors as exc:
            # most specific rule first: checks are declared in that order
            fc = exc.failure_cases.sort_values(["index", "check_number"], kind="stable")
            for rec in fc.itertuples(index=False):
                idx = rec.index
                if idx is None or pd.isna(idx):
                    continue
                idx = int(idx)
                check = str(rec.check)
                if rec.schema_context == "DataFrameSchema":
                    # a row rule: pandera lists every column; report it once, at its column
                    column = rules.RULE_COLUMNS.get(check)
                    key = (idx, check)
                else:
                    column = rec.column if isinstance(rec.column, str) else None
                    key = (idx, column)
                if column is not None and column not in frame.columns:
                    column = None
                if key in seen:
                    continue
                seen.add(key)
                value = frame.at[idx, column] if column else None
                out.append(
                    Problem(
                        table.file,
                        parsed.lines[idx],
                        column,
                        value,
                        check,
                        severity,
                        _detail(frame, idx, check, codes, table.name, column),
                    )
                )
    return out


def _detail(
    frame: pd.DataFrame,
    idx: int,
    check: str,
    codes: dict[str, set[str]] | None,
    table: str,
    column: str | None,
) -> str:
    """Context for a failed rule: the allowed codes, or the numbers compared."""
    if check.startswith("known code") and codes is not None and column:
        return "allowed: " + ", ".join(sorted(codes.get(f"{table}.{column}", ())))
    row = frame.loc[idx]
    if check.startswith("reported percent") or check == "events <= total":
        try:
            e, t = int(row["events"]), int(row["total"])
        except (KeyError, ValueError):
            return ""
        pct = f" = {100 * e / t:.2f}%" if t > 0 else ""
        return f"events/total {e}/{t}{pct}"
    return ""


def _key_problems(parsed: Parsed) -> list[Problem]:
    frame, table = parsed.frame, parsed.table
    if frame.empty or not set(table.key) <= set(frame.columns):
        return []
    out = []
    first: dict[tuple, int] = {}
    for i, key in enumerate(zip(*(frame[c] for c in table.key), strict=True)):
        if key in first:
            out.append(
                Problem(
                    table.file,
                    parsed.lines[i],
                    table.key[-1],
                    " / ".join(key),
                    "duplicate key",
                    ERROR,
                    f"({', '.join(table.key)}) already on line {first[key]}",
                )
            )
        else:
            first[key] = parsed.lines[i]
    return out


def _primary_problems(out_p: Parsed, not_usable: frozenset[str] = frozenset()) -> list[Problem]:
    """Exactly one primary variant per (study_id, outcome), or none when every variant
    carries a flag of ``not_usable`` (the plan's ``row_selection.not_usable_flags``)."""
    f = out_p.frame
    if f.empty or not {"study_id", "outcome", "primary"} <= set(f.columns):
        return []
    problems = []
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(f["study_id"], f["outcome"], strict=True)):
        groups[key].append(i)
    flags = f["flags"] if "flags" in f.columns else pd.Series("", index=f.index)
    for (sid, code), idx in groups.items():
        prim = [i for i in idx if f.at[i, "primary"] == "true"]
        if len(prim) == 1:
            continue
        if not prim and all(set(flags[i].split(";")) & not_usable for i in idx):
            continue
        at = prim[1] if len(prim) > 1 else idx[0]
        lines = ", ".join(str(out_p.lines[i]) for i in (prim or idx))
        what = "two or more rows" if prim else "no row"
        problems.append(
            Problem(
                out_p.table.file,
                out_p.lines[at],
                "primary",
                f.at[at, "primary"],
                "exactly one primary variant per (study_id, outcome)",
                # (none is allowed only when no variant is a usable number)
                ERROR,
                f"{what} marked primary for {sid} / {code} (lines {lines})",
            )
        )
    return problems


def _reference_problems(parsed: Parsed, column: str, known: set[str], target: str) -> list[Problem]:
    """Non-blank values of ``column`` that are not among the ``known`` study ids."""
    f = parsed.frame
    if f.empty or column not in f.columns:
        return []
    out = []
    # a reference written another way (case, spaces, Unicode form) is named with its fix
    forms = {guards.canonical_name(k): k for k in known}
    for i, v in enumerate(f[column]):
        if v == "" or v in known:
            continue
        near = forms.get(guards.canonical_name(v))
        out.append(
            Problem(
                parsed.table.file,
                parsed.lines[i],
                column,
                v,
                f"unknown study (not in {target})",
                ERROR,
                f"written {near!r} in {target}" if near else "",
            )
        )
    return out


def _supersedes_problems(out_p: Parsed) -> list[Problem]:
    f = out_p.frame
    cols = {"study_id", "outcome", "variant", "supersedes"}
    if f.empty or not cols <= set(f.columns):
        return []
    variants = set(zip(f["study_id"], f["outcome"], f["variant"], strict=True))
    out = []
    for i, (s, o, v, sup) in enumerate(
        zip(f["study_id"], f["outcome"], f["variant"], f["supersedes"], strict=True)
    ):
        if sup and (sup == v or (s, o, sup) not in variants):
            out.append(
                Problem(
                    out_p.table.file,
                    out_p.lines[i],
                    "supersedes",
                    sup,
                    "supersedes names another variant of the same study and outcome",
                    ERROR,
                )
            )
    return out


def _duplicate_report_problems(st: Parsed) -> list[Problem]:
    """No report entered twice under two ids.

    Two rows are taken for one report entered twice when they share a DOI or a PMID (one
    publication), or a registry id *and* a cohort_id (the same patients of the same trial:
    one trial registry record can cover several cohorts, so a shared NCT alone is not a
    duplicate). Such a pair is accepted only when the overlap is declared: the overlap_note
    of either row names the other's study_id (a later cut of the same cohort, a companion
    paper). Sharing a cohort_id records that patients overlap; it does not declare that
    the same identifier may appear twice.
    """
    f = st.frame
    need = {"study_id", "doi", "pmid", "nct", "cohort_id", "overlap_note"}
    if f.empty or not need <= set(f.columns):
        return []
    out = []
    for col in ("doi", "pmid", "nct"):
        first: dict[tuple[str, str], int] = {}
        for i, v in enumerate(f[col]):
            key = v.strip().lower()
            if not key:
                continue
            # a registry id marks a duplicate only within one cohort
            group = (key, f.at[i, "cohort_id"]) if col == "nct" else (key, "")
            if group not in first:
                first[group] = i
                continue
            j = first[group]
            a, b = f.loc[j], f.loc[i]
            declared = a["study_id"] in b["overlap_note"] or b["study_id"] in a["overlap_note"]
            if declared:
                continue
            what = f"{col} and cohort_id {a['cohort_id']!r}" if col == "nct" else col
            out.append(
                Problem(
                    st.table.file,
                    st.lines[i],
                    col,
                    v,
                    "same report entered twice under two ids",
                    ERROR,
                    f"same {what} as line {st.lines[j]} ({a['study_id']}); merge the rows, "
                    "or declare the overlap in overlap_note (name the other study_id)",
                )
            )
    return out


def _overlap_problems(st: Parsed, out_p: Parsed) -> list[Problem]:
    """Warn where one outcome has primary rows in two non-runner-up studies of one cohort.

    Overlap is recorded, never rejected: the analysis decides (one report per cohort).
    """
    s, o = st.frame, out_p.frame
    if s.empty or o.empty:
        return []
    if not {"study_id", "cohort_id", "id_role"} <= set(s.columns):
        return []
    if not {"study_id", "outcome", "primary"} <= set(o.columns):
        return []
    cohort = {
        sid: c
        for sid, c, role in zip(s["study_id"], s["cohort_id"], s["id_role"], strict=True)
        if c and role != "runner_up"
    }
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for i, (sid, code, prim) in enumerate(
        zip(o["study_id"], o["outcome"], o["primary"], strict=True)
    ):
        if prim != "true" or sid not in cohort:
            continue
        key = (cohort[sid], code)
        if key in seen and seen[key] != sid:
            problems.append(
                Problem(
                    out_p.table.file,
                    out_p.lines[i],
                    "study_id",
                    sid,
                    "one cohort counted once per outcome",
                    WARNING,
                    f"{seen[key]} and {sid} share cohort {cohort[sid]} and both have a "
                    f"primary {code} row; patients may be counted twice",
                )
            )
        seen.setdefault(key, sid)
    return problems


def _quality_total_problems(q: Parsed) -> list[Problem]:
    f = q.frame
    need = {"study_id", "scale", "scorer", "item", "score"}
    if f.empty or not need <= set(f.columns):
        return []
    sums: dict[tuple, int] = defaultdict(int)
    totals: dict[tuple, int] = {}
    for i, (s, sc, who, item, score) in enumerate(
        zip(f["study_id"], f["scale"], f["scorer"], f["item"], f["score"], strict=True)
    ):
        if not score.isdigit():
            continue
        if item == "total":
            totals[(s, sc, who)] = i
        else:
            sums[(s, sc, who)] += int(score)
    out = []
    for key, i in totals.items():
        if key in sums and sums[key] != int(f.at[i, "score"]):
            out.append(
                Problem(
                    q.table.file,
                    q.lines[i],
                    "score",
                    f.at[i, "score"],
                    "total equals the sum of the item scores",
                    WARNING,
                    f"items sum to {sums[key]}",
                )
            )
    return out


def _dictionary_problems(d: Parsed) -> list[Problem]:
    """Every column of every table is described in the dictionary."""
    f = d.frame
    if f.empty or not {"table", "column", "code"} <= set(f.columns):
        return []
    described = {
        (t, c) for t, c, k in zip(f["table"], f["column"], f["code"], strict=True) if not k
    }
    out = []
    for name, table in TABLES.items():
        if name == "dictionary":
            continue
        for col in table.names:
            if (name, col) not in described:
                out.append(
                    Problem(
                        d.table.file,
                        None,
                        "column",
                        f"{name}.{col}",
                        "every column is described",
                        ERROR,
                        f"add a row for table {name!r}, column {col!r}",
                    )
                )
    return out


def _load_plan(plan_path: str | os.PathLike | None, root: Path, problems: list[Problem]):
    """The analysis plan whose row rules apply, or None (with a problem) if unreadable."""
    path = Path(plan_path) if plan_path is not None else plan_path_for(root)
    try:
        return load_plan(path)
    except (OSError, PlanError, yaml.YAMLError) as exc:
        problems.append(
            Problem(path.name, None, None, None, "analysis plan readable", ERROR, str(exc))
        )
        return None


def _row_rule_problems(out_p: Parsed, plan) -> list[Problem]:
    """The plan's row rules (:mod:`review.data.row_rules`): a primary row that breaks one is an
    error unless ``row_selection.exceptions`` names it; an exception that names no such row
    is a warning."""
    if plan is None:
        return []
    path = Path(plan.source)
    out = [
        Problem(
            path.name,
            None,
            "row_selection.exceptions",
            None,
            "exception names a row, a rule and a reason",
            ERROR,
            f"entry {i + 1}: {what}",
        )
        for i, what in row_rules.exception_problems(plan)
    ]
    if out:
        return out
    f = out_p.frame
    breaks, unused = row_rules.check(f, plan)
    for b in breaks:
        out.append(
            Problem(
                out_p.table.file,
                out_p.lines[b.index],
                b.column,
                f.at[b.index, b.column] if b.column in f.columns else None,
                row_rules.rule_name(b.rule),
                ERROR,
                f"{f.at[b.index, 'study_id']} / {f.at[b.index, 'outcome']} / "
                f"{f.at[b.index, 'variant']}: {b.detail}; make another variant primary, or "
                "record an exception with its reason in the plan (row_selection.exceptions)",
            )
        )
    for e in unused:
        out.append(
            Problem(
                path.name,
                None,
                "row_selection.exceptions",
                f"{e['study_id']} / {e['outcome']} / {e['variant']}",
                "an exception names a primary row that breaks its rule",
                WARNING,
                f"no primary row of data/ breaks rule {e['rule']!r} there; remove the entry",
            )
        )
    return out


def run(
    data_dir: str | os.PathLike | None = None, plan_path: str | os.PathLike | None = None
) -> Report:
    """Validate every table of ``data_dir`` (default: :func:`default_data_dir`).

    ``plan_path`` is the analysis plan whose row rules and exceptions apply (default: the
    plan of the review that holds ``data_dir``, :func:`review.data.plan.plan_path_for`).
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    report = Report(root)
    problems = report.problems
    parsed = {name: read_table(root / t.file, t, problems) for name, t in TABLES.items()}
    codes, kinds = _codes(parsed["dictionary"])
    for p in parsed.values():
        problems += _schema_problems(p, codes, kinds)
        problems += _key_problems(p)
        problems += _near_key_problems(p)
    studies = set(parsed["studies"].frame.get("study_id", pd.Series(dtype=object)))
    if parsed["studies"].readable and "study_id" in parsed["studies"].frame.columns:
        for name in ("outcomes", "quality", "risk_of_bias", "screening", "missing"):
            problems += _reference_problems(parsed[name], "study_id", studies, "studies.csv")
    plan = _load_plan(plan_path, root, problems)
    not_usable = row_rules.not_usable_flags(plan) if plan is not None else frozenset()
    problems += _primary_problems(parsed["outcomes"], not_usable)
    problems += _variant_limit_problems(parsed["outcomes"])
    problems += _build_limit_problems(parsed)
    problems += _supersedes_problems(parsed["outcomes"])
    problems += _duplicate_report_problems(parsed["studies"])
    problems += _quality_total_problems(parsed["quality"])
    problems += _overlap_problems(parsed["studies"], parsed["outcomes"])
    problems += _row_rule_problems(parsed["outcomes"], plan)
    problems += _dictionary_problems(parsed["dictionary"])
    problems += screening_checks.problems(parsed)
    problems.sort(key=lambda p: (p.severity != ERROR, p.file, p.line or 0))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``validate [DATA_DIR]``; prints the report, returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print("usage: python -m review validate [DATA_DIR]")
        return 0
    report = run(args[0] if args else None)
    stream = sys.stdout if report.ok else sys.stderr
    print(report, file=stream)
    return 0 if report.ok else 1
