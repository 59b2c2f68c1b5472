"""The screening log: import of search exports, duplicate detection, and its migration.

A living review reruns its searches in bibliographic databases and trial registers and
exports what they return. :func:`import_export` reads such an export (RIS, PubMed MEDLINE,
or a ClinicalTrials.gov CSV download; the format is told from the content), and appends one
record per exported record to ``data/screening.csv``:

* a record that matches a record already in the log, or a study already in ``studies.csv``,
  or an earlier record of the same file, is logged as a ``duplicate`` of it (``duplicate_of``
  names the record, ``study_id`` the study where one is known);
* the rest are ``pending``: they wait for a reviewer's decision.

Two records match when they share a DOI (in any written form: ``https://doi.org/...``,
``doi:``, upper or lower case), a PMID, or an NCT number, or when their titles agree after
normalisation (case, accents, punctuation and spacing ignored) and their years agree. This is
the deterministic part of the deduplication that reference managers perform (Bramer et al.
2016, doi:10.3163/1536-5050.104.3.014); near-duplicates with other titles are left to the
screener.

Each imported record keeps the hash of its export file and its number in the file, so that
importing the same file again adds nothing. The file ``screening.csv`` is rewritten
atomically (a new file renamed over the old one), and only after the whole export has been
read: a bad export leaves ``data/`` as it was.

:func:`migrate` adds the columns of the import to a screening log written before it (the
mapping is described in ``data/README.md``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import rispy

from review.data.schema import SCREENING

__all__ = [
    "ExportError",
    "ExportRecord",
    "ImportResult",
    "REASON_RULES",
    "detect_format",
    "import_export",
    "migrate",
    "norm_doi",
    "norm_nct",
    "norm_pmid",
    "norm_title",
    "parse_export",
    "reason_code_for",
]

FORMATS = {
    "ris": "RIS",
    "medline": "PubMed MEDLINE",
    "ctgov": "ClinicalTrials.gov CSV",
}
# the database each format comes from, to find the strategy row of an import
_FORMAT_SOURCE = {"medline": "pubmed", "ctgov": "clinicaltrials.gov"}

_DOI_RE = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)
_NCT_RE = re.compile(r"NCT\s*0*(\d{1,8})\b", re.IGNORECASE)
_PMID_RE = re.compile(r"PMID\s*[:=]?\s*(\d{1,10})\b", re.IGNORECASE)


class ExportError(ValueError):
    """An export file that cannot be read; the message names the record at fault."""


@dataclass
class ExportRecord:
    """One record of an export, as the log needs it."""

    number: int
    title: str
    year: str = ""
    doi: str = ""
    pmid: str = ""
    nct: str = ""
    url: str = ""
    citation: str = ""
    has_abstract: bool = False
    database: str = ""


@dataclass
class ImportResult:
    """What an import did: records read, duplicates found, new records to screen."""

    format: str
    read: int
    duplicates: int
    new: int
    already_imported: int
    added: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{FORMATS[self.format]} export: {self.read} record(s) read, "
            f"{self.duplicates} duplicate(s), {self.new} new record(s) to screen"
        )
        if self.already_imported:
            text += f"; {self.already_imported} record(s) already imported from this file"
        return text


# --- normalisation ----------------------------------------------------------------------------


def norm_doi(value: str) -> str:
    """A DOI in one written form: lower case, without ``https://doi.org/`` or ``doi:``.

    >>> norm_doi("https://doi.org/10.1056/NEJMoa1509277")
    '10.1056/nejmoa1509277'
    >>> norm_doi("DOI: 10.1056/NEJMOA1509277.")
    '10.1056/nejmoa1509277'
    """

    m = _DOI_RE.search(unquote(value or ""))
    return m.group(0).rstrip(".,;)]").lower() if m else ""


def norm_pmid(value: str) -> str:
    """The digits of a PMID (``PMID: 123``, ``123 [PubMed]``, ``123``); '' if none."""
    text = (value or "").strip()
    m = _PMID_RE.search(text)
    if m:
        return m.group(1).lstrip("0")
    m = re.fullmatch(r"(\d{1,10})(?:\s*\[.*\])?", text)
    return m.group(1).lstrip("0") if m else ""


def norm_nct(value: str) -> str:
    """An NCT number as ``NCT`` and 8 digits; '' if none."""
    m = _NCT_RE.search(value or "")
    return f"NCT{int(m.group(1)):08d}" if m else ""


def norm_title(value: str) -> str:
    """A title for comparison: accents, case, punctuation and spacing removed.

    >>> norm_title("Inotuzumab  Ozogamicin versus Standard Therapy: a Phase-3 trial.")
    'inotuzumab ozogamicin versus standard therapy a phase 3 trial'
    """
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


# --- formats ----------------------------------------------------------------------------------

_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -( |$)")
_MEDLINE_TAG = re.compile(r"^([A-Z][A-Z0-9 ]{1,3})- ")


def _text(path_or_text) -> str:
    if isinstance(path_or_text, Path):
        raw = path_or_text.read_bytes()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return path_or_text


def detect_format(text: str) -> str:
    """``ris``, ``medline`` or ``ctgov`` from the content of an export.

    Raises
    ------
    ExportError
        If the content is none of the three.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ExportError("the file is empty")
    first = lines[0].lstrip("\ufeff")
    if _RIS_TAG.match(first) and first.startswith("TY"):
        return "ris"
    if first.startswith("PMID-") or re.match(r"^PMID\s*-\s*\d", first):
        return "medline"
    header = next(csv.reader([first]), [])
    names = {h.strip().lower() for h in header}
    if "nct number" in names or "nctid" in names:
        return "ctgov"
    raise ExportError(
        "not a search export this command reads: expected RIS (first line 'TY  - '), "
        "PubMed MEDLINE (first line 'PMID- ') or a ClinicalTrials.gov CSV (a column "
        f"'NCT Number'); the first line is {first[:60]!r}"
    )


