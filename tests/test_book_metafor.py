"""The numbers the book shows for the fixture data, against R metafor (issue 13, part 5).

``tests/fixtures/metafor_book_input.json`` holds, for every outcome and survival page and
every population, the rows the book pools from ``tests/fixtures/data_small`` and the model
it chose (``python -m review.pipeline.crosscheck``, :mod:`review.pipeline.crosscheck`);
``tests/fixtures/metafor_book.json`` holds what R metafor computes from those rows
(``scripts/metafor_book.R``; versions, date, checksums and calls in its ``source``).
Regenerate both after a change to the fixture, the plan or the script::

    .venv/bin/python -m review.pipeline.crosscheck tests/fixtures/data_small \\
        tests/fixtures/metafor_book_input.json
    Rscript scripts/metafor_book.R tests/fixtures/metafor_book_input.json \\
        tests/fixtures/metafor_book.json

The tests check that

- the pin is current: the exporter writes the pinned input from the fixture and the pinned
  output names this script and that input (checksums), without R; with R (``needs_r``),
  the exporter and the script run again reproduce the pinned numbers;
- metaprop, called through ``review.analysis`` as the pages call it, gives metafor's numbers
  for every field of every (outcome, population), to the tolerances of ``tolerances.py``
  (test ids ``data_small-OUTCOME-population-MEASURE-METHOD-test``);
- (``slow``) the built book shows them: each page's results CSV equals metafor's numbers,
  and its results table and sentences show metafor's numbers rounded as the page rounds;
- (``needs_r``) a variant of the fixture that takes the plan's fallback model, holds a
  single binary study and an all-event study agrees with live metafor in the same way.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pytest
import tolerances as tol
from _site import FIXTURE, ROOT, edit_rows
from _tools import run_r
from review import analysis, data
from review.data.plan import load_plan
from review.pipeline import crosscheck, params

SCRIPT = ROOT / "scripts" / "metafor_book.R"
INPUT_PATH = ROOT / "tests" / "fixtures" / "metafor_book_input.json"
OUTPUT_PATH = ROOT / "tests" / "fixtures" / "metafor_book.json"
INPUT = json.loads(INPUT_PATH.read_text(encoding="utf-8"))
PINNED = json.loads(OUTPUT_PATH.read_text(encoding="utf-8"))
RESULTS = PINNED["results"]
DATA_LABEL = "tests/fixtures/data_small"  # how the pinned input names the data folder

PLAN = load_plan()
CASES = {c["id"]: c for c in INPUT["cases"]}
GLMM_IDS = {s.id for s in (PLAN.primary, PLAN.fallback, *PLAN.sensitivity) if s.is_glmm}
POPULATIONS = [p["key"] for p in [*PLAN.strata, PLAN.comparison]]

# The columns of review.analysis.results_table (and of each page's results CSV) that hold
# numbers, and what metafor's output adds (compared with the fit, not shown on the page).
TABLE_FIELDS = (
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "i2_ci_low",
    "i2_ci_high",
    "q",
    "q_pvalue",
)
FIT_FIELDS = ("estimate_t", "se_t")
# What a Bayesian headline replaces on the page (the rate and its intervals).
HEADLINE_FIELDS = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")


def _case_id(ref: dict, dataset: str = "data_small") -> str:
    model = CASES[ref["id"]]["model"] if ref["id"] in CASES else None
    if model is not None:
        return f"{dataset}-{ref['id']}-{model['measure']}-{model['method']}-{model['test']}"
    return f"{dataset}-{ref['id']}-{'empty' if ref['k'] == 0 else 'single'}"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _book_pages() -> list[params.Page]:
    return [p for p in params.load_pages(ROOT) if p.chapter in ("outcome", "survival")]


# --- comparison -------------------------------------------------------------------------


def _tolerance(ref: dict, field: str) -> tuple[float, float]:
    """``(rtol, atol)`` for one field of one metafor result (see tolerances.py)."""
    if ref["model_id"] == "none":
        # one study: Clopper-Pearson (qbeta), or its own estimate and interval (k = 1)
        return tol.for_field(field, iterative=False)
    if field in ("i2_ci_low", "i2_ci_high"):
        # Q-profile interval of the inverse-variance fit (beside the GLMM too)
        return tol.for_field("I2_ci_qprofile", iterative=True)
    if ref["model_id"] in GLMM_IDS:
        # on the tau^2 = 0 boundary lme4 may stop a hair above 0 (as in test_glmm.py)
        atol = {"tau2": tol.ITERATIVE_ATOL, "i2": tol.I2_ATOL}.get(field, 0.0)
        return tol.GLMM_RTOL, atol
    return tol.for_field(field, iterative=True)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _mismatches(got: Mapping[str, float], ref: dict, fields=TABLE_FIELDS) -> list[str]:
    """Every field where the book's value and metafor's differ beyond the tolerance."""
    out = []
    for name in ("k", "patients", "model"):
        if name in got and got[name] != ref[name]:
            out.append(f"{name}: book {got[name]!r}, metafor {ref[name]!r}")
    for field in fields:
        value, want = got[field], ref[field]
        if want is None or _missing(value):
            if not (_missing(value) and want is None):
                out.append(f"{field}: book {value!r}, metafor {want!r}")
            continue
        rtol, atol = _tolerance(ref, field)
        if not abs(float(value) - want) <= atol + rtol * abs(want):
            out.append(f"{field}: book {value!r}, metafor {want!r} (rtol {rtol:g}, atol {atol:g})")
    return out


def _book_values(data_dir: Path) -> dict[str, dict]:
    """What the pages compute for ``data_dir``, keyed ``OUTCOME-population``: the results
    table row, plus k, patients, model and the fit's own logit/cloglog and SE."""
    out = {}
    for page in _book_pages():
        code = page.parameters["outcome"]
        if page.chapter == "outcome":
            fits = analysis.by_population(data.outcome(code, data_dir=data_dir), PLAN)
        else:
            fits = analysis.landmark_by_population(data.landmark(code, data_dir=data_dir), PLAN)
        table = analysis.results_table(fits, PLAN)
        for (key, fit), (_, row) in zip(fits.items(), table.iterrows(), strict=True):
            values = {f: float(row[f]) for f in TABLE_FIELDS}
            values.update(k=int(row["k"]), patients=int(row["patients"]), model=row["model"])
            if fit.headline is not None:
                # the page reports the Bayesian model's rate; metafor checks the GLMM fit
                # that gives heterogeneity and the forest plot beside it
                values.update(_glmm_values(fit), model=fit.model.label)
            for f in FIT_FIELDS:
                values[f] = float(getattr(fit.result, f)) if fit.result is not None else math.nan
            out[f"{code}-{key}"] = values
    return out


