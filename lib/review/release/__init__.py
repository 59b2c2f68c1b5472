"""Versions of the living review: release snapshots and what changed since the last one.

``python -m review release VERSION`` copies the data tables and every pooled result the book
shows into ``data/releases/VERSION/``, with ``manifest.json`` (version, date, data hash,
dates of the data and of the last search, checksums). A version is a PEP 440 version in its
normalised form, later than every earlier release (versions are compared as versions:
1.9 < 1.10); releases of one data folder run one at a time (a lock file), and each is
written in a temporary folder renamed into place, so none is ever seen half-written.

The *What changed* chapter compares the current data with the last release: studies added
or removed, every corrected field, and every pooled number that moved.

Follows the living-review items of PRISMA 2020 (version, date of the last search, what
triggers an update); see Page et al. 2021, doi:10.1136/bmj.n71, and Elliott et al. 2017,
doi:10.1016/j.jclinepi.2017.08.010.

The package is review's release layer (CONTRIBUTING.md, Architecture): it imports from
:mod:`review.analysis` and :mod:`review.data` only; :mod:`review.data.versions` reads
the releases it writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from packaging.version import InvalidVersion, Version

from review import analysis, data
from review.analysis import grade, memo
from review.data import hashes, labels, versions
from review.data.formats import plural
from review.data.plan import load_plan

POOLED = "pooled.csv"
TABLES = "tables"
# Key columns of the data tables (data/README.md); other tables are compared row by row.
KEYS = {
    "studies.csv": ("study_id",),
    "outcomes.csv": ("study_id", "outcome", "variant"),
    "screening.csv": ("record_id",),
    "quality.csv": ("study_id", "scale", "item", "scorer"),
    "prisma.csv": ("search_round", "step"),
    "search_strategies.csv": ("search_round", "source", "date_run"),
}
# A version is a PEP 440 public version in its normalised form, of at most this many
# characters (it names a folder and is shown on every page).
MAX_VERSION_CHARS = 32
# Lock file that serialises releases of one data folder (created with O_CREAT | O_EXCL,
# which every platform supports), and how long a second release waits for it by default.
LOCK = ".release.lock"
WAIT_SECONDS = 300.0


class ReleaseError(ValueError):
    """A release cannot be made (exists already, invalid data, bad version string)."""


def check_version(version: str) -> Version:
    """The PEP 440 version ``version`` names; :class:`ReleaseError` unless it is one, written
    in its normalised public form (``1.10``, ``2.0rc1``), of at most
    :data:`MAX_VERSION_CHARS` characters.

    PEP 440: Coghlan & Stufft 2013, https://peps.python.org/pep-0440/ (read with
    :mod:`packaging.version`).
    """
    shown = version if len(version) <= 40 else version[:37] + "..."
    if len(version) > MAX_VERSION_CHARS:
        raise ReleaseError(
            f"bad version string {shown!r}: {len(version)} characters; "
            f"the limit is {MAX_VERSION_CHARS}"
        )
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ReleaseError(
            f"bad version string {shown!r}: not a PEP 440 version (such as 1.0, 1.10, 2.0rc1)"
        ) from None
    if parsed.local is not None or str(parsed) != version:
        raise ReleaseError(
            f"bad version string {shown!r}: write it as {parsed.public!r} "
            "(the normalised PEP 440 form)"
        )
    return parsed


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return (
            f"release {info['version']} by process {info['pid']} on {info['host']}, "
            f"started {info['since']}"
        )
    except (OSError, ValueError, KeyError):
        return "a release whose lock cannot be read yet"


@contextmanager
def release_lock(
    folder: Path,
    version: str,
    wait: float = WAIT_SECONDS,
    say: Callable[[str], object] | None = None,
) -> Iterator[Path]:
    """Hold the release lock of ``folder`` (``folder/.release.lock``) while the block runs.

    A second release waits for the first, saying so once through ``say`` (default: standard
    error); after ``wait`` seconds it gives up with a :class:`ReleaseError` that names the
    release holding the lock and the lock file (to delete if no release is running, after a
    crash). The lock is an exclusive create of a file (``os.O_CREAT | os.O_EXCL``), not
    ``fcntl``, so it works on every platform and network drives that honour it.
    """
    say = say or (lambda text: print(text, file=sys.stderr))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise ReleaseError(
                    f"another release is running ({_holder(path)}): gave up on release "
                    f"{version} after waiting {wait:g} s. Try again when it has finished; "
                    f"if no release is running, delete the lock file {path}"
                ) from None
            if not announced:
                say(f"Release {version} waits for another release to finish ({_holder(path)})")
                announced = True
            time.sleep(0.1)
            continue
        break
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "version": version,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                },
                fh,
            )
        yield path
    finally:
        path.unlink(missing_ok=True)


POOLED_COLUMNS = [
    "outcome",
    "population",
    "subgroup_by",
    "subgroup",
    "k",
    "patients",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "certainty",
    "reasons",
]


def pooled_results(data_dir: Path, root: Path) -> pd.DataFrame:
    """Every pooled result the book shows, computed as its chapters compute them.

    Each outcome of the summary of findings in each population (the primary analysis,
    ``subgroup_by`` = ``all``, with its GRADE certainty:
    :func:`review.analysis.grade.summary_of_findings`)
    and, for binary outcomes, each regimen group within each population
    (:func:`review.analysis.regimen_subgroups`, as the outcome pages show them).

    Returns
    -------
    pandas.DataFrame
        Columns of ``POOLED_COLUMNS``; proportions on the 0-1 scale.
    """

    plan = load_plan(Path(root) / "analysis_plan.yaml")
    sof = grade.summary_of_findings(plan, data_dir=data_dir)
    frames = [sof.assign(subgroup_by="all", subgroup="all")]
    for code in plan["summary_of_findings"]["outcomes"]:
        if code not in plan["survival"]["outcomes"]:
            frames += regimen_results(code, analysis.rows_for(code, plan, data_dir=data_dir), plan)
    return pd.concat(frames, ignore_index=True).reindex(columns=POOLED_COLUMNS)


@memo.cached
def regimen_results(code: str, df, plan) -> list:
    """Each regimen group's pooled result within each population of one binary outcome.

    One frame per population that has regimen groups (columns as :data:`POOLED_COLUMNS`).
    """

    frames = []
    for pop in [*plan.strata, plan.comparison]:
        with warnings.catch_warnings():
            # the outcome pages show these fits' warnings (e.g. a one-study group);
            # repeating them here would only add noise to the What changed page
            warnings.simplefilter("ignore", UserWarning)
            sub = analysis.regimen_subgroups(df, plan, pop["key"])
        if sub is None:
            continue
        frames.append(
            sub.to_frame().assign(
                outcome=code,
                population=pop["label"],
                subgroup_by="regimen_group",
                subgroup=lambda f: f["group"],
                patients=[int(r.totals.sum()) for r in sub.results.values()],
            )
        )
    return frames


def make_release(
    version: str,
    data_dir: Path,
    root: Path,
    today: dt.date | None = None,
    wait: float = WAIT_SECONDS,
) -> Path:
    """Snapshot the data tables and all pooled results into ``data_dir/releases/VERSION``.

    ``version`` must be a PEP 440 version (:func:`check_version`) later than every release
    so far, so that the order of versions is the order of releases. Releases of one data
    folder are serialised (:func:`release_lock`; a second one waits up to ``wait`` seconds).
    The snapshot is written in a temporary folder and renamed into place, so a failed or
    interrupted release leaves nothing behind. An existing version is never overwritten.

    Returns
    -------
    Path
        The release folder.
    """
    if not version or "/" in version or version.startswith(".") or version != version.strip():
        raise ReleaseError(f"bad version string {version!r}")
    parsed = check_version(version)
    data_dir = Path(data_dir)
    with release_lock(data_dir / versions.RELEASES, version, wait):
        return _make_release(version, parsed, data_dir, root, today)


def _make_release(
    version: str, parsed: Version, data_dir: Path, root: Path, today: dt.date | None
) -> Path:
    """:func:`make_release` once the lock is held."""
    target = data_dir / versions.RELEASES / version
    if target.exists():
        raise ReleaseError(f"release {version} exists already: {target}")
    earlier = [
        m["version"] for m in versions.list_releases(data_dir) if versions.version_order(m)[0] == 1
    ]
    if earlier and Version(earlier[-1]) >= parsed:
        raise ReleaseError(
            f"release {version} would not come after the last release {earlier[-1]}: "
            "versions are ordered as versions (1.9 < 1.10 < 2.0); choose a later one"
        )
    for stale in (data_dir / versions.RELEASES).glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a crash; no release is running
    info = versions.status(data_dir)
    pooled = pooled_results(data_dir, root)
    (data_dir / versions.RELEASES).mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=data_dir / versions.RELEASES))
    try:
        (tmp / TABLES).mkdir()
        for table in versions.data_tables(data_dir):
            shutil.copy2(table, tmp / TABLES / table.name)
        pooled.to_csv(tmp / POOLED, index=False)
        files = {
            p.relative_to(tmp).as_posix(): hashes.sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "version": version,
            "date": (today or dt.datetime.now(dt.timezone.utc).date()).isoformat(),
            "data_hash": versions.data_hash(data_dir, short=False),
            "data_date": info["data_date"],
            "search_date": info["search_date"],
            "files": files,
        }
        (tmp / versions.MANIFEST).write_text(
            json.dumps(manifest, indent=1) + "\n", encoding="utf-8"
        )
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _read(path: Path) -> pd.DataFrame:

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def table_changes(old_dir: Path, new_dir: Path) -> pd.DataFrame:
    """Rows added, removed and fields corrected between two folders of data tables.

    Returns
    -------
    pandas.DataFrame
        Columns table, key, change (``added``, ``removed``, ``corrected``), field, old, new;
        one row per added or removed row and per corrected field.
    """

    out = []
    names = sorted(
        {p.name for p in versions.data_tables(old_dir)}
        | {p.name for p in versions.data_tables(new_dir)}
    )
    for name in names:
        old_path, new_path = Path(old_dir) / name, Path(new_dir) / name
        new = _read(new_path) if new_path.is_file() else None
        old = _read(old_path) if old_path.is_file() else None
        if old is None:  # a table that is new: every row is added
            old = new.iloc[0:0]
        if new is None:
            new = old.iloc[0:0]
        key = list(KEYS.get(name, ())) or sorted(set(old.columns) & set(new.columns))
        # plain dicts, not pandas rows: thousands of field lookups in a few milliseconds
        old_rows = {tuple(r[c] for c in key): r for r in old.to_dict("records")}
        new_rows = {tuple(r[c] for c in key): r for r in new.to_dict("records")}
        for k in sorted(new_rows.keys() - old_rows.keys()):
            out.append([name, " / ".join(k), "added", "", "", ""])
        for k in sorted(old_rows.keys() - new_rows.keys()):
            out.append([name, " / ".join(k), "removed", "", "", ""])
        fields = [c for c in new.columns if c in old.columns and c not in key]
        for k in sorted(old_rows.keys() & new_rows.keys()):
            for field in fields:
                before, after = old_rows[k][field], new_rows[k][field]
                if before != after:
                    out.append([name, " / ".join(k), "corrected", field, before, after])
    return pd.DataFrame(out, columns=["table", "key", "change", "field", "old", "new"])


POOLED_KEY = ["outcome", "population", "subgroup_by", "subgroup"]


def pooled_changes(old: pd.DataFrame, new: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Pooled results that changed: those that moved, and those whose certainty changed.

    A result *moved* (column ``moved``) when its estimate or a confidence bound, rounded as
    the book shows it (``digits`` decimals of a percentage), differs, or when it has an
    estimate on one side only (it appeared or disappeared). A result with no estimate on
    either side (no study before, none now) never moved, whatever its rows. Column
    ``certainty_changed`` marks a changed GRADE rating; a row is listed when either is
    true.
    """

    key = POOLED_KEY
    shown = ["estimate", "ci_low", "ci_high"]
    if old.empty:
        old = pd.DataFrame(columns=[*key, "k", *shown, "certainty"]).astype(
            {c: float for c in shown}
        )
    # a snapshot without ratings (or a frame built by hand) compares as unrated
    old, new = (f if "certainty" in f else f.assign(certainty=pd.NA) for f in (old, new))
    old, new = (f if "reasons" in f else f.assign(reasons=pd.NA) for f in (old, new))
    merged = old.merge(new, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    moved = pd.Series(False, index=merged.index)
    for col in shown:
        before = (100 * pd.to_numeric(merged[f"{col}_old"])).round(digits)
        after = (100 * pd.to_numeric(merged[f"{col}_new"])).round(digits)
        # missing on both sides is no change (NaN != NaN would count it as one)
        moved |= before.ne(after) & ~(before.isna() & after.isna())
    certainty = _certainty_moved(merged) & merged["_merge"].eq("both")
    cols = key + [f"{c}_{side}" for side in ("old", "new") for c in ["k", *shown, "certainty"]]
    out = merged[[*cols, "reasons_new"]].assign(
        moved=moved.to_numpy(), certainty_changed=certainty.to_numpy()
    )
    return out[moved | certainty].reset_index(drop=True)


def _certainty_moved(merged: pd.DataFrame) -> pd.Series:
    before = merged["certainty_old"].fillna("").astype(str)
    after = merged["certainty_new"].fillna("").astype(str)
    return before.ne(after)


@dataclass(frozen=True)
class Diff:
    """The current data against the last release.

    Attributes
    ----------
    last : dict or None
        Manifest of the last release (None before the first release).
    current : dict
        :func:`review.data.versions.status` of the current data.
    tables : pandas.DataFrame
        :func:`table_changes` from the release's tables to the current ones.
    pooled : pandas.DataFrame
        :func:`pooled_changes`: every pooled result that moved or changed its certainty.
    history : pandas.DataFrame
        :func:`history`: overall results of every release and of the current data.
    study_labels : dict
        Study identifier -> label ("Author year (ref N)") of the studies in either version.
    """

    last: dict | None
    current: dict
    tables: pd.DataFrame
    pooled: pd.DataFrame
    history: pd.DataFrame
    study_labels: dict = dataclasses.field(default_factory=dict)

    def studies(self) -> pd.DataFrame:
        """Changes to the study table only (added, removed, corrected fields)."""
        return self.tables[self.tables["table"] == "studies.csv"].reset_index(drop=True)

    def table_summary(self) -> pd.DataFrame:
        """Per table: rows added, rows removed, fields corrected."""

        counts = pd.crosstab(self.tables["table"], self.tables["change"])
        counts = counts.reindex(columns=["added", "removed", "corrected"], fill_value=0)
        counts.columns.name = None
        return counts.rename(columns={"corrected": "fields corrected"}).reset_index()

    def certainty_changes(self) -> pd.DataFrame:
        """Outcomes whose GRADE certainty rating moved since the last release, with the
        domains and reasons of the new rating (why it moved)."""
        rated = self.pooled[self.pooled["subgroup_by"] == "all"]
        moved = rated[rated["certainty_changed"].astype(bool)]
        cols = ["outcome", "population", "certainty_old", "certainty_new", "reasons_new"]
        return moved.reindex(columns=cols).reset_index(drop=True)

    def readable(self, changes: pd.DataFrame) -> pd.DataFrame:
        """Rows of :attr:`tables` as a reader reads them: the study's label for its
        identifier, the field's name and its values in words (``review.data.labels``)."""

        def key(text: str) -> str:
            first, *rest = str(text).split(" / ")
            return " / ".join(
                [
                    self.study_labels.get(first, first),
                    *map(labels.outcome_name, rest[:1]),
                    *map(labels.variant, rest[1:]),
                ]
            )

        out = changes.copy()
        out["key"] = out["key"].map(key)
        for side in ("old", "new"):
            out[side] = [
                labels.fmt_value(v, f, "") if f else v
                for v, f in zip(out[side], out["field"], strict=True)
            ]
        out["field"] = [labels.column(f) if f else "" for f in out["field"]]
        return out.rename(columns={"key": "row"})

    def moved(self) -> pd.DataFrame:
        """Pooled results whose estimate or confidence interval moved (as the book shows it)."""
        cols = [c for c in self.pooled.columns if c not in ("moved", "certainty_changed")]
        return self.pooled.loc[self.pooled["moved"].astype(bool), cols].reset_index(drop=True)

    def corrections(self) -> pd.DataFrame:
        """Every corrected field (old and new value) of every table."""
        return self.tables[self.tables["change"] == "corrected"].reset_index(drop=True)

    def counts(self) -> dict[str, str]:
        """Numbers for the prose: release compared with, studies added/removed/corrected."""
        studies = self.studies()
        corrected = self.tables[self.tables["change"] == "corrected"]
        return {
            "last_version": self.last["version"] if self.last else "none",
            "last_date": self.last["date"] if self.last else "none",
            "studies_added": str(int((studies["change"] == "added").sum())),
            "studies_removed": str(int((studies["change"] == "removed").sum())),
            "studies_corrected": str(
                studies.loc[studies["change"] == "corrected", "key"].nunique()
            ),
            "fields_corrected": str(len(corrected)),
            "rows_changed": str(len(self.tables)),
            "pooled_moved": str(len(self.moved())),
            "certainty_moved": str(len(self.certainty_changes())),
        }

    def narrative(self) -> str:
        """What changed in this version, in a few sentences of plain text.

        Which studies came in or went out (by their labels), how many rows of data were
        added, removed or corrected, how many pooled results moved (estimate or confidence
        interval, as the book shows them; each named when there are few) and which
        certainty ratings changed.
        """

        def names(keys, most: int = 8) -> str:
            keys = list(keys)
            shown = ", ".join(self.study_labels.get(k, k) for k in keys[:most])
            return shown + (f" and {len(keys) - most:,} more" if len(keys) > most else "")

        studies = self.studies()
        added = studies.loc[studies["change"] == "added", "key"]
        removed = studies.loc[studies["change"] == "removed", "key"]
        corrected = studies.loc[studies["change"] == "corrected", "key"].unique()
        parts = []
        if len(added):
            parts.append(f"Studies added: {names(added)}.")
        if len(removed):
            parts.append(f"Studies removed: {names(removed)}.")
        if len(corrected):
            parts.append(f"Studies with corrected details: {names(corrected)}.")
        if not (len(added) or len(removed) or len(corrected)):
            parts.append("No study came in or went out.")
        rows = self.tables[self.tables["table"] != "studies.csv"]
        counts = rows["change"].value_counts()
        n_fields = int(counts.get("corrected", 0))
        n_rows = rows.loc[rows["change"] == "corrected", "key"].nunique()
        parts.append(
            f"Other tables: {plural(int(counts.get('added', 0)), 'row', 'rows')} added, "
            f"{plural(int(counts.get('removed', 0)), 'row', 'rows')} removed, "
            f"{plural(n_fields, 'field', 'fields')} corrected in "
            f"{plural(n_rows, 'row', 'rows')}."
        )
        moved = self.moved()
        main = moved[moved["subgroup_by"] == "all"]
        if moved.empty:
            parts.append("No pooled result moved.")
        else:
            text = (
                f"{plural(len(moved), 'pooled result', 'pooled results')} moved (estimate or "
                "confidence interval)"
            )
            if 0 < len(main) <= 6:
                items = []
                for _, r in main.iterrows():
                    old = labels.fmt_value(r["estimate_old"], "estimate", "none")
                    new = labels.fmt_value(r["estimate_new"], "estimate", "none")
                    name = labels.outcome_name(str(r["outcome"]))
                    items.append(f"{name}, {r['population']}: {old} to {new}")
                text += ", of which the main results: " + "; ".join(items)
            parts.append(text + ".")
        certainty = self.certainty_changes()
        if certainty.empty:
            parts.append("No certainty rating changed.")
        else:
            items = [
                f"{labels.outcome_name(str(r['outcome']))}, {r['population']}: "
                f"{labels.fmt_value(r['certainty_old'], 'certainty', 'none')} to "
                f"{labels.fmt_value(r['certainty_new'], 'certainty', 'none')}"
                for _, r in certainty.iterrows()
            ]
            parts.append("Certainty changed: " + "; ".join(items) + ".")
        return " ".join(parts)

    def summary(self) -> str:
        """One sentence: what this version is compared with."""
        if self.last is None and "unreleased" not in self.current["version"]:
            return (
                f"This is release {self.current['version']}, the first of this living review: "
                "there is no earlier version to compare with, so every table row below counts "
                "as added and every pooled result as new."
            )
        if self.last is None:
            return (
                "No version has been released yet, so everything below is new: every table "
                "row counts as added and every pooled result as new."
            )
        return (
            f"This version ({self.current['version']}) is compared with release "
            f"{self.last['version']} of {self.last['date']} (data hash "
            f"{self.last['data_hash'][: versions.SHORT_HASH]})."
        )


def diff_from_last(data_dir: Path | None = None, root: Path | None = None) -> Diff:
    """Compare the current data and pooled results with the last release."""

    data_dir = Path(data_dir) if data_dir is not None else versions.default_data_dir()
    root = Path(root) if root is not None else versions.default_root()
    releases = versions.list_releases(data_dir)
    now = versions.status(data_dir)
    # data that are exactly the last release: what changed is what that release changed,
    # so the comparison is with the release before it (none for the first release)
    released = bool(releases) and releases[-1]["data_hash"] == versions.data_hash(
        data_dir, short=False
    )
    earlier = releases[:-1] if released else releases
    last = earlier[-1] if earlier else None
    current = pooled_results(data_dir, root)
    if last is None:
        with tempfile.TemporaryDirectory() as empty:
            tables = table_changes(Path(empty), data_dir)
        old = pd.DataFrame()
    else:
        tables = table_changes(Path(last["path"]) / TABLES, data_dir)
        old = pd.read_csv(Path(last["path"]) / POOLED)
    frames = [
        pd.read_csv(Path(m["path"]) / POOLED).assign(version=m["version"], date=m["date"])
        for m in releases
    ]
    if not released:
        frames.append(current.assign(version=now["version"], date=now["data_date"]))
    hist = pd.concat(frames, ignore_index=True)
    hist = hist[(hist["subgroup_by"] == "all")].reset_index(drop=True)
    names = _study_labels(data_dir / "studies.csv")
    if last is not None:
        names = {**_study_labels(Path(last["path"]) / TABLES / "studies.csv"), **names}
    return Diff(last, now, tables, pooled_changes(old, current), hist, names)


def _study_labels(path: Path) -> dict:
    """Study identifier -> the book's label, from one study table (empty if none)."""

    if not path.is_file():
        return {}
    studies = _read(path)
    needed = {"study_id", "first_author", "year", "paper_ref", "id_role"}
    if not needed <= set(studies.columns):
        return dict(zip(studies["study_id"], studies["study_id"], strict=True))
    studies = studies.replace({"": None})
    return dict(zip(studies["study_id"], data._labels(studies), strict=True))


def plot_history(history: pd.DataFrame, axes=None):
    """Key pooled estimates with their confidence intervals, version beside version.

    One panel per population; in each, the outcomes other than single adverse events,
    with one marker per version (the current data last).

    Parameters
    ----------
    history : pandas.DataFrame
        :attr:`Diff.history`.
    axes : sequence of matplotlib Axes, optional
        One per population (default: a new figure).

    Returns
    -------
    list of matplotlib Axes
    """
    # lazy: pyplot takes about 1.5 s to import; only the figure functions need it
    import matplotlib.pyplot as plt

    key = history[~history["outcome"].astype(str).str.startswith("AE_")]
    populations = list(dict.fromkeys(key["population"]))
    versions = list(dict.fromkeys(key["version"]))
    outcomes = list(dict.fromkeys(key["outcome"]))
    if axes is None:
        _, axes = plt.subplots(
            len(populations), 1, sharex=True, squeeze=False,
            figsize=(5.5, 1.2 + 1.9 * len(populations)),
        )  # fmt: skip
        axes = list(axes[:, 0])
    width = 0.6 / max(1, len(versions))
    for ax, population in zip(axes, populations, strict=True):
        rows = key[key["population"] == population]
        for j, version in enumerate(versions):
            one = rows[rows["version"] == version]
            x = [outcomes.index(o) + (j - (len(versions) - 1) / 2) * width for o in one["outcome"]]
            est = 100 * one["estimate"]
            err = [est - 100 * one["ci_low"], 100 * one["ci_high"] - est]
            ax.errorbar(x, est, yerr=err, fmt="o", capsize=3, label=version)
        ax.set_title(population, loc="left", fontsize=11)
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")

    names = [labels.outcome_name(str(o)) for o in outcomes]
    axes[-1].set_xticks(range(len(outcomes)), names, rotation=45, ha="right")
    # the legend sits above the first panel, outside every panel: it never covers a point
    axes[0].legend(
        title="Version",
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.15),
        ncol=max(1, len(versions)),
        fontsize=9,
    )
    return axes
