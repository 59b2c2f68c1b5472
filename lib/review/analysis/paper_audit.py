"""Audit of the source paper: what a statistical reviewer would check beyond its bounds.

Six classes of checks, each a small function returning findings (one dict per thing
checked) with the paper's numbers, the reasoning, a verdict and the paper's section:

1. prediction intervals against their own confidence interval and k (:func:`check_pi_width`,
   :func:`check_pi_centre`, :func:`check_pi_coincidence`);
2. CI and PI from different models, and adverse-event intervals built on different scales
   (:func:`check_ci_pi_models`, :func:`check_ae_table_scales`);
3. quality assessment against the studies' designs (:func:`check_quality_items_sum`,
   :func:`check_quality_design`, :func:`check_quality_text`, :func:`check_quality_coverage`,
   :func:`check_design_classification`);
4. double counting of cohorts (:func:`check_double_counting`);
5. subgroups against their citations (:func:`check_subgroup_citations`, from
   :mod:`review.analysis.identification`);
6. claims against the paper's own tables and design (:func:`check_claims`,
   :func:`check_text_counts`).

:func:`verdicts` then gives one verdict per outcome: reproduced, not reproducible with the
studies we could identify, or internally inconsistent.

Verdicts: ``inconsistent`` (the numbers cannot all be true), ``questionable`` (possible, but
only under an unlikely reading, or resting on an identification), ``consistent`` and
``not checkable``.

References
----------
Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects
meta-analysis. J R Stat Soc A 2009;172:137-59. doi:10.1111/j.1467-985X.2008.00552.x
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials
1986;7:177-88. doi:10.1016/0197-2456(86)90046-2
Slim K, Nini E, Forestier D, et al. Methodological index for non-randomized studies
(MINORS). ANZ J Surg 2003;73:712-6. doi:10.1046/j.1445-2197.2003.02748.x
Jadad AR, Moore RA, Carroll D, et al. Assessing the quality of reports of randomized
clinical trials: is blinding necessary? Control Clin Trials 1996;17:1-12.
doi:10.1016/0197-2456(95)00134-4
Lao C, Wen J, Wen Y. Front Oncol 2025. doi:10.3389/fonc.2025.1613777
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from scipy import stats

from review.analysis import identification, paper_checks

__all__ = [
    "CLAIMS",
    "PAPER_URL",
    "TEXT_COUNTS",
    "check_ae_table_scales",
    "check_ci_pi_models",
    "check_claims",
    "check_design_classification",
    "check_double_counting",
    "check_pi_centre",
    "check_pi_coincidence",
    "check_pi_width",
    "check_quality_coverage",
    "check_quality_design",
    "check_quality_items_sum",
    "check_quality_text",
    "check_subgroup_citations",
    "checks_table",
    "count_table",
    "check_text_counts",
    "fits_scale",
    "findings_html",
    "pi_width_bound",
    "run_audit",
    "verdict_counts",
    "verdict_table",
    "verdicts_html",
    "verdicts",
]

PAPER_URL = "https://doi.org/10.3389/fonc.2025.1613777"
INCONSISTENT, QUESTIONABLE, CONSISTENT, UNCHECKABLE = (
    "inconsistent",
    "questionable",
    "consistent",
    "not checkable",
)
HALF = 0.05  # printed percentages carry one decimal
CLASSES = {
    1: "Prediction interval against its CI and k",
    2: "CI and PI from different models",
    3: "Quality assessment against the designs",
    4: "Double counting",
    5: "Subgroups against their citations",
    6: "Claims against the paper's own tables",
}
_G: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "percent": lambda p: p,
    "logit": lambda p: np.log(p / (1 - p)),
    "arcsine": lambda p: np.arcsin(np.sqrt(p)),
}
SCALE_WORDS = {"percent": "percent", "logit": "logit", "arcsine": "(double) arcsine"}


def _finding(cls, subject, check, paper, reasoning, verdict, section) -> dict:
    return {
        "class": cls,
        "subject": subject,
        "check": check,
        "paper": paper,
        "reasoning": reasoning,
        "verdict": verdict,
        "section": section,
    }


def _section(row) -> str:
    s = str(row.get("section", ""))
    return s if s.startswith("Table") else f"Section {s}"


def _g(scale: str, pct: float) -> float:
    """A percentage on an analysis scale (NaN where the scale is undefined)."""
    p = pct if scale == "percent" else pct / 100
    if scale != "percent" and not 0 < p < 1:
        return math.nan
    with np.errstate(all="ignore"):
        return float(_G[scale](np.array(p)))


def _span(scale: str, pct: float) -> tuple[float, float]:
    """The range of g(x) for x within rounding of a printed pct (clipped into (0, 100))."""
    lo, hi = pct - HALF, pct + HALF
    if scale != "percent":
        lo, hi = max(lo, 1e-6), min(hi, 100 - 1e-6)
        if lo >= hi:
            return (math.nan, math.nan)
    return (_g(scale, lo), _g(scale, hi))


def fits_scale(scale: str, est: float, lo: float, hi: float) -> bool:
    """Is an interval symmetric about its estimate on ``scale``, within printed rounding?

    Notes
    -----
    A Wald interval on the analysis scale g is g(est) +/- q se; back on the percent scale
    g(lo) + g(hi) = 2 g(est). Each printed value may be off by 0.05 points, so the check
    asks whether 0 lies in the range g(lo) + g(hi) - 2 g(est) takes over those values.
    """
    a, b, c = _span(scale, lo), _span(scale, hi), _span(scale, est)
    if any(math.isnan(v) for v in (*a, *b, *c)):
        return False
    low = a[0] + b[0] - 2 * c[1]
    high = a[1] + b[1] - 2 * c[0]
    return low <= 1e-12 and high >= -1e-12


def pi_width_bound(k: int, *, ci_quantile: str = "z", level: float = 0.95) -> float:
    """The largest ratio of PI to CI half-width a random-effects model allows with k studies.

    Notes
    -----
    With RE weights w_i = 1 / (v_i + tau2) <= 1 / tau2, the variance of the pooled mean is
    se2 = 1 / sum w_i >= tau2 / k, so tau2 <= k se2. The prediction interval
    mu +/- t_{k-2} sqrt(tau2 + se2) (Higgins, Thompson & Spiegelhalter 2009) then has a
    half-width of at most t_{k-2} se sqrt(k + 1), and the Wald CI mu +/- q se one of q se:
    the ratio is at most t_{k-2} sqrt(k + 1) / q. ``ci_quantile="z"`` takes q = z (the
    most lenient: a t-based CI has a larger q).
    """
    a = 1 - (1 - level) / 2
    t = stats.t.ppf(a, k - 2) if k > 2 else math.inf
    q = stats.norm.ppf(a) if ci_quantile == "z" else stats.t.ppf(a, k - 1)
    return float(t * math.sqrt(k + 1) / q)


def _half_widths(scale, est, lo, hi, plo, phi) -> tuple[float, float]:
    """(smallest PI half-width, largest CI half-width) on a scale within rounding."""
    ci = (_span(scale, hi)[1] - _span(scale, lo)[0]) / 2
    pi = (_span(scale, phi)[0] - _span(scale, plo)[1]) / 2
    return pi, ci


def _has_pi(row) -> bool:
    return not (math.isnan(row["pi_low_pct"]) or math.isnan(row["pi_high_pct"]))


def _nums(row) -> str:
    out = f"{row['estimate_pct']:g}% (CI {row['ci_low_pct']:g} to {row['ci_high_pct']:g}"
    if _has_pi(row):
        out += f"; PI {row['pi_low_pct']:g} to {row['pi_high_pct']:g}"
    if not math.isnan(row.get("k", math.nan)):
        out += f"; k = {int(row['k'])}"
    return out + ")"


# --- class 1 -------------------------------------------------------------------------------


def check_pi_width(row) -> dict | None:
    """A PI wider than any random-effects model with this CI and k allows, on every scale."""
    if not _has_pi(row) or math.isnan(row["k"]):
        return None
    k = int(row["k"])
    bound = pi_width_bound(k)
    est, lo, hi, plo, phi = (
        row[c] for c in ("estimate_pct", "ci_low_pct", "ci_high_pct", "pi_low_pct", "pi_high_pct")
    )
    ratios = {}
    for scale in _G:
        pi, ci = _half_widths(scale, est, lo, hi, plo, phi)
        if not (math.isnan(pi) or math.isnan(ci)) and ci > 0:
            ratios[scale] = pi / ci
    if not ratios:
        return _finding(
            1,
            row["outcome"],
            "PI width within what k allows",
            _nums(row),
            "no scale on which both intervals are defined",
            UNCHECKABLE,
            _section(row),
        )
    least = min(ratios.values())
    shown = ", ".join(f"{SCALE_WORDS[s]} {r:.1f}" for s, r in ratios.items())
    reasoning = (
        f"With k = {k}, tau² can be at most k × se², so the PI half-width can be at most "
        f"t(k-2) × √(k+1) / z = {bound:.2f} times the CI half-width. Observed ratio on each "
        f"scale (rounding in the paper's favour): {shown}."
    )
    verdict = INCONSISTENT if least > bound else CONSISTENT
    return _finding(
        1,
        row["outcome"],
        "PI width within what k allows",
        _nums(row),
        reasoning,
        verdict,
        _section(row),
    )


def check_pi_centre(row) -> dict | None:
    """A PI centred on its estimate on at least one candidate analysis scale."""
    if not _has_pi(row):
        return None
    est, plo, phi = row["estimate_pct"], row["pi_low_pct"], row["pi_high_pct"]
    centred = [s for s in _G if fits_scale(s, est, plo, phi)]
    clipped = plo <= HALF or phi >= 100 - HALF
    if centred:
        reasoning = (
            f"centred on the estimate on the {', '.join(SCALE_WORDS[s] for s in centred)} scale"
        )
        verdict = CONSISTENT
    elif clipped:
        reasoning = "a bound at 0% or 100% may be truncated, so the centre cannot be tested"
        verdict = UNCHECKABLE
    else:
        reasoning = (
            "a prediction interval is the estimate ± a multiple of √(tau² + se²) on the "
            "analysis scale, so it is centred on the estimate there; this one is centred on "
            "none of the percent, logit or arcsine scales"
        )
        if not plo - HALF <= est <= phi + HALF:
            reasoning += ", and it does not even contain the estimate"
        verdict = INCONSISTENT
    return _finding(
        1,
        row["outcome"],
        "PI centred on its estimate",
        _nums(row),
        reasoning,
        verdict,
        _section(row),
    )


def check_pi_coincidence(reported: pd.DataFrame) -> list[dict]:
    """PI bounds equal to a CI bound of the same result, or to another outcome's PI bound."""
    rows = reported[reported["pi_low_pct"].notna() & reported["pi_high_pct"].notna()]
    out = []
    for i, r in rows.iterrows():
        hits = []
        for side in ("pi_low_pct", "pi_high_pct"):
            v = r[side]
            for ci_side in ("ci_low_pct", "ci_high_pct"):
                if v == r[ci_side]:
                    hits.append(f"the PI bound {v:g} equals its own CI bound")
            for j, o in rows.iterrows():
                if j != i and v in (o["pi_low_pct"], o["pi_high_pct"]) and 0.5 < v < 99.5:
                    hits.append(f"the PI bound {v:g} equals a PI bound of {o['outcome']}")
        verdict = QUESTIONABLE if hits else CONSISTENT
        reasoning = (
            "; ".join(hits) + ": a prediction interval is wider than its CI and computed "
            "separately for each outcome, so equal bounds suggest a copying error"
            if hits
            else "no PI bound repeats a CI bound or another outcome's PI bound"
        )
        out.append(
            _finding(
                1, r["outcome"], "PI bounds not copied", _nums(r), reasoning, verdict, _section(r)
            )
        )
    return out


