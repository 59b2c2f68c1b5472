"""Risk of bias of each included study, judged by this review, and what GRADE reads from it.

The tool is the one the analysis plan names (``analysis_plan.yaml``, section
``risk_of_bias``): Murad et al.'s tool for case series, kept to the questions that bear on a
rate seen in one arm (selection, description of the treatment, outcome assessment,
follow-up, reporting). Each study gets a judgement per domain in ``data/risk_of_bias.csv``,
with its reason and the words of the report it rests on. The overall judgement of a study is
its worst domain (the plan lists the judgements from least to most concern); no score is
summed. A randomised trial contributes only its inotuzumab arm and is judged on the same
domains.

For GRADE's risk-of-bias domain, :func:`concern_share` gives the share of patients, in a set
of analysis rows, who are in studies whose overall judgement the plan counts as of concern.

References
----------
Murad MH, Sultan S, Haffar S, Bazerbachi F. Methodological quality and synthesis of case
series and case reports. BMJ Evid Based Med 2018;23:60-3. doi:10.1136/bmjebm-2017-110853
Munn Z, Barker TH, Moola S, et al. Methodological quality of case series studies: an
introduction to the JBI critical appraisal tool. JBI Evid Synth 2020;18:2127-33.
doi:10.11124/JBISRIR-D-19-00099
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from review import data
from review.data.plan import Plan, load_plan

__all__ = [
    "COLOURS",
    "SYMBOLS",
    "concern_by_outcome",
    "concern_share",
    "domains",
    "headline",
    "judgement_levels",
    "judgements",
    "overall",
    "paper_blinding_note",
    "paper_score",
    "reasons_table",
    "summary",
    "summary_bars",
    "tool_table",
    "traffic_light",
    "wide_table",
]

# Okabe & Ito (2008) colours, and a symbol in each mark, so that the judgement is read
# without colour too (as robvis draws them: + low, ? unclear, x high).
COLOURS = {"low": "#009E73", "unclear": "#E69F00", "high": "#D55E00"}
SYMBOLS = {"low": "+", "unclear": "?", "high": "×"}
OVERALL = "overall"


def _plan(plan: Plan | Mapping | None) -> Plan | Mapping:
    """The plan given, or the repository's (parsed here: callers resolve it once)."""
    return load_plan() if plan is None else plan


def _section(plan: Plan | Mapping | None) -> Mapping:
    plan = _plan(plan)
    raw = plan.raw if isinstance(plan, Plan) else plan
    try:
        return raw["risk_of_bias"]
    except KeyError:
        raise KeyError("the analysis plan has no `risk_of_bias` section") from None


def domains(plan: Plan | Mapping | None = None) -> dict[str, str]:
    """Domain codes of the plan's tool, in order, with their reader labels."""
    return {d["key"]: d["label"] for d in _section(plan)["domains"]}


def judgement_levels(plan: Plan | Mapping | None = None) -> dict[str, str]:
    """Judgement codes from least to most concern, with their reader labels."""
    return {j["key"]: j["label"] for j in _section(plan)["judgements"]}


def _of_concern(plan) -> set[str]:
    return set(_section(plan)["of_concern"])


def _ids(study_ids) -> list[str] | None:
    if study_ids is None:
        return None
    if isinstance(study_ids, str):
        return [study_ids]
    return list(dict.fromkeys(str(s) for s in study_ids))


def judgements(
    study_ids: Iterable[str] | None = None, *, data_dir=None, plan: Plan | None = None
) -> pd.DataFrame:
    """The review's judgement of every study and domain, with reader labels.

    Parameters
    ----------
    study_ids : iterable of str, optional
        Only these studies (default: every study judged).
    data_dir : path, optional
        Data directory (default: the repository's ``data/``).
    plan : Plan, optional
        The analysis plan (default: :func:`review.data.plan.load_plan`).

    Returns
    -------
    pandas.DataFrame
        One row per study and domain, in the plan's domain order: ``study_id``, ``study``
        (the reader label of the study), ``domain``, ``domain_label``, ``judgement``,
        ``judgement_label``, ``reason``, ``quote``, ``source``, ``source_url``.
    """
    plan = _plan(plan)
    ds = data.load(data_dir)
    doms, levels = domains(plan), judgement_levels(plan)
    rob = ds.risk_of_bias.copy()
    ids = _ids(study_ids)
    if ids is not None:
        rob = rob[rob["study_id"].isin(ids)]
    labels = pd.Series(data._labels(ds.studies).to_numpy(), index=ds.studies["study_id"])
    rob["study"] = rob["study_id"].map(labels)
    rob["domain_label"] = rob["domain"].map(doms)
    rob["judgement_label"] = rob["judgement"].map(levels)
    rob["_order"] = rob["domain"].map({d: i for i, d in enumerate(doms)})
    rob = rob.sort_values(["study", "_order"], kind="stable")
    columns = ["study_id", "study", "domain", "domain_label", "judgement", "judgement_label"]
    return rob[[*columns, "reason", "quote", "source", "source_url"]].reset_index(drop=True)


