"""Timing inside a Python process: medians over repeats, with time.perf_counter.

Shared by the pimeta and metaprop runners; it imports neither tool.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# A repeat of a fast call loops it enough times to last about this long, so that the
# clocks' resolution and the loop's own cost do not show.
MIN_REPEAT_SECONDS = 0.2
MAX_INNER = 5000


def measure(fn: Callable[[], object], repeats: int, warmup: int = 1) -> dict:
    """Time ``fn()``: median seconds per call over ``repeats`` repeats, on two clocks.

    ``wall`` is elapsed time (``time.perf_counter``); ``cpu`` is the process's CPU time
    (``time.process_time``, user + system), which other programs running on a busy
    machine inflate much less. ``warmup`` untimed calls come first; their duration sets
    how many calls each repeat loops over (``inner``), and each repeat's time is divided
    by ``inner``. With ``warmup=0`` (long rows) each repeat is one call.
    """
    inner = 1
    if warmup:
        start = time.perf_counter()
        for _ in range(warmup):
            fn()
        once = (time.perf_counter() - start) / warmup
        inner = int(min(MAX_INNER, max(1, MIN_REPEAT_SECONDS // max(once, 1e-9))))
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        cpu.append((time.process_time() - start_cpu) / inner)
        wall.append((time.perf_counter() - start_wall) / inner)
    return {
        "wall": statistics.median(wall),
        "cpu": statistics.median(cpu),
        "times_wall": wall,
        "times_cpu": cpu,
        "inner": inner,
    }


class Recorder:
    """Collect the rows of one tool and write them as JSON for ``benchmarks.run``."""

    def __init__(self, tool: str, version: str) -> None:
        self.out = {"tool": tool, "version": version, "rows": {}, "skipped": {}}

    def run(
        self, row_id: str, fn: Callable[[], object], repeats: int, warmup: int = 1, **extra
    ) -> None:
        """Time ``fn`` for ``row_id``; an exception skips the row with its message."""
        try:
            result = measure(fn, repeats, warmup)
        except Exception as exc:  # a tool that lacks the feature: skip the row, say why
            self.skip(row_id, f"{type(exc).__name__}: {exc}")
            return
        result.update(extra)
        self.out["rows"][row_id] = result
        print(
            f"  {self.out['tool']:<9} {row_id:<18} cpu {result['cpu']:.6g} s, "
            f"wall {result['wall']:.6g} s",
            file=sys.stderr,
        )

    def skip(self, row_id: str, reason: str) -> None:
        """Record that ``row_id`` was not run, and why."""
        self.out["skipped"][row_id] = reason
        print(f"  {self.out['tool']:<9} {row_id:<18} skipped: {reason}", file=sys.stderr)

    def write(self, path: Path) -> None:
        """Write the collected rows to ``path``."""
        Path(path).write_text(json.dumps(self.out, indent=1))