# --- class 2 -------------------------------------------------------------------------------


def _scales_of(est, lo, hi) -> list[str]:
    return [s for s in _G if fits_scale(s, est, lo, hi)]


def check_ci_pi_models(row) -> dict | None:
    """CI and PI of one result built on the same analysis scale."""
    if not _has_pi(row):
        return None
    ci = _scales_of(row["estimate_pct"], row["ci_low_pct"], row["ci_high_pct"])
    pi = _scales_of(row["estimate_pct"], row["pi_low_pct"], row["pi_high_pct"])
    words = lambda ss: ", ".join(SCALE_WORDS[s] for s in ss) or "no candidate scale"  # noqa: E731
    if not ci or not pi:
        verdict = INCONSISTENT if ci and not pi else UNCHECKABLE
    else:
        verdict = CONSISTENT if set(ci) & set(pi) else INCONSISTENT
    reasoning = (
        f"the CI is symmetric on: {words(ci)}; the PI on: {words(pi)}. One model gives both "
        "on the same scale"
    )
    return _finding(
        2, row["outcome"], "CI and PI from one model", _nums(row), reasoning, verdict, _section(row)
    )


def check_ae_table_scales(reported: pd.DataFrame) -> list[dict]:
    """Each adverse-event interval's scale, and whether the table mixes scales."""
    ae = reported[reported["outcome"].str.startswith("AE_")]
    out, kinds = [], {}
    for _, r in ae.iterrows():
        sc = _scales_of(r["estimate_pct"], r["ci_low_pct"], r["ci_high_pct"])
        kind = (
            "raw"
            if sc == ["percent"] or (sc and "percent" in sc and len(sc) == 1)
            else "transformed"
            if sc and "percent" not in sc
            else "either"
            if sc
            else "none"
        )
        kinds[r["outcome"]] = kind
    raw = sorted(k for k, v in kinds.items() if v == "raw")
    trans = sorted(k for k, v in kinds.items() if v == "transformed")
    none = sorted(k for k, v in kinds.items() if v == "none")
    if not kinds:
        return out
    mixed = bool(raw) and bool(trans)
    reasoning = (
        f"symmetric on the percent scale (raw proportions): {len(raw)}; symmetric only on a "
        f"transformed scale: {len(trans)}; symmetric on no candidate scale: {len(none)}"
        f" ({', '.join(none) if none else 'none'}). One stated method gives one kind."
    )
    out.append(
        _finding(
            2,
            "Adverse events (Table 2)",
            "one scale for the table",
            f"{len(kinds)} intervals",
            reasoning,
            INCONSISTENT if mixed or none else CONSISTENT,
            "Table 2",
        )
    )
    return out