def overall(
    study_ids: Iterable[str] | None = None, *, data_dir=None, plan: Plan | None = None
) -> pd.DataFrame:
    """Overall judgement per study by the plan's rule: the worst of its domains.

    A study asked for that has no judgement yet (``assessed`` False) counts as the plan
    says (``risk_of_bias.not_judged_as``: unclear), so that a study added by a later
    search is never taken as low concern before anyone has judged it.

    Parameters
    ----------
    study_ids : iterable of str, optional
        These studies, in this order (default: every study judged, by study label).
    data_dir : path, optional
        Data directory.
    plan : Plan, optional
        The analysis plan.

    Returns
    -------
    pandas.DataFrame
        ``study_id``, ``study`` (reader label), ``overall`` (code), ``overall_label``,
        ``of_concern`` (bool), ``assessed`` (bool), ``domains_judged`` (int).

    Notes
    -----
    Murad et al. (2018) ask for an overall judgement rather than a summed score; the plan
    lists the judgements from least to most concern and the overall one is the last
    reached by any domain.
    """
    plan = _plan(plan)
    table = judgements(study_ids, data_dir=data_dir, plan=plan)
    levels = judgement_levels(plan)
    rank = {code: i for i, code in enumerate(levels)}
    worst = table.groupby("study_id")["judgement"].agg(lambda s: max(s, key=rank.__getitem__))
    counts = table.groupby("study_id").size()
    ids = _ids(study_ids)
    if ids is None:
        ids = list(dict.fromkeys(table["study_id"]))
    ds = data.load(data_dir)
    labels = pd.Series(data._labels(ds.studies).to_numpy(), index=ds.studies["study_id"])
    out = pd.DataFrame({"study_id": pd.array(ids, dtype=object)})
    out["study"] = [labels.get(s, s) for s in ids]
    out["assessed"] = [s in worst.index for s in ids]
    out["overall"] = [worst.get(s, _section(plan)["not_judged_as"]) for s in ids]
    out["overall_label"] = out["overall"].map(levels)
    out["of_concern"] = out["overall"].isin(_of_concern(plan))
    out["domains_judged"] = [int(counts.get(s, 0)) for s in ids]
    return out[
        [
            "study_id",
            "study",
            "overall",
            "overall_label",
            "of_concern",
            "assessed",
            "domains_judged",
        ]
    ]


def concern_share(
    rows: pd.DataFrame,
    *,
    n: str = "total",
    study: str = "study_id",
    fallback: Sequence[str] = ("n_analysed", "n_enrolled"),
    data_dir=None,
    plan: Plan | None = None,
) -> float:
    """Share of patients in ``rows`` whose study's overall judgement is of concern.

    This is what GRADE's risk-of-bias domain reads: the plan states which overall
    judgements count as of concern (``risk_of_bias.of_concern``) and from what share a
    concern is serious (``grade.risk_of_bias``).

    Parameters
    ----------
    rows : pandas.DataFrame
        Analysis rows (e.g. from :func:`review.data.outcome`), one per study as analysed,
        with a study column and a patient-count column.
    n : str
        Column holding each row's number of patients (nullable integers allowed).
    study : str
        Column holding the study id.
    fallback : sequence of str
        Columns tried in turn where ``n`` is missing (survival rows have no ``total``).
        A row with no count in any of them is weighted by its study's ``n_enrolled``.
    data_dir : path, optional
        Data directory.
    plan : Plan, optional
        The analysis plan.

    Returns
    -------
    float
        Between 0 and 1; ``nan`` when ``rows`` hold no patients (no rows at all, or counts
        of 0): the share is then undefined, and the caller must say so rather than read
        it as "no concern".

    Raises
    ------
    KeyError
        If ``rows`` lack the study column.
    ValueError
        If a row has no patient count anywhere (not in ``n``, ``fallback`` or the study
        table).
    """
    plan = _plan(plan)
    if study not in rows.columns:
        raise KeyError(f"rows have no study column {study!r}")
    if rows.empty:
        return math.nan
    weight = _counts(rows, n, fallback, study, data_dir)
    flags = overall(rows[study].astype(str), data_dir=data_dir, plan=plan)
    concern = rows[study].astype(str).map(flags.set_index("study_id")["of_concern"])
    total = float(weight.sum())
    if total <= 0:
        return math.nan
    return float(weight[concern.to_numpy(dtype=bool)].sum()) / total


