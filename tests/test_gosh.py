"""GOSH against metafor's gosh(), subset by subset (issue 14, item 2).

``tests/fixtures/metafor_gosh.json`` is made by ``scripts/metafor_gosh.R`` (metafor 3.8-1):
for two k = 8 datasets, measures PLO and PFT and methods FE, DL and REML, every one of the
255 subsets with its membership, k, QE, I2, H2, tau2 and estimate. Ids are
``dataset-MEASURE-METHOD``.
"""

from __future__ import annotations

import importlib
import json
import tracemalloc
from pathlib import Path

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import assert_fixture_remade

# the package attribute metaprop.gosh is the function; the module is reached by name
gosh_module = importlib.import_module("metaprop.gosh")

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_gosh.json"
REF = json.loads(FIXTURE.read_text())
CASES = [
    pytest.param(case, id=f"{case['dataset']}-{case['measure']}-{case['method']}")
    for case in REF["cases"]
]
# metaprop column -> metafor gosh() column (and the tolerance field name)
COLUMNS = {"k": "k", "q": "QE", "i2": "I2", "h2": "H2", "tau2": "tau2", "estimate_t": "estimate"}
PRITZ = (
    [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10],
)


def _fit(case):
    return mp.meta_prop(
        case["events"], case["totals"], measure=case["measure"], method=case["method"]
    )


def test_fixture_covers_fe_and_dl():
    methods = {case["method"] for case in REF["cases"]}
    assert {"FE", "DL"} <= methods
    assert all(len(case["incl"]) == 2 ** len(case["events"]) - 1 for case in REF["cases"])


@pytest.mark.parametrize("case", CASES)
def test_every_subset_equals_metafor(case):
    g = mp.gosh(_fit(case))
    assert g.exact and g.complete
    np.testing.assert_array_equal(g.membership, np.array(case["incl"], dtype=bool))
    iterative = case["method"] in tol.ITERATIVE_METHODS
    for ours, theirs in COLUMNS.items():
        got = g.frame[ours].to_numpy(dtype=float)
        want = np.array(case[theirs], dtype=float)
        rtol, atol = tol.for_field(theirs, iterative=iterative)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=ours)


@pytest.mark.parametrize("case", CASES[:2])
def test_estimate_is_back_transformed_per_subset(case):
    res = _fit(case)
    g = mp.gosh(res)
    totals = np.array(case["totals"], dtype=float)
    for row in (0, 40, 254):
        members = g.membership[row]
        want = mp.back_transform(case["estimate"][row], case["measure"], ni=totals[members])
        assert g.frame["estimate"].iloc[row] == pytest.approx(want, rel=tol.CLOSED_FORM_RTOL)


def test_frame_columns_and_labels():
    res = mp.meta_prop(*PRITZ, labels=[f"s{i}" for i in range(14)], method="DL")
    g = mp.gosh(res, subsets=500, seed=3)
    assert list(g.frame.columns[:14]) == [f"s{i}" for i in range(14)]
    assert {"k", "estimate", "tau2", "i2", "q"} <= set(g.frame.columns)
    assert g.labels == tuple(f"s{i}" for i in range(14))


def test_random_subsets_are_seeded_and_independent_of_chunking():
    res = mp.meta_prop(*PRITZ, method="REML")
    a = mp.gosh(res, subsets=2000, seed=7)
    b = mp.gosh(res, subsets=2000, seed=7, chunk_size=123)
    c = mp.gosh(res, subsets=2000, seed=8)
    assert not a.exact and len(a.frame) == 2000
    np.testing.assert_array_equal(a.membership, b.membership)
    np.testing.assert_allclose(a.frame["tau2"], b.frame["tau2"], rtol=1e-12, atol=1e-14)
    assert not np.array_equal(a.membership, c.membership)
    k = a.frame["k"].to_numpy()
    assert (k >= 1).all() and (np.diff(k) >= 0).all()  # ordered by size, as metafor
    np.testing.assert_array_equal(k, a.membership.sum(axis=1))