# --- class 3 -------------------------------------------------------------------------------

# Items a design cannot earn: (scale, item, the designs that cannot, why).
DESIGN_RULES = (
    (
        "minors",
        "3",
        {"retrospective_cohort"},
        "data of a retrospective cohort are not collected prospectively",
    ),
    (
        "minors",
        "8",
        {"retrospective_cohort"},
        "a retrospective cohort has no prospective sample-size calculation",
    ),
)


def check_quality_items_sum(quality: pd.DataFrame) -> list[dict]:
    """The paper's item scores add up to its printed total, for every study."""
    q = quality[quality["scorer"] == "lao2025"]
    out = []
    for _key, g in q.groupby(["study_id", "scale"], sort=False):
        items = g[g["item"] != "total"]["score"].astype(int).sum()
        total = g[g["item"] == "total"]["score"]
        if total.empty:
            continue
        ref = int(g["paper_ref"].iloc[0])
        ok = int(total.iloc[0]) == items
        out.append(
            _finding(
                3,
                f"ref {ref}",
                "items add up to the total",
                f"items {items}, total {int(total.iloc[0])}",
                "the total is the sum of the items",
                CONSISTENT if ok else INCONSISTENT,
                "Table 1",
            )
        )
    return out


def check_quality_design(quality: pd.DataFrame, studies: pd.DataFrame) -> list[dict]:
    """Scores the study's design cannot earn.

    Two sources of "cannot": the study's design in ``studies.csv`` (:data:`DESIGN_RULES`),
    and our own scoring of the same item at 0 where its rationale names the design (an
    open-label trial earns no blinding point).
    """
    paper = quality[quality["scorer"] == "lao2025"]
    ours = quality[quality["scorer"] == "review_team"].set_index(["paper_ref", "scale", "item"])
    design = studies[studies["in_source_paper"].fillna(False).astype(bool)].set_index("paper_ref")
    out = []
    for _, q in paper[paper["item"] != "total"].iterrows():
        ref, score = int(q["paper_ref"]), int(q["score"])
        d = design["design"].get(ref, "")
        conf = design["id_confidence"].get(ref, "")
        for scale, item, designs, why in DESIGN_RULES:
            if q["scale"] == scale and str(q["item"]) == item and d in designs and score > 0:
                out.append(
                    _finding(
                        3,
                        f"ref {ref}",
                        f"{q['item_label']}: earnable by the design",
                        f"{score} of {int(q['max_score'])}",
                        f"{why} (design of our {conf}-confidence identification: "
                        f"{d.replace('_', ' ')})",
                        QUESTIONABLE if conf in ("low", "none") else INCONSISTENT,
                        "Table 1B",
                    )
                )
        key = (ref, q["scale"], str(q["item"]))
        if key in ours.index and score > 0:
            o = ours.loc[key]
            rat = str(o["rationale"])
            if int(o["score"]) == 0 and "open" in rat.lower():
                out.append(
                    _finding(
                        3,
                        f"ref {ref}",
                        f"{q['item_label']}: earnable by the design",
                        f"{score} of {int(q['max_score'])}",
                        f"the trial is open-label, so no blinding point can be earned: {rat}",
                        INCONSISTENT,
                        "Table 1A",
                    )
                )
    return out


