"""Reader wording for every code, column name and flag that a table of the book shows.

One place, so that every reader-facing table speaks the same words: :func:`frame` turns a
table as the code holds it (``ci_low``, ``relapsed_refractory``, ``True``, ``<NA>``) into
the table a reader sees ("CI lower", "Relapsed or refractory", "yes", "—"), and
:func:`review.book.table` calls it on every table it shows; the CSV download keeps the
codes and the unrounded numbers.

Where the words come from:

- coded values: the data dictionary (``data/dictionary.csv``, the ``code`` rows of each
  column; the description up to its first colon), then :data:`VALUES` for codes that are
  made by the analysis rather than stored in the data (models, choices, flags);
- outcome codes: the analysis plan's wording (``plan.wording``), so ``AE_anemia_g3``
  reads "anaemia (grade 3 or worse)";
- column names: :data:`COLUMNS`; a name not listed is written out by :func:`column`
  (underscores become spaces, ``ci`` becomes CI, ``pp`` percentage points), so no
  snake_case name reaches a page.

Numbers are formatted by the kind of their column (:func:`kind`): proportions as
percentages, ``*_pct`` and I² values as percentages already, τ² and other statistics to
three significant digits without exponents, counts as integers; a missing value reads
:data:`MISSING`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pandas as pd

from review import data
from review.data import formats, validate
from review.data.plan import default_plan_path, load_plan

MISSING = "—"
NOT_REPORTED = "not reported"

# Column names as a reader reads them. Proportions are shown as percentages (kind "prop").
COLUMNS = {
    "label": "Study",
    "study": "Study",
    "study_id": "Study",
    "first_author": "First author",
    "paper_ref": "Reference in the paper",
    "outcome": "Outcome",
    "outcome_name": "Outcome",
    "outcomes": "Outcomes",
    "population": "Population",
    "k": "Studies",
    "k_old": "Studies before",
    "k_new": "Studies now",
    "patients": "Patients",
    "events": "Events",
    "total": "Total",
    "n_analysed": "Patients analysed",
    "n_enrolled": "Patients enrolled",
    "n_evaluable": "Patients evaluable",
    "estimate": "Rate",
    "ci_low": "CI lower",
    "ci_high": "CI upper",
    "pi_low": "PI lower",
    "pi_high": "PI upper",
    "tau2": "τ²",
    "i2": "I²",
    "i2_ci_low": "I² CI lower",
    "i2_ci_high": "I² CI upper",
    "h2": "H²",
    "q": "Q",
    "q_pvalue": "p (Q)",
    "q_between": "Q between groups",
    "p_between": "p (between groups)",
    "q_m": "Q (moderator)",
    "p_m": "p (moderator)",
    "df": "Degrees of freedom",
    "groups": "Groups",
    "model": "Model",
    "model_label": "Model",
    "method": "Estimator",
    "measure": "Scale",
    "test": "Interval method",
    "variant": "Row variant",
    "primary": "Primary row",
    "reason": "Reason",
    "reasons": "Reasons",
    "note": "Note",
    "rated_down": "Rated down for",
    "certainty": "Certainty",
    "certainty_old": "Certainty before",
    "certainty_new": "Certainty now",
    "statement": "In plain language",
    "disease_status": "Disease status",
    "regimen_group": "Regimen",
    "source_tier": "Source",
    "design": "Design",
    "ph_status": "Philadelphia chromosome",
    "id_confidence": "Identification",
    "id_role": "Role",
    "denominator_basis": "Denominator",
    "read_from": "Read from",
    "omitted": "Study left out",
    "delta_estimate_pp": "Change in rate (percentage points)",
    "delta_ci_low_pp": "Change in CI lower (percentage points)",
    "delta_ci_high_pp": "Change in CI upper (percentage points)",
    "ci_width_ratio": "CI width ratio",
    "data_label": "Data choice",
    "data_choice": "Data choice",
    "subgroup": "Subgroup",
    "subgroup_by": "Subgroup by",
    "age_median": "Median age (years)",
    "age_range": "Age range (years)",
    "follow_up_median_months": "Median follow-up (months)",
    "date_public": "Public since",
    "source_url": "Source",
    "i2_pct": "I² (%)",
    "studies": "Which studies",
    "reports": "Reports",
    "roles": "Roles",
    "cohort_id": "Cohort",
    "flags": "Caveats",
}

# Codes made by the analysis (not stored in data/dictionary.csv), in words.
VALUES = {
    "no evidence": "no evidence",
    "all": "All patients",
    "all_treated": "all treated",
    "itt": "intention to treat",
    "evaluable": "evaluable patients",
}

# A report's role in identifying the paper's studies (studies.csv ``id_role``), short
# enough for a list of roles; the data dictionary holds the long definitions.
ROLES = {"best": "best candidate", "runner_up": "runner-up", "added": "added later"}

# Parts of the name of a data variant (outcomes.csv ``variant``: the report, denominator,
# definition or arm a row embodies, e.g. ``eot_responders``), in words. A part not listed
# is kept as written (an arm's dose such as ``1.2``); a conference part such as
# ``eha2022`` reads "EHA 2022", an analysis set such as ``itt326`` reads "intention to
# treat (326)".
VARIANT_PARTS = {
    "all": "all",
    "any": "any",
    "time": "time",
    "arm": "arm",
    "rand": "randomised",
    "runin": "run-in",
    "eot": "end of treatment",
    "post": "after",
    "hsct": "transplant",
    "c2": "cycle 2",
    "c3": "cycle 3",
    "cr": "CR",
    "mrd": "MRD",
    "orr": "overall response",
    "pr": "PR",
    "incl": "including",
    "ino": "inotuzumab",
    "blina": "blinatumomab",
    "ph": "Philadelphia chromosome",
    "pos": "positive",
    "label": "product label",
    "lancet": "Lancet",
    "haematol": "Haematology",
    "relapsino": "RELAPSINO",
}
_CONFERENCE = re.compile(r"^(asco|ash|eha)(\d{4})$")
_ANALYSIS_SET = re.compile(r"^itt(\d+)$")

# Columns whose values are proportions (shown as percentages), by name or name pattern.
_PROPORTION = re.compile(
    r"^(?:our_|paper_|closest_|reported_)?(estimate|ci_low|ci_high|pi_low|pi_high)"
    r"(?:_old|_new)?$"
)
_PERCENT = re.compile(r"(_pct|_pp)$|^i2(_ci_low|_ci_high)?$")
_STATISTIC = re.compile(r"^(tau2|h2|q|q_between|q_m|ci_width_ratio)(_old|_new)?$")
_PVALUE = re.compile(r"(^p_|_pvalue$|^p$)")
_SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9.]+)+$")


def kind(name: str) -> str:
    """How the values of column ``name`` are shown.

    Returns
    -------
    str
        ``"prop"`` (a proportion, shown as a percentage), ``"percent"`` (already in
        percent), ``"pvalue"``, ``"stat"`` (three significant digits) or ``"text"``.
    """
    name = str(name)
    if _PROPORTION.match(name):
        return "prop"
    if _PERCENT.search(name):
        return "percent"
    if _PVALUE.search(name):
        return "pvalue"
    if _STATISTIC.match(name):
        return "stat"
    return "text"


def column(name) -> str:
    """The reader's name of column ``name`` (a name with no entry is written out)."""
    name = str(name)
    if name in COLUMNS:
        return COLUMNS[name]
    if not re.fullmatch(r"[a-z0-9_]+", name):
        return name  # already a reader's header ("Studies (patients)", "τ²")
    words = []
    for part in name.split("_"):
        words.append(
            {
                "ci": "CI",
                "pi": "PI",
                "pp": "(percentage points)",
                "pct": "(%)",
                "k": "studies",
                "n": "number",
                "id": "identifier",
                "url": "address",
                "sct": "transplant",
                "vod": "VOD",
                "or": "OR",
                "cr": "CR",
                "mrd": "MRD",
                "os": "OS",
            }.get(part, part)
        )
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _stamp(path: Path) -> tuple:
    """A file's path, modification time and size: what a cached reading of it is keyed on."""
    st = path.stat() if path.is_file() else None
    return (str(path.resolve()), st.st_mtime_ns if st else None, st.st_size if st else None)


