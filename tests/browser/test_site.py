"""The built site as a reader uses it, in headless Chromium.

One build of the book on the (hostile) fixture data, served on 127.0.0.1. For every page
of the table of contents: it loads without console errors or failed requests, its links
and images resolve, its figures rendered, its downloads return their files, it reads at
phone width; the search finds a study by its author; the pooled numbers in the prose equal
``metaprop``'s on the fixture. Screenshots of every page at desktop and phone width go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import re
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _tools import skip_for_missing_fonts
from PIL import Image, ImageStat

from browser import site_build
from browser.conftest import ARTIFACTS, DESKTOP, PHONE
from browser.sitecheck import Site

pytestmark = pytest.mark.browser

PAGES = site_build.toc_pages()
OUTCOME_PAGES = site_build.outcome_pages()
MIN_FIGURE_PX = 200  # a figure narrower than this on a desktop screen is unreadable
MIN_TEXT_PX = 8.0  # figure text drawn smaller than this many CSS pixels cannot be read
# the prose of an outcome page: "the pooled proportion is 72.6% (95% confidence interval
# 65.1% to 79.0%)"
POOLED = re.compile(
    r"pooled proportion is\s+([0-9.]+)%\s*\(([0-9.]+)% (?:confidence|credible) interval\s+"
    r"([0-9.]+)% to ([0-9.]+)%(?:; .+?)?\)"
)


def _shot_name(page: str, kind: str) -> Path:
    return ARTIFACTS / f"{page.removesuffix('.html').replace('/', '_')}-{kind}.png"


def _fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_page_loads_cleanly(browser, server, page):
    """No console error, no failed request, no error output of a cell; screenshot saved."""
    visit = browser.open(server.url + page)
    browser.full_screenshot(_shot_name(page, "desktop"), DESKTOP)
    problems = [f"console: {m}" for m in visit.console_errors]
    problems += [f"request: {r}" for r in visit.failed_requests]
    if not browser.driver.find_elements("css selector", "main h1"):
        problems.append("no heading")
    outputs = browser.driver.execute_script(
        "return [...document.querySelectorAll('main .output.stderr, main .output.traceback, "
        "main .output.error')].map(e => e.innerText.trim().split('\\n')[0].slice(0, 200));"
    )
    if problems == [] and outputs:
        skip_for_missing_fonts(outputs)  # the README's promise: no fonts, a skip that says so
    problems += [f"cell output on stderr: {o}" for o in outputs]
    assert not problems, f"{page}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_links_and_images_resolve(browser, server, built, page):
    """Every same-site URL of the rendered page (links, images, scripts, styles) resolves."""
    browser.open(server.url + page)
    urls = browser.driver.execute_script(
        "return [...document.querySelectorAll('a[href]')].map(a => a.href)"
        ".concat([...document.querySelectorAll('img[src], script[src]')].map(e => e.src))"
        ".concat([...document.querySelectorAll('link[href]')].map(e => e.href));"
    )
    site = Site(built.html)
    problems = []
    for url in urls:
        if url.startswith("javascript:"):
            problems.append(f"javascript: URL {url!r}")
        elif url.startswith(server.url):
            problem = site.check_url(Path("index.html"), url[len(server.url) :] or "index.html")
            if problem:
                problems.append(problem)
    assert not problems, f"{page}:\n" + "\n".join(problems)


def _smallest_font_pt() -> float:
    """Smallest font size (points) of the book's plot style."""
    from review.book import STYLE

    return min(v for k, v in STYLE.items() if k.endswith("size") and isinstance(v, int | float))