# The paper's statements about its quality assessment (verbatim, section 3.2).
QUALITY_TEXT = {
    "quote": "evaluated using the MINORS index, yielding quality scores ranging from 12 to 15",
    "scale": "minors",
    "low": 12,
    "high": 15,
    "section": "Section 3.2",
}


def check_quality_text(quality: pd.DataFrame, text: dict = QUALITY_TEXT) -> list[dict]:
    """The range of totals the text states against the totals in the table."""
    q = quality[(quality["scorer"] == "lao2025") & (quality["scale"] == text["scale"])]
    tot = q[q["item"] == "total"]["score"].astype(int)
    if tot.empty:
        return []
    lo, hi = int(tot.min()), int(tot.max())
    ok = (lo, hi) == (text["low"], text["high"])
    return [
        _finding(
            3,
            "MINORS totals",
            "text range matches the table",
            f"text: {text['low']} to {text['high']}; table: {lo} to {hi}",
            f"the text says \u201c{text['quote']}\u201d; the table's totals run from {lo} to {hi}",
            CONSISTENT if ok else INCONSISTENT,
            text["section"],
        )
    ]


def check_quality_coverage(quality: pd.DataFrame, included: Iterable[int]) -> list[dict]:
    """Every included study was assessed; the text says all met the criteria."""
    assessed = set(quality.loc[quality["scorer"] == "lao2025", "paper_ref"].astype(int))
    missing = [r for r in included if r not in assessed]
    return [
        _finding(
            3,
            "Quality coverage",
            "every included study assessed",
            f"{len(assessed)} of {len(list(included))} assessed",
            (
                "never assessed: "
                + ", ".join(f"ref {r}" for r in missing)
                + "; yet the text says all included studies met the criteria"
            )
            if missing
            else "every included study has scores",
            INCONSISTENT if missing else CONSISTENT,
            "Section 3.2, Table 1",
        )
    ]


