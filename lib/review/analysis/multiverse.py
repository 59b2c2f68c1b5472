"""Evidence robustness: every outcome refitted under every reasonable data and model choice.

For one outcome, :func:`run` builds each data choice of the plan (``multiverse.data_choices``:
the primary set, without conference abstracts, without low-confidence identifications, each
alternative variant in turn, all reports of each cohort, the evidence as of the source
paper's search date) in each population, and crosses it with every model
(``multiverse.models``). The inverse-variance models of all data choices of one population go
to :func:`metaprop.fit_batch` as one membership matrix, so a whole outcome costs one batch
call per model; the GLMM is fitted one set at a time.

:func:`spec_curve` draws the specification curve (Simonsohn 2020): estimates sorted, with
the choices beneath. :func:`influence_table` says how far the estimate and its interval move
when one choice changes and the others stay at the primary analysis.

References
----------
Simonsohn U, Simmons JP, Nelson LD. Specification curve analysis. Nat Hum Behav
2020;4:1208-14. doi:10.1038/s41562-020-0912-z
Voracek M, Kossmeier M, Tran US. Which data to meta-analyze, and how? A specification-curve
and multiverse-analysis approach to meta-analysis. Z Psychol 2019;227:64-82.
doi:10.1027/2151-2604/a000357
"""

from __future__ import annotations

from dataclasses import dataclass

import metaprop as mp
import numpy as np
import pandas as pd
from metaprop.plotting import shorten

from review import analysis
from review.data import labels
from review.data.plan import ModelSpec, Plan

__all__ = ["DataChoice", "data_choices", "influence_table", "run", "run_rows", "spec_curve"]

COLUMNS = [
    "outcome",
    "population",
    "data_choice",
    "data_label",
    "model",
    "model_label",
    "k",
    "patients",
    "estimate",
    "ci_low",
    "ci_high",
    "tau2",
    "i2",
    "studies",
    "note",
]


@dataclass(frozen=True)
class DataChoice:
    """One set of rows: its id (the plan's choice id, with the variant for ``variants``),
    a label, and the row index labels of the table it keeps."""

    id: str
    label: str
    index: tuple


def _primary_mask(df: pd.DataFrame, plan: Plan) -> pd.Series:
    return df[plan.col("primary_variant")].fillna(False).astype(bool)


def _runner_up(df: pd.DataFrame, plan: Plan) -> pd.Series:
    return df[plan.col("id_role")].eq("runner_up").fillna(False).astype(bool)