def _year(value: str) -> str:
    m = re.search(r"\b(19|20)\d{2}\b", value or "")
    return m.group(0) if m else ""


def _ris_chunks(text: str) -> list[tuple[int, str]]:
    """Split RIS text into records (``TY`` to ``ER``), each with the line it starts on."""
    chunks: list[tuple[int, str]] = []
    start, buf = None, []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if buf:
                buf.append(line)
            continue
        tag = _RIS_TAG.match(line)
        if tag and tag.group(1) == "TY":
            if start is not None:
                raise ExportError(
                    f"RIS record {len(chunks) + 1} (line {start}) has no end tag 'ER  - ' "
                    f"before the next record starts on line {i}"
                )
            start, buf = i, [line]
        elif start is None:
            raise ExportError(
                f"RIS record {len(chunks) + 1}: line {i} is outside a record "
                f"(a record starts with 'TY  - '): {line[:60]!r}"
            )
        elif tag and tag.group(1) == "ER":
            buf.append(line)
            chunks.append((start, "\n".join(buf) + "\n"))
            start, buf = None, []
        else:
            buf.append(line)
    if start is not None:
        raise ExportError(f"RIS record {len(chunks) + 1} (line {start}) has no end tag 'ER  - '")
    return chunks


def _parse_ris(text: str) -> list[ExportRecord]:

    out = []
    for n, (line, chunk) in enumerate(_ris_chunks(text), start=1):
        try:
            entries = rispy.loads(chunk)
        except Exception as exc:  # rispy raises plain exceptions on malformed tags
            raise ExportError(f"RIS record {n} (line {line}): {exc}") from exc
        if len(entries) != 1:
            raise ExportError(f"RIS record {n} (line {line}) could not be read")
        e = entries[0]
        title = e.get("title") or e.get("primary_title") or ""
        if not title.strip():
            raise ExportError(f"RIS record {n} (line {line}) has no title (TI or T1)")
        urls = e.get("urls") or []
        notes = " ".join(e.get("notes") or []) if isinstance(e.get("notes"), list) else ""
        ids = " ".join(str(e.get(k, "")) for k in ("accession_number", "notes_abstract"))
        nct = norm_nct(" ".join([title, str(e.get("accession_number", "")), notes] + urls))
        date = str(e.get("year") or e.get("publication_year") or e.get("date") or "")
        journal = e.get("secondary_title") or e.get("journal_name") or e.get("alternate_title1")
        authors = e.get("authors") or e.get("first_authors") or []
        citation = ", ".join(a for a in authors[:3]) + (" et al." if len(authors) > 3 else "")
        citation = ". ".join(p for p in (citation, title.strip(), journal or "", _year(date)) if p)
        out.append(
            ExportRecord(
                number=n,
                title=title.strip(),
                year=_year(date),
                doi=norm_doi(str(e.get("doi", ""))),
                pmid=norm_pmid(str(e.get("accession_number", "")))
                if str(e.get("name_of_database", "")).lower().startswith(("pubmed", "medline"))
                else norm_pmid(ids if "PMID" in ids.upper() else ""),
                nct=nct,
                url=urls[0] if urls else "",
                citation=citation,
                has_abstract=bool((e.get("abstract") or "").strip()),
                database=str(e.get("name_of_database") or e.get("database_provider") or ""),
            )
        )
    return out


