"""metaprop's side of the benchmark.

``python -m benchmarks.bench_metaprop INPUTS.json OUTPUT.json REPEATS`` times the rows of
``benchmarks.rows`` and the GOSH scaling rows; with ``--memory`` it instead runs GOSH at
k = 20 with 10^6 random subsets once (for a peak-memory measurement of the whole process).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import metaprop as mp

from benchmarks import rows
from benchmarks._timing import Recorder
from benchmarks.inputs import read_inputs


def _rows(data: dict, repeats: int, rec: Recorder) -> None:
    base = data["base"]
    yi, vi = base["yi"], base["vi"]

    def fit(method: str):
        return mp.meta_analysis(yi, vi, method=method, transform="logit")

    res_reml, res_fe, res_dl = fit("REML"), fit("FE"), fit("DL")
    many_yi, many_vi = data["many"]["yi"], data["many"]["vi"]
    rec.run("single_reml", lambda: fit("REML"), repeats)
    rec.run("loo_reml", lambda: mp.leave_one_out(res_reml), repeats)
    rec.run("many_reml", lambda: mp.fit_batch(yi=many_yi, vi=many_vi, method="REML"), repeats)
    rec.run("gosh_fe", lambda: mp.gosh(res_fe, progress=False), repeats)
    rec.run("gosh_dl", lambda: mp.gosh(res_dl, progress=False), repeats)
    rec.run(
        "gosh_reml_3000", lambda: mp.gosh(res_reml, subsets=3000, seed=1, progress=False), repeats
    )
    rec.run("gosh_reml_all", lambda: mp.gosh(res_reml, progress=False), repeats)
    if hasattr(mp, "meta_prop_glmm"):
        events, totals = base["events"], base["totals"]
        rec.run("glmm", lambda: mp.meta_prop_glmm(events, totals), repeats)
    else:
        rec.skip("glmm", "metaprop.meta_prop_glmm is not available")
    if hasattr(mp, "meta_prop_bayes"):
        events, totals = base["events"], base["totals"]
        rec.run("bayes", lambda: mp.meta_prop_bayes(events, totals), repeats)
    else:
        rec.skip("bayes", "metaprop.meta_prop_bayes is not available")
    for k in rows.SCALING_KS:
        d = data["scaling"][k]
        res = mp.meta_analysis(d["yi"], d["vi"], method="REML", transform="logit")
        n_fits = min(2**k - 1, rows.SCALING_SUBSETS)
        rec.run(
            f"gosh_scaling_k{k}",
            lambda res=res: mp.gosh(res, subsets=rows.SCALING_SUBSETS, seed=1, progress=False),
            repeats,
            warmup=0,
            n_fits=n_fits,
            k=k,
        )


def _memory(data: dict, output: Path) -> None:
    d = data["memory"]
    res = mp.meta_analysis(d["yi"], d["vi"], method="REML", transform="logit")
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    g = mp.gosh(res, subsets=rows.MEMORY_SUBSETS, seed=1, progress=False)
    record = {
        "wall": time.perf_counter() - start_wall,
        "cpu": time.process_time() - start_cpu,
        "n_fits": len(g.frame),
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB
    }
    output.write_text(json.dumps(record))


def main() -> None:
    """Run the metaprop rows (or the memory row) and write the JSON record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("inputs", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("repeats", type=int, nargs="?", default=5)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    data = read_inputs(args.inputs)
    if args.memory:
        _memory(data, args.output)
        return
    rec = Recorder("metaprop", f"metaprop {mp.__version__}")
    _rows(data, args.repeats, rec)
    rec.write(args.output)


if __name__ == "__main__":
    main()
