"""Run the benchmark of issue 14: metafor, pimeta and metaprop on the same inputs.

``python -m benchmarks.run`` (``make bench``) writes the inputs, runs each tool in its own
process (R through ``Rscript``; pimeta in ``benchmarks/.venv``, created here from
``benchmarks/requirements.txt``; metaprop in the interpreter running this module), then
prints the table and writes ``benchmarks/results/results.{csv,md,png}``. A tool that is
not installed has its rows skipped with a message saying why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import venv
from pathlib import Path

from benchmarks import report, rows
from benchmarks.inputs import read_inputs, write_inputs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TMP = RESULTS / "tmp"
BENCH_VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
TIME = Path("/usr/bin/time")
# every tool runs with one BLAS / OpenMP thread, so that CPU and wall time compare alike
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(cmd: list[str], what: str) -> bool:
    _say(f"[bench] {what}: {' '.join(str(c) for c in cmd)}")
    done = subprocess.run(cmd, cwd=ROOT, env=ENV)
    if done.returncode != 0:
        _say(f"[bench] {what} failed with exit code {done.returncode}; its rows are skipped")
    return done.returncode == 0


def _bench_python() -> Path | None:
    """The benchmark environment's interpreter, (re)built when requirements.txt changed."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    _say(f"[bench] creating {BENCH_VENV.relative_to(ROOT)} from {REQUIREMENTS.name}")
    venv.create(BENCH_VENV, with_pip=True, clear=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)]
    if subprocess.run(pip, cwd=ROOT).returncode != 0:
        _say("[bench] pip could not install the benchmark environment")
        return None
    stamp.write_text(digest)
    return python


def _has_metafor(rscript: str) -> bool:
    probe = (
        "quit(status = !all(sapply(c('metafor', 'jsonlite'), requireNamespace, quietly = TRUE)))"
    )
    return subprocess.run([rscript, "-e", probe], capture_output=True).returncode == 0


def run_metafor(inputs: Path, args) -> dict | None:
    """Run ``bench_metafor.R``; None (rows skipped) when R or metafor is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        _say("[bench] Rscript not found: metafor rows skipped (`make system-deps` installs R)")
        return None
    if not _has_metafor(rscript):
        _say("[bench] R lacks metafor or jsonlite: metafor rows skipped (`make system-deps`)")
        return None
    out = TMP / "metafor.json"
    cmd = [
        rscript,
        str(HERE / "bench_metafor.R"),
        str(inputs),
        str(out),
        str(args.repeats_r),
        str(rows.N_DATASETS if args.full else args.metafor_many),
        "1" if args.full else "0",
    ]
    return _load(out) if _run(cmd, "metafor") else None


def run_pimeta(inputs: Path, args) -> dict | None:
    """Run ``bench_pimeta`` in the benchmark environment; None when it cannot be built."""
    python = _bench_python()
    if python is None:
        _say("[bench] pimeta rows skipped: the benchmark environment could not be built")
        return None
    out = TMP / "pimeta.json"
    cmd = [str(python), "-m", "benchmarks.bench_pimeta", str(inputs), str(out), str(args.repeats)]
    return _load(out) if _run(cmd, "pimeta") else None


def run_metaprop(inputs: Path, args) -> dict | None:
    """Run ``bench_metaprop`` with this interpreter (the project's environment)."""
    out = TMP / "metaprop.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_metaprop",
        str(inputs),
        str(out),
        str(args.repeats),
    ]
    return _load(out) if _run(cmd, "metaprop") else None


def run_memory(inputs: Path) -> dict | None:
    """GOSH k = 20, 10^6 subsets in a fresh process: time and peak resident memory."""
    out = TMP / "memory.json"
    cmd = [sys.executable, "-m", "benchmarks.bench_metaprop", str(inputs), str(out), "--memory"]
    wrapped = [str(TIME), "-f", "%e %M", "-o", str(TMP / "memory.time"), *cmd]
    if not TIME.exists():
        _say(f"[bench] {TIME} not found: peak memory from getrusage only")
        wrapped = cmd
    if not _run(wrapped, "metaprop memory (GOSH k = 20, 10^6 subsets)"):
        return None
    result = _load(out)
    if TIME.exists():
        wall, max_kib = (TMP / "memory.time").read_text().split()[-2:]
        result["process_wall_seconds"] = float(wall)
        result["process_peak_bytes"] = int(max_kib) * 1024
    return result