def _glmm_values(fit) -> dict[str, float]:
    """Estimate, CI and the plan's prediction interval of a fit's GLMM itself."""
    res, pi = fit.result, PLAN["heterogeneity"]["prediction_interval"]
    low, high = (
        res.prediction_interval(dist=pi["dist"])
        if res.k >= pi["min_k"]
        else (
            math.nan,
            math.nan,
        )
    )
    return {
        "estimate": float(res.estimate),
        "ci_low": float(res.ci[0]),
        "ci_high": float(res.ci[1]),
        "pi_low": float(low),
        "pi_high": float(high),
    }


# --- the pin is current -------------------------------------------------------------------


def test_pinned_input_is_what_the_book_pools(tmp_path):
    """The exporter writes, from the fixture, exactly the pinned input (rows and models)."""
    fresh = crosscheck.write_input(FIXTURE, tmp_path / INPUT_PATH.name, label=DATA_LABEL)
    assert fresh == INPUT, (
        "tests/fixtures/metafor_book_input.json is stale: regenerate it and "
        "metafor_book.json (see this module's docstring)"
    )
    assert _md5(tmp_path / INPUT_PATH.name) == _md5(INPUT_PATH)


def test_pinned_output_comes_from_this_script_and_input():
    source = PINNED["source"]
    assert source["script_md5"] == _md5(SCRIPT), "scripts/metafor_book.R changed: re-run it"
    assert source["input_md5"] == _md5(INPUT_PATH), "the input changed: re-run the R script"
    for key in ("r_version", "metafor_version", "lme4_version", "date"):
        assert source[key], key
    assert source["control"] == {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000}


def _run_metafor(input_path: Path, output_path: Path) -> dict:
    run_r(SCRIPT, input_path, output_path)
    return json.loads(output_path.read_text(encoding="utf-8"))


