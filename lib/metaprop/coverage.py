"""Coverage of intervals for a pooled proportion when studies are few: a simulation study.

Datasets are drawn from the binomial-normal model (study logits
:math:`\\theta_i\\sim N(\\mathrm{logit}\\,p,\\tau^2)`, events
:math:`x_i\\sim\\mathrm{Bin}(n_i,\\mathrm{expit}\\,\\theta_i)`), each candidate interval for
the pooled logit is computed, and the share of intervals that contain
:math:`\\mathrm{logit}\\,p` (coverage) and their mean width on the proportion scale are
reported per number of studies ``k``, scenario and method. Seeded and reproducible: each
cell ``(k, p, tau2)`` has its own random stream, so a cell's result does not depend on
which other cells are run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy import special

from metaprop._validation import plain
from metaprop.batch import fit_batch
from metaprop.bayes import meta_prop_bayes
from metaprop.glmm import fit_glmm, glmm_profile_ci

__all__ = ["METHODS", "METHOD_LABELS", "coverage_study", "simulate", "summarise"]

METHODS = ("glmm_z", "glmm_t", "glmm_profile", "reml_hk_adhoc", "bayes")
"""Candidate intervals, by id."""

METHOD_LABELS = {
    "glmm_z": "GLMM, Wald z interval",
    "glmm_t": "GLMM, t(k-1) interval",
    "glmm_profile": "GLMM, profile-likelihood interval",
    "reml_hk_adhoc": "Logit REML, Hartung-Knapp (ad hoc)",
    "bayes": "Bayesian binomial-normal, half-normal(1) prior on tau",
}
"""Reader-facing names of the methods."""

BAYES_RESOLUTION = {"n_mu": 64, "n_tau": 32, "n_nodes": 8}
"""Grid of :func:`metaprop.meta_prop_bayes` in the study: quantiles within ~2e-3 logits of
the default grid (measured on five datasets), far below what changes coverage, at a fifth
of the cost."""


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: number of studies, true pooled proportion, tau^2."""

    k: int
    p: float
    tau2: float


def simulate(k, p, tau2, totals_pool, reps, rng):
    """Draw ``reps`` datasets of ``k`` studies from the binomial-normal model.

    Parameters
    ----------
    k : int
        Studies per dataset.
    p : float
        True pooled proportion (``expit`` of the mean logit).
    tau2 : float
        Between-study variance of the logits.
    totals_pool : array-like of int
        Study sizes to draw from (with replacement).
    reps : int
        Number of datasets.
    rng : numpy.random.Generator
        Random stream.

    Returns
    -------
    events, totals : ndarray of int, shape ``(reps, k)``
    """
    pool = np.asarray(totals_pool, dtype=np.int64)
    totals = rng.choice(pool, size=(reps, k), replace=True)
    theta = special.logit(p) + np.sqrt(tau2) * rng.standard_normal((reps, k))
    events = rng.binomial(totals, special.expit(theta))
    return events, totals


def _intervals(events, totals, level, methods):
    """Interval bounds (logit scale) of each method for each dataset; NaN where a method
    gives no interval (a GLMM that does not converge or is separated)."""
    reps, k = events.shape
    out = {m: np.full((reps, 2), np.nan) for m in methods}
    if "reml_hk_adhoc" in methods:
        # every dataset at once through the vectorised engine
        res = fit_batch(events, totals, measure="PLO", method="REML", test="adhoc", level=level)
        out["reml_hk_adhoc"][:, 0] = res.ci_t_low
        out["reml_hk_adhoc"][:, 1] = res.ci_t_high
    z = float(special.ndtri(0.5 + level / 2))
    t = float(special.stdtrit(k - 1, 0.5 + level / 2))
    for r in range(reps):
        x, n = events[r], totals[r]
        if {"glmm_z", "glmm_t"} & set(methods):
            try:
                fit = fit_glmm(x, n)
            except ValueError:
                fit = None
            if fit is not None:
                if "glmm_z" in methods:
                    out["glmm_z"][r] = (fit.beta - z * fit.se, fit.beta + z * fit.se)
                if "glmm_t" in methods:
                    out["glmm_t"][r] = (fit.beta - t * fit.se, fit.beta + t * fit.se)
        if "glmm_profile" in methods:
            try:
                out["glmm_profile"][r] = tuple(glmm_profile_ci(x, n, level=level))
            except ValueError:
                pass
        if "bayes" in methods:
            res = meta_prop_bayes(x, n, level=level, **BAYES_RESOLUTION)
            out["bayes"][r] = tuple(res.mu_ci)
    return out


