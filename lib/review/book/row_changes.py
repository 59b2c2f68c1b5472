"""The data's row-rule exceptions and logged row changes, as tables for readers.

The rules themselves, and the check that the data keep them, are :mod:`review.data.row_rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from review import data
from review.data import row_rules, validate
from review.data.plan import load_plan


def _sentence(text: str) -> str:
    """``text`` with its first letter upper case (abbreviations such as MRD kept)."""
    return text[:1].upper() + text[1:]


def exceptions_table(plan: Mapping | None = None, data_dir=None) -> pd.DataFrame:
    """The plan's row-rule exceptions as a reader table: study, outcome, result, rule, reason.

    Parameters
    ----------
    plan : Plan, optional
        Defaults to :func:`review.data.plan.load_plan`.
    data_dir : path, optional
        The data folder whose studies and outcome rows name the exceptions.
    """
    plan = plan if plan is not None else load_plan()
    ds = data.load(data_dir)
    labels = pd.Series(data._labels(ds.studies).to_numpy(), index=ds.studies["study_id"])
    rows = []
    for e in row_rules.exceptions(plan):
        o = ds.outcomes
        hit = o[
            (o["study_id"] == e["study_id"])
            & (o["outcome"] == e["outcome"])
            & (o["variant"] == e["variant"])
        ]
        if len(hit):
            r = hit.iloc[0]
            if r["kind"] == "binary" and pd.notna(r["events"]):
                result = f"{int(r['events'])} of {int(r['total'])}"
            elif pd.notna(r.get("estimate_pct")):
                result = f"{r['estimate_pct']:g}%"
            else:
                result = "not given"
            what = str(r["definition"]) if pd.notna(r["definition"]) else ""
        else:
            result, what = "not in the data", ""
        study = labels.get(e["study_id"], e["study_id"])
        rows.append(
            {
                "Study": study,
                "Outcome": _sentence(plan.wording(e["outcome"])["name"]),
                "Result kept": f"{result} ({what})" if what else result,
                "Rule": _sentence(row_rules.RULES[e["rule"]][0])
                if e["rule"] in row_rules.RULES
                else e["rule"],
                "Reason": " ".join(str(e["reason"]).split()),
            }
        )
    return pd.DataFrame(rows, columns=["Study", "Outcome", "Result kept", "Rule", "Reason"])


CHANGE_LOG = "changes.csv"


def change_log(data_dir=None, plan: Mapping | None = None) -> pd.DataFrame:
    """The rows of ``data/`` changed under the row rules, as a reader table.

    ``data/changes.csv`` logs each change (date, issue, study, outcome, variant, field, old
    and new value, rule, reason); this puts it in words: the study's label, the outcome's
    name, the row's definition and numbers, what changed and why.

    Parameters
    ----------
    data_dir : path, optional
        The data folder (default: the repository's ``data/``).
    plan : Plan, optional
        Defaults to :func:`review.data.plan.load_plan`.

    Returns
    -------
    pandas.DataFrame
        Columns Date, Study, Outcome, Result, Change, Rule, Reason; empty when the folder
        holds no log.
    """
    cols = ["Date", "Study", "Outcome", "Result", "Change", "Rule", "Reason"]
    root = Path(data_dir) if data_dir is not None else validate.default_data_dir()
    path = root / CHANGE_LOG
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    plan = plan if plan is not None else load_plan()
    log = pd.read_csv(path, dtype=str, keep_default_na=False)
    ds = data.load(root)
    labels = pd.Series(data._labels(ds.studies).to_numpy(), index=ds.studies["study_id"])
    d = ds.dictionary[(ds.dictionary["table"] == "outcomes") & (ds.dictionary["column"] == "flags")]
    flag_words = dict(zip(d["code"], d["description"], strict=True))
    o = ds.outcomes.set_index(["study_id", "outcome", "variant"])
    rows = []
    for r in log.itertuples(index=False):
        key = (r.study_id, r.outcome, r.variant)
        if key in o.index:
            x = o.loc[key]
            x = x.iloc[0] if isinstance(x, pd.DataFrame) else x
            if x["kind"] == "binary" and pd.notna(x["events"]):
                result = f"{int(x['events'])} of {int(x['total'])}"
            elif pd.notna(x["estimate_pct"]):
                result = f"{x['estimate_pct']:g}%"
            else:
                result = "percentage only"
            if pd.notna(x["definition"]) and x["definition"]:
                result += f" ({x['definition']})"
        else:
            result = "row no longer in the data"
        if r.field == "(row)":
            change = "Row added"
        elif r.field == "primary":
            change = (
                "Now pooled (primary)"
                if r.new == "true"
                else "No longer pooled (kept as a variant)"
            )
        elif r.field == "flags":
            added = [f for f in r.new.split(";") if f and f not in r.old.split(";")]
            change = "Flagged: " + "; ".join(flag_words.get(f, f) for f in added)
        else:
            change = f"Note: {r.new}"
        rows.append(
            {
                "Date": r.date,
                "Study": labels.get(r.study_id, r.study_id),
                "Outcome": _sentence(plan.wording(r.outcome)["name"]),
                "Result": result,
                "Change": change,
                "Rule": _sentence(row_rules.RULES[r.rule][0])
                if r.rule in row_rules.RULES
                else r.rule,
                "Reason": _sentence(r.reason),
            }
        )
    return pd.DataFrame(rows, columns=cols)