@pytest.mark.needs_r
def test_exporter_and_metafor_reproduce_the_pin(tmp_path):
    """Re-running the exporter and the R script on the fixture gives the pinned file."""
    input_path = tmp_path / INPUT_PATH.name
    crosscheck.write_input(FIXTURE, input_path, label=DATA_LABEL)
    fresh = _run_metafor(input_path, tmp_path / OUTPUT_PATH.name)
    src, pinned_src = fresh["source"], PINNED["source"]
    assert src["script_md5"] == pinned_src["script_md5"]
    assert src["input_md5"] == pinned_src["input_md5"]
    versions = {k: (src[k], pinned_src[k]) for k in src if k.endswith("_version")}
    assert [r["id"] for r in fresh["results"]] == [r["id"] for r in RESULTS]
    problems = []
    for new, old in zip(fresh["results"], RESULTS, strict=True):
        assert new["model_id"] == old["model_id"] and new["calls"] == old["calls"], new["id"]
        problems += [f"{new['id']} {m}" for m in _mismatches(new, old, TABLE_FIELDS + FIT_FIELDS)]
    assert not problems, f"versions (now, pinned): {versions}\n" + "\n".join(problems)


# --- metaprop through review.analysis ------------------------------------------------------


@pytest.fixture(scope="module")
def book_values() -> dict[str, dict]:
    return _book_values(FIXTURE)


@pytest.mark.parametrize("ref", RESULTS, ids=[_case_id(r) for r in RESULTS])
def test_book_fit_agrees_with_metafor(ref, book_values):
    got = book_values[ref["id"]]
    problems = _mismatches(got, ref, TABLE_FIELDS + FIT_FIELDS)
    assert not problems, "\n".join(problems)


def test_no_case_is_skipped(book_values):
    """Every (page, population) of the book has a metafor result, and none is hollow."""
    expected = [f"{p.parameters['outcome']}-{pop}" for p in _book_pages() for pop in POPULATIONS]
    assert [c["id"] for c in INPUT["cases"]] == expected
    assert [r["id"] for r in RESULTS] == expected
    assert sorted(book_values) == sorted(expected)
    min_k = PINNED["source"]["prediction_interval"]["min_k"]
    for ref in RESULTS:
        present = {f for f in TABLE_FIELDS + FIT_FIELDS if ref[f] is not None}
        if ref["k"] == 0:
            want = set()
        elif ref["model_id"] == "none":
            want = {"estimate", "ci_low", "ci_high"}
        elif ref["k"] < min_k:
            want = set(TABLE_FIELDS + FIT_FIELDS) - {"pi_low", "pi_high"}
        else:
            want = set(TABLE_FIELDS + FIT_FIELDS)
        assert present == want, ref["id"]
    # the kinds of result the fixture exercises (the fallback: see the variant below)
    assert {r["model_id"] for r in RESULTS} >= {"glmm", "landmark_cloglog", "none"}
    assert {r["single"] for r in RESULTS} >= {"reported", None}
    assert any(r["k"] == 0 for r in RESULTS) and any(r["tau2"] == 0 for r in RESULTS)


# --- what the built book shows -----------------------------------------------------------


def _text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()


def _results_table(page_html: str, csv_name: str) -> tuple[str, list[dict]]:
    """The href of the page's results CSV and the rows of the table shown above its link."""
    hrefs = set(re.findall(rf'href="([^"]*/{re.escape(csv_name)})"', page_html))
    assert len(hrefs) == 1, f"{csv_name}: {len(hrefs)} links"
    href = hrefs.pop()
    pos = page_html.index(f'href="{href}"')
    start = page_html.rindex("<table", 0, pos)
    table = page_html[start : page_html.index("</table>", start)]
    headers = [_text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table, flags=re.S)]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
        cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        if cells:
            rows.append(dict(zip(headers, cells, strict=True)))
    return href, rows


def _pct(p: float) -> str:
    """One decimal of a percentage, as the pages show a rate."""
    return f"{100 * p:.1f}%"


def _three_digits(x: float) -> str:
    """Three significant digits, as the pages show tau^2."""
    return "0" if x == 0 else f"{x:.3g}"


def _whole_pct(x: float) -> str:
    """I^2 (already in percent) to a whole percent."""
    return f"{x:.0f}%"


def _roundings(ref: dict, field: str, fmt: Callable[[float], str], scale: float = 1.0) -> set:
    """How metafor's value can look when rounded: its own rounding and, when the value lies
    within the tolerance of a rounding boundary, the rounding on the other side."""
    want = ref[field]
    rtol, atol = _tolerance(ref, field)
    slack = atol + rtol * abs(want)
    return {fmt((want + d) / scale) for d in (-slack, 0.0, slack)}


