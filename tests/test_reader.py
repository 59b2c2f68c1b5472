"""What a reader sees: words not codes, numbers formatted for reading, code collapsed, honest
counts of what changed (issue 22). The same rules in real Chromium: tests/browser/test_reader.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from review import book, release
from review.book import keyresults
from review.data import formats, labels
from review.pipeline.execute import finish_notebook
from review.pipeline.params import Page

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


def test_statistics_never_in_exponent_notation():
    assert formats.fmt_num(7.17e-06) == "0.00000717"
    assert formats.fmt_num(0.041234) == "0.0412"
    assert formats.fmt_num(1.973) == "1.97"
    assert formats.fmt_num(12345.6) == "12,346"
    assert formats.fmt_num(0.0) == "0"


def test_reader_table_has_words_not_codes():
    df = pd.DataFrame(
        {
            "label": ["Kantarjian 2019 (ref 18)", "Short 2020 (ref 32)"],
            "ci_low": [0.5, float("nan")],
            "tau2": [7.17e-6, 0.2],
            "i2": [45.2, 0.0],
            "primary": [True, False],
            "disease_status": ["relapsed_refractory", "newly_diagnosed"],
            "outcome": ["AE_anemia_g3", "CR"],
            "delta_estimate_pp": [1.234, pd.NA],
            "some_new_column": [pd.NA, None],
        }
    )
    shown = labels.frame(df)
    text = " ".join(map(str, [*shown.columns, *shown.to_numpy().ravel()]))
    for bad in ("<NA>", "NaN", "nan", "None", "True", "False", "e-06"):
        assert bad not in text
    assert not SNAKE.search(text), SNAKE.findall(text)
    row = shown.iloc[0]
    assert row["CI lower"] == "50.0%"
    assert row["τ²"] == "0.00000717"
    assert row["I²"] == "45.2%"
    assert row["Primary row"] == "yes"
    assert row["Disease status"] == "Relapsed or refractory"
    assert shown.iloc[1]["CI lower"] == labels.MISSING


def test_table_html_labels_each_cell_and_escapes():
    html = book.table_html(pd.DataFrame({"label": ["<b>x</b>"], "k": [3]}), note="† a & b")
    assert '<td data-label="Study">&lt;b&gt;x&lt;/b&gt;</td>' in html
    assert '<td data-label="Studies">3</td>' in html
    assert '<p class="review-table-note">† a &amp; b</p>' in html


def test_reader_headers_are_kept_as_written():
    assert labels.column("τ²") == "τ²"
    assert labels.column("Studies (patients)") == "Studies (patients)"
    assert labels.column("some_new_column") == "Some new column"
    assert labels.column("change") == "Change"


def test_plurals():
    assert formats.plural(1, "study", "studies") == "1 study"
    assert formats.plural(0, "row") == "0 rows"
    assert formats.plural(2, "study", "studies") == "2 studies"


def test_wide_interval_is_explained_and_narrow_one_is_not():
    assert formats.wide_note(0.6, 0.8, 4) == ""
    note = formats.wide_note(0.0, 0.997, 2, "all")
    assert note.startswith(formats.WIDE_MARK)
    assert "2 studies" in note and "not an error" in note
    assert "newly diagnosed and relapsed" in note
    assert formats.wide_note(float("nan"), 0.9, 2) == ""


def test_untagged_code_cells_are_collapsed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("z = 3", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("text"),
    ]
    finish_notebook(nb, Page(chapter="p", set_id=None, title=None, part=None))
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags[0] == ["hide-input"]
    assert tags[1] == ["remove-input"]
    assert "hide-input" in tags[2] and "parameters" in tags[2]
    assert tags[3] == []


KEY = {"population": "Newly diagnosed", "subgroup_by": "all", "subgroup": "all"}


def _pooled(rows):
    return pd.DataFrame([{**KEY, **r} for r in rows])


def test_results_without_evidence_on_either_side_never_move():
    nan = math.nan
    old = _pooled(
        [
            {"outcome": "CR", "k": 2, "estimate": 0.7, "ci_low": 0.6, "ci_high": 0.8},
            {"outcome": "AE_x", "k": 0, "estimate": nan, "ci_low": nan, "ci_high": nan},
            {"outcome": "VOD", "k": 1, "estimate": 0.05, "ci_low": 0.01, "ci_high": 0.1},
        ]
    ).assign(certainty=["low", "no evidence", "low"])
    new = old.copy()
    new.loc[0, ["k", "estimate"]] = [3, 0.72]  # one study added: CR moves
    new.loc[2, "certainty"] = "very low"  # certainty only: listed, not moved
    out = release.pooled_changes(old, new)
    assert out.loc[out["moved"], "outcome"].tolist() == ["CR"]
    assert out.loc[out["certainty_changed"], "outcome"].tolist() == ["VOD"]
    assert "AE_x" not in set(out["outcome"])
    # a result that gains its first estimate did move
    gained = new.copy()
    gained.loc[1, ["k", "estimate", "ci_low", "ci_high"]] = [1, 0.1, 0.02, 0.3]
    out = release.pooled_changes(old, gained)
    assert set(out.loc[out["moved"], "outcome"]) == {"CR", "AE_x"}


def test_narrative_names_studies_rows_results_and_certainty():
    tables = pd.DataFrame(
        [
            ["studies.csv", "new1", "added", "", "", ""],
            ["outcomes.csv", "new1 / CR / itt", "added", "", "", ""],
            ["outcomes.csv", "old2 / VOD / itt", "corrected", "events", "3", "4"],
        ],
        columns=["table", "key", "change", "field", "old", "new"],
    )
    pooled = pd.DataFrame(
        [
            {
                "outcome": "CR",
                **KEY,
                "k_old": 2,
                "estimate_old": 0.7,
                "ci_low_old": 0.6,
                "ci_high_old": 0.8,
                "certainty_old": "low",
                "k_new": 3,
                "estimate_new": 0.72,
                "ci_low_new": 0.65,
                "ci_high_new": 0.8,
                "certainty_new": "moderate",
                "moved": True,
                "certainty_changed": True,
            }
        ]
    )
    diff = release.Diff(
        {"version": "1.0", "date": "2026-01-01", "data_hash": "abc"},
        {"version": "1.0 + unreleased changes"},
        tables,
        pooled,
        pd.DataFrame(),
        {"new1": "Smith 2026"},
    )
    text = diff.narrative()
    assert "Studies added: Smith 2026." in text
    assert "1 row added, 0 rows removed, 1 field corrected in 1 row" in text
    assert "1 pooled result moved" in text
    assert "70.0% to 72.0%" in text
    assert "Certainty changed:" in text and "low to moderate" in text
    assert "(s)" not in text and "_" not in text
    assert diff.counts()["pooled_moved"] == "1"


@pytest.mark.parametrize("value", [None, math.nan, pd.NA, "", "<NA>"])
def test_missing_values_read_as_a_dash(value):
    assert labels.fmt_value(value, "events") == labels.MISSING
    assert labels.fmt_value(value, "events", labels.NOT_REPORTED) == "not reported"


def test_forest_has_a_phone_layout_with_legible_labels():
    """The narrow variant, shown on a 358 px column (a 390 px phone), draws all its text
    (labels, ticks, notes) at 9 CSS px or more (the wide one would draw it at about 6)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    from review import analysis
    from review.data.plan import load_plan
    from test_analysis import make_rows

    plan = load_plan()
    rows = make_rows([{"events": e, "total": n} for e, n in [(12, 20), (30, 41), (8, 19)]])
    fit = analysis.primary_fit(rows, plan)
    book.style()
    ax = book.forest(fit, plan)
    narrow = ax.figure.review_narrow
    assert narrow.review_variant

    def label_px(fig, column=358):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
        width = Image.open(io.BytesIO(buf.getvalue())).size[0]
        # the smallest text of the figure (tick labels and notes included)
        return book.smallest_text(fig) * 150 / 72 * min(1.0, column / width)

    assert label_px(narrow) >= 9.0
    assert label_px(ax.figure) < label_px(narrow)
    plt.close("all")


