"""What the source paper's own heterogeneity statistics say about which studies it pooled.

The paper prints, for each disease-status subgroup, I² and the p-value of Cochran's Q but
not the number of studies k. Both come from Q on k - 1 degrees of freedom:
I² = (Q - df) / Q and p = P(chi2_df > Q) (Higgins & Thompson 2002). For each candidate k
the printed I² (to its rounding) fixes an interval of Q, and the printed p fixes another;
k is possible only when the two intervals overlap. Where the paper lists the references
of an outcome, the number of newly diagnosed studies among them is then known, and with
the disease status of the references we could identify with some confidence (the
*anchors*), the status of the others follows by enumerating every assignment that fits
every subgroup at once.

A pooled result with I² = 0 says more: its Q is at most df, every study's share of Q is at
most Q, and with the DerSimonian-Laird τ² at zero its printed estimate is the
fixed-effect mean around which Q is computed. A study's input can then only lie in a
bounded range around the estimate (:func:`admissible_range`).

Nothing here is a value to pool: these are tests of the identifications in ``data/``.

References
----------
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med
2002;21:1539-58. doi:10.1002/sim.1186
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials
1986;7:177-88. doi:10.1016/0197-2456(86)90046-2
Freeman MF, Tukey JW. Transformations related to the angular and the square root. Ann Math
Stat 1950;21:607-11. doi:10.1214/aoms/1177729756
Lao C, Wen J, Wen Y. Efficacy and safety of inotuzumab ozogamicin and its combination
therapies in acute lymphoblastic leukemia: a systematic review and meta-analysis. Front
Oncol 2025. doi:10.3389/fonc.2025.1613777
"""

from __future__ import annotations

import csv
import itertools
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from review import analysis, data
from review.analysis import paper_checks
from review.data.plan import load_plan

__all__ = [
    "ND",
    "RR",
    "Constraint",
    "Inference",
    "admissible_range",
    "anchors",
    "candidate_verdicts",
    "feasible_assignments",
    "for_review",
    "held_inputs",
    "implied_k",
    "infer",
    "input_table",
    "input_tests",
    "joint_statements",
    "k_table",
    "outcome_words",
    "paper_refs",
    "q_interval_from_i2",
    "q_interval_from_p",
    "reasoning_column",
    "ref_status",
    "reference_table",
    "subgroup_constraints",
    "subgroup_table",
    "summary_values",
    "write_reasoning",
]

ND, RR = "newly_diagnosed", "relapsed_refractory"
STATUS_WORDS = {ND: "newly diagnosed", RR: "relapsed or refractory", "mixed": "mixed or other"}
# The paper's subgroup labels (data/paper_reported.csv) and the study table's codes.
SUBGROUP_CODES = {"newly diagnosed": ND, "relapsed/refractory": RR}
CONFIDENCE_ORDER = ("none", "low", "moderate", "high")
# I² is printed with one decimal: the true value is within half a unit of it.
I2_HALF_UNIT = 0.05


def q_interval_from_i2(i2_pct: float, df: int) -> tuple[float, float]:
    """Values of Cochran's Q that round to a printed I² on ``df`` degrees of freedom.

    Notes
    -----
    I² = max(0, (Q - df) / Q) (Higgins & Thompson 2002, eq. 9), so Q = df / (1 - I²). A
    printed 0.0 stands for any Q up to df / (1 - 0.0005).
    """
    lo_i2 = max(i2_pct - I2_HALF_UNIT, 0.0) / 100
    hi_i2 = min(i2_pct + I2_HALF_UNIT, 99.999) / 100
    q_lo = 0.0 if i2_pct - I2_HALF_UNIT <= 0 else df / (1 - lo_i2)
    return (q_lo, df / (1 - hi_i2))


def q_interval_from_p(het_pvalue, df: int) -> tuple[float, float]:
    """Values of Q whose chi-squared p-value on ``df`` rounds to the printed p.

    ``"<0.001"`` stands for Q above the 0.999 quantile. NaNs when no p is printed.
    """
    p_lo, p_hi = paper_checks.parse_pvalue(het_pvalue)
    if math.isnan(p_lo):
        return (math.nan, math.nan)
    q_lo = float(special.chdtri(df, p_hi)) if p_hi < 1 else 0.0
    q_hi = float(special.chdtri(df, p_lo)) if p_lo > 0 else math.inf
    return (q_lo, q_hi)


