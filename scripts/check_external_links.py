#!/usr/bin/env python3
"""Check the external links of the review: DOIs and sources in data/, links of the site.

Meant for a scheduled run (external sites change without a commit here), not for every
test run. Collects

- every ``http(s)`` link and resource of the built site (``_build/html`` by default);
- every DOI (as ``https://doi.org/<doi>``) and URL column (``source_url``, ``url``) of the
  data tables;

then asks each once (``HEAD``, falling back to ``GET``), a few at a time, and lists the
broken ones with where they are used. Reserved example domains (RFC 2606: ``example.org``,
``*.invalid``, ``*.test``, ``localhost``) are skipped.

Before checking, one request to ``--probe`` (default ``https://doi.org/``) tells whether
the network is reachable at all; when it is not, the script says so and stops.

Exit status: 0 all links answered, 1 some are broken, 2 offline (nothing checked),
3 nothing to check (no site and no data found).

Usage::

    python scripts/check_external_links.py [--site _build/html] [--data data]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
USER_AGENT = "living-review-linkcheck/1 (scheduled check of cited sources)"
URL_COLUMNS = ("source_url", "url")
RESERVED = re.compile(
    r"(^|\.)(example\.(com|org|net)|localhost)$|\.(example|invalid|test|localhost)$"
)
# Servers that refuse robots or rate-limit answer with these; not proof of a broken link.
INCONCLUSIVE = {401, 403, 429}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in {"href", "src"} and urlsplit(value).scheme in {"http", "https"}:
                self.urls.append(value.strip())


def site_links(site: Path) -> dict[str, set[str]]:
    """External URL -> pages of ``site`` that use it."""
    found: dict[str, set[str]] = defaultdict(set)
    for page in sorted(site.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for url in parser.urls:
            found[url].add(page.relative_to(site).as_posix())
    return found


def data_links(data: Path) -> dict[str, set[str]]:
    """External URL -> ``table:row`` cells of the data folder that name it (DOIs as URLs)."""
    found: dict[str, set[str]] = defaultdict(set)
    for table in sorted(data.glob("*.csv")):
        with open(table, newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                where = f"{table.name}:{line}"
                doi = (row.get("doi") or "").strip()
                if doi:
                    found[f"https://doi.org/{doi}"].add(where)
                for column in URL_COLUMNS:
                    url = (row.get(column) or "").strip()
                    if urlsplit(url).scheme in {"http", "https"}:
                        found[url].add(where)
    return found


def is_reserved(url: str) -> bool:
    """Whether ``url`` is on a reserved example or local domain (never checked)."""
    return bool(RESERVED.search((urlsplit(url).hostname or "").lower()))


def _request(url: str, method: str, timeout: float) -> int:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if method == "GET":
                response.read(1024)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def check(url: str, timeout: float) -> tuple[str, int | None, str]:
    """Ask ``url``; return (url, HTTP status or None, what went wrong or "")."""
    last = ""
    for attempt in range(2):  # one retry: a timeout or a 5xx is often momentary
        try:
            status = _request(url, "HEAD", timeout)
            if status >= 400:  # some servers refuse HEAD but answer GET
                status = _request(url, "GET", timeout)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(exc).__name__}: {reason}"
            continue
        if status < 500 or attempt == 1:
            return url, status, ""
    return url, None, last


def online(probe: str, timeout: float) -> str:
    """Empty string if ``probe`` answers at all (any HTTP status), else why not."""
    try:
        _request(probe, "HEAD", timeout)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    return ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--probe", default="https://doi.org/", help="URL that tells if online")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    parser.add_argument("--workers", type=int, default=8, help="requests at a time")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the check; return the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    links: dict[str, set[str]] = defaultdict(set)
    sources = []
    if args.site.is_dir():
        sources.append(f"site {args.site}")
        for url, where in site_links(args.site).items():
            links[url] |= where
    if args.data.is_dir():
        sources.append(f"data {args.data}")
        for url, where in data_links(args.data).items():
            links[url] |= where
    if not sources:
        print(f"Nothing to check: neither {args.site} nor {args.data} exists.", file=sys.stderr)
        return 3
    skipped = sorted(u for u in links if is_reserved(u))
    todo = sorted(u for u in links if not is_reserved(u))
    print(
        f"{len(todo)} external links in {' and '.join(sources)} ({len(skipped)} skipped: "
        "reserved example or local domains)"
    )
    why = online(args.probe, args.timeout)
    if why:
        print(
            f"OFFLINE: cannot reach {args.probe} ({why}). No external link was checked; "
            "run again with network access.",
            file=sys.stderr,
        )
        return 2
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(lambda u: check(u, args.timeout), todo))
    broken = [(u, s, e) for u, s, e in results if s is None or (s >= 400 and s not in INCONCLUSIVE)]
    unsure = [(u, s) for u, s, _ in results if s in INCONCLUSIVE]
    for url, status in unsure:
        print(f"  unsure  {url}: HTTP {status} (refused or rate-limited; check by hand)")
    for url, status, error in broken:
        used = ", ".join(sorted(links[url])[:5])
        print(f"  BROKEN  {url}: {f'HTTP {status}' if status else error} (used in {used})")
    print(f"{len(todo) - len(broken) - len(unsure)} ok, {len(unsure)} unsure, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
