"""Reproduce the source paper's pooled numbers with candidate methods, honestly.

The paper names Stata and "Freeman-Tukey when I2 > 50%" but no tau2 estimator. For each
pooled number it reports, :func:`reproduce` pools the studies we could match to that result
(the paper's references as identified in ``data/``, their primary rows, restricted to the
subgroup and to the cited references where the paper lists them) with each candidate method
of the plan (``reproduction.candidates``), and says which candidate, if any, lands within
rounding of the paper's estimate and interval, and which studies differ from the paper's.

Survival percentages are turned into pseudo-counts round(S x n) for the candidates, as a
user of Stata's ``metaprop`` would have to; this is named in the output and never used by
the review's own survival analysis.

References
----------
Lao C, Wen J, Wen Y. Efficacy and safety of inotuzumab ozogamicin and its combination
therapies in acute lymphoblastic leukemia: a systematic review and meta-analysis. Front
Oncol 2025. doi:10.3389/fonc.2025.1613777
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials
1986;7:177-88. doi:10.1016/0197-2456(86)90046-2
"""

from __future__ import annotations

import math

import metaprop as mp
import numpy as np
import pandas as pd

from review import analysis
from review.analysis import memo, paper_checks
from review.data.plan import ModelSpec, Plan

__all__ = ["beside_ours", "candidate_fits", "match_rows", "reproduce", "summary"]


def _refs(text) -> list[int]:
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text) == "":
        return []
    return [int(r) for r in str(text).split(";") if r.strip()]


def match_rows(rows: pd.DataFrame, reported: pd.Series, plan: Plan) -> pd.DataFrame:
    """The rows of our data that correspond to one reported pooled result.

    Parameters
    ----------
    rows : DataFrame
        Primary rows of the outcome joined with the study attributes
        (:func:`review.analysis.rows_for`).
    reported : Series
        One row of the paper's reported results (``outcome, subgroup_by, subgroup, k, ...,
        cited_refs``).
    plan : Plan
    """
    rules = plan["reproduction"]
    out = rows[rows[plan.col("in_source_paper")].fillna(False).astype(bool)]
    out = out[analysis._usable(out, plan)]
    by = reported["subgroup_by"]
    if by in rules["subgroup_codes"]:
        code = rules["subgroup_codes"][by].get(reported["subgroup"])
        if code is None:
            raise KeyError(
                f"reproduction.subgroup_codes.{by} has no code for {reported['subgroup']!r}"
            )
        col = plan.col("disease_status") if by == "disease_status" else plan.col("regimen_group")
        out = out[out[col] == code]
    cited = _refs(reported.get("cited_refs"))
    if cited:
        out = out[out[plan.col("paper_ref")].isin(cited)]
    return out


def _as_counts(rows: pd.DataFrame, plan: Plan) -> tuple[np.ndarray, np.ndarray, bool]:
    """Events and totals; survival rows become pseudo-counts round(S x n)."""
    if rows[plan.col("events")].notna().all():
        return (
            rows[plan.col("events")].astype(int).to_numpy(),
            rows[plan.col("total")].astype(int).to_numpy(),
            False,
        )
    n = rows[plan.col("n_analysed")].astype(float).to_numpy()
    s = rows[plan.col("estimate")].astype(float).to_numpy()
    if plan["survival"]["percent"]:
        s = s / 100.0
    return np.rint(s * n).astype(int), n.astype(int), True


