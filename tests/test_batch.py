"""fit_batch equals one-at-a-time meta_prop fits (issue 14, item 1).

For every reference dataset (``tests/fixtures/metafor_proportions.json``), measure, tau^2
estimator and test, one batch holds the full dataset and every leave-one-out subset; each
row must equal ``meta_prop`` on the same studies to the reference tolerances
(``tests/tolerances.py``). Stacked datasets (padded with a mask) and generic ``yi``/``vi``
input are checked the same way. Test ids follow ``dataset-MEASURE-METHOD-test``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_proportions.json"
DATASETS = {d["name"]: d for d in json.loads(FIXTURE.read_text())["datasets"]}
MEASURES = ("PR", "PLO", "PAS", "PFT")
METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
TESTS = ("z", "knha", "adhoc")

# BatchResult attribute -> (MetaResult attribute, name in tolerances.for_field)
FIELDS = {
    "estimate_t": ("estimate_t", "estimate_t"),
    "se_t": ("se_t", "se_t"),
    "statistic": ("statistic", "stat"),
    "pvalue": ("pvalue", "pval"),
    "tau2": ("tau2", "tau2"),
    "i2": ("i2", "I2"),
    "h2": ("h2", "H2"),
    "q": ("q", "QE"),
    "estimate": ("estimate", "estimate"),
}
CASES = [
    pytest.param(name, measure, method, test, id=f"{name}-{measure}-{method}-{test}")
    for name in DATASETS
    for measure in MEASURES
    for method in METHODS
    for test in TESTS
]


def _close(got, want, field: str, method: str, what: str) -> None:
    rtol, atol = tol.for_field(field, iterative=method in tol.ITERATIVE_METHODS)
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, what
    both_nan = np.isnan(got) & np.isnan(want)
    ok = both_nan | (np.abs(got - want) <= atol + rtol * np.abs(want))
    assert ok.all(), f"{what}: {field} batch {got[~ok]} vs single {want[~ok]}"


def _check_row(batch, j: int, single, method: str, what: str) -> None:
    assert batch.k[j] == single.k, what
    assert bool(batch.converged[j]) == bool(single.converged), what
    for attr, (single_attr, field) in FIELDS.items():
        _close(getattr(batch, attr)[j], getattr(single, single_attr), field, method, what)
    _close([batch.ci_t_low[j], batch.ci_t_high[j]], list(single.ci_t), "ci_t", method, what)
    _close([batch.ci_low[j], batch.ci_high[j]], list(single.ci), "ci", method, what)


def _meta_prop(events, totals, *, method, test, **kw):
    """meta_prop, allowing a warning about FE with a Knapp-Hartung test (batch: silent)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Knapp-Hartung", category=UserWarning)
        return mp.meta_prop(events, totals, method=method, test=test, **kw)


@pytest.mark.parametrize(("name", "measure", "method", "test"), CASES)
def test_subsets_equal_single_fits(name, measure, method, test):
    """The full dataset and each leave-one-out subset, fitted in one batch."""
    ds = DATASETS[name]
    events, totals = np.array(ds["events"]), np.array(ds["totals"])
    k = events.size
    membership = np.vstack([np.ones((1, k), dtype=bool), ~np.eye(k, dtype=bool)])
    batch = mp.fit_batch(
        events, totals, membership=membership, measure=measure, method=method, test=test
    )
    assert len(batch) == k + 1
    for j, row in enumerate(membership):
        # metafor's rma.uni fits one study with test="z" (no df for Knapp-Hartung)
        test_j = "z" if row.sum() == 1 else test
        single = _meta_prop(events[row], totals[row], measure=measure, method=method, test=test_j)
        _check_row(batch, j, single, method, f"row {j} of {name}")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("measure", MEASURES)
def test_stacked_datasets_equal_single_fits(measure, method):
    """The reference datasets stacked into one (m, k) array, padded and masked."""
    names = list(DATASETS)
    width = max(len(DATASETS[n]["events"]) for n in names)
    events = np.zeros((len(names), width), dtype=int)
    totals = np.ones((len(names), width), dtype=int)
    mask = np.zeros((len(names), width), dtype=bool)
    for j, name in enumerate(names):
        k = len(DATASETS[name]["events"])
        events[j, :k], totals[j, :k], mask[j, :k] = (
            DATASETS[name]["events"],
            DATASETS[name]["totals"],
            True,
        )
    batch = mp.fit_batch(events, totals, membership=mask, measure=measure, method=method)
    for j, name in enumerate(names):
        ds = DATASETS[name]
        single = mp.meta_prop(ds["events"], ds["totals"], measure=measure, method=method)
        _check_row(batch, j, single, method, name)


@pytest.mark.parametrize("method", METHODS)
def test_effect_size_input_equals_meta_analysis(method):
    """Generic yi/vi (1-D with membership, and stacked 2-D) against meta_analysis."""
    ds = DATASETS["debruin2009"]
    es = mp.escalc(ds["events"], ds["totals"], measure="PLO")
    membership = ~np.eye(es.k, dtype=bool)
    one_d = mp.fit_batch(yi=es.yi, vi=es.vi, membership=membership, measure="logit", method=method)
    stacked = mp.fit_batch(
        yi=np.where(membership, es.yi, np.nan),
        vi=np.where(membership, es.vi, np.nan),
        membership=membership,
        measure="PLO",
        method=method,
    )
    for j, row in enumerate(membership):
        single = mp.meta_analysis(es.yi[row], es.vi[row], method=method, transform="logit")
        _check_row(one_d, j, single, method, f"1-D row {j}")
        _check_row(stacked, j, single, method, f"stacked row {j}")


