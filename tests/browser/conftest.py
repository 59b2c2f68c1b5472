"""Fixtures of the browser tests: one hostile build, served locally, one headless Chromium.

Every test here is marked ``browser``. Without Chromium or chromedriver they skip locally
and fail in CI (``tests/_tools.py``); that check runs before the (slow) book build.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from _tools import require_tool

from browser import site_build

ARTIFACTS = site_build.REPO / "test-artifacts" / "screenshots"
DESKTOP = (1280, 900)
PHONE = (375, 812)
# Chromium without a network: no first-run, sync, component or background requests.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
LOAD_TIMEOUT = 20.0  # seconds for a page and its resources to settle


@pytest.fixture(scope="session", autouse=True)
def chromium_tools() -> tuple[str, str]:
    """Paths of Chromium and chromedriver (skip locally / fail in CI without them)."""
    return require_tool("chromium"), require_tool("chromedriver")


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> site_build.BuiltSite:
    """The book built once on the hostile fixture data."""
    return site_build.hostile_site(tmp_path_factory)


@pytest.fixture(scope="session")
def server(built):
    """The built site served on 127.0.0.1."""
    srv = site_build.Server(built.html)
    yield srv
    srv.close()


@dataclass
class Visit:
    """One page load: console messages at level SEVERE and requests that failed."""

    url: str
    console_errors: list[str]
    failed_requests: list[str]


class Browser:
    """A headless Chromium (Selenium) with the viewport and log helpers the tests need."""

    def __init__(self, chromium: str, chromedriver: str, profile: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        self.driver.set_page_load_timeout(LOAD_TIMEOUT)
        self._last: tuple[tuple[int, int], Visit] | None = None

    def viewport(self, width: int, height: int) -> None:
        """Emulate a screen of ``width`` x ``height`` CSS pixels (a phone when narrow)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": width < 600,
            },
        )

    def _drain(self) -> tuple[list[dict], list[dict]]:
        return self.driver.get_log("browser"), self.driver.get_log("performance")

    def open(self, url: str, size: tuple[int, int] = DESKTOP) -> Visit:
        """Load ``url`` at ``size``; wait until it and its images have loaded.

        When the browser still shows ``url`` at ``size`` from the previous call (nothing was
        clicked or typed since), that visit is returned without loading the page again.
        """
        if (
            self._last
            and self._last[0] == size
            and self._last[1].url == url == (self.driver.current_url)
        ):
            return self._last[1]
        self.viewport(*size)
        self._drain()
        self.driver.get(url)
        deadline = time.monotonic() + LOAD_TIMEOUT
        script = (
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(i => i.complete);"
        )
        while not self.driver.execute_script(script):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading in {LOAD_TIMEOUT} s")
            time.sleep(0.05)
        time.sleep(0.3)  # let scripts started on load (search index, theme) report errors
        console, performance = self._drain()
        visit = Visit(url, _console_errors(console), _failed_requests(performance))
        self._last = (size, visit)
        return visit

    def full_screenshot(self, path: Path, size: tuple[int, int]) -> None:
        """Save a PNG of the whole page (not only the viewport) at viewport ``size``."""
        height = self.driver.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
        )
        self.viewport(size[0], min(int(height), 16000))
        time.sleep(0.1)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        self.viewport(*size)

    def quit(self) -> None:
        """Close the browser."""
        self.driver.quit()


def _console_errors(entries: list[dict]) -> list[str]:
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def _failed_requests(entries: list[dict]) -> list[str]:
    """Requests that failed or got an HTTP error, from Chromium's performance log."""
    urls: dict[str, str] = {}
    failed = []
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400:
                failed.append(f"HTTP {status} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = urls.get(params["requestId"], params["requestId"])
            failed.append(f"{params.get('errorText', 'failed')} {url}")
    return failed


@pytest.fixture(scope="session")
def browser(chromium_tools, tmp_path_factory):
    """One headless Chromium for the session."""
    chromium, chromedriver = chromium_tools
    instance = Browser(chromium, chromedriver, tmp_path_factory.mktemp("chromium-profile"))
    yield instance
    instance.quit()