@memo.cached
def candidate_fits(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Fit every candidate method of the plan to the matched rows (percent scale output)."""
    events, totals, pseudo = _as_counts(rows, plan)
    labels = analysis._labels(rows, plan)
    out = []
    for spec in plan.reproduction_candidates:
        record = {
            "candidate": spec.id,
            "candidate_label": spec.label,
            "k": len(rows),
            "pseudo_counts": pseudo,
        }
        try:
            res = _fit(events, totals, labels, spec, plan)
        except ValueError as err:
            out.append(record | {"note": f"not fitted: {err}"})
            continue
        pi = res.prediction_interval(dist="t(k-2)") if res.k >= 3 else (math.nan, math.nan)
        out.append(
            record
            | {
                "estimate_pct": 100 * res.estimate,
                "ci_low_pct": 100 * res.ci[0],
                "ci_high_pct": 100 * res.ci[1],
                "pi_low_pct": 100 * pi[0],
                "pi_high_pct": 100 * pi[1],
                "i2_pct": res.i2,
                "note": "",
            }
        )
    return pd.DataFrame(out)


def _fit(events, totals, labels, spec: ModelSpec, plan: Plan):
    if len(events) < 2:
        raise ValueError("fewer than two matched studies")
    if spec.is_glmm:
        return mp.meta_prop_glmm(events, totals, labels=labels, level=plan.level)
    return mp.meta_prop(
        events,
        totals,
        labels=labels,
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
        level=plan.level,
    )


def reproduce(
    reported: pd.DataFrame,
    plan: Plan,
    *,
    data_dir=None,
    rows: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Every reported pooled number against every candidate method.

    Parameters
    ----------
    reported : DataFrame
        The paper's pooled results (``review.analysis.paper_checks.load_reported()``).
    plan : Plan
    data_dir : path, optional
        Data directory for ``review.data`` (the repository's ``data/`` by default).
    rows : dict of DataFrame, optional
        Rows per outcome code, instead of loading them from ``review.data``.

    Returns
    -------
    DataFrame
        One row per (reported result, candidate): the paper's numbers, ours, the
        differences in percentage points, ``reproduced`` (estimate and both CI bounds within
        ``reproduction.tolerance_pct``), the matched and cited references.
    """
    tol = plan["reproduction"]["tolerance_pct"]
    reported = paper_checks.normalise(reported)
    out = []
    cache: dict[str, pd.DataFrame] = dict(rows or {})
    for _, rep in reported.iterrows():
        code = rep["outcome"]
        if code not in cache:
            cache[code] = analysis.rows_for(code, plan, data_dir=data_dir)
        matched = match_rows(cache[code], rep, plan)
        refs = sorted(int(r) for r in matched[plan.col("paper_ref")].dropna().unique())
        cited = _refs(rep.get("cited_refs"))
        base = {
            "outcome": code,
            "subgroup_by": rep["subgroup_by"],
            "subgroup": rep["subgroup"],
            "k_reported": rep.get("k"),
            "k_matched": len(matched),
            "reported_estimate_pct": rep["estimate_pct"],
            "reported_ci_low_pct": rep["ci_low_pct"],
            "reported_ci_high_pct": rep["ci_high_pct"],
            "refs_matched": ";".join(map(str, refs)),
            "refs_cited_not_matched": ";".join(str(r) for r in cited if r not in refs),
        }
        fits = candidate_fits(matched, plan) if len(matched) else pd.DataFrame()
        if fits.empty:
            out.append(base | {"candidate": None, "note": "no matched study with numbers"})
            continue
        for _, f in fits.iterrows():
            rec = base | f.to_dict()
            if not pd.isna(f.get("estimate_pct", math.nan)):
                diffs = [
                    f["estimate_pct"] - rep["estimate_pct"],
                    f["ci_low_pct"] - rep["ci_low_pct"],
                    f["ci_high_pct"] - rep["ci_high_pct"],
                ]
                rec["diff_estimate_pp"] = diffs[0]
                rec["max_abs_diff_pp"] = float(np.nanmax(np.abs(diffs)))
                rec["reproduced"] = bool(rec["max_abs_diff_pp"] <= tol)
            out.append(rec)
    return pd.DataFrame(out)


def beside_ours(reported: pd.DataFrame, plan: Plan, *, data_dir=None) -> pd.DataFrame:
    """Each number the paper reports beside this review's primary analysis.

    Whole-population and disease-status results are compared with our fit of the same
    population (the plan's primary model, our row rules). Regimen subgroups have no
    counterpart among our headline results (regimen is stratified within a population) and
    are listed with that reason.
    """
    reported = paper_checks.normalise(reported)
    codes = plan["reproduction"]["subgroup_codes"]["disease_status"]
    keys = {s["value"]: s["key"] for s in plan.strata}
    fits: dict[str, dict] = {}
    out = []
    for _, rep in reported.iterrows():
        code = rep["outcome"]
        record = {
            "outcome": code,
            "subgroup_by": rep["subgroup_by"],
            "subgroup": rep["subgroup"],
            "paper_k": rep["k"],
            "paper_estimate": rep["estimate_pct"] / 100,
            "paper_ci_low": rep["ci_low_pct"] / 100,
            "paper_ci_high": rep["ci_high_pct"] / 100,
        }
        if rep["subgroup_by"] == "all":
            population = plan.comparison["key"]
        elif rep["subgroup_by"] == "disease_status" and rep["subgroup"] in codes:
            population = keys[codes[rep["subgroup"]]]
        else:
            out.append(record | {"note": "regimen subgroup: no headline counterpart here"})
            continue
        if code not in fits:
            fits[code] = _headline(code, analysis.rows_for(code, plan, data_dir=data_dir), plan)
        ours = fits[code][population]
        record |= {"our_population": plan.population(population)["label"]} | ours
        if "our_estimate" in ours:
            record["difference_pp"] = 100 * (ours["our_estimate"] - rep["estimate_pct"] / 100)
        out.append(record)
    return pd.DataFrame(out)


@memo.cached
def _headline(code: str, rows: pd.DataFrame, plan: Plan) -> dict[str, dict]:
    """Our primary fit of one outcome in each population: k, note, estimate and CI."""
    out = {}
    for population, fit in analysis.fits_for(code, rows, plan).items():
        out[population] = {"our_k": fit.k, "note": fit.note}
        if fit.result is not None:
            out[population] |= {
                "our_estimate": fit.estimate,
                "our_ci_low": fit.ci[0],
                "our_ci_high": fit.ci[1],
            }
    return out


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per reported result: the closest candidate, and whether it reproduces."""
    keys = ["outcome", "subgroup_by", "subgroup"]
    out = []
    for key, grp in frame.groupby(keys, sort=False):
        first = grp.iloc[0]
        record = dict(zip(keys, key, strict=True)) | {
            "k_reported": first["k_reported"],
            "k_matched": first["k_matched"],
            "reported": f"{first['reported_estimate_pct']:.1f} "
            f"({first['reported_ci_low_pct']:.1f} to "
            f"{first['reported_ci_high_pct']:.1f})",
            "refs_matched": first["refs_matched"],
            "refs_cited_not_matched": first["refs_cited_not_matched"],
        }
        fitted = grp.dropna(subset=["max_abs_diff_pp"]) if "max_abs_diff_pp" in grp else grp[:0]
        if fitted.empty:
            out.append(
                record | {"closest": None, "reproduced": False, "note": first.get("note", "")}
            )
            continue
        best = fitted.loc[fitted["max_abs_diff_pp"].idxmin()]
        record |= {
            "closest": best["candidate_label"],
            "closest_estimate": f"{best['estimate_pct']:.1f} ({best['ci_low_pct']:.1f} to "
            f"{best['ci_high_pct']:.1f})",
            "max_abs_diff_pp": best["max_abs_diff_pp"],
            "reproduced": bool(fitted["reproduced"].any()),
            "reproducing": ";".join(fitted.loc[fitted["reproduced"], "candidate_label"]),
            "note": ("survival as pseudo-counts round(S x n)" if best["pseudo_counts"] else ""),
        }
        out.append(record)
    return pd.DataFrame(out)
