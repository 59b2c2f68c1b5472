"""The book's plot style (``review.book.style``): fonts for labels in any script.

Study labels come from the data and may be in any script. The style names the fallback
fonts found on the machine (and only those, so that a machine without them gets no font
warnings from the list itself); with Debian's fonts-noto-cjk and fonts-unifont installed
(``scripts/install_system_deps.sh``) the fixture's non-Latin label draws with no warning.
"""

from __future__ import annotations

import io
import logging

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
from _tools import tool_missing
from browser.hostile import AUTHORS
from review import book


@pytest.fixture(autouse=True)
def _restore_rc():
    with mpl.rc_context():
        yield
    plt.close("all")


def _draw(text: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 1))
    ax.text(0, 0.6, text, parse_math=False)
    ax.text(0, 0.2, text, parse_math=False, fontweight="bold")
    fig.canvas.draw()
    fig.savefig(io.BytesIO(), format="svg")


def _installed(name: str) -> bool:
    from matplotlib import font_manager

    return any(f.name == name for f in font_manager.fontManager.ttflist)


def test_style_names_only_installed_fonts(monkeypatch, caplog):
    """A fallback font that is not on the machine is left out: no findfont warning."""
    fonts = {**book.FONTS, "No Such Font Sans": ("/nonexistent/NoSuchFont.ttf",)}
    monkeypatch.setattr(book, "FONTS", fonts)
    book.style()
    family = mpl.rcParams["font.family"]
    assert family[0] == "DejaVu Sans" and "No Such Font Sans" not in family
    assert all(_installed(name) for name in family)
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        _draw("Łukasiewicz Ωμέγα Ñoño محمد")  # DejaVu Sans has these
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_non_latin_labels_draw_without_warning(caplog):
    """The hostile fixture's non-Latin author (Chinese, Arabic, Greek, an emoji) is drawn
    with real glyphs: matplotlib warns of no missing glyph and logs nothing."""
    book.style()  # registers the Debian files if matplotlib's font cache predates them
    missing = [name for name in book.FONTS if not _installed(name)]
    if missing:
        tool_missing(f"fonts {missing} not found (Debian fonts-noto-cjk, fonts-unifont)")
    assert mpl.rcParams["font.family"] == list(book.FONTS)
    with caplog.at_level(logging.WARNING, logger="matplotlib"):
        _draw(AUTHORS["nonlatin"])  # warnings are errors here (pyproject filterwarnings)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
