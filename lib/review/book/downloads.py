"""The one writer of every CSV file the site offers for download, safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
by Excel, LibreOffice Calc and Google Sheets as a formula, which can run commands or send
data away when a reader opens the file ("CSV injection", or formula injection). Labels and
notes come from ``data/``, which anyone may propose changes to, so every such cell is written
with a single quote in front (OWASP, "CSV Injection",
https://owasp.org/www-community/attacks/CSV_Injection: "prepend each cell field with a
single quote, so that their content will be read as text by the spreadsheet editor"; the
full-width forms of the four signs are treated the same way, since some spreadsheets fold
them to ASCII). Numbers are never changed: a numeric column is written as numbers, and a text
cell that is a plain number (``-0.52``) is left as it is, since a spreadsheet reads it as that
number, not as a formula. Quoting of commas, quotes and line ends is the ``csv`` module's
(pandas ``to_csv``), with records ended by CRLF as RFC 4180 asks.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralise", "safe_frame", "write_csv"]

# OWASP's list, and the full-width forms of its four signs (U+FF1D, U+FF0B, U+FF0D, U+FF20).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def neutralise(value):
    """``value`` with a single quote in front if a spreadsheet would run it as a formula.

    Anything that is not a string, and a string that is a plain number, is returned as is.

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-0.5"), neutralise(-3)
    ('\\'=HYPERLINK("http://x")', '-0.5', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, column names and index labels are neutralised."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            out[col] = s.astype(object).map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    out.index = out.index.map(neutralise)
    if out.index.name is not None:
        out.index.name = neutralise(out.index.name)
    return out


def write_csv(df: pd.DataFrame, path: str | PathLike, index: bool = False) -> Path:
    """Write ``df`` as the UTF-8 CSV file ``path`` for download, with every text cell that
    a spreadsheet would execute neutralised (:func:`neutralise`); return the path."""
    path = Path(path)
    # CRLF between records (RFC 4180, section 2): the csv writer then quotes any cell that
    # holds a carriage return or a line feed, so a stray CR cannot split a row
    safe_frame(df).to_csv(path, index=index, encoding="utf-8", lineterminator="\r\n")
    return path
