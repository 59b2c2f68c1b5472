"""The inputs every tool reads: made once, with a fixed seed, written as JSON.

The proportions are drawn from a logit-normal distribution and the events are kept
inside 1..n-1, so the logit transform (``PLO``) needs no continuity correction and every
tool starts from the same ``yi``, ``vi`` (computed here, not by any of the tools).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import rows

SEED = 20261125


def _draw(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    totals = rng.integers(20, 301, size=shape)
    # between-study spread on the logit scale (tau = 0.6) around a proportion of 0.3
    p = 1.0 / (1.0 + np.exp(-rng.normal(np.log(0.3 / 0.7), 0.6, size=shape)))
    events = np.clip(rng.binomial(totals, p), 1, totals - 1)
    return events, totals


def _plo(events: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # logit of the proportion and its delta-method variance (metafor escalc, measure PLO)
    yi = np.log(events / (totals - events))
    vi = 1.0 / events + 1.0 / (totals - events)
    return yi, vi


def make_inputs(seed: int = SEED) -> dict:
    """Build every dataset the benchmark rows use.

    Returns
    -------
    dict
        ``base``: one dataset of ``rows.K`` studies (events, totals, yi, vi);
        ``many``: ``rows.N_DATASETS`` datasets of ``rows.K`` studies (yi, vi as lists of
        rows); ``scaling``: one dataset for each k in ``rows.SCALING_KS``, and
        ``memory``: one of ``rows.MEMORY_K`` studies.
    """
    rng = np.random.default_rng(seed)

    def dataset(k: int) -> dict:
        events, totals = _draw(rng, (k,))
        yi, vi = _plo(events, totals)
        return {
            "events": events.tolist(),
            "totals": totals.tolist(),
            "yi": yi.tolist(),
            "vi": vi.tolist(),
        }

    base = dataset(rows.K)
    many_events, many_totals = _draw(rng, (rows.N_DATASETS, rows.K))
    many_yi, many_vi = _plo(many_events, many_totals)
    return {
        "seed": seed,
        "base": base,
        "many": {"yi": many_yi.tolist(), "vi": many_vi.tolist()},
        "scaling": {str(k): dataset(k) for k in rows.SCALING_KS},
        "memory": dataset(rows.MEMORY_K),
    }


def write_inputs(path: Path, seed: int = SEED) -> Path:
    """Write :func:`make_inputs` to ``path`` (JSON) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_inputs(seed)))
    return path


def read_inputs(path: Path) -> dict:
    """Read the inputs back, with the numeric lists as float or int arrays."""
    raw = json.loads(Path(path).read_text())

    def arrays(d: dict) -> dict:
        return {key: np.asarray(value) for key, value in d.items()}

    return {
        "seed": raw["seed"],
        "base": arrays(raw["base"]),
        "many": arrays(raw["many"]),
        "scaling": {int(k): arrays(d) for k, d in raw["scaling"].items()},
        "memory": arrays(raw["memory"]),
    }