def implied_k(i2_pct: float, het_pvalue, *, max_k: int = 40) -> tuple[int, ...]:
    """Numbers of studies for which a printed I² and heterogeneity p can both hold.

    Parameters
    ----------
    i2_pct : float
        I² in percent as printed (one decimal).
    het_pvalue : str
        The heterogeneity p as printed (``"0.015"``, ``"<0.001"``).
    max_k : int
        Largest k tried.

    Returns
    -------
    tuple of int
        Every k in 2..max_k whose Q interval from I² overlaps its Q interval from p.
    """
    out = []
    for k in range(2, max_k + 1):
        a_lo, a_hi = q_interval_from_i2(i2_pct, k - 1)
        b_lo, b_hi = q_interval_from_p(het_pvalue, k - 1)
        if math.isnan(b_lo):
            return ()
        if max(a_lo, b_lo) <= min(a_hi, b_hi):
            out.append(k)
    return tuple(out)


def _p_at(i2_pct: float, k: int) -> float:
    """The p-value the printed I² implies with k studies (Q = df / (1 - I²))."""
    if k < 2 or i2_pct >= 100:
        return math.nan
    df = k - 1
    return float(special.chdtrc(df, df / (1 - i2_pct / 100)))


def _cited(text) -> tuple[int, ...]:
    if text is None or (not isinstance(text, str) and pd.isna(text)) or str(text) == "":
        return ()
    return tuple(int(r) for r in str(text).split(";") if r.strip())


K_COLUMNS = [
    "outcome",
    "subgroup_by",
    "subgroup",
    "i2_pct",
    "het_pvalue",
    "implied_k",
    "p_at_k",
    "p_at_k_minus_1",
    "p_at_k_plus_1",
]


