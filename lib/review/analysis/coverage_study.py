"""The coverage study that chooses the primary interval per number of studies (issue 21).

The study's grid, replications, seed and the choice rule live in ``analysis_plan.yaml``
(section ``primary_interval``); the simulation is :func:`metaprop.coverage.coverage_study`.
Its result is committed next to this module (``coverage_study_cells.csv``, one row per
cell and method, and ``coverage_study.json`` with the key it was computed for) and is
recomputed only when the key changes: the plan's study settings or the source of the
metaprop modules that compute the intervals.

The lead calls :func:`primary_method` (``k -> method id``) and :func:`results_table`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from metaprop.coverage import METHOD_LABELS, coverage_study, summarise

from review.data.plan import default_plan_path

__all__ = [
    "CELLS_CSV",
    "META_JSON",
    "cache_key",
    "download_table",
    "load_or_run",
    "page_values",
    "plot",
    "primary_method",
    "results_table",
    "rule_text",
    "settings",
]

CELLS_CSV = Path(__file__).with_name("coverage_study_cells.csv")
"""The committed result: one row per cell ``(k, p, tau2)`` and method."""

META_JSON = Path(__file__).with_name("coverage_study.json")
"""The key the committed result was computed for, and how long it took."""

CODE_MODULES = (
    "metaprop.coverage",
    "metaprop.bayes",
    "metaprop.glmm",
    "metaprop.batch",
    "metaprop._engine",
    "metaprop.effects",
)
"""Modules whose source is part of the cache key (they compute the intervals)."""


def settings(plan_path=None) -> dict:
    """The plan's ``primary_interval`` section (study grid, rule, text, reason).

    Raises
    ------
    KeyError
        The plan has no ``primary_interval`` section or it lacks ``study`` or ``rule``.
    """
    path = Path(plan_path) if plan_path is not None else default_plan_path()
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    section = raw["primary_interval"]
    for key in ("study", "rule", "text", "reason"):
        if key not in section:
            raise KeyError(f"analysis_plan.yaml: primary_interval.{key} is missing")
    return section


def _inputs(study: dict) -> dict:
    sizes = study["study_sizes"]
    return {
        "ks": [int(k) for k in study["ks"]],
        "ps": [float(p) for p in study["proportions"]],
        "tau2s": [float(t) for t in study["tau2"]],
        "study_sizes": [int(sizes["min"]), int(sizes["max"])],
        "reps": int(study["replications"]),
        "seed": int(study["seed"]),
        "level": float(study["level"]),
        "methods": [str(m) for m in study["methods"]],
    }


def cache_key(study: dict) -> str:
    """SHA-256 of the study's inputs and of the source of :data:`CODE_MODULES`."""
    code = {}
    for name in CODE_MODULES:
        src = inspect.getsource(importlib.import_module(name))
        code[name] = hashlib.sha256(src.encode("utf-8")).hexdigest()
    blob = json.dumps({"inputs": _inputs(study), "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_or_run(*, plan_path=None, progress: bool = True, run: bool = True) -> pd.DataFrame:
    """The per-cell results, from the committed file when its key matches the plan and
    the code, else recomputed (and written back).

    Parameters
    ----------
    plan_path : path-like, optional
        Plan to read (default: the repository's).
    progress : bool
        Report progress while recomputing.
    run : bool
        Recompute when stale; with False a stale cache raises instead.

    Returns
    -------
    pandas.DataFrame
        Columns ``k, p, tau2, method, reps, n_ok, coverage, mean_width, median_width``.
    """
    study = settings(plan_path)["study"]
    key = cache_key(study)
    if CELLS_CSV.exists() and META_JSON.exists():
        meta = json.loads(META_JSON.read_text(encoding="utf-8"))
        if meta.get("key") == key:
            return pd.read_csv(CELLS_CSV)
    if not run:
        raise RuntimeError(
            "the committed coverage study is stale (plan or code changed): run "
            "`python -m review.analysis.coverage_study` to recompute it"
        )

    inp = _inputs(study)
    lo, hi = inp["study_sizes"]
    start = time.perf_counter()
    cells = coverage_study(
        inp["ks"],
        inp["ps"],
        inp["tau2s"],
        np.arange(lo, hi + 1),
        reps=inp["reps"],
        seed=inp["seed"],
        level=inp["level"],
        methods=inp["methods"],
        progress=progress,
    )
    seconds = time.perf_counter() - start
    cells.to_csv(CELLS_CSV, index=False, float_format="%.10g")
    META_JSON.write_text(
        json.dumps(
            {"key": key, "inputs": inp, "seconds": round(seconds, 1), "modules": CODE_MODULES},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return cells


def _choose(group: pd.DataFrame, rule: dict, previous: str | None = None) -> str:
    """The rule of the plan applied to the methods at one k (see ``rule_text``).

    Widths within ``rule["width_tie"]`` of the narrowest qualifying one count as equally
    narrow; among those the method chosen at the previous k (``previous``) is kept, else
    the narrowest.
    """
    ok = group[
        (group["coverage"] >= float(rule["min_mean_coverage"]))
        & (group["min_coverage"] >= float(rule["min_scenario_coverage"]))
        & (group["fail_rate"] <= float(rule["max_fail_rate"]))
    ]
    if len(ok):
        ok = ok.sort_values(["mean_width", "method"])
        tied = ok[ok["mean_width"] <= ok["mean_width"].iloc[0] + float(rule.get("width_tie", 0))]
        if previous is not None and previous in set(tied["method"]):
            return previous
        return str(ok.iloc[0]["method"])
    best = group.sort_values(["coverage", "mean_width"], ascending=[False, True])
    return str(best.iloc[0]["method"])


@lru_cache(maxsize=4)
def _table(plan_path: str | None) -> pd.DataFrame:
    section = settings(plan_path)
    # a stale result (plan or code changed) is recomputed here, with progress shown
    summary = summarise(load_or_run(plan_path=plan_path, progress=True))
    chosen: dict[int, str] = {}
    previous = None
    for k, g in summary.groupby("k", sort=True):
        previous = chosen[int(k)] = _choose(g, section["rule"], previous)
    summary["primary"] = [
        chosen[int(k)] == m for k, m in zip(summary["k"], summary["method"], strict=True)
    ]
    summary.insert(2, "label", summary["method"].map(METHOD_LABELS))
    return summary


def results_table(plan_path=None) -> pd.DataFrame:
    """Coverage and width per ``k`` and method, with the plan's choice marked.

    Returns
    -------
    pandas.DataFrame
        Columns ``k, method, label, coverage, min_coverage, mean_width, mcse, fail_rate,
        primary`` (``primary`` True for the method the plan uses at that k): the
        downloadable table of the Methods page.
    """
    return _table(None if plan_path is None else str(plan_path)).copy()


def primary_method(k: int, plan_path=None) -> str | None:
    """The interval method the plan uses for a pooled proportion from ``k`` studies.

    Parameters
    ----------
    k : int
        Number of studies pooled.

    Returns
    -------
    str or None
        A method id of :data:`metaprop.coverage.METHODS` (``"glmm_z"``, ``"glmm_t"``,
        ``"glmm_profile"``, ``"reml_hk_adhoc"``, ``"bayes"``); None for k < 2 (nothing is
        pooled). Beyond the largest k of the study, the choice at that largest k.
    """
    k = int(k)
    if k < 2:
        return None
    table = _table(None if plan_path is None else str(plan_path))
    ks = sorted(table["k"].unique())
    k_use = min(max(k, ks[0]), ks[-1])
    row = table[(table["k"] == k_use) & table["primary"]]
    return str(row["method"].iloc[0])


def _points(x: float) -> str:
    return f"{x:g} percentage point" + ("" if x == 1 else "s")


def rule_text(plan_path=None) -> str:
    """The plan's sentence of the rule, with its parameters filled in from the plan."""
    section = settings(plan_path)
    rule = section["rule"]
    return " ".join(
        section["text"]
        .format(
            min_mean_coverage_pct=f"{100 * float(rule['min_mean_coverage']):g}%",
            min_scenario_coverage_pct=f"{100 * float(rule['min_scenario_coverage']):g}%",
            min_ok_pct=f"{100 * (1 - float(rule['max_fail_rate'])):g}%",
            width_tie_pp=_points(100 * float(rule.get("width_tie", 0))),
        )
        .split()
    )


def download_table(plan_path=None) -> pd.DataFrame:
    """The table offered for download on the Methods page: ``k, method, label, coverage,
    min_coverage, mean_width, mcse, fail_rate, primary`` (coverage and width as fractions,
    width on the proportion scale)."""
    return results_table(plan_path)


def page_values(plan_path=None) -> dict[str, str]:
    """Text for the Methods page (glued): the rule, the study's size, and the coverage
    of the Wald GLMM interval and of the chosen interval at the smallest and largest k.

    Returns
    -------
    dict of str
        Keys ``rule``, ``reps``, ``scenarios``, ``ks``, ``mcse_k``, ``choice`` (one phrase
        per run of k with the same method), ``wald_low_k``, ``wald_cov_low_k``,
        ``primary_cov_low_k``, ``primary_low_k``.
    """
    section = settings(plan_path)
    inp = _inputs(section["study"])
    table = results_table(plan_path)
    ks = sorted(table["k"].unique())
    n_scen = len(inp["ps"]) * len(inp["tau2s"])
    k0 = ks[0]
    at0 = table[table["k"] == k0].set_index("method")
    prim0 = at0[at0["primary"]].iloc[0]
    runs: list[tuple[int, int, str]] = []
    for k in ks:
        m = primary_method(k, plan_path)
        if runs and runs[-1][2] == m:
            runs[-1] = (runs[-1][0], k, m)
        else:
            runs.append((k, k, m))
    phrases = [
        (f"k = {a}" if a == b else f"k = {a} to {b}") + f": {METHOD_LABELS[m]}" for a, b, m in runs
    ]
    return {
        "rule": rule_text(plan_path),
        "reps": str(inp["reps"]),
        "scenarios": str(n_scen),
        "ks": f"{ks[0]} to {ks[-1]}",
        "mcse_k": f"{100 * mcse_at(0.95, inp['reps'] * n_scen):.1f} percentage points",
        "choice": "; ".join(phrases),
        "wald_low_k": str(k0),
        "wald_cov_low_k": f"{100 * at0.loc['glmm_z', 'coverage']:.0f}%"
        if "glmm_z" in at0.index
        else "not run",
        "primary_low_k": str(prim0["label"]),
        "primary_cov_low_k": f"{100 * prim0['coverage']:.0f}%",
    }


def plot(table: pd.DataFrame | None = None, axes=None):
    """Coverage and mean width against k, one line per method, the plan's choice ringed.

    Parameters
    ----------
    table : pandas.DataFrame, optional
        :func:`results_table` (read when not given).
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new figure with two panels when None.

    Returns
    -------
    ndarray of matplotlib Axes
        The coverage panel and the width panel.
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    table = results_table() if table is None else table
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), constrained_layout=True)
    ax_c, ax_w = axes
    level = float(settings()["study"]["level"])
    for method, g in table.groupby("method", sort=False):
        g = g.sort_values("k")
        label = METHOD_LABELS.get(method, method)
        (line,) = ax_c.plot(g["k"], 100 * g["coverage"], marker="o", ms=3, label=label)
        ax_w.plot(g["k"], 100 * g["mean_width"], marker="o", ms=3, color=line.get_color())
        chosen = g[g["primary"]]
        for ax, col in ((ax_c, "coverage"), (ax_w, "mean_width")):
            ax.plot(
                chosen["k"],
                100 * chosen[col],
                "o",
                ms=9,
                mfc="none",
                mec=line.get_color(),
                mew=1.5,
            )
    ax_c.axhline(100 * level, color="0.4", lw=0.8, ls="--")
    ax_c.set_xlabel("Number of studies (k)")
    ax_c.set_ylabel("Coverage (%)")
    ax_w.set_xlabel("Number of studies (k)")
    ax_w.set_ylabel("Mean width (percentage points)")
    ax_c.set_title("Coverage (dashed: nominal)", fontsize=10)
    ax_w.set_title("Mean width (rings: the plan's choice)", fontsize=10)
    ax_c.legend(fontsize=7, loc="lower right", frameon=False)
    return np.asarray(axes)


def mcse_at(coverage: float, reps: int) -> float:
    """Monte Carlo standard error of a coverage from ``reps`` datasets (Morris et al. 2019)."""
    return math.sqrt(coverage * (1 - coverage) / reps)


if __name__ == "__main__":
    load_or_run(progress=True)
