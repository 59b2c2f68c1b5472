"""Loader for ``tests/fixtures/metafor_glmm_profile_cumulative.json``
(``scripts/metafor_glmm_profile_cumulative.R``):
metafor's GLMM heterogeneity tests, GLMM meta-regressions, profile-likelihood intervals
for tau^2 and cumulative analyses with tied order values pooled."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_glmm_profile_cumulative.json"


@functools.cache
def load() -> dict:
    """The parsed reference file (read once)."""
    return json.loads(FIXTURE.read_text())


def params(section: str) -> list:
    """``(dataset, entry)`` pairs of one section as ``pytest.param`` with readable ids."""
    out = []
    for ds in load()["datasets"]:
        entries = ds.get(section)
        if entries is None:
            continue
        if isinstance(entries, dict):
            out.append(pytest.param(ds, entries, id=ds["name"]))
            continue
        for e in entries:
            parts = [ds["name"]] + [
                str(e[key]) for key in ("name", "measure", "method", "test", "level") if key in e
            ]
            out.append(pytest.param(ds, e, id="-".join(parts)))
    return out
