"""Rules that tie the screening log to the studies and to the searches (run by validation).

* Screening gates inclusion: a study that is not the source paper's (``in_source_paper`` false
  and not a runner-up identification of a paper reference) needs an ``include`` record in
  ``screening.csv`` that names it; an ``include`` record must name a study (a row rule of
  :mod:`review.data.rules`) that exists (checked with every ``study_id`` reference).
* A duplicate's ``duplicate_of`` names another record of the log.
* Every search round of the log has its searches described in ``search_strategies.csv``
  (PRISMA-S, Rethlefsen et al. 2021, doi:10.1186/s13643-020-01542-z).
* A round logged in ``screening.csv`` has no typed counts in ``prisma.csv``: its PRISMA
  flow is counted from the log (Page et al. 2021, doi:10.1136/bmj.n71), so that the
  diagram and the text cannot disagree with the log.
"""

from __future__ import annotations

from review.data.problems import ERROR, Parsed, Problem

__all__ = ["problems"]


def _included_without_record(st: Parsed, sc: Parsed) -> list[Problem]:
    s, c = st.frame, sc.frame
    need_s = {"study_id", "in_source_paper", "id_role"}
    if s.empty or not need_s <= set(s.columns) or not {"decision", "study_id"} <= set(c.columns):
        return []
    included = set(c.loc[c["decision"] == "include", "study_id"])
    out = []
    for i, (sid, paper, role) in enumerate(
        zip(s["study_id"], s["in_source_paper"], s["id_role"], strict=True)
    ):
        if paper == "true" or role == "runner_up" or sid in included:
            continue
        out.append(
            Problem(
                st.table.file,
                st.lines[i],
                "study_id",
                sid,
                "a study not in the source paper has an include record in screening.csv",
                ERROR,
                "add the screening record that included it (decision include, study_id "
                f"{sid}), with the search it came from",
            )
        )
    return out


def _duplicate_of(sc: Parsed) -> list[Problem]:
    c = sc.frame
    if c.empty or not {"record_id", "duplicate_of"} <= set(c.columns):
        return []
    ids = set(c["record_id"])
    out = []
    for i, (rid, dup) in enumerate(zip(c["record_id"], c["duplicate_of"], strict=True)):
        if dup and (dup == rid or dup not in ids):
            out.append(
                Problem(
                    sc.table.file,
                    sc.lines[i],
                    "duplicate_of",
                    dup,
                    "duplicate_of names another record of screening.csv",
                    ERROR,
                )
            )
    return out


def _rounds_described(sc: Parsed, ss: Parsed) -> list[Problem]:
    c, s = sc.frame, ss.frame
    if not ss.readable or c.empty or "search_round" not in c.columns:
        return []
    if "search_round" not in s.columns:
        return []
    described = set(s["search_round"])
    out, seen = [], set()
    for i, rnd in enumerate(c["search_round"]):
        if rnd in described or rnd in seen:
            continue
        seen.add(rnd)
        out.append(
            Problem(
                sc.table.file,
                sc.lines[i],
                "search_round",
                rnd,
                "every search round is described in search_strategies.csv",
                ERROR,
                "add the round's sources, strategies, dates and who ran them",
            )
        )
    return out


def _typed_counts_of_logged_rounds(pr: Parsed, sc: Parsed) -> list[Problem]:
    """A round the log counts is not also typed in prisma.csv (the typed count would win)."""
    p, c = pr.frame, sc.frame
    if p.empty or c.empty or "search_round" not in p.columns or "search_round" not in c.columns:
        return []
    logged = set(c["search_round"])
    out, seen = [], set()
    for i, rnd in enumerate(p["search_round"]):
        if rnd in logged and rnd not in seen:
            seen.add(rnd)
            out.append(
                Problem(
                    pr.table.file,
                    pr.lines[i],
                    "search_round",
                    rnd,
                    "a round logged in screening.csv is counted from the log, not typed",
                    ERROR,
                    "remove its rows from prisma.csv: the flow is computed from screening.csv",
                )
            )
    return out


def problems(parsed: dict[str, Parsed]) -> list[Problem]:
    """Every problem of the rules above, for the tables read by :func:`review.data.validate.run`."""
    st, sc, ss = parsed["studies"], parsed["screening"], parsed["search_strategies"]
    return (
        _included_without_record(st, sc)
        + _duplicate_of(sc)
        + _rounds_described(sc, ss)
        + _typed_counts_of_logged_rounds(parsed["prisma"], sc)
    )
