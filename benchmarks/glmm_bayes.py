"""GLMM and Bayesian fits per second, against metafor's ``rma.glmm``, in one run (issue 21).

``python -m benchmarks.glmm_bayes [--repeats N]`` times, on the benchmark's base dataset
(k = 16, ``benchmarks.inputs``) and on a few-study dataset (its first 4 studies):
``metaprop.meta_prop_glmm``, ``metaprop.meta_prop_bayes`` (default resolution and the
coverage study's) and, in one ``Rscript`` call, ``metafor::rma.glmm(measure = "PLO",
method = "ML")``. It prints fits per second and the ratios, and writes
``benchmarks/results/glmm_bayes.json``. CPU time per fit, one BLAS thread, as
``benchmarks.run``; the same rows join ``make bench`` (``glmm``, ``bayes``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._timing import measure
from benchmarks.inputs import make_inputs

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "glmm_bayes.json"

R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- fromJSON(args[1]); repeats <- as.integer(args[3])
cpu_now <- function() { t <- proc.time(); t[["user.self"]] + t[["sys.self"]] }
measure <- function(fn) {
  start <- proc.time()[["elapsed"]]; fn(); once <- proc.time()[["elapsed"]] - start
  inner <- as.integer(min(5000, max(1, floor(0.2 / max(once, 1e-9)))))
  cpu <- numeric(repeats); wall <- numeric(repeats)
  for (r in seq_len(repeats)) {
    s1 <- proc.time()[["elapsed"]]; s2 <- cpu_now()
    for (i in seq_len(inner)) fn()
    cpu[r] <- (cpu_now() - s2) / inner; wall[r] <- (proc.time()[["elapsed"]] - s1) / inner
  }
  list(cpu = median(cpu), wall = median(wall), inner = inner)
}
out <- list()
for (name in names(d)) {
  x <- d[[name]]$events; n <- d[[name]]$totals
  out[[name]] <- measure(function() rma.glmm(measure = "PLO", xi = x, ni = n, method = "ML"))
}
out$version <- sprintf("metafor %s (R %s)", packageVersion("metafor"), getRversion())
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[2])
"""


def main(argv=None) -> None:
    """Time the rows, print fits per second and ratios, write the JSON record."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.glmm_bayes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    import metaprop as mp
    from metaprop.coverage import BAYES_RESOLUTION

    base = make_inputs()["base"]
    data = {
        "k16": {"events": list(base["events"]), "totals": list(base["totals"])},
        "k4": {"events": list(base["events"][:4]), "totals": list(base["totals"][:4])},
    }
    record = {"python": {}, "metafor": None, "load_average": os.getloadavg()[0]}
    for name, d in data.items():
        e, n = d["events"], d["totals"]
        record["python"][name] = {
            "glmm": measure(lambda e=e, n=n: mp.meta_prop_glmm(e, n), args.repeats),
            "bayes": measure(lambda e=e, n=n: mp.meta_prop_bayes(e, n), args.repeats),
            "bayes_coverage_grid": measure(
                lambda e=e, n=n: mp.meta_prop_bayes(e, n, **BAYES_RESOLUTION), args.repeats
            ),
        }
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: metafor side skipped", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            script, inp, out = Path(tmp, "b.R"), Path(tmp, "in.json"), Path(tmp, "out.json")
            script.write_text(R_CODE)
            inp.write_text(json.dumps(data))
            done = subprocess.run(
                [rscript, str(script), str(inp), str(out), str(args.repeats)],
                env={**os.environ},
                capture_output=True,
                text=True,
            )
            if done.returncode == 0:
                record["metafor"] = json.loads(out.read_text())
            else:
                print(f"metafor side failed:\n{done.stderr}", file=sys.stderr)
    lines = []
    for name in data:
        r_cpu = record["metafor"][name]["cpu"] if record["metafor"] else None
        for row, rec in record["python"][name].items():
            ratio = f"{r_cpu / rec['cpu']:.2f}x rma.glmm" if r_cpu else "no metafor"
            lines.append(
                f"{name:4} {row:20} {1 / rec['cpu']:9.1f} fits/s (cpu {rec['cpu'] * 1e3:.2f} ms)"
                f"  {ratio}"
            )
        if r_cpu:
            lines.append(f"{name:4} {'metafor rma.glmm':20} {1 / r_cpu:9.1f} fits/s")
    print("\n".join(lines))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