def _dictionary_codes(data_dir: str | None) -> dict[str, dict[str, str]]:
    """Column -> {code: words} of the data dictionary of the data folder in use."""

    root = Path(data_dir) if data_dir else validate.default_data_dir()
    return _dictionary_codes_of(_stamp(root / "dictionary.csv"))


@cache
def _dictionary_codes_of(stamp: tuple) -> dict[str, dict[str, str]]:

    d = data.load(Path(stamp[0]).parent).dictionary
    rows = d[d["code"].fillna("") != ""]
    out: dict[str, dict[str, str]] = {}
    for col, code, desc in zip(rows["column"], rows["code"], rows["description"], strict=True):
        out.setdefault(col, {})[str(code)] = str(desc).split(":")[0].strip()
    return out


def _plan():
    """The analysis plan, read again only when its file changed."""

    return _plan_of(_stamp(Path(default_plan_path())))


@cache
def _plan_of(stamp: tuple):

    return load_plan(stamp[0])


def _plan_codes() -> dict[str, str]:
    """Identifiers the analysis plan names (models, data choices) -> their labels."""
    plan = _plan()
    out = {str(c["id"]): str(c["label"]) for c in plan["multiverse"]["data_choices"]}
    # the models' own labels (longer) over the multiverse's short ones
    for spec in [*plan.multiverse_models, plan.primary, plan.fallback, *plan.sensitivity]:
        out[spec.id] = spec.label
    return out