def test_a_code_of_one_column_is_not_read_as_another_columns_code():
    # "added" is a study role in the dictionary; in a list of changes it is a plain word
    assert labels.fmt_value("added", "change") == "added"
    assert labels.fmt_value("ino_mono", "subgroup") == "InO monotherapy"
    assert labels.fmt_value("regimen_group", "subgroup_by") == "Regimen"


def test_top_events_names_the_most_frequent_with_their_evidence():
    table = pd.DataFrame(
        {
            "event": ["nausea", "anaemia", "fatigue"],
            "grade": ["grade 3 or worse"] * 3,
            "k": [1, 3, 0],
            "patients": [80, 250, 0],
            "estimate": [0.1, 0.3, math.nan],
            "ci_low": [0.05, 0.2, math.nan],
            "ci_high": [0.19, 0.4, math.nan],
        }
    )
    text = keyresults.top_events(table, "grade 3 or worse", n=2)
    assert text.startswith("anaemia 30.0% (CI 20.0% to 40.0%; 3 studies, 250 patients)")
    assert "nausea 10.0%" in text and "one study, 80 patients" in text
    assert "fatigue" not in text
    assert keyresults.top_events(table.iloc[2:], "grade 3 or worse") == "no event has data"


def test_spread_line_gives_range_count_and_primary():
    from review.data.plan import load_plan

    plan = load_plan()
    frame = pd.DataFrame(
        {
            "population": ["newly_diagnosed"] * 3 + ["relapsed_refractory"],
            "data_choice": ["primary", "primary", "no_abstracts", "primary"],
            "model": ["glmm", "pft_dl", "glmm", "glmm"],
            "estimate": [0.7, 0.65, 0.8, math.nan],
        }
    )
    line = keyresults.spread_line(frame, plan, "newly_diagnosed", "glmm")
    assert line == "from 65.0% to 80.0% across 3 pooled specifications (primary analysis 70.0%)"
    assert keyresults.spread_line(frame, plan, "relapsed_refractory", "glmm") == (
        "no specification pools two studies or more"
    )
    one = keyresults.spread_line(frame.iloc[2:3], plan, "newly_diagnosed", "glmm")
    assert one == "80.0% in the only pooled specification (the primary analysis pools nothing)"