def _is_blank(data: bytes) -> bool:
    """Whether an image is (nearly) one flat colour."""
    image = Image.open(io.BytesIO(data)).convert("L")
    low, high = image.getextrema()
    return high - low < 32 or ImageStat.Stat(image).stddev[0] < 2.0


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_figures_rendered(browser, server, page):
    """Each image in the article loaded, is not blank, and has a sensible size."""
    browser.open(server.url + page)
    images = browser.driver.execute_script(
        "const main = document.querySelector('main') || document.body;"
        "const width = main.querySelector('article, .bd-article')?.clientWidth || innerWidth;"
        # images a style sheet hides at this width (a figure's phone variant) are not shown
        "return [...main.querySelectorAll('article img, .bd-article img')]"
        ".filter(i => i.checkVisibility()).map(i => ({"
        "src: i.currentSrc || i.src, natural: i.naturalWidth, shown: i.clientWidth,"
        "height: i.clientHeight, room: width}));"
    )
    problems = []
    for image in images:
        name = image["src"].rsplit("/", 1)[-1]
        if image["natural"] == 0:
            problems.append(f"{name}: did not load")
            continue
        if image["shown"] < min(MIN_FIGURE_PX, image["natural"]):
            problems.append(f"{name}: shown {image['shown']} px wide")
        if image["shown"] > image["room"] + 1:
            problems.append(f"{name}: {image['shown']} px wide, wider than the text column")
        if image["height"] > 3 * DESKTOP[1]:
            problems.append(f"{name}: {image['height']} px tall")
        _, _, data = _fetch(image["src"])
        if name.endswith(".svg"):
            continue
        if _is_blank(data):
            problems.append(f"{name}: blank image")
        # text of `pt` points in a PNG of `dpi` dots per inch, scaled to the shown width
        dpi = Image.open(io.BytesIO(data)).info.get("dpi", (100, 100))[0]
        text_px = _smallest_font_pt() * dpi / 72 * image["shown"] / image["natural"]
        if text_px < MIN_TEXT_PX:
            problems.append(
                f"{name}: {image['natural']} px image shown {image['shown']} px wide, "
                f"its smallest text {text_px:.1f} px high (unreadable below {MIN_TEXT_PX})"
            )
    assert not problems, f"{page}:\n" + "\n".join(problems)
    if page in OUTCOME_PAGES:
        assert images, f"{page}: an outcome page without a figure"


def _check_download(url: str, body: bytes, content_type: str) -> str | None:
    suffix = url.rsplit(".", 1)[-1].lower()
    if suffix == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        if not rows or len({len(r) for r in rows}) != 1:
            return f"not a table with a header line ({len(rows)} lines, uneven widths)"
    elif suffix == "png":
        if not body.startswith(b"\x89PNG\r\n\x1a\n"):
            return "not a PNG"
        Image.open(io.BytesIO(body)).verify()
        if _is_blank(body):
            return "blank PNG"
    elif suffix == "svg":
        root = ET.fromstring(body)
        if not root.tag.endswith("svg") or len(root) == 0:
            return "not an SVG with content"
    elif suffix == "html":  # a printable page: a document with tables and no script
        page = body.decode("utf-8")
        if not page.lstrip().lower().startswith("<!doctype html") or "<table" not in page:
            return "not an HTML document with a table"
        if "<script" in page.lower():
            return "an HTML download that runs a script"
    else:
        return f"unexpected download type .{suffix} ({content_type})"
    return None


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_downloads_return_their_files(browser, server, page):
    """Every download link of the page returns a well-formed CSV, PNG or SVG file."""
    browser.open(server.url + page)
    links = browser.driver.execute_script(
        "return [...document.querySelectorAll('a.download, a[download]')].map(a => a.href);"
    )
    problems = []
    for url in links:
        status, content_type, body = _fetch(url)
        problem = _check_download(url, body, content_type) if status == 200 else f"HTTP {status}"
        if problem:
            problems.append(f"{url.rsplit('/', 1)[-1]}: {problem}")
    assert not problems, f"{page}:\n" + "\n".join(problems)
    if page in OUTCOME_PAGES:
        kinds = {url.rsplit(".", 1)[-1] for url in links}
        assert {"csv", "png", "svg"} <= kinds, f"{page}: downloads {sorted(kinds)}"


