"""The plan's row rules (``analysis_plan.yaml``, ``row_selection``) as checks of ``data/``.

Each rule of the plan that says which variant of a study's outcome may be ``primary`` is a
named check here. :func:`check` runs them on the outcome rows as :mod:`review.data.validate` reads
them (every cell text, blank = ``""``) and returns one :class:`RuleBreak` per primary row that
breaks a rule and is not named, with that rule, in the plan's ``row_selection.exceptions``.
The validator reports each as file, line, column, value and rule; :func:`exceptions_table`
gives the exceptions as a reader table for the Methods page.

The checks read the structured columns (``denominator_basis``, ``flags``, ``date_public``)
and, where the data hold the restriction only in words, the row's ``definition`` (for
example "allo-SCT in first CR"); the patterns are named once below.

References
----------
Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for Systematic Reviews of
Interventions, version 6.4, 2023, chapter 5.5 (which result to extract when a report gives
several: a decision rule set in advance, applied to every study).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from review.data.schema import parse_date_end

__all__ = [
    "ALL_TREATED_BASES",
    "RULES",
    "RuleBreak",
    "check",
    "exceptions",
    "exception_problems",
    "not_usable_flags",
    "rule_name",
]

# Denominators that count every patient treated (rule `denominator`).
ALL_TREATED_BASES = frozenset({"all_treated", "itt", "safety"})
# Flags that say a denominator was not printed: such a row does not show that the report
# prints an all-treated n.
UNPRINTED_DENOMINATOR_FLAGS = frozenset({"assumed_denominator", "inferred_denominator"})
# The denominator of relapse (rule `relapse`): the patients in remission.
RELAPSE_BASES = frozenset({"responders"})

# A crude relapse proportion means little without its follow-up: the note states it.
FOLLOW_UP_STATED = re.compile(r"\bfollow-up\b", re.IGNORECASE)

# Words of a definition that restrict an outcome against the plan's rule.
MRD_SINGLE_TIME_POINT = re.compile(
    r"\bafter (?:induction )?cycle|\bafter c\d|\bend of (?:treatment|induction)\b|\beot\b"
    r"|\bafter (?:one|two|three|\d) cycles?",
    re.IGNORECASE,
)
TRANSPLANT_RESTRICTED = re.compile(
    r"\bfirst (?:cr|complete remission|remission)\b|\bcr1\b|\bdirectly after\b"
    r"|\bbefore (?:any )?follow-up",
    re.IGNORECASE,
)
AE_CAUSALITY_RESTRICTED = re.compile(
    r"\b(?:treatment|drug|therapy|ino)[- ]related\b|\brelated to (?:treatment|the drug|ino)",
    re.IGNORECASE,
)

# rule id -> (short wording for the report, column the break is reported at)
RULES: dict[str, tuple[str, str]] = {
    "usable": (
        "a primary row is a usable number (no flag that the plan counts as unusable)",
        "flags",
    ),
    "denominator": ("all treated or ITT where the report prints it", "denominator_basis"),
    "mrd": ("best MRD response (negativity at any assessment)", "definition"),
    "transplant": ("allogeneic transplant at any time after InO", "definition"),
    "adverse_events": ("all-causality adverse events", "definition"),
    "relapse": ("relapse among patients in remission", "denominator_basis"),
    "one_report_per_cohort": (
        "the latest report of the cohort that gives the outcome",
        "date_public",
    ),
}


def rule_name(rule: str) -> str:
    """The wording a validation report gives for ``rule`` (an id of :data:`RULES`)."""
    return f"row rule {rule}: {RULES[rule][0]}"


@dataclass(frozen=True)
class RuleBreak:
    """A primary row that breaks a row rule: its position, column, rule id and the reason."""

    index: int
    column: str
    rule: str
    detail: str


def _row_selection(plan: Mapping) -> Mapping:
    raw = getattr(plan, "raw", plan)
    return raw.get("row_selection", {}) or {}


def not_usable_flags(plan: Mapping) -> frozenset[str]:
    """Flags that keep a row out of the primary set (``row_selection.not_usable_flags``)."""
    return frozenset(_row_selection(plan).get("not_usable_flags", ()))


def exceptions(plan: Mapping) -> list[dict]:
    """The plan's exceptions: dicts with ``study_id, outcome, variant, rule, reason``."""
    return [dict(e) for e in _row_selection(plan).get("exceptions", None) or []]