class _Shown:
    """Collects every shown number that is not metafor's, rounded."""

    def __init__(self, where: str):
        self.where = where
        self.problems: list[str] = []

    def number(self, shown: str, ref: dict, field: str, fmt, scale: float = 1.0) -> None:
        allowed = _roundings(ref, field, fmt, scale)
        if shown not in allowed:
            self.problems.append(
                f"{self.where} {ref['id']} {field}: shown {shown!r}, metafor {ref[field]!r} "
                f"rounds to {sorted(allowed)}"
            )

    def match(self, pattern: str, text: str, ref: dict, what: str):
        m = re.fullmatch(pattern, text)
        if m is None:
            self.problems.append(f"{self.where} {ref['id']} {what}: {text!r} !~ {pattern}")
        return m

    def empty(self, text: str, ref: dict, what: str) -> None:
        if text not in ("", "—"):  # a missing value reads as a dash on reader pages
            self.problems.append(f"{self.where} {ref['id']} {what}: {text!r}, expected nothing")


_P = r"(-?[\d.]+%)"


def _check_table_row(shown: _Shown, row: dict, ref: dict, level: str) -> None:
    pct = _pct
    assert row["Population"] == PLAN.population(ref["population"])["label"]
    assert row["Studies (patients)"] == f"{ref['k']} ({ref['patients']:,})", ref["id"]
    if ref.get("headline"):
        # the Bayesian model's rate and intervals (tests/test_bayes.py checks them in R);
        # metafor's GLMM numbers are compared below for heterogeneity only
        assert row["Model"].startswith("Bayesian"), ref["id"]
    else:
        assert row["Model"] == ref["model"], ref["id"]
    rate = row[f"Rate ({level} CI)"]
    if ref.get("headline"):
        pass
    elif ref["estimate"] is None:
        shown.empty(rate, ref, "rate")
    elif m := shown.match(rf"{_P} \({_P} to {_P}\)", rate, ref, "rate"):
        for value, field in zip(m.groups(), ("estimate", "ci_low", "ci_high"), strict=True):
            shown.number(value, ref, field, pct)
    pi = row[f"{level} prediction interval"]
    if ref.get("headline"):
        pass
    elif ref["pi_low"] is None:
        shown.empty(pi, ref, "prediction interval")
    elif m := shown.match(rf"{_P} to {_P}", pi, ref, "prediction interval"):
        shown.number(m.group(1), ref, "pi_low", pct)
        shown.number(m.group(2), ref, "pi_high", pct)
    if ref["tau2"] is None:
        shown.empty(row["τ²"], ref, "tau2")
    else:
        shown.number(row["τ²"], ref, "tau2", _three_digits)
    i2 = row["I² (CI)"]
    if ref["i2"] is None:
        shown.empty(i2, ref, "I2")
    elif m := shown.match(rf"(\d+%) \({_P} to {_P}\)", i2, ref, "I2"):
        shown.number(m.group(1), ref, "i2", _whole_pct)
        # the interval of I2 takes the digits of I2 (a whole percent)
        shown.number(m.group(2), ref, "i2_ci_low", _whole_pct)
        shown.number(m.group(3), ref, "i2_ci_high", _whole_pct)


def _check_sentence(shown: _Shown, text: str, ref: dict, level: str) -> None:
    if ref["k"] == 0:
        if text != "No study reports this outcome in this population.":
            shown.problems.append(f"{shown.where} {ref['id']}: {text!r}")
        return
    ci = rf"{_P} \({re.escape(level)} (?:confidence|credible) interval {_P} to {_P}(?:; .+?)?\)"
    if ref["model_id"] == "none":
        m = shown.match(rf"One study \(.*\) reports this outcome: {ci}; .*", text, ref, "sentence")
    else:
        head = rf"Across {ref['k']} studies \({ref['patients']:,} patients\), the pooled "
        m = shown.match(rf"{head}proportion is {ci}\.(.*)", text, ref, "sentence")
    if m is None or ref.get("headline"):
        return  # a Bayesian headline: its numbers are checked in tests/test_bayes.py
    for value, field in zip(m.groups()[:3], ("estimate", "ci_low", "ci_high"), strict=True):
        shown.number(value, ref, field, _pct)
    rest = m.group(4) if ref["model_id"] != "none" else ""
    pi = re.search(rf"expected to lie between {_P} and {_P} \(prediction interval\)", rest)
    if (pi is None) != (ref["pi_low"] is None):
        shown.problems.append(f"{shown.where} {ref['id']}: prediction interval in {text!r}")
    elif pi is not None:
        shown.number(pi.group(1), ref, "pi_low", _pct)
        shown.number(pi.group(2), ref, "pi_high", _pct)