def codes(name: str) -> dict[str, str]:
    """Code -> words for the values of column ``name``: the plan's models and data choices,
    :data:`VALUES`, then the data dictionary's codes of that column."""
    try:
        known = _dictionary_codes(None).get(str(name), {})
    except Exception:  # no data folder (a table built outside the book): VALUES only
        known = {}
    try:
        planned = _plan_codes()
    except Exception:  # no plan at hand
        planned = {}
    return {**planned, **VALUES, **known}


def words(text: str) -> str:
    """A code with no entry anywhere, written out: ``eot_all_treated`` -> "eot all treated".

    Only a whole value that is one snake_case word is changed; other text is kept."""
    return text.replace("_", " ") if _SNAKE.match(text) else text


# An InO dose in a variant code (``arm_rand_1.2``): mg/m2 per cycle, as the trials report it
_DOSE = re.compile(r"\d+\.\d+")


def _variant_words(parts: list[str]) -> str:
    out = []
    for part in parts:
        if m := _CONFERENCE.match(part):
            out.append(f"{m[1].upper()} {m[2]}")
        elif m := _ANALYSIS_SET.match(part):
            out.append(f"intention to treat ({m[1]})")
        else:
            out.append(VARIANT_PARTS.get(part, part))
    return " ".join(out)


def variant(code) -> str:
    """A data variant's name in words.

    ``eot_responders`` -> "end of treatment responders", ``itt326`` -> "intention to treat
    (326)"; a trial arm reads as an arm with its dose: ``post_hsct_arm_rand_1.2`` -> "after
    transplant, randomised arm at 1.2 mg/m² per cycle", ``arm_all_1.2`` -> "all patients at 1.2
    mg/m² per cycle".
    """
    text = str(code)
    if not re.fullmatch(r"[a-z0-9_.]+", text):
        return text  # already words
    parts = text.split("_")
    if "arm" not in parts:
        return _variant_words(parts)
    at = parts.index("arm")
    before, after = parts[:at], parts[at + 1 :]
    doses = [p for p in after if _DOSE.fullmatch(p)]
    kind = [p for p in after if not _DOSE.fullmatch(p)]
    arm = "all patients" if kind == ["all"] else f"{_variant_words(kind)} arm".lstrip()
    if doses:
        arm += f" at {' and '.join(doses)} mg/m² per cycle"
    return f"{_variant_words(before)}, {arm}" if before else arm


