"""Helpers for tests that need an external tool (R's ``Rscript``, Chromium).

Locally a missing tool skips the test with a message; in continuous integration
(environment variable ``CI=true``) it fails the test, so that a broken installation
cannot pass silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def in_ci() -> bool:
    """Whether the tests run in continuous integration (``CI`` is ``true`` or ``1``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def tool_missing(reason: str) -> None:
    """Skip the current test with `reason` locally; fail it in CI.

    Parameters
    ----------
    reason : str
        What is missing and how to install it.
    """
    if in_ci():
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """Return the full path of executable `name`, or skip (locally) / fail (CI) without it.

    Parameters
    ----------
    name : str
        Executable looked up on ``PATH`` (e.g. ``"Rscript"``, ``"chromium"``).

    Returns
    -------
    str
        Absolute path of the executable.
    """
    path = shutil.which(name)
    if path is None:
        tool_missing(f"{name} not found on PATH; `make system-deps` installs it")
    return path


def run_r(script, *args, timeout: float = 300) -> None:
    """Run an R script with ``Rscript``; skip (locally) / fail (CI) without R or a package.

    Parameters
    ----------
    script : path-like
        The R script.
    *args : path-like or str
        Its command-line arguments (typically an input and an output file).
    timeout : float
        Seconds before the run is abandoned.

    Raises
    ------
    pytest.fail.Exception
        When the script fails for another reason (its standard error is shown).
    """
    rscript = require_tool("Rscript")
    run = subprocess.run(
        [rscript, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if run.returncode != 0:
        if "there is no package called" in run.stderr:
            tool_missing(f"R lacks a package the cross-check needs: {run.stderr.strip()}")
        pytest.fail(f"Rscript failed ({run.returncode}):\n{run.stderr}")


def assert_fixture_remade(script, fixture, tmp_path) -> None:
    """Rerun the R ``script`` that made the pinned JSON ``fixture`` (``Rscript script OUT``,
    through :func:`run_r`) and assert it makes the same record, its ``source.date`` aside."""
    out = Path(tmp_path) / Path(fixture).name
    run_r(script, out)
    fresh, pinned = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (out, fixture))
    for record in (fresh, pinned):
        record["source"].pop("date")
    assert fresh == pinned


def missing_plot_fonts() -> list[str]:
    """Font families of the plot style (``review.book.FONTS``) whose Debian files are absent.

    Without them matplotlib draws non-Latin study labels as boxes and warns ("Glyph ...
    missing from font(s) DejaVu Sans"); `make system-deps` installs them.
    """
    from review.book import FONTS

    return [
        name
        for name, files in FONTS.items()
        if files and not any(os.path.isfile(path) for path in files)
    ]


def glyph_warnings(lines: list[str]) -> list[str]:
    """The lines of ``lines`` that are matplotlib's missing-glyph warnings."""
    return [line for line in lines if "Glyph" in line and "missing from" in line]


def skip_for_missing_fonts(lines: list[str]) -> None:
    """Skip (locally) / fail (CI) when ``lines`` hold missing-glyph warnings and the plot
    fonts are not installed: the page is then right, the machine lacks the fonts."""
    missing = missing_plot_fonts()
    if missing and glyph_warnings(lines):
        tool_missing(
            f"plot fonts {missing} not installed, so plots warn of missing glyphs; "
            "`make system-deps` installs them (fonts-noto-cjk, fonts-unifont)"
        )


def schema_errors(path, schema: str) -> str:
    """check-jsonschema's report on ``path`` against its built-in ``schema`` (e.g.
    ``vendor.citation-file-format``); empty when the file is valid."""
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
    )
    return "" if run.returncode == 0 else run.stdout + run.stderr