PAGES = {p.name: p for p in _book_pages()}


@pytest.mark.slow
@pytest.mark.parametrize("page_name", list(PAGES))
def test_built_page_shows_metafor_numbers(site, page_name):
    """The page's results CSV equals metafor's numbers; its table and sentences show them
    rounded (one decimal of a percentage; I^2 whole; tau^2 three significant digits)."""
    _, out, _ = site
    page = PAGES[page_name]
    refs = [r for r in RESULTS if r["page"] == page_name]
    assert [r["population"] for r in refs] == POPULATIONS
    level = f"{100 * PINNED['source']['level']:g}%"
    page_path = out / "html" / f"{page.docname}.html"
    text = page_path.read_text(encoding="utf-8")

    # the CSV download: unrounded, every field, to the library's tolerances
    href, rows = _results_table(text, refs[0]["csv"])
    csv = pd.read_csv((page_path.parent / href).resolve())
    labels = [PLAN.population(r["population"])["label"] for r in refs]
    assert csv["population"].tolist() == labels
    problems = []
    for ref, (_, row) in zip(refs, csv.iterrows(), strict=True):
        got = {f: float(row[f]) for f in TABLE_FIELDS}
        got.update(k=int(row["k"]), patients=int(row["patients"]), model=row["model"])
        fields = TABLE_FIELDS
        if ref.get("headline"):  # the CSV holds the Bayesian rate; metafor the GLMM's
            fields = tuple(f for f in TABLE_FIELDS if f not in HEADLINE_FIELDS)
            got["model"] = ref["model"]
        problems += [f"{page_name} CSV {ref['id']} {m}" for m in _mismatches(got, ref, fields)]

    # the table above the link and the sentences: metafor's numbers, rounded
    shown = _Shown(page_name)
    assert len(rows) == len(refs)
    for ref, row in zip(refs, rows, strict=True):
        _check_table_row(shown, row, ref, level)
    if page.chapter == "outcome":
        pasted = [_text(t) for t in re.findall(r'class="pasted-text">([^<]*)<', text)]
        sentences = [t for t in pasted if t.startswith(("Across ", "One study ", "No study "))]
        assert len(sentences) == len(refs), sentences
        for ref, sentence in zip(refs, sentences, strict=True):
            _check_sentence(shown, sentence, ref, level)
    problems += shown.problems
    assert not problems, "\n".join(problems)


def test_every_results_page_is_checked():
    """Each outcome and survival page of the book is a case of the slow test above."""
    pages = {r["page"] for r in RESULTS}
    assert pages == set(PAGES)
    assert {p.chapter for p in PAGES.values()} == {"outcome", "survival"}


# --- the fallback model, a single study, an all-event study: live metafor ------------------


def _variant(folder: Path) -> Path:
    """The fixture, changed so that VOD in newly diagnosed disease takes the fallback (one
    study with both events and non-events), MRD negativity in newly diagnosed disease has
    a single study, and one overall-response study has only events (n/n)."""
    shutil.copytree(FIXTURE, folder)
    for study in ("fx02", "fx04"):
        edit_rows(folder, "outcomes.csv", {"study_id": study, "outcome": "VOD"}, {"events": "0"})
    edit_rows(
        folder,
        "outcomes.csv",
        {"study_id": "fx10", "outcome": "OR"},
        {"events": "100", "percent_reported": "100.0"},
    )
    path = folder / "outcomes.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(x for x in lines if not x.startswith("fx04,MRD_neg,")), "utf-8")
    return folder


@pytest.mark.needs_r
def test_fallback_single_study_and_all_event_variant_agree_with_metafor(tmp_path):
    folder = _variant(tmp_path / "data")
    input_path = tmp_path / "input.json"
    doc = crosscheck.write_input(folder, input_path)
    by_id = {c["id"]: c for c in doc["cases"]}
    assert by_id["VOD-newly_diagnosed"]["model"]["id"] == PLAN.fallback.id
    assert by_id["MRD_neg-newly_diagnosed"]["single"] == "exact"
    assert {"events": 100, "total": 100, "study": "fx10"} in by_id["OR-all"]["studies"]
    results = _run_metafor(input_path, tmp_path / "output.json")["results"]
    book = _book_values(folder)
    problems = []
    for ref in results:
        problems += [
            f"{ref['id']} {m}" for m in _mismatches(book[ref["id"]], ref, TABLE_FIELDS + FIT_FIELDS)
        ]
    assert not problems, "\n".join(problems)
