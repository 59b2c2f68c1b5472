"""Loader for the vendored metafor reference (``tests/fixtures/metafor_proportions.json``).

Every test module that checks a field of the reference takes its cases from here, so
that ids are the same everywhere (``pritz1997-PLO-REML-z``) and no case is dropped by
accident::

    from reference import params

    @pytest.mark.parametrize(("dataset", "case"), params("leave1out"))
    def test_leave1out(dataset, case): ...
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_proportions.json"


@functools.cache
def load() -> dict:
    """The parsed reference file (read once)."""
    return json.loads(FIXTURE.read_text())


def datasets() -> list[dict]:
    """The datasets, each with name, events, totals, groups, year, cases and glmm."""
    return load()["datasets"]


def case_id(dataset: dict, case: dict) -> str:
    """``dataset-MEASURE-METHOD-test``, e.g. ``pritz1997-PLO-REML-z``."""
    return f"{dataset['name']}-{case['measure']}-{case['method']}-{case['test']}"


def cases(field: str | None = None) -> list[tuple[dict, dict]]:
    """``(dataset, case)`` pairs, all of them or those that hold ``field``."""
    return [
        (ds, case) for ds in datasets() for case in ds["cases"] if field is None or field in case
    ]


def params(field: str | None = None) -> list:
    """:func:`cases` as ``pytest.param`` objects with the standard ids."""
    return [pytest.param(ds, case, id=case_id(ds, case)) for ds, case in cases(field)]


def n_cases() -> int:
    """Number of cases in the file, counted from the raw JSON text structure."""
    return sum(len(ds["cases"]) for ds in json.loads(FIXTURE.read_text())["datasets"])