def _medline_chunks(text: str) -> list[tuple[int, dict[str, list[str]]]]:
    """MEDLINE records (separated by blank lines), each as tag -> values, with its line."""
    records: list[tuple[int, dict[str, list[str]]]] = []
    cur: dict[str, list[str]] | None = None
    last = None
    start = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if cur is not None:
                records.append((start, cur))
            cur, last = None, None
            continue
        m = _MEDLINE_TAG.match(line)
        if m:
            tag = m.group(1).strip()
            if cur is None:
                if tag != "PMID":
                    raise ExportError(
                        f"MEDLINE record {len(records) + 1} (line {i}) does not start with "
                        f"'PMID- ': {line[:60]!r}"
                    )
                cur, start = {}, i
            cur.setdefault(tag, []).append(line[m.end() :].strip())
            last = tag
        elif line.startswith("      ") and cur is not None and last is not None:
            cur[last][-1] += " " + line.strip()
        else:
            raise ExportError(
                f"MEDLINE record {len(records) + 1}: line {i} is neither a tagged field "
                f"('TAG - value') nor a continuation line: {line[:60]!r}"
            )
    if cur is not None:
        records.append((start, cur))
    return records


def _parse_medline(text: str) -> list[ExportRecord]:
    out = []
    for n, (line, rec) in enumerate(_medline_chunks(text), start=1):
        pmid = norm_pmid(rec.get("PMID", [""])[0])
        if not pmid:
            raise ExportError(f"MEDLINE record {n} (line {line}) has no valid PMID")
        title = " ".join(rec.get("TI", [])).strip()
        if not title:
            raise ExportError(f"MEDLINE record {n} (line {line}, PMID {pmid}) has no title (TI)")
        doi = ""
        for value in rec.get("AID", []) + rec.get("LID", []):
            if "[doi]" in value:
                doi = norm_doi(value)
                break
        nct = ""
        for value in rec.get("SI", []) + rec.get("AB", []):
            nct = nct or norm_nct(value)
        authors = rec.get("AU", [])
        cite = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")
        source = (rec.get("SO") or rec.get("TA") or [""])[0]
        out.append(
            ExportRecord(
                number=n,
                title=title,
                year=_year((rec.get("DP") or [""])[0]),
                doi=doi,
                pmid=pmid,
                nct=nct,
                url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
                citation=". ".join(p for p in (cite, title, source) if p),
                has_abstract=bool(rec.get("AB")),
                database="PubMed",
            )
        )
    return out


def _parse_ctgov(text: str) -> list[ExportRecord]:
    reader = csv.DictReader(io.StringIO(text))
    names = {(h or "").strip().lower(): h for h in reader.fieldnames or []}

    def col(row, *options):
        for o in options:
            if o in names:
                return (row.get(names[o]) or "").strip()
        return ""

    out = []
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ExportError(f"ClinicalTrials.gov CSV: {exc}") from exc
    for n, row in enumerate(rows, start=1):
        if None in row:
            raise ExportError(
                f"ClinicalTrials.gov record {n} (line {n + 1}) has more cells than the header"
            )
        raw = col(row, "nct number", "nctid")
        nct = norm_nct(raw)
        if not nct or not re.fullmatch(r"\s*NCT\d{8}\s*", raw, re.IGNORECASE):
            raise ExportError(
                f"ClinicalTrials.gov record {n} (line {n + 1}) has no valid NCT number: {raw!r}"
            )
        title = col(row, "study title", "title", "brieftitle")
        if not title:
            raise ExportError(f"ClinicalTrials.gov record {n} (line {n + 1}, {nct}) has no title")
        posted = col(row, "first posted", "studyfirstpostdate", "start date")
        out.append(
            ExportRecord(
                number=n,
                title=title,
                year=_year(posted),
                nct=nct,
                url=col(row, "study url", "url") or f"https://clinicaltrials.gov/study/{nct}",
                citation=f"{title} ({nct}; first posted {posted})" if posted else title,
                has_abstract=bool(col(row, "brief summary", "briefsummary")),
                database="ClinicalTrials.gov",
            )
        )
    return out


