"""A data folder ``factor`` times the size of another, for scale tests and the benchmark.

The tables that grow as a living review adds studies (studies, outcomes, quality,
screening, missing, exclusions) are repeated ``factor`` times; the dictionary, the paper's
printed results (``paper_reported``) and the PRISMA counts are copied as they are. Every copy
after the first renames its keys (``study_id``, ``record_id`` and ``cohort_id`` get ``_xN``,
line numbers move by ``N * 100000``, the paper's reference numbers by ``N * 1000``, so that
one number still names one study) and blanks the copied studies' DOI, PMID and registry
number, so that the copies are new studies and not the same report entered twice. Values are
the real rows' values: nothing is invented beyond the renamed keys, and the copies are for
timing only.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

LINE_STEP = 100_000
REF_STEP = 1_000
# Tables a review does not grow by adding studies: copied once.
FIXED = ("dictionary", "paper_reported", "prisma", "search_strategies")


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _rename(table: str, row: dict, n: int) -> dict:
    row = dict(row)
    tag = f"_x{n}"
    for col in ("study_id", "record_id"):
        if row.get(col):
            row[col] += tag
    if row.get("paper_ref", "").isdigit():
        # one reference number of the paper names one study: a copy gets its own
        row["paper_ref"] = str(int(row["paper_ref"]) + n * REF_STEP)
    for col in ("extraction_line",):
        if row.get(col, "").isdigit():
            row[col] = str(int(row[col]) + n * LINE_STEP)
    if table == "studies":
        for col in ("doi", "pmid", "nct"):
            row[col] = ""
        if row.get("overlap_note"):
            row["overlap_note"] = ""
        if row.get("cohort_id"):
            row["cohort_id"] += tag
    return row


def scaled_copy(src: Path, dst: Path, factor: int) -> Path:
    """Write ``src``'s tables ``factor`` times over into ``dst`` (see the module docstring)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(src).glob("*.csv")):
        table = path.stem
        if table in FIXED:
            shutil.copy2(path, dst / path.name)
            continue
        fields, rows = _rows(path)
        out = list(rows)
        for n in range(1, factor):
            out += [_rename(table, r, n) for r in rows]
        with (dst / path.name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(out)
    return dst


def scaled_plan(src: Path, dst: Path, factor: int) -> Path:
    """The analysis plan ``src`` with each row-rule exception repeated for every copy of its
    study (the copies are the same rows, so the same reasons hold), written to ``dst``."""
    import yaml

    plan = yaml.safe_load(Path(src).read_text(encoding="utf-8"))
    rules = plan["row_selection"]
    rules["exceptions"] = [
        dict(e, study_id=e["study_id"] + (f"_x{n}" if n else ""))
        for e in rules.get("exceptions", [])
        for n in range(factor)
    ]
    Path(dst).write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return Path(dst)
