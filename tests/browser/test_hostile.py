"""Hostile text in the data is shown as text: no script runs, no markup is interpreted.

The session's book is built on a copy of the fixture whose author names, citations,
quotes and notes hold HTML, script tags, Markdown, MyST roles and directives, a math
expression, a very long word and non-Latin text (:mod:`browser.hostile`). The build must
succeed; each page must run no injected script and create no injected element; every
hostile author must appear on the site character for character.
"""

from __future__ import annotations

import pytest

from browser import site_build
from browser.hostile import AUTHORS

pytestmark = pytest.mark.browser

PAGES = site_build.toc_pages()
# What injected markup would create, if it were interpreted.
INJECTED = (
    ".hostile-marker, a[href^='javascript:'], img[src='x'], "
    "a[href='https://example.org/'], strong, em"
)


def _text(driver) -> str:
    return " ".join(driver.execute_script("return document.body.innerText;").split())


def test_build_succeeds_on_hostile_data(built):
    """The pipeline built and published the hostile book, leaving its data folder alone."""
    assert "Site published" in built.log
    assert (built.html / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_no_script_runs_no_element_injected(browser, server, page):
    """No alert opened, no injected script ran, no element made from the data's markup."""
    from selenium.common.exceptions import NoAlertPresentException

    browser.open(server.url + page)
    driver = browser.driver
    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        pytest.fail(f"{page}: an alert opened: {text!r}")
    except NoAlertPresentException:
        pass
    assert driver.execute_script("return window.hostileRan === undefined;"), (
        f"{page}: a script from the data ran"
    )
    injected = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".filter(e => /hostile|Starr|Underwood|Linkton|Boldt|Imgman|example\\.org/"
        ".test(e.outerHTML)).map(e => e.outerHTML.slice(0, 120));",
        INJECTED,
    )
    assert not injected, f"{page}: elements made from the data:\n" + "\n".join(injected)


def test_hostile_authors_shown_verbatim(browser, server, built):
    """Every hostile author name appears, as typed, in the study tables of the outcome
    pages (where each study is listed with its label)."""
    seen = ""
    for page in site_build.outcome_pages():
        browser.open(server.url + page)
        seen += "\n" + _text(browser.driver)
    missing = [kind for kind, name in AUTHORS.items() if " ".join(name.split()) not in seen]
    assert not missing, f"hostile author names not shown as text: {missing}"


def test_html_files_hold_no_raw_markup_from_data(built):
    """No HTML file of the site contains a hostile author's markup unescaped."""
    raw = [AUTHORS["script"], AUTHORS["html"], '<div class="hostile-marker">']
    found = [
        f"{path.relative_to(built.html)}: {snippet[:40]!r}"
        for path in built.html.rglob("*.html")
        for snippet in raw
        if snippet in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not found, "raw markup from the data in the HTML:\n" + "\n".join(found)
