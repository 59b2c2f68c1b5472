"""The PRISMA 2020 flow of study selection, computed from ``data/`` and drawn.

Two sources feed the flow. ``prisma.csv`` holds the counts a search round *states* (the
source paper's search: 2,503 records and 65 registered trials identified, 16 studies
included); a count it does not state is left empty and shown as unknown, never guessed.
``screening.csv`` logs every record of a later search round, one decision per record; the
counts of such a round are *computed* from it. A round that has rows in ``prisma.csv`` is
taken as stated there.

How the screening log maps to the boxes of the PRISMA 2020 diagram (Page et al. 2021,
figure 1, the template for updated reviews):

* records identified: every record of the round; from registers when the decision was based
  on a registry record (``stage == "registry"``), otherwise from databases and other sources;
* removed before screening: ``decision == "duplicate"`` (another copy of a record already
  seen, or a report already in the review);
* records screened: the rest;
* records excluded: ``decision == "exclude"`` decided on the title and abstract
  (``stage`` ``abstract`` or ``other``);
* reports assessed for eligibility: records screened minus records excluded; of these,
  reports excluded (``exclude`` on a full text, registry, press or secondary copy),
  awaiting classification (``awaiting``) and included (``include``);
* new studies: included reports whose study does not share a ``cohort_id`` with a study of
  the previous version (a later cut of an included trial is a new report, not a new study).

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated
guideline for reporting systematic reviews. BMJ 372:n71. doi:10.1136/bmj.n71
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pandas as pd

__all__ = ["STEPS", "Flow", "count_text", "flows", "flow_table", "flow_diagram"]

# The boxes of the diagram, in order, with the wording of the PRISMA 2020 template.
STEPS = {
    "records_identified_databases": "Records identified from databases and other sources",
    "records_identified_registers": "Records identified from registers",
    "duplicates_removed": "Records removed before screening (duplicates)",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "reports_assessed": "Reports assessed for eligibility",
    "reports_excluded": "Reports excluded",
    "reports_awaiting": "Reports awaiting classification",
    "studies_included": "New studies included",
    "reports_included": "Reports of new included studies",
    "studies_previous": "Studies included in the previous version",
    "studies_total": "Total studies included in the review",
}
_SCREENED_ON_ABSTRACT = ("abstract", "other")
_MAIN, _SIDE, _PHASE = "#E8F1F8", "#F4F4F4", "#0072B2"  # fills (pale blue, grey), Okabe-Ito blue
# Boxes only the diagram of an update has (a first review has no previous version).
_UPDATE_ONLY = ("reports_awaiting", "reports_included", "studies_previous", "studies_total")


@dataclass(frozen=True)
class Flow:
    """The counts of one search round; ``None`` where the count is unknown.

    Attributes
    ----------
    search_round : str
    counts : dict of str to int or None
        One entry per key of :data:`STEPS`.
    computed : bool
        True when the counts come from the screening log, False when stated in
        ``prisma.csv``.
    update : bool
        True for a round that updates an earlier version (it has a previous version).
    """

    search_round: str
    counts: dict
    computed: bool
    update: bool


def _stated(rows: pd.DataFrame) -> dict:
    """Counts as ``prisma.csv`` states them; a missing or empty count is unknown."""
    counts = dict.fromkeys(STEPS)
    for _, r in rows.iterrows():
        value = r["count"]
        counts[r["step"]] = None if pd.isna(value) or value == "" else int(value)
    return counts


def _computed(log: pd.DataFrame, studies: pd.DataFrame | None, previous_cohorts: set) -> dict:
    """Counts of one round from its screening log (the mapping of the module docstring)."""
    counts = dict.fromkeys(STEPS)
    registry = log["stage"] == "registry"
    duplicate = log["decision"] == "duplicate"
    excluded_early = (log["decision"] == "exclude") & log["stage"].isin(_SCREENED_ON_ABSTRACT)
    assessed = ~duplicate & ~excluded_early
    included = log[assessed & (log["decision"] == "include")]
    counts.update(
        records_identified_databases=int((~registry).sum()),
        records_identified_registers=int(registry.sum()),
        duplicates_removed=int(duplicate.sum()),
        records_screened=int((~duplicate).sum()),
        records_excluded=int(excluded_early.sum()),
        reports_assessed=int(assessed.sum()),
        reports_excluded=int((assessed & (log["decision"] == "exclude")).sum()),
        reports_awaiting=int((assessed & (log["decision"] == "awaiting")).sum()),
        reports_included=len(included),
    )
    ids = [s for s in included["study_id"].dropna().unique() if s != ""]
    if studies is None or len(ids) < len(included):
        # a report included without its study row: how many studies it adds is unknown
        counts["studies_included"] = None
    else:
        cohort = studies.set_index("study_id")["cohort_id"].reindex(ids)
        cohort = cohort.where(cohort.notna() & (cohort != ""), pd.Series(ids, index=ids))
        counts["studies_included"] = int((~cohort.isin(previous_cohorts)).sum())
    return counts


def _cohorts(studies: pd.DataFrame | None, ids) -> set:
    if studies is None:
        return set()
    rows = studies[studies["study_id"].isin(list(ids))]
    cohort = rows["cohort_id"].where(rows["cohort_id"].notna() & (rows["cohort_id"] != ""))
    return set(cohort.fillna(rows["study_id"]))


def flows(
    prisma: pd.DataFrame, screening: pd.DataFrame, studies: pd.DataFrame | None = None
) -> list[Flow]:
    """The flow of every search round, in order: stated rounds first, then logged ones.

    Parameters
    ----------
    prisma : DataFrame
        ``data/prisma.csv`` (columns ``search_round, step, count``).
    screening : DataFrame
        ``data/screening.csv`` (columns ``search_round, date, stage, decision, study_id``).
    studies : DataFrame, optional
        ``data/studies.csv``; tells a new study from a new report of an included one
        (``cohort_id``). Without it the number of new studies is unknown.

    Returns
    -------
    list of Flow
        The studies of the previous version of a round are the total of the round before;
        the total is unknown as soon as one term of it is.
    """
    out: list[Flow] = []
    stated_rounds = list(dict.fromkeys(prisma["search_round"]))
    logged = screening[~screening["search_round"].isin(stated_rounds)]
    logged_rounds = list(dict.fromkeys(logged.sort_values("date", kind="stable")["search_round"]))
    previous_total = None
    previous_cohorts: set = set()
    if studies is not None and "in_source_paper" in studies:
        in_paper = studies["in_source_paper"].fillna(False).astype(bool)
        previous_cohorts = _cohorts(studies, studies.loc[in_paper, "study_id"])
    for name in stated_rounds + logged_rounds:
        is_stated = name in stated_rounds
        if is_stated:
            counts = _stated(prisma[prisma["search_round"] == name])
        else:
            log = logged[logged["search_round"] == name]
            counts = _computed(log, studies, previous_cohorts)
        update = bool(out)
        if update:
            counts["studies_previous"] = previous_total
            new = counts["studies_included"]
            if counts["studies_total"] is None:
                counts["studies_total"] = (
                    None if previous_total is None or new is None else previous_total + new
                )
        else:
            counts["studies_total"] = counts["studies_included"]
        if not is_stated:
            included = log.loc[log["decision"] == "include", "study_id"].dropna()
            previous_cohorts |= _cohorts(studies, included)
        previous_total = counts["studies_total"]
        out.append(Flow(name, counts, computed=not is_stated, update=update))
    return out


def flow_table(flow_list: list[Flow]) -> pd.DataFrame:
    """One row per round and box: ``search_round, step, box, count, source``.

    ``count`` is a nullable integer (``<NA>`` = unknown); ``source`` says whether the count
    was stated (``prisma.csv``), computed from the screening log, or added up.
    """
    rows = []
    for flow in flow_list:
        for step, box in STEPS.items():
            if not flow.update and step in _UPDATE_ONLY:
                continue
            if step == "studies_previous":
                source = "total of the round before"
            elif step == "studies_total" and flow.update:
                source = "previous total plus new studies"
            elif flow.computed:
                source = "computed from the screening log"
            else:
                source = "stated (prisma.csv)"
            if step == "studies_included" and not flow.update:
                box = "Studies included"
            rows.append(
                {
                    "search_round": flow.search_round,
                    "step": step,
                    "box": box,
                    "count": flow.counts[step],
                    "source": source,
                }
            )
    frame = pd.DataFrame(rows, columns=["search_round", "step", "box", "count", "source"])
    frame["count"] = pd.array(frame["count"].tolist(), dtype="Int64")
    return frame


def count_text(value) -> str:
    """A count as the book prints it: ``2,503``, or ``unknown`` for None."""
    return "unknown" if value is None else f"{value:,}"


def _n(value) -> str:
    # no-break spaces keep "(n = 2,503)" on one line when the box text is wrapped
    return "n\u00a0unknown" if value is None else f"n\u00a0=\u00a0{value:,}"


def _box(ax, x, y, w, h, lines, *, fill="#FFFFFF", wrap=34, fontsize=9.5):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x, y - h),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=fill,
            edgecolor="#333333",
            linewidth=1.0,
        )
    )
    text = "\n".join(textwrap.fill(line, wrap) for line in lines)
    ax.text(x + w / 2, y - h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.0, "shrinkA": 0, "shrinkB": 0},
    )


def flow_diagram(flow: Flow, ax=None, *, title: str | None = None):
    """Draw the PRISMA 2020 flow diagram of one search round.

    Parameters
    ----------
    flow : Flow
        One element of :func:`flows`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (its frame is hidden). Default: a new figure sized for a phone.
    title : str, optional
        Title above the diagram.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Two columns, as the PRISMA 2020 template: the main path on the left, what leaves it on
    the right. For an update, the studies of the previous version join the new ones in the
    total at the bottom. An unknown count is written "n unknown".
    """
    import matplotlib.pyplot as plt

    rows = 5 if flow.update else 4
    row_h, gap = 1.15, 0.45
    height = rows * (row_h + gap)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.9 * height))
    ax.set_xlim(0, 10)
    ax.set_ylim(-height, 0.3)
    ax.set_axis_off()
    left, right, w_left, w_right = 0.9, 5.75, 4.35, 4.2
    tops = [-(i * (row_h + gap)) for i in range(rows)]
    # phase labels in the left margin; "Included" spans the last two rows of an update
    phases = [
        ("Identification", tops[0] - row_h / 2),
        ("Screening", tops[1] - row_h / 2),
        ("Eligibility", tops[2] - row_h / 2),
        ("Included", (tops[3] + tops[-1] - row_h) / 2),
    ]
    for phase, y in phases:
        ax.text(
            0.35,
            y,
            phase,
            rotation=90,
            ha="center",
            va="center",
            fontsize=9,
            color=_PHASE,
            fontweight="bold",
        )
    c = flow.counts
    last = (
        [
            f"New studies included ({_n(c['studies_included'])})",
            f"reports of new studies ({_n(c['reports_included'])})",
        ]
        if flow.update
        else [f"Studies included ({_n(c['studies_included'])})"]
    )
    eligible_out = [f"Reports excluded ({_n(c['reports_excluded'])})"]
    if flow.update:
        eligible_out.append(f"awaiting classification ({_n(c['reports_awaiting'])})")
    # per row: the main-path box and the box to its right (None: no box), as the template
    layout = [
        (
            [
                "Records identified:",
                f"databases and other sources ({_n(c['records_identified_databases'])})",
                f"registers ({_n(c['records_identified_registers'])})",
            ],
            ["Records removed before screening:", f"duplicates ({_n(c['duplicates_removed'])})"],
        ),
        (
            [f"Records screened ({_n(c['records_screened'])})"],
            [f"Records excluded ({_n(c['records_excluded'])})"],
        ),
        ([f"Reports assessed for eligibility ({_n(c['reports_assessed'])})"], eligible_out),
        (
            last,
            [f"Studies included in the previous version ({_n(c['studies_previous'])})"]
            if flow.update
            else None,
        ),
    ]
    mid, side_mid = left + w_left / 2, right + w_right / 2
    for i, (main, side) in enumerate(layout):
        _box(ax, left, tops[i], w_left, row_h, main, fill=_MAIN)
        if i < 3:
            _arrow(ax, (mid, tops[i] - row_h), (mid, tops[i + 1]))
        if side is not None:
            _box(ax, right, tops[i], w_right, row_h, side, fill=_SIDE, wrap=30)
            if i < 3:  # what leaves the main path
                _arrow(ax, (left + w_left, tops[i] - row_h / 2), (right, tops[i] - row_h / 2))
    if flow.update:
        total = [f"Total studies included in the review ({_n(c['studies_total'])})"]
        _box(ax, left, tops[4], right + w_right - left, row_h, total, fill=_MAIN, wrap=60)
        _arrow(ax, (mid, tops[3] - row_h), (mid, tops[4]))
        _arrow(ax, (side_mid, tops[3] - row_h), (side_mid, tops[4]))
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    return ax