# Elements of the article that stick out of a 375 px screen: boxes wider than the screen
# and text overflowing its box, unless a scrolling or clipping parent that fits holds them
# (a wide table may scroll inside its own frame; the page may not). Innermost culprits only.
_OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const article = document.querySelector('article') || document.querySelector('main');
const contained = el => {
    for (let a = el.parentElement; a && a !== article.parentElement; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible'
            && a.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
};
const sticksOut = el => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return false;
    const spill = getComputedStyle(el).overflowX === 'visible'
        ? Math.max(0, el.scrollWidth - el.clientWidth) : 0;
    return box.right + spill > width + 1 && !contained(el);
};
const bad = [...article.querySelectorAll('*')].filter(sticksOut);
const innermost = bad.filter(el => !bad.some(other => other !== el && el.contains(other)));
return {
    scroll: document.documentElement.scrollWidth,
    width: width,
    culprits: innermost.slice(0, 10).map(el => el.tagName.toLowerCase()
        + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '')
        + ' "' + (el.innerText || el.getAttribute('src') || '').trim().slice(0, 50) + '" ('
        + Math.round(el.getBoundingClientRect().width) + ' px box, '
        + el.scrollWidth + ' px content)'),
};
"""


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_usable_at_phone_width(browser, server, page):
    """At 375 px the page does not scroll sideways and no text runs off the screen."""
    browser.open(server.url + page, PHONE)
    browser.full_screenshot(_shot_name(page, "phone"), PHONE)
    found = browser.driver.execute_script(_OVERFLOW_JS)
    problems = [f"sticks out: {c}" for c in found["culprits"]]
    if found["scroll"] > found["width"] + 1:
        problems.insert(0, f"the page scrolls sideways (content {found['scroll']} px wide)")
    assert not problems, f"{page} at {PHONE[0]} px:\n" + "\n".join(problems)


@pytest.mark.parametrize("which", ["plain", "non-latin", "absent"])
def test_search_finds_study_by_author(browser, server, built, which):
    """Typing an author's name in the search box lists a page that shows the study (and a
    name that is nowhere lists none of them)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    if which == "plain":
        author = built.data.plain_author[1]
    elif which == "non-latin":
        author = next(v for v in built.data.authors.values() if v.startswith("Łuk")).split()[0]
    else:
        author = "Qzxwvutsrq"
    browser.open(server.url + "index.html")
    driver = browser.driver
    boxes = [b for b in driver.find_elements(By.CSS_SELECTOR, "input[name='q']")]
    if not any(b.is_displayed() for b in boxes):
        buttons = driver.find_elements(
            By.CSS_SELECTOR, ".search-button__button, button[aria-label*='Search']"
        )
        assert buttons, "no search box and no search button on the home page"
        next(b for b in buttons if b.is_displayed()).click()
    box = next(
        b for b in driver.find_elements(By.CSS_SELECTOR, "input[name='q']") if b.is_displayed()
    )
    box.send_keys(author, Keys.ENTER)
    deadline = time.monotonic() + 15
    hits: list[str] = []
    while time.monotonic() < deadline:
        hits = driver.execute_script(
            "return [...document.querySelectorAll('#search-results li a')]"
            ".map(a => a.getAttribute('href'));"
        )
        done = driver.execute_script(
            "const s = document.querySelector('#search-results .search-summary, "
            "#search-results p');"
            "return !!s && s.innerText.length > 0;"
        )
        if hits or done:
            break
        time.sleep(0.2)
    pages = {h.split("#")[0].split("?")[0].removeprefix("./") for h in hits}
    found = any(p in OUTCOME_PAGES for p in pages)
    assert found == (which != "absent"), f"searching {author!r} found {sorted(pages) or 'nothing'}"


POOLED_PAGES = {
    page: code
    for page, code in OUTCOME_PAGES.items()
    if page.startswith(("chapters/outcome/", "chapters/survival/"))
}


@pytest.mark.parametrize("page", sorted(POOLED_PAGES), scope="module")
def test_pooled_numbers_equal_metaprop(browser, server, built, monkeypatch, page):
    """Each population's sentence in the prose shows what metaprop computes on the fixture.

    (tests/test_book_metafor.py checks the same numbers against metafor itself.)
    """
    from review import analysis, book
    from review.data.plan import load_plan

    monkeypatch.setenv("REVIEW_DATA_DIR", str(built.data.data_dir))
    outcome = POOLED_PAGES[page]
    plan = load_plan()
    rows = analysis.rows_for(outcome, plan)
    if outcome in plan["survival"]["outcomes"]:
        fits = analysis.landmark_by_population(rows, plan, outcome=outcome)
    else:
        fits = analysis.by_population(rows, plan, outcome=outcome)
    browser.open(server.url + page)
    text = browser.driver.execute_script("return document.querySelector('main').innerText;")
    text = " ".join(text.split())
    assert any(fit.pooled for fit in fits.values()), f"{page}: the fixture pools nothing here"
    for fit in fits.values():
        sentence = " ".join(book.fit_sentence(fit, plan).split())
        assert sentence in text, f"{page} ({fit.population}): the page does not say {sentence!r}"
        if fit.pooled:
            match = POOLED.search(sentence)
            shown = [float(g) / 100 for g in match.groups()]
            # the reported rate: the plan's interval for k studies (a Bayesian headline or
            # the GLMM itself)
            expected = [fit.estimate, fit.result.level, fit.ci[0], fit.ci[1]]
            # shown with one decimal of a percentage: within half a unit of the last digit
            assert shown == pytest.approx(expected, abs=0.0005 + 1e-9), (page, fit.population)
