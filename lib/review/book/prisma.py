"""The PRISMA 2020 flow of study selection, computed from ``data/`` and drawn.

Two sources feed the flow. ``prisma.csv`` holds the counts a search round *states* (the
source paper's search: 2,503 records and 65 registered trials identified, 16 studies
included); a count it does not state is left empty and shown as unknown, never guessed.
``screening.csv`` logs every record of a later search round, one decision per record; the
counts of such a round are *computed* from it. A round that has rows in ``prisma.csv`` is
taken as stated there.

How the screening log maps to the boxes of the PRISMA 2020 diagram (Page et al. 2021,
figure 1, the template for updated reviews):

* records identified: every record of the round, counted per source (the search of
  ``search_strategies.csv`` it came from: the source named in the log, or for an informal
  look-up the search tool its query names); from registers when that search was a register
  search, or, for a record not from a database or register search, when the decision was
  based on a registry record (``stage == "registry"``); otherwise from databases and other
  sources;
* removed before screening: ``decision == "duplicate"`` (another copy of a record already
  seen, or a report already in the review);
* records not yet screened: ``decision == "pending"`` (imported, waiting for a reviewer);
* records screened: the rest;
* records excluded: ``decision == "exclude"`` decided on the title and abstract
  (``stage`` ``abstract``, ``title`` or ``other``), with the count of each reason code;
* reports sought for retrieval: records screened minus records excluded;
* reports not retrieved: ``awaiting`` records seen without a web address (no copy of the
  report could be had);
* reports assessed for eligibility: reports sought minus those not retrieved; of these,
  reports excluded (``exclude`` on a full text, registry, press or secondary copy, with the
  count of each reason code), awaiting classification (``awaiting`` with an address: read,
  but not enough to decide) and included (``include``);
* new studies: included reports whose study does not share a ``cohort_id`` with a study of
  the previous version (a later cut of an included trial is a new report, not a new study).

:func:`cumulative` adds up the rounds of the living review after the source paper's search:
one flow from the paper's studies to today's. The source paper's own round is taken as the
paper states it (``prisma.csv``, labelled as the paper's counts): no log of it exists.

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated
guideline for reporting systematic reviews. BMJ 372:n71. doi:10.1136/bmj.n71
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.patches import FancyBboxPatch

__all__ = [
    "STEPS",
    "REASON_WORDS",
    "Flow",
    "count_text",
    "count_texts",
    "cumulative",
    "flow_title",
    "flows",
    "flow_table",
    "reader_table",
    "flow_diagram",
]

# The boxes of the diagram, in order, with the wording of the PRISMA 2020 template.
STEPS = {
    "records_identified_databases": "Records identified from databases and other sources",
    "records_identified_registers": "Records identified from registers",
    "duplicates_removed": "Records removed before screening (duplicates)",
    "records_pending": "Records not yet screened",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "reports_sought": "Reports sought for retrieval",
    "reports_not_retrieved": "Reports not retrieved",
    "reports_assessed": "Reports assessed for eligibility",
    "reports_excluded": "Reports excluded",
    "reports_awaiting": "Reports awaiting classification",
    "studies_included": "New studies included",
    "reports_included": "Reports of new included studies",
    "studies_previous": "Studies included in the previous version",
    "studies_total": "Total studies included in the review",
}
_SCREENED_ON_ABSTRACT = ("abstract", "title", "other")
# reason codes of screening.csv in words (data/dictionary.csv, screening.reason_code)
REASON_WORDS = {
    "population": "not ALL or a mixed population",
    "not_adult": "patients under 18 included",
    "ino_subset": "InO given to a subset only",
    "design": "review, case report or other design",
    "no_outcome": "no outcome of the review",
    "subgroup": "subgroup of an included study",
    "not_a_report": "not a report of a study",
    "outside_window": "public before the previous search",
    "other": "other reason",
    "": "reason not coded",
}
_MAIN, _SIDE, _PHASE = "#E8F1F8", "#F4F4F4", "#0072B2"  # fills (pale blue, grey), Okabe-Ito blue
# Boxes only the diagram of an update has (a first review has no previous version).
_UPDATE_ONLY = (
    "records_pending",
    "reports_awaiting",
    "reports_included",
    "studies_previous",
    "studies_total",
)


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
    sources : dict of str to int
        Records identified per source (empty when not known per source).
    reasons : dict
        ``{"records_excluded": {reason_code: n}, "reports_excluded": {...}}`` (empty when
        not known).
    """

    search_round: str
    counts: dict
    computed: bool
    update: bool
    sources: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)


