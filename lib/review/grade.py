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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from review import memo
from review.plan import Plan

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
    ``small_study_pvalue`` is the sample-size based regression test's p-value, or None when
    it was not run (fewer studies than the plan's minimum).
    """

    outcome: str
    population: str
    k: int
    n_patients: int
    estimate: float
    ci: tuple[float, float]
    pi: tuple[float, float] | None
    study_estimates: tuple[float, ...]
    abstract_share: float
    low_quality_share: float
    overlap_share: float
    mixed_population: bool
    small_study_pvalue: float | None = None
    retrospective_share: float = 0.0
    small_study_unavailable: str = ""


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
    """Risk of bias: shares of patients from abstracts, low-quality studies, retrospective
    cohorts.

    Notes
    -----
    Each concern counts when it covers more than the plan's share of patients
    (``grade.risk_of_bias``); one concern rates down one level, two or more rate down two.
    Study quality is MINORS (single-arm) or modified Jadad (randomised); the RCT's InO arm
    is used as a cohort and needs no downgrade for its design.
    """
    rules = plan["grade"]["risk_of_bias"]
    concerns = []
    if profile.abstract_share > rules["abstract_share_serious"]:
        concerns.append(
            f"{_pct(profile.abstract_share)} of patients come from conference abstracts"
        )
    if profile.low_quality_share > rules["low_quality_share_serious"]:
        concerns.append(
            f"{_pct(profile.low_quality_share)} of patients come from studies "
            f"scoring below MINORS {rules['minors_low_quality_below']} or modified "
            f"Jadad {rules['jadad_low_quality_below']}, or not scored"
        )
    if profile.retrospective_share > rules["retrospective_share_serious"]:
        concerns.append(
            f"{_pct(profile.retrospective_share)} of patients come from retrospective cohorts"
        )
    if not concerns:
        return DomainRating(
            "risk_of_bias", 0, "most patients come from full reports of adequately scored studies"
        )
    return DomainRating("risk_of_bias", -min(2, len(concerns)), "; ".join(concerns))


def rate_inconsistency(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Inconsistency: do the studies lead to different decisions?

    Notes
    -----
    With k >= 3: the number of thresholds inside the prediction interval, counted only
    when the study estimates themselves fall in more than one band (a wide interval from
    studies that agree on the decision reflects few studies, judged under imprecision);
    rated down by min(thresholds crossed, bands spanned - 1). With k = 2: one level when
    the two estimates fall in different bands. With k = 1: not assessable, no change.
    """
    cuts = plan.thresholds(profile.outcome)
    if profile.k < 2:
        return DomainRating(
            "inconsistency", 0, "one study: inconsistency cannot be judged", assessed=False
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
            f"the prediction interval spans {crossed} of the thresholds "
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


def rate_imprecision(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Imprecision: the confidence interval against the thresholds and the number of patients.

    Notes
    -----
    Rated down by min(2, c + s), where c is the number of thresholds inside the CI and
    s = 1 when fewer patients than ``grade.imprecision.min_patients`` contribute (the
    optimal information size stand-in for a rate; Guyatt 2011).
    """
    cuts = plan.thresholds(profile.outcome)
    min_n = plan["grade"]["imprecision"]["min_patients"]
    crossed = thresholds_crossed(*profile.ci, cuts)
    small = profile.n_patients < min_n
    parts = []
    if crossed:
        noun = "threshold" if crossed == 1 else "thresholds"
        parts.append(f"the confidence interval spans {crossed} {noun} ({_cuts_text(cuts)})")
    if small:
        parts.append(f"only {profile.n_patients} patients (fewer than {min_n})")
    if not parts:
        return DomainRating(
            "imprecision",
            0,
            f"the confidence interval lies between the "
            f"thresholds {_cuts_text(cuts)}, with {profile.n_patients} patients",
        )
    return DomainRating("imprecision", -min(2, crossed + small), "; ".join(parts))


def rate_indirectness(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Indirectness: mixed disease status and patients counted twice in overlapping cohorts.

    Notes
    -----
    One level per concern, at most two: the population mixes newly diagnosed and relapsed
    or refractory patients; more than ``grade.indirectness.overlap_share_serious`` of the
    patients belong to cohorts that another included report also describes.
    """
    limit = plan["grade"]["indirectness"]["overlap_share_serious"]
    concerns = []
    if profile.mixed_population:
        concerns.append("newly diagnosed and relapsed/refractory patients are pooled together")
    if profile.overlap_share > limit:
        concerns.append(
            f"{_pct(profile.overlap_share)} of patients are in cohorts reported more than once"
        )
    if not concerns:
        return DomainRating("indirectness", 0, "one disease status; no overlapping cohorts")
    return DomainRating("indirectness", -min(2, len(concerns)), "; ".join(concerns))


def rate_publication_bias(profile: EvidenceProfile, plan: Plan) -> DomainRating:
    """Publication bias: the sample-size based regression test, only with enough studies.

    Notes
    -----
    With fewer than ``small_study_effects.min_k`` studies: not assessed, no change. Else
    rated down one level when the test's p-value is below ``grade.publication_bias.alpha``.
    """
    min_k = plan["small_study_effects"]["min_k"]
    alpha = plan["grade"]["publication_bias"]["alpha"]
    if profile.k < min_k:
        return DomainRating(
            "publication_bias",
            0,
            f"not assessed: {profile.k} studies (a test needs at least {min_k})",
            assessed=False,
        )
    if profile.small_study_pvalue is None and profile.small_study_unavailable:
        return DomainRating(
            "publication_bias",
            0,
            f"not assessed: {profile.small_study_unavailable}",
            assessed=False,
        )
    if profile.small_study_pvalue is None:
        raise ValueError(
            f"{profile.outcome}/{profile.population}: k = {profile.k} >= {min_k} "
            "but no small-study test p-value was given"
        )
    p = profile.small_study_pvalue
    if p < alpha:
        return DomainRating("publication_bias", -1, f"sample-size test p = {p:.3f} < {alpha}")
    return DomainRating("publication_bias", 0, f"sample-size test p = {p:.3f}")


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
    ``wording.rare_below`` are given per 1000, others per 100.
    """
    wording = plan["wording"]
    words = plan.wording(profile.outcome)
    who = plan.population(profile.population)["phrase"]
    per = wording["per_rare"] if profile.estimate < wording["rare_below"] else wording["per"]
    rate = f"{_per(profile.estimate, per)} in {per}"
    ci = f"{plan.level * 100:.0f}% CI {_per(profile.ci[0], per)} to {_per(profile.ci[1], per)}"
    tail = f" ({ci}; {certainty.level} certainty)."
    verb = words["verb"]
    if certainty.level == "very low":
        return f"The evidence is very uncertain about how many {who} {verb}: about {rate}{tail}"
    adverb = wording["certainty_phrases"][certainty.level]
    if adverb:
        # "are alive" -> "are probably alive"; "reach" -> "probably reach"
        head, _, rest = verb.partition(" ")
        verb = f"{head} {adverb} {rest}" if head in ("are", "is") else f"{adverb} {verb}"
    return f"About {rate} {who} {verb}{tail}"


def _share(mask: pd.Series, totals: pd.Series) -> float:
    n = float(totals.sum())
    return float(totals[mask].sum()) / n if n > 0 else math.nan


def evidence_profile(
    df: pd.DataFrame,
    fit,
    *,
    outcome: str,
    population: str,
    plan: Plan,
    small_study_pvalue: float | None = None,
    study_estimates: Sequence[float] | None = None,
) -> EvidenceProfile:
    """Build the GRADE inputs from the rows that entered a fit and the fit itself.

    Parameters
    ----------
    df : DataFrame
        The rows of the fit, with the plan's columns for totals, source tier, MINORS,
        Jadad, cohort and disease status.
    fit : metaprop.MetaResult
        The fitted model (its ``estimate``, ``ci``, ``k`` and, with enough studies,
        ``prediction_interval(dist=...)`` with the plan's distribution are used).
    outcome, population : str
        Outcome code and population key of the plan.
    plan : Plan
    small_study_pvalue : float, optional
        p-value of the sample-size based test when it was run.
    study_estimates : sequence of float, optional
        Per-study proportions; by default events / total. Needed for rows without counts
        (survival landmarks), whose size is the number analysed.
    """
    has_counts = plan.col("events") in df and df[plan.col("events")].notna().all()
    size_col = plan.col("total") if has_counts else plan.col("n_analysed")
    totals = df[size_col].astype(float)
    if study_estimates is None:
        if not has_counts:
            raise ValueError(f"{outcome}/{population}: rows without counts need study_estimates")
        study_estimates = (df[plan.col("events")] / totals).tolist()
    rules = plan["grade"]["risk_of_bias"]
    abstracts = df[plan.col("source_tier")].isin(plan["row_selection"]["abstract_tiers"])
    minors = pd.to_numeric(df.get(plan.col("minors")), errors="coerce")
    jadad = pd.to_numeric(df.get(plan.col("jadad")), errors="coerce")
    scored_ok = (minors >= rules["minors_low_quality_below"]) | (
        jadad >= rules["jadad_low_quality_below"]
    )
    # Overlap: every row of a cohort beyond its largest report counts as double-counted.
    cohort = df[plan.col("cohort_id")]
    largest = totals.groupby(cohort).transform("max")
    rank = totals.groupby(cohort).rank(method="first", ascending=False)
    duplicate = cohort.duplicated(keep=False) & ~((totals == largest) & (rank == 1))
    retrospective = df[plan.col("design")].isin(rules["retrospective_designs"])
    mixed = df[plan.col("disease_status")].nunique() > 1
    pi_rules = plan["heterogeneity"]["prediction_interval"]
    pi = None
    if fit.k >= pi_rules["min_k"]:
        # the plan's prediction interval (t with k-1 df), not the fit's default
        pi = tuple(float(x) for x in fit.prediction_interval(dist=pi_rules["dist"]))
    return EvidenceProfile(
        outcome=outcome,
        population=population,
        k=int(fit.k),
        n_patients=int(totals.sum()),
        estimate=float(fit.estimate),
        ci=(float(fit.ci[0]), float(fit.ci[1])),
        pi=pi,
        study_estimates=tuple(float(v) for v in study_estimates),
        abstract_share=_share(abstracts, totals),
        low_quality_share=_share(~scored_ok, totals),
        overlap_share=_share(duplicate, totals),
        mixed_population=bool(mixed),
        small_study_pvalue=small_study_pvalue,
        retrospective_share=_share(retrospective, totals),
    )


def _fit_like(fit) -> SimpleNamespace | None:
    """What :func:`evidence_profile` reads from a pooled fit or a single study."""
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


def summary_row(fit, plan: Plan) -> dict:
    """One summary-of-findings row: numbers, certainty with reasons, plain language.

    Parameters
    ----------
    fit : review.analysis.PooledFit
    plan : Plan
    """
    from review import analysis

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
            pvalue = analysis.small_study_effects(fit, plan)["sample_size_test"].pvalue
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
    )
    profile = replace(profile, small_study_unavailable=unavailable)
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
    from review import analysis

    rows = []
    for code in outcomes or plan["summary_of_findings"]["outcomes"]:
        rows += outcome_summary(code, analysis.rows_for(code, plan, data_dir=data_dir), plan)
    return pd.DataFrame(rows).reindex(columns=SOF_COLUMNS)


@memo.cached
def outcome_summary(code: str, df: pd.DataFrame, plan: Plan) -> list[dict]:
    """The summary-of-findings rows of one outcome (one per population), from its rows."""
    from review import analysis

    return [summary_row(fit, plan) for fit in analysis.fits_for(code, df, plan).values()]


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
    from review import book

    level = f"{100 * plan.level:g}%"
    if population is not None:
        sof = sof[sof["population"] == plan.population(population)["label"]]

    out = pd.DataFrame(
        {
            "Outcome": sof["outcome_name"],
            "Population": sof["population"],
            "Studies (patients)": book.studies_column(sof),
            f"Rate ({level} CI)": book.rate_column(sof, "estimate", "ci_low", "ci_high"),
            f"{level} PI": book.interval_column(sof, "pi_low", "pi_high"),
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
        Version and dates (:func:`review.release.status`); read from the data by default.

    Returns
    -------
    str
        An HTML document (inline style, no scripts, every text escaped): the version line,
        one table per population, the plain-language statements and the reasons for each
        rating.
    """
    import html

    from review import release

    status = status or release.status()
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
