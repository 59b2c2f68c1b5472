"""Load the tables of ``data/`` with controlled types, and the rows of one outcome.

The files are read as text (:func:`review.data.validate.read_table`), validated, and only then
converted: integer columns to ``Int64``, numbers to ``Float64``, booleans to ``boolean``,
dates kept as the ISO text written in the file. Text is never interpreted (``"NA"`` stays the
two letters, HTML stays characters).

>>> from review import data
>>> df = data.outcome("CR")                      # primary rows joined with the studies
>>> res = mp.meta_prop(data=df, events="events", totals="total", labels="label")

The data directory is ``data/`` of the repository, or ``$REVIEW_DATA_DIR``, or the
``data_dir`` argument.

The package is the bottom layer of review (CONTRIBUTING.md, Architecture): its modules
import nothing from the other layers.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from review.data import problems, reads, schema, validate, versions
from review.data.schema import TABLES

__all__ = ["Dataset", "DataError", "load", "outcome", "landmark", "outcome_codes"]

STUDY_COLUMNS = [
    "study_id",
    "paper_ref",
    "first_author",
    "year",
    "citation",
    "id_role",
    "in_source_paper",
    "source_tier",
    "design",
    "phase",
    "disease_status",
    "ph_status",
    "regimen_group",
    "regimen",
    "n_enrolled",
    "age_median",
    "cohort_id",
    "id_confidence",
]


class DataError(ValueError):
    """The data directory has errors; ``report`` holds them all."""

    def __init__(self, report: validate.Report):
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class Dataset:
    """Every table of one data directory, typed.

    A page that reads a table of the dataset :func:`load` gave it has that table noted as
    an input (:mod:`review.data.reads`) when it reads it, table by table: a page that looks at
    the dictionary only does not run again when an outcome row changes.
    """

    data_dir: Path
    studies: pd.DataFrame
    outcomes: pd.DataFrame
    quality: pd.DataFrame
    risk_of_bias: pd.DataFrame
    prisma: pd.DataFrame
    screening: pd.DataFrame
    search_strategies: pd.DataFrame
    paper_reported: pd.DataFrame
    exclusions: pd.DataFrame
    missing: pd.DataFrame
    dictionary: pd.DataFrame
    noting: bool = field(default=False, repr=False, compare=False)

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if name in TABLES and object.__getattribute__(self, "noting"):
            reads.note(Path(object.__getattribute__(self, "data_dir")) / TABLES[name].file)
        return value


def _typed(frame: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Convert validated text columns to their declared types."""
    out = frame.copy()
    for col in table.columns:
        if col.name not in out.columns:
            continue
        s = out[col.name].astype(object)
        if col.type == schema.INT:
            out[col.name] = pd.array([int(v) if v != "" else pd.NA for v in s], dtype="Int64")
        elif col.type == schema.NUM:
            out[col.name] = pd.array([float(v) if v != "" else pd.NA for v in s], dtype="Float64")
        elif col.type == schema.BOOL:
            out[col.name] = pd.array(
                [{"true": True, "false": False}.get(v, pd.NA) for v in s], dtype="boolean"
            )
        else:
            out[col.name] = s
    return out


