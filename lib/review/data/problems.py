"""What a check of the data finds: one :class:`Problem` (where, what, which rule), and a
table as read (:class:`Parsed`) that the checks of :mod:`review.data.validate` and
:mod:`review.data.screening_checks` share."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from review.data.schema import Table

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    """One finding: where (file, line, column), what (value) and which rule.

    ``line`` is None for a problem with the whole file; ``column`` is None when no single
    column is at fault.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = ERROR
    detail: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column:
            where += f" [{self.column}]"
        text = f"{self.severity.upper()} {where}:"
        if self.value is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            text += f" value {shown!r}"
        # the rule is worded as what is expected; say plainly that it was not met
        text += f" breaks the rule '{self.rule}'"
        if self.detail:
            text += f": {self.detail}"
        return text


@dataclass
class Parsed:
    """A table read as text: the frame (all cells str, trimmed) and each row's line."""

    table: Table
    frame: pd.DataFrame
    lines: list[int]
    readable: bool = True
