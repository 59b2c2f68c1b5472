"""Offline check of a built HTML site: every internal link, anchor and resource resolves.

Reads the files with :mod:`html.parser`; needs no network and no browser. A link is
*internal* when it has no scheme and no host (``../cr/index.html#results``); it must name a
file inside the site, and its fragment, if any, an ``id`` (or ``<a name>``) of that file.
External links (``https:``, ``mailto:``) are left to ``scripts/check_external_links.py``.
A ``javascript:`` URL is always reported: the site has no reason to contain one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# (tag, attribute) pairs that point at another file or anchor.
URL_ATTRIBUTES = {
    ("a", "href"),
    ("link", "href"),
    ("img", "src"),
    ("script", "src"),
    ("source", "src"),
    ("iframe", "src"),
    ("object", "data"),
}


@dataclass
class Page:
    """What one HTML file declares: its anchors and the URLs it refers to."""

    ids: set[str] = field(default_factory=set)
    urls: list[tuple[str, str]] = field(default_factory=list)  # (tag, url)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.page.ids.add(value)
            if (tag, name) in URL_ATTRIBUTES:
                self.page.urls.append((tag, value.strip()))
            if tag in {"img", "source"} and name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self.page.urls.append((tag, candidate.split()[0]))


def parse(path: Path) -> Page:
    """Anchors and URLs of one HTML file."""
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8", errors="replace"))
    collector.close()
    return collector.page


def is_external(url: str) -> bool:
    """Whether ``url`` leaves the site (has a scheme other than ``javascript:``, or a host)."""
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in {"", "javascript"}


class Site:
    """A built site folder, with its files' anchors parsed once.

    Parameters
    ----------
    root : Path
        The folder holding ``index.html``.
    """

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._parse = cache(parse)

    def html_files(self) -> list[Path]:
        """Every page of the site, sorted (theme templates under ``_static/`` are not pages)."""
        return sorted(
            p for p in self.root.rglob("*.html") if p.relative_to(self.root).parts[0] != "_static"
        )

    def check_url(self, page: Path, url: str) -> str | None:
        """Problem with ``url`` found in ``page`` (a file of the site), or None if it resolves.

        ``page`` may be given relative to the site root.
        """
        page = self.root / page
        parts = urlsplit(url)
        if parts.scheme == "javascript":
            return f"javascript: URL {url!r}"
        if is_external(url) or parts.scheme == "data":
            return None
        if parts.path:
            target = (page.parent / unquote(parts.path)).resolve()
        else:
            target = page
        if target != self.root and self.root not in target.parents:
            return f"{url!r} points outside the site"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return f"{url!r}: no file {target.relative_to(self.root)}"
        fragment = unquote(parts.fragment)
        if fragment and target.suffix == ".html" and fragment not in self._parse(target).ids:
            return f"{url!r}: no anchor #{fragment} in {target.relative_to(self.root)}"
        return None

    def problems(self) -> list[str]:
        """Every broken internal link, anchor or resource of the site, one line each."""
        found = []
        for page in self.html_files():
            for tag, url in self._parse(page).urls:
                problem = self.check_url(page, url)
                if problem:
                    found.append(f"{page.relative_to(self.root)} <{tag}>: {problem}")
        return found