def run_whole_process(inputs: Path, repeats: int, tools: dict) -> dict:
    """One REML fit as a whole process (start-up and imports included), timed by
    /usr/bin/time: median wall seconds and peak memory over ``repeats`` runs."""
    if not TIME.exists():
        _say(f"[bench] {TIME} not found: whole-process timings skipped")
        return {}
    base = read_inputs(inputs)["base"]
    yi, vi = base["yi"].tolist(), base["vi"].tolist()
    commands = {}
    if tools.get("metafor"):
        r_vec = "c({})"
        commands["metafor"] = [
            shutil.which("Rscript"),
            "-e",
            "suppressPackageStartupMessages(library(metafor)); "
            f"invisible(rma({r_vec.format(', '.join(map(repr, yi)))}, "
            f"{r_vec.format(', '.join(map(repr, vi)))}, method = 'REML'))",
        ]
    if tools.get("pimeta"):
        commands["pimeta"] = [
            str(BENCH_VENV / "bin" / "python"),
            "-c",
            f"import pimeta; pimeta.rma({yi}, {vi}, method='REML')",
        ]
    if tools.get("metaprop"):
        commands["metaprop"] = [
            sys.executable,
            "-c",
            f"import metaprop; metaprop.meta_analysis({yi}, {vi}, method='REML')",
        ]
    out = {}
    for tool, cmd in commands.items():
        walls, peaks = [], []
        for _ in range(repeats):
            timing = TMP / f"whole_{tool}.time"
            done = subprocess.run(
                [str(TIME), "-f", "%e %M", "-o", str(timing), *cmd],
                cwd=ROOT,
                env=ENV,
                capture_output=True,
            )
            if done.returncode != 0:
                break
            wall, max_kib = timing.read_text().split()[-2:]
            walls.append(float(wall))
            peaks.append(int(max_kib) * 1024)
        if walls:
            out[tool] = {
                "seconds": statistics.median(walls),
                "peak_bytes": max(peaks),
                "repeats": len(walls),
            }
            _say(f"[bench] whole process, {tool}: {out[tool]['seconds']:.2f} s")
    return out


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run every tool, print the table and write the result files."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed repeats per row for the Python tools (median reported)",
    )
    parser.add_argument(
        "--repeats-r",
        type=int,
        default=3,
        help="timed repeats per row for metafor (its rows take seconds)",
    )
    parser.add_argument(
        "--metafor-many",
        type=int,
        default=1000,
        help="datasets metafor fits in the 10,000-fit row (scaled to 10,000)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="metafor fits all 10,000 datasets and all 65,535 REML subsets "
        "(about 10 minutes) instead of extrapolating",
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time used in the table and ratios: CPU time of each process (default; robust "
        "on a busy machine) or elapsed time",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=(),
        choices=("metafor", "pimeta", "memory", "whole-process"),
        help="parts to leave out",
    )
    args = parser.parse_args(argv)
    load_start = report._load()
    TMP.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(TMP / "inputs.json")
    tools = {"metaprop": run_metaprop(inputs, args)}
    absent = {"metaprop": "its runner failed (see the messages above)"}
    for name, runner in (("pimeta", run_pimeta), ("metafor", run_metafor)):
        if name in args.skip:
            tools[name], absent[name] = None, "left out with --skip"
        else:
            tools[name] = runner(inputs, args)
            absent[name] = "not installed or its runner failed (see the messages above)"
    memory = None if "memory" in args.skip else run_memory(inputs)
    whole = {} if "whole-process" in args.skip else run_whole_process(inputs, 3, tools)
    table = report.build(tools, memory, whole, absent, args.clock, load_start)
    print(report.text(table))
    report.write(table, RESULTS)
    _say(f"[bench] wrote {', '.join(p.name for p in report.outputs(RESULTS))} in {RESULTS}")


if __name__ == "__main__":
    main()