def data_choices(
    pool: pd.DataFrame, plan: Plan, *, as_of_rows: pd.DataFrame | None = None
) -> list[DataChoice]:
    """Every data choice of the plan for the rows of one outcome.

    Parameters
    ----------
    pool : DataFrame
        Every row of the outcome: all variants, runner-up reports included
        (``review.data.outcome(code, variants="all", runner_ups=True)``).
    plan : Plan
    as_of_rows : DataFrame, optional
        The primary rows as they stood at the paper's search date
        (``review.data.outcome(code, as_of=...)``, which restores superseded variants);
        matched to ``pool`` by study and variant. Without it that choice is skipped.

    Returns
    -------
    list of DataChoice
        ``index`` holds labels of ``pool``'s index.
    """
    rules = plan["row_selection"]
    primary = pool[_primary_mask(pool, plan) & ~_runner_up(pool, plan)]
    order = rules["id_confidence_order"]
    above_low = order[order.index(rules["min_id_confidence"]) + 1]

    def as_of():
        if as_of_rows is None:
            return []
        keys = [plan.col("study"), plan.col("variant")]
        kept = analysis.select_rows(as_of_rows, plan)[0][keys]
        index = pool.reset_index().merge(kept, on=keys)["index"]
        return [("evidence_paper_date", "", pool.loc[index])]

    def without(name: str, mask: pd.Series):
        return [(name, None, analysis.select_rows(primary[~mask], plan)[0])]

    def paper_studies():
        # the paper's studies first, then the rules, so that one report per cohort is chosen
        # among the paper's own reports
        in_paper = primary[plan.col("in_source_paper")].fillna(False).astype(bool)
        return [("paper_studies", "", analysis.select_rows(primary[in_paper], plan)[0])]

    def no_curve_read():
        # survival landmarks only: a binary outcome has no curve-read rows to leave out
        if not pool[plan.col("kind")].eq("survival").any():
            return []
        curve = primary[plan.col("curve_read")].fillna(False).astype(bool)
        return [("no_curve_read", "", analysis.select_rows(primary[~curve], plan)[0])]

    builders = {
        "primary": lambda: [("primary", "", analysis.select_rows(primary, plan)[0])],
        "no_abstracts": lambda: [
            (
                "no_abstracts",
                None,
                analysis.select_rows(primary, plan, exclude_tiers=tuple(rules["abstract_tiers"]))[
                    0
                ],
            )
        ],
        "no_low_confidence": lambda: [
            (
                "no_low_confidence",
                None,
                analysis.select_rows(primary, plan, min_id_confidence=above_low)[0],
            )
        ],
        "all_reports": lambda: [
            (
                "all_reports",
                None,
                analysis.select_rows(pool[_primary_mask(pool, plan)], plan, one_per_cohort=False)[
                    0
                ],
            )
        ],
        "evidence_paper_date": as_of,
        "paper_studies": paper_studies,
        "no_press_secondary": lambda: without(
            "no_press_secondary", primary[plan.col("source_tier")].isin(("press", "secondary_copy"))
        ),
        "no_flagged_counts": lambda: without("no_flagged_counts", analysis.flagged_counts(primary)),
        "variants": lambda: _variant_sets(pool, primary, plan),
        "no_curve_read": no_curve_read,
    }
    labels = {c["id"]: c["label"] for c in plan["multiverse"]["data_choices"]}
    out = []
    for choice in plan["multiverse"]["data_choices"]:
        for cid, label, rows in builders[choice["id"]]():
            out.append(DataChoice(cid, label or labels[choice["id"]], tuple(rows.index)))
    return out


def _variant_sets(df, primary, plan):
    """The primary set with one study's primary row swapped for one of its alternatives."""
    study, variant = plan.col("study"), plan.col("variant")
    excluded = plan["multiverse"]["variant_excluded_bases"]
    basis = df.get("denominator_basis", pd.Series("", index=df.index)).fillna("")
    alternatives = df[~_primary_mask(df, plan) & ~_runner_up(df, plan) & ~basis.isin(excluded)]
    out = []
    for idx, alt in alternatives.iterrows():
        swapped = pd.concat([primary[primary[study] != alt[study]], alternatives.loc[[idx]]])
        rows = analysis.select_rows(swapped, plan)[0]
        if idx in rows.index:  # the alternative survived the rules (usable, identified)
            name = alt[plan.col("label")] if plan.col("label") in alt else alt[study]
            out.append(
                (
                    f"variant:{alt[study]} {alt[variant]}",
                    f"Variant: {name}, {labels.variant(alt[variant])}",
                    rows,
                )
            )
    return out


def _fit_binary(rows: pd.DataFrame, sets: list[DataChoice], spec: ModelSpec, plan: Plan):
    """One model over every data choice: a batch for inverse-variance, a loop for GLMM."""
    ev_col, n_col = plan.col("events"), plan.col("total")
    usable = [s for s in sets if len(s.index) >= plan["few_studies"]["min_k_pooled"]]
    results = {}
    if not usable:
        return results
    if spec.is_glmm:
        # the GLMM is fitted one set at a time; sets with the same rows share one fit
        done: dict[frozenset, dict] = {}
        for s in usable:
            key = frozenset(s.index)
            if key not in done:
                done[key] = _glmm_record(rows.loc[list(s.index)], plan)
            results[s.id] = done[key]
        return results
    union = list(dict.fromkeys(i for s in usable for i in s.index))
    members = np.array([[i in set(s.index) for i in union] for s in usable])
    sub = rows.loc[union]
    batch = mp.fit_batch(
        sub[ev_col].astype(int).to_numpy(),
        sub[n_col].astype(int).to_numpy(),
        membership=members,
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
        level=plan.level,
    )
    for j, s in enumerate(usable):
        results[s.id] = {
            "estimate": batch.estimate[j],
            "ci_low": batch.ci_low[j],
            "ci_high": batch.ci_high[j],
            "tau2": batch.tau2[j],
            "i2": batch.i2[j],
            "note": "" if batch.converged[j] else "tau2 did not converge",
        }
    return results