def coverage_study(
    ks,
    ps,
    tau2s,
    totals_pool,
    *,
    reps: int,
    seed: int,
    level: float = 0.95,
    methods=METHODS,
    progress: bool = False,
):
    """Coverage and width of interval methods for a pooled proportion, per cell.

    Parameters
    ----------
    ks : sequence of int
        Numbers of studies (each >= 2).
    ps : sequence of float
        True pooled proportions.
    tau2s : sequence of float
        Between-study variances of the logits.
    totals_pool : array-like of int
        Study sizes; each simulated study draws its size from them.
    reps : int
        Datasets per cell.
    seed : int
        Seed; cell ``(k, p, tau2)`` uses the stream ``SeedSequence([seed, k, i, j])``
        with ``i, j`` the positions of ``p`` and ``tau2`` in their lists.
    level : float
        Nominal coverage.
    methods : sequence of str
        Subset of :data:`METHODS`.
    progress : bool
        Print one line per cell (with elapsed time) to standard error.

    Returns
    -------
    pandas.DataFrame
        One row per cell and method: ``k, p, tau2, method, reps, n_ok, coverage,
        mean_width, median_width`` (coverage among the datasets where the method gave an
        interval; width on the proportion scale).

    Notes
    -----
    A dataset is covered when ``low <= logit(p) <= high``; width is
    :math:`\\mathrm{expit}(high)-\\mathrm{expit}(low)`. The Monte Carlo standard error of
    a coverage :math:`c` from :math:`R` datasets is :math:`\\sqrt{c(1-c)/R}` (Morris, White
    and Crowther 2019).

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate
    statistical methods. Stat Med 38:2074-2102. doi:10.1002/sim.8086

    Examples
    --------
    >>> from metaprop.coverage import coverage_study
    >>> tab = coverage_study([3], [0.3], [0.2], [40, 80], reps=5, seed=1,
    ...                      methods=("glmm_z", "reml_hk_adhoc"))
    >>> sorted(tab["method"].unique()), int(tab["reps"].iloc[0])
    (['glmm_z', 'reml_hk_adhoc'], 5)
    """
    import pandas as pd

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    if int(reps) < 1:
        raise ValueError(f"reps must be a positive integer, got {plain(reps)}")
    rows = []
    start = time.perf_counter()
    cells = [(k, i, p, j, t2) for k in ks for i, p in enumerate(ps) for j, t2 in enumerate(tau2s)]
    for c, (k, i, p, j, t2) in enumerate(cells, start=1):
        if int(k) < 2:
            raise ValueError(f"k must be at least 2, got {k}")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(k), i, j]))
        events, totals = simulate(int(k), p, t2, totals_pool, int(reps), rng)
        bounds = _intervals(events, totals, level, methods)
        truth = float(special.logit(p))
        for m in methods:
            lo, hi = bounds[m][:, 0], bounds[m][:, 1]
            ok = ~(np.isnan(lo) | np.isnan(hi))
            covered = (lo[ok] <= truth) & (truth <= hi[ok])
            width = special.expit(hi[ok]) - special.expit(lo[ok])
            rows.append(
                {
                    "k": int(k),
                    "p": float(p),
                    "tau2": float(t2),
                    "method": m,
                    "reps": int(reps),
                    "n_ok": int(ok.sum()),
                    "coverage": float(covered.mean()) if ok.any() else np.nan,
                    "mean_width": float(width.mean()) if ok.any() else np.nan,
                    "median_width": float(np.median(width)) if ok.any() else np.nan,
                }
            )
        if progress:
            elapsed = time.perf_counter() - start
            print(
                f"coverage study: cell {c}/{len(cells)} (k={k}, p={p}, tau2={t2}) "
                f"done, {elapsed:.0f} s elapsed",
                file=sys.stderr,
                flush=True,
            )
    return pd.DataFrame(rows)


def summarise(cells):
    """Coverage and width per ``k`` and method, over the scenarios of the grid.

    Parameters
    ----------
    cells : pandas.DataFrame
        The output of :func:`coverage_study`.

    Returns
    -------
    pandas.DataFrame
        One row per ``k`` and method: ``coverage`` (mean over scenarios, each weighted
        equally), ``min_coverage`` (the worst scenario), ``mean_width`` (mean over
        scenarios), ``mcse`` (Monte Carlo standard error of ``coverage``), ``fail_rate``
        (share of datasets with no interval).

    Notes
    -----
    With :math:`S` scenarios of :math:`R_s` successful datasets each, the standard error
    of the mean coverage is :math:`\\sqrt{\\sum_s c_s(1-c_s)/R_s}/S`.

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate
    statistical methods. Stat Med 38:2074-2102. doi:10.1002/sim.8086

    Examples
    --------
    >>> from metaprop.coverage import coverage_study, summarise
    >>> cells = coverage_study([2, 3], [0.3], [0.0, 0.5], [50], reps=4, seed=2,
    ...                        methods=("reml_hk_adhoc",))
    >>> summarise(cells)[["k", "method"]].to_dict("list")
    {'k': [2, 3], 'method': ['reml_hk_adhoc', 'reml_hk_adhoc']}
    """
    import pandas as pd

    out = []
    for (k, m), g in cells.groupby(["k", "method"], sort=True):
        c = g["coverage"].to_numpy(float)
        nok = g["n_ok"].to_numpy(float)
        var = np.where(nok > 0, c * (1 - c) / np.maximum(nok, 1), np.nan)
        out.append(
            {
                "k": int(k),
                "method": m,
                "coverage": float(np.nanmean(c)),
                "min_coverage": float(np.nanmin(c)),
                "mean_width": float(np.nanmean(g["mean_width"])),
                "mcse": float(np.sqrt(np.nansum(var)) / np.sum(np.isfinite(var))),
                "fail_rate": float(1 - nok.sum() / g["reps"].sum()),
            }
        )
    order = {m: i for i, m in enumerate(METHODS)}
    frame = pd.DataFrame(out)
    frame["_o"] = frame["method"].map(order)
    return frame.sort_values(["k", "_o"]).drop(columns="_o").reset_index(drop=True)