PAPER_DESIGN = {"modified_jadad": "randomised controlled trial", "minors": "single-arm study"}
FITS_PAPER_DESIGN = {
    "randomised controlled trial": {"rct"},
    "single-arm study": {"single_arm"},
}


def check_design_classification(quality: pd.DataFrame, studies: pd.DataFrame) -> list[dict]:
    """The design the paper gives each study (from the scale it used) against ours."""
    scale = (
        quality[quality["scorer"] == "lao2025"]
        .drop_duplicates("paper_ref")
        .set_index(
            quality.loc[quality["scorer"] == "lao2025"]
            .drop_duplicates("paper_ref")["paper_ref"]
            .astype(int)
        )["scale"]
    )
    best = studies[studies["in_source_paper"].fillna(False).astype(bool)]
    out = []
    for _, s in best.iterrows():
        ref = int(s["paper_ref"])
        ours = s["design"] if isinstance(s["design"], str) else ""
        if not ours:
            continue
        theirs = PAPER_DESIGN.get(scale.get(ref, ""), "not assessed (counted as 'clinical trial')")
        ok = ours in FITS_PAPER_DESIGN.get(theirs, set())
        if ok:
            verdict = CONSISTENT
        else:
            verdict = QUESTIONABLE if s["id_confidence"] in ("low", "none") else INCONSISTENT
        out.append(
            _finding(
                3,
                f"ref {ref}",
                "design classified as reported",
                theirs,
                f"our identification ({s['id_confidence']}): {ours.replace('_', ' ')}",
                verdict,
                "Section 3.1, Table 1",
            )
        )
    return out


# --- class 4 -------------------------------------------------------------------------------


def check_double_counting(studies: pd.DataFrame) -> list[dict]:
    """References of the paper whose best candidates are reports of one cohort."""
    best = studies[studies["in_source_paper"].fillna(False).astype(bool)]
    best = best[best["cohort_id"].fillna("") != ""]
    out = []
    for cohort, g in best.groupby("cohort_id"):
        refs = sorted(g["paper_ref"].astype(int))
        if len(refs) < 2:
            continue
        confs = set(g["id_confidence"])
        firm = g[g["id_confidence"].isin(["moderate", "high"])]
        verdict = INCONSISTENT if len(firm) >= 2 else QUESTIONABLE
        notes = "; ".join(
            f"ref {int(r['paper_ref'])}: {r['overlap_note']}"
            for _, r in g.iterrows()
            if r["overlap_note"]
        )
        out.append(
            _finding(
                4,
                ", ".join(f"ref {r}" for r in refs),
                "one report per cohort",
                f"{len(refs)} references pooled as separate studies",
                f"our best candidates for these references are reports of one cohort "
                f"({cohort}; identification confidence {', '.join(sorted(confs))}). {notes}",
                verdict,
                "Section 3.1",
            )
        )
    return out


# --- class 5 -------------------------------------------------------------------------------


def check_subgroup_citations(
    inference: identification.Inference, studies: pd.DataFrame
) -> list[dict]:
    """The number of studies a subgroup's I² and p imply against the cited references'
    status in our identifications."""
    best = studies[studies["in_source_paper"].fillna(False).astype(bool)]
    status = best.set_index(best["paper_ref"].astype(int))["disease_status"].fillna("")
    out = []
    for c in inference.constraints:
        coded = [r for r in c.pool if status.get(r, "") == c.status]
        unknown = [
            r for r in c.pool if status.get(r, "") not in (identification.ND, identification.RR)
        ]
        counts = " or ".join(map(str, c.counts))
        if len(coded) in c.counts:
            verdict, why = CONSISTENT, "our identifications give that number"
        elif len(coded) < min(c.counts, default=0) <= len(coded) + len(unknown):
            verdict, why = QUESTIONABLE, "possible only if unidentified references fill the gap"
        else:
            verdict, why = INCONSISTENT, "our identifications cannot give that number"
        out.append(
            _finding(
                5,
                f"{c.outcome}, {c.subgroup}",
                "subgroup size fits the citations",
                f"I² and p imply {counts} {c.subgroup} studies",
                f"among references {', '.join(map(str, c.pool))} ({c.pool_source}), our "
                f"best candidates code {len(coded)} as {c.subgroup} "
                f"({', '.join(map(str, coded)) or 'none'}) and {len(unknown)} as unknown: {why}",
                verdict,
                f"Section {_outcome_section(c.outcome)}",
            )
        )
    return out


def _outcome_section(code: str) -> str:
    return {
        "OS_1y": "3.4.1",
        "OS_2y": "3.4.2",
        "OS_3y": "3.4.3",
        "OS_5y": "3.4.4",
        "VOD": "3.7",
    }.get(code, "3")


