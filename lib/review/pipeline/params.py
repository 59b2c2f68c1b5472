"""Parameter sets of the book: which pages the build executes, with what, and where they go.

Every executed page is declared in one file, ``chapters/_params.yml``. A chapter either runs
once (no ``sets``) or once per parameter set. What a page's results depend on is not
declared: the build records what each page reads while it runs (:mod:`review.data.reads`).

The table of contents at the repository root (``_toc.yml``) names chapters, not pages: an
entry ``file: chapters/outcome`` inside the part captioned ``Efficacy`` stands for every
parameter set of ``outcome`` whose ``part`` is ``Efficacy``. :func:`expand_toc` turns it into
the table of contents that Jupyter Book reads, and fails when a declared page would be left
out, so ``only_build_toc_files`` can never drop a page silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("chapters") / "_params.yml"
TOC_FILE = Path("_toc.yml")

# Each executed page is the notebook `index.ipynb` in its own folder, with the files it wrote.
NOTEBOOK = "index.ipynb"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ParamsError(ValueError):
    """The parameter file or the table of contents is inconsistent."""


@dataclass(frozen=True)
class Page:
    """One executed page: a chapter run with one parameter set.

    Attributes
    ----------
    chapter : str
        Name of the chapter source, ``chapters/<chapter>.md``.
    set_id : str or None
        Identifier of the parameter set, None for a chapter that runs once.
    title : str or None
        Page title (fills ``{{ title }}`` in the chapter heading), None to keep the source's.
    part : str or None
        Caption of the table-of-contents part the page belongs to.
    parameters : dict
        Values papermill injects after the chapter's ``parameters`` cell.
    """

    chapter: str
    set_id: str | None
    title: str | None
    part: str | None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> Path:
        """Chapter source, relative to the repository root."""
        return Path("chapters") / f"{self.chapter}.md"

    @property
    def docname(self) -> str:
        """Sphinx document name of the executed page (its own folder, for its files)."""
        stem = Path(NOTEBOOK).stem
        if self.set_id is None:
            return f"chapters/{self.chapter}/{stem}"
        return f"chapters/{self.chapter}/{self.set_id}/{stem}"

    @property
    def name(self) -> str:
        """Short name for progress and error messages, e.g. ``outcome[cr]``."""
        return self.chapter if self.set_id is None else f"{self.chapter}[{self.set_id}]"

    @property
    def label_suffix(self) -> str:
        """Appended to the chapter's ``(ch-<slug>)=`` label so that each page's is unique."""
        return "" if self.set_id is None else f"-{self.set_id}"


def load_pages(root: Path) -> list[Page]:
    """Read ``chapters/_params.yml`` and return every page the build executes, in order.

    Parameters
    ----------
    root : Path
        Repository root (holds ``chapters/``).

    Returns
    -------
    list of Page
    """
    path = root / PARAMS_FILE
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    chapters = spec.get("chapters")
    if not isinstance(chapters, dict) or not chapters:
        raise ParamsError(f"{path}: needs a non-empty mapping `chapters:`")
    pages = []
    for chapter, entry in chapters.items():
        entry = entry or {}
        where = f"{path}: chapter {chapter!r}"
        if not (root / "chapters" / f"{chapter}.md").is_file():
            raise ParamsError(f"{where}: no file chapters/{chapter}.md")
        unknown = set(entry) - {"parameters", "sets", "title"}
        if unknown:
            raise ParamsError(f"{where}: unknown keys {sorted(unknown)}")
        defaults = dict(entry.get("parameters", {}))
        sets = entry.get("sets")
        if sets is None:
            pages.append(Page(chapter, None, entry.get("title"), None, defaults))
            continue
        seen = set()
        for item in sets:
            set_id = str(item.get("id", ""))
            if not _ID.match(set_id) or set_id in seen:
                raise ParamsError(f"{where}: set id {set_id!r} missing, repeated or not a slug")
            seen.add(set_id)
            if "part" not in item:
                raise ParamsError(f"{where}: set {set_id!r} has no `part`")
            parameters = {**defaults, **item.get("parameters", {})}
            pages.append(Page(chapter, set_id, item.get("title"), item["part"], parameters))
    return pages


def expand_toc(root: Path, pages: list[Page]) -> dict[str, Any]:
    """Return the table of contents Jupyter Book reads, with one entry per executed page.

    Parameters
    ----------
    root : Path
        Repository root (holds ``_toc.yml``).
    pages : list of Page
        Every executed page, from :func:`load_pages`.

    Returns
    -------
    dict
        The expanded ``_toc.yml`` content (``jb-book`` format).

    Raises
    ------
    ParamsError
        When a page is placed nowhere, twice, or the toc names a chapter with no pages.
    """
    toc = yaml.safe_load((root / TOC_FILE).read_text(encoding="utf-8"))
    by_chapter: dict[str, list[Page]] = {}
    for page in pages:
        by_chapter.setdefault(page.chapter, []).append(page)
    placed: list[Page] = []

    def entries_for(file: str, caption: str | None) -> list[dict[str, str]]:
        chapter = Path(file).name
        candidates = by_chapter.get(chapter)
        if candidates is None:
            raise ParamsError(f"_toc.yml names {file!r}, not declared in {PARAMS_FILE}")
        chosen = [p for p in candidates if p.set_id is None or p.part == caption]
        if not chosen:
            raise ParamsError(f"_toc.yml: part {caption!r} lists {file!r}: no set has that part")
        placed.extend(chosen)
        return [{"file": p.docname} for p in chosen]

    if "root" not in toc:
        raise ParamsError("_toc.yml has no `root`")
    root_entries = entries_for(toc["root"], None)
    if len(root_entries) != 1:
        raise ParamsError("_toc.yml: the root must be a chapter that runs once")
    out: dict[str, Any] = {"format": toc.get("format", "jb-book"), "root": root_entries[0]["file"]}
    parts = []
    for part in toc.get("parts", []):
        caption = part.get("caption")
        chapters = []
        if not part.get("chapters"):
            raise ParamsError(f"_toc.yml: part {caption!r} lists no chapter")
        for entry in part["chapters"]:
            if set(entry) != {"file"}:
                raise ParamsError(f"_toc.yml: part {caption!r}: entries take `file` only")
            chapters.extend(entries_for(entry["file"], caption))
        parts.append({"caption": caption, "chapters": chapters})
    if parts:
        out["parts"] = parts
    names = [p.docname for p in placed]
    missing = [p.name for p in pages if p.docname not in names]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if missing or doubled:
        raise ParamsError(
            f"_toc.yml against {PARAMS_FILE}: pages placed nowhere {missing}, twice {doubled}"
        )
    return out
