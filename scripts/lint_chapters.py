"""Lint the code cells of the chapters (MyST notebooks, chapters/*.md) with ruff.

Each chapter is read with jupytext into a notebook and handed to ``ruff check`` as one
(``--stdin-filename chapters/NAME.ipynb``), so that ruff's notebook rules apply (imports at
the top of a cell, a trailing ``;`` that hides a plot's output) with the project's
configuration (pyproject.toml). Findings are reported at their line in the chapter file:

    chapters/outcome.md:52:20: F401 `metaprop` imported but unused

Usage: ``python scripts/lint_chapters.py [CHAPTER.md ...]`` (default: chapters/*.md).
Exit status 0 when every cell is clean, 1 when ruff reports anything, 2 when ruff fails.
``make lint`` and the pre-commit hook run it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
FENCE = "```{code-cell}"


def _ruff() -> str:
    """The ruff of this interpreter's environment, else the one on PATH."""
    here = Path(sys.executable).with_name("ruff")
    return str(here) if here.is_file() else (shutil.which("ruff") or "ruff")


def _cell_lines(path: Path, notebook) -> dict[int, int]:
    """Line (1-based) in ``path`` of the first source line of each code cell, keyed by the
    cell's 1-based position among all cells (ruff's ``cell`` number)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith(FENCE)]
    code = [n for n, cell in enumerate(notebook.cells, 1) if cell.cell_type == "code"]
    if len(fences) != len(code):
        raise SystemExit(
            f"{path}: {len(fences)} code-cell fences but jupytext read {len(code)} code cells"
        )
    where = {}
    for fence, number in zip(fences, code, strict=True):
        first = next(iter(notebook.cells[number - 1].source.splitlines()), "")
        start = fence + 1
        for i in range(fence + 1, len(lines)):
            if lines[i].startswith("```"):
                break
            if first and lines[i] == first:
                start = i
                break
        where[number] = start + 1
    return where


def lint(path: Path, ruff: str | None = None) -> tuple[list[str], int]:
    """Ruff's findings in the code cells of one chapter, as ``file:line:col: CODE message``
    lines, and ruff's exit status."""
    notebook = jupytext.read(path)
    shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    run = subprocess.run(
        [
            ruff or _ruff(),
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--output-format",
            "json",
            "--stdin-filename",
            str(Path(shown).with_suffix(".ipynb")),
            "-",
        ],
        input=nbformat.writes(notebook),
        capture_output=True,
        text=True,
    )
    if run.returncode not in (0, 1):
        return [f"{shown}: ruff failed: {run.stderr.strip()}"], 2
    where = _cell_lines(path, notebook)
    found = []
    for item in json.loads(run.stdout or "[]"):
        line = where.get(item.get("cell"), 1) + item["location"]["row"] - 1
        column = item["location"]["column"]
        found.append(f"{shown}:{line}:{column}: {item['code']} {item['message']}")
    return found, run.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="MyST notebooks to lint")
    args = parser.parse_args(argv)
    paths = args.chapters or sorted((ROOT / "chapters").glob("*.md"))
    status = 0
    count = 0
    for path in paths:
        found, code = lint(path)
        for line in found:
            print(line)
        count += len(found)
        status = max(status, code)
    if status == 0:
        print(f"chapter code cells: {len(paths)} files clean")
    else:
        print(f"chapter code cells: {count} findings in {len(paths)} files", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
