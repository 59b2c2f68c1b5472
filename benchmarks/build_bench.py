"""Time the living-review build: cold, with nothing changed, after one outcome's rows change.

Targets (issues 6 and 23): cold build at most 90 s; a rebuild with no change at most 2 s and
under 1/15 of the cold build; a change to one outcome's rows re-executes only the pages that
read it and takes at most a quarter of the cold build. Each run records the machine's load
average before and after it (``os.getloadavg``): on a shared machine the times mean little
without it.

Run from the repository root::

    .venv/bin/python benchmarks/build_bench.py [--data data] [--root .] [--outcome CR]
                                               [--runs N] [--json FILE] [--append FILE]

With ``--runs N`` the three builds are repeated N times and the medians are reported (each
ratio is the median of the per-run ratios, each run's cold and incremental builds measured
back to back).

The data folder is copied to a temporary folder first (the benchmark edits the copy), and
the build goes to a fresh temporary build folder, so the numbers are those of a cold cache.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"cold_s": 90.0, "nochange_s": 2.0, "nochange_ratio": 1 / 15, "one_outcome_ratio": 0.25}


def build(data: Path, out: Path, root: Path) -> tuple[float, str]:
    """Run ``python -m review build`` once; return (seconds, stdout)."""
    start = time.perf_counter()
    cmd = ["build", "--data", str(data), "--out", str(out), "--root", str(root)]
    proc = subprocess.run(
        [sys.executable, "-m", "review", *cmd],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout


def phases(log: str) -> dict[str, float]:
    """Seconds of the build's phases, as its log reports them (validated, executed, rendered)."""
    found = re.findall(r"^\s+(validated|executed|rendered) in ([0-9.]+) s", log, flags=re.M)
    return {name: float(seconds) for name, seconds in found}


def change_one_row(data: Path, outcome: str) -> str:
    """Lower by one the events of the first primary row of ``outcome`` that has any."""
    path = data / "outcomes.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    for row in rows:
        if (
            row["outcome"] == outcome
            and row["primary"] == "true"
            and row["events"] not in ("", "0")
        ):
            row["events"] = str(int(row["events"]) - 1)
            with open(path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            return row["study_id"]
    raise SystemExit(f"no primary row of {outcome} with events to change")


def one_run(args: argparse.Namespace) -> dict:
    """Cold build, rebuild with nothing changed, rebuild after one row changed: the figures."""
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="build-bench-") as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "_build"
        shutil.copytree(args.data, data, ignore=shutil.ignore_patterns("releases"))
        cold, cold_log = build(data, out, args.root)
        nochange, _ = build(data, out, args.root)
        study = change_one_row(data, args.outcome)
        one, log = build(data, out, args.root)
    return {
        "cold_s": round(cold, 1),
        "nochange_s": round(nochange, 2),
        "one_outcome_s": round(one, 1),
        "nochange_ratio": round(nochange / cold, 3),
        "one_outcome_ratio": round(one / cold, 3),
        "changed": f"{args.outcome} events of {study}",
        "reexecuted": re.findall(r"^\s+run\s+(\S+)", log, flags=re.M),
        "phases_cold": phases(cold_log),
        "phases_one_outcome": phases(log),
        "load_before": load_before,
        "load_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(args.root),
    }


def commit(root: Path) -> str | None:
    """The commit the book sources are at, with ``+changes`` when the tree differs from it."""
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return None
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD"], capture_output=True).returncode
    return head.stdout.strip() + ("+changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--root", type=Path, default=ROOT, help="book sources")
    parser.add_argument("--outcome", default="CR", help="outcome whose rows are changed")
    parser.add_argument("--runs", type=int, default=1, help="repeat the three builds (medians)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--append", type=Path, help="also add each run as a line to this JSON-lines file"
    )
    args = parser.parse_args(argv)

    runs = []
    for number in range(1, args.runs + 1):
        runs.append(one_run(args))
        if args.append:
            with open(args.append, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(runs[-1]) + "\n")
        print(
            f"run {number}/{args.runs}: cold {runs[-1]['cold_s']} s, no change "
            f"{runs[-1]['nochange_s']} s, one outcome {runs[-1]['one_outcome_s']} s "
            f"(load {runs[-1]['load_before']} -> {runs[-1]['load_after']})",
            flush=True,
        )
    figures = {
        key: statistics.median(run[key] for run in runs)
        for key in ("cold_s", "nochange_s", "one_outcome_s", "nochange_ratio", "one_outcome_ratio")
    }
    figures.update({k: runs[-1][k] for k in ("changed", "reexecuted")})
    checks = {
        "cold <= 90 s": figures["cold_s"] <= TARGETS["cold_s"],
        "no change <= 2 s and < 1/15 of cold": figures["nochange_s"] <= TARGETS["nochange_s"]
        and figures["nochange_ratio"] < TARGETS["nochange_ratio"],
        "one outcome <= 1/4 of cold": figures["one_outcome_ratio"] <= TARGETS["one_outcome_ratio"],
    }
    print(f"medians of {len(runs)} run(s):")
    for key, value in figures.items():
        print(f"{key:>18}: {value}")
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        record = {"medians": figures, "checks": checks, "runs": runs}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