# --- class 6 -------------------------------------------------------------------------------

# The paper's claims, verbatim (shared/paper/lao2025_article.txt), with what tests them.
CLAIMS = (
    {
        "id": "infrequent_g3",
        "quote": "with infrequent occurrences of severe VOD or grade ≥3 AEs",
        "section": "Section 5",
        "kind": "rate_below",
        "outcomes": "_g3",
        "threshold": 100 / 3,
    },
    {
        "id": "combination_better",
        "quote": "combination therapies surpassed monotherapy in clinical outcomes and safety",
        "section": "Section 4",
        "kind": "comparison",
        "comparators": ("regimen",),
    },
    {
        "id": "nd_better",
        "quote": "newly diagnosed patients responded better than R/R cases",
        "section": "Section 4",
        "kind": "comparison",
        "comparators": ("disease_status",),
    },
    {
        "id": "nd_significant_os2",
        "quote": (
            "newly diagnosed patients with ALL exhibited significantly better survival outcomes"
        ),
        "section": "Section 3.4.2",
        "kind": "comparison",
        "comparators": ("disease_status",),
    },
    {
        "id": "mono_higher_sct",
        "quote": (
            "the monotherapy group (all R/R ALL) demonstrated higher SCT rates than "
            "combination cohorts"
        ),
        "section": "Section 4",
        "kind": "comparison",
        "comparators": ("regimen",),
    },
    {
        "id": "survival_benefit",
        "quote": (
            "InO showed significant short- and long-term survival benefits for patients with ALL"
        ),
        "section": "Section 4",
        "kind": "benefit",
    },
)
# Counts the paper states in its text (verbatim, section 3.1), and their parts.
TEXT_COUNTS = (
    {
        "quote": "including 492 newly diagnosed cases and 576 R/R cases",
        "total": 1068,
        "parts": (492, 576),
        "section": "Section 3.1",
    },
    {
        "quote": (
            "InO monotherapy (five studies), InO combined with chemotherapy (five studies), "
            "InO combined with blinatumomab (one study), and InO combined with chemotherapy, "
            "with or without blinatumomab (five studies)"
        ),
        "total": 16,
        "parts": (5, 5, 1, 5),
        "section": "Section 3.1",
    },
    {
        "quote": (
            "14 single-arm studies (including 6 full-text publications and 8 conference abstracts)"
        ),
        "total": 14,
        "parts": (6, 8),
        "section": "Section 3.1",
    },
)


def check_claims(reported: pd.DataFrame, studies: pd.DataFrame, claims=CLAIMS) -> list[dict]:
    """Each claim against what the paper's own numbers and design can support."""
    out = []
    single = studies[studies["in_source_paper"].fillna(False).astype(bool)]
    n_rand = int(single["design"].isin(["rct", "randomised_dose"]).sum())
    for c in claims:
        if c["kind"] == "rate_below":
            rows = reported[
                reported["outcome"].str.endswith(c["outcomes"]) & (reported["subgroup_by"] == "all")
            ]
            high = rows[rows["estimate_pct"] >= c["threshold"]]
            listed = ", ".join(f"{r['outcome']} {r['estimate_pct']:g}%" for _, r in high.iterrows())
            verdict = INCONSISTENT if len(high) else CONSISTENT
            reasoning = (
                f"pooled grade ≥3 rates of a third or more in the paper's own Table 2: {listed}"
                if len(high)
                else "no pooled grade ≥3 rate reaches a third"
            )
            paper = f"{len(high)} of {len(rows)} grade ≥3 rates at or above one third"
        elif c["kind"] == "comparison":
            has_test = (
                "difference_pvalue" in reported.columns
                and reported["difference_pvalue"].notna().any()
            )
            verdict = CONSISTENT if has_test else QUESTIONABLE
            reasoning = (
                "a comparison between subgroups needs a test of their difference; the paper "
                "prints none (only each subgroup's own heterogeneity p), and the groups come "
                f"from different studies ({n_rand} of {len(single)} included studies "
                "randomised, none between the groups compared)"
            )
            paper = "no test of the difference printed"
        else:  # benefit
            verdict = QUESTIONABLE
            reasoning = (
                "a survival benefit needs a comparator; the pooled survival comes from "
                "single-arm data (the one RCT contributes its InO arm only), so it shows "
                "survival, not a benefit"
            )
            paper = "pooled survival of InO arms only"
        quoted = f"\u201c{c['quote']}\u201d: {reasoning}"
        subject = c["id"].replace("_", " ")
        out.append(
            _finding(
                6, subject, "claim supported by the numbers", paper, quoted, verdict, c["section"]
            )
        )
    return out


