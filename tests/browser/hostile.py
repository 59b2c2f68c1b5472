"""A hostile copy of a fixture data folder: its text fields hold markup and odd strings.

The copy is made at test time (never committed). Every study keeps its numbers; only free
text changes: author names (which become the study labels shown in tables and plots),
citations, regimens, quotes and notes. A correct site shows each string as the characters
it is made of: no script runs, no HTML element is created, no Markdown or MyST is parsed.

The strings carry markers the browser tests look for: ``hostileRan`` (set by any script
that runs) and the class ``hostile-marker`` (on any element the markup would create).
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

# One author name per kind of attack; each becomes a study label "<author> <year> (ref N)".
AUTHORS = {
    "script": "<script>window.hostileRan=1;alert(1)</script>Scriptson",
    "html": (
        '<img src="x" class="hostile-marker" onerror="window.hostileRan=2">Imgman '
        '<b class="hostile-marker">Boldt</b>'
    ),
    "markdown": "**Starr** _Underwood_ [Linkton](javascript:alert(1)) <https://example.org/>",
    "myst": "{glue:text}`pooled_estimate` {{ title }} {cite}`lao2025` Mystic",
    "math": r"Dollarhide $\badmacro{x}$ $x^2$",
    "long": "Longbottom" + "x" * 240,
    "nonlatin": "Łukasiewicz 张伟 محمد Ωμέγα Ñoño 🧪",
}
# Multi-line text (a MyST code cell, a directive, raw HTML) for the long text fields.
BLOCK = (
    "```{code-cell} ipython3\nimport os\nos.system('echo hostile')\n```\n"
    ":::{note}\nhostile directive\n:::\n"
    '<div class="hostile-marker">raw html</div>\n'
    "{glue:text}`pooled_estimate` **bold** [link](javascript:alert(1))"
)
# Free-text columns that get BLOCK (the table must have the column).
TEXT_COLUMNS = {
    "studies.csv": ("citation", "regimen", "quote", "note", "overlap_note"),
    "outcomes.csv": ("definition", "quote", "note", "report"),
}


@dataclass(frozen=True)
class HostileData:
    """The hostile data folder and what was written into it.

    Attributes
    ----------
    data_dir : Path
        The folder, a full copy of the fixture with text fields replaced.
    authors : dict of str to str
        Study id -> hostile first author written for it.
    plain_author : tuple of (str, str)
        Study id and first author of a study left unchanged (for the search test).
    """

    data_dir: Path
    authors: dict[str, str]
    plain_author: tuple[str, str]


def _rewrite(path: Path, change) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        change(row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def make(fixture: Path, target: Path) -> HostileData:
    """Copy ``fixture`` to ``target`` and fill its text fields with hostile strings.

    Parameters
    ----------
    fixture : Path
        A valid data folder (e.g. ``tests/fixtures/data_small``).
    target : Path
        Folder to create (must not exist).

    Returns
    -------
    HostileData
    """
    shutil.copytree(fixture, target)
    studies = target / "studies.csv"
    with open(studies, newline="", encoding="utf-8") as fh:
        ids = [row["study_id"] for row in csv.DictReader(fh)]
    # the first study stays plain; the next ones get one hostile author each
    if len(ids) < len(AUTHORS) + 1:
        raise ValueError(f"{fixture} has {len(ids)} studies, {len(AUTHORS) + 1} needed")
    authors = dict(zip(ids[1:], AUTHORS.values(), strict=False))
    plain: list[tuple[str, str]] = []

    def change_study(row: dict) -> None:
        if row["study_id"] in authors:
            row["first_author"] = authors[row["study_id"]]
        elif row["study_id"] == ids[0]:
            plain.append((row["study_id"], row["first_author"]))
        for column in TEXT_COLUMNS["studies.csv"]:
            row[column] = BLOCK

    _rewrite(studies, change_study)

    def change_outcome(row: dict) -> None:
        for column in TEXT_COLUMNS["outcomes.csv"]:
            # a note keeps what the plan's row rules read in it (the follow-up of a relapse
            # row) and gets the hostile text after it
            keep = row[column] + "\n" if column == "note" and row[column] else ""
            row[column] = keep + BLOCK

    _rewrite(target / "outcomes.csv", change_outcome)
    return HostileData(target, authors, plain[0])