def concern_by_outcome(
    outcomes: Sequence[str] | None = None, *, data_dir=None, plan: Plan | None = None
) -> pd.DataFrame:
    """:func:`concern_share` of the primary rows of each outcome, per disease status.

    Parameters
    ----------
    outcomes : sequence of str, optional
        Outcome codes (default: the plan's ``summary_of_findings.outcomes``).

    Returns
    -------
    pandas.DataFrame
        Reader columns: outcome (dictionary description), population (the plan's label),
        number of studies, patients, and the share of patients in reports of concern.
        Strata without rows are left out. These are the primary rows before the plan's row
        rules, so a summary-of-findings row may hold fewer studies.
    """
    plan = _plan(plan)
    raw = plan.raw
    codes = list(outcomes) if outcomes is not None else raw["summary_of_findings"]["outcomes"]
    ds = data.load(data_dir)
    d = ds.dictionary
    names = d[(d["table"] == "outcomes") & (d["column"] == "outcome")].set_index("code")
    survival = set(data.outcome_codes("survival", data_dir=data_dir))
    out = []
    for code in codes:
        if code in survival:
            rows = data.landmark(code, data_dir=data_dir)
        else:
            rows = data.outcome(code, data_dir=data_dir)
        for stratum in raw["populations"]["strata"]:
            sub = rows[rows["disease_status"] == stratum["value"]]
            if sub.empty:
                continue
            weight = _counts(sub, "total", ("n_analysed", "n_enrolled"), "study_id", data_dir)
            out.append(
                {
                    "Outcome": names["description"].get(code, code),
                    "Population": stratum["label"],
                    "Studies": sub["study_id"].nunique(),
                    "Patients": int(weight.sum()),
                    "Share of patients in reports of concern": concern_share(
                        sub, data_dir=data_dir, plan=plan
                    ),
                }
            )
    return pd.DataFrame(out)


def _counts(rows: pd.DataFrame, n: str, fallback: Sequence[str], study: str, data_dir):
    """Patients per row: ``n``, else the first fallback column, else the study's n."""
    weight = pd.Series(pd.NA, index=rows.index, dtype="Float64")
    for col in (n, *fallback):
        if col in rows.columns:
            weight = weight.fillna(pd.to_numeric(rows[col], errors="coerce").astype("Float64"))
    if weight.isna().any():
        studies = data.load(data_dir).studies.set_index("study_id")["n_enrolled"]
        enrolled = rows[study].astype(str).map(studies).astype("Float64")
        weight = weight.fillna(enrolled)
    if weight.isna().any():
        missing = sorted(set(rows.loc[weight.isna().to_numpy(), study].astype(str)))
        raise ValueError(f"no patient count for rows of {missing}")
    return weight.astype(float)


# --- reader tables --------------------------------------------------------------------------


def wide_table(
    study_ids: Iterable[str] | None = None, *, data_dir=None, plan: Plan | None = None
) -> pd.DataFrame:
    """One row per study, one column per domain and the overall judgement, in words."""
    plan = _plan(plan)
    table = judgements(study_ids, data_dir=data_dir, plan=plan)
    doms = domains(plan)
    wide = table.pivot(index="study_id", columns="domain", values="judgement_label")
    over = overall(study_ids, data_dir=data_dir, plan=plan).set_index("study_id")
    over = over[over["assessed"]]
    out = pd.DataFrame({"Study": over["study"]})
    wide = wide.reindex(index=over.index, columns=list(doms)).astype(object)
    for code, label in doms.items():
        out[label] = wide[code].fillna("Not judged")
    out["Overall"] = over["overall_label"]
    return out.reset_index(drop=True)


def tool_table(plan: Plan | None = None) -> pd.DataFrame:
    """The plan's domains in words: the question each asks and the item of Murad's tool."""
    rows = [
        {
            "Domain": d["label"],
            "In the figure": d.get("short", d["label"]),
            "Question": " ".join(str(d["question"]).split()),
            "Murad item": str(d["murad_item"]),
        }
        for d in _section(plan)["domains"]
    ]
    return pd.DataFrame(rows)


