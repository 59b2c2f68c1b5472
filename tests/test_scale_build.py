"""Issue 24, item 2: a table ten times today's size builds in at most twice a cold build, or
is refused with a message that says the limit.

Measured (benchmarks/scale_build.py, recorded in ``guards.BUILD_LIMIT_SOURCE``): a cold build
of ten times today's data takes far more than twice a cold build of today's, so the build
refuses it at validation, before any page runs, with the limit
(``review.data.guards.MAX_BUILD_ROWS``) in the message. This test builds, in one session and one
after the other: the 10x copy (refused), a cold build of today's data and a cold build of
the largest multiple of today's data within the limit, which must take at most twice as
long. Timings are wall-clock seconds of ``python -m review build``, each into a new build
folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _site import run_build
from review.data import guards
from review.data.plan import PLAN_FILE, plan_path_for

ROOT = Path(__file__).resolve().parents[1]


def _review(base: Path, factor: int) -> Path:
    """``base/data``: today's tables ``factor`` times with today's releases, and the plan
    scaled alike beside it (see benchmarks/scale_build.py)."""
    import shutil

    from _scale import scaled_copy, scaled_plan

    data = scaled_copy(ROOT / "data", base / "data", factor)
    shutil.copytree(ROOT / "data" / "releases", data / "releases")
    scaled_plan(ROOT / PLAN_FILE, base / PLAN_FILE, factor)
    assert plan_path_for(data) == base / PLAN_FILE
    return data


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:  # closed here, not by the garbage collector
        return sum(1 for _ in fh) - 1


def _timed(data: Path, out: Path):
    start = time.perf_counter()
    proc = run_build(data, out)
    return proc, time.perf_counter() - start


@pytest.mark.slow
def test_ten_times_is_refused_and_the_limit_builds_within_twice_a_cold_build(tmp_path):
    factor = min(
        limit // _rows(ROOT / "data" / f"{name}.csv")
        for name, limit in guards.MAX_BUILD_ROWS.items()
    )
    assert 2 <= factor < 10

    big = _review(tmp_path / "x10", 10)
    proc, refused_s = _timed(big, tmp_path / "x10" / "_build")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    for name, limit in guards.MAX_BUILD_ROWS.items():
        assert f"the limit is {limit:,} rows of {name}.csv" in output
    assert "Executing" not in proc.stdout and "  run " not in proc.stdout  # no page ran
    assert not (tmp_path / "x10" / "_build" / "html").exists()

    one = _review(tmp_path / "x1", 1)
    proc, cold_s = _timed(one, tmp_path / "x1" / "_build")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert refused_s < cold_s

    most = _review(tmp_path / f"x{factor}", factor)
    proc, most_s = _timed(most, tmp_path / f"x{factor}" / "_build")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    print(
        f"refused 10x in {refused_s:.1f} s; cold build {cold_s:.1f} s; "
        f"{factor}x build {most_s:.1f} s (ratio {most_s / cold_s:.2f})"
    )
    assert most_s <= 2 * cold_s