def load(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Read, validate and type every table.

    Raises
    ------
    DataError
        If validation finds an error (warnings do not stop loading).
    """
    root = Path(data_dir) if data_dir is not None else validate.default_data_dir()
    ds = _load_cached(root.resolve(), _stamp(root))
    tables = {name: getattr(ds, name).copy() for name in TABLES}
    return Dataset(data_dir=root, **tables, noting=True)  # tables noted as they are read


def _stamp(root: Path) -> tuple:
    """Size and modification time of each file: the cache key of a data directory."""
    out = []
    for t in TABLES.values():
        p = root / t.file
        st = p.stat() if p.is_file() else None
        out.append((t.file, st.st_mtime_ns if st else None, st.st_size if st else None))
    return tuple(out)


def _validated_already(root: Path) -> bool:
    """True when the build validated exactly these bytes (``$REVIEW_DATA_VALIDATED``)."""
    claimed = os.environ.get("REVIEW_DATA_VALIDATED")
    if not claimed:
        return False

    return versions.data_hash(root, short=False) == claimed


@functools.lru_cache(maxsize=8)
def _load_cached(root: Path, stamp: tuple) -> Dataset:
    # every table is read here, once per process: what a page is given is noted by the
    # public function that gives it (review.data.reads), not by this reading
    with reads.internal():
        return _read_all(root)


def _read_all(root: Path) -> Dataset:
    if not _validated_already(root):
        report = validate.run(root)
        if not report.ok:
            raise DataError(report)
    sink: list[problems.Problem] = []
    frames = {
        name: _typed(validate.read_table(root / t.file, t, sink).frame, t)
        for name, t in TABLES.items()
    }
    return Dataset(data_dir=root, **frames)


def outcome_codes(kind: str | None = None, *, data_dir=None) -> list[str]:
    """Outcome codes of the dictionary, optionally only ``binary`` or ``survival`` ones."""
    root = Path(data_dir) if data_dir is not None else validate.default_data_dir()
    reads.note(root / TABLES["dictionary"].file)
    d = _load_cached(root.resolve(), _stamp(root)).dictionary
    rows = d[(d["table"] == "outcomes") & (d["column"] == "outcome") & (d["code"] != "")]
    if kind is not None:
        rows = rows[rows["type"] == kind]
    return list(rows["code"])


_INITIALS = re.compile(r"\s+(?:[A-Z]\.?){1,3}$")


def _labels(studies: pd.DataFrame) -> pd.Series:
    """'Author year (ref N)', made unique with the study_id where two would coincide.

    One style for every study: the first author's surname (initials, as some sources print
    them, are dropped: "Wieduwilt M" reads "Wieduwilt") and the year; a study whose authors
    are unknown is named by its trial registration (NCT number), and only failing that by
    its identifier.
    """

    def one(r):
        author = r["first_author"]
        author = _INITIALS.sub("", str(author)).strip() if pd.notna(author) else ""
        name = " ".join(str(x) for x in (author, r["year"]) if pd.notna(x) and x)
        if not name:
            nct = r.get("nct")
            name = str(nct) if pd.notna(nct) and nct else r["study_id"]
        if pd.notna(r["paper_ref"]):
            alt = ", runner-up" if r["id_role"] == "runner_up" else ""
            name += f" (ref {r['paper_ref']}{alt})"
        return name

    labels = studies.apply(one, axis=1)
    dup = labels.duplicated(keep=False)
    labels[dup] = labels[dup] + " [" + studies.loc[dup, "study_id"] + "]"
    return labels


def _quality_totals(q: pd.DataFrame) -> pd.DataFrame:
    """MINORS and modified Jadad totals per study (our own scoring over the paper's)."""
    tot = q[q["item"] == "total"].copy()
    tot["rank"] = (tot["scorer"] == "review_team").astype(int)
    tot = tot.sort_values("rank").drop_duplicates(["study_id", "scale"], keep="last")
    wide = tot.pivot(index="study_id", columns="scale", values="score")
    wide = wide.rename(columns={"minors": "minors", "modified_jadad": "jadad"})
    for c in ("minors", "jadad"):
        if c not in wide.columns:
            wide[c] = pd.array([pd.NA] * len(wide), dtype="Int64")
    return wide[["minors", "jadad"]].reset_index()


@functools.lru_cache(maxsize=8)
def _study_attributes(root: Path, stamp: tuple) -> pd.DataFrame:
    """Study columns, labels and quality totals of every study, joined once per data folder.

    Every outcome's rows are joined with this table; callers get a merged copy, never it.
    """
    ds = _load_cached(root, stamp)
    studies = ds.studies[STUDY_COLUMNS].copy()
    studies["label"] = _labels(ds.studies)
    return studies.merge(_quality_totals(ds.quality), on="study_id", how="left")


def _as_of_rows(rows: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Rows public by ``as_of``, with the primary flag as it stood then.

    A primary row published later is dropped; the variant it ``supersedes`` (followed back
    as far as needed) becomes the primary row of its study and outcome again.
    """
    cut = schema.parse_date_end(as_of)
    if cut is None:
        raise ValueError(f"as_of must be an ISO date, got {as_of!r}")
    public = rows["date_public"].map(lambda v: schema.parse_date_end(v) <= cut)
    kept = rows[public].copy()
    for _, r in rows[~public & rows["primary"]].iterrows():
        same = (rows["study_id"] == r["study_id"]) & (rows["outcome"] == r["outcome"])
        target, seen = r["supersedes"], set()
        while target and target not in seen:
            seen.add(target)
            hit = same[public] & (kept["variant"] == target)
            if hit.any():
                kept.loc[hit, "primary"] = True
                break
            older = rows.loc[same & (rows["variant"] == target), "supersedes"]
            target = older.iloc[0] if len(older) else ""
    return kept


def _memo(frame_of):
    """Make ``frame_of(root, stamp, *args)`` a cached function of ``(data_dir, *args)``.

    Pages ask for the same outcome many times (each population, each summary row): each
    frame is made once per data folder (as its files stand: ``_stamp``) and arguments, and
    every caller gets a copy of its own to change.
    """
    cached = functools.lru_cache(maxsize=128)(frame_of)

    def frame(data_dir, *args) -> pd.DataFrame:
        root = Path(data_dir) if data_dir is not None else validate.default_data_dir()
        return cached(root.resolve(), _stamp(root), *args).copy()

    return frame


def _rows(
    root: Path,
    stamp: tuple,
    code: str,
    kind: str,
    variants: str,
    as_of: str | None,
    runner_ups: bool,
) -> pd.DataFrame:
    """An outcome's rows joined with the study attributes (a new frame)."""
    if variants not in ("primary", "all"):
        raise ValueError("variants must be 'primary' or 'all'")
    ds = _load_cached(root, stamp)  # read only here: no copy needed
    kinds = ds.dictionary[
        (ds.dictionary["table"] == "outcomes") & (ds.dictionary["column"] == "outcome")
    ].set_index("code")["type"]
    if code not in kinds.index:
        raise KeyError(f"unknown outcome code {code!r}; see outcome_codes()")
    if kinds[code] != kind:
        other = "landmark" if kind == "binary" else "outcome"
        raise ValueError(f"{code!r} is a {kinds[code]} outcome; use data.{other}()")
    rows = ds.outcomes[ds.outcomes["outcome"] == code]
    if as_of is not None:
        rows = _as_of_rows(rows, as_of)
        studies_public = ds.studies["date_public"].map(
            lambda v: v == "" or schema.parse_date_end(v) <= schema.parse_date_end(as_of)
        )
        rows = rows[rows["study_id"].isin(ds.studies.loc[studies_public, "study_id"])]
    if variants == "primary":
        rows = rows[rows["primary"]]
    studies = _study_attributes(root, stamp)
    if not runner_ups:
        studies = studies[studies["id_role"] != "runner_up"]
    df = rows.merge(studies, on="study_id", how="inner", validate="many_to_one")
    df["available_from"] = df["date_public"]
    df["curve_read"] = df["read_from"] == "km_curve"
    return df


def _note_rows(data_dir, code: str) -> None:
    """Note what :func:`_rows` gives a page (:mod:`review.data.reads`): the outcome's rows of the
    outcome table, and the dictionary, study and quality tables whole."""
    root = Path(data_dir) if data_dir is not None else validate.default_data_dir()
    for name in ("dictionary", "studies", "quality"):
        reads.note(root / TABLES[name].file)
    reads.note(root / TABLES["outcomes"].file, "outcome", code)


def _order(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    rest = [c for c in df.columns if c not in first]
    df = df[first + rest].sort_values(["year", "label", "variant"], na_position="last")
    return df.reset_index(drop=True)


def outcome(
    code: str,
    *,
    data_dir: str | os.PathLike | None = None,
    variants: str = "primary",
    as_of: str | None = None,
    runner_ups: bool = False,
    complete: bool = True,
) -> pd.DataFrame:
    """Rows of one binary outcome joined with the study attributes.

    Parameters
    ----------
    code : str
        Outcome code (``outcome_codes("binary")``), e.g. ``"CR"``.
    data_dir : path, optional
        Data directory; default ``$REVIEW_DATA_DIR`` or the repository's ``data/``.
    variants : {"primary", "all"}
        The primary row of each study, or every variant side by side.
    as_of : str, optional
        ISO date: only numbers public by then, each study's primary as it stood then.
    runner_ups : bool
        Include the runner-up candidate reports (``id_role == "runner_up"``).
    complete : bool
        Drop rows without both ``events`` and ``total`` (percentage-only rows).

    Returns
    -------
    pandas.DataFrame
        One row per study (and variant): ``study_id, label, events, total, variant,
        primary, first_author, year, disease_status, regimen_group, source_tier, cohort_id,
        id_confidence, available_from, minors, jadad, ...``, ready for
        ``mp.meta_prop(data=df, events="events", totals="total", labels="label")``.
    """
    _note_rows(data_dir, code)
    return _outcome_frame(data_dir, code, variants, as_of, runner_ups, complete)


@_memo
def _outcome_frame(root, stamp, code, variants, as_of, runner_ups, complete) -> pd.DataFrame:
    df = _rows(root, stamp, code, "binary", variants, as_of, runner_ups)
    if complete:
        df = df[df["events"].notna() & df["total"].notna()]
    first = ["study_id", "label", "events", "total", "variant", "primary"]
    return _order(df, first)


def landmark(
    code: str,
    *,
    data_dir: str | os.PathLike | None = None,
    variants: str = "primary",
    as_of: str | None = None,
    runner_ups: bool = False,
) -> pd.DataFrame:
    """Rows of one survival landmark (e.g. ``"OS_1y"``) joined with the study attributes.

    Same parameters as :func:`outcome`. Adds ``estimate``, ``ci_low`` and ``ci_high`` on the
    0-1 scale (from ``estimate_pct``, ``ci_low_pct``, ``ci_high_pct``), ``n_analysed`` and
    ``curve_read`` (True when read off a Kaplan-Meier curve). No counts: a survival
    percentage is never turned into events.
    """
    _note_rows(data_dir, code)
    return _landmark_frame(data_dir, code, variants, as_of, runner_ups)


@_memo
def _landmark_frame(root, stamp, code, variants, as_of, runner_ups) -> pd.DataFrame:
    df = _rows(root, stamp, code, "survival", variants, as_of, runner_ups)
    for pct, frac in (
        ("estimate_pct", "estimate"),
        ("ci_low_pct", "ci_low"),
        ("ci_high_pct", "ci_high"),
    ):
        df[frac] = df[pct] / 100
    first = [
        "study_id",
        "label",
        "estimate",
        "ci_low",
        "ci_high",
        "n_analysed",
        "variant",
        "primary",
    ]
    return _order(df, first)