def reasons_table(
    study_ids: Iterable[str] | None = None, *, data_dir=None, plan: Plan | None = None
) -> pd.DataFrame:
    """Every judgement in words, with its reason, the report's words and where they are."""
    plan = _plan(plan)
    t = judgements(study_ids, data_dir=data_dir, plan=plan)
    return pd.DataFrame(
        {
            "Study": t["study"],
            "Domain": t["domain_label"],
            "Judgement": t["judgement_label"],
            "Reason": t["reason"],
            "Words of the report": t["quote"],
            "Source": [
                f"{src} ({url})" if url else src
                for src, url in zip(t["source"], t["source_url"], strict=True)
            ],
        }
    )


def summary(
    weight: str = "studies",
    study_ids: Iterable[str] | None = None,
    *,
    data_dir=None,
    plan: Plan | None = None,
) -> pd.DataFrame:
    """Share of studies (or of their patients) per domain and judgement, overall included.

    Parameters
    ----------
    weight : {"studies", "patients"}
        Count each study once, or by its number of patients (``n_enrolled``).

    Returns
    -------
    pandas.DataFrame
        Index: domain labels then "Overall"; columns: judgement labels, least concern
        first; rows sum to 1.
    """
    plan = _plan(plan)
    if weight not in ("studies", "patients"):
        raise ValueError("weight must be 'studies' or 'patients'")
    table = judgements(study_ids, data_dir=data_dir, plan=plan)
    over = overall(study_ids, data_dir=data_dir, plan=plan)
    over = over[over["assessed"]]
    long = pd.concat(
        [
            table[["study_id", "domain", "judgement"]],
            over.assign(domain=OVERALL, judgement=over["overall"])[
                ["study_id", "domain", "judgement"]
            ],
        ],
        ignore_index=True,
    )
    if weight == "patients":
        enrolled = data.load(data_dir).studies.set_index("study_id")["n_enrolled"]
        long["w"] = long["study_id"].map(enrolled).astype("Float64").fillna(0).astype(float)
    else:
        long["w"] = 1.0
    levels = judgement_levels(plan)
    labels = {**domains(plan), OVERALL: "Overall"}
    grid = long.pivot_table(index="domain", columns="judgement", values="w", aggfunc="sum")
    grid = grid.reindex(index=list(labels), columns=list(levels)).fillna(0.0)
    totals = grid.sum(axis=1)
    share = grid.div(totals.where(totals > 0), axis=0).fillna(0.0)
    share.index = [labels[d] for d in share.index]
    share.columns = [levels[j] for j in share.columns]
    return share


def headline(*, data_dir=None, plan: Plan | None = None) -> dict[str, object]:
    """The numbers a page opens with: studies per overall judgement, and why.

    Returns
    -------
    dict
        ``n_studies``; ``n_<judgement>`` for each judgement code; ``share_concern`` (share
        of patients, by ``n_enrolled``, in studies of concern); ``top_domain`` (label of
        the domain most often judged high concern) and ``n_top_domain`` (how many studies).
    """
    plan = _plan(plan)
    over = overall(data_dir=data_dir, plan=plan)
    out: dict[str, object] = {"n_studies": len(over)}
    for code in judgement_levels(plan):
        out[f"n_{code}"] = int((over["overall"] == code).sum())
    share = summary("patients", data_dir=data_dir, plan=plan).loc["Overall"]
    levels = judgement_levels(plan)
    out["share_concern"] = float(sum(share[levels[c]] for c in _of_concern(plan)))
    table = judgements(data_dir=data_dir, plan=plan)
    worst = list(levels)[-1]
    counts = table[table["judgement"] == worst]["domain_label"].value_counts()
    out["top_domain"] = counts.index[0] if len(counts) else ""
    out["n_top_domain"] = int(counts.iloc[0]) if len(counts) else 0
    return out


def paper_score(
    quality: pd.DataFrame, study_id: str, scale: str, item: str, scorer: str = "lao2025"
) -> tuple[int, int]:
    """A score of the source paper's quality table and its maximum, e.g. INO-VATE's
    modified Jadad blinding item (``quality`` is ``data.load().quality``)."""
    row = quality[
        (quality["study_id"] == study_id)
        & (quality["scale"] == scale)
        & (quality["item_label"] == item)
        & (quality["scorer"] == scorer)
    ]
    if len(row) != 1:
        raise KeyError(f"no single {scale} item {item!r} of {study_id} by {scorer}")
    return int(row["score"].iloc[0]), int(row["max_score"].iloc[0])


def paper_blinding_note(quality: pd.DataFrame) -> str:
    """A sentence flagging the paper's blinding point for the open-label INO-VATE trial.

    The trial was open-label (Kantarjian et al., Cancer 2019, quoted in
    ``data/risk_of_bias.csv``), so a modified Jadad blinding score above 0 is impossible
    for its design. Empty when the data hold no such score (another data folder).
    """
    try:
        score, most = paper_score(quality, "ref18_INO-VATE", "modified_jadad", "blinding")
    except KeyError:
        return ""
    if score == 0:
        return ""
    return (
        f"The paper gives INO-VATE {score} of {most} points for blinding on the modified "
        "Jadad scale, although the trial was open-label; the score is kept as printed."
    )