def exception_problems(plan: Mapping) -> list[tuple[int, str]]:
    """Malformed exceptions: (position in the list, what is wrong)."""
    out = []
    for i, e in enumerate(exceptions(plan)):
        missing = [
            k
            for k in ("study_id", "outcome", "variant", "rule", "reason")
            if not str(e.get(k) or "").strip()
        ]
        if missing:
            out.append((i, f"missing {', '.join(missing)}"))
        elif e["rule"] not in RULES:
            out.append((i, f"unknown rule {e['rule']!r}; known: {', '.join(RULES)}"))
    return out


def _flags(v: str) -> set[str]:
    return {f for f in v.split(";") if f}


def _col(f: pd.DataFrame, name: str) -> pd.Series:
    return f[name] if name in f.columns else pd.Series("", index=f.index)


def _content_breaks(f: pd.DataFrame, i: int, plan: Mapping, printed_n: dict) -> list[RuleBreak]:
    """Rules that a row breaks by what it holds (all but one report per cohort)."""
    code, basis, kind = f.at[i, "outcome"], _cell(f, i, "denominator_basis"), _cell(f, i, "kind")
    fl, definition = _flags(_cell(f, i, "flags")), _cell(f, i, "definition")
    out = []
    hit = sorted(fl & not_usable_flags(plan))
    if hit:
        out.append(RuleBreak(i, "flags", "usable", f"flag {', '.join(hit)}: not a usable number"))
    if code == "relapse":
        if basis not in RELAPSE_BASES:
            out.append(
                RuleBreak(
                    i,
                    "denominator_basis",
                    "relapse",
                    "relapse is counted among the patients in remission (denominator_basis "
                    "responders)",
                )
            )
        elif not FOLLOW_UP_STATED.search(_cell(f, i, "note")):
            out.append(
                RuleBreak(
                    i, "note", "relapse", "the note does not state the follow-up of the count"
                )
            )
    elif basis and basis not in ALL_TREATED_BASES:
        study, outcome = _col(f, "study_id"), _col(f, "outcome")
        same = f.index[
            (study == f.at[i, "study_id"])
            & (outcome == code)
            & _col(f, "denominator_basis").isin(ALL_TREATED_BASES)
        ]
        if kind == "survival" and len(same):
            j = same[0]
            out.append(
                RuleBreak(
                    i,
                    "denominator_basis",
                    "denominator",
                    f"variant {f.at[j, 'variant']!r} is over all treated",
                )
            )
        elif kind != "survival" and _report(f, i) in printed_n:
            j = printed_n[_report(f, i)]
            n = _cell(f, j, "total") or _cell(f, j, "n_analysed")
            out.append(
                RuleBreak(
                    i,
                    "denominator_basis",
                    "denominator",
                    f"the report prints an all-treated n ({n}, {f.at[j, 'outcome']} row "
                    f"{f.at[j, 'variant']!r}); put the count over it as a derived variant",
                )
            )
    if code == "MRD_neg" and MRD_SINGLE_TIME_POINT.search(definition):
        out.append(
            RuleBreak(i, "definition", "mrd", "one assessment time point, not the best response")
        )
    if code == "SCT" and TRANSPLANT_RESTRICTED.search(definition):
        out.append(
            RuleBreak(
                i, "definition", "transplant", "transplants restricted to one phase of treatment"
            )
        )
    if (code == "VOD" or code.startswith(("VOD_", "AE_"))) and AE_CAUSALITY_RESTRICTED.search(
        definition
    ):
        out.append(
            RuleBreak(
                i, "definition", "adverse_events", "events restricted by attributed causality"
            )
        )
    if code.startswith("AE_") and "serious_only" in fl:
        out.append(RuleBreak(i, "flags", "adverse_events", "serious adverse events only"))
    return out