def check_text_counts(counts=TEXT_COUNTS) -> list[dict]:
    """Counts in the text add up to their stated totals."""
    out = []
    for c in counts:
        ok = sum(c["parts"]) == c["total"]
        out.append(
            _finding(
                6,
                "Counts in the text",
                "parts add up",
                f"{' + '.join(map(str, c['parts']))} vs {c['total']}",
                f"\u201c{c['quote']}\u201d",
                CONSISTENT if ok else INCONSISTENT,
                c["section"],
            )
        )
    return out


# --- all together ---------------------------------------------------------------------------


def run_audit(
    reported: pd.DataFrame,
    quality: pd.DataFrame,
    studies: pd.DataFrame,
    inference: identification.Inference,
    *,
    included: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Every check of the six classes; one row per finding.

    ``included``: the paper's reference numbers of its included studies (by default those
    of the study table's paper rows).
    """
    reported = paper_checks.normalise(reported)
    included = list(identification.paper_refs(studies) if included is None else included)
    rows: list[dict] = []
    for _, r in reported.iterrows():
        for fn in (check_pi_width, check_pi_centre, check_ci_pi_models):
            f = fn(r)
            if f is not None:
                rows.append(f)
    rows += check_pi_coincidence(reported)
    rows += check_ae_table_scales(reported)
    rows += check_quality_items_sum(quality)
    rows += check_quality_design(quality, studies)
    rows += check_quality_text(quality)
    rows += check_quality_coverage(quality, included)
    rows += check_design_classification(quality, studies)
    rows += check_double_counting(studies)
    rows += check_subgroup_citations(inference, studies)
    rows += check_claims(reported, studies)
    rows += check_text_counts()
    out = pd.DataFrame(rows)
    out.insert(1, "class_name", out["class"].map(CLASSES))
    return out


def verdicts(checks: pd.DataFrame, audit: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One verdict per outcome the paper reports.

    Parameters
    ----------
    checks : DataFrame
        :func:`review.analysis.paper_checks.run_checks`.
    audit : DataFrame
        :func:`run_audit`.
    summary : DataFrame
        :func:`review.analysis.reproduction.summary` (one row per reported result).

    Returns
    -------
    DataFrame
        outcome, verdict, why. "internally inconsistent" when a check finds numbers of the
        outcome that cannot all be true; else "reproduced" when a candidate method
        reproduces the whole-population result; else "not reproducible with the studies we
        could identify".
    """
    out = []
    for code in dict.fromkeys(summary["outcome"]):
        bad = checks[(checks["outcome"] == code) & (checks["status"] == "inconsistent")]
        bad_a = audit[(audit["subject"] == code) & (audit["verdict"] == INCONSISTENT)]
        reasons: dict[str, list[str]] = {}
        for _, r in bad.iterrows():
            reasons.setdefault(CHECK_WORDS.get(r["check"], r["check"]), []).append(r["subgroup"])
        for _, r in bad_a.iterrows():
            reasons.setdefault(AUDIT_FAIL_WORDS.get(r["check"], str(r["check"])), [])
        s_all = summary[(summary["outcome"] == code) & (summary["subgroup_by"] == "all")]
        s = s_all.iloc[0] if len(s_all) else None
        done = summary[(summary["outcome"] == code) & summary["reproduced"].astype(bool)]
        reproduced = bool(s is not None and s["reproduced"])
        k_rep, k_mat = (s["k_reported"], s["k_matched"]) if s is not None else (math.nan, 0)
        if reasons:
            verdict = "internally inconsistent"
            why = "; ".join(
                w + (f" ({', '.join(dict.fromkeys(g))})" if g else "") for w, g in reasons.items()
            )
        elif reproduced:
            verdict, why = "reproduced", f"reproduced by {s['reproducing']}"
        else:
            verdict = "not reproducible with the studies we could identify"
            k_txt = "" if pd.isna(k_rep) else f" of {int(k_rep)}"
            noun = "study" if int(k_mat) == 1 and not k_txt else "studies"
            why = f"{int(k_mat)}{k_txt} {noun} matched with usable numbers"
            if s is not None and not pd.isna(s.get("max_abs_diff_pp", math.nan)):
                why += f"; the closest method is {s['max_abs_diff_pp']:.1f} points away"
        if len(done) and verdict != "reproduced":
            why += "; reproduced: " + ", ".join(
                f"{r['subgroup']} (by {r['reproducing']})" for _, r in done.iterrows()
            )
        out.append({"outcome": code, "verdict": verdict, "why": why})
    return pd.DataFrame(out)


# Failed audit checks in words, for the verdicts.
AUDIT_FAIL_WORDS = {
    "PI width within what k allows": "a prediction interval wider than any model with its k allows",
    "PI centred on its estimate": "a prediction interval centred on its estimate on no scale",
    "CI and PI from one model": "CI and prediction interval from different models",
}
# The checks of review.analysis.paper_checks in words, for the verdicts.
CHECK_WORDS = {
    "estimate_in_ci": "estimate outside its CI",
    "ci_in_pi": "CI not inside its prediction interval",
    "bounds_possible": "bound below 0% or above 100%",
    "interval_shape": "interval shape contradicts the stated method",
    "i2_fits_q_and_k": "I² does not fit its p and k",
    "study_count_fits_refs": "number of studies does not fit the references",
    "grade3_not_above_any": "grade 3 or higher rate above the any-grade rate",
}


# What each check asks (the table of every check, whatever its result)
CHECK_QUESTIONS = {
    "estimate_in_ci": "estimate inside its CI",
    "ci_in_pi": "CI inside its prediction interval",
    "bounds_possible": "bounds within 0-100%",
    "interval_shape": "interval shape fits the stated method",
    "i2_fits_q_and_k": "I² fits its p and k",
    "study_count_fits_refs": "number of studies fits the references",
    "grade3_not_above_any": "grade 3 or higher rate not above the any-grade rate",
}


def verdict_table(verdicts_df: pd.DataFrame, outcome_words=None) -> pd.DataFrame:
    """The verdicts as a reader table (outcomes in words)."""
    words = outcome_words or (lambda s: s)
    return pd.DataFrame(
        {
            "Outcome": verdicts_df["outcome"].map(words),
            "Verdict": verdicts_df["verdict"],
            "Why": verdicts_df["why"],
        }
    )


def checks_table(
    checks: pd.DataFrame, outcome_words=None, *, with_result: bool = False
) -> pd.DataFrame:
    """Checks of :func:`review.analysis.paper_checks.run_checks` as a reader table (words).

    ``with_result`` names each check by what it asks and adds its result (consistent,
    inconsistent, not checkable): a table of every check rather than of the findings alone.
    """
    words = outcome_words or (lambda s: s)
    column, names = ("Check", CHECK_QUESTIONS) if with_result else ("Finding", CHECK_WORDS)
    table = pd.DataFrame(
        {
            "Outcome": checks["outcome"].map(words),
            "Subgroup": checks["subgroup"],
            column: checks["check"].map(lambda c: names.get(c, c)),
            "Detail": checks["detail"],
        }
    )
    if with_result:
        table.insert(3, "Result", checks["status"].str.capitalize())
    return table


def count_table(audit: pd.DataFrame) -> pd.DataFrame:
    """How many checks of each class end in each verdict (reader table)."""
    t = audit.groupby("class_name", sort=False)["verdict"].value_counts().unstack(fill_value=0)
    t = t.reindex(columns=[INCONSISTENT, QUESTIONABLE, CONSISTENT, UNCHECKABLE], fill_value=0)
    t.columns.name = None
    return t.reset_index().rename(columns={"class_name": "Class of check"})


def verdict_counts(verdicts_df: pd.DataFrame) -> dict[str, str]:
    """How many outcomes got each verdict (for the prose)."""
    n = verdicts_df["verdict"].value_counts()
    return {
        "outcomes": str(len(verdicts_df)),
        "reproduced": str(int(n.get("reproduced", 0))),
        "not_reproducible": str(
            int(n.get("not reproducible with the studies we could identify", 0))
        ),
        "inconsistent": str(int(n.get("internally inconsistent", 0))),
    }


def findings_html(
    audit: pd.DataFrame,
    *,
    classes: Iterable[int] | None = None,
    only: Iterable[str] | None = None,
    outcome_words=None,
) -> str:
    """Findings as an escaped HTML list (readable on a phone), each linking to the paper's
    section."""
    df = audit
    if classes is not None:
        df = df[df["class"].isin(list(classes))]
    if only is not None:
        df = df[df["verdict"].isin(list(only))]
    words = outcome_words or (lambda s: s)
    if df.empty:
        return "<p>No finding.</p>"
    esc = html.escape
    items = []
    for _, r in df.iterrows():
        code, sep, rest = str(r["subject"]).partition(", ")
        what = words(code) + sep + rest if not code.startswith("ref") else str(r["subject"])
        where = f'<a href="{PAPER_URL}">{esc(str(r["section"]))}</a>'
        items.append(
            f"<li><strong>{esc(what)}</strong>: {esc(str(r['check']))} "
            f"(<em>{esc(str(r['verdict']))}</em>). The paper: {esc(str(r['paper']))}. "
            f"{esc(_cap(str(r['reasoning'])))} [{where}]</li>"
        )
    return f'<ul class="audit-findings">{"".join(items)}</ul>'


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def verdicts_html(verdicts_df: pd.DataFrame, outcome_words=None) -> str:
    """The verdict per outcome as an escaped HTML list."""
    words = outcome_words or (lambda s: s)
    esc = html.escape
    items = "".join(
        f"<li><strong>{esc(words(r['outcome']))}</strong>: {esc(r['verdict'])}. "
        f"{esc(r['why'][:1].upper() + r['why'][1:])}.</li>"
        for _, r in verdicts_df.iterrows()
    )
    return f'<ul class="audit-verdicts">{items}</ul>'