def test_pft_back_transform_uses_each_fits_harmonic_mean():
    """PFT: each fit back-transforms with the harmonic mean of its own studies' totals."""
    ds = DATASETS["rare_events"]
    totals = np.array(ds["totals"])
    membership = np.array([[True] * 4 + [False] * 4, [False] * 4 + [True] * 4])
    batch = mp.fit_batch(ds["events"], totals, membership=membership, measure="PFT", method="DL")
    for j, row in enumerate(membership):
        want = mp.back_transform(batch.estimate_t[j], "PFT", ni=totals[row])
        assert batch.estimate[j] == pytest.approx(want, rel=tol.CLOSED_FORM_RTOL)
    assert batch.estimate[0] != pytest.approx(
        mp.back_transform(batch.estimate_t[0], "PFT", ni=totals)
    )


def test_if0all_is_decided_per_stacked_dataset():
    """to='if0all' corrects every study of a dataset with a zero cell, and only those."""
    events = np.array([[0, 5, 9], [3, 5, 9]])
    totals = np.array([[20, 30, 40], [20, 30, 40]])
    batch = mp.fit_batch(events, totals, to="if0all", method="DL")
    for j in range(2):
        single = mp.meta_prop(events[j], totals[j], to="if0all", method="DL")
        _check_row(batch, j, single, "DL", f"dataset {j}")


def test_single_study_fits_use_z_as_metafor():
    """A one-study fit with knha falls back to z, as metafor's rma.uni (k = 1)."""
    ds = DATASETS["pritz1997"]
    batch = mp.fit_batch(
        ds["events"], ds["totals"], membership=np.eye(3, 14, dtype=bool), method="REML", test="knha"
    )
    z = mp.fit_batch(
        ds["events"], ds["totals"], membership=np.eye(3, 14, dtype=bool), method="REML", test="z"
    )
    assert np.isfinite(batch.ci_t_low).all()
    np.testing.assert_array_equal(batch.ci_t_low, z.ci_t_low)
    np.testing.assert_array_equal(batch.tau2, 0.0)


def test_to_frame_has_one_row_per_fit():
    ds = DATASETS["pritz1997"]
    membership = ~np.eye(14, dtype=bool)
    frame = mp.fit_batch(ds["events"], ds["totals"], membership=membership).to_frame()
    assert len(frame) == 14
    assert {"k", "estimate", "tau2", "i2", "h2", "q", "converged"} <= set(frame.columns)
    assert (frame["k"] == 13).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"membership": [[True, False, False], [False, False, False]]}, "fit 1 has no study"),
        ({"membership": [[True, False]]}, "membership must have shape"),
        ({"membership": [[2, 0, 1]]}, "boolean"),
        ({"method": "XX"}, "unknown method"),
        ({"test": "t"}, "unknown test"),
        ({"measure": "OR"}, "unknown measure"),
    ],
)
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mp.fit_batch([1, 2, 3], [10, 10, 10], **kwargs)


@pytest.mark.parametrize(
    ("events", "totals", "message"),
    [
        ([[1, 2], [12, 3]], [[10, 10], [10, 10]], r"dataset 1, study at index 0: events \(12\)"),
        ([[1, -2], [1, 3]], [[10, 10], [10, 10]], "dataset 0, study at index 1: events is neg"),
        ([[1, 2], [1, 3]], [[10, 10], [0, 10]], "dataset 1, study at index 0: totals is 0"),
        ([[1, 2.5], [1, 3]], [[10, 10], [10, 10]], "not an integer"),
        ([[1, np.nan], [1, 3]], [[10, 10], [10, 10]], "missing"),
        ([[1, 2], [1, 3]], [[10, 10, 10], [10, 10, 10]], "shape"),
        ([[[1]]], [[[10]]], "1-D"),
    ],
)
def test_bad_stacked_counts_name_the_dataset_and_study(events, totals, message):
    with pytest.raises(ValueError, match=message):
        mp.fit_batch(np.array(events), np.array(totals))


def test_padding_is_ignored():
    """Values outside the mask (even NaN or events > totals) do not enter any fit."""
    events = np.array([[4, 9, 99], [4, 9, 12]])
    totals = np.array([[20, 30, -1], [20, 30, 25]])
    mask = np.array([[True, True, False], [True, True, True]])
    batch = mp.fit_batch(events, totals, membership=mask, method="REML")
    single = mp.meta_prop([4, 9], [20, 30], method="REML")
    _check_row(batch, 0, single, "REML", "padded row")


def test_effect_input_errors():
    with pytest.raises(ValueError, match="either events/totals or yi/vi"):
        mp.fit_batch([1, 2], [10, 10], yi=[0.1, 0.2], vi=[0.1, 0.1])
    with pytest.raises(ValueError, match="needs the totals"):
        mp.fit_batch(yi=[0.1, 0.2], vi=[0.1, 0.1], measure="PFT")
    with pytest.raises(ValueError, match="vi must be finite and > 0"):
        mp.fit_batch(yi=[[0.1, 0.2]], vi=[[0.1, 0.0]])


def test_many_fits_are_chunked_in_order():
    """Batches larger than one engine chunk come back in input order, fit by fit."""
    rng = np.random.default_rng(14)
    totals = rng.integers(20, 300, size=(9000, 16))
    events = rng.binomial(totals, 0.3)
    batch = mp.fit_batch(events, totals, method="REML", test="knha")
    assert len(batch) == 9000
    rows = [0, 8191, 8192, 8999]
    few = mp.fit_batch(events[rows], totals[rows], method="REML", test="knha")
    for name in ("estimate_t", "se_t", "tau2", "i2", "q", "ci_t_low"):
        np.testing.assert_allclose(getattr(batch, name)[rows], getattr(few, name), rtol=1e-12)