def parse_export(path_or_text) -> tuple[str, list[ExportRecord]]:
    """Read an export (a path or its text): its format and its records, in file order.

    Raises
    ------
    ExportError
        The format is not recognised, or a record is malformed (the message names it).
    """
    text = _text(Path(path_or_text) if isinstance(path_or_text, os.PathLike) else path_or_text)
    fmt = detect_format(text)
    records = {"ris": _parse_ris, "medline": _parse_medline, "ctgov": _parse_ctgov}[fmt](text)
    if not records:
        raise ExportError(f"the {FORMATS[fmt]} export holds no record")
    return fmt, records


# --- matching ---------------------------------------------------------------------------------


class _Index:
    """Identifiers already known (log records and studies), and what each points to."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}

    def add(self, keys, record_id: str, study_id: str) -> None:
        for k in keys:
            self.keys.setdefault(k, (record_id, study_id))

    def find(self, keys) -> tuple[tuple[str, str], tuple[str, str]] | None:
        for k in keys:
            if k in self.keys:
                return k, self.keys[k]
        return None


def _keys(doi="", pmid="", nct="", title="", year="") -> list[tuple[str, str]]:
    out = []
    if doi:
        out.append(("DOI", doi))
    if pmid:
        out.append(("PMID", pmid))
    if nct:
        out.append(("NCT", nct))
    t = norm_title(title)
    if len(t) >= 20 and year:
        out.append(("title and year", f"{t}|{year}"))
    return out


def _index(log: pd.DataFrame, studies: pd.DataFrame | None) -> _Index:
    idx = _Index()
    # a record already in the log first: it names the study it was matched to, if any
    for _, r in log.iterrows():
        ident = str(r.get("identifier", ""))
        keys = _keys(
            norm_doi(str(r.get("doi", "")) or ident),
            norm_pmid(str(r.get("pmid", ""))) or norm_pmid(ident if "PMID" in ident else ""),
            norm_nct(str(r.get("nct", "")) or ident),
            str(r.get("title", "")),
            str(r.get("year", "")),
        )
        idx.add(keys, str(r["record_id"]), str(r.get("study_id", "")))
    if studies is not None:
        for _, s in studies.iterrows():
            if str(s.get("id_role", "")) == "runner_up":
                continue
            keys = _keys(norm_doi(str(s.get("doi", ""))), norm_pmid(str(s.get("pmid", ""))))
            # a registry id names a trial, and a trial can have several reports: matched too
            keys += _keys(nct=norm_nct(str(s.get("nct", ""))))
            idx.add(keys, "", str(s["study_id"]))
    return idx


def _cited_titles(studies: pd.DataFrame | None) -> list[tuple[str, str, str]]:
    """(normalised citation, year, study_id) of each study that is not a runner-up."""
    if studies is None:
        return []
    return [
        (norm_title(str(r["citation"])), str(r.get("year", "")), str(r["study_id"]))
        for _, r in studies.iterrows()
        if str(r.get("id_role", "")) != "runner_up" and str(r.get("year", ""))
    ]


def _cited(rec: ExportRecord, cited) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """A study whose citation holds the record's whole title, of the same year."""
    title = norm_title(rec.title)
    if len(title) < 30 or not rec.year:
        return None
    for citation, year, sid in cited:
        if year == rec.year and title in citation:
            return ("title and year", f"{title}|{year}"), ("", sid)
    return None


# --- the log ----------------------------------------------------------------------------------


