"""GRADE certainty of evidence for single-arm rates, with plain-language statements.

The rules follow GRADE's guidance for how often an outcome occurs in a defined population
(Iorio 2015): the body of evidence starts at the level the plan states (high: cohorts and
single-arm trials are the right design for a rate) and each domain may rate it down by one
or two levels. Inconsistency and imprecision are judged against decision thresholds a
clinician would act on, read from the plan (``grade.thresholds``), never typed per outcome.

Every rule is a small pure function of an :class:`EvidenceProfile`, so each can be tested
alone; :func:`evidence_profile` builds the profile from the data rows and a fitted model.

References
----------
Iorio A, Spencer FA, Falavigna M, et al. Use of GRADE for assessment of evidence about
prognosis: rating confidence in estimates of event rates in broad categories of patients.
BMJ 2015;350:h870. doi:10.1136/bmj.h870
Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines 6. Rating the quality of evidence -
imprecision. J Clin Epidemiol 2011;64:1283-93. doi:10.1016/j.jclinepi.2011.01.012
Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines 7. Rating the quality of evidence -
inconsistency. J Clin Epidemiol 2011;64:1294-302. doi:10.1016/j.jclinepi.2011.03.017
Santesso N, Glenton C, Dahm P, et al. GRADE guidelines 26: informative statements to
communicate the findings of systematic reviews of interventions. J Clin Epidemiol
2020;119:126-35. doi:10.1016/j.jclinepi.2019.10.014
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from review import analysis, data
from review.analysis import memo, rob
from review.data import formats, versions
from review.data.formats import plural
from review.data.plan import Plan

__all__ = [
    "Certainty",
    "DomainRating",
    "EvidenceProfile",
    "assess",
    "bands_spanned",
    "display_table",
    "printable_summary",
    "evidence_profile",
    "outcome_summary",
    "plain_language",
    "rate_imprecision",
    "rate_inconsistency",
    "rate_indirectness",
    "rate_publication_bias",
    "rate_risk_of_bias",
    "summary_of_findings",
    "summary_row",
    "thresholds_crossed",
]

SOF_COLUMNS = [
    "outcome",
    "outcome_name",
    "population",
    "k",
    "patients",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "pooled",
    "certainty",
    "rated_down",
    "reasons",
    "statement",
    "note",
]
# GRADE's certainty symbols (filled circles for the levels reached), as Cochrane tables show.
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")


@dataclass(frozen=True)
class EvidenceProfile:
    """What the GRADE rules need to know about one outcome in one population.

    Shares are of patients (sum of study totals), on the 0-1 scale.

    Attributes
    ----------
    rob_concern_share, rob_high_share : float
        Patients in studies of concern for risk of bias (overall judgement not low, or
        numbers only from a report that is not a full publication), and in studies judged
        at high risk.
    narrower : tuple of str
        How the patients studied are narrower than the stratum the statement speaks of
        (e.g. "older adults only"); empty when they are not.
    tau2, heterogeneity_pvalue : float or None
        Between-study variance of the primary fit and its heterogeneity test's p-value
        (None with one study).
    small_study_pvalue : float or None
        The sample-size based regression test's p-value, or None when it was not run.
    missing_share, missing_studies : float, int
        Patients in eligible studies of this population whose reports were searched and
        did not give the outcome, as a share of those plus the patients analysed; and the
        number of such studies.
    robustness : tuple of str
        Refits without less trustworthy rows that put the rate on the other side of a
        threshold the interval does not cross, each as a phrase for the statement.
    """

    outcome: str
    population: str
    k: int
    n_patients: int
    estimate: float
    ci: tuple[float, float]
    pi: tuple[float, float] | None
    study_estimates: tuple[float, ...]
    rob_concern_share: float = 0.0
    rob_high_share: float = 0.0
    overlap_share: float = 0.0
    mixed_population: bool = False
    narrower: tuple[str, ...] = ()
    tau2: float | None = None
    heterogeneity_pvalue: float | None = None
    small_study_pvalue: float | None = None
    small_study_unavailable: str = ""
    missing_share: float = 0.0
    missing_studies: int = 0
    robustness: tuple[str, ...] = ()
    studied: str = ""


@dataclass(frozen=True)
class DomainRating:
    """One GRADE domain: how many levels it rates down (0, -1 or -2) and why."""

    domain: str
    change: int
    reason: str
    assessed: bool = True


@dataclass(frozen=True)
class Certainty:
    """The certainty of one body of evidence, with the domain ratings that led to it."""

    outcome: str
    population: str
    start: str
    level: str
    domains: tuple[DomainRating, ...] = field(default_factory=tuple)

    @property
    def rated_down(self) -> str:
        """The domains that rated down, each with its change ("imprecision -1"), or "none"."""
        down = [f"{d.domain.replace('_', ' ')} {d.change}" for d in self.domains if d.change < 0]
        return ", ".join(down) if down else "none"

    @property
    def reasons(self) -> str:
        """The domains that rated down, each with its reason, for the summary table."""
        down = [
            f"{d.domain.replace('_', ' ')} ({d.change}): {d.reason}"
            for d in self.domains
            if d.change < 0
        ]
        return "; ".join(down) if down else "no domain rated down"

    def to_dict(self) -> dict:
        """A flat record: level, start and each domain's change and reason."""
        record = {
            "outcome": self.outcome,
            "population": self.population,
            "start": self.start,
            "certainty": self.level,
        }
        for d in self.domains:
            record[f"{d.domain}_change"] = d.change
            record[f"{d.domain}_reason"] = d.reason
        return record


