"""Automatic consistency checks of the pooled numbers a paper reports.

Each check reads only the reported numbers (estimate, CI, PI, I2, heterogeneity p-value,
number of studies, cited references) and says whether they can all be true together.
:func:`run_checks` returns one row per (reported result, check) with a status of
``consistent``, ``inconsistent`` or ``not checkable`` and a sentence saying why, so the
Reproduction chapter lists every finding.

Percent values are rounded in the paper to one decimal; every comparison allows for that
rounding (``ROUNDING``) so that a finding is never an artefact of it.

References
----------
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med
2002;21:1539-58. doi:10.1002/sim.1186
Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rucker G. Seriously misleading results using
inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
proportions. Res Synth Methods 2019;10:476-83. doi:10.1002/jrsm.1348
Lao C, Wen J, Wen Y. Efficacy and safety of inotuzumab ozogamicin and its combination
therapies in acute lymphoblastic leukemia: a systematic review and meta-analysis. Front
Oncol 2025. doi:10.3389/fonc.2025.1613777
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special  # chdtrc: the chi-squared upper tail, as scipy.stats.chi2.sf

from review import data
from review.data import formats, labels

__all__ = [
    "ROUNDING",
    "SHAPE_ROUNDING",
    "check_bounds",
    "check_ci_in_pi",
    "check_estimate_in_ci",
    "check_grade3_not_above_any",
    "check_i2_q_k",
    "check_interval_shape",
    "check_study_count",
    "interval_asymmetry",
    "load_reported",
    "normalise",
    "parse_pvalue",
    "run_checks",
]

# Printed percentages carry one decimal, so each is within 0.05 points of its true value.
# A comparison of two printed numbers may be off by 0.1 (ROUNDING); the symmetry gap
# |hi + lo - 2 est| of an interval may be off by 0.05 + 0.05 + 2 x 0.05 = 0.2
# (SHAPE_ROUNDING). A tiny slack absorbs binary floating point (0.1 is not exact).
ROUNDING = 0.1
SHAPE_ROUNDING = 0.2
_SLACK = 1e-9
CONSISTENT, INCONSISTENT, UNCHECKABLE = "consistent", "inconsistent", "not checkable"
SCALES = {
    "percent": lambda p: p,
    "logit": lambda p: np.log(p / (1 - p)),
    "arcsine": lambda p: np.arcsin(np.sqrt(p)),
}


def load_reported(path: str | Path | None = None, *, data_dir=None) -> pd.DataFrame:
    """Read the paper's reported pooled results.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of ``data/paper_reported.csv``. By default the table comes
        from :func:`review.data.load` (``data_dir``, ``$REVIEW_DATA_DIR`` or ``data/``).
    data_dir : path, optional
        Data directory when ``path`` is not given.
    """
    if path is not None:
        return normalise(pd.read_csv(path, dtype={"het_pvalue": str, "cited_refs": str}))

    return normalise(data.load(data_dir).paper_reported)


NUMERIC = [
    "k",
    "estimate_pct",
    "ci_low_pct",
    "ci_high_pct",
    "pi_low_pct",
    "pi_high_pct",
    "i2_pct",
    "egger_pvalue",
]


def normalise(reported: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float (NaN where missing), text as str ("" where missing).

    Accepts the typed table of ``review.data.load().paper_reported`` (nullable dtypes) as
    well as a plain CSV read.
    """
    out = reported.copy()
    for col in NUMERIC:
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("het_pvalue", "cited_refs"):
        if col in out:
            out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    return out