def _glmm_record(sub: pd.DataFrame, plan: Plan) -> dict:
    try:
        res = mp.meta_prop_glmm(
            sub[plan.col("events")].astype(int).to_numpy(),
            sub[plan.col("total")].astype(int).to_numpy(),
            level=plan.level,
        )
    except ValueError as err:
        return {"note": f"GLMM not fitted: {err}"}
    return {
        "estimate": res.estimate,
        "ci_low": res.ci[0],
        "ci_high": res.ci[1],
        "tau2": res.tau2,
        "i2": res.i2,
        "note": "" if res.converged else "GLMM did not converge",
    }


def _fit_landmark(rows: pd.DataFrame, sets: list[DataChoice], spec: ModelSpec, plan: Plan):
    """Survival landmarks: reported estimates on the model's scale, batched."""
    usable = [s for s in sets if len(s.index) >= plan["few_studies"]["min_k_pooled"]]
    if not usable:
        return {}
    union = list(dict.fromkeys(i for s in usable for i in s.index))
    es = analysis.landmark_effects(rows.loc[union], plan, scale=spec.measure)
    members = np.array([[i in set(s.index) for i in union] for s in usable])
    batch = mp.fit_batch(
        yi=es.yi,
        vi=es.vi,
        membership=members,
        measure=spec.measure,
        method=spec.method,
        test=spec.test,
        level=plan.level,
    )
    return {
        s.id: {
            "estimate": batch.estimate[j],
            "ci_low": batch.ci_low[j],
            "ci_high": batch.ci_high[j],
            "tau2": batch.tau2[j],
            "i2": batch.i2[j],
            "note": "",
        }
        for j, s in enumerate(usable)
    }


def _landmark_models(plan: Plan) -> list[ModelSpec]:
    surv = plan["survival"]
    out = []
    for scale in (surv["scale"], surv["alternative_scale"]):
        for method, test in (("REML", "adhoc"), ("REML", "z"), ("DL", "z")):
            out.append(
                ModelSpec(
                    f"{scale}_{method.lower()}_{test}",
                    f"{scale.capitalize()}, {method}, {test}",
                    scale,
                    method,
                    test,
                )
            )
    return out


def run(code: str, plan: Plan, *, data_dir=None) -> pd.DataFrame:
    """Refit one outcome under every data choice, population and model.

    Loads every row of the outcome from ``review.data`` (all variants and runner-up
    reports, and the primary rows as of the paper's search date) and calls
    :func:`run_rows`.
    """
    pool = analysis.rows_for(code, plan, variants="all", runner_ups=True, data_dir=data_dir)
    as_of = analysis.rows_for(
        code, plan, as_of=plan["row_selection"]["evidence_date_paper"], data_dir=data_dir
    )
    return run_rows(pool, plan, outcome=code, as_of_rows=as_of)


