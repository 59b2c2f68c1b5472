"""Bad input gives a ValueError that names the study (index and label) and the value."""

from __future__ import annotations

import metaprop as mp
import numpy as np
import pytest

LABELS = ["Ames 2001", "Berg 2003", "Cruz 2010"]


@pytest.mark.parametrize(
    ("events", "totals", "pattern"),
    [
        ([3, 12, 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events \(12\) > totals \(10\)"),
        ([3, -1, 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events is negative \(-1\)"),
        ([3, 4, 5], [10, 10, -20], r"index 2 \('Cruz 2010'\): totals is negative \(-20\)"),
        ([3, 2.5, 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events is not an integer \(2\.5\)"),
        ([3, 4, 5], [10, 10.2, 20], r"index 1 \('Berg 2003'\): totals is not an integer"),
        ([3, np.nan, 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events is missing \(NaN\)"),
        ([3, None, 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events is missing"),
        ([0, 4, 5], [0, 10, 20], r"index 0 \('Ames 2001'\): totals is 0"),
        ([3, "x", 5], [10, 10, 20], r"index 1 \('Berg 2003'\): events is not a number: 'x'"),
        ([3, 4, 5], [10, 10, np.inf], r"index 2 \('Cruz 2010'\): totals is not finite"),
    ],
)
def test_bad_counts_name_the_study_and_value(events, totals, pattern):
    for fn in (mp.meta_prop, mp.escalc):
        with pytest.raises(ValueError, match=pattern):
            fn(events, totals, labels=LABELS)


def test_default_labels_are_named_too():
    with pytest.raises(ValueError, match=r"index 2 \('Study 3'\): events \(21\) > totals \(20\)"):
        mp.meta_prop([3, 4, 21], [10, 10, 20])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"events": [1, 2, 3], "totals": [10, 10]}, r"length mismatch: 3 events but 2 totals"),
        ({"events": [], "totals": []}, r"no studies: k = 0"),
        ({"events": [1, 2], "totals": [10, 10], "labels": ["a"]}, r"2 studies but 1 labels"),
        ({"events": [1, 2], "totals": None}, r"totals are required"),
        ({"events": "12", "totals": [10]}, r"got the string '12'"),
        ({"events": [[1, 2]], "totals": [[10, 10]]}, r"one-dimensional"),
    ],
)
def test_bad_shapes(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        mp.meta_prop(**kwargs)


@pytest.mark.parametrize(
    ("option", "value", "pattern"),
    [
        ("measure", "OR", r"unknown measure 'OR'; expected one of PR, PLO, PAS, PFT"),
        ("method", "REM", r"unknown method 'REM'; expected one of FE, DL, REML"),
        ("test", "t", r"unknown test 't'; expected one of z, knha, adhoc"),
        ("to", "some", r"unknown to 'some'"),
        ("level", 1.5e2, r"level must be a fraction in \[0\.5, 1\) or a percentage in \[50, 100\)"),
        ("add", -0.5, r"add must be a finite number >= 0"),
    ],
)
def test_unknown_options(option, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        mp.meta_prop([1, 2, 3], [10, 10, 10], **{option: value})


def test_zero_events_without_correction_names_the_study():
    with pytest.raises(ValueError, match=r"index 1 \('Berg 2003'\): 0/10 events gives yi"):
        mp.meta_prop([3, 0, 5], [10, 10, 20], labels=LABELS, to="none")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.0]}, r"index 1 \('Study 2'\): vi must be > 0, got 0"),
        ({"yi": [0.1, 0.2], "vi": [0.01, -0.02]}, r"vi must be > 0, got -0\.02"),
        ({"yi": [0.1, 0.2], "sei": [0.1, -1]}, r"index 1 .*sei must be > 0, got -1"),
        ({"yi": [0.1, np.nan], "vi": [0.01, 0.02]}, r"index 1 \('Study 2'\): yi is not finite"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "sei": [0.1, 0.1]}, r"exactly one of vi"),
        ({"yi": [0.1, 0.2], "vi": [0.01]}, r"length mismatch: 2 yi but 1 vi"),
        ({"yi": [0.1], "vi": [0.01], "transform": "probit"}, r"unknown transform 'probit'"),
        ({"yi": [0.1], "vi": [0.01], "transform": "PFT"}, r"needs the sample sizes ni"),
        ({"yi": [0.1], "vi": [0.01], "ni": [0]}, r"index 0 .*ni must be a positive number"),
    ],
)
def test_bad_generic_input(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        mp.meta_analysis(**kwargs)


def test_dataframe_columns_are_checked():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 12], "n": [10, 10], "study": ["A", "B"]})
    with pytest.raises(ValueError, match=r"column 'events' \(for events\) not found"):
        mp.meta_prop(data=df, events="events", totals="n")
    with pytest.raises(ValueError, match=r"index 1 \('B'\): events \(12\) > totals \(10\)"):
        mp.meta_prop(data=df, events="x", totals="n", labels="study")
    with pytest.raises(ValueError, match="give the column names"):
        mp.meta_prop(data=df, events="x")


def test_study_ci_and_prediction_interval_checks():
    with pytest.raises(ValueError, match=r"unknown method 'jeffreys'"):
        mp.study_ci([1], [10], method="jeffreys")
    res = mp.meta_prop([3, 5], [10, 12])
    with pytest.raises(ValueError, match=r"unknown dist 't\(k\)'"):
        res.prediction_interval("t(k)")
    with pytest.warns(UserWarning, match=r"t\(k-2\) prediction interval needs k >= 3; k = 2"):
        pi = res.prediction_interval("t(k-2)")
    assert np.isnan(pi.low) and np.isnan(pi.high)


def test_effect_sizes_keep_their_scale():
    es = mp.escalc([4, 10, 7], [20, 25, 30], measure="PAS")
    assert mp.meta_analysis(es).transform == "PAS"
    with pytest.raises(ValueError, match=r"transform='logit' contradicts the EffectSizes scale"):
        mp.meta_analysis(es, transform="logit")
    with pytest.raises(ValueError, match="already holds yi and vi"):
        mp.meta_analysis(es, vi=[0.1, 0.1, 0.1])