def k_table(reported: pd.DataFrame, *, max_k: int = 40) -> pd.DataFrame:
    """For every subgroup result with I² and p, the numbers of studies they imply.

    Returns
    -------
    DataFrame
        outcome, subgroup_by, subgroup, i2_pct, het_pvalue, implied_k (tuple), the p the
        printed I² gives at the smallest implied k and at one study fewer and more
        (``p_at_k``, ``p_at_k_minus_1``, ``p_at_k_plus_1``).
    """
    reported = paper_checks.normalise(reported)
    rows = []
    for _, r in reported[reported["subgroup_by"] != "all"].iterrows():
        if math.isnan(r["i2_pct"]) or r["het_pvalue"] == "":
            continue
        ks = implied_k(r["i2_pct"], r["het_pvalue"], max_k=max_k)
        k0 = ks[0] if ks else math.nan
        rows.append(
            {
                "outcome": r["outcome"],
                "subgroup_by": r["subgroup_by"],
                "subgroup": r["subgroup"],
                "i2_pct": r["i2_pct"],
                "het_pvalue": r["het_pvalue"],
                "implied_k": ks,
                "p_at_k": _p_at(r["i2_pct"], k0) if ks else math.nan,
                "p_at_k_minus_1": _p_at(r["i2_pct"], k0 - 1) if ks else math.nan,
                "p_at_k_plus_1": _p_at(r["i2_pct"], k0 + 1) if ks else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=K_COLUMNS)


@dataclass(frozen=True)
class Constraint:
    """Among the studies ``pool``, the number with ``status`` is one of ``counts``."""

    outcome: str
    subgroup: str
    status: str
    pool: tuple[int, ...]
    counts: tuple[int, ...]
    pool_source: str


def subgroup_constraints(
    reported: pd.DataFrame, included: Iterable[int], *, max_k: int = 40
) -> tuple[list[Constraint], pd.DataFrame]:
    """Disease-status subgroups whose member pool is known, as constraints on the refs.

    The pool of a subgroup is the references the paper cites for the outcome, or every
    included study when the outcome's k equals their number (every study reported it).
    Subgroups whose pool is unknown are returned in the second frame with the reason.
    """
    reported = paper_checks.normalise(reported)
    included = tuple(sorted(included))
    kt = k_table(reported, max_k=max_k)
    overall = reported[reported["subgroup_by"] == "all"].set_index("outcome")
    out, unused = [], []
    for _, r in kt[kt["subgroup_by"] == "disease_status"].iterrows():
        status = SUBGROUP_CODES.get(r["subgroup"])
        row = overall.loc[r["outcome"]] if r["outcome"] in overall.index else None
        cited = _cited(row["cited_refs"]) if row is not None else ()
        k_all = row["k"] if row is not None else math.nan
        if cited:
            pool, source = cited, "the references the paper cites for this outcome"
        elif not math.isnan(k_all) and int(k_all) == len(included):
            pool, source = included, "every included study (the outcome's k equals their number)"
        else:
            unused.append(
                {
                    "outcome": r["outcome"],
                    "subgroup": r["subgroup"],
                    "implied_k": r["implied_k"],
                    "reason": "the paper does not list which studies this outcome pooled",
                }
            )
            continue
        counts = tuple(k for k in r["implied_k"] if k <= len(pool))
        out.append(Constraint(r["outcome"], r["subgroup"], status, pool, counts, source))
    return out, pd.DataFrame(unused, columns=["outcome", "subgroup", "implied_k", "reason"])


def anchors(studies: pd.DataFrame, *, min_confidence: str = "moderate") -> dict[int, str]:
    """Disease status of the paper's references taken as known from the identifications.

    A reference is an anchor when every candidate report for it (best and runner-up rows
    of ``data/studies.csv``) has the same status, newly diagnosed or relapsed/refractory,
    and either the best identification is at least ``min_confidence`` or two or more
    candidates agree (the status then holds whichever candidate is right).
    """
    cand = studies[studies["id_role"].isin(["best", "runner_up"]) & studies["paper_ref"].notna()]
    floor = CONFIDENCE_ORDER.index(min_confidence)
    out = {}
    for ref, group in cand.groupby("paper_ref"):
        statuses = set(group["disease_status"].fillna(""))
        if len(statuses) != 1 or next(iter(statuses)) not in (ND, RR):
            continue
        best = group[group["id_role"] == "best"]
        conf = CONFIDENCE_ORDER.index(best["id_confidence"].iloc[0]) if len(best) else -1
        if conf >= floor or len(group) >= 2:
            out[int(ref)] = next(iter(statuses))
    return out


def feasible_assignments(
    constraints: Iterable[Constraint], fixed: Mapping[int, str], free: Iterable[int]
) -> list[dict[int, str]]:
    """Every assignment of ND/RR to the ``free`` refs that meets all constraints."""
    constraints, free = list(constraints), sorted(free)
    out = []
    for combo in itertools.product((ND, RR), repeat=len(free)):
        status = dict(fixed) | dict(zip(free, combo, strict=True))
        ok = all(
            sum(status.get(ref) == c.status for ref in c.pool) in c.counts for c in constraints
        )
        if ok:
            out.append(status)
    return out


def ref_status(
    constraints: list[Constraint], known: Mapping[int, str], refs: Iterable[int]
) -> pd.DataFrame:
    """What the subgroup statistics alone say about each reference's disease status.

    For each reference the others keep their anchor status and this one is left free
    (so an anchor is tested, not assumed): ``status`` is the only status that fits, or
    empty when both fit; ``anchor`` is the identification's status, if any.
    """
    refs = sorted(refs)
    rows = []
    for ref in refs:
        fixed = {r: s for r, s in known.items() if r != ref}
        free = [r for r in refs if r not in fixed]
        values = _values(constraints, fixed, free, ref)
        deciding = []
        if len(values) == 1:
            # A subgroup decides when, without it, both statuses would fit.
            for c in constraints:
                rest = [x for x in constraints if x is not c]
                if ref in c.pool and len(_values(rest, fixed, free, ref)) > 1:
                    deciding.append(f"{c.outcome}, {c.subgroup}")
        rows.append(
            {
                "paper_ref": ref,
                "anchor": known.get(ref, ""),
                "status": next(iter(values)) if len(values) == 1 else "",
                "feasible": bool(values),
                "deciding": "; ".join(deciding),
            }
        )
    return pd.DataFrame(rows)


def _values(constraints, fixed, free, ref) -> set[str]:
    return {f[ref] for f in feasible_assignments(constraints, fixed, free)}


def _other(status: str) -> str:
    return RR if status == ND else ND


def joint_statements(feasible: list[dict[int, str]]) -> list[dict]:
    """Refs whose status varies across the feasible assignments, and how many are ND.

    Returns one record: ``refs`` that vary and ``nd_counts``, the numbers of newly
    diagnosed among them over all feasible assignments (``(1,)`` reads "exactly one of
    them is newly diagnosed").
    """
    if not feasible:
        return []
    refs = sorted(feasible[0])
    varying = [r for r in refs if len({f[r] for f in feasible}) > 1]
    if not varying:
        return []
    counts = sorted({sum(f[r] == ND for r in varying) for f in feasible})
    return [{"refs": tuple(varying), "nd_counts": tuple(counts), "n_solutions": len(feasible)}]


def candidate_verdicts(studies: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """Each candidate report of a reference against the status the statistics imply."""
    cand = studies[studies["id_role"].isin(["best", "runner_up"]) & studies["paper_ref"].notna()]
    implied = status.set_index("paper_ref")["status"]
    rows = []
    for _, s in cand.iterrows():
        ref = int(s["paper_ref"])
        need = implied.get(ref, "")
        have = s["disease_status"] if isinstance(s["disease_status"], str) else ""
        if not need:
            verdict = "not decided by the statistics"
        elif not have:
            verdict = "report not identified"
        elif have == need:
            verdict = "fits"
        else:
            verdict = "contradicted"
        rows.append(
            {
                "study_id": s["study_id"],
                "paper_ref": ref,
                "id_role": s["id_role"],
                "disease_status": have,
                "implied_status": need,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


# --- the input a study can have had in a pool with I² = 0 ------------------------------------


def _ft(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Freeman & Tukey 1950 double arcsine of x = round(p n) events of n.
    x = np.rint(p * n)
    return np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))


def _share(p: np.ndarray, n: np.ndarray, c: np.ndarray, scale: str) -> np.ndarray:
    """A study's term w (y - c)² of Cochran's Q on one scale (c the pooled proportion)."""
    if scale == "raw":
        var = np.clip(p * (1 - p), 1e-12, None) / n
        return (p - c) ** 2 / var
    # On the double-arcsine scale var = 1 / (n + 0.5); the centre is taken at the same n.
    return (_ft(p, n) - _ft(c, n)) ** 2 * (n + 0.5)


def admissible_range(
    estimate_pct: float,
    q_max: float,
    n: int,
    *,
    known: Iterable[tuple[float, int]] = (),
    scale: str = "raw",
    step: float = 0.001,
) -> tuple[float, float]:
    """Inputs (percent) one study of size n can have had in a pool whose Q is at most q_max.

    Parameters
    ----------
    estimate_pct : float
        The printed pooled estimate; the centre of Q is allowed anywhere within its
        rounding (+/- 0.05 points).
    q_max : float
        The largest Q the printed I² and p allow.
    n : int
        The study's size.
    known : iterable of (percent, n)
        Other studies of the pool whose inputs are known; their shares of Q count too.
    scale : {"raw", "ft"}
        Raw proportions or the Freeman-Tukey double arcsine.

    Returns
    -------
    (low, high) : tuple of float
        The smallest and largest admissible input in percent (NaN when none is).

    Notes
    -----
    Every term of Q = sum w_i (y_i - y_FE)² is non-negative, so the terms of the studies we
    know cannot add up to more than Q. With I² = 0 the DerSimonian-Laird τ² is 0 and the
    printed random-effects estimate is the fixed-effect mean y_FE. Studies of the pool we
    do not know only add to Q, so the range is a necessary condition: an input outside it
    cannot have been pooled.
    """
    ys = np.arange(step, 1, step)
    centres = np.linspace(estimate_pct - 0.05, estimate_pct + 0.05, 11) / 100
    ok = np.zeros_like(ys, dtype=bool)
    for c in centres:
        base = sum(
            float(_share(np.array([p / 100]), np.array([float(m)]), np.array([c]), scale)[0])
            for p, m in known
        )
        total = base + _share(ys, np.full_like(ys, float(n)), np.full_like(ys, c), scale)
        ok |= total <= q_max
    if not ok.any():
        return (math.nan, math.nan)
    return (100 * float(ys[ok].min()), 100 * float(ys[ok].max()))


def input_tests(reported: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Our input for each cited study of a pool with I² = 0, against the range it allows.

    Parameters
    ----------
    reported : DataFrame
        The paper's pooled results.
    held : DataFrame
        Our primary inputs: ``outcome, paper_ref, estimate_pct, n`` (one row per reference
        and outcome).

    Returns
    -------
    DataFrame
        One row per (result, cited reference with an input held): the input, its n, the
        admissible range on the raw and on the Freeman-Tukey scale with this study alone
        (``inside``: the input lies in either; the test that decides), and the narrower
        ranges when our inputs for the other cited studies are added (context only: one
        of those may be the wrong one).
    """
    reported = paper_checks.normalise(reported)
    rows = []
    for _, r in reported.iterrows():
        cited = _cited(r["cited_refs"])
        if not cited or math.isnan(r["i2_pct"]) or r["i2_pct"] > 0:
            continue
        df = len(cited) - 1
        q_hi = df / (1 - I2_HALF_UNIT / 100)  # I² printed 0.0: Q <= df (to rounding)
        p_lo, p_hi = q_interval_from_p(r["het_pvalue"], df)
        q_max = min(q_hi, p_hi) if not math.isnan(p_hi) else q_hi
        mine = held[(held["outcome"] == r["outcome"]) & held["paper_ref"].isin(cited)]
        for _, h in mine.iterrows():
            others = mine[mine["paper_ref"] != h["paper_ref"]]
            known = list(zip(others["estimate_pct"], others["n"].astype(int), strict=True))
            alone = {
                scale: admissible_range(r["estimate_pct"], q_max, int(h["n"]), scale=scale)
                for scale in ("raw", "ft")
            }
            joint = {
                scale: admissible_range(
                    r["estimate_pct"], q_max, int(h["n"]), known=known, scale=scale
                )
                for scale in ("raw", "ft")
            }
            inside = any(lo <= h["estimate_pct"] <= hi for lo, hi in alone.values())
            rows.append(
                {
                    "outcome": r["outcome"],
                    "subgroup": r["subgroup"],
                    "paper_ref": int(h["paper_ref"]),
                    "input_pct": float(h["estimate_pct"]),
                    "n": int(h["n"]),
                    "q_max": q_max,
                    "raw_range": alone["raw"],
                    "ft_range": alone["ft"],
                    "inside": inside,
                    "others_known": ", ".join(
                        f"ref {int(o['paper_ref'])} ({o['estimate_pct']:g}%, n = {int(o['n'])})"
                        for _, o in others.iterrows()
                    ),
                    "raw_range_with_others": joint["raw"],
                    "ft_range_with_others": joint["ft"],
                }
            )
    return pd.DataFrame(rows)


# --- everything together ---------------------------------------------------------------------


@dataclass(frozen=True)
class Inference:
    """The inference from the paper's subgroup statistics, table by table."""

    k: pd.DataFrame
    constraints: tuple[Constraint, ...]
    unused: pd.DataFrame
    anchors: Mapping[int, str]
    status: pd.DataFrame
    joint: tuple[dict, ...]
    candidates: pd.DataFrame
    inputs: pd.DataFrame

    def reasoning(self) -> dict[str, str]:
        """One sentence per study_id: what the statistics imply for its identification."""
        out = {}
        status = self.status.set_index("paper_ref")
        for _, c in self.candidates.iterrows():
            ref = c["paper_ref"]
            s = status.loc[ref]
            text = f"Paper's subgroup statistics (review.analysis.identification): ref {ref} "
            if s["status"]:
                why = s["deciding"] or "no single subgroup decides; several together do"
                text += f"must be {STATUS_WORDS[s['status']]} ({why})"
            elif not s["feasible"]:
                text += "cannot be placed: the other identifications already contradict them"
            elif s["anchor"] and self.joint:
                text += (
                    "is not decided by them alone; its identified status fits every subgroup"
                    " together with the other identifications"
                )
            else:
                text += "is not decided by them"
            for j in self.joint:
                if ref in j["refs"] and len(j["nd_counts"]) == 1:
                    n = j["nd_counts"][0]
                    n = {0: "none", 1: "exactly one", 2: "exactly two"}.get(n, f"exactly {n}")
                    others = ", ".join(str(r) for r in j["refs"][:-1]) + f" and {j['refs'][-1]}"
                    verb = "is" if n != "exactly two" else "are"
                    text += f"; {n} of refs {others} {verb} newly diagnosed"
            text += f"; this candidate ({STATUS_WORDS.get(c['disease_status'], 'status unknown')}) "
            text += {
                "fits": "fits",
                "contradicted": "is contradicted",
                "not decided by the statistics": "is neither confirmed nor contradicted",
                "report not identified": "is not identified",
            }[c["verdict"]]
            for _, t in self.inputs[self.inputs["paper_ref"] == ref].iterrows():
                if not t["inside"]:
                    lo = min(t["raw_range"][0], t["ft_range"][0])
                    hi = max(t["raw_range"][1], t["ft_range"][1])
                    text += (
                        f"; its {t['outcome']} input {t['input_pct']:g}% cannot have been pooled"
                        f" (I² = 0 allows about {lo:.0f}-{hi:.0f}%)"
                    )
            out[c["study_id"]] = text + "."
        return out


def paper_refs(studies: pd.DataFrame) -> tuple[int, ...]:
    """Reference numbers of the paper's included studies, as the study table holds them."""
    mine = studies[studies["in_source_paper"].fillna(False).astype(bool)]
    return tuple(sorted(int(r) for r in mine["paper_ref"].dropna().unique()))


def infer(
    reported: pd.DataFrame,
    studies: pd.DataFrame,
    held: pd.DataFrame | None = None,
    *,
    included: Iterable[int] | None = None,
    min_confidence: str = "moderate",
) -> Inference:
    """Run the whole inference.

    Parameters
    ----------
    reported : DataFrame
        The paper's pooled results (``review.analysis.paper_checks.load_reported()``).
    studies : DataFrame
        ``data/studies.csv`` (``review.data.load().studies``).
    held : DataFrame, optional
        Our inputs ``outcome, paper_ref, estimate_pct, n`` for :func:`input_tests`.
    included : iterable of int, optional
        The paper's reference numbers of its included studies; by default those of the
        study table's rows taken as the paper's studies (``in_source_paper``).
    min_confidence : str
        Identification confidence from which a reference's status is an anchor.
    """
    if included is None:
        included = paper_refs(studies)
    included = tuple(sorted(included))
    constraints, unused = subgroup_constraints(reported, included)
    known = anchors(studies, min_confidence=min_confidence)
    status = ref_status(constraints, known, included)
    free = [r for r in included if r not in known]
    joint = joint_statements(
        feasible_assignments(constraints, {r: s for r, s in known.items()}, free)
    )
    cand = candidate_verdicts(studies, status)
    inputs = (
        input_tests(reported, held)
        if held is not None
        else pd.DataFrame(columns=["paper_ref", "inside"])
    )
    return Inference(
        k_table(reported), tuple(constraints), unused, known, status, tuple(joint), cand, inputs
    )


def held_inputs(reported: pd.DataFrame, plan, *, data_dir=None) -> pd.DataFrame:
    """Our primary inputs for the paper's references, for the pools :func:`input_tests` reads.

    Only outcomes with a result of I² = 0 and cited references are loaded. Binary rows give
    events / total, survival rows the estimate and the number analysed.

    Returns
    -------
    DataFrame
        ``outcome, paper_ref, study_id, estimate_pct, n``.
    """

    reported = paper_checks.normalise(reported)
    wanted = reported[(reported["i2_pct"] == 0) & (reported["cited_refs"] != "")]
    rows = []
    for code in sorted(set(wanted["outcome"])):
        df = analysis.rows_for(code, plan, data_dir=data_dir)
        df = df[df[plan.col("in_source_paper")].fillna(False).astype(bool)]
        for _, r in df.iterrows():
            if code in plan["survival"]["outcomes"]:
                est, n = r[plan.col("estimate")], r[plan.col("n_analysed")]
                est = float(est) if plan["survival"]["percent"] else 100 * float(est)
            else:
                est = 100 * float(r[plan.col("events")]) / float(r[plan.col("total")])
                n = r[plan.col("total")]
            if pd.isna(n) or pd.isna(est):
                continue
            rows.append(
                {
                    "outcome": code,
                    "paper_ref": int(r[plan.col("paper_ref")]),
                    "study_id": r[plan.col("study")],
                    "estimate_pct": est,
                    "n": int(n),
                }
            )
    return pd.DataFrame(rows, columns=["outcome", "paper_ref", "study_id", "estimate_pct", "n"])


DECISION_MARK = " Decision: "


def for_review(plan, *, data_dir=None) -> Inference:
    """The inference on this review's data: the paper's reported results, the study table
    and our held inputs."""

    reported = paper_checks.load_reported(data_dir=data_dir)
    studies = data.load(data_dir).studies
    return infer(reported, studies, held_inputs(reported, plan, data_dir=data_dir))


def reasoning_column(studies: pd.DataFrame, inference: Inference) -> pd.Series:
    """``studies.id_reasoning`` as it should read: the generated sentence of each candidate
    row, followed by the decision text already recorded after ``" Decision: "``."""
    generated = inference.reasoning()
    old = studies.get("id_reasoning", pd.Series("", index=studies.index)).fillna("").astype(str)
    out = []
    for sid, text in zip(studies["study_id"], old, strict=True):
        decision = text[text.index(DECISION_MARK) :] if DECISION_MARK in text else ""
        if not decision and text.startswith("Decision: "):
            decision = " " + text
        out.append((generated.get(sid, "") + decision).strip())
    return pd.Series(out, index=studies.index, name="id_reasoning")


def write_reasoning(path, plan, *, data_dir=None) -> None:
    """Rewrite the ``id_reasoning`` column of ``studies.csv`` at ``path`` in place (every
    other cell as it was, read and written as text)."""

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    frame = pd.DataFrame(rows).fillna("")
    new = reasoning_column(frame, for_review(plan, data_dir=data_dir))
    for row, text in zip(rows, new, strict=True):
        row["id_reasoning"] = text
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --- reader tables ---------------------------------------------------------------------------


def outcome_words(code: str, *, data_dir=None) -> str:
    """An outcome code in words (the data dictionary's description)."""

    d = data.load(data_dir).dictionary
    hit = d[(d["table"] == "outcomes") & (d["column"] == "outcome") & (d["code"] == code)]
    return str(hit["description"].iloc[0]) if len(hit) else code


def _ks(ks: tuple[int, ...]) -> str:
    if not ks:
        return "none from 2 to 40"
    if len(ks) == 1:
        return str(ks[0])
    runs = ks == tuple(range(ks[0], ks[-1] + 1))
    if runs:
        return f"{ks[0]} or more" if ks[-1] >= 40 else f"{ks[0]} to {ks[-1]}"
    return ", ".join(map(str, ks))


def _p(p: float) -> str:
    return "" if math.isnan(p) else f"{p:.3f}" if p >= 0.001 else "below 0.001"


def subgroup_table(inference: Inference, *, data_dir=None) -> pd.DataFrame:
    """One row per subgroup the paper prints I² and p for: what k they imply, and what that
    says about the studies in it (reader table, words only)."""
    cons = {(c.outcome, c.subgroup): c for c in inference.constraints}
    unused = {(u["outcome"], u["subgroup"]): u["reason"] for _, u in inference.unused.iterrows()}
    rows = []
    for _, r in inference.k.iterrows():
        key = (r["outcome"], r["subgroup"])
        ks = r["implied_k"]
        if key in cons:
            c = cons[key]
            counts = " or ".join(map(str, c.counts))
            pool = ", ".join(map(str, c.pool))
            follows = f"{counts} of references {pool} are {r['subgroup']} ({c.pool_source})"
        elif key in unused:
            follows = f"not used: {unused[key]}"
        elif r["subgroup_by"] == "regimen":
            follows = "regimen subgroup: a check on the paper's own study counts, not used here"
        else:
            follows = ""
        single = len(ks) == 1
        rows.append(
            {
                "Outcome": outcome_words(r["outcome"], data_dir=data_dir),
                "Subgroup": r["subgroup"],
                "I² printed (%)": f"{r['i2_pct']:.1f}",
                "p printed": r["het_pvalue"],
                "Number of studies that fits both": _ks(ks),
                "p with that number": _p(r["p_at_k"]) if single else "",
                "p with one study fewer": _p(r["p_at_k_minus_1"]) if single else "",
                "p with one study more": _p(r["p_at_k_plus_1"]) if single else "",
                "What follows": follows,
            }
        )
    return pd.DataFrame(rows)


VERDICT_WORDS = {
    "fits": "fits",
    "contradicted": "contradicted",
    "not decided by the statistics": "neither confirmed nor contradicted",
    "report not identified": "no report identified",
}
ROLE_WORDS = {"best": "best candidate", "runner_up": "runner-up"}


def _deciding_words(text: str, *, data_dir=None) -> str:
    parts = []
    for item in filter(None, text.split("; ")):
        code, _, subgroup = item.partition(", ")
        parts.append(f"{outcome_words(code, data_dir=data_dir)}, {subgroup}")
    return "; ".join(parts)


def _short(text: str, width: int = 90) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width].rsplit(" ", 1)[0] + " …"


def reference_table(inference: Inference, studies: pd.DataFrame, *, data_dir=None) -> pd.DataFrame:
    """One row per candidate report of each reference: its status, the status the
    statistics require, the subgroups that decide it, the verdict and any decision taken
    on it (reader table)."""
    status = inference.status.set_index("paper_ref")
    s_idx = studies.set_index("study_id")
    joint = {r: j for j in inference.joint for r in j["refs"]}
    rows = []
    for _, c in inference.candidates.sort_values(["paper_ref", "id_role"]).iterrows():
        s = status.loc[c["paper_ref"]]
        need = STATUS_WORDS.get(s["status"], "")
        j = joint.get(c["paper_ref"])
        if not need and j and len(j["nd_counts"]) == 1:
            n = {1: "exactly one"}.get(j["nd_counts"][0], str(j["nd_counts"][0]))
            refs = ", ".join(map(str, j["refs"]))
            need = f"{n} of references {refs} newly diagnosed (which is open)"
        reasoning = (
            str(s_idx["id_reasoning"].get(c["study_id"], "")) if "id_reasoning" in s_idx else ""
        )
        decision = reasoning.partition("Decision: ")[2] if "Decision: " in reasoning else ""
        rows.append(
            {
                "Reference": int(c["paper_ref"]),
                "Candidate report": _short(s_idx["citation"].get(c["study_id"], c["study_id"]), 60),
                "Role": ROLE_WORDS.get(c["id_role"], c["id_role"]),
                "Its patients": STATUS_WORDS.get(c["disease_status"], "not identified"),
                "The paper's statistics require": need or "not decided by them alone",
                "Decided by": _deciding_words(s["deciding"], data_dir=data_dir)
                if s["status"]
                else "",
                "Verdict": VERDICT_WORDS[c["verdict"]],
                "Decision taken": decision,
            }
        )
    return pd.DataFrame(rows)


def input_table(inference: Inference, *, data_dir=None) -> pd.DataFrame:
    """Our inputs for pools the paper prints with I² = 0 against the range they allow."""
    rows = []
    for _, t in inference.inputs.iterrows():
        lo = min(t["raw_range"][0], t["ft_range"][0])
        hi = max(t["raw_range"][1], t["ft_range"][1])
        rows.append(
            {
                "Outcome": outcome_words(t["outcome"], data_dir=data_dir),
                "Reference": int(t["paper_ref"]),
                "Our input (%)": f"{t['input_pct']:g}",
                "Patients": int(t["n"]),
                "Largest Q the paper allows": f"{t['q_max']:.2f}",
                "Inputs that fit (%)": "none" if math.isnan(lo) else f"{lo:.0f} to {hi:.0f}",
                "Verdict": "fits" if t["inside"] else "cannot have been pooled",
            }
        )
    return pd.DataFrame(rows)


def summary_values(inference: Inference) -> dict[str, str]:
    """Sentences for the chapter prose: the ND/RR split, refs forced each way, the open
    set and the contradicted candidates."""
    vod = inference.k[
        (inference.k["outcome"] == "VOD") & (inference.k["subgroup"] == "newly diagnosed")
    ]
    st = inference.status
    nd = st.loc[st["status"] == ND, "paper_ref"].tolist()
    rr = st.loc[st["status"] == RR, "paper_ref"].tolist()
    contra = inference.candidates[inference.candidates["verdict"] == "contradicted"]
    bad_inputs = (
        inference.inputs[~inference.inputs["inside"].astype(bool)] if len(inference.inputs) else []
    )

    def words(refs) -> str:
        # Words, not a bare list of numbers (myst-nb would read "17, 18" as a tuple).
        refs = [str(r) for r in refs]
        if not refs:
            return "none"
        if len(refs) == 1:
            return f"reference {refs[0]}"
        return f"references {', '.join(refs[:-1])} and {refs[-1]}"

    joint = "; ".join(
        f"{'exactly one' if j['nd_counts'] == (1,) else j['nd_counts']} of references "
        f"{', '.join(map(str, j['refs']))} is newly diagnosed"
        for j in inference.joint
    )
    return {
        "nd_total": _ks(vod["implied_k"].iloc[0]) if len(vod) else "unknown",
        "decided_nd": words(nd),
        "decided_rr": words(rr),
        "open": joint or "none",
        "contradicted": ", ".join(sorted(contra["study_id"])) or "none",
        "bad_inputs": "; ".join(
            [
                f"reference {int(t['paper_ref'])} "
                f"({outcome_words(t['outcome']).lower()}: {t['input_pct']:g}%)"
                for _, t in bad_inputs.iterrows()
            ]
        )
        if len(bad_inputs)
        else "none",
    }


# python -m review.analysis.identification [data_dir]: refresh id_reasoning
if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data")
    write_reasoning(root / "studies.csv", load_plan(), data_dir=root)
