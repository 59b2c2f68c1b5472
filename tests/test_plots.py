"""Plots: each draws on the axes it is given, returns it, and draws what the data hold."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import metaprop as mp
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from metaprop.plotting import OKABE_ITO

EVENTS = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
TOTALS = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
LABELS = [f"Study {chr(65 + i)}" for i in range(len(EVENTS))]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def res():
    return mp.meta_prop(EVENTS, TOTALS, labels=LABELS)


def _by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def _scale(ax):
    (scale,) = ax.child_axes
    return scale


def _study_points(ax):
    (pts,) = _by_gid(_scale(ax), "studies")
    return pts.get_offsets()


def _tick_labels(axis):
    axis.figure.canvas.draw()
    return [t.get_text() for t in axis.get_xticklabels() if t.get_text()]


def test_forest_plot_draws_on_the_given_axes(res):
    fig, ax = plt.subplots(figsize=(8, 6))
    out = mp.forest_plot(res, ax=ax)
    assert out is ax and out.figure is fig
    assert len(_study_points(ax)) == res.k
    (whiskers,) = _by_gid(_scale(ax), "studies-ci")
    assert len(whiskers.get_segments()) == res.k
    assert len(_by_gid(_scale(ax), "pooled")) == 1
    assert len(_by_gid(_scale(ax), "pi")) == 1
    texts = [t.get_text() for t in ax.texts]
    assert "16/17" in texts and "100%" in texts and LABELS[0] in texts
    labels = _tick_labels(_scale(ax))
    assert labels and all(lab.endswith("%") for lab in labels)


def test_forest_plot_rows_and_diamond_match_the_fit(res):
    ax = mp.forest_plot(res)
    pts = _study_points(ax)
    np.testing.assert_allclose(pts[:, 0], np.array(EVENTS) / np.array(TOTALS))
    np.testing.assert_array_equal(pts[:, 1], -np.arange(1, res.k + 1))
    (diamond,) = _by_gid(_scale(ax), "pooled")
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(res.ci.low) and xs.max() == pytest.approx(res.ci.high)
    (pi,) = _by_gid(_scale(ax), "pi")
    np.testing.assert_allclose(pi.get_xdata(), res.pi)


def test_forest_plot_draws_the_prediction_interval_asked_for(res):
    ax = mp.forest_plot(res, pi_dist="t(k-1)")
    (pi,) = _by_gid(_scale(ax), "pi")
    np.testing.assert_allclose(pi.get_xdata(), res.prediction_interval("t(k-1)"))
    assert not np.allclose(pi.get_xdata(), res.pi)  # wider than the normal-quantile one
    two = mp.meta_prop(EVENTS[:2], TOTALS[:2])
    assert _by_gid(_scale(mp.forest_plot(two, pi_dist="t(k-2)")), "pi") == []  # undefined
    assert _by_gid(_scale(mp.forest_plot(res, show_pi=False)), "pi") == []


def test_forest_plot_sorts_rows(res):
    ax = mp.forest_plot(res, sort="estimate")
    pts = _study_points(ax)
    order = np.argsort(-pts[:, 1])  # top row first
    assert np.all(np.diff(pts[order, 0]) >= 0)
    with pytest.raises(ValueError, match="unknown sort"):
        mp.forest_plot(res, sort="year")


def test_compact_forest_plot_keeps_labels_and_intervals_only(res):
    ax = mp.forest_plot(res, compact=True)
    texts = [t.get_text() for t in ax.texts]
    assert LABELS[0] in texts and "94.1 (71.3\u201399.9)" in texts
    assert "16/17" not in texts and "Weight" not in texts
    assert ax.figure.get_figwidth() == 5.0
    assert len(_study_points(ax)) == res.k


def test_forest_plot_fixed_effect_has_no_prediction_bar():
    fe = mp.meta_prop(EVENTS, TOTALS, method="FE")
    ax = mp.forest_plot(fe)
    assert _by_gid(_scale(ax), "pi") == []


def test_forest_plot_of_glmm_has_no_weight_column():
    g = mp.meta_prop_glmm(EVENTS, TOTALS)
    ax = g.forest()
    texts = [t.get_text() for t in ax.texts]
    assert "Weight" not in texts and "100%" not in texts
    assert len(_study_points(ax)) == g.k


def test_funnel_plot_against_standard_error(res):
    fig, ax = plt.subplots()
    assert mp.funnel_plot(res, ax=ax) is ax
    (pts,) = _by_gid(ax, "studies")
    np.testing.assert_allclose(pts.get_offsets(), np.column_stack([res.yi, np.sqrt(res.vi)]))
    low, high = ax.get_ylim()
    assert low > high == 0.0  # standard error axis inverted, 0 at the top
    assert all(lab.endswith("%") for lab in _tick_labels(ax))


def test_funnel_plot_against_sample_size(res):
    ax = res.funnel(x="n")
    (pts,) = _by_gid(ax, "studies")
    np.testing.assert_allclose(pts.get_offsets()[:, 1], TOTALS)
    with pytest.raises(ValueError, match="x='se'"):
        mp.funnel_plot(res, x="n", contours=True)
    with pytest.raises(ValueError, match="unknown x"):
        mp.funnel_plot(res, x="precision")


def test_funnel_plot_draws_filled_studies_open():
    res = mp.meta_prop(EVENTS, TOTALS, labels=LABELS, measure="PFT")
    tf = mp.trim_and_fill(res, estimator="R0")
    assert tf.k0 > 0
    ax = mp.funnel_plot(res, filled=tf)
    (filled,) = _by_gid(ax, "filled")
    np.testing.assert_allclose(
        filled.get_offsets(), np.column_stack([tf.filled_yi, np.sqrt(tf.filled_vi)])
    )
    assert np.all(filled.get_facecolors()[:, 3] == 0.0)  # open markers
    assert np.allclose(filled.get_edgecolors()[0], to_rgba(OKABE_ITO["vermillion"]))
    (observed,) = _by_gid(ax, "studies")
    assert np.all(observed.get_facecolors()[:, 3] == 1.0)
    assert len(_by_gid(ax, "filled-estimate")) == 1


def test_contour_enhanced_funnel(res):
    ax = mp.funnel_plot(res, contours=True)
    gids = {a.get_gid() for a in ax.get_children()}
    assert {"contour-0.01", "contour-0.05", "contour-0.1"} <= gids
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "p < 0.01",
        "0.01 < p < 0.05",
        "0.05 < p < 0.1",
    ]


def test_leave_one_out_plot(res):
    fig, ax = plt.subplots(figsize=(8, 6))
    assert mp.leave_one_out_plot(res, ax=ax) is ax
    pts = _study_points(ax)
    loo = mp.leave_one_out(res)
    np.testing.assert_allclose(pts[:, 0], loo.estimate)
    first_column = {
        -t.get_position()[1]: t.get_text() for t in ax.texts if t.get_position()[0] == 0
    }
    assert [first_column[row] for row in range(1, res.k + 1)] == LABELS


def test_subgroup_forest_plot():
    groups = list("aab") * 4 + ["c", "a"]  # level c has one study (a fixed-effect fit)
    sub = mp.subgroup_analysis(EVENTS, TOTALS, groups, labels=LABELS)
    fig, ax = plt.subplots(figsize=(8, 8))
    assert mp.subgroup_forest_plot(sub, ax=ax) is ax
    assert len(_study_points(ax)) == len(EVENTS)
    diamonds = _by_gid(_scale(ax), "pooled")
    assert len(diamonds) == len(sub.results) == 3
    lows = sorted(d.get_xy()[:, 0].min() for d in diamonds)
    assert lows == pytest.approx(sorted(r.ci.low for r in sub.results.values()))
    assert len(_by_gid(_scale(ax), "overall")) == 1
    (line,) = _by_gid(ax, "q-between")
    qb = sub.q_between
    assert line.get_text().startswith(f"Test for subgroup differences: Q = {qb.statistic:.2f}, ")
    assert f"df = {qb.df}" in line.get_text()


def test_subgroup_forest_plot_without_overall(res):
    # the plot needs only ``results`` and ``q_between``
    results = {"all": res}
    qb = SimpleNamespace(statistic=1.234, df=1, pvalue=0.2667)
    ax = mp.subgroup_forest_plot(SimpleNamespace(results=results, q_between=qb))
    assert len(_study_points(ax)) == res.k
    assert _by_gid(_scale(ax), "overall") == []
    (line,) = _by_gid(ax, "q-between")
    assert line.get_text() == "Test for subgroup differences: Q = 1.23, df = 1, p = 0.267"


@pytest.mark.parametrize(
    "label",
    ["$\\badmacro{x}$", "<script>alert(1)</script>", "**bold** $5 and $10", "Исследование α"],
)
def test_study_labels_are_drawn_verbatim(label):
    """Labels come from data: mathtext must not parse them (a bad macro used to raise)."""
    res = mp.meta_prop([3, 5, 8], [10, 12, 20], labels=[label, "b", "c"])
    ax = mp.forest_plot(res)
    ax.figure.canvas.draw()
    shown = [t.get_text() for t in ax.texts]
    assert label in shown
    plt.close(ax.figure)


LONG = "Longbottom" + "x" * 240 + " 2019 (ref 107)"


def _tight_width_in(fig) -> float:
    """Width in inches of the figure as saved with ``bbox_inches="tight"``."""
    fig.canvas.draw()
    return fig.get_tightbbox(fig.canvas.get_renderer()).width


@pytest.mark.parametrize("compact", [False, True])
def test_long_label_is_cut_in_its_column_not_widening_the_figure(compact):
    """A label longer than its column ends before the next column, on one line, with an
    ellipsis and its end kept; the saved figure stays as wide as it was made."""
    res = mp.meta_prop([3, 5, 8], [10, 12, 20], labels=[LONG, "b\nc", "d"])
    ax = mp.forest_plot(res, compact=compact)
    fig = ax.figure
    assert _tight_width_in(fig) <= fig.get_figwidth() + 0.05
    texts = {t.get_text(): t for t in ax.texts}
    (cut,) = [s for s in texts if s.startswith("Long")]
    assert "\u2026" in cut and cut.endswith("(ref 107)") and len(cut) < 60
    assert "b c" in texts  # one line
    renderer = fig.canvas.get_renderer()
    label_right = texts[cut].get_window_extent(renderer).x1
    if compact:  # nothing beside the label: it ends before the scale
        scale_left = _scale(ax).get_window_extent(renderer).x0
        assert label_right < scale_left
    else:  # ends before the events/total column, which is right-aligned
        counts = texts["3/10"].get_window_extent(renderer)
        assert label_right < counts.x0


def test_long_labels_cut_in_subgroup_and_leave_one_out_plots():
    labels = [LONG, "b", "c", "d"]
    sub = mp.subgroup_analysis([3, 5, 8, 6], [10, 12, 20, 15], groups=list("aabb"), labels=labels)
    res = mp.meta_prop([3, 5, 8, 6], [10, 12, 20, 15], labels=labels)
    for ax in (mp.subgroup_forest_plot(sub), mp.leave_one_out_plot(res)):
        assert _tight_width_in(ax.figure) <= ax.figure.get_figwidth() + 0.05
        assert any("\u2026" in t.get_text() for t in ax.texts)


def test_shorten_keeps_what_fits():
    from metaprop.plotting import shorten

    assert shorten("Study A", 200) == "Study A"
    assert shorten("a  b\n c", 200) == "a b c"
    cut = shorten(LONG, 100)
    assert cut.startswith("Long") and cut.endswith("(ref 107)") and "\u2026" in cut
    assert shorten(LONG, 1) == "\u2026"  # no room at all: the ellipsis alone


def _smallest_text_pt(fig) -> float:
    """Smallest visible, non-empty text of ``fig`` in points, tick labels included."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return min(
        t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
    )


def _compact_plots(res):
    groups = list("aab") * 4 + ["c", "a"]
    sub = mp.subgroup_analysis(EVENTS, TOTALS, groups, labels=LABELS)
    return {
        "forest": mp.forest_plot(res, compact=True),
        "subgroup": mp.subgroup_forest_plot(sub, compact=True),
        "leave-one-out": mp.leave_one_out_plot(res, compact=True),
    }


def test_compact_plots_draw_no_text_smaller_than_the_base_font(res):
    """Issue 22: a phone figure (5 in shown ~356 CSS px wide at 390 px) keeps every text,
    tick labels and notes included, at the base font, so that none falls below 9 CSS px;
    the wide layout keeps its smaller secondary text."""
    from metaprop.plotting import FONT, SMALL

    for name, ax in _compact_plots(res).items():
        assert _smallest_text_pt(ax.figure) >= FONT, name
        # and no text runs out of the 5-inch figure (a tight bounding box would then widen
        # the PNG and shrink every text with it on the page)
        box = ax.figure.get_tightbbox(ax.figure.canvas.get_renderer())
        assert box.width <= ax.figure.get_figwidth() + 0.01, (name, box.width)
    assert _smallest_text_pt(mp.forest_plot(res).figure) == SMALL
