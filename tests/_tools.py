"""Helpers for tests that need an external tool (R's ``Rscript``, Chromium).

Locally a missing tool skips the test with a message; in continuous integration
(environment variable ``CI=true``) it fails the test, so that a broken installation
cannot pass silently.
"""

from __future__ import annotations

import os
import shutil

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