def run_rows(
    pool: pd.DataFrame,
    plan: Plan,
    *,
    outcome: str | None = None,
    as_of_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Refit one outcome's rows under every data choice, population and model.

    Parameters
    ----------
    pool : DataFrame
        Every row of the outcome (all variants, runner-up reports), with the study
        attributes.
    plan : Plan
    outcome : str, optional
        Outcome code (taken from the rows when omitted).
    as_of_rows : DataFrame, optional
        Primary rows as of the paper's search date (see :func:`data_choices`).

    Returns
    -------
    DataFrame
        One row per (population, data choice, model): k, patients, estimate, CI, tau2, I2,
        the studies used and a note; k < 2 rows carry no estimate.
    """
    df = pool.reset_index(drop=True)
    outcome = outcome or (str(df["outcome"].iloc[0]) if len(df) else "")
    survival = outcome in plan["survival"]["outcomes"]
    models = _landmark_models(plan) if survival else plan.multiverse_models
    fitter = _fit_landmark if survival else _fit_binary
    choices = data_choices(df, plan, as_of_rows=as_of_rows)
    records = []
    for pop in [*plan.strata, plan.comparison]:
        sets = []
        for c in choices:
            rows = analysis.population_rows(df.loc[list(c.index)], pop["key"], plan)
            sets.append(DataChoice(c.id, c.label, tuple(rows.index)))
        # a variant of a study outside this population leaves the primary set unchanged
        primary = next((set(s.index) for s in sets if s.id == "primary"), set())
        sets = [s for s in sets if not (s.id.startswith("variant:") and set(s.index) == primary)]
        # what describes each set is the same under every model: computed once
        described = {}
        for s in sets:
            rows = df.loc[list(s.index)]
            described[s.id] = {
                "k": len(rows),
                "patients": analysis.patients(rows, plan),
                "studies": ";".join(rows[plan.col("study")].astype(str)),
            }
        for spec in models:
            fitted = fitter(df, sets, spec, plan)
            for s in sets:
                base = {
                    "outcome": outcome,
                    "population": pop["key"],
                    "data_choice": s.id,
                    "data_label": s.label,
                    "model": spec.id,
                    "model_label": spec.label,
                    **described[s.id],
                }
                fit = fitted.get(s.id, {"note": "fewer than two studies: not pooled"})
                records.append(base | fit)
    return pd.DataFrame.from_records(records).reindex(columns=COLUMNS)


def primary_model_id(plan: Plan, outcome: str) -> str:
    """Id of the primary analysis's model for ``outcome`` (the GLMM, or for a survival
    landmark the plan's survival model on its main scale)."""
    if outcome in plan["survival"]["outcomes"]:
        return _landmark_models(plan)[0].id
    return plan.primary.id


def by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """The primary data set under every model, side by side (one row per outcome,
    population and model): estimate, CI, tau2, I2."""
    cols = [
        "outcome",
        "population",
        "model_label",
        "k",
        "estimate",
        "ci_low",
        "ci_high",
        "tau2",
        "i2",
        "note",
    ]
    return frame.loc[frame["data_choice"] == "primary", cols].reset_index(drop=True)


def influence_table(frame: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """How far each single choice moves the estimate and CI from the primary analysis.

    For each outcome and population, the reference is the primary data set with the primary
    model. Each other data choice (with the primary model) and each other model (with the
    primary data) is compared with it: change of the estimate and of each CI bound, in
    percentage points, and the ratio of CI widths.
    """
    out = []
    for (outcome, pop), grp in frame.groupby(["outcome", "population"], sort=False):
        primary_model = primary_model_id(plan, outcome)
        ref = grp[(grp["data_choice"] == "primary") & (grp["model"] == primary_model)]
        if ref.empty or pd.isna(ref["estimate"].iloc[0]):
            continue
        r = ref.iloc[0]
        others = grp[(grp["data_choice"] == "primary") ^ (grp["model"] == primary_model)]
        for _, row in others.iterrows():
            kind = "model" if row["data_choice"] == "primary" else "data"
            out.append(
                {
                    "outcome": outcome,
                    "population": pop,
                    "dimension": kind,
                    "choice": row["model_label"] if kind == "model" else row["data_label"],
                    "k": row["k"],
                    "estimate": row["estimate"],
                    "delta_estimate_pp": 100 * (row["estimate"] - r["estimate"]),
                    "delta_ci_low_pp": 100 * (row["ci_low"] - r["ci_low"]),
                    "delta_ci_high_pp": 100 * (row["ci_high"] - r["ci_high"]),
                    "ci_width_ratio": (row["ci_high"] - row["ci_low"])
                    / (r["ci_high"] - r["ci_low"]),
                }
            )
    columns = [
        "outcome",
        "population",
        "dimension",
        "choice",
        "k",
        "estimate",
        "delta_estimate_pp",
        "delta_ci_low_pp",
        "delta_ci_high_pp",
        "ci_width_ratio",
    ]
    return pd.DataFrame(out, columns=columns)


# the choice labels under the specification curve: their size, and the most room they take
# (the plan's own labels fit whole; a label naming a study with a long name is cut)
LABEL_PT = 8
LABEL_ROOM_IN = 3.2


def spec_curve(
    frame: pd.DataFrame,
    *,
    outcome: str,
    population: str,
    axes=None,
    reference: float | None = None,
    primary_model: str = "glmm",
):
    """Specification curve: estimates with CIs sorted, the choices marked beneath.

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`run`.
    outcome, population : str
        Which curve to draw.
    axes : pair of matplotlib Axes, optional
        Upper (estimates) and lower (choices) axes; a new figure when omitted.
    reference : float, optional
        A value to mark with a horizontal line (for example the paper's estimate).
    primary_model : str
        Model id of the primary analysis (``plan.primary.id``), drawn as a diamond.

    Returns
    -------
    tuple of Axes
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    sub = frame[(frame["outcome"] == outcome) & (frame["population"] == population)]
    sub = sub.dropna(subset=["estimate"]).sort_values("estimate").reset_index(drop=True)
    data_labels = list(dict.fromkeys(sub["data_label"]))
    model_labels = list(dict.fromkeys(sub["model_label"]))
    if axes is None:
        # as wide as the forest plots (7 in, shown at about the width of the text); the
        # choice labels take their room from the axes (constrained layout) instead of
        # widening the figure
        height = 2.6 + 0.24 * (len(data_labels) + len(model_labels))
        _, axes = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(7.0, height),
            gridspec_kw={"height_ratios": [1.2, 1]},
            layout="constrained",
        )
    top, bottom = axes
    x = np.arange(len(sub))
    main = ((sub["data_choice"] == "primary") & (sub["model"] == primary_model)).to_numpy()
    top.errorbar(
        x,
        100 * sub["estimate"],
        yerr=[100 * (sub["estimate"] - sub["ci_low"]), 100 * (sub["ci_high"] - sub["estimate"])],
        fmt="o",
        ms=3,
        lw=0.8,
        color="#0072B2",
        ecolor="#56B4E9",
    )
    if main.any():
        # the primary analysis (primary data, primary model) in a second colour
        top.plot(x[main], 100 * sub["estimate"][main], "D", ms=6, color="#D55E00")
    if reference is not None:
        top.axhline(100 * reference, color="#D55E00", lw=1, ls="--")
    top.set_ylabel("Estimate (%)")
    rows = [*model_labels, *data_labels]
    for i, label in enumerate(rows):
        column = "model_label" if i < len(model_labels) else "data_label"
        hit = sub[column] == label
        bottom.scatter(x[hit], np.full(hit.sum(), i), s=8, color="#000000")
    bottom.axhline(len(model_labels) - 0.5, color="#999999", lw=0.6)
    # a data choice names a study, whose label comes from the data: drawn as text (never
    # mathtext), cut in the middle where it is longer than the room for labels
    shown = [shorten(label, LABEL_ROOM_IN * 72, fontsize=LABEL_PT) for label in rows]
    bottom.set_yticks(range(len(rows)), shown, fontsize=LABEL_PT, parse_math=False)
    bottom.invert_yaxis()
    bottom.set_xlabel("Specifications, sorted by estimate")
    return top, bottom