def thresholds_crossed(low: float, high: float, cuts: Sequence[float]) -> int:
    """Number of decision thresholds lying strictly inside the interval (low, high)."""
    return sum(1 for c in cuts if low < c < high)


def bands_spanned(values: Sequence[float], cuts: Sequence[float]) -> int:
    """Number of distinct bands (between consecutive thresholds) the values fall into."""
    return len({int(np.searchsorted(np.asarray(cuts), v, side="right")) for v in values})


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _cuts_text(cuts: Sequence[float]) -> str:
    return " and ".join(_pct(c) for c in cuts)


def rate_risk_of_bias(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Risk of bias: this review's own judgements, and whether the rate rests on weak rows.

    Notes
    -----
    Very serious (two levels) when more than ``grade.risk_of_bias.high_share_very_serious``
    of the patients come from studies judged at high risk; serious (one level) when more than
    ``concern_share_serious`` come from studies of concern (overall judgement not low, or
    numbers only from a conference abstract, press release or news summary, or a secondary
    copy). A refit without such rows that puts the rate across a threshold the interval
    does not cross (``profile.robustness``) is one more concern (Guyatt 2011, GRADE 4:
    when results differ by risk of bias, the lower-risk studies are the better guide).
    At most two levels.
    """
    rules = plan["grade"]["risk_of_bias"]
    concerns, change = [], 0
    if profile.rob_high_share > rules["high_share_very_serious"]:
        change = -2
        concerns.append(
            f"{_pct(profile.rob_high_share)} of patients are in studies at high risk of bias"
        )
    elif profile.rob_concern_share > rules["concern_share_serious"]:
        change = -1
        concerns.append(
            f"{_pct(profile.rob_concern_share)} of patients are in studies at high or unclear "
            "risk of bias or known only from abstracts, press releases or copies"
        )
    if profile.robustness:
        change -= 1
        concerns.append("the rate crosses a threshold when " + " or ".join(profile.robustness))
    if not concerns:
        return DomainRating(
            "risk_of_bias",
            0,
            f"{_pct(1 - profile.rob_concern_share)} of patients are in fully reported studies "
            "at low risk of bias, and leaving out less trustworthy rows moves no threshold",
        )
    return DomainRating("risk_of_bias", max(-2, change), "; ".join(concerns))


def heterogeneity_beyond_chance(profile: EvidenceProfile, plan: Plan) -> bool:
    """True when the studies vary more than chance allows: tau2 > 0 and the heterogeneity
    test's p-value below ``grade.inconsistency.q_alpha`` (GRADE 7 and 36)."""
    if profile.tau2 is None or not profile.tau2 > 0:
        return False
    p = profile.heterogeneity_pvalue
    return p is not None and p < plan["grade"]["inconsistency"]["q_alpha"]


def rate_inconsistency(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Inconsistency: do the studies vary beyond chance, enough to change a decision?

    Notes
    -----
    With one study: not assessable. With no variation beyond chance
    (:func:`heterogeneity_beyond_chance` false): no change, whatever the spread of point
    estimates (that spread is sampling error, judged under imprecision). Otherwise, with
    k >= 3, rated down by min(2, thresholds inside the prediction interval, bands the study
    estimates span - 1); with k = 2 (no prediction interval), one level when the two
    estimates fall in different bands.
    """
    cuts = plan.thresholds(profile.outcome)
    if profile.k < 2:
        return DomainRating(
            "inconsistency", 0, "one study: inconsistency cannot be judged", assessed=False
        )
    if not heterogeneity_beyond_chance(profile, plan):
        p = profile.heterogeneity_pvalue
        test = f" (heterogeneity p = {p:.2f})" if p is not None and math.isfinite(p) else ""
        return DomainRating(
            "inconsistency", 0, f"the studies vary no more than chance allows{test}"
        )
    spread = bands_spanned(profile.study_estimates, cuts) - 1
    if profile.k == 2 or profile.pi is None:
        change = -min(1, spread)
        where = (
            f"the two study estimates fall on different sides of a threshold ({_cuts_text(cuts)})"
            if change
            else f"the study estimates fall between the same thresholds ({_cuts_text(cuts)})"
        )
        return DomainRating("inconsistency", change, where)
    crossed = thresholds_crossed(*profile.pi, cuts)
    change = -min(2, crossed, spread)
    if change:
        reason = (
            f"the prediction interval spans {plural(crossed, 'threshold')} of "
            f"{_cuts_text(cuts)} and the study estimates fall in {spread + 1} bands"
        )
    elif crossed:
        reason = (
            f"the prediction interval spans a threshold ({_cuts_text(cuts)}) but every "
            "study estimate leads to the same decision"
        )
    else:
        reason = f"the prediction interval lies between the thresholds {_cuts_text(cuts)}"
    return DomainRating("inconsistency", change, reason)


def imprecision_change(crossed: int, n_patients: int, min_patients: int) -> int:
    """The imprecision rule: -2 when the interval spans two or more thresholds; -1 when it
    spans one, or spans none but fewer than ``min_patients`` patients contribute; else 0."""
    if crossed >= 2:
        return -2
    if crossed == 1 or n_patients < min_patients:
        return -1
    return 0


def imprecision_rule(plan: Plan) -> str:
    """The imprecision rule in words, from the parameter :func:`imprecision_change` reads,
    for the Methods page; a test checks every case it names against the function."""
    n = plan["grade"]["imprecision"]["min_patients"]
    return (
        "Two levels when the interval spans two thresholds; one level when it spans one "
        f"threshold, or spans none but fewer than {n} patients contribute; no change otherwise."
    )


def rate_imprecision(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Imprecision: the interval against the thresholds, then the number of patients.

    Notes
    -----
    :func:`imprecision_change`: two levels when the confidence interval spans two
    thresholds, one when it spans one (Zeng 2022, GRADE 34: the CI against the thresholds
    is the primary criterion); when it spans none, one level with fewer than
    ``grade.imprecision.min_patients`` patients, the stand-in for the optimal information
    size of a rate (Guyatt 2011, GRADE 6).
    """
    cuts = plan.thresholds(profile.outcome)
    min_n = plan["grade"]["imprecision"]["min_patients"]
    crossed = thresholds_crossed(*profile.ci, cuts)
    change = imprecision_change(crossed, profile.n_patients, min_n)
    if crossed:
        spans = plural(crossed, "threshold")
        reason = f"the confidence interval spans {spans} ({_cuts_text(cuts)})"
    elif change:
        reason = (
            f"the confidence interval lies between the thresholds {_cuts_text(cuts)} but "
            f"only {plural(profile.n_patients, 'patient')} "
            f"contribute{'s' if profile.n_patients == 1 else ''} (fewer than {min_n})"
        )
    else:
        reason = (
            f"the confidence interval lies between the thresholds {_cuts_text(cuts)}, "
            f"with {plural(profile.n_patients, 'patient')}"
        )
    return DomainRating("imprecision", change, reason)


def rate_indirectness(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Indirectness: patients narrower than the statement's population, mixed disease
    status, or patients counted twice.

    Notes
    -----
    One level per concern, at most two: the patients studied are narrower than the stratum
    (``profile.narrower``: older adults only, one Philadelphia-chromosome status only); the
    population mixes newly diagnosed and relapsed or refractory patients; more than
    ``grade.indirectness.overlap_share_serious`` of the patients belong to cohorts that
    another included report also describes.
    """
    limit = plan["grade"]["indirectness"]["overlap_share_serious"]
    concerns = []
    if profile.narrower:
        concerns.append("the studies enrolled " + " and ".join(profile.narrower))
    if profile.mixed_population:
        concerns.append("newly diagnosed and relapsed/refractory patients are pooled together")
    if profile.overlap_share > limit:
        concerns.append(
            f"{_pct(profile.overlap_share)} of patients are in cohorts reported more than once"
        )
    if not concerns:
        return DomainRating(
            "indirectness", 0, "the studied patients match the population; no overlapping cohorts"
        )
    return DomainRating("indirectness", -min(2, len(concerns)), "; ".join(concerns))


def rate_publication_bias(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Publication and non-reporting bias.

    Notes
    -----
    With at least ``small_study_effects.min_k`` studies, the sample-size based regression
    test: one level when p < ``grade.publication_bias.alpha``. With fewer, judged from what
    the data record (Guyatt 2011, GRADE 5): suspected, one level, when eligible studies
    whose reports were searched and did not give the outcome hold more than
    ``missing_share_serious`` of the patients who could have contributed.
    """
    rules = plan["grade"]["publication_bias"]
    min_k = plan["small_study_effects"]["min_k"]
    if profile.k >= min_k and profile.small_study_pvalue is not None:
        p = profile.small_study_pvalue
        if p < rules["alpha"]:
            return DomainRating(
                "publication_bias", -1, f"sample-size test p = {p:.3f} < {rules['alpha']}"
            )
        return DomainRating("publication_bias", 0, f"sample-size test p = {p:.3f}")
    if profile.k >= min_k and not profile.small_study_unavailable:
        raise ValueError(
            f"{profile.outcome}/{profile.population}: k = {profile.k} >= {min_k} "
            "but no small-study test p-value was given"
        )
    why = profile.small_study_unavailable or f"{plural(profile.k, 'study')}, too few for a test"
    if profile.missing_share > rules["missing_share_serious"]:
        return DomainRating(
            "publication_bias",
            -1,
            f"suspected: {plural(profile.missing_studies, 'eligible study')} "
            f"with {_pct(profile.missing_share)} of the patients did not report it ({why})",
        )
    if profile.missing_studies:
        return DomainRating(
            "publication_bias",
            0,
            f"not suspected: {plural(profile.missing_studies, 'eligible study')} "
            f"with {_pct(profile.missing_share)} of the patients did not report it ({why})",
        )
    return DomainRating(
        "publication_bias", 0, f"not suspected: no eligible study is known to lack it ({why})"
    )


def assess(profile: EvidenceProfile, plan: Plan) -> Certainty:
    """Rate the certainty of one outcome in one population.

    Parameters
    ----------
    profile : EvidenceProfile
    plan : Plan

    Returns
    -------
    Certainty
        Starting level from ``grade.starting_level``, lowered by the sum of the domain
        changes and floored at "very low".
    """
    if profile.k < 1:
        raise ValueError(f"{profile.outcome}/{profile.population}: no study, nothing to rate")
    levels = plan["grade"]["levels"]
    start = plan["grade"]["starting_level"]
    domains = (
        rate_risk_of_bias(profile, plan),
        rate_inconsistency(profile, plan),
        rate_indirectness(profile, plan),
        rate_imprecision(profile, plan),
        rate_publication_bias(profile, plan),
    )
    index = max(0, levels.index(start) + sum(d.change for d in domains))
    return Certainty(profile.outcome, profile.population, start, levels[index], domains)


def _per(value: float, per: int) -> str:
    return f"{value * per:.0f}"


def plain_language(profile: EvidenceProfile, certainty: Certainty, plan: Plan) -> str:
    """A GRADE informative statement for a rate, e.g. "About 70 in 100 adults ... ".

    Notes
    -----
    Wording follows Santesso 2020 for each level: high, no qualifier; moderate,
    "probably"; low, "may"; very low, "the evidence is very uncertain". Rates below
    ``wording.rare_below`` are given per 1000, others per 100. The statement names the
    patients actually studied (``profile.studied``, else the stratum's phrase) and, where
    leaving out less trustworthy rows moves the rate across a threshold, says so.
    """
    wording = plan["wording"]
    words = plan.wording(profile.outcome)
    who = profile.studied or plan.population(profile.population)["phrase"]
    per = wording["per_rare"] if profile.estimate < wording["rare_below"] else wording["per"]
    rate = f"{_per(profile.estimate, per)} in {per}"
    ci = f"{plan.level * 100:.0f}% CI {_per(profile.ci[0], per)} to {_per(profile.ci[1], per)}"
    tail = f" ({ci}; {certainty.level} certainty)."
    if profile.robustness:
        tail += (
            " The rate crosses a decision threshold when " + " or ".join(profile.robustness) + "."
        )
    verb = words["verb"]
    if certainty.level == "very low":
        return f"The evidence is very uncertain about how many {who} {verb}: about {rate}{tail}"
    verb = _qualified(verb, wording["certainty_phrases"][certainty.level])
    return f"About {rate} {who} {verb}{tail}"


def _qualified(verb: str, adverb: str) -> str:
    """The verb phrase with the certainty word: "reach" -> "probably reach", "may reach";
    "are alive" -> "are probably alive", "may be alive"."""
    if not adverb:
        return verb
    head, _, rest = verb.partition(" ")
    if head in ("are", "is"):
        return f"may be {rest}" if adverb == "may" else f"{head} {adverb} {rest}"
    return f"{adverb} {verb}"


REGIMEN_PHRASES = {
    "ino_mono": "InO alone",
    "ino_chemo": "InO with chemotherapy",
    "ino_blina": "InO with blinatumomab",
    "ino_chemo_pm_blina": "InO with chemotherapy, with or without blinatumomab",
}


def narrower_population(rows: pd.DataFrame, plan: Plan) -> tuple[str, ...]:
    """How the patients of these rows are narrower than their disease-status stratum.

    "older adults only" when every reported median age is at or above
    ``grade.indirectness.older_adults_median_age`` and the studies reporting it hold more
    than half the patients; "<status> disease only" when every study is restricted to one
    Philadelphia-chromosome status.
    """
    out = []
    limit = plan["grade"]["indirectness"]["older_adults_median_age"]
    ages = pd.to_numeric(rows.get("age_median"), errors="coerce") if "age_median" in rows else None
    size = _sizes(rows, plan)
    if ages is not None and ages.notna().any():
        known = ages.notna()
        if (ages[known] >= limit).all() and size[known].sum() > size.sum() / 2:
            out.append("older adults only")
    if "ph_status" in rows:
        status = rows["ph_status"].fillna("unknown").astype(str)
        if len(status) and status.isin(["negative"]).all():
            out.append("Ph-negative disease only")
        elif len(status) and status.isin(["positive"]).all():
            out.append("Ph-positive disease only")
    return tuple(out)


def studied_population(rows: pd.DataFrame, population: str, plan: Plan) -> str:
    """The patients actually studied, for the statement: the stratum's phrase narrowed by
    age and Philadelphia-chromosome status, the range of study median ages, and the regimen."""
    phrase = plan.population(population)["phrase"]
    narrower = narrower_population(rows, plan)
    if "older adults only" in narrower and phrase.startswith("adults"):
        phrase = "older " + phrase
    if "Ph-negative disease only" in narrower:
        phrase = phrase.replace(" ALL", " Ph-negative ALL", 1)
    elif "Ph-positive disease only" in narrower:
        phrase = phrase.replace(" ALL", " Ph-positive ALL", 1)
    ages = (
        pd.to_numeric(rows.get("age_median"), errors="coerce").dropna()
        if "age_median" in rows
        else pd.Series(dtype=float)
    )
    if len(ages) == 1:
        phrase += f" (median age {ages.iloc[0]:.0f})"
    elif len(ages) > 1:
        phrase += f" (median ages {ages.min():.0f} to {ages.max():.0f})"
    groups = rows["regimen_group"].dropna().unique() if "regimen_group" in rows else []
    regimen = REGIMEN_PHRASES.get(groups[0]) if len(groups) == 1 else None
    return f"{phrase} treated with {regimen or 'InO alone or in combination'}"


def _sizes(rows: pd.DataFrame, plan: Plan) -> pd.Series:
    """Patients per row: the denominator, or the number analysed for survival rows."""
    total = plan.col("total")
    size = rows[total] if total in rows else pd.Series(index=rows.index, dtype=float)
    if plan.col("n_analysed") in rows:
        size = size.fillna(rows[plan.col("n_analysed")])
    return pd.to_numeric(size, errors="coerce").fillna(0).astype(float)


def _share(mask: pd.Series, totals: pd.Series) -> float:
    n = float(totals.sum())
    return float(totals[mask.fillna(False).astype(bool)].sum()) / n if n > 0 else 0.0


def evidence_profile(
    df: pd.DataFrame,
    fit,
    *,
    outcome: str,
    population: str,
    plan: Plan,
    small_study_pvalue: float | None = None,
    study_estimates: Sequence[float] | None = None,
    context: pd.DataFrame | None = None,
) -> EvidenceProfile:
    """Build the GRADE inputs from the rows that entered a fit and the fit itself.

    Parameters
    ----------
    df : DataFrame
        The rows of the fit, with the plan's columns for totals, source tier, cohort and
        disease status (``review.data.outcome`` or ``landmark``).
    fit : metaprop.MetaResult
        The fitted model (its ``estimate``, ``ci``, ``k``, ``tau2``, ``q_pvalue`` and, with
        enough studies, ``prediction_interval(dist=...)`` with the plan's distribution).
    outcome, population : str
        Outcome code and population key of the plan.
    plan : Plan
    small_study_pvalue : float, optional
        p-value of the sample-size based test when it was run.
    study_estimates : sequence of float, optional
        Per-study proportions; by default events / total. Needed for rows without counts
        (survival landmarks), whose size is the number analysed.
    context : DataFrame, optional
        :func:`study_context`: every study's risk-of-bias judgement (``rob_overall``; and
        ``rob_high``, high in a domain other than reporting) and whether it is known not to
        report this outcome. Without it, no study counts as of concern for risk of
        bias beyond its report tier, and none as missing.
    """
    has_counts = plan.col("events") in df and df[plan.col("events")].notna().all()
    totals = _sizes(df, plan)
    if study_estimates is None:
        if not has_counts:
            raise ValueError(f"{outcome}/{population}: rows without counts need study_estimates")
        study_estimates = (df[plan.col("events")] / totals).tolist()
    rules = plan["grade"]["risk_of_bias"]
    study = df[plan.col("study")]
    non_full = df[plan.col("source_tier")].isin(rules["non_full_tiers"])
    judged = (
        context.set_index("study_id")["rob_overall"]
        if context is not None and len(context)
        else pd.Series(dtype=object)
    )
    rob = study.map(judged).astype(object)
    rob = rob.where(rob.notna(), "not assessed")
    concern = non_full | (rob != "low")
    high = (
        study.map(context.set_index("study_id")["rob_high"]).fillna(False).astype(bool)
        if context is not None and "rob_high" in context
        else rob == "high"
    )
    # Overlap: every row of a cohort beyond its largest report counts as double-counted.
    cohort = df[plan.col("cohort_id")].astype(object)
    cohort = cohort.where(cohort.notna() & (cohort != ""), study)
    largest = totals.groupby(cohort).transform("max")
    rank = totals.groupby(cohort).rank(method="first", ascending=False)
    duplicate = cohort.duplicated(keep=False) & ~((totals == largest) & (rank == 1))
    mixed = df[plan.col("disease_status")].nunique() > 1
    pi_rules = plan["heterogeneity"]["prediction_interval"]
    pi = None
    if fit.k >= pi_rules["min_k"]:
        # the plan's prediction interval (t with k-1 df), not the fit's default
        pi = tuple(float(x) for x in fit.prediction_interval(dist=pi_rules["dist"]))
    missing_share, missing_studies = _missing(df, context, population, plan, totals)
    tau2 = getattr(fit, "tau2", None)
    q_p = getattr(fit, "q_pvalue", None)
    return EvidenceProfile(
        outcome=outcome,
        population=population,
        k=int(fit.k),
        n_patients=int(totals.sum()),
        estimate=float(fit.estimate),
        ci=(float(fit.ci[0]), float(fit.ci[1])),
        pi=pi,
        study_estimates=tuple(float(v) for v in study_estimates),
        rob_concern_share=_share(concern, totals),
        rob_high_share=_share(high, totals),
        overlap_share=_share(duplicate, totals),
        mixed_population=bool(mixed),
        narrower=() if mixed else narrower_population(df, plan),
        studied="" if mixed else studied_population(df, population, plan),
        tau2=None if tau2 is None else float(tau2),
        heterogeneity_pvalue=None if q_p is None else float(q_p),
        small_study_pvalue=small_study_pvalue,
        missing_share=missing_share,
        missing_studies=missing_studies,
    )


def _missing(
    rows: pd.DataFrame, context: pd.DataFrame | None, population: str, plan: Plan, totals
) -> tuple[float, int]:
    """Share of patients in eligible studies of this population that searched reports show
    not to give the outcome (another report of the same cohort giving it does not count)."""
    if context is None or context.empty:
        return 0.0, 0
    gone = context[context["missing_outcome"].astype(bool)]
    if population != plan.comparison["key"]:
        gone = gone[gone["disease_status"] == plan.population(population)["value"]]
    analysed = set(rows[plan.col("cohort_id")].fillna(rows[plan.col("study")]))
    gone = gone[~gone["cohort_id"].fillna(gone["study_id"]).isin(analysed)]
    gone = gone.drop_duplicates("cohort_id")
    n_gone = float(pd.to_numeric(gone["n_enrolled"], errors="coerce").fillna(0).sum())
    n = n_gone + float(totals.sum())
    return (n_gone / n if n > 0 else 0.0), len(gone)


def _fit_like(fit) -> SimpleNamespace | None:
    """What :func:`evidence_profile` reads from a pooled fit or a single study: the reported
    rate and interval (the plan's interval for k studies, ``PooledFit.headline`` where it
    comes from another model), heterogeneity from the fitted model."""
    if fit.result is not None and fit.headline is not None:
        res, head = fit.result, fit.headline
        return SimpleNamespace(
            k=res.k,
            estimate=head.estimate,
            ci=head.ci,
            pi=head.pi,
            tau2=res.tau2,
            q_pvalue=res.q_pvalue,
            prediction_interval=lambda dist: head.pi,
        )
    if fit.result is not None:
        return fit.result
    if fit.single is None or fit.single.empty:
        return None
    one = fit.single.iloc[0]
    return SimpleNamespace(
        k=1,
        estimate=float(one["proportion"]),
        ci=(float(one["ci_low"]), float(one["ci_high"])),
        pi=None,
    )


def study_context(code: str, plan: Plan, *, data_dir=None) -> pd.DataFrame:
    """Every study's attributes that GRADE reads beyond an outcome's rows: disease status,
    cohort, size, this review's overall risk-of-bias judgement (``rob_overall``) and
    whether its searched reports are recorded not to give outcome ``code``
    (``missing_outcome``, from data/missing.csv)."""

    ds = data.load(data_dir)
    eligible = ds.studies[ds.studies["id_role"] != "runner_up"]  # runner-ups are candidates
    ctx = eligible[["study_id", "disease_status", "cohort_id", "n_enrolled"]].copy()
    ctx["cohort_id"] = ctx["cohort_id"].replace("", pd.NA)
    ctx["missing_outcome"] = ctx["study_id"].isin(
        ds.missing.loc[ds.missing["outcome"] == code, "study_id"]
    )
    judged = rob.overall(ctx["study_id"], data_dir=data_dir, plan=plan).set_index("study_id")
    ctx["rob_overall"] = ctx["study_id"].map(judged["overall"])
    # A high judgement of the reporting domain says the report is not a full publication,
    # which the non-full-report concern already counts: it makes a study of concern, not
    # one at high risk (one concern is not counted for two levels).
    domains = rob.judgements(data_dir=data_dir, plan=plan)
    high = domains[(domains["judgement"] == "high") & (domains["domain"] != "reporting")]
    ctx["rob_high"] = ctx["study_id"].isin(high["study_id"])
    return ctx.reset_index(drop=True)


def _robustness_masks(rows: pd.DataFrame, plan: Plan) -> dict[str, tuple[pd.Series, str]]:
    """The plan's robustness refits: which rows each keeps, and the phrase for the statement."""

    rules = plan["row_selection"]
    order = rules["id_confidence_order"]
    above_low = order.index(rules["min_id_confidence"]) + 1
    confidence = rows[plan.col("id_confidence")].map({c: i for i, c in enumerate(order)})
    flagged = analysis.flagged_counts(rows)
    non_full = plan["grade"]["risk_of_bias"]["non_full_tiers"]
    return {
        "no_non_full_reports": (
            ~rows[plan.col("source_tier")].isin(non_full),
            "reports that are not full publications are left out",
        ),
        "no_low_confidence": (
            confidence.fillna(-1) >= above_low,
            "reports identified with low confidence are left out",
        ),
        "no_flagged_counts": (
            ~flagged,
            "counts that are lower bounds or rest on assumed or inferred denominators are left out",
        ),
    }


def robustness_checks(fit, plan: Plan) -> tuple[str, ...]:
    """Refits without less trustworthy rows that move the rate across a threshold that the
    primary interval does not cross (``grade.robustness``), each as a phrase with the rate
    it gives. Rows of a refit that keeps every row, or none, are not refitted.
    """

    like = _fit_like(fit)
    if like is None:
        return ()
    cuts = plan.thresholds(fit.outcome)
    low, high = like.ci
    survival = fit.outcome in plan["survival"]["outcomes"]
    masks = _robustness_masks(fit.rows, plan)
    out = []
    for choice in plan["grade"]["robustness"]["choices"]:
        keep, phrase = masks[choice]
        keep = keep.fillna(False).astype(bool)
        if keep.all() or not keep.any():
            continue
        refit = analysis.landmark_fit if survival else analysis.primary_fit
        other = _fit_like(
            refit(
                fit.rows[keep], plan, outcome=fit.outcome, population=fit.population, select=False
            )
        )
        lo, hi = sorted((like.estimate, other.estimate))
        moved = [c for c in cuts if lo < c < hi and not low < c < high]
        if moved:
            kept = plural(int(keep.sum()), "study")
            out.append(f"{phrase} ({_pct(other.estimate)} from {kept})")
    return tuple(out)


def summary_row(fit, plan: Plan, context: pd.DataFrame | None = None) -> dict:
    """One summary-of-findings row: numbers, certainty with reasons, plain language.

    Parameters
    ----------
    fit : review.analysis.PooledFit
    plan : Plan
    context : DataFrame, optional
        :func:`study_context` for the outcome.
    """

    pop = plan.population(fit.population)
    record = {
        "outcome": fit.outcome,
        "outcome_name": plan.wording(fit.outcome)["name"],
        "population": pop["label"],
        "k": fit.k,
        "patients": analysis.patients(fit.rows, plan),
    }
    like = _fit_like(fit)
    if like is None:
        return record | {
            "certainty": "no evidence",
            "reasons": fit.note,
            "statement": f"No study reported {record['outcome_name']} in {pop['phrase']}.",
        }
    het = analysis.heterogeneity(fit, plan)
    pvalue, unavailable = None, ""
    if fit.k >= plan["small_study_effects"]["min_k"]:
        if fit.outcome in plan["survival"]["outcomes"]:
            unavailable = "no sample-size test for landmarks pooled from reported estimates"
        else:
            try:
                pvalue = analysis.small_study_effects(fit, plan)["sample_size_test"].pvalue
            except ValueError as err:  # e.g. every study of one size: no test can run
                unavailable = f"the sample-size test cannot run ({err})"
    estimates = None
    if fit.outcome in plan["survival"]["outcomes"]:
        estimates = fit.rows[plan.col("estimate")].astype(float).tolist()
    profile = evidence_profile(
        fit.rows,
        like,
        outcome=fit.outcome,
        population=fit.population,
        plan=plan,
        small_study_pvalue=pvalue,
        study_estimates=estimates,
        context=context,
    )
    profile = replace(
        profile, small_study_unavailable=unavailable, robustness=robustness_checks(fit, plan)
    )
    cert = assess(profile, plan)
    return record | {
        "estimate": profile.estimate,
        "ci_low": profile.ci[0],
        "ci_high": profile.ci[1],
        "pi_low": het["pi_low"],
        "pi_high": het["pi_high"],
        "pooled": fit.pooled,
        "certainty": cert.level,
        "rated_down": cert.rated_down,
        "reasons": cert.reasons,
        "statement": plain_language(profile, cert, plan),
        "note": fit.note,
    }


def summary_of_findings(
    plan: Plan, *, outcomes: Sequence[str] | None = None, data_dir=None
) -> pd.DataFrame:
    """The summary-of-findings table: every outcome of the plan in every population.

    Disease-status strata first; the all-patients comparison row of each outcome is kept
    and labelled (its indirectness is rated down by the rules).
    """

    rows = []
    for code in outcomes or plan["summary_of_findings"]["outcomes"]:
        rows += outcome_summary(
            code,
            analysis.rows_for(code, plan, data_dir=data_dir),
            study_context(code, plan, data_dir=data_dir),
            plan,
        )
    return pd.DataFrame(rows).reindex(columns=SOF_COLUMNS)


@memo.cached
def outcome_summary(code: str, df: pd.DataFrame, context: pd.DataFrame, plan: Plan) -> list[dict]:
    """The summary-of-findings rows of one outcome (one per population), from its rows and
    :func:`study_context` (both part of the memo's key)."""

    return [summary_row(fit, plan, context) for fit in analysis.fits_for(code, df, plan).values()]


def display_table(sof: pd.DataFrame, plan: Plan, population: str | None = None) -> pd.DataFrame:
    """The summary-of-findings table as a reader scans it: one short text column per item.

    Parameters
    ----------
    sof : DataFrame
        :func:`summary_of_findings`.
    plan : Plan
    population : str, optional
        Keep the rows of one population (its key, e.g. ``relapsed_refractory``); all rows,
        with a Population column, by default.

    Returns
    -------
    DataFrame
        Outcome, [Population], Studies (patients), Rate (CI), PI, Certainty (GRADE symbols
        and level) and the domains that rated it down; rates in percent with one decimal
        (``review.book`` formatting). The full reasons and unrounded numbers stay in ``sof``.
    """

    level = f"{100 * plan.level:g}%"
    if population is not None:
        sof = sof[sof["population"] == plan.population(population)["label"]]

    out = pd.DataFrame(
        {
            "Outcome": sof["outcome_name"],
            "Population": sof["population"],
            "Studies (patients)": formats.studies_column(sof),
            f"Rate ({level} CI)": formats.rate_column(sof, "estimate", "ci_low", "ci_high"),
            f"{level} PI": formats.interval_column(sof, "pi_low", "pi_high"),
            "Certainty": [f"{SYMBOLS[c]} {c}" if c in SYMBOLS else c for c in sof["certainty"]],
            "Rated down for": sof["rated_down"].fillna(""),
        }
    )
    if population is not None:
        out = out.drop(columns="Population")
    return out.reset_index(drop=True)


_PRINT_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; margin: 1.5cm; }
h1 { font-size: 16pt; } h2 { font-size: 12pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 0.8em; }
th, td { border-bottom: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #333; }
p.meta { color: #444; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def printable_summary(sof: pd.DataFrame, plan: Plan, status: dict | None = None) -> str:
    """The summary of findings as one self-contained HTML page, laid out for printing.

    Parameters
    ----------
    sof : DataFrame
        :func:`summary_of_findings`.
    plan : Plan
    status : dict, optional
        Version and dates (:func:`review.data.versions.status`); read from the data by default.

    Returns
    -------
    str
        An HTML document (inline style, no scripts, every text escaped): the version line,
        one table per population, the plain-language statements and the reasons for each
        rating.
    """

    status = status or versions.status()
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Summary of findings: inotuzumab ozogamicin in adult ALL</title>",
        f"<style>{_PRINT_CSS}</style></head><body>",
        "<h1>Inotuzumab ozogamicin in adult ALL: summary of findings</h1>",
        f'<p class="meta">Version {esc(str(status["version"]))}; data as of '
        f"{esc(str(status['data_date']))}; last search {esc(str(status['search_date']))}; "
        f"data hash {esc(str(status['data_hash']))}. Certainty of evidence by GRADE, "
        f"starting at {esc(plan['grade']['starting_level'])} and rated down by rule.</p>",
    ]
    for pop in [*plan.strata, plan.comparison]:
        shown = display_table(sof, plan, pop["key"])
        parts.append(f"<h2>{esc(pop['label'])}</h2>")
        parts.append(shown.to_html(index=False, escape=True, border=0))
    stated = sof[sof["certainty"] != "no evidence"]
    parts.append("<h2>In plain language</h2><ul>")
    parts += [f"<li>{esc(str(text))}</li>" for text in stated["statement"]]
    parts.append("</ul><h2>Why each rating</h2>")
    reasons = sof[["outcome_name", "population", "certainty", "reasons"]]
    parts.append(reasons.to_html(index=False, escape=True, border=0))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def rules_frame(plan: Plan) -> pd.DataFrame:
    """Each GRADE domain's rule, worded from the same plan parameters the rating functions
    read, with the plan's reason: the table the Methods and Summary pages show."""
    g = plan["grade"]
    rob, ind, pb = g["risk_of_bias"], g["indirectness"], g["publication_bias"]
    min_k = plan["small_study_effects"]["min_k"]
    rules = {
        "risk of bias": (
            f"One level when more than {_pct(rob['concern_share_serious'])} of patients are in "
            "studies of concern (this review's overall judgement not low, or numbers only from "
            "an abstract, press release, news summary or secondary copy); two levels when more "
            f"than {_pct(rob['high_share_very_serious'])} are in studies at high risk. A refit "
            "without less trustworthy rows that crosses a threshold the interval does not "
            "cross adds one level; at most two.",
            g["risk_of_bias"]["reason"],
        ),
        "inconsistency": (
            "Not judged with one study. No change unless the studies vary beyond chance "
            f"(tau² above zero and heterogeneity p below {g['inconsistency']['q_alpha']}); "
            "then, with three or more studies, one level per threshold inside the prediction "
            "interval, no more than the thresholds separating the study estimates; with two, "
            "one level when they fall on different sides of a threshold; at most two.",
            g["inconsistency"]["reason"],
        ),
        "indirectness": (
            "One level per concern, at most two: patients narrower than the statement's "
            f"population (every median age {ind['older_adults_median_age']} or more, or one "
            "Philadelphia-chromosome status only); disease statuses mixed; more than "
            f"{_pct(ind['overlap_share_serious'])} of patients in cohorts reported twice.",
            ind["reason"],
        ),
        "imprecision": (imprecision_rule(plan), g["imprecision"]["reason"]),
        "publication bias": (
            f"With {min_k} or more studies, one level when the sample-size test's p is below "
            f"{pb['alpha']}; with fewer, one level when eligible studies known not to report "
            f"the outcome hold more than {_pct(pb['missing_share_serious'])} of the patients "
            "who could have contributed.",
            pb["reason"],
        ),
    }
    return pd.DataFrame(
        [
            {"Domain": d.capitalize(), "Rule": rule, "Why": " ".join(why.split())}
            for d, (rule, why) in rules.items()
        ]
    )
