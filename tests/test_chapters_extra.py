"""The studies, provenance, survival, adverse-event and reuse chapters, and their helpers.

Every page declared in ``chapters/_params.yml`` is executed on the fixture data by
``tests/test_build.py`` (cold build). Here the slow tests execute these chapters one by one
with the pipeline's own page runner on a copy of the fixture with hostile text, and check
what they show; the fast tests check the adverse-event helper on a data folder that has
pooled, single-study and percentage-only events.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from review import analysis, data
from review.analysis import safety
from review.data import formats
from review.data.plan import load_plan
from review.pipeline import params
from review.pipeline.execute import execute_page

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "data_small"
HOSTILE = "<script>alert(1)</script>"


def _edit(path: Path, match: dict, changes: dict) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    hit = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert hit, match
    for r in hit:
        r.update(changes)
    _write(path, fields, rows)


def _append(path: Path, template: dict, new_rows: list[dict]) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    base = next(r for r in rows if all(r[k] == v for k, v in template.items()))
    rows += [{**base, **changes} for changes in new_rows]
    _write(path, fields, rows)


def _drop(path: Path, match: dict) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    kept = [r for r in rows if not all(r[k] == v for k, v in match.items())]
    assert len(kept) < len(rows), match
    _write(path, fields, kept)


def _write(path: Path, fields, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _ae_row(study, code, events, total, flags=""):
    return {
        "study_id": study,
        "outcome": code,
        "variant": "safety",
        "events": events,
        "total": total,
        "percent_reported": "",
        "flags": flags,
        "definition": "adverse event, any cause",
        "quote": f"{events or 'some'} of {total} patients had the event.",
    }


@pytest.fixture(scope="module")
def ae_data(tmp_path_factory) -> Path:
    """Fixture copy with nausea in 3 studies, fatigue in 1, vomiting as a percentage only."""
    folder = tmp_path_factory.mktemp("ae") / "data"
    shutil.copytree(FIXTURE, folder)
    _append(
        folder / "outcomes.csv",
        {"study_id": "fx01", "outcome": "VOD"},
        [
            _ae_row("fx01", "AE_nausea_any", "10", "37"),
            _ae_row("fx02", "AE_nausea_any", "20", "54"),
            _ae_row("fx03", "AE_nausea_any", "30", "71"),
            _ae_row("fx04", "AE_fatigue_g3", "5", "88"),
            _ae_row("fx05", "AE_vomiting_any", "", "105", flags="percent_only"),
        ],
    )
    # keep the percentage-only row valid: it needs the printed percentage
    _edit(
        folder / "outcomes.csv",
        {"study_id": "fx05", "outcome": "AE_vomiting_any"},
        {"percent_reported": "12"},
    )
    # a new folder path each time, so data.load's cache cannot serve another copy
    assert data.load(folder).outcomes["outcome"].eq("AE_nausea_any").sum() == 3
    return folder


def test_ae_codes_are_the_dictionary_events_any_grade_first():
    codes = safety.ae_codes(data_dir=FIXTURE)
    assert len(codes) == 16 and all(c.startswith("AE_") for c in codes)
    assert codes[:2] == ["AE_anemia_any", "AE_anemia_g3"]
    assert not any(c.startswith("SAE_") for c in codes)


def test_ae_table_pooled_single_and_no_data(ae_data):
    plan = load_plan()
    fits = safety.fits(plan, data_dir=ae_data)
    table = safety.ae_table(fits, plan).set_index(["event", "grade"])
    nausea = table.loc[("nausea", "any grade")]
    assert nausea["k"] == 3 and nausea["basis"].startswith("pooled: ")
    assert nausea["estimate"] == pytest.approx(fits["AE_nausea_any"].estimate)
    assert nausea["patients"] == 37 + 54 + 71
    fatigue = table.loc[("fatigue", "grade 3 or worse")]
    assert fatigue["basis"] == "single study" and fatigue["k"] == 1
    assert fatigue["estimate"] == pytest.approx(5 / 88)
    low, high = fits["AE_fatigue_g3"].single[["ci_low", "ci_high"]].iloc[0]
    assert (fatigue["ci_low"], fatigue["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert "exact confidence interval" in fatigue["reason"]
    vomiting = table.loc[("vomiting", "any grade")]
    assert vomiting["basis"] == "no data" and vomiting["k"] == 0
    assert "percentage only" in vomiting["reason"]
    anemia = table.loc[("anemia", "any grade")]
    assert anemia["basis"] == "no data" and anemia["reason"] == "no study reports this event"
    assert safety.counts(safety.ae_table(fits, plan)) == {
        "rows": 16,
        "events": 8,
        "pooled": 1,
        "single": 1,
        "none": 14,
    }
    assert safety.forest_note(fits) == ""


def test_summary_plot_marks_every_row(ae_data):
    plan = load_plan()
    table = safety.ae_table(safety.fits(plan, data_dir=ae_data), plan)
    ax = safety.summary_plot(table)
    assert len(ax.get_yticklabels()) == len(table)
    assert sum(t.get_text() == "no data" for t in ax.texts) == 14
    assert safety.forest_note(safety.fits(plan, data_dir=FIXTURE)).startswith("No event")


# --- the chapters, executed on the fixture ----------------------------------------------

PAGES = ("studies", "provenance", "survival[os-1y]", "survival[os-2y]", "adverse_events",
         "reuse", "differences", "api", "risk_of_bias")  # fmt: skip


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(FIXTURE, folder)
    _edit(folder / "outcomes.csv", {"study_id": "fx01", "outcome": "CR"}, {"quote": HOSTILE})
    _edit(folder / "studies.csv", {"study_id": "fx03"}, {"first_author": HOSTILE})
    # the fixture reports every landmark; without its 2-year rows the page meets k = 0
    _drop(folder / "outcomes.csv", {"outcome": "OS_2y"})
    return folder


@pytest.fixture(scope="module")
def executed(hostile_data, tmp_path_factory) -> dict[str, dict]:
    pages = {p.name: p for p in params.load_pages(ROOT)}
    before = os.environ.get("REVIEW_DATA_DIR")
    out = {}
    for name in PAGES:
        entry = tmp_path_factory.mktemp(re.sub(r"\W", "-", name))
        execute_page(str(ROOT), pages[name], str(hostile_data), str(entry))
        out[name] = json.loads((entry / "index.ipynb").read_text(encoding="utf-8"))
        out[name]["_files"] = sorted(p.name for p in entry.iterdir())
    # the page's data folder went to its kernel only, not to this process (or later tests)
    assert os.environ.get("REVIEW_DATA_DIR") == before
    return out


def _outputs(nb: dict, mime: str) -> str:
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            value = output.get("data", {}).get(mime)
            if value is not None:
                parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


def _glued(nb: dict) -> dict[str, str]:
    """Values published with glue (text/plain, shown as {glue:text})."""
    out = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            book = output.get("metadata", {}).get("scrapbook", {})
            # myst-nb stores glued text under the scrapbook prefix + text/plain; glued
            # figures have no text
            mime = book.get("mime_prefix", "") + "text/plain"
            if book.get("name") and mime in output["data"]:
                out[book["name"]] = "".join(output["data"][mime]).strip("'")
    return out


def _errors(nb: dict) -> list:
    return [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_chapter_executes_on_the_fixture(executed, name):
    assert not _errors(executed[name])


@pytest.mark.slow
def test_studies_page_draws_the_flow_and_its_tables(executed):
    nb = executed["studies"]
    assert "studies-figure-1.png" in nb["_files"] and "studies-figure-1.svg" in nb["_files"]
    for table in ("prisma-counts", "study-characteristics", "quality-minors", "quality-jadad"):
        assert f"{table}.csv" in nb["_files"]
    html = _outputs(nb, "text/html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and HOSTILE not in html
    assert _glued(nb)["studies_now"] == "12"  # the fixture's stated count


@pytest.mark.slow
def test_provenance_page_shows_quotes_as_text(executed, hostile_data):
    nb = executed["provenance"]
    html = _outputs(nb, "text/html")
    assert "<details><summary>quote</summary>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE not in html
    glued = _glued(nb)
    ds = data.load(hostile_data)  # the data the pages ran on
    assert glued["prov_numbers"] == formats.fmt_int(len(ds.outcomes))
    assert glued["prov_missing"] == formats.fmt_int(len(ds.missing))
    assert "missing-by-study.csv" in nb["_files"]


@pytest.mark.slow
def test_survival_page_shows_what_the_analysis_computes(executed, hostile_data):
    plan = load_plan()
    df = data.landmark("OS_1y", data_dir=hostile_data)
    fits = analysis.landmark_by_population(df, plan, outcome="OS_1y")
    html = _outputs(executed["survival[os-1y]"], "text/html")
    for fit in fits.values():
        if fit.pooled:
            assert formats.fmt_pct(fit.result.estimate) in html
    assert "OS_1y-without-curve-read.csv" in executed["survival[os-1y]"]["_files"]
    # no study reports 2-year survival in this copy: the page says so, without failing
    assert "no study reports this landmark" in _outputs(executed["survival[os-2y]"], "text/html")


@pytest.mark.slow
def test_adverse_event_page_says_why_there_is_no_number(executed):
    nb = executed["adverse_events"]
    html = _outputs(nb, "text/html")
    assert html.count("no study reports this event") == 16
    assert _glued(nb)["forest_note"].startswith("No event")


@pytest.mark.slow
def test_reuse_page_runs_its_examples_and_shows_the_benchmark_or_says_why(executed):
    nb = executed["reuse"]
    printed = "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if o["output_type"] == "stream"
    )
    text = _outputs(nb, "text/plain") + _outputs(nb, "text/markdown") + printed
    assert "Pooled proportion" in printed  # the printed summary() of the example
    bench = ROOT / "benchmarks" / "results" / "results.md"
    if bench.is_file():
        assert "| row | metafor |" in _outputs(nb, "text/markdown")
    else:
        assert "have not been run" in text


def test_risk_of_bias_page_counts_and_words(executed):
    nb = executed["risk_of_bias"]
    glued = _glued(nb)
    # the fixture judges one study (fx01) on one domain, low concern
    assert glued["rob_n_studies"] == "1" and glued["rob_n_low"] == "1"
    assert glued["rob_paper_note"] == ""  # no INO-VATE in the fixture
    html = _outputs(nb, "text/html")
    assert "Not judged" in html and "&lt;NA&gt;" not in html and ">nan<" not in html
    assert any(f.endswith(".png") for f in nb["_files"])