def role(code) -> str:
    """A report's identification role (``runner_up``) in words ("runner-up")."""
    return ROLES.get(str(code), words(str(code)))


def code_list(text, name: str) -> str:
    """Semicolon-separated codes of column ``name`` (e.g. ``flags``), each in words."""
    known = codes(name)
    items = [t.strip() for t in str(text).split(";") if t.strip()]
    return "; ".join(known.get(t, words(t)) for t in items)


def is_missing(value) -> bool:
    """Whether ``value`` is missing (None, NaN, NA, NaT or an empty string)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == "" or value in {"<NA>", "NaN", "nan", "None"}
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_value(value, name: str = "", missing: str = MISSING, digits: int = 1) -> str:
    """One cell as a reader reads it, formatted by the kind of its column ``name``."""

    if is_missing(value):
        return missing
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype == bool):
        return "yes" if value else "no"
    how = kind(name)
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            return "not estimable"
        if how == "prop":
            return formats.fmt_pct(x, digits)
        if how == "percent":
            return f"{x:.{digits}f}%" if not name.endswith("_pp") else f"{x:+.{digits}f}"
        if how == "pvalue":
            return formats.fmt_p(x).removeprefix("p = ").removeprefix("p ")
        if float(x).is_integer() and how != "stat":
            return formats.fmt_int(x)
        return formats.fmt_num(x)
    text = str(value)
    if text in {"True", "False", "true", "false"}:
        return "yes" if text in {"True", "true"} else "no"
    if name == "outcome":
        return outcome_name(text)
    if name.startswith("certainty"):
        return text  # GRADE's words already
    if name == "subgroup_by":
        return "—" if text == "all" else column(text)
    if name == "variant":
        return variant(text)
    if name == "table" and text.endswith(".csv"):  # a data file: its name in words
        return words(text.removesuffix(".csv")).capitalize()
    if name in {"id_role", "roles"}:
        return "; ".join(role(t.strip()) for t in text.split(";"))
    if name == "flags":
        return code_list(text, name)
    if name == "cohort_id":  # an identifier of our own: "C_MDACC_olderND" reads "MDACC olderND"
        return text.removeprefix("C_").replace("_", " ")
    known = codes(name)
    if text in known:
        return known[text]
    if name == "subgroup":  # holds the codes of the column it splits by
        return words(_any_code(text))
    return words(text)


def _any_code(text: str) -> str:
    """``text`` in words if it is a code of any column of the data dictionary (a subgroup
    column holds the codes of the column it splits by)."""
    try:
        for names in _dictionary_codes(None).values():
            if text in names:
                return names[text]
    except Exception:  # no data folder
        pass
    return text


def outcome_name(code: str) -> str:
    """An outcome code in words (the analysis plan's name), the code itself if unknown."""
    try:
        return _plan().wording(code)["name"]
    except Exception:  # no plan at hand: keep the code
        return code


def frame(
    df: pd.DataFrame,
    percent: Iterable[str] = (),
    digits: int = 1,
    missing: str = MISSING,
) -> pd.DataFrame:
    """A copy of ``df`` as a reader reads it: every cell text, every header in words.

    Parameters
    ----------
    df : DataFrame
        A table as the code holds it.
    percent : iterable of str
        Columns of proportions to show as percentages, besides those :func:`kind` finds.
    digits : int
        Decimals of percentages.
    missing : str
        What an empty cell reads (:data:`MISSING` or :data:`NOT_REPORTED`).
    """

    percent = set(percent)
    columns: dict[str, list[str]] = {}
    for position, name in enumerate(df.columns):
        values = df.iloc[:, position]
        if name in percent:
            cells = [missing if is_missing(v) else formats.fmt_pct(v, digits) for v in values]
        else:
            cells = [fmt_value(v, str(name), missing, digits) for v in values]
        header = column(name)
        if header in columns:  # two codes with one reader's name: keep both apart
            header = f"{header} ({str(name).replace('_', ' ')})"
        columns[header] = cells
    return pd.DataFrame(columns, index=df.index)