def parse_pvalue(text) -> tuple[float, float]:
    """A reported p-value as the interval it stands for: "<0.001" -> (0, 0.001)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)) or str(text).strip() == "":
        return (math.nan, math.nan)
    s = str(text).strip().replace(" ", "")
    if s.startswith("<"):
        return (0.0, float(s[1:]))
    value = float(s)
    decimals = len(s.split(".")[1]) if "." in s else 0
    half = 0.5 * 10.0**-decimals
    return (max(0.0, value - half), min(1.0, value + half))


def _row_id(row) -> dict:
    return {
        "outcome": row["outcome"],
        "subgroup_by": row["subgroup_by"],
        "subgroup": row["subgroup"],
    }


def _result(row, check: str, status: str, detail: str) -> dict:
    return {**_row_id(row), "check": check, "status": status, "detail": detail}


def _num(row, col) -> float:
    value = row.get(col, math.nan)
    return float(value) if value is not None and value == value else math.nan


def check_estimate_in_ci(row) -> dict:
    """The estimate lies inside its confidence interval."""
    est, lo, hi = _num(row, "estimate_pct"), _num(row, "ci_low_pct"), _num(row, "ci_high_pct")
    if math.isnan(lo) or math.isnan(hi):
        return _result(row, "estimate_in_ci", UNCHECKABLE, "no confidence interval reported")
    if lo - ROUNDING - _SLACK <= est <= hi + ROUNDING + _SLACK:
        return _result(row, "estimate_in_ci", CONSISTENT, f"{est} lies in [{lo}, {hi}]")
    return _result(row, "estimate_in_ci", INCONSISTENT, f"{est} lies outside [{lo}, {hi}]")


def check_ci_in_pi(row) -> dict:
    """The prediction interval contains the confidence interval (and so the estimate).

    Notes
    -----
    The random-effects prediction interval is mu +/- q sqrt(tau2 + se^2) and the CI is
    mu +/- z se, with the same centre on the analysis scale; the PI is at least as wide,
    so it contains the CI after any monotone back-transformation.
    """
    lo, hi = _num(row, "ci_low_pct"), _num(row, "ci_high_pct")
    plo, phi = _num(row, "pi_low_pct"), _num(row, "pi_high_pct")
    if math.isnan(plo) or math.isnan(phi):
        return _result(row, "ci_in_pi", UNCHECKABLE, "no prediction interval reported")
    if plo - ROUNDING - _SLACK <= lo and hi <= phi + ROUNDING + _SLACK:
        return _result(row, "ci_in_pi", CONSISTENT, f"CI [{lo}, {hi}] within PI [{plo}, {phi}]")
    est = _num(row, "estimate_pct")
    outside = "" if plo <= est <= phi else f"; even the estimate {est} lies outside the PI"
    return _result(
        row, "ci_in_pi", INCONSISTENT, f"CI [{lo}, {hi}] is not within PI [{plo}, {phi}]{outside}"
    )


def check_bounds(row) -> dict:
    """Every reported bound is a possible proportion (0% to 100%)."""
    cols = ["estimate_pct", "ci_low_pct", "ci_high_pct", "pi_low_pct", "pi_high_pct"]
    bad = [
        f"{labels.column(c.removesuffix('_pct'))} = {_num(row, c):g}%"
        for c in cols
        if not math.isnan(_num(row, c)) and not 0 <= _num(row, c) <= 100
    ]
    if bad:
        return _result(
            row, "bounds_possible", INCONSISTENT, "impossible proportion: " + ", ".join(bad)
        )
    return _result(row, "bounds_possible", CONSISTENT, "all values within 0-100%")


def interval_asymmetry(est: float, lo: float, hi: float) -> dict[str, float]:
    """Relative asymmetry of an interval around its estimate on each candidate scale.

    Notes
    -----
    On a scale g, the asymmetry is |(g(hi) - g(est)) - (g(est) - g(lo))| / (g(hi) - g(lo)):
    0 for an interval built symmetrically on that scale (a Wald interval there). Values
    in percent; a scale is NaN when a bound falls outside (0, 100).
    """
    out = {}
    for name, g in SCALES.items():
        p = np.array([lo, est, hi]) / (100.0 if name != "percent" else 1.0)
        if name != "percent" and not np.all((p > 0) & (p < 1)):
            out[name] = math.nan
            continue
        with np.errstate(all="ignore"):
            gl, ge, gh = (float(v) for v in g(p))
        width = gh - gl
        out[name] = abs((gh - ge) - (ge - gl)) / width if width > 0 else math.nan
    return out


def check_interval_shape(row, *, i2_switch: float = 50.0) -> dict:
    """Does the interval's shape fit the transformation the paper says it used?

    Notes
    -----
    The paper states Freeman-Tukey (double arcsine) when I2 > ``i2_switch``. An interval
    back-transformed from the arcsine or logit scale is asymmetric on the percent scale
    away from 50%. An interval that is symmetric on the percent scale within rounding,
    and measurably asymmetric on the arcsine scale, was built on raw proportions.
    """
    est, lo, hi = _num(row, "estimate_pct"), _num(row, "ci_low_pct"), _num(row, "ci_high_pct")
    if math.isnan(lo) or math.isnan(hi) or hi <= lo:
        return _result(row, "interval_shape", UNCHECKABLE, "no usable confidence interval")
    gap = abs((hi - est) - (est - lo))
    asym = interval_asymmetry(est, lo, hi)
    i2 = _num(row, "i2_pct")
    stated = (
        "Freeman-Tukey"
        if not math.isnan(i2) and i2 > i2_switch
        else "not stated (I2 not above the switch)"
    )
    # Asymmetry the arcsine scale would produce on the percent scale for this interval.
    arcs = asym["arcsine"]
    if gap <= SHAPE_ROUNDING + _SLACK and (math.isnan(arcs) or arcs > asym["percent"] + 0.02):
        status = INCONSISTENT if stated == "Freeman-Tukey" else CONSISTENT
        detail = (
            f"symmetric on the percent scale ({est - lo:.1f} below, {hi - est:.1f} above)"
            f": fits raw proportions; stated transform {stated}"
        )
        if math.isnan(arcs):
            detail += "; a bound outside 0-100% is impossible on the arcsine scale"
        return _result(row, "interval_shape", status, detail)
    if gap <= SHAPE_ROUNDING + _SLACK:
        return _result(
            row,
            "interval_shape",
            UNCHECKABLE,
            f"symmetric on the percent scale, but so close to 50% that the arcsine "
            f"scale is symmetric too (stated: {stated})",
        )
    below, above = est - lo, hi - est
    # Back-transforms from the logit or arcsine scale stretch the arm towards 50%; a longer
    # arm pointing away from 50% comes from no scale the paper could have used.
    tol = SHAPE_ROUNDING + _SLACK
    away = (est < 50 and below > above + tol) or (est > 50 and above > below + tol)
    if away:
        return _result(
            row,
            "interval_shape",
            INCONSISTENT,
            f"the longer arm ({below:.1f} below, {above:.1f} above) points away "
            f"from 50%, which neither raw proportions nor a logit or arcsine "
            f"back-transformation produce; stated transform {stated}",
        )
    best = min((v, k) for k, v in asym.items() if not math.isnan(v))[1]
    return _result(
        row,
        "interval_shape",
        CONSISTENT,
        f"asymmetric on the percent scale ({est - lo:.1f} below, {hi - est:.1f} "
        f"above); most symmetric on the {best} scale; stated transform {stated}",
    )


def _i2_from(q: float, df: int) -> float:
    # Higgins & Thompson 2002: I2 = max(0, (Q - df) / Q)
    return max(0.0, (q - df) / q) * 100 if q > 0 else 0.0


def _p_range_for(i2: float, df: int) -> tuple[float, float]:
    """Heterogeneity p-values compatible with a printed I2 (one decimal) and df."""
    if i2 - 0.05 <= 0:
        # I2 = 0 means Q <= df, so p >= P(chi2_df > df); Q may be anything up to df
        upper_i2 = 0.05
        q_hi = df / (1 - upper_i2 / 100)
        return (float(special.chdtrc(df, q_hi)), 1.0)
    i2_lo, i2_hi = max(i2 - 0.05, 0.0), min(i2 + 0.05, 99.999)
    q_lo, q_hi = df / (1 - i2_lo / 100), df / (1 - i2_hi / 100)
    return (float(special.chdtrc(df, q_hi)), float(special.chdtrc(df, q_lo)))


def check_i2_q_k(row, *, max_k: int = 40) -> dict:
    """I2, the heterogeneity p-value and k fit together (Q = df / (1 - I2)).

    Notes
    -----
    With k given, the p-values compatible with the printed I2 (+/- 0.05 points) are
    computed and compared with the printed p (as the interval its rounding allows). Without
    k, the values of k that would make them fit are listed (the implied number of studies).
    """
    i2 = _num(row, "i2_pct")
    p_lo, p_hi = parse_pvalue(row.get("het_pvalue"))
    if math.isnan(i2) or math.isnan(p_lo):
        return _result(row, "i2_fits_q_and_k", UNCHECKABLE, "I2 or its p-value not reported")
    if not 0 <= i2 < 100:
        return _result(row, "i2_fits_q_and_k", INCONSISTENT, f"I² = {i2}% is impossible")
    p_text = str(row.get("het_pvalue")).strip()

    def fits(k: int) -> bool:
        lo, hi = _p_range_for(i2, k - 1)
        return lo <= p_hi and p_lo <= hi

    k = _num(row, "k")
    if not math.isnan(k):
        k = int(k)
        if k < 2:
            return _result(row, "i2_fits_q_and_k", INCONSISTENT, f"I2 reported with k = {k}")
        lo, hi = _p_range_for(i2, k - 1)
        status = CONSISTENT if fits(k) else INCONSISTENT
        return _result(
            row,
            "i2_fits_q_and_k",
            status,
            f"with k = {k}, I² = {i2}% implies p from {formats.fmt_sig(lo)} to "
            f"{formats.fmt_sig(hi)}; reported p = {p_text}",
        )
    implied = [kk for kk in range(2, max_k + 1) if fits(kk)]
    if not implied:
        return _result(
            row,
            "i2_fits_q_and_k",
            INCONSISTENT,
            f"no number of studies from 2 to {max_k} gives I² = {i2}% with p = {p_text}",
        )
    shown = f"k = {implied[0]}" if len(implied) == 1 else f"k from {implied[0]} to {implied[-1]}"
    return _result(
        row,
        "i2_fits_q_and_k",
        CONSISTENT,
        f"k not reported; I² = {i2}% with p = {p_text} implies {shown}",
    )


def _refs(row) -> list[int]:
    text = row.get("cited_refs")
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text) == "":
        return []
    return [int(r) for r in str(text).split(";") if r.strip()]


def check_study_count(row, *, included_refs: range | None = None) -> dict:
    """The number of studies fits the references cited for the result.

    Parameters
    ----------
    included_refs : range, optional
        Reference numbers of the included studies; a cited reference outside it is a
        finding.
    """
    refs = _refs(row)
    k = _num(row, "k")
    if not refs:
        return _result(row, "study_count_fits_refs", UNCHECKABLE, "no references cited")
    outside = [r for r in refs if included_refs is not None and r not in included_refs]
    problems = []
    if outside:
        problems.append(f"cited reference(s) {outside} are not included studies")
    if len(set(refs)) != len(refs):
        problems.append("a reference is cited twice")
    if math.isnan(k):
        detail = f"k not reported; {len(set(refs))} references cited"
        return _result(
            row,
            "study_count_fits_refs",
            INCONSISTENT if problems else UNCHECKABLE,
            "; ".join([detail, *problems]),
        )
    if int(k) != len(set(refs)):
        problems.append(f"k = {int(k)} but {len(set(refs))} references cited")
    if problems:
        return _result(row, "study_count_fits_refs", INCONSISTENT, "; ".join(problems))
    return _result(
        row,
        "study_count_fits_refs",
        CONSISTENT,
        f"k = {int(k)} matches the {len(refs)} references cited",
    )


def check_grade3_not_above_any(reported: pd.DataFrame) -> list[dict]:
    """Grade >= 3 events are a subset of any-grade events, so their rate cannot be higher."""
    out = []
    rows = reported.set_index("outcome")
    for code in reported["outcome"]:
        if not code.endswith("_g3"):
            continue
        base = code.removesuffix("_g3") + "_any"
        row = rows.loc[code]
        if base not in rows.index:
            continue
        g3, anyg = float(row["estimate_pct"]), float(rows.loc[base, "estimate_pct"])
        status = CONSISTENT if g3 <= anyg + ROUNDING + _SLACK else INCONSISTENT
        out.append(
            _result(
                row.to_dict() | {"outcome": code},
                "grade3_not_above_any",
                status,
                f"grade >= 3 {g3}% vs any grade {anyg}%",
            )
        )
    return out


def run_checks(
    reported: pd.DataFrame | None = None,
    *,
    i2_switch: float = 50.0,
    included_refs: range | None = range(17, 33),
) -> pd.DataFrame:
    """Run every check on every reported result.

    Parameters
    ----------
    reported : DataFrame, optional
        The paper's pooled results (:func:`load_reported` by default).
    i2_switch : float
        The I2 (percent) above which the paper says it used Freeman-Tukey.
    included_refs : range, optional
        Reference numbers of the paper's included studies (17-32 in Lao 2025).

    Returns
    -------
    DataFrame
        Columns outcome, subgroup_by, subgroup, check, status, detail.
    """
    reported = normalise(load_reported() if reported is None else reported)
    rows = []
    for _, row in reported.iterrows():
        rows += [
            check_estimate_in_ci(row),
            check_ci_in_pi(row),
            check_bounds(row),
            check_interval_shape(row, i2_switch=i2_switch),
            check_i2_q_k(row),
            check_study_count(row, included_refs=included_refs),
        ]
    all_rows = reported[reported["subgroup_by"] == "all"]
    rows += check_grade3_not_above_any(all_rows)
    return pd.DataFrame(
        rows, columns=["outcome", "subgroup_by", "subgroup", "check", "status", "detail"]
    )
