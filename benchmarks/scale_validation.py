"""Time ``review.data.validate.run`` and ``review.data.load`` on today's data and on a copy ten
times its size (issue 24: a table ten times today's size validates within twice a cold
build, or is refused with a message that says the limit).

``python benchmarks/scale_validation.py [FACTOR]`` prints one JSON line per size: rows of
outcomes.csv, wall and CPU seconds (``time.perf_counter``, ``time.process_time``) of a
validation in a fresh process (pandera imported inside the timing, as a build's first
validation does) and of a load. The copies come from ``tests/_scale.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
from review.data import validate
from review import data
report = validate.run(sys.argv[1], sys.argv[2])
v = (time.perf_counter() - t, time.process_time() - c)
out = {"errors": len(report.errors), "validate_wall_s": round(v[0], 2),
    "validate_cpu_s": round(v[1], 2)}
if sys.argv[3] == "load":  # data.load validates with the repository's plan
    t, c = time.perf_counter(), time.process_time()
    data.load(sys.argv[1])
    out.update(load_wall_s=round(time.perf_counter() - t, 2),
               load_cpu_s=round(time.process_time() - c, 2))
print(json.dumps(out))
"""


def measure(data_dir: Path, plan: Path = ROOT / "analysis_plan.yaml", load: str = "load") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(plan), load],
        capture_output=True,
        text=True,
        check=True,
    )
    with (data_dir / "outcomes.csv").open(encoding="utf-8") as fh:
        rows = sum(1 for _ in fh) - 1
    return {"data": str(data_dir), "outcome_rows": rows, **json.loads(out.stdout)}


def main(factor: int = 10) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from _scale import scaled_copy, scaled_plan

    print(json.dumps(measure(ROOT / "data")))
    with tempfile.TemporaryDirectory() as tmp:
        big = scaled_copy(ROOT / "data", Path(tmp) / "data", factor)
        plan = scaled_plan(ROOT / "analysis_plan.yaml", Path(tmp) / "plan.yaml", factor)
        print(json.dumps({"factor": factor, **measure(big, plan, "no-load")}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