# --- figures --------------------------------------------------------------------------------


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _legend_handles(plan):

    return [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=13,
            markerfacecolor=COLOURS[code],
            markeredgecolor="white",
            label=f"{SYMBOLS[code]}  {label}",
        )
        for code, label in judgement_levels(plan).items()
    ]


def traffic_light(
    study_ids: Iterable[str] | None = None,
    ax=None,
    *,
    data_dir=None,
    plan: Plan | None = None,
    label_width: int = 22,
):
    """Traffic-light plot: one row per study, one column per domain and the overall one.

    Each judgement is a coloured disc with a symbol in it (+ low concern, ? unclear,
    × high concern), so it reads without colour too. The legend sits below the grid,
    outside the axes, so it covers no mark.

    Parameters
    ----------
    study_ids : iterable of str, optional
        Studies to show (default: every study judged).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure sized to the number of studies if None.
    label_width : int
        Characters per line of the study labels.

    Returns
    -------
    matplotlib.axes.Axes
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    plan = _plan(plan)
    table = judgements(study_ids, data_dir=data_dir, plan=plan)
    over = overall(study_ids, data_dir=data_dir, plan=plan)
    over = over[over["assessed"]]
    rank = {code: i for i, code in enumerate(judgement_levels(plan))}
    over = over.assign(_r=over["overall"].map(rank)).sort_values(["_r", "study"], kind="stable")
    doms = list(domains(plan))
    columns = [*doms, OVERALL]
    # short column names (the plan's `short`), so that six columns fit a phone's width
    col_labels = [*(d.get("short", d["label"]) for d in _section(plan)["domains"]), "Overall"]
    if ax is None:
        # narrow, so that the page scales it down little on a phone
        height = 1.5 + 0.4 * max(len(over), 1)
        _, ax = plt.subplots(figsize=(5.0, height))
    cell = table.set_index(["study_id", "domain"])["judgement"]
    for i, sid in enumerate(over["study_id"]):
        for j, dom in enumerate(columns):
            code = over.iloc[i]["overall"] if dom == OVERALL else cell.get((sid, dom))
            if code is None or pd.isna(code):
                continue
            ax.scatter(j, i, s=260, color=COLOURS[code], edgecolors="white", zorder=2)
            ax.text(
                j,
                i,
                SYMBOLS[code],
                ha="center",
                va="center",
                color="white",
                fontsize=11,
                fontweight="bold",
                zorder=3,
            )
    ax.axvline(len(doms) - 0.5, color="#999999", linewidth=0.8)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(len(over) - 0.5, -0.5)
    ax.set_yticks(range(len(over)))
    ax.set_yticklabels([_wrap(s, label_width) for s in over["study"]], fontsize=10)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(col_labels, fontsize=9.5, rotation=40, ha="left", rotation_mode="anchor")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.grid(False)
    ax.legend(
        handles=_legend_handles(plan),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=3,
        frameon=False,
        fontsize=9,
        handletextpad=0.3,
    )
    return ax


def summary_bars(
    weight: str = "studies",
    study_ids: Iterable[str] | None = None,
    ax=None,
    *,
    data_dir=None,
    plan: Plan | None = None,
):
    """Stacked bar per domain (and overall): share of studies or patients per judgement.

    Parameters
    ----------
    weight : {"studies", "patients"}
        What the bars count (see :func:`summary`).
    study_ids : iterable of str, optional
        Studies to count (default: every study judged).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    plan = _plan(plan)
    share = summary(weight, study_ids, data_dir=data_dir, plan=plan)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 1.4 + 0.45 * len(share)))
    rows = list(range(len(share)))
    left = pd.Series(0.0, index=share.index)
    for code, label in judgement_levels(plan).items():
        values = share[label]
        ax.barh(
            rows,
            values,
            left=left,
            color=COLOURS[code],
            edgecolor="white",
            label=f"{SYMBOLS[code]}  {label}",
            height=0.7,
        )
        left = left + values
    ax.set_yticks(rows)
    ax.set_yticklabels([_wrap(s, 22) for s in share.index], fontsize=9)
    ax.set_ylim(len(share) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Share of patients" if weight == "patients" else "Share of studies")
    ax.set_title("Weighted by patients" if weight == "patients" else "Each study counted once")
    ax.grid(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False, fontsize=9)
    return ax
