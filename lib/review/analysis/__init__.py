"""Apply the analysis plan: the functions a chapter calls so that each cell is a line or two.

This module holds no statistics of its own. It selects rows by the plan's rules, picks the
model the plan names, calls :mod:`metaprop`, and packs what a chapter shows into a
:class:`PooledFit` (one outcome in one population). The rules and their reasons live in
``analysis_plan.yaml``; :mod:`review.data.plan` loads it.

Typical chapter cells::

    plan = load_plan()
    fits = analysis.by_population(df, plan)            # one PooledFit per population
    analysis.results_table(fits)                       # what the Results section shows
    analysis.sensitivity_table(df, plan)               # every model of the plan, per population

References
----------
Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome in the
framework of the generalized linear mixed model with applications in sparse data. Stat Med
2010;29:3046-67. doi:10.1002/sim.4040
IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for random
effects meta-analysis is straightforward and considerably outperforms the standard
DerSimonian-Laird method. BMC Med Res Methodol 2014;14:25. doi:10.1186/1471-2288-14-25
Partlett C, Riley RD. Random effects meta-analysis: coverage performance of 95% confidence
and prediction intervals following REML estimation. Stat Med 2017;36:301-17.
doi:10.1002/sim.7140
Viechtbauer W. Confidence intervals for the amount of heterogeneity in meta-analysis. Stat
Med 2007;26:37-52. doi:10.1002/sim.2514
Combescure C, Foucher Y, Jackson D. Meta-analysis of single-arm survival studies: a
distribution-free approach for estimating survival curves with their confidence intervals.
Stat Med 2014;33:2521-37. doi:10.1002/sim.6111
Hunter JP, Saratzis A, Sutton AJ, et al. In meta-analyses of proportion studies, funnel
plots were found to be an inaccurate method of assessing publication bias. J Clin Epidemiol
2014;67:897-903. doi:10.1016/j.jclinepi.2014.03.003
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of
the binomial. Biometrika 1934;26:404-13. doi:10.1093/biomet/26.4.404

The package is review's analysis layer (CONTRIBUTING.md, Architecture): it imports from
:mod:`review.data` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import metaprop as mp
import numpy as np
import pandas as pd
from metaprop.glmm import glmm_profile_ci
from scipy import special

from review import data
from review.analysis import coverage_study
from review.data.plan import ModelSpec, Plan

__all__ = [
    "PooledFit",
    "by_population",
    "fit_model",
    "fits_for",
    "heterogeneity",
    "landmark_by_population",
    "landmark_effects",
    "landmark_fit",
    "leave_one_out",
    "patients",
    "flagged_counts",
    "population_rows",
    "rows_for",
    "primary_fit",
    "regimen_subgroups",
    "results_table",
    "select_rows",
    "sensitivity_table",
    "single_study_summary",
    "small_study_effects",
]


@dataclass(frozen=True)
class Headline:
    """The pooled rate as the book reports it when the plan's interval for this number of
    studies comes from another model than ``PooledFit.result`` (the Bayesian
    binomial-normal model, ``analysis_plan.yaml`` primary_interval).

    ``pi`` is that model's prediction interval for a new study (the posterior predictive
    interval), or None.
    """

    method: str
    label: str
    estimate: float
    ci: tuple[float, float]
    pi: tuple[float, float] | None


@dataclass(frozen=True)
class PooledFit:
    """One outcome in one population, fitted as the plan says.

    Attributes
    ----------
    outcome, population : str
        Outcome code and population key (``newly_diagnosed``, ``relapsed_refractory`` or
        ``all``).
    rows : DataFrame
        The rows that entered the fit (after the plan's row-selection rules).
    model : ModelSpec or None
        The model used (None when nothing was pooled).
    result : metaprop.MetaResult or None
        The fit; None with k = 0 or 1 (see ``single``).
    single : DataFrame or None
        For k = 1: the study's proportion with its exact CI.
    note : str
        Why a fallback was used, why nothing was pooled, or a caveat on the prediction
        interval; empty when there is nothing to say.
    dropped : DataFrame
        Rows the rules left out, with the rule in column ``reason``.
    headline : Headline or None
        The reported rate and interval when the plan's interval for k studies comes from
        another model than ``result`` (which then still gives heterogeneity, the forest
        plot and the tests); None when ``result`` is itself the reported model.
    """

    outcome: str
    population: str
    rows: pd.DataFrame
    model: ModelSpec | None
    result: object | None
    single: pd.DataFrame | None = None
    note: str = ""
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)
    headline: Headline | None = None

    @property
    def estimate(self) -> float:
        """The reported pooled rate (the headline model's where there is one)."""
        return self.headline.estimate if self.headline else float(self.result.estimate)

    @property
    def ci(self) -> tuple[float, float]:
        """The reported interval of the pooled rate (the plan's interval for this k)."""
        if self.headline:
            return self.headline.ci
        return (float(self.result.ci[0]), float(self.result.ci[1]))

    @property
    def interval_label(self) -> str:
        """Which model and interval the reported rate comes from, in words."""
        if self.headline:
            return self.headline.label
        return self.model.label if self.model is not None else ""

    @property
    def k(self) -> int:
        """Number of studies that entered."""
        return len(self.rows)

    @property
    def pooled(self) -> bool:
        """True when a pooled estimate exists (k >= the plan's minimum)."""
        return self.result is not None


# --- rows -------------------------------------------------------------------------------


# Flags that make a count less trustworthy than its report: left out in a robustness refit.
FLAGGED_COUNTS = ("lower_bound", "assumed_denominator", "inferred_denominator")


def flagged_counts(rows: pd.DataFrame) -> pd.Series:
    """True for rows flagged as lower bounds or with assumed or inferred denominators."""
    flags = rows["flags"] if "flags" in rows else pd.Series("", index=rows.index)
    parts = flags.fillna("").astype(str).str.split(";")
    return parts.map(lambda f: any(x in FLAGGED_COUNTS for x in f)).astype(bool)


def _partial_date(value) -> pd.Timestamp:
    """ISO date, possibly partial ("2024", "2024-11"): the earliest day it may stand for."""
    if value is None or pd.isna(value) or value == "":
        return pd.NaT
    text = str(value)
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    return pd.Timestamp(text)


def _usable(df: pd.DataFrame, plan: Plan) -> pd.Series:
    kind = df.get(plan.col("kind"), pd.Series("binary", index=df.index))
    binary = kind.fillna("binary").eq("binary")
    has_counts = df.get(plan.col("events")).notna() & df.get(plan.col("total")).notna()
    has_surv = pd.Series(False, index=df.index)
    if plan.col("estimate") in df:
        est = df[plan.col("estimate")].astype(float)
        # a survival of exactly 0% or 100% has no place on the cloglog or logit scale
        has_surv = (
            (est > 0)
            & (est < 1)
            & (
                df[plan.col("ci_low")].notna() & df[plan.col("ci_high")].notna()
                | df[plan.col("n_analysed")].notna()
            )
        )
    return (binary & has_counts) | (~binary & has_surv)


def select_rows(
    df: pd.DataFrame,
    plan: Plan,
    *,
    min_id_confidence: str | None = None,
    one_per_cohort: bool = True,
    exclude_tiers: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the plan's row-selection rules to the rows of one outcome.

    Parameters
    ----------
    df : DataFrame
        Rows of one outcome joined with the study attributes (``review.data.outcome``).
    plan : Plan
    min_id_confidence : str, optional
        Lowest identification confidence kept; the plan's by default.
    one_per_cohort : bool
        Keep one report per cohort: the latest before the cut-off, then the largest
        denominator.
    exclude_tiers : tuple of str
        Source tiers to leave out (for example the abstract tiers).

    Returns
    -------
    kept, dropped : DataFrame
        ``dropped`` has the column ``reason`` naming the rule.
    """
    rules = plan["row_selection"]
    order = rules["id_confidence_order"]
    floor = order.index(min_id_confidence or rules["min_id_confidence"])
    dropped = []

    def drop(mask: pd.Series, reason: str, frame: pd.DataFrame) -> pd.DataFrame:
        if mask.any():
            dropped.append(frame[mask].assign(reason=reason))
        return frame[~mask]

    out = drop(
        ~_usable(df, plan),
        "no usable numbers (percentage only, no estimate, or a survival of 0% or 100%)",
        df,
    )
    conf = out[plan.col("id_confidence")].map({c: i for i, c in enumerate(order)})
    out = drop(conf.fillna(-1) < floor, "identification below the confidence threshold", out)
    if exclude_tiers:
        out = drop(out[plan.col("source_tier")].isin(exclude_tiers), "source tier excluded", out)
    dates = out[plan.col("available_from")].map(_partial_date)
    if one_per_cohort and len(out):
        cohort = out[plan.col("cohort_id")].replace("", pd.NA).fillna(out[plan.col("study")])
        size = out[plan.col("total")].fillna(out.get(plan.col("n_analysed")))
        rank = pd.DataFrame({"cohort": cohort, "date": dates, "size": size})
        rank = rank.sort_values(["cohort", "date", "size"], ascending=[True, False, False])
        later = ~rank.index.isin(rank.drop_duplicates("cohort").index)
        out = drop(
            pd.Series(later, index=rank.index).reindex(out.index),
            "another report of the same cohort is later or larger",
            out,
        )
    dropped_df = pd.concat(dropped) if dropped else df.iloc[0:0].assign(reason=[])
    return out, dropped_df


def rows_for(code: str, plan: Plan, **options) -> pd.DataFrame:
    """Rows of one outcome from ``review.data``: a landmark for survival codes, else binary.

    ``options`` go to :func:`review.data.outcome` or :func:`review.data.landmark`
    (``variants``, ``as_of``, ``runner_ups``, ``data_dir``).
    """

    if code in plan["survival"]["outcomes"]:
        return data.landmark(code, **options)
    return data.outcome(code, **options)


def fits_for(code: str, df: pd.DataFrame, plan: Plan) -> dict[str, PooledFit]:
    """The primary fit of one outcome in each population, from the rows :func:`rows_for`
    gives: :func:`landmark_by_population` for survival codes, else :func:`by_population`."""
    if code in plan["survival"]["outcomes"]:
        return landmark_by_population(df, plan, outcome=code)
    return by_population(df, plan, outcome=code)


def population_rows(df: pd.DataFrame, population: str, plan: Plan) -> pd.DataFrame:
    """Rows of one population: a disease-status stratum, or every row for ``all``."""
    if population == plan.comparison["key"]:
        return df
    value = plan.population(population)["value"]
    return df[df[plan.col("disease_status")] == value]


def _labels(rows: pd.DataFrame, plan: Plan) -> list[str]:
    col = plan.col("label") if plan.col("label") in rows else plan.col("study")
    return rows[col].astype(str).tolist()


# --- fitting ----------------------------------------------------------------------------


def fit_model(rows: pd.DataFrame, spec: ModelSpec, plan: Plan):
    """Fit one model of the plan to binary rows (events / total)."""
    events = rows[plan.col("events")].astype(int).to_numpy()
    totals = rows[plan.col("total")].astype(int).to_numpy()
    labels = _labels(rows, plan)
    if spec.is_glmm:
        return mp.meta_prop_glmm(events, totals, labels=labels, level=plan.level, test=spec.test)
    return mp.meta_prop(
        events,
        totals,
        labels=labels,
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
        level=plan.level,
    )


def _glmm_identified(rows: pd.DataFrame, plan: Plan) -> bool:
    e, n = rows[plan.col("events")], rows[plan.col("total")]
    return int(((e > 0) & (e < n)).sum()) >= 2


def single_study_summary(rows: pd.DataFrame, plan: Plan, outcome: str = "") -> pd.DataFrame:
    """Each study's proportion with its exact (Clopper-Pearson) CI, and why nothing is pooled.

    Returns an empty frame (with the same columns) when there is no study.
    """
    cols = ["label", "events", "total", "proportion", "ci_low", "ci_high", "reason"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    events = rows[plan.col("events")].astype(int).to_numpy()
    totals = rows[plan.col("total")].astype(int).to_numpy()
    low, high = mp.study_ci(
        events, totals, method=plan["few_studies"]["single_study_ci"], level=plan.level
    )
    what = "one study" if len(rows) == 1 else f"{len(rows)} studies"
    reason = (
        f"{what}{' of ' + outcome if outcome else ''}: no pooled estimate; the "
        "study's own proportion with its exact confidence interval"
    )
    return pd.DataFrame(
        {
            "label": _labels(rows, plan),
            "events": events,
            "total": totals,
            "proportion": events / totals,
            "ci_low": low,
            "ci_high": high,
            "reason": reason,
        }
    )[cols]


def primary_fit(
    df: pd.DataFrame,
    plan: Plan,
    *,
    outcome: str | None = None,
    population: str | None = None,
    select: bool = True,
) -> PooledFit:
    """The primary analysis of one outcome in one set of rows.

    The binomial-normal GLMM; when it cannot be fitted (it does not converge, or fewer than
    two studies have both events and non-events) the plan's fallback model, with the reason
    in ``note``. With k = 0 or 1 nothing is pooled (``single`` holds the study).

    Parameters
    ----------
    df : DataFrame
        Rows of one outcome (``review.data.outcome``), already restricted to a population
        or not.
    plan : Plan
    outcome, population : str, optional
        Labels for the result (taken from the rows when omitted).
    select : bool
        Apply :func:`select_rows` first (the plan's rules).
    """
    outcome = outcome or _outcome_of(df)
    population = population or plan.comparison["key"]
    rows, dropped = select_rows(df, plan) if select else (df, df.iloc[0:0])
    min_k = plan["few_studies"]["min_k_pooled"]
    if len(rows) < min_k:
        if rows.empty:
            note = "no study reports this outcome"
        elif len(rows) == 1:
            note = "one study: no pooled estimate; its exact confidence interval is shown"
        else:
            note = (
                f"{len(rows)} studies, fewer than {min_k}: no pooled estimate; each "
                "study's exact confidence interval is shown"
            )
        return PooledFit(
            outcome,
            population,
            rows,
            None,
            None,
            single_study_summary(rows, plan, outcome),
            note,
            dropped,
        )
    spec, note = plan.primary, ""
    if not _glmm_identified(rows, plan):
        spec, note = (
            plan.fallback,
            (
                "fallback model: fewer than two studies have both "
                "events and non-events, so the GLMM is not identified"
            ),
        )
    try:
        result = fit_model(rows, spec, plan)
    except ValueError as err:
        if not spec.is_glmm:
            raise
        spec, note = plan.fallback, f"fallback model: the GLMM could not be fitted ({err})"
        result = fit_model(rows, spec, plan)
    if spec.is_glmm and not result.converged:
        spec, note = plan.fallback, "fallback model: the GLMM did not converge"
        result = fit_model(rows, spec, plan)
    spec, result, headline, chosen = _plan_interval(rows, spec, result, plan)
    return PooledFit(
        outcome,
        population,
        rows,
        spec,
        result,
        None,
        _join(note, chosen, _pi_note(result.k, plan)),
        dropped,
        headline,
    )


def _plan_interval(rows: pd.DataFrame, spec: ModelSpec, result, plan: Plan):
    """Apply the plan's interval for k studies (``primary_interval``, chosen by the coverage
    study of ``review.analysis.coverage_study``) to a GLMM fit.

    Returns ``(spec, result, headline, note)``: a t(k-1) GLMM interval refits the GLMM with
    ``test="t"``; the profile-likelihood choice keeps the GLMM and reports its profile
    interval (:func:`metaprop.glmm.glmm_profile_ci`) as the headline; the inverse-variance
    choice refits the plan's fallback model; the Bayesian choice keeps the GLMM as
    ``result`` (heterogeneity, forest plot, tests) and reports the posterior median with its
    credible and predictive intervals as the headline. A fit that is already the fallback
    model is left as it is.
    """

    method = coverage_study.primary_method(len(rows))
    if not spec.is_glmm or method in (None, "glmm_z"):
        return spec, result, None, ""
    why = f"interval chosen by the coverage study for {len(rows)} studies"
    events = rows[plan.col("events")].astype(int).to_numpy()
    totals = rows[plan.col("total")].astype(int).to_numpy()
    if method == "glmm_t":
        spec = ModelSpec("glmm_t", f"{spec.label}, t(k-1) interval", spec.measure, "GLMM", "t")
        return spec, fit_model(rows, spec, plan), None, f"{why}: GLMM with a t(k-1) interval"
    if method == "glmm_profile":
        low, high = glmm_profile_ci(events, totals, level=plan.level)
        headline = Headline(
            "glmm_profile",
            "GLMM, profile-likelihood interval",
            float(result.estimate),
            (float(special.expit(low)), float(special.expit(high))),
            None,
        )
        return spec, result, headline, f"{why}: {headline.label}"
    if method == "reml_hk_adhoc":
        fallback = plan.fallback
        return fallback, fit_model(rows, fallback, plan), None, f"{why}: {fallback.label}"
    if method == "bayes":
        bayes = mp.meta_prop_bayes(events, totals, level=plan.level)
        headline = Headline(
            "bayes",
            "Bayesian binomial-normal model, posterior median and credible interval",
            float(bayes.estimate),
            (float(bayes.ci[0]), float(bayes.ci[1])),
            (float(bayes.pi[0]), float(bayes.pi[1])),
        )
        return spec, result, headline, f"{why}: {headline.label}"
    raise ValueError(f"primary_interval: unknown method {method!r}")


def _outcome_of(df: pd.DataFrame) -> str:
    if "outcome" in df and df["outcome"].nunique() == 1:
        return str(df["outcome"].iloc[0])
    return ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _pi_note(k: int, plan: Plan) -> str:
    pi = plan["heterogeneity"]["prediction_interval"]
    if k < pi["min_k"]:
        return f"no prediction interval with fewer than {pi['min_k']} studies"
    if k < pi["note_below_k"]:
        return (
            f"prediction interval from {k} studies: its coverage is poor below {pi['note_below_k']}"
        )
    return ""


def by_population(
    df: pd.DataFrame, plan: Plan, *, outcome: str | None = None
) -> dict[str, PooledFit]:
    """Primary fits per disease-status stratum, then the all-patients comparison.

    Rows are selected once over all populations (one report per cohort), then split.
    """
    outcome = outcome or _outcome_of(df)
    rows, dropped = select_rows(df, plan)
    fits = {}
    for pop in [*plan.strata, plan.comparison]:
        sub = population_rows(rows, pop["key"], plan)
        fit = primary_fit(sub, plan, outcome=outcome, population=pop["key"], select=False)
        fits[pop["key"]] = PooledFit(
            fit.outcome,
            fit.population,
            fit.rows,
            fit.model,
            fit.result,
            fit.single,
            fit.note,
            population_rows(dropped, pop["key"], plan),
            fit.headline,
        )
    return fits


def heterogeneity(fit: PooledFit, plan: Plan) -> dict:
    """tau2 and the prediction interval first, then I2 with its Q-profile CI, Q and p.

    The prediction interval uses the plan's distribution (t with k-1 df) and is NaN with
    fewer than ``heterogeneity.prediction_interval.min_k`` studies.
    """
    res = fit.result
    out = {
        "k": fit.k,
        "tau2": math.nan,
        "pi_low": math.nan,
        "pi_high": math.nan,
        "i2": math.nan,
        "i2_ci_low": math.nan,
        "i2_ci_high": math.nan,
        "q": math.nan,
        "q_pvalue": math.nan,
        "note": fit.note,
    }
    if res is None:
        return out
    pi_rules = plan["heterogeneity"]["prediction_interval"]
    out.update(tau2=float(res.tau2), i2=float(res.i2), q=float(res.q), q_pvalue=float(res.q_pvalue))
    if res.k >= pi_rules["min_k"]:
        low, high = res.prediction_interval(dist=pi_rules["dist"])
        if fit.headline is not None and fit.headline.pi is not None:
            low, high = fit.headline.pi  # the reported model's predictive interval
        out.update(pi_low=float(low), pi_high=float(high))
    iv = res if res.method != "GLMM" else fit_model(fit.rows, plan.fallback, plan)
    # Q-profile CI of I2 (Viechtbauer 2007) is defined for the inverse-variance model; with
    # the GLMM it is taken from the plan's inverse-variance logit fit, and said so.
    low, high = iv.i2_ci()
    out.update(i2_ci_low=float(low), i2_ci_high=float(high))
    if iv is not res:
        out["note"] = _join(out["note"], "I2 CI (Q-profile) from the inverse-variance logit fit")
    return out


def patients(rows: pd.DataFrame, plan: Plan) -> int:
    """Patients in the rows: the denominators, or the numbers analysed for survival."""
    if rows.empty:
        return 0
    size = rows[plan.col("total")] if plan.col("total") in rows else None
    if size is None or size.isna().all():
        size = rows[plan.col("n_analysed")]
    return int(size.fillna(0).sum())


def results_table(fits: dict[str, PooledFit], plan: Plan) -> pd.DataFrame:
    """One row per population: k, patients, estimate, CI, PI, tau2, I2 (CI), Q, model, note."""
    rows = []
    for key, fit in fits.items():
        pop = plan.population(key)
        base = {
            "population": pop["label"],
            "k": fit.k,
            "patients": patients(fit.rows, plan),
            "model": fit.model.label if fit.model else "none",
        }
        if fit.result is not None:
            base.update(estimate=fit.estimate, ci_low=fit.ci[0], ci_high=fit.ci[1])
            base["model"] = fit.interval_label
        elif fit.single is not None and len(fit.single):
            one = fit.single.iloc[0]
            base.update(
                estimate=float(one["proportion"]),
                ci_low=float(one["ci_low"]),
                ci_high=float(one["ci_high"]),
            )
        het = heterogeneity(fit, plan)
        base.update(
            {
                k: het[k]
                for k in (
                    "pi_low",
                    "pi_high",
                    "tau2",
                    "i2",
                    "i2_ci_low",
                    "i2_ci_high",
                    "q",
                    "q_pvalue",
                )
            }
        )
        base["note"] = het["note"]
        rows.append(base)
    columns = [
        "population",
        "k",
        "patients",
        "model",
        "estimate",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "i2",
        "i2_ci_low",
        "i2_ci_high",
        "q",
        "q_pvalue",
        "note",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def sensitivity_table(df: pd.DataFrame, plan: Plan, *, outcome: str | None = None) -> pd.DataFrame:
    """Every model of the plan (primary, sensitivity, the paper's) in every population.

    The paper's apparent model is chosen from the I2 of the inverse-variance logit fit, as
    the paper's rule ("Freeman-Tukey when I2 > 50%") would have been applied.
    """
    outcome = outcome or _outcome_of(df)
    rows, _ = select_rows(df, plan)
    out = []
    for pop in [*plan.strata, plan.comparison]:
        sub = population_rows(rows, pop["key"], plan)
        if len(sub) < plan["few_studies"]["min_k_pooled"]:
            continue
        specs = [plan.primary, *plan.sensitivity]
        i2 = fit_model(sub, plan.fallback, plan).i2
        specs.append(plan.paper_model(i2))
        for spec in specs:
            try:
                res = fit_model(sub, spec, plan)
            except ValueError as err:
                out.append(
                    {
                        "population": pop["label"],
                        "model": spec.label,
                        "k": len(sub),
                        "note": f"not fitted: {err}",
                    }
                )
                continue
            out.append(
                {
                    "population": pop["label"],
                    "model": spec.label,
                    "k": res.k,
                    "estimate": float(res.estimate),
                    "ci_low": float(res.ci[0]),
                    "ci_high": float(res.ci[1]),
                    "tau2": float(res.tau2),
                    "i2": float(res.i2),
                    "note": "",
                }
            )
    return pd.DataFrame(out)


def leave_one_out(fit: PooledFit, plan: Plan) -> pd.DataFrame:
    """The fit's own model refitted with each study left out in turn.

    The GLMM is refitted study by study (metafor's ``leave1out`` has no ``rma.glmm``
    method); an inverse-variance fit goes through :func:`metaprop.leave_one_out` (one
    batch). A refit that cannot be done (for example a GLMM that is no longer identified)
    keeps its row, with NaN and the reason in ``note``.

    Returns
    -------
    DataFrame
        Columns population, omitted, k, estimate, ci_low, ci_high, tau2, note; empty with
        fewer than three studies (two would leave one study, which is not pooled).
    """
    columns = ["population", "omitted", "k", "estimate", "ci_low", "ci_high", "tau2", "note"]
    if fit.result is None or fit.k < 3:
        return pd.DataFrame(columns=columns)
    label = plan.population(fit.population)["label"]
    labels = _labels(fit.rows, plan)
    if not fit.model.is_glmm:
        loo = mp.leave_one_out(fit.result).to_frame()
        return pd.DataFrame(
            {
                "population": label,
                "omitted": labels,
                "k": loo["k"].to_numpy(),
                "estimate": loo["estimate"].to_numpy(),
                "ci_low": loo["ci_low"].to_numpy(),
                "ci_high": loo["ci_high"].to_numpy(),
                "tau2": loo["tau2"].to_numpy(),
                "note": "",
            }
        )[columns]
    out = []
    for i, omitted in enumerate(labels):
        rest = fit.rows.drop(index=fit.rows.index[i])
        row = {"population": label, "omitted": omitted, "k": len(rest), "note": ""}
        try:
            if not _glmm_identified(rest, plan):
                raise ValueError("fewer than two studies have both events and non-events")
            res = fit_model(rest, fit.model, plan)
            if not res.converged:
                raise ValueError("the GLMM did not converge")
        except ValueError as err:
            row["note"] = f"not refitted: {err}"
        else:
            row.update(
                estimate=float(res.estimate),
                ci_low=float(res.ci[0]),
                ci_high=float(res.ci[1]),
                tau2=float(res.tau2),
            )
        out.append(row)
    return pd.DataFrame(out).reindex(columns=columns)


def regimen_subgroups(df: pd.DataFrame, plan: Plan, population: str):
    """Regimen-group estimates within one population, with the between-group test.

    Returns the ``metaprop.SubgroupResult`` (inverse-variance model of the plan's fallback,
    since subgroup tests need a common model) or None with fewer than two groups. The
    plan's caveats (``regimen_groups.caveats``) go with it in the chapter.
    """
    rows, _ = select_rows(df, plan)
    sub = population_rows(rows, population, plan)
    groups = sub[plan.col("regimen_group")]
    if groups.nunique() < 2:
        return None
    spec = plan.fallback
    return mp.subgroup_analysis(
        sub[plan.col("events")].astype(int).to_numpy(),
        sub[plan.col("total")].astype(int).to_numpy(),
        groups.astype(str).to_numpy(),
        labels=_labels(sub, plan),
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
        level=plan.level,
    )


def small_study_effects(fit: PooledFit, plan: Plan) -> dict:
    """The sample-size based test (and Egger, Begg, trim-and-fill for comparison).

    Run only with at least ``small_study_effects.min_k`` studies; otherwise the dict holds
    ``run=False`` and the reason. The tests use the inverse-variance fallback model (they
    need within-study variances).
    """
    rules = plan["small_study_effects"]
    if fit.k < rules["min_k"]:
        return {
            "run": False,
            "reason": f"{fit.k} studies, fewer than the {rules['min_k']} the plan requires",
        }
    res = (
        fit.result
        if fit.model and not fit.model.is_glmm
        else fit_model(fit.rows, plan.fallback, plan)
    )
    primary = mp.egger_test(
        res, model=rules["primary_test"]["model"], predictor=rules["primary_test"]["predictor"]
    )
    return {
        "run": True,
        "reason": "",
        "model": res,
        "sample_size_test": primary,
        "egger": mp.egger_test(res, model="lm", predictor="sei"),
        "begg": mp.begg_test(res),
        "trim_and_fill": mp.trim_and_fill(res),
        "caveat": rules["caveat"],
    }


# --- survival landmarks ----------------------------------------------------------------


def landmark_effects(rows: pd.DataFrame, plan: Plan, *, scale: str | None = None):
    """Effect sizes of reported survival estimates (cloglog by default), via metaprop."""
    surv = plan["survival"]
    return mp.estimates_to_effects(
        rows[plan.col("estimate")].to_numpy(float),
        rows[plan.col("ci_low")].to_numpy(float),
        rows[plan.col("ci_high")].to_numpy(float),
        n=rows[plan.col("n_analysed")].to_numpy(float),
        scale=scale or surv["scale"],
        level=plan.level,
        percent=surv["percent"],
        labels=_labels(rows, plan),
    )


def landmark_fit(
    df: pd.DataFrame,
    plan: Plan,
    *,
    outcome: str | None = None,
    population: str | None = None,
    exclude_curve_read: bool = False,
    scale: str | None = None,
    select: bool = True,
) -> PooledFit:
    """Pool a survival landmark from reported estimates and their standard errors.

    Rows whose variance came from the number analysed (no printed CI) are flagged by
    metaprop (``approximate``) and named in ``note``; ``exclude_curve_read=True`` drops
    rows read off a Kaplan-Meier curve (the sensitivity analysis). k = 1 is reported as
    the study's own estimate and interval, not pooled.
    """
    outcome = outcome or _outcome_of(df)
    population = population or plan.comparison["key"]
    rows, dropped = select_rows(df, plan) if select else (df, df.iloc[0:0])
    notes = []
    if exclude_curve_read:
        curve = rows[plan.col("curve_read")].fillna(False).astype(bool)
        if curve.any():
            dropped = pd.concat([dropped, rows[curve].assign(reason="read off a curve")])
            n = int(curve.sum())
            notes.append(f"{n} curve-read {'row' if n == 1 else 'rows'} left out")
        rows = rows[~curve]
    if len(rows) < plan["few_studies"]["min_k_pooled"]:
        note = _join(
            *notes,
            "no study reports this landmark" if rows.empty else "one study: no pooled estimate",
        )
        single = None
        if len(rows) == 1:
            # One study: its own estimate and interval (a fixed-effect fit of k = 1 is the
            # study itself), never called a pooled estimate.
            one = mp.meta_analysis(
                landmark_effects(rows, plan, scale=scale), method="FE", level=plan.level
            )
            single = pd.DataFrame(
                {
                    "label": _labels(rows, plan),
                    "proportion": [one.estimate],
                    "ci_low": [one.ci[0]],
                    "ci_high": [one.ci[1]],
                    "reason": ["one study: its reported estimate, not pooled"],
                }
            )
        return PooledFit(outcome, population, rows, None, None, single, note, dropped)
    es = landmark_effects(rows, plan, scale=scale)
    approx = np.asarray(es.approximate, dtype=bool)
    if approx.any():
        names = ", ".join(np.asarray(_labels(rows, plan))[approx])
        notes.append(f"standard error from the number analysed (no CI printed): {names}")
    model = plan["survival"]["model"]
    scale_used = scale or plan["survival"]["scale"]
    spec = ModelSpec(
        f"landmark_{scale_used}",
        f"Reported estimates, {scale_used} scale, {model['method']}, {model['test']}",
        "GEN",
        model["method"],
        model["test"],
    )
    result = mp.meta_analysis(es, method=model["method"], test=model["test"], level=plan.level)
    return PooledFit(
        outcome,
        population,
        rows,
        spec,
        result,
        None,
        _join(*notes, _pi_note(result.k, plan)),
        dropped,
    )


def landmark_by_population(
    df: pd.DataFrame, plan: Plan, *, outcome: str | None = None, exclude_curve_read: bool = False
) -> dict[str, PooledFit]:
    """:func:`landmark_fit` per disease-status stratum, then all patients."""
    outcome = outcome or _outcome_of(df)
    rows, dropped = select_rows(df, plan)
    fits = {}
    for pop in [*plan.strata, plan.comparison]:
        sub = population_rows(rows, pop["key"], plan)
        fit = landmark_fit(
            sub,
            plan,
            outcome=outcome,
            population=pop["key"],
            exclude_curve_read=exclude_curve_read,
            select=False,
        )
        fits[pop["key"]] = fit
    return fits
