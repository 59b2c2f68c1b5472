"""pimeta's side of the benchmark, run by ``benchmarks/.venv/bin/python``.

``python -m benchmarks.bench_pimeta INPUTS.json OUTPUT.json REPEATS`` times pimeta
(a pure-Python port of metafor) on the same inputs as the other tools. It never imports
metaprop, and metaprop never imports pimeta.
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
from pathlib import Path

import pimeta

from benchmarks._timing import Recorder
from benchmarks.inputs import read_inputs


def main() -> None:
    """Run every row that pimeta has and write the JSON record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("inputs", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("repeats", type=int)
    args = parser.parse_args()
    data = read_inputs(args.inputs)
    rec = Recorder("pimeta", f"pimeta {version('pimeta')}")
    yi, vi = data["base"]["yi"], data["base"]["vi"]
    events, totals = data["base"]["events"], data["base"]["totals"]
    many_yi, many_vi = data["many"]["yi"], data["many"]["vi"]

    def many() -> None:
        for y, v in zip(many_yi, many_vi, strict=True):
            pimeta.rma(y, v, method="REML")

    rec.run("single_reml", lambda: pimeta.rma(yi, vi, method="REML"), args.repeats)
    rec.run("loo_reml", lambda: pimeta.leave1out(yi, vi, method="REML"), args.repeats)
    rec.run("many_reml", many, args.repeats, warmup=0)
    rec.run("gosh_fe", lambda: pimeta.gosh(yi, vi, method="FE"), args.repeats)
    rec.run("gosh_dl", lambda: pimeta.gosh(yi, vi, method="DL"), args.repeats)
    rec.run(
        "gosh_reml_3000",
        lambda: pimeta.gosh(yi, vi, method="REML", subsets=3000, seed=1),
        args.repeats,
    )
    rec.run("gosh_reml_all", lambda: pimeta.gosh(yi, vi, method="REML"), 1, warmup=0)
    rec.run(
        "glmm",
        lambda: pimeta.rma_glmm("PLO", xi=events, ni=totals, method="ML"),
        args.repeats,
    )
    rec.write(args.output)


if __name__ == "__main__":
    main()
