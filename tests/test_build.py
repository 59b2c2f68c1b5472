"""The living-review build: parameter sets, cache, strict book build, safe publication.

The slow tests read the whole book built on a copy of ``tests/fixtures/data_small`` (one
study's author renamed ``<script>alert(1)</script>`` to check that data text stays text),
with ``python -m review build`` exactly as a reviewer runs it: the session fixture ``site``
(``conftest.py``, ``_site.py``), built once and shared with ``test_book_metafor.py``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _site import HOSTILE, ROOT
from _site import edit_rows as _edit_rows
from _site import run_build as _run
from _site import tree_hash as _tree_hash
from review.data import formats, versions
from review.pipeline import cache as cache_mod
from review.pipeline import params as params_mod

BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib", "analysis_plan.yaml")


# --- parameter sets and table of contents ---------------------------------------------


def test_every_declared_page_is_in_the_generated_toc():
    pages = params_mod.load_pages(ROOT)
    toc = params_mod.expand_toc(ROOT, pages)
    listed = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert sorted(listed) == sorted(p.docname for p in pages)
    assert len(set(listed)) == len(listed)


def _book_copy(tmp_path: Path) -> Path:
    book = tmp_path / "book"
    book.mkdir()
    for name in BOOK_SOURCES:
        shutil.copy2(ROOT / name, book / name)
    shutil.copytree(ROOT / "chapters", book / "chapters")
    shutil.copytree(ROOT / "_static", book / "_static")
    return book


def test_empty_toc_part_is_rejected(tmp_path):
    book = _book_copy(tmp_path)
    toc = (book / "_toc.yml").read_text()
    (book / "_toc.yml").write_text(toc.replace("      - file: chapters/outcome\n", ""))
    with pytest.raises(params_mod.ParamsError, match="lists no chapter"):
        params_mod.expand_toc(book, params_mod.load_pages(book))


def test_page_left_out_of_the_toc_is_rejected(tmp_path):
    book = _book_copy(tmp_path)
    spec = (book / "chapters" / "_params.yml").read_text()
    (book / "chapters" / "_params.yml").write_text(spec + "  extra: {}\n")
    (book / "chapters" / "extra.md").write_text("# Extra\n")
    with pytest.raises(params_mod.ParamsError, match=r"placed nowhere \['extra'\]"):
        params_mod.expand_toc(book, params_mod.load_pages(book))


def test_set_with_a_part_missing_from_the_toc_is_rejected(tmp_path):
    book = _book_copy(tmp_path)
    spec = (book / "chapters" / "_params.yml").read_text()
    (book / "chapters" / "_params.yml").write_text(
        spec.replace("{id: cr, part: Efficacy", "{id: cr, part: Nowhere")
    )
    with pytest.raises(params_mod.ParamsError, match=r"outcome\[cr\]"):
        params_mod.expand_toc(book, params_mod.load_pages(book))


# --- the chapters' shared machinery (review.book) -----------------------------------------


def test_numbers_are_formatted_one_way():

    assert formats.fmt_pct(0.72644) == "72.6%"
    assert formats.fmt_pct(float("nan")) == "not estimable"
    assert formats.fmt_interval((0.651, 0.79)) == "65.1% to 79.0%"
    assert formats.fmt_p(0.0004) == "p < 0.001"
    assert formats.fmt_p(0.0342) == "p = 0.034"
    assert formats.fmt_p(0.21) == "p = 0.21"
    assert formats.fmt_int(1034) == "1,034"
    assert formats.fmt_num(0.041234) == "0.0412"


def test_tables_show_data_text_as_characters():
    import pandas as pd
    from review import book

    html = book.table_html(pd.DataFrame({"label": [HOSTILE], "p": [0.5]}), percent=["p"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE not in html
    assert "50.0%" in html


def test_sentences_say_what_was_pooled_or_why_not():
    import pandas as pd
    from review import analysis, book
    from review.data.plan import load_plan
    from test_analysis import make_rows

    plan = load_plan()
    rows = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19)]])
    fit = analysis.primary_fit(rows, plan)
    text = book.fit_sentence(fit, plan)
    assert text.startswith(f"Across 3 studies ({formats.fmt_int(80)} patients), the pooled")
    ci = formats.fmt_interval(fit.ci)  # three studies: the Bayesian model's credible interval
    assert f"{formats.fmt_pct(fit.estimate)} (95% credible interval {ci}; Bayesian" in text
    assert "prediction interval" in text
    one = book.fit_sentence(analysis.primary_fit(rows.iloc[:1], plan), plan)
    assert one.startswith("One study") and "nothing is pooled" in one
    none = book.fit_sentence(analysis.primary_fit(rows.iloc[:0], plan), plan)
    assert none == "No study reports this outcome in this population."
    reported = pd.DataFrame(
        [
            {
                "outcome": "OR",
                "subgroup_by": "all",
                "k": 15.0,
                "estimate_pct": 89.0,
                "ci_low_pct": 85.8,
                "ci_high_pct": 92.2,
            }
        ]
    )
    assert "89.0% (85.8% to 92.2%) from 15 studies" in book.paper_sentence(reported, "OR")
    assert "reports no pooled rate" in book.paper_sentence(reported, "CR")
    skipped = book.small_study_sentence(analysis.small_study_effects(fit, plan), plan)
    assert "not run: 3 studies, fewer than the 10" in skipped


def test_table_cells_join_a_rate_and_its_interval():
    import pandas as pd

    df = pd.DataFrame({"k": [3, 0], "patients": [1234, 0], "i2": [85.2, None],
                       "lo": [60.0, None], "hi": [95.0, None]})  # fmt: skip
    assert formats.studies_column(df) == ["3 (1,234)", "0 (0)"]
    assert formats.rate_column(df, "i2", "lo", "hi", scale=100, digits=0) == [
        "85% (60% to 95%)",  # the interval with the digits of the rate
        "",
    ]
    assert formats.interval_column(df, "lo", "hi", scale=100) == ["60.0% to 95.0%", ""]


def test_subgroup_table_says_when_the_moderator_test_is_not_estimable():
    import metaprop as mp
    from review import book

    sub = mp.subgroup_analysis([12, 9, 47], [83, 33, 131], ["a", "b", "c"])
    table = book.subgroup_tests({"Newly diagnosed": sub}, key="population")
    assert table["population"].tolist() == ["Newly diagnosed"]
    assert table["q_m"].isna().all() and "not estimable" in table["note"][0]
    assert book.concat([table.iloc[0:0], table]).equals(table)


def test_download_names_cannot_leave_the_page_folder(tmp_path, monkeypatch):
    import pandas as pd
    from review import book

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="file name"):
        book.download(pd.DataFrame({"a": [1]}), "../results")
    assert not (tmp_path.parent / "results.csv").exists()


def test_a_failing_cell_is_reported_at_the_line_that_raised(tmp_path):
    from review.pipeline import execute

    chapter = tmp_path / "ch.md"
    cell = "if res is not None:\n    loo = mp.leave_one_out(None)"
    chapter.write_text(f"# T\n\n```{{code-cell}} ipython3\n{cell}\n```\n")
    # IPython's traceback of the cell, with its colour codes
    tb = ["\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[7]\x1b[39m\x1b[32m, line 2\x1b[39m\n"]
    assert execute._failing_line(tb) == 2
    assert execute._failing_line(["no frame"]) == 1
    assert execute._where(chapter, cell, 2) == (" line 5", "loo = mp.leave_one_out(None)")


# --- cache entries ----------------------------------------------------------------------


def _entry(store: cache_mod.Cache, key: str) -> Path:
    tmp = store.new_entry()
    (tmp / "index.ipynb").write_text("{}")
    (tmp / "fig.png").write_bytes(b"\x89PNG")
    return store.commit(tmp, key, {"page": "p"})


def test_cache_entry_round_trip(tmp_path):
    store = cache_mod.Cache(tmp_path)
    entry = _entry(store, "k1")
    assert store.lookup("k1") == entry
    assert store.lookup("absent") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: (e / "fig.png").write_bytes(b"changed"),
        lambda e: (e / "fig.png").unlink(),
        lambda e: (e / "extra.txt").write_text("x"),
        lambda e: (e / cache_mod.MANIFEST).write_text("{not json"),
        lambda e: (e / cache_mod.MANIFEST).unlink(),
    ],
    ids=["altered", "missing", "unlisted", "bad-manifest", "no-manifest"],
)
def test_damaged_cache_entry_is_detected_and_removed(tmp_path, damage):
    store = cache_mod.Cache(tmp_path)
    entry = _entry(store, "k1")
    damage(entry)
    with pytest.raises(cache_mod.CorruptEntry):
        store.lookup("k1")
    assert not entry.exists()


def test_interrupted_entries_are_cleaned(tmp_path):
    store = cache_mod.Cache(tmp_path)
    left = store.new_entry()
    store.clean_temporary()
    assert not left.exists()


def test_banner_replaces_the_placeholder_and_an_earlier_banner(tmp_path):
    from review.pipeline import build

    placeholder = build._book_config(build.Options(ROOT, ROOT / "data", tmp_path))["html"]
    (tmp_path / "a.html").write_text(f"<p>{placeholder['announcement']}</p>")
    old = {"version": "1.0", "data_date": "2026-01-01", "data_hash": "aaaa"}
    build.stamp_status(tmp_path, old)
    new = {"version": "<b>1.1</b>", "data_date": "2026-02-01", "data_hash": "bbbb"}
    assert build.stamp_status(tmp_path, new) == 1
    text = (tmp_path / "a.html").read_text()
    assert "data hash <code>bbbb</code>" in text and "aaaa" not in text
    assert "Version &lt;b&gt;1.1&lt;/b&gt;" in text  # escaped: the values are data
    assert build.stamp_status(tmp_path, new) == 0  # nothing left to change


def test_status_fields_of_a_page_are_filled_in_and_replaced(tmp_path):
    from review.pipeline import build

    page = tmp_path / "chapters" / "about" / "index.html"
    page.parent.mkdir(parents=True)
    field = '<span class="review-field" data-field="{}">(set by the build)</span>'
    page.write_text(f"<td>{field.format('version')}</td><p>{field.format('data_hash')}</p>")
    status = {"version": "1.0", "data_date": "2026-01-01", "data_hash": "aaaa"}
    build.stamp_status(tmp_path, status)
    status |= {"version": "1.0 & more", "data_hash": "bbbb"}
    assert build.stamp_status(tmp_path, status) == 1
    text = page.read_text()
    assert '<span class="review-field" data-field="version">1.0 &amp; more</span>' in text
    assert '<span class="review-field" data-field="data_hash">bbbb</span>' in text
    assert "aaaa" not in text and "set by the build" not in text


def test_a_status_field_that_does_not_exist_stops_the_build(tmp_path):
    from review.pipeline import build

    (tmp_path / "a.html").write_text('<span class="review-field" data-field="verison"></span>')
    with pytest.raises(build.BuildError, match=r"a.html: review-field 'verison' is not one of"):
        build.stamp_status(tmp_path, {"version": "1", "data_date": "2026", "data_hash": "a"})


def test_new_site_copies_pages_and_links_only_mathjax(tmp_path):
    from review.pipeline import build

    old = tmp_path / "old"
    (old / "_static" / "mathjax").mkdir(parents=True)
    (old / "_static" / "mathjax" / "tex.js").write_text("mathjax")
    (old / "_static" / "theme.css").write_text("css")
    (old / "page.html").write_text("page")
    new = tmp_path / "new"
    build._copy_site(old, new)
    assert (new / "page.html").read_text() == "page"
    assert (new / "_static" / "mathjax" / "tex.js").stat().st_ino == (
        old / "_static" / "mathjax" / "tex.js"
    ).stat().st_ino
    # written in place by Sphinx when they change: copies, never links to the old site
    for name in ("page.html", "_static/theme.css"):
        assert (new / name).stat().st_ino != (old / name).stat().st_ino
        assert (new / name).stat().st_mtime_ns == (old / name).stat().st_mtime_ns


def test_files_no_page_links_to_are_pruned(tmp_path):
    from review.pipeline import build

    (tmp_path / "chapters" / "p").mkdir(parents=True)
    (tmp_path / "chapters" / "p" / "index.html").write_text(
        '<img src="../../_images/new.png"/><a href="../../_downloads/abc/t.csv">CSV</a>'
    )
    for name in ("new.png", "old.png"):
        (tmp_path / "_images").mkdir(exist_ok=True)
        (tmp_path / "_images" / name).write_bytes(b"png")
    for folder in ("abc", "def"):
        (tmp_path / "_downloads" / folder).mkdir(parents=True)
        (tmp_path / "_downloads" / folder / "t.csv").write_text("a")
    assert build.prune_unreferenced(tmp_path) == 2
    assert [p.name for p in (tmp_path / "_images").iterdir()] == ["new.png"]
    assert [p.name for p in (tmp_path / "_downloads").iterdir()] == ["abc"]


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"a": "slow"}'])
def test_damaged_timings_are_ignored(tmp_path, content):
    from review.pipeline import build

    (tmp_path / "t.json").write_text(content)
    assert build._read_timings(tmp_path / "t.json") == {}


# --- the whole build ----------------------------------------------------------------------


# the `site` fixture (one cold build of the fixture book per session) is in conftest.py


def _copy_build(site, tmp_path: Path) -> Path:
    """A private copy of the fixture's build folder (cache, doctrees, published site)."""
    out = tmp_path / "_build"
    shutil.copytree(site[1], out, symlinks=True)
    return out