def _stated(rows: pd.DataFrame) -> dict:
    """Counts as ``prisma.csv`` states them; a missing or empty count is unknown."""
    counts = dict.fromkeys(STEPS)
    for _, r in rows.iterrows():
        value = r["count"]
        counts[r["step"]] = None if pd.isna(value) or value == "" else int(value)
    return counts


def _source_names(log: pd.DataFrame, strategies: pd.DataFrame | None) -> tuple[list, list]:
    """The search each record came from, and that search's kind ('' when not described)."""
    names, kinds = [], []
    rows = (
        strategies[strategies["search_round"] == log["search_round"].iloc[0]]
        if strategies is not None and len(log)
        else None
    )
    for text in log["source"] if "source" in log.columns else [""] * len(log):
        name, kind = text, ""
        if rows is not None:
            exact = rows[rows["source"] == text]
            if len(exact):
                name, kind = text, exact["kind"].iloc[0]
            else:
                for _, r in rows.iterrows():
                    tokens = re.findall(r"corpus=\w+|\bfetch\b", r["source"])
                    if any(t in text for t in tokens):
                        name, kind = r["source"], r["kind"]
                        break
        names.append(name)
        kinds.append(kind)
    return names, kinds


def _reasons(rows: pd.DataFrame) -> dict:
    codes = rows["reason_code"] if "reason_code" in rows.columns else pd.Series("", rows.index)
    counts = codes.fillna("").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _computed(
    log: pd.DataFrame,
    studies: pd.DataFrame | None,
    previous_cohorts: set,
    strategies: pd.DataFrame | None = None,
) -> tuple[dict, dict, dict]:
    """Counts of one round from its screening log (the mapping of the module docstring)."""
    counts = dict.fromkeys(STEPS)
    names, kinds = _source_names(log, strategies)
    kind = pd.Series(kinds, index=log.index, dtype=object)
    searched = kind.isin(["database", "register"])
    registry = (searched & (kind == "register")) | (~searched & (log["stage"] == "registry"))
    duplicate = log["decision"] == "duplicate"
    pending = log["decision"] == "pending"
    excluded_early = (log["decision"] == "exclude") & log["stage"].isin(_SCREENED_ON_ABSTRACT)
    sought = ~duplicate & ~pending & ~excluded_early
    url = log["url"].fillna("") if "url" in log.columns else pd.Series("x", index=log.index)
    not_retrieved = sought & (log["decision"] == "awaiting") & (url == "")
    assessed = sought & ~not_retrieved
    included = log[assessed & (log["decision"] == "include")]
    counts.update(
        records_identified_databases=int((~registry).sum()),
        records_identified_registers=int(registry.sum()),
        duplicates_removed=int(duplicate.sum()),
        records_pending=int(pending.sum()),
        records_screened=int((~duplicate & ~pending).sum()),
        records_excluded=int(excluded_early.sum()),
        reports_sought=int(sought.sum()),
        reports_not_retrieved=int(not_retrieved.sum()),
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
    sources = {k: int(v) for k, v in pd.Series(names, dtype=object).value_counts().items()}
    reasons = {
        "records_excluded": _reasons(log[excluded_early]),
        "reports_excluded": _reasons(log[assessed & (log["decision"] == "exclude")]),
    }
    return counts, sources, reasons


def _cohorts(studies: pd.DataFrame | None, ids) -> set:
    if studies is None:
        return set()
    rows = studies[studies["study_id"].isin(list(ids))]
    cohort = rows["cohort_id"].where(rows["cohort_id"].notna() & (rows["cohort_id"] != ""))
    return set(cohort.fillna(rows["study_id"]))


def flows(
    prisma: pd.DataFrame,
    screening: pd.DataFrame,
    studies: pd.DataFrame | None = None,
    strategies: pd.DataFrame | None = None,
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
    strategies : DataFrame, optional
        ``data/search_strategies.csv``; names the search each record came from (records
        identified per source) and tells register searches from database searches.

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
        sources: dict = {}
        reasons: dict = {}
        if is_stated:
            counts = _stated(prisma[prisma["search_round"] == name])
        else:
            log = logged[logged["search_round"] == name]
            counts, sources, reasons = _computed(log, studies, previous_cohorts, strategies)
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
        out.append(Flow(name, counts, not is_stated, update, sources, reasons))
    return out


def cumulative(flow_list: list[Flow], name: str = "all updates") -> Flow | None:
    """The rounds after the first added up: one flow from the first version to today.

    Parameters
    ----------
    flow_list : list of Flow
        The output of :func:`flows`.
    name : str
        Name of the combined round.

    Returns
    -------
    Flow or None
        None when there is no round after the first. A box is unknown as soon as one round
        leaves it unknown; the studies of the previous version are those of the first
        round, the total that of the last.
    """
    later = [f for f in flow_list[1:] if f.update]
    if not later:
        return None
    counts = dict.fromkeys(STEPS)
    for step in STEPS:
        values = [f.counts[step] for f in later]
        if step == "studies_previous":
            counts[step] = later[0].counts[step]
        elif step == "studies_total":
            counts[step] = later[-1].counts[step]
        else:
            counts[step] = None if any(v is None for v in values) else sum(values)
    sources: dict = {}
    reasons: dict = {"records_excluded": {}, "reports_excluded": {}}
    for f in later:
        for k, v in f.sources.items():
            sources[k] = sources.get(k, 0) + v
        for box, by_code in f.reasons.items():
            for k, v in by_code.items():
                reasons[box][k] = reasons[box].get(k, 0) + v
    computed = all(f.computed for f in later)
    return Flow(name, counts, computed, True, sources, reasons)


def _source_of(flow: Flow, step: str) -> str:
    if step == "studies_previous":
        return "total of the round before"
    if step == "studies_total" and flow.update:
        return "previous total plus new studies"
    if flow.computed:
        return "computed from the screening log"
    return "reported by the source paper (prisma.csv)"


def flow_table(flow_list: list[Flow]) -> pd.DataFrame:
    """One row per round and box: ``search_round, step, detail, box, count, source``.

    ``count`` is a nullable integer (``<NA>`` = unknown); ``source`` says whether the count
    was reported by the source paper (``prisma.csv``), computed from the screening log, or
    added up. Rows with a ``detail`` break a box down: records identified per source
    (``records_identified_source``) and exclusions per reason code
    (``records_excluded_reason``, ``reports_excluded_reason``).
    """
    rows = []
    for flow in flow_list:
        for step, box in STEPS.items():
            if not flow.update and step in _UPDATE_ONLY:
                continue
            if step == "studies_included" and not flow.update:
                box = "Studies included"
            rows.append(
                {
                    "search_round": flow.search_round,
                    "step": step,
                    "detail": "",
                    "box": box,
                    "count": flow.counts[step],
                    "source": _source_of(flow, step),
                }
            )
            if step == "records_identified_registers":
                for name, n in flow.sources.items():
                    rows.append(
                        {
                            "search_round": flow.search_round,
                            "step": "records_identified_source",
                            "detail": name,
                            "box": f"Records identified from {name}",
                            "count": n,
                            "source": _source_of(flow, step),
                        }
                    )
            if step in ("records_excluded", "reports_excluded"):
                for code, n in flow.reasons.get(step, {}).items():
                    rows.append(
                        {
                            "search_round": flow.search_round,
                            "step": f"{step}_reason",
                            "detail": code,
                            "box": f"{box}: {REASON_WORDS.get(code, code)}",
                            "count": n,
                            "source": _source_of(flow, step),
                        }
                    )
    columns = ["search_round", "step", "detail", "box", "count", "source"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["count"] = pd.array(frame["count"].tolist(), dtype="Int64")
    return frame


def reader_table(flow_list: list[Flow], label=None) -> pd.DataFrame:
    """:func:`flow_table` in words for the book: ``Search round, Box, Count, Count from``.

    ``label`` turns a round's name into words (a function or a dict; default: the name);
    an unknown count is written ``unknown``.
    """
    t = flow_table(flow_list)
    name = label if callable(label) else (lambda r: (label or {}).get(r, r))
    return pd.DataFrame(
        {
            "Search round": [name(r) for r in t["search_round"]],
            "Box": t["box"],
            "Count": [count_text(None if pd.isna(v) else int(v)) for v in t["count"]],
            "Count from": t["source"],
        }
    )


def count_texts(flow: Flow | None) -> dict[str, str]:
    """Every box of a flow as the book prints it (all ``unknown`` when there is no flow).

    The one place the page's sentences take their counts from, so that text, table and
    diagram show the same numbers.
    """
    counts = flow.counts if flow is not None else dict.fromkeys(STEPS)
    return {step: count_text(counts[step]) for step in STEPS}


def flow_title(flow: Flow, label=None) -> str:
    """Title of a round's diagram; a round the paper reports says the counts are the paper's."""
    name = label(flow.search_round) if callable(label) else flow.search_round
    return name if flow.computed else f"{name} (counts as the paper reports them)"


def count_text(value) -> str:
    """A count as the book prints it: ``2,503``, or ``unknown`` for None."""
    return "unknown" if value is None else f"{value:,}"


def _n(value) -> str:
    # no-break spaces keep "(n = 2,503)" on one line when the box text is wrapped
    return "n\u00a0unknown" if value is None else f"n\u00a0=\u00a0{value:,}"


def _wrap(lines, width) -> list[str]:
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width, subsequent_indent="  ") or [""]
    return out


def _box(ax, x, y, w, h, text_lines, *, fill="#FFFFFF", fontsize=8.5):

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
    ax.text(x + w / 2, y - h / 2, "\n".join(text_lines), ha="center", va="center",
            fontsize=fontsize, linespacing=1.25)  # fmt: skip


def _arrow(ax, start, end):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.0, "shrinkA": 0, "shrinkB": 0},
    )