def test_missing_plot_fonts_skip_glyph_warnings_locally_and_fail_in_ci(monkeypatch):
    """Browser tests that meet matplotlib's missing-glyph warnings skip with a message on
    a machine without the plot fonts (the README's promise), and fail in CI."""
    from _tools import glyph_warnings, missing_plot_fonts, skip_for_missing_fonts

    warning = "UserWarning: Glyph 24352 (\\N{CJK UNIFIED IDEOGRAPH-5F20}) missing from font(s)"
    monkeypatch.setattr(book, "FONTS", {"DejaVu Sans": (), "No Such CJK": ("/nonexistent.ttc",)})
    assert missing_plot_fonts() == ["No Such CJK"]
    assert glyph_warnings([warning, "other"]) == [warning]
    skip_for_missing_fonts(["some other error"])  # not a font problem: no skip
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make system-deps"):
        skip_for_missing_fonts([warning])
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required when CI=true"):
        skip_for_missing_fonts([warning])


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("eot_responders", "end of treatment responders"),
        ("arm_all_1.2", "all patients at 1.2 mg/m² per cycle"),
        ("post_hsct_arm_rand_1.8", "after transplant, randomised arm at 1.8 mg/m² per cycle"),
        ("arm_fractionated_blina", "fractionated blinatumomab arm"),
        ("itt326", "intention to treat (326)"),
        ("eha2022_responders", "EHA 2022 responders"),
        ("responders", "responders"),
    ],
)
def test_data_variants_read_in_words(code, shown):
    """Issue 22: a data variant's name (a code with dots and digits too) is never shown."""
    assert labels.variant(code) == shown
    assert labels.fmt_value(code, "variant") == shown


def test_every_variant_of_the_data_reads_in_words():
    """Each variant code in data/ becomes words: no underscore, and a dose (a decimal) is
    always followed by its unit."""
    table = Path(__file__).resolve().parents[1] / "data" / "outcomes.csv"
    variants = pd.read_csv(table, dtype=str, keep_default_na=False)["variant"].unique()
    assert len(variants) > 10
    for code in variants:
        shown = labels.variant(code)
        assert "_" not in shown, (code, shown)
        assert not re.search(r"\d\.\d(?! mg/m²)", shown), (code, shown)


def test_roles_flags_and_booleans_read_in_words():
    assert labels.fmt_value("runner_up", "id_role") == "runner-up"
    assert labels.fmt_value("best; runner_up", "roles") == "best candidate; runner-up"
    assert labels.fmt_value("no_url;lower_bound", "flags").endswith("Count is a lower bound")
    assert labels.fmt_value("true", "primary") == "yes"
    assert labels.words("arm_all_1.2") == "arm all 1.2"
    assert labels.fmt_value("risk_of_bias.csv", "table") == "Risk of bias"


def test_a_count_of_studies_and_their_names_have_two_headers():
    """The adverse-event table held ``k`` and ``studies``: "Studies" and "Studies (studies)"."""
    shown = labels.frame(pd.DataFrame({"k": [2], "studies": ["A 2019; B 2020"]}))
    assert list(shown.columns) == ["Studies", "Which studies"]


@pytest.mark.parametrize("text", ["0.0000000001", "1,234", "72.6%", "3", "no study", "0.5"])
def test_glued_text_shows_as_written(text):
    """myst-nb evaluates glued plain text as a Python literal: "0.0000000001" showed as
    1e-10 on the Differences page. Glued text reads back unchanged through myst-nb's own
    formatting of ``{glue:text}``."""
    from myst_nb.core.variables import format_plain_text

    assert format_plain_text(book._plain_payload(text), "") == text


def test_cohort_identifiers_read_without_their_code_prefix():
    assert labels.fmt_value("C_MDACC_olderND", "cohort_id") == "MDACC olderND"
    assert labels.fmt_value("C_INO-VATE", "cohort_id") == "INO-VATE"
