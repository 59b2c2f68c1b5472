"""The site as a clinician reads it (issue 22), in headless Chromium at 390 and 1280 px.

On the hostile fixture build of tests/browser/conftest.py: the Summary of findings shows no
code; every results page shows its key result on the first screen; summary tables never
scroll sideways and keep rate, interval and certainty on screen; no ``<NA>``, ``NaN``,
``None`` or snake_case code in visible text (data text excepted: it is shown as written);
forest plots read at phone width; and after a release and a one-row change, What changed
counts as moved only results of the changed outcome.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from browser import site_build

pytestmark = pytest.mark.browser

PHONE = (390, 844)
DESKTOP = (1280, 800)
SIZES = [pytest.param(PHONE, id="390px"), pytest.param(DESKTOP, id="1280px")]

SUMMARY = "chapters/summary/index.html"
ABOUT = "chapters/about/index.html"
WHATS_NEW = "chapters/whats_new/index.html"
ADVERSE = "chapters/adverse_events/index.html"
# pages that lead with a "Key results" block
KEY_PAGES = [
    SUMMARY,
    ABOUT,
    WHATS_NEW,
    ADVERSE,
    *sorted(
        p
        for p in site_build.outcome_pages()
        if p.startswith(("chapters/outcome/", "chapters/survival/"))
    ),
]
# Every page of the book is checked for machine values and codes in its visible text.
READER_PAGES = site_build.toc_pages()
# Pages for programmers: the API reference documents the library's own names (functions,
# parameters, defaults such as None), so its snake_case words are its subject, not codes
# left untranslated; on the reuse and differences pages the outputs of the code cells are
# what the library returns to a programmer (a table with its column names). Their prose
# and tables outside cell outputs are checked like every other page.
API_PAGE = "chapters/api/index.html"
PROGRAMMER_PAGES = {API_PAGE, "chapters/reuse/index.html", "chapters/differences/index.html"}
# the robustness pages lead with a key result too, but list data variants by their codes
KEY_PAGES += sorted(p for p in site_build.toc_pages() if p.startswith("chapters/robustness/"))
MACHINE = re.compile(r"<NA>|\bNaN\b|\bNone\b|\bTrue\b|\bFalse\b|\(s\)|\b1 studies\b|\de-\d\d\b")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b")
MIN_LABEL_PX = 9.0  # forest plot labels on a phone
# what a Key results block states: a rate, or why there is none
KEY_TEXT = re.compile(r"\d%|no study reports|no event has data|no specification pools")

# Visible text of the article, without code blocks and without text a style sheet hides:
# the text nodes whose element is rendered. Inline code in prose is read too (a code named
# in a sentence is a code shown), except a file, folder or module name (holding "/" or
# "."). arguments[0]: a further CSS selector of elements to leave out (on the
# programmers' pages, cell outputs and all inline code).
_VISIBLE_TEXT_JS = """
const root = document.querySelector('main article') || document.querySelector('main');
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
const skip = 'pre, script, style, .cell_input' + (arguments[0] || '');
const out = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const code = el.closest('code');
    if (code && /[\\/.]/.test(code.textContent)) continue;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    out.push(node.textContent);
}
return out.join(' ');
"""


def _hostile_tokens(data_dir: Path) -> set[str]:
    """snake_case words written in the fixture's free text (notes, quotes, reports,
    addresses: shown as written, by design). Codes, keys and variant names of the data are
    not among them: a page must show those in words."""
    dictionary = pd.read_csv(Path(data_dir) / "dictionary.csv", dtype=str)
    free = dictionary[dictionary["code"].isna() & dictionary["type"].isin(["text", "url"])]
    tokens: set[str] = set()
    for table, columns in free.groupby("table")["column"]:
        path = Path(data_dir) / f"{table}.csv"
        if path.is_file():
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            for column in set(columns) & set(frame.columns):
                tokens |= set(SNAKE.findall(" ".join(frame[column])))
    return tokens


def visible_text(browser, page: str) -> str:
    """The visible text of ``page`` (loaded), as :data:`_VISIBLE_TEXT_JS` reads it."""
    skip = ", .cell_output, code" if page in PROGRAMMER_PAGES else ""
    return browser.driver.execute_script(_VISIBLE_TEXT_JS, skip)


@pytest.mark.parametrize("size", SIZES)
def test_summary_shows_no_code(browser, server, size):
    browser.open(server.url + SUMMARY, size)
    shown = browser.driver.execute_script(
        # code, and the "show code" toggle (details.above-input) of a collapsed cell
        "return [...document.querySelectorAll("
        "'main .cell_input, main pre, main details.above-input')]"
        ".filter(e => e.checkVisibility()).length;"
    )
    assert shown == 0, f"{SUMMARY} at {size[0]} px shows {shown} code blocks or toggles"
    assert browser.driver.find_elements("css selector", "main table.review-table")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", KEY_PAGES, scope="module")
def test_key_result_on_the_first_screen(browser, server, page, size):
    browser.open(server.url + page, size)
    box = browser.driver.execute_script(
        "const k = document.querySelector('main .key-results');"
        "if (!k) return null; const r = k.getBoundingClientRect();"
        "return {top: r.top + scrollY, text: k.innerText, height: innerHeight};"
    )
    assert box is not None, f"{page}: no Key results block"
    assert box["top"] < 0.75 * box["height"], (
        f"{page} at {size[0]} px: Key results start {box['top']:.0f} px down, "
        f"below the first screen ({box['height']} px)"
    )
    if page != WHATS_NEW:  # the others state rates; What changed states changes
        assert KEY_TEXT.search(box["text"]), box["text"][:200]


@pytest.mark.parametrize("size", SIZES)
def test_summary_tables_do_not_scroll_sideways(browser, server, size):
    browser.open(server.url + SUMMARY, size)
    found = browser.driver.execute_script(
        "const width = document.documentElement.clientWidth;"
        "return [...document.querySelectorAll('main table.review-table')]"
        ".filter(t => t.checkVisibility()).map(t => {"
        " const wrap = t.parentElement; const cells = [...t.querySelectorAll("
        ' \'td[data-label^="Rate"], td[data-label="Certainty"], td[data-label$="PI"], '
        ' td[data-label="Rated down for"]\')];'
        " return {scroll: wrap.scrollWidth, room: wrap.clientWidth, width: width,"
        "  right: Math.max(...cells.map(c => c.getBoundingClientRect().right)),"
        "  cells: cells.length};});"
    )
    assert sum(t["cells"] > 0 for t in found) >= 2, f"no summary-of-findings tables: {found}"
    for i, table in enumerate(found):
        assert table["scroll"] <= table["room"] + 1, f"table {i} scrolls sideways: {table}"
        if table["cells"]:
            assert table["right"] <= table["width"] + 1, f"table {i}: a cell off screen: {table}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", READER_PAGES, scope="module")
def test_no_machine_values_in_visible_text(browser, server, built, page, size):
    """Every page of the book: no machine value and no code outside the data's own text
    (the API reference, whose subject is the library's names, is checked for <NA> only)."""
    browser.open(server.url + page, size)
    text = visible_text(browser, page)
    if page == API_PAGE:
        assert "<NA>" not in text, f"{page} at {size[0]} px shows <NA>"
        return
    machine = sorted(set(MACHINE.findall(text)))
    snake = sorted(set(SNAKE.findall(text)) - _hostile_tokens(built.data.data_dir))
    assert not machine, f"{page} at {size[0]} px shows {machine}"
    assert not snake, f"{page} at {size[0]} px shows codes {snake[:20]}"


def test_forest_plots_read_at_phone_width(browser, server, built):
    """Each figure shown on a 390 px screen draws all its text (labels, tick labels, notes)
    at >= 9 CSS px: the smallest text a phone PNG records (``review.book.smallest_text``,
    in points) times its dpi / 72, times the width Chromium shows it at over its width."""
    from PIL import Image
    from review.book import SMALLEST_TEXT_KEY

    smallest: dict[str, float] = {}
    for page in READER_PAGES:
        browser.open(server.url + page, PHONE)
        images = browser.driver.execute_script(
            "return [...document.querySelectorAll('main img.review-narrow, main img.review-wide')]"
            ".filter(i => i.checkVisibility()).map(i => ({cls: i.className,"
            " src: new URL(i.src).pathname, shown: i.clientWidth, natural: i.naturalWidth}));"
        )
        for image in images:
            assert "review-narrow" in image["cls"], f"{page}: the wide forest plot shows on a phone"
            png = Image.open(built.html / image["src"].lstrip("/"))
            points = float(png.text[SMALLEST_TEXT_KEY])
            dpi = png.info["dpi"][0]
            smallest[image["src"]] = points * dpi / 72 * image["shown"] / image["natural"]
    assert smallest, "no phone figure on any page of the fixture"
    name, px = min(smallest.items(), key=lambda item: item[1])
    assert px >= MIN_LABEL_PX, f"{name}: its smallest text is {px:.2f} CSS px high at 390 px"


def _edit_one_row(data_dir: Path) -> str:
    """Take three events off the first primary row of a pooled binary outcome; its code."""
    path = data_dir / "outcomes.csv"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    row = next(
        r for r in rows if r["outcome"] == "CR" and r["primary"] == "true" and int(r["events"]) > 3
    )
    row["events"] = str(int(row["events"]) - 3)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return row["outcome"]


@pytest.mark.slow
def test_what_changed_counts_only_results_that_moved(browser, built, tmp_path):
    """Release the fixture, change one row, rebuild: every moved result is of that outcome,
    and the count in the prose is the number of rows in the table of moved results."""
    from review import release
    from review.data import labels

    data = tmp_path / "data"
    shutil.copytree(built.data.data_dir, data)
    release.make_release("9.0", data, site_build.REPO)
    outcome = _edit_one_row(data)
    out = tmp_path / "build"
    shutil.copytree(built.out, out, symlinks=True)  # its page cache: only changed pages run
    proc = site_build.run_build(data, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    srv = site_build.Server((out / "html").resolve())
    try:
        browser.open(srv.url + WHATS_NEW, DESKTOP)
        found = browser.driver.execute_script(
            "const text = document.querySelector('main').innerText;"
            "const m = text.match(/interval moved, as the book shows them[^:]*: *(\\d+)/);"
            "const section = document.querySelector('#pooled-results-that-moved');"
            "const rows = section ? [...section.querySelectorAll('table.review-table tbody tr')]"
            " : [];"
            "return {count: m ? Number(m[1]) : null, key: document.querySelector("
            "'main .key-results').innerText,"
            " outcomes: rows.map(r => r.querySelector('td[data-label=\"Outcome\"]').innerText)};"
        )
    finally:
        srv.close()
    assert found["count"] is not None, "What changed states no count of moved results"
    name = labels.outcome_name(outcome)
    assert found["count"] == len(found["outcomes"]) >= 1, found
    assert set(found["outcomes"]) == {name}, found["outcomes"]
    assert "moved" in found["key"] and "1 field corrected in 1 row" in found["key"], found["key"]