def _cell(f: pd.DataFrame, i: int, name: str) -> str:
    return f.at[i, name] if name in f.columns else ""


def _report(f: pd.DataFrame, i: int) -> tuple[str, str]:
    """A report: the study and its ``report`` citation (one study row can hold several)."""
    return (f.at[i, "study_id"], _cell(f, i, "report"))


def _breaks(f: pd.DataFrame, plan: Mapping) -> list[RuleBreak]:
    """Every rule broken by a primary row, before exceptions."""
    basis = _col(f, "denominator_basis")
    flags = _col(f, "flags").map(_flags)
    # the first row of each report that prints its all-treated n
    printed_n: dict[tuple[str, str], int] = {}
    for i in f.index:
        if basis[i] in ALL_TREATED_BASES and not flags[i] & UNPRINTED_DENOMINATOR_FLAGS:
            printed_n.setdefault(_report(f, i), i)
    content = {i: _content_breaks(f, i, plan, printed_n) for i in f.index}
    study, outcome = _col(f, "study_id"), _col(f, "outcome")
    dates = _col(f, "date_public").map(parse_date_end)
    out: list[RuleBreak] = []
    for i in f.index[_col(f, "primary") == "true"]:
        out += content[i]
        if pd.isna(dates[i]):
            continue
        # a later report of the same outcome that the other rules would accept as primary
        later = [
            j
            for j in f.index[(study == study[i]) & (outcome == outcome[i])]
            if j != i
            and pd.notna(dates[j])
            and dates[j] > dates[i]
            and not content[j]
            and (basis[j] in ALL_TREATED_BASES or basis[j] == basis[i])
        ]
        if later:
            j = later[0]
            out.append(
                RuleBreak(
                    i,
                    "date_public",
                    "one_report_per_cohort",
                    f"variant {f.at[j, 'variant']!r} of the same study and outcome is from a "
                    f"later report ({f.at[j, 'date_public']})",
                )
            )
    return out


def _key(f: pd.DataFrame, i: int) -> tuple[str, str, str]:
    return (f.at[i, "study_id"], f.at[i, "outcome"], f.at[i, "variant"])


def check(outcomes: pd.DataFrame, plan: Mapping) -> tuple[list[RuleBreak], list[dict]]:
    """Run the row rules on the outcome rows of ``data/`` (text cells).

    Parameters
    ----------
    outcomes : DataFrame
        ``outcomes.csv`` read as text (blank cells ``""``), index 0..n-1.
    plan : Plan or mapping
        The analysis plan; its ``row_selection`` gives ``not_usable_flags`` and
        ``exceptions``.

    Returns
    -------
    breaks : list of RuleBreak
        Primary rows that break a rule and are not excepted for it.
    unused : list of dict
        Exceptions of a study in ``outcomes`` that name no primary row breaking their rule
        (stale entries of the plan).
    """
    if outcomes.empty or not {"study_id", "outcome", "variant", "primary"} <= set(outcomes.columns):
        return [], []
    allowed = {(e["study_id"], e["outcome"], e["variant"], e["rule"]): e for e in exceptions(plan)}
    used: set[tuple] = set()
    kept = []
    for b in _breaks(outcomes, plan):
        key = (*_key(outcomes, b.index), b.rule)
        if key in allowed:
            used.add(key)
        else:
            kept.append(b)
    # an exception is stale only where its study is in these data (a test folder holds others)
    present = set(outcomes["study_id"])
    unused = [e for k, e in allowed.items() if k not in used and e["study_id"] in present]
    return kept, unused