def _ran(stdout: str) -> set[str]:
    return set(re.findall(r"^\s+run\s+(\S+)", stdout, flags=re.M))


def _reused(stdout: str) -> set[str]:
    return set(re.findall(r"^\s+reused\s+(\S+)", stdout, flags=re.M))


@pytest.mark.slow
def test_cold_build_executes_every_page_and_publishes(site):
    _, out, stdout = site
    pages = {p.name for p in params_mod.load_pages(ROOT)}
    assert _ran(stdout) == pages
    html = out / "html"
    assert html.is_symlink() and (html / "index.html").is_file()
    for page in params_mod.load_pages(ROOT):
        assert (html / f"{page.docname}.html").is_file(), page.docname


@pytest.mark.slow
def test_every_page_shows_version_data_date_and_hash(site):
    data, out, _ = site

    status = versions.status(data)
    for page in params_mod.load_pages(ROOT):
        text = (out / "html" / f"{page.docname}.html").read_text(encoding="utf-8")
        assert f"data hash <code>{status['data_hash']}</code>" in text, page.name
        assert f"data as of {status['data_date']}" in text, page.name


@pytest.mark.slow
def test_data_text_is_shown_as_characters(site):
    _, out, _ = site
    text = (out / "html" / "chapters" / "outcome" / "or" / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert HOSTILE not in text


@pytest.mark.slow
def test_rebuild_with_nothing_changed_executes_nothing(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    start = time.perf_counter()
    proc = _run(data, out)
    assert proc.returncode == 0, proc.stderr
    assert _ran(proc.stdout) == set()
    assert "Site unchanged" in proc.stdout
    assert time.perf_counter() - start < 15
    assert (out / "html" / "index.html").is_file()


@pytest.mark.slow
def test_change_to_one_outcome_reexecutes_only_its_pages(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    _edit_rows(changed, "outcomes.csv", {"study_id": "fx03", "outcome": "CR"}, {"events": "51"})
    proc = _run(changed, out)
    assert proc.returncode == 0, proc.stderr
    ran, reused = _ran(proc.stdout), _reused(proc.stdout)
    assert {"outcome[cr]", "robustness[cr]"} <= ran
    assert {"outcome[or]", "outcome[mrd-neg]", "robustness[or]", "survival[os-1y]"} <= reused
    # pages that read every table or every outcome run again too (what they read is
    # recorded, review.data.reads); no page of another outcome, nor one that reads no data
    others = {p.name for p in params_mod.load_pages(ROOT) if p.parameters.get("outcome")}
    assert not ran & (others - {"outcome[cr]", "robustness[cr]"})
    # (Methods runs again: its table of the plan's row-rule exceptions shows outcome rows)
    assert not ran & {"api", "differences", "references", "reuse", "studies"}


def _shown_sentences(out: Path, page: str) -> list[str]:
    text = (out / "html" / "chapters" / "outcome" / page / "index.html").read_text()
    return [html.unescape(t) for t in re.findall(r'class="pasted-text">([^<]*)<', text)]


def _pooled_sentence(data: Path, outcome: str) -> str:
    from review import analysis, book
    from review import data as data_mod
    from review.data.plan import load_plan

    plan = load_plan()
    fits = analysis.by_population(data_mod.outcome(outcome, data_dir=data), plan)
    return book.fit_sentence(fits["all"], plan)


@pytest.mark.slow
def test_rendered_pages_follow_the_data_there_and_back(site, tmp_path):
    """A change shows on its page and in every banner; going back to earlier data (whose
    executed pages are still cached) shows the earlier numbers again, not the last render's."""

    data, out = site[0], _copy_build(site, tmp_path)
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    _edit_rows(changed, "outcomes.csv", {"study_id": "fx03", "outcome": "CR"}, {"events": "51"})
    before, after = _pooled_sentence(data, "CR"), _pooled_sentence(changed, "CR")
    assert before != after
    or_page = out / "html" / "chapters" / "outcome" / "or" / "index.html"

    for folder, sentence, gone in ((changed, after, before), (data, before, after)):
        proc = _run(folder, out)
        assert proc.returncode == 0, proc.stderr
        shown = _shown_sentences(out, "cr")
        assert sentence in shown and gone not in shown, folder
        status = versions.status(folder)
        for page in params_mod.load_pages(ROOT):
            text = (out / "html" / f"{page.docname}.html").read_text(encoding="utf-8")
            assert f"data hash <code>{status['data_hash']}</code>" in text, (folder, page.name)
        assert or_page.is_file()


@pytest.mark.slow
def test_corrupted_cache_entry_is_recomputed(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    manifests = list((out / ".cache").glob(f"*/{cache_mod.MANIFEST}"))
    victim = next(m.parent for m in manifests if json.loads(m.read_text())["page"] == "outcome[or]")
    notebook = victim / "index.ipynb"
    notebook.write_text(notebook.read_text()[:100])  # a truncated write
    proc = _run(data, out)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt cache entry of outcome[or]" in proc.stdout
    assert _ran(proc.stdout) == {"outcome[or]"}
    assert cache_mod.Cache.verify(victim)["page"] == "outcome[or]"


@pytest.mark.slow
def test_failing_chapter_keeps_the_previous_site(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    before = _tree_hash(out / "html")
    book = _book_copy(tmp_path)
    chapter = book / "chapters" / "outcome.md"
    text = chapter.read_text()
    good = "loo = [analysis.leave_one_out(fit, plan) for fit in fits.values()]"
    assert good in text
    chapter.write_text(text.replace(good, "loo = mp.leave_one_out(None)"))
    proc = _run(data, out, "--root", str(book))
    assert proc.returncode == 1
    assert "BUILD FAILED" in proc.stderr
    assert "published site is unchanged" in proc.stderr
    assert re.search(r"outcome\[or\]: chapters/outcome\.md line \d+, cell \d+", proc.stderr)
    assert "mp.leave_one_out(None)" in proc.stderr
    assert _tree_hash(out / "html") == before


@pytest.mark.slow
def test_invalid_data_stops_before_anything_runs(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    before = _tree_hash(out / "html")
    bad = tmp_path / "data"
    shutil.copytree(data, bad)
    _edit_rows(bad, "outcomes.csv", {"study_id": "fx03", "outcome": "CR"}, {"events": "500"})
    proc = _run(bad, out)
    assert proc.returncode == 1
    assert "failed validation" in proc.stderr
    assert _ran(proc.stdout) == set()
    assert _tree_hash(out / "html") == before


@pytest.mark.slow
def test_interrupted_build_keeps_the_previous_site(site, tmp_path):
    data, out = site[0], _copy_build(site, tmp_path)
    before = _tree_hash(out / "html")
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    _edit_rows(changed, "outcomes.csv", {"study_id": "fx03", "outcome": "OR"}, {"events": "64"})
    cmd = [sys.executable, "-m", "review", "build", "--data", str(changed), "--out", str(out)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stdout:
        if line.strip().startswith("run"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in err
    assert _tree_hash(out / "html") == before
    assert not list((out / ".cache").glob(".tmp-*")), "half-written cache entries left"


@pytest.mark.slow
def test_numbers_shown_equal_what_metaprop_computes(site):
    data, out, _ = site
    import metaprop as mp
    import pandas as pd
    from review import analysis, book
    from review import data as data_mod
    from review.data.plan import load_plan

    plan = load_plan()
    for outcome, page in (("OR", "or"), ("CR", "cr"), ("MRD_neg", "mrd-neg")):
        fits = analysis.by_population(data_mod.outcome(outcome, data_dir=data), plan)
        text = (out / "html" / "chapters" / "outcome" / page / "index.html").read_text()
        shown = [html.unescape(t) for t in re.findall(r'class="pasted-text">([^<]*)<', text)]
        for fit in fits.values():
            assert book.fit_sentence(fit, plan) in shown, (outcome, fit.population)
        # the CSV offered for download holds the unrounded numbers, and they are metaprop's
        csv_path = next((out / "html" / "_downloads").glob(f"*/{outcome}-results.csv"))
        table = pd.read_csv(csv_path)
        expected = analysis.results_table(fits, plan)
        assert table["estimate"].tolist() == pytest.approx(
            expected["estimate"].tolist(), rel=1e-12, nan_ok=True
        )
        rows = fits["all"].rows
        # all patients: the plan's interval for this many studies is the Bayesian model's
        bayes = mp.meta_prop_bayes(rows["events"].astype(int), rows["total"].astype(int))
        assert fits["all"].model.is_glmm and fits["all"].headline is not None
        assert table["estimate"].iloc[-1] == pytest.approx(bayes.estimate, rel=1e-12)


def test_optional_module_is_unimportable_only_inside_the_block():
    from review.pipeline import build

    name = "review_module_that_is_not_loaded"
    with build._unimportable(name), pytest.raises(ImportError):
        __import__(name)
    assert name not in sys.modules
    with build._unimportable("json"):  # loaded already: left as it is
        assert __import__("json") is json


def test_earlier_sites_are_listed_for_removal_not_the_published_one(tmp_path):
    from review.pipeline import site

    sites = tmp_path / "sites"
    for name in ("20260101T000000-1", "20260102T000000-2", "legacy-3", "jupyter_execute"):
        (sites / name).mkdir(parents=True)
    (tmp_path / "html").symlink_to("sites/20260102T000000-2")
    old = site.superseded(sites, tmp_path / "html")
    assert sorted(p.name for p in old) == ["20260101T000000-1", "legacy-3"]
    site.remove(old)
    assert sorted(p.name for p in sites.iterdir()) == ["20260102T000000-2", "jupyter_execute"]


def test_a_params_entry_with_an_unknown_key_is_rejected(tmp_path):
    """`reads:` lists are gone (the build records what a page reads): one left behind, or a
    typo, is an error, not silently ignored."""
    book = _book_copy(tmp_path)
    spec = (book / "chapters" / "_params.yml").read_text()
    (book / "chapters" / "_params.yml").write_text(
        spec.replace("  api: {}", "  api:\n    reads: [data]")
    )
    with pytest.raises(params_mod.ParamsError, match="unknown keys"):
        params_mod.load_pages(book)