def test_random_subset_sizes_follow_the_binomial():
    """Size s is drawn with probability C(k, s) / (2^k - 1), as in metafor."""
    res = mp.meta_prop(*PRITZ, method="FE")
    k = mp.gosh(res, subsets=40_000, seed=1).frame["k"].to_numpy()
    assert k.mean() == pytest.approx(7.0, abs=0.05)  # binomial(14, 1/2) mean
    assert k.var() == pytest.approx(3.5, rel=0.05)


def test_random_subsets_agree_with_one_fit_each():
    res = mp.meta_prop(*PRITZ, measure="PFT", method="REML")
    g = mp.gosh(res, subsets=50, seed=2)
    events, totals = (np.array(x) for x in PRITZ)
    for row in (0, 25, 49):
        members = g.membership[row]
        single = mp.meta_prop(events[members], totals[members], measure="PFT", method="REML")
        rtol, atol = tol.for_field("tau2", iterative=True)
        assert g.frame["tau2"].iloc[row] == pytest.approx(single.tau2, rel=rtol, abs=atol)
        assert g.frame["estimate"].iloc[row] == pytest.approx(single.estimate, rel=rtol)


def test_exact_when_all_subsets_fit_under_the_limit():
    res = mp.meta_prop(*PRITZ, method="DL")
    assert mp.gosh(res, subsets=2**14 - 1).exact
    assert not mp.gosh(res, subsets=2**14 - 2, seed=1).exact


def test_ctrl_c_returns_the_completed_chunks(monkeypatch, capsys):
    res = mp.meta_prop(*PRITZ, method="DL")
    calls = {"n": 0}
    real = gosh_module.fit_masked

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gosh_module, "fit_masked", interrupted)
    g = mp.gosh(res, chunk_size=1000, progress=False)
    assert not g.complete
    assert len(g.frame) == 2000 and g.n_subsets == 2**14 - 1
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(gosh_module, "fit_masked", real)
    np.testing.assert_array_equal(g.membership, mp.gosh(res).membership[:2000])


def test_progress_is_shown_on_request(capsys):
    res = mp.meta_prop(*PRITZ, method="FE")
    mp.gosh(res, subsets=300, seed=1, progress=True)
    assert "gosh" in capsys.readouterr().err
    mp.gosh(res, subsets=300, seed=1)
    assert capsys.readouterr().err == ""


def test_memory_is_bounded_by_the_result_not_the_chunks():
    """Peak traced memory stays near the result's size plus one chunk's work arrays."""
    rng = np.random.default_rng(5)
    totals = rng.integers(20, 200, size=20)
    events = rng.binomial(totals, 0.3)
    res = mp.meta_prop(events, totals, method="REML")
    n, chunk = 100_000, 4096
    tracemalloc.start()
    try:
        g = mp.gosh(res, subsets=n, seed=1, chunk_size=chunk, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result_bytes = g.membership.nbytes + 8 * 8 * n  # membership + 8 columns
    # the DataFrame copies the result once; the chunk's engine arrays are ~30 x 8 x 4096 x 20
    assert peak < 2 * result_bytes + 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_plot_returns_axes_and_highlights_a_study():
    import matplotlib.pyplot as plt

    res = mp.meta_prop(*PRITZ, method="DL", labels=[f"s{i}" for i in range(14)])
    g = mp.gosh(res, subsets=1000, seed=1)
    ax = g.plot()
    assert ax.get_xlabel() == "I² (%)"
    ax2 = g.plot(highlight="s3")
    assert len(ax2.collections) == 2
    assert "s3" in ax2.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="no study labelled"):
        g.plot(highlight="nope")
    plt.close("all")


def test_needs_two_studies():
    with pytest.raises(ValueError, match="at least 2 studies"):
        mp.gosh(mp.meta_prop([3], [10]))
    with pytest.raises(ValueError, match="subsets must be >= 2"):
        mp.gosh(mp.meta_prop(*PRITZ), subsets=1)


def test_glmm_results_are_refused():
    res = mp.meta_prop_glmm(*PRITZ)
    with pytest.raises(ValueError, match="inverse-variance models only"):
        mp.gosh(res)


@pytest.mark.needs_r
def test_fixture_is_what_the_script_makes(tmp_path):
    """Rerunning scripts/metafor_gosh.R with the installed metafor gives the pinned fixture."""
    assert_fixture_remade(FIXTURE.parents[2] / "scripts" / "metafor_gosh.R", FIXTURE, tmp_path)
