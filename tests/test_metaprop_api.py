"""metaprop's API cannot be misused quietly (issue 26, item 3).

One test per misuse, each asserting the message: the confidence level is checked in every
public function that takes one, result arrays are read-only, each role has one name,
diagnostics return result objects, unsupported keywords fail with a clear message, and no
message shows a numpy repr.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import matplotlib
import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from metaprop import _validation as val
from metaprop.glmm import glmm_profile_ci
from reference import cases, params

matplotlib.use("Agg")

X = [4, 10, 7, 12, 3]
N = [20, 25, 30, 24, 18]
GROUPS = ["a", "a", "b", "b", "b"]


@pytest.fixture(scope="module")
def res():
    return mp.meta_prop(X, N)


# ---------------------------------------------------------------- level
def _level_calls(res):
    """Every public callable that takes a level, as ``name -> f(level)``."""
    es = mp.escalc(X, N)
    return {
        "meta_prop": lambda lv: mp.meta_prop(X, N, level=lv),
        "meta_analysis": lambda lv: mp.meta_analysis(es, level=lv),
        "subgroup_analysis": lambda lv: mp.subgroup_analysis(X, N, GROUPS, level=lv),
        "fit_batch": lambda lv: mp.fit_batch(X, N, level=lv),
        "meta_prop_glmm": lambda lv: mp.meta_prop_glmm(X, N, level=lv),
        "glmm_profile_ci": lambda lv: glmm_profile_ci(X, N, level=lv),
        "meta_prop_bayes": lambda lv: mp.meta_prop_bayes(X, N, level=lv),
        "study_ci": lambda lv: mp.study_ci(X, N, level=lv),
        "estimates_to_effects": lambda lv: mp.estimates_to_effects(
            [20.0], [10.0], [30.0], level=lv
        ),
        "bootstrap": lambda lv: mp.bootstrap(res, n_boot=10, seed=1, level=lv),
        "MetaResult.tau2_ci": lambda lv: res.tau2_ci(level=lv),
        "MetaResult.i2_ci": lambda lv: res.i2_ci(level=lv),
        "GlmmResult.tau2_ci": lambda lv: mp.meta_prop_glmm(X, N).tau2_ci(level=lv),
        "GlmmResult.i2_ci": lambda lv: mp.meta_prop_glmm(X, N).i2_ci(level=lv),
        "meta_regression_glmm": lambda lv: mp.meta_regression_glmm(X, N, mods=N, level=lv),
        "tau2_profile_ci": lambda lv: mp.tau2_profile_ci(res, level=lv),
    }


BAD_LEVELS = [
    (1.5, "1.5"),  # a 1.5% interval: metafor's percent reading, almost surely a slip
    (0.05, "0.05"),  # metafor reads this as alpha (a 95% interval); the plain reading is 5%
    (0.0, "0.0"),
    (1.0, "1.0"),
    (100, "100"),
    (-0.95, "-0.95"),
    (float("nan"), "nan"),
    (np.float64(np.inf), "inf"),
    (True, "True"),
    ("95", "'95'"),
    (None, "None"),
]
NAMES = list(_level_calls(None))
OPTIONAL_LEVEL = (
    "bootstrap",
    "MetaResult.tau2_ci",
    "MetaResult.i2_ci",
    "GlmmResult.tau2_ci",
    "GlmmResult.i2_ci",
    "tau2_profile_ci",
)


LEVEL_CASES = [
    pytest.param(name, bad, shown, id=f"{name}-{shown}")
    for name in NAMES
    for bad, shown in BAD_LEVELS
    if not (bad is None and name in OPTIONAL_LEVEL)  # None: the fit's level (tested below)
]


@pytest.mark.parametrize(("name", "bad", "shown"), LEVEL_CASES)
def test_every_level_argument_refuses_a_value_that_is_no_level(res, name, bad, shown):
    call = _level_calls(res)[name]
    message = (
        r"^level must be a fraction in \[0\.5, 1\) or a percentage in \[50, 100\) "
        rf"\(95 or 0\.95 for a 95% interval\), got {re.escape(shown)}$"
    )
    with pytest.raises(ValueError, match=message):
        call(bad)


def test_level_none_means_the_fits_level_where_documented(res):
    # bootstrap and the tau2 intervals take level=None as "the fit's level"
    assert res.tau2_ci(level=None) == res.tau2_ci(level=res.level)
    assert res.i2_ci(level=None) == res.i2_ci(level=res.level)
    assert mp.bootstrap(res, n_boot=10, seed=1).level == res.level


@pytest.mark.parametrize(
    ("given", "fraction"), [(95, 0.95), (0.95, 0.95), (50, 0.5), (99.9, 0.999)]
)
def test_percentages_read_as_metafor_reads_them(given, fraction):
    assert val.check_level(given) == pytest.approx(fraction, abs=1e-15)
    a = mp.meta_prop(X, N, level=given)
    b = mp.meta_prop(X, N, level=fraction)
    assert a.level == pytest.approx(b.level, abs=1e-15)
    assert a.ci == pytest.approx(b.ci, abs=1e-15)


def test_funnel_contour_levels_are_checked_by_name(res):
    with pytest.raises(ValueError, match=r"^levels must be a fraction .* got 1\.5$"):
        mp.funnel_plot(res, contours=True, levels=(0.9, 1.5))


def test_level_array_is_refused():
    with pytest.raises(ValueError, match=r"^level must be .* got \[0\.9, 0\.95\]$"):
        mp.meta_prop(X, N, level=np.array([0.9, 0.95]))


def test_the_level_cases_cover_every_public_callable_with_a_level():
    import inspect

    found = set()
    for name in mp.__all__:
        obj = getattr(mp, name)
        if inspect.isclass(obj):
            for meth, fn in inspect.getmembers(obj, inspect.isfunction):
                if not meth.startswith("_") and "level" in inspect.signature(fn).parameters:
                    found.add(f"{name}.{meth}")
        elif callable(obj) and "level" in inspect.signature(obj).parameters:
            found.add(name)
    assert found - set(NAMES) == set()
    assert "meta_prop" in found and "MetaResult.tau2_ci" in found


# ---------------------------------------------------------------- read-only arrays
def _results(res):
    """One instance of every public result dataclass."""
    sg = mp.subgroup_analysis(X, N, GROUPS)
    return {
        "MetaResult": res,
        "EffectSizes": mp.escalc(X, N),
        "BatchResult": mp.fit_batch(X, N),
        "BootstrapResult": mp.bootstrap(res, n_boot=10, seed=1),
        "GoshResult": mp.gosh(res),
        "BayesResult": mp.meta_prop_bayes(X, N, n_mu=40, n_tau=20),
        "EggerResult": mp.egger_test(res),
        "RankTestResult": mp.begg_test(res),
        "TrimFillResult": mp.trim_and_fill(res),
        "SubgroupResult": sg,
        "SubgroupResult.results['a']": sg.results["a"],
        "GLMM MetaResult": mp.meta_prop_glmm(X, N),
    }


def test_every_result_array_is_read_only(res):
    checked = 0
    for name, obj in _results(res).items():
        arrays = [
            f.name for f in dataclasses.fields(obj) if isinstance(getattr(obj, f.name), np.ndarray)
        ]
        for field in arrays:
            arr = getattr(obj, field)
            assert not arr.flags.writeable, f"{name}.{field} is writeable"
            with pytest.raises(ValueError, match="read-only"):
                arr[(0,) * arr.ndim] = 0
            checked += 1
    assert checked >= 20


def test_assigning_into_weights_raises_and_leaves_the_result_unchanged(res):
    before = res.weights.copy()
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        res.weights[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        res.yi += 1.0
    np.testing.assert_array_equal(res.weights, before)


def test_the_callers_arrays_stay_writeable():
    yi = np.array([0.1, 0.4, -0.2])
    vi = np.array([0.05, 0.04, 0.06])
    fit = mp.meta_analysis(yi, vi)
    assert yi.flags.writeable and vi.flags.writeable
    assert not fit.yi.flags.writeable


# ---------------------------------------------------------------- one name per role
COUNT_FUNCTIONS = [
    "escalc",
    "meta_prop",
    "subgroup_analysis",
    "meta_prop_glmm",
    "meta_prop_bayes",
    "fit_batch",
]


@pytest.mark.parametrize("name", COUNT_FUNCTIONS)
def test_counts_have_one_name_each_and_metafor_names_are_not_accepted(name):
    import inspect

    params = inspect.signature(getattr(mp, name)).parameters
    assert "events" in params and "totals" in params
    assert not {"xi", "ni", "x", "n"} & set(params)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'xi'"):
        getattr(mp, name)(xi=X, ni=N)


def test_effect_sizes_have_one_name_each():
    import inspect

    params = inspect.signature(mp.meta_analysis).parameters
    assert list(params)[:3] == ["yi", "vi", "sei"]
    assert not {"y", "v"} & set(params)


def test_the_same_role_twice_is_pythons_error():
    with pytest.raises(TypeError, match=r"multiple values for argument 'events'"):
        mp.meta_prop(X, N, events=X)
    with pytest.raises(TypeError, match=r"multiple values for argument 'vi'"):
        mp.meta_analysis([0.1, 0.2], [0.01, 0.02], vi=[0.01, 0.02])


def test_a_dataframe_goes_in_data():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": X, "n": N, "g": GROUPS})
    with pytest.raises(
        ValueError,
        match=r"^events is a DataFrame: give the table as data= and name its columns, "
        r"data=df, events='column', totals='column'$",
    ):
        mp.meta_prop(df)
    with pytest.raises(TypeError, match=r"multiple values for argument 'events'"):
        mp.meta_prop(df, events="x", totals="n")
    with pytest.raises(ValueError, match=r"^yi is a DataFrame: .* data=df, yi='column'"):
        mp.meta_analysis(df)
    with pytest.raises(ValueError, match=r"^data must be a pandas DataFrame, got list$"):
        mp.meta_prop("x", "n", data=[1, 2])
    with pytest.raises(ValueError, match=r"^groups is a DataFrame"):
        mp.subgroup_analysis(X, N, df)
    by_name = mp.meta_prop(data=df, events="x", totals="n")
    by_position = mp.meta_prop("x", "n", data=df)
    assert by_name.estimate == by_position.estimate == mp.meta_prop(X, N).estimate


def test_subgroups_of_a_fit_take_only_the_groups(res):
    with pytest.raises(ValueError, match=r"^with a MetaResult, give only the groups$"):
        mp.subgroup_analysis(res, GROUPS, groups=GROUPS)
    with pytest.raises(ValueError, match=r"do not pass method, level \(refit with meta_prop"):
        mp.subgroup_analysis(res, GROUPS, method="DL", level=0.9)
    a = mp.subgroup_analysis(res, GROUPS)
    b = mp.subgroup_analysis(res, groups=GROUPS)
    assert a.q_between == b.q_between


# ---------------------------------------------------------------- diagnostics vs metafor
API_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "metafor_api.json"
API_REF = json.loads(API_FIXTURE.read_text())
"""metafor's leave1out() Q/Qp and rma(mods = ~ group) QE, made by
scripts/metafor_api_reference.R from the yi, vi of every case of metafor_proportions.json."""


def _api_case(dataset, case):
    key = (dataset["name"], case["measure"], case["method"], case["test"])
    found = [
        c for c in API_REF["cases"] if (c["dataset"], c["measure"], c["method"], c["test"]) == key
    ]
    assert len(found) == 1, key
    return found[0]


def _close(field, got, want, case):
    rtol, atol = tol.for_field(field, iterative=case["method"] in tol.ITERATIVE_METHODS)
    got = np.asarray(got, dtype=float)
    want = np.asarray([np.nan if w is None else w for w in np.atleast_1d(want)], dtype=float)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=field)


def test_the_api_fixture_covers_every_reference_case():
    assert API_REF["source"]["metafor"] == "3.8.1"
    assert len(API_REF["cases"]) == len(params("leave1out")) > 0
    grouped = [c for c in API_REF["cases"] if "moderator" in c]
    assert len(grouped) == sum(1 for ds, _ in cases("fit") if ds["groups"] is not None) > 0


@pytest.mark.parametrize(("dataset", "case"), params("leave1out"))
def test_leave_one_out_q_and_its_pvalue_match_metafor(dataset, case):
    ref = _api_case(dataset, case)["leave1out"]
    res = mp.meta_prop(
        dataset["events"],
        dataset["totals"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )
    loo = mp.leave_one_out(res)
    assert isinstance(loo, mp.LeaveOneOutResult)
    np.testing.assert_array_equal(loo.q_df, loo.k - 1)
    _close("Q", loo.q, ref["Q"], case)
    _close("pval", loo.q_pvalue, ref["Qp"], case)
    _close("zval", loo.statistic, ref["stat"], case)
    _close("pval", loo.pvalue, ref["pval"], case)
    _close("H2", loo.h2, ref["H2"], case)
    frame = loo.to_frame()
    assert frame["q_pvalue"].tolist() == loo.q_pvalue.tolist()
    assert frame["label"].tolist() == list(res.labels)


GROUPED = [p for p in params("leave1out") if p.values[0]["groups"] is not None]


@pytest.mark.parametrize(("dataset", "case"), GROUPED)
def test_moderator_test_reports_residual_heterogeneity_as_metafor(dataset, case):
    ref = _api_case(dataset, case).get("moderator")
    sg = mp.subgroup_analysis(
        dataset["events"],
        dataset["totals"],
        dataset["groups"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )
    mt = sg.moderator
    if ref is None:  # metafor's rma(mods=) stopped: not estimable here either
        assert np.isnan(mt.qe) and np.isnan(mt.qe_pvalue)
        return
    assert mt.qe_df == ref["QE_df"]
    _close("Q", mt.qe, ref["QE"], case)
    _close("pval", mt.qe_pvalue, ref["QEp"], case)
    _close("Q", mt.statistic, ref["QM"], case)
    _close("pval", mt.pvalue, ref["QMp"], case)


# ---------------------------------------------------------------- short reprs, to_frame
def test_every_result_has_a_short_repr_and_a_table(res):
    pd = pytest.importorskip("pandas")
    objs = dict(_results(res), LeaveOneOutResult=mp.leave_one_out(res))
    for name, obj in objs.items():
        text = repr(obj)
        assert "\n" not in text and len(text) <= 200, (name, text)
        assert "array(" not in text and "np." not in text, (name, text)
        assert text.startswith(type(obj).__name__ + "("), (name, text)
        assert isinstance(obj.to_frame(), pd.DataFrame), name


def test_a_gosh_result_does_not_print_its_table(res):
    g = mp.gosh(res)
    assert g.n_subsets == 2 ** len(X) - 1
    assert repr(g) == (
        "GoshResult(fits=31, k=5, measure='PLO', method='REML', exact=True, complete=True)"
    )
    assert len(g.to_frame()) == 31


# ---------------------------------------------------------------- unsupported keywords
def _public_functions():
    import inspect

    return {name: getattr(mp, name) for name in mp.__all__ if inspect.isfunction(getattr(mp, name))}


@pytest.mark.parametrize("keyword", ["weights", "collapse", "methd", "xi", "mods"])
@pytest.mark.parametrize("name", sorted(_public_functions()))
def test_an_unsupported_keyword_is_named_in_pythons_message(name, keyword):
    import inspect

    fn = _public_functions()[name]
    params = inspect.signature(fn).parameters
    if keyword in params:
        pytest.skip(f"{name} supports {keyword}=")  # added by the features of issue 26
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), f"{name} takes **kwargs"
    with pytest.raises(
        TypeError, match=rf"^{name}\(\) got an unexpected keyword argument '{keyword}'$"
    ):
        fn(**{keyword: None})


def test_weights_and_collapse_where_unsupported_name_the_function_and_argument(res):
    with pytest.raises(
        TypeError, match=r"^meta_prop_glmm\(\) got an unexpected keyword argument 'weights'$"
    ):
        mp.meta_prop_glmm(X, N, weights=[1] * len(X))
    with pytest.raises(
        TypeError, match=r"^leave_one_out\(\) got an unexpected keyword argument 'collapse'$"
    ):
        mp.leave_one_out(res, collapse=True)


# ---------------------------------------------------------------- no numpy reprs in messages
def _bad_calls(res):
    """Calls that fail, with numpy scalars and arrays wherever a user might pass them."""
    f64, i64, arr = np.float64, np.int64, np.array
    return {
        "0/n without correction": lambda: mp.meta_prop(
            arr([3, 0, 5]), arr([10, 10, 20]), to="none"
        ),
        "events > totals": lambda: mp.meta_prop(arr([3, 12]), arr([10, 10])),
        "infinite totals": lambda: mp.meta_prop(arr([3.0, 4.0]), arr([10.0, np.inf])),
        "non-integer events": lambda: mp.escalc(arr([3.0, 2.5]), arr([10, 10])),
        "yi not finite": lambda: mp.meta_analysis(arr([0.1, -np.inf]), arr([0.01, 0.02])),
        "vi not finite": lambda: mp.meta_analysis(arr([0.1, 0.2]), arr([0.01, np.nan])),
        "vi negative": lambda: mp.meta_analysis(arr([0.1, 0.2]), arr([0.01, -0.02])),
        "ni not positive": lambda: mp.meta_analysis(arr([0.1]), arr([0.01]), ni=arr([0.0])),
        "level": lambda: mp.meta_prop(X, N, level=f64(1.5)),
        "level array": lambda: mp.meta_prop(X, N, level=arr([0.9])),
        "measure": lambda: mp.meta_prop(X, N, measure=np.str_("OR")),
        "method": lambda: mp.meta_prop(X, N, method=np.str_("REM")),
        "add": lambda: mp.meta_prop(X, N, add=f64(-0.5)),
        "batch add": lambda: mp.fit_batch(X, N, add=f64(-0.5)),
        "bayes tau_scale": lambda: mp.meta_prop_bayes(X, N, tau_scale=f64(-1.0)),
        "bayes n_mu": lambda: mp.meta_prop_bayes(X, N, n_mu=i64(4)),
        "bayes mu_prior_mean": lambda: mp.meta_prop_bayes(X, N, mu_prior_mean=f64(np.nan)),
        "bootstrap n_boot": lambda: mp.bootstrap(res, n_boot=i64(1)),
        "gosh subsets": lambda: mp.gosh(res, subsets=i64(1)),
        "back_transform ni": lambda: mp.back_transform(0.5, "PFT", ni=arr([10.0, 0.0])),
        "estimate outside": lambda: mp.estimates_to_effects(arr([120.0]), arr([10.0]), arr([30.0])),
        "estimate outside CI": lambda: mp.estimates_to_effects(
            arr([50.0]), arr([10.0]), arr([30.0])
        ),
        "string events": lambda: mp.meta_prop(np.str_("12"), [10]),
    }


def test_no_error_message_shows_a_numpy_repr(res):
    messages = {}
    for name, call in _bad_calls(res).items():
        with pytest.raises(ValueError) as err:
            call()
        messages[name] = str(err.value)
    shown = {n: m for n, m in messages.items() if re.search(r"np\.|array\(|dtype", m)}
    assert shown == {}
    # the example: the infinite logit of a 0/n study reads as -inf
    assert "yi = -inf, vi = inf" in messages["0/n without correction"]
    assert "got 1.5" in messages["level"] and "unknown measure 'OR'" in messages["measure"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float64(-np.inf), "-inf"),
        (np.float32(0.5), "0.5"),
        (np.int64(3), "3"),
        (np.bool_(True), "True"),
        (np.str_("OR"), "'OR'"),
        (np.array([1.5, 2.0]), "[1.5, 2.0]"),
        (None, "None"),
    ],
)
def test_plain_prints_numbers_as_python_does(value, text):
    assert val.plain(value) == text
