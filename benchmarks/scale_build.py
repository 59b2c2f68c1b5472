"""Cold build of a data folder ten times today's size against a cold build of today's data.

Issue 24, item 2: "a table ten times today's size validates and builds in at most twice a
cold build, or is refused with a message that says the limit". Both builds run in this one
process's session, one after the other, each with ``python -m review build`` into a fresh
build folder (no cache), on copies made by ``tests/_scale.py``:

* ``1x``: today's tables (``scaled_copy(..., 1)``) with today's releases, the repository's
  plan beside them;
* ``10x``: every table that grows with studies repeated ten times (``scaled_copy(..., 10)``),
  the same releases, and the plan whose row-rule exceptions are repeated for each copy
  (``scaled_plan``) beside it, which validation takes as the plan of the review that holds
  the data (:func:`review.data.plan.plan_path_for`).

``python benchmarks/scale_build.py [--factor 10] [--jobs N] [--json FILE]`` prints one JSON
object: the seconds of each build, their ratio, the rows of ``outcomes.csv`` in each, and
the exit status of each build (with the last lines of its output when it failed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scaled_review(base: Path, factor: int) -> Path:
    """``base/data`` (today's tables ``factor`` times, today's releases) and
    ``base/analysis_plan.yaml`` (the plan scaled alike); returns the data folder."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _scale import scaled_copy, scaled_plan

    data = scaled_copy(ROOT / "data", base / "data", factor)
    releases = ROOT / "data" / "releases"
    if releases.is_dir():
        shutil.copytree(releases, data / "releases")
    scaled_plan(ROOT / "analysis_plan.yaml", base / "analysis_plan.yaml", factor)
    return data


def timed_build(data: Path, out: Path, jobs: int | None) -> dict:
    """One cold ``python -m review build``: seconds, exit status, outcome rows."""
    cmd = [sys.executable, "-m", "review", "build", "--data", str(data), "--out", str(out)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    with (data / "outcomes.csv").open(encoding="utf-8") as fh:
        rows = sum(1 for _ in fh) - 1
    result = {"seconds": round(seconds, 1), "returncode": proc.returncode, "outcome_rows": rows}
    if proc.returncode:
        result["tail"] = (proc.stdout + proc.stderr).splitlines()[-15:]
    return result


def measure(factor: int = 10, jobs: int | None = None, keep: Path | None = None) -> dict:
    """Cold build of today's data, then of ``factor`` times today's data (same session)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        small = scaled_review(base / "x1", 1)
        big = scaled_review(base / f"x{factor}", factor)
        one = timed_build(small, base / "x1" / "_build", jobs)
        many = timed_build(big, base / f"x{factor}" / "_build", jobs)
    return {
        "factor": factor,
        "cold_1x": one,
        f"cold_{factor}x": many,
        "ratio": round(many["seconds"] / one["seconds"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="build here and keep the folders")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    result = measure(args.factor, args.jobs, args.keep)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