def _read_log(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=SCREENING.names, dtype=object)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in SCREENING.names if c not in frame.columns]
    if missing:
        raise ExportError(
            f"{path} lacks the columns {', '.join(missing)}: migrate it first "
            "(python scripts/migrate_screening.py)"
        )
    return frame[SCREENING.names]


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV next to ``path`` and rename it over ``path`` (never half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            frame.to_csv(f, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _strategy(data_dir: Path, fmt: str, records, search_round, source) -> tuple[str, str, str]:
    """The round, source and date of an import, from ``search_strategies.csv``."""
    path = data_dir / "search_strategies.csv"
    if not path.is_file():
        raise ExportError(f"{path} is missing: record the search strategy before importing")
    s = pd.read_csv(path, dtype=str, keep_default_na=False)
    run = s[s["kind"].isin(["database", "register"]) & (s["date_run"] != "")]
    if search_round is not None:
        run = run[run["search_round"] == search_round]
    if source is not None:
        run = run[run["source"] == source]
    elif fmt in _FORMAT_SOURCE:
        run = run[run["source"].str.lower().str.contains(_FORMAT_SOURCE[fmt], regex=False)]
    else:
        dbs = {r.database.lower() for r in records if r.database}
        if len(dbs) == 1:
            db = dbs.pop()
            run = run[[db in x.lower() or x.lower() in db for x in run["source"]]]
    if run.empty:
        raise ExportError(
            "no database or register search in data/search_strategies.csv matches this "
            f"export ({FORMATS[fmt]}, round {search_round or 'any'}, source "
            f"{source or 'from the export'}): add its strategy, date run and who ran it first "
            "(PRISMA-S), or name it with --round and --source"
        )
    run = run.sort_values("date_run", kind="stable")
    latest = run[run["search_round"] == run["search_round"].iloc[-1]]
    if len(latest) > 1 and source is None:
        raise ExportError(
            "several searches of round "
            f"{latest['search_round'].iloc[-1]} could have made this export "
            f"({'; '.join(latest['source'])}): name one with --source"
        )
    row = latest.iloc[-1]
    return row["search_round"], row["source"], row["date_run"]


def _next_ids(log: pd.DataFrame, search_round: str, count: int) -> list[str]:
    pat = re.compile(rf"{re.escape(search_round)}-(\d+)$")
    used = [int(m.group(1)) for r in log["record_id"] if (m := pat.match(str(r)))]
    start = max(used, default=0) + 1
    width = max(3, len(str(start + count)))
    return [f"{search_round}-{i:0{width}d}" for i in range(start, start + count)]


def import_export(
    file,
    data_dir,
    *,
    search_round: str | None = None,
    source: str | None = None,
) -> ImportResult:
    """Append the records of a search export to ``data_dir/screening.csv``.

    Parameters
    ----------
    file : path
        A RIS, PubMed MEDLINE or ClinicalTrials.gov CSV export.
    data_dir : path
        The data folder (``screening.csv``, ``studies.csv``, ``search_strategies.csv``).
    search_round, source : str, optional
        The search of ``search_strategies.csv`` that made the export; by default the latest
        database or register search whose source fits the export's format. Its ``date_run``
        dates the records.

    Returns
    -------
    ImportResult

    Raises
    ------
    ExportError
        A bad export, no matching search strategy, or a log to migrate first; nothing is
        written.
    """
    path, data_dir = Path(file), Path(data_dir)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    fmt, records = parse_export(path)
    log_path = data_dir / "screening.csv"
    log = _read_log(log_path)
    done = set(
        log.loc[log["export_hash"] == digest, "export_record"].astype(str).str.strip().tolist()
    )
    todo = [r for r in records if str(r.number) not in done]
    if not todo:
        return ImportResult(fmt, len(records), 0, 0, len(records))
    rnd, src, date = _strategy(data_dir, fmt, records, search_round, source)
    studies_path = data_dir / "studies.csv"
    studies = (
        pd.read_csv(studies_path, dtype=str, keep_default_na=False)
        if studies_path.is_file()
        else None
    )
    idx = _index(log, studies)
    cited = _cited_titles(studies)
    ids = _next_ids(log, rnd, len(todo))
    rows, duplicates = [], 0
    for rec, rid in zip(todo, ids, strict=True):
        keys = _keys(rec.doi, rec.pmid, rec.nct, rec.title, rec.year)
        hit = idx.find(keys) or _cited(rec, cited)
        row = dict.fromkeys(SCREENING.names, "")
        row.update(
            record_id=rid,
            search_round=rnd,
            date=date,
            source=src,
            record=rec.citation or rec.title,
            identifier="; ".join(
                x
                for x in (
                    f"PMID:{rec.pmid}" if rec.pmid else "",
                    rec.doi and f"doi:{rec.doi}",
                    rec.nct,
                )
                if x
            ),
            url=rec.url,
            stage="registry" if fmt == "ctgov" else ("abstract" if rec.has_abstract else "title"),
            decision="pending",
            doi=rec.doi,
            pmid=rec.pmid,
            nct=rec.nct,
            title=rec.title,
            year=rec.year,
            export_hash=digest,
            export_record=str(rec.number),
            note=f"Imported from {path.name} ({FORMATS[fmt]}), record {rec.number}.",
        )
        if hit is not None and hit[0][0] == "NCT" and fmt != "ctgov":
            # a publication naming a registered trial is a report of it, not a copy of a
            # record: it stays to be screened (it may be a later cut of an included study)
            (_, value), (record_id, study_id) = hit
            row["note"] += f" Names {value}, as does {study_id or record_id}: check for overlap."
            hit = None
        if hit is not None:
            (kind, value), (record_id, study_id) = hit
            duplicates += 1
            row.update(decision="duplicate", duplicate_of=record_id, study_id=study_id)
            what = f"record {record_id}" if record_id else f"study {study_id}"
            shown = value.split("|")[0] if kind == "title and year" else value
            row["reason"] = f"Same {kind} as {what} ({shown})."
        idx.add(keys, rid, row["study_id"])
        rows.append(row)
    new = pd.DataFrame(rows, columns=SCREENING.names)
    write_atomic(pd.concat([log, new], ignore_index=True), log_path)
    return ImportResult(
        fmt,
        len(records),
        duplicates,
        len(todo) - duplicates,
        len(records) - len(todo),
        [r["record_id"] for r in rows],
    )


# --- migration of a log written before the import ---------------------------------------------

# reason -> reason_code, first match wins (case-insensitive regular expressions on `reason`)
REASON_RULES: tuple[tuple[str, str], ...] = (
    (r"^review\b|\(review\)|literature review|case report|case series", "design"),
    (r"not a report", "not_a_report"),
    (
        r"exclusion (criterion |criteria 1-)?2\b|only a subset|subset had prior|not attributable",
        "ino_subset",
    ),
    (r"paediatric|pediatric|children|under 18|<\s*18|aged 1[0-7]\b|ages 1-", "not_adult"),
    (r"subgroup|overlap", "subgroup"),
    (
        r"no efficacy|no response outcome|post-transplant|not outcomes of ino|no .*outcome",
        "no_outcome",
    ),
    (r"predates|outside th\w+ update's window|before the (paper's )?search date", "outside_window"),
)


def reason_code_for(reason: str) -> str:
    """The reason code of an exclusion written before reason codes existed.

    The first rule of :data:`REASON_RULES` whose pattern occurs in ``reason`` decides;
    ``other`` when none does.
    """
    for pattern, code in REASON_RULES:
        if re.search(pattern, reason or "", re.IGNORECASE):
            return code
    return "other"


def migrate(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the import's columns to a screening log, filling what follows mechanically.

    Existing columns and values are kept as they are. New columns: ``reason_code``
    (exclusions only, from ``reason`` by :func:`reason_code_for`), ``doi``, ``pmid`` and
    ``nct`` (parsed from ``identifier``), ``duplicate_of``, ``title``, ``year``,
    ``export_hash``, ``export_record`` (left empty: the records were not imported). A cell
    already filled is never overwritten, so migrating twice changes nothing.
    """
    out = frame.copy()
    for col in SCREENING.names:
        if col not in out.columns:
            out[col] = ""
    out = out.fillna("")
    for i, r in out.iterrows():
        ident = r["identifier"]
        if r["decision"] == "exclude" and not r["reason_code"]:
            out.at[i, "reason_code"] = reason_code_for(r["reason"])
        if not r["doi"]:
            out.at[i, "doi"] = norm_doi(ident)
        if not r["pmid"] and "PMID" in ident.upper():
            out.at[i, "pmid"] = norm_pmid(ident)
        if not r["nct"]:
            out.at[i, "nct"] = norm_nct(ident)
    return out[SCREENING.names]