def _reason_lines(flow: Flow, step: str) -> list[str]:
    by_code = flow.reasons.get(step, {})
    ordered = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"{REASON_WORDS.get(code, code)} ({_n(n)})" for code, n in ordered]


def flow_diagram(flow: Flow, ax=None, *, title: str | None = None):
    """Draw the PRISMA 2020 flow diagram of one search round (or of :func:`cumulative`).

    Parameters
    ----------
    flow : Flow
        One element of :func:`flows`, or the sum of the updates (:func:`cumulative`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (its frame is hidden). Default: a new figure sized for a phone.
    title : str, optional
        Title above the diagram.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Two columns, as the PRISMA 2020 template (Page et al. 2021, doi:10.1136/bmj.n71): the
    main path on the left, what leaves it on the right; records identified per source where
    known, exclusions with the count of each reason. For an update, the studies of the
    previous version join the new ones in the total at the bottom. An unknown count is
    written "n unknown".
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    c = flow.counts
    if flow.sources:
        identified = ["Records identified from:"] + [
            f"{name} ({_n(n)})" for name, n in flow.sources.items()
        ]
    else:
        identified = [
            "Records identified from:",
            f"databases and other sources ({_n(c['records_identified_databases'])})",
            f"registers ({_n(c['records_identified_registers'])})",
        ]
    removed = ["Records removed before screening:", f"duplicates ({_n(c['duplicates_removed'])})"]
    screened = [f"Records screened ({_n(c['records_screened'])})"]
    if flow.update and c["records_pending"]:
        screened.append(f"not yet screened ({_n(c['records_pending'])})")
    excluded = [f"Records excluded ({_n(c['records_excluded'])})"]
    excluded += _reason_lines(flow, "records_excluded")
    eligible_out = [f"Reports excluded ({_n(c['reports_excluded'])})"]
    eligible_out += _reason_lines(flow, "reports_excluded")
    if flow.update:
        eligible_out.append(f"Awaiting classification ({_n(c['reports_awaiting'])})")
    last = (
        [
            f"New studies included ({_n(c['studies_included'])})",
            f"reports of new studies ({_n(c['reports_included'])})",
        ]
        if flow.update
        else [f"Studies included ({_n(c['studies_included'])})"]
    )
    layout = [
        (identified, removed),
        (screened, excluded),
        (
            [f"Reports sought for retrieval ({_n(c['reports_sought'])})"],
            [f"Reports not retrieved ({_n(c['reports_not_retrieved'])})"],
        ),
        ([f"Reports assessed for eligibility ({_n(c['reports_assessed'])})"], eligible_out),
        (
            last,
            [f"Studies included in the previous version ({_n(c['studies_previous'])})"]
            if flow.update
            else None,
        ),
    ]
    left, right, w_left, w_right = 0.9, 5.75, 4.35, 4.2
    wrapped = [(_wrap(m, 33), _wrap(sd, 32) if sd else None) for m, sd in layout]
    if flow.update:
        total = [f"Total studies included in the review ({_n(c['studies_total'])})"]
        wrapped.append((_wrap(total, 90), None))
    line_h, pad, gap = 0.27, 0.35, 0.45
    heights = [max(len(m), len(sd or [])) * line_h + pad for m, sd in wrapped]
    tops = []
    y = 0.0
    for h in heights:
        tops.append(y)
        y -= h + gap
    height = -y
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.75 * height + 0.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(-height, 0.3)
    ax.set_axis_off()
    n_main = 5
    phases = [
        ("Identification", tops[0], tops[0] - heights[0]),
        ("Screening", tops[1], tops[3] - heights[3]),
        ("Included", tops[4], tops[-1] - heights[-1]),
    ]
    for phase, top, bottom in phases:
        ax.text(0.35, (top + bottom) / 2, phase, rotation=90, ha="center", va="center",
                fontsize=9, color=_PHASE, fontweight="bold")  # fmt: skip
    mid, side_mid = left + w_left / 2, right + w_right / 2
    for i in range(n_main):
        main, side = wrapped[i]
        _box(ax, left, tops[i], w_left, heights[i], main, fill=_MAIN)
        if i < n_main - 1:
            _arrow(ax, (mid, tops[i] - heights[i]), (mid, tops[i + 1]))
        if side is not None:
            _box(ax, right, tops[i], w_right, heights[i], side, fill=_SIDE)
            if i < n_main - 1:  # what leaves the main path
                y_mid = tops[i] - heights[i] / 2
                _arrow(ax, (left + w_left, y_mid), (right, y_mid))
    if flow.update:
        total_lines = wrapped[-1][0]
        _box(ax, left, tops[-1], right + w_right - left, heights[-1], total_lines, fill=_MAIN)
        _arrow(ax, (mid, tops[4] - heights[4]), (mid, tops[-1]))
        _arrow(ax, (side_mid, tops[4] - heights[4]), (side_mid, tops[-1]))
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    return ax
