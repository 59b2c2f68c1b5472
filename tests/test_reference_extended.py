"""metaprop against the extended metafor reference (``tests/fixtures/metafor_extended.json``).

The fixture is made by ``scripts/metafor_reference.R`` from ``scripts/reference_inputs.json``
(R metafor, tight convergence control). It repeats the grid of the vendored reference
(tested in its own module) and adds what this module tests:

- every case fitted with ``test="adhoc"`` (Knapp-Hartung with the ad hoc floor);
- the datasets ``single_study`` (k = 1) and ``survival_cloglog`` / ``survival_logit``
  (generic ``rma(yi, vi)`` input built from reported percentages with CIs), every case;
- ``regtest()`` with each predictor and model, for every case with k >= 3;
- model weights, degrees of freedom and SE of tau^2 of every fit;
- per-study Clopper-Pearson, Wilson and Wald intervals.

Test ids follow ``dataset-MEASURE-METHOD-test`` (``GEN`` for generic input), e.g.
``pritz1997-PLO-REML-adhoc``, and ``dataset-regtest-PREDICTOR-MODEL``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "metafor_extended.json"
VENDORED = ROOT / "tests" / "fixtures" / "metafor_proportions.json"
GENERATOR = ROOT / "scripts" / "metafor_reference.R"
INPUTS = ROOT / "scripts" / "reference_inputs.json"

REF = json.loads(FIXTURE.read_text())
DATASETS = {d["name"]: d for d in REF["datasets"]}
NEW_DATASETS = ("single_study", "survival_cloglog", "survival_logit")
GRID = REF["source"]["grid"]
PREDICTORS = GRID["predictors"]
MODELS = GRID["models"]
STUDY_CI_METHODS = ("exact", "wilson", "wald")


def case_id(ds: dict, case: dict) -> str:
    return f"{ds['name']}-{case['measure']}-{case['method']}-{case['test']}"


NEW_CASES = [
    (ds, case)
    for ds in REF["datasets"]
    for case in ds["cases"]
    if ds["name"] in NEW_DATASETS or case["test"] == "adhoc"
]
REGTEST_PARAMS = [
    (name, predictor, model)
    for name, ds in DATASETS.items()
    if len(ds["cases"][0]["yi"]) >= 3
    for predictor in PREDICTORS
    for model in MODELS
]
BINOMIAL = [name for name, ds in DATASETS.items() if ds["kind"] == "binomial"]
GENERIC = [name for name, ds in DATASETS.items() if ds["kind"] == "generic"]
STUDY_CI_PARAMS = [
    (name, block["level"], method)
    for name in BINOMIAL
    for block in DATASETS[name]["study_ci"]
    for method in STUDY_CI_METHODS
]


# ---- comparison helpers -------------------------------------------------------------------


def _arr(x) -> np.ndarray:
    """Numbers, None or sequences as a float array (None -> NaN)."""
    if x is None:
        return np.array([np.nan])
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


class Checker:
    """Collects every disagreement of one test, so that a failure lists them all."""

    def __init__(self, where: str, iterative: bool):
        self.where = where
        self.iterative = iterative
        self.problems: list[str] = []

    def close(self, field: str, got, want, *, kind: str | None = None) -> None:
        rtol, atol = tol.for_field(kind or field, iterative=self.iterative)
        got_a, want_a = _arr(got), _arr(want)
        if got_a.shape != want_a.shape or not np.allclose(
            got_a, want_a, rtol=rtol, atol=atol, equal_nan=True
        ):
            self.problems.append(
                f"{self.where} {field}: metaprop {got_a.tolist()} metafor {want_a.tolist()}"
            )

    def equal(self, field: str, got, want) -> None:
        if got != want:
            self.problems.append(f"{self.where} {field}: metaprop {got!r} metafor {want!r}")

    def done(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def _fit(ds: dict, case: dict):
    """metaprop's counterpart of the case's rma() call."""
    if ds["kind"] == "generic":
        return mp.meta_analysis(
            np.array(case["yi"]),
            np.array(case["vi"]),
            labels=ds["labels"],
            method=case["method"],
            test=case["test"],
            transform=ds["scale"],
            ni=ds["n"],
        )
    return mp.meta_prop(
        ds["events"],
        ds["totals"],
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
    )


@functools.cache
def _fit_cached(name: str, index: int):
    """The fit of case `index` of dataset `name`, shared by the tests that reuse it."""
    ds = DATASETS[name]
    return _fit(ds, ds["cases"][index])


def _iterative(case: dict) -> bool:
    return case["method"] in tol.ITERATIVE_METHODS


def _check_fit(c: Checker, res, fit: dict, prefix: str = "") -> None:
    c.equal(prefix + "k", res.k, fit["k"])
    for field, got in (
        ("estimate_t", res.estimate_t),
        ("se_t", res.se_t),
        ("ci_t", tuple(res.ci_t)),
        ("stat", res.statistic),
        ("pval", res.pvalue),
        ("tau2", res.tau2),
        ("I2", res.i2),
        ("H2", res.h2),
        ("QE", res.q),
        ("QEp", res.q_pvalue),
        ("estimate", res.estimate),
        ("ci", tuple(res.ci)),
    ):
        c.close(prefix + field, got, fit[field], kind=field)
    if "pi_default" in fit:
        c.close(prefix + "pi_t_default", tuple(res.pi_t), fit["pi_t_default"], kind="pi")
        c.close(prefix + "pi_default", tuple(res.pi), fit["pi_default"], kind="pi")
    else:  # metafor's predict() has no PI for FE; metaprop's is the tau^2 = 0 interval
        c.close(prefix + "pi_default (FE: = ci)", tuple(res.pi), fit["ci"], kind="pi")


# ---- every field of the new cases ---------------------------------------------------------


@pytest.mark.parametrize(
    ("ds", "case"), NEW_CASES, ids=[case_id(ds, case) for ds, case in NEW_CASES]
)
def test_new_case(ds, case):
    res = _fit(ds, case)
    c = Checker(case_id(ds, case), _iterative(case))
    c.close("yi", res.yi, case["yi"])
    c.close("vi", res.vi, case["vi"])
    fit = case["fit"]
    _check_fit(c, res, fit)
    c.close("df", np.nan if res.df is None else res.df, fit["df"])
    c.close("se_tau2", res.se_tau2, fit["se_tau2"])
    c.close("weights", res.weights, fit["weights"])
    if "pi_k2" in fit:
        c.close("pi_k2", tuple(res.prediction_interval("t(k-2)")), fit["pi_k2"], kind="pi")
    else:
        with pytest.warns(UserWarning):
            pi_k2 = res.prediction_interval("t(k-2)")
        c.close("pi_k2 (k < 3: NaN)", tuple(pi_k2), [None, None], kind="pi")
    if "tau2_ci_qprofile" in case:
        c.close("tau2_ci", tuple(res.tau2_ci()), case["tau2_ci_qprofile"], kind="qprofile")
        c.close("I2_ci", tuple(res.i2_ci()), case["I2_ci_qprofile"], kind="I2_qprofile")
    if "leave1out" in case:
        l1, loo = case["leave1out"], mp.leave_one_out(res)
        for ours, theirs in (
            ("estimate_t", "estimate_t"),
            ("se_t", "se_t"),
            ("ci_t_low", "ci_t_lb"),
            ("ci_t_high", "ci_t_ub"),
            ("tau2", "tau2"),
            ("i2", "I2"),
            ("q", "Q"),
            ("estimate", "estimate"),
        ):
            want = l1[theirs]
            if theirs == "tau2" and want is None:  # leave1out() of an FE model reports none
                want = np.zeros(len(loo))
            c.close(f"leave1out.{ours}", getattr(loo, ours), want, kind=theirs)
    if "begg" in case:
        rk = mp.begg_test(res)
        c.close("begg.tau", rk.statistic, case["begg"]["tau"])
        c.close("begg.pval", rk.pvalue, case["begg"]["pval"])
    for estimator in ("L0", "R0"):
        key = f"trimfill_{estimator}"
        if key not in case:
            continue
        ref, tf = case[key], mp.trim_and_fill(res, estimator=estimator)
        c.equal(f"{key}.k0", tf.k0, ref["k0"])
        c.equal(f"{key}.side", tf.side, ref["side"])
        c.close(
            f"{key}.filled_yi", np.sort(tf.filled_yi), np.sort(ref["filled_yi"]), kind="trimfill"
        )
        for field, got in (
            ("estimate_t", tf.result.estimate_t),
            ("se_t", tf.result.se_t),
            ("ci_t", tuple(tf.result.ci_t)),
            ("tau2", tf.result.tau2),
            ("estimate", tf.result.estimate),
        ):
            c.close(f"{key}.{field}", got, ref[field], kind="trimfill")
    c.done()


# ---- regtest: every predictor and model, every case with k >= 3 ----------------------------


@pytest.mark.parametrize(
    ("name", "predictor", "model"),
    REGTEST_PARAMS,
    ids=[f"{n}-regtest-{p}-{m}" for n, p, m in REGTEST_PARAMS],
)
def test_regtest(name, predictor, model):
    ds = DATASETS[name]
    problems = []
    for index, case in enumerate(ds["cases"]):
        ref = case["regtest"][predictor][model]
        eg = mp.egger_test(_fit_cached(name, index), model=model, predictor=predictor)
        c = Checker(case_id(ds, case), _iterative(case) and model == "rma")
        c.equal("model", eg.model, model)
        c.equal("predictor", eg.predictor, predictor)
        c.close("stat", eg.statistic, ref["stat"])
        c.close("pval", eg.pvalue, ref["pval"])
        c.close("df", np.nan if eg.df is None else eg.df, ref["df"])
        c.close("slope", eg.slope, ref["slope"])
        limit = np.nan if eg.limit_estimate is None else eg.limit_estimate
        c.close("limit_estimate", limit, ref["limit_estimate"])
        problems += c.problems
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["two_studies", "single_study"])
def test_small_sample_tests_need_three_studies(name):
    """metafor's regtest/ranktest/trimfill are not run below k = 3; metaprop refuses."""
    ds = DATASETS[name]
    res = _fit(ds, ds["cases"][0])
    for call in (
        lambda: mp.egger_test(res),
        lambda: mp.egger_test(res, model="lm", predictor="ni"),
        lambda: mp.begg_test(res),
        lambda: mp.trim_and_fill(res),
    ):
        with pytest.raises(ValueError, match="3"):
            call()


# ---- extra fields of every fit: weights, df, SE of tau^2 ------------------------------------


@pytest.mark.parametrize("name", list(DATASETS), ids=[f"{n}-weights-df-se_tau2" for n in DATASETS])
def test_weights_df_se_tau2(name):
    ds = DATASETS[name]
    problems = []
    for index, case in enumerate(ds["cases"]):
        res, fit = _fit_cached(name, index), case["fit"]
        c = Checker(case_id(ds, case), _iterative(case))
        c.close("weights", res.weights, fit["weights"])
        c.close("df", np.nan if res.df is None else res.df, fit["df"])
        c.close("se_tau2", res.se_tau2, fit["se_tau2"])
        problems += c.problems
    assert not problems, "\n".join(problems)


# ---- per-study intervals and the studies() table --------------------------------------------


@pytest.mark.parametrize(
    ("name", "level", "method"),
    STUDY_CI_PARAMS,
    ids=[f"{n}-studyci-{m}-{lv:g}" for n, lv, m in STUDY_CI_PARAMS],
)
def test_study_ci(name, level, method):
    ds = DATASETS[name]
    block = next(b for b in ds["study_ci"] if b["level"] == level)
    low, high = mp.study_ci(ds["events"], ds["totals"], method=method, level=level)
    want_low, want_high = _arr(block[method]["low"]), _arr(block[method]["high"])
    if method == "wald":
        # metafor's Wald bounds may leave [0, 1]; metaprop truncates them (documented).
        want_low, want_high = np.clip(want_low, 0, 1), np.clip(want_high, 0, 1)
    c = Checker(f"{name}-{method}-{level:g}", iterative=False)
    c.close("low", low, want_low, kind="study_ci")
    c.close("high", high, want_high, kind="study_ci")
    c.done()


@pytest.mark.parametrize("name", BINOMIAL, ids=[f"{n}-studies-table" for n in BINOMIAL])
def test_studies_table(name):
    ds = DATASETS[name]
    case = next(
        c for c in ds["cases"] if (c["measure"], c["method"], c["test"]) == ("PLO", "REML", "z")
    )
    block = next(b for b in ds["study_ci"] if b["level"] == 0.95)
    res = _fit(ds, case)
    c = Checker(f"{name}-PLO-REML-z", iterative=True)
    for method in STUDY_CI_METHODS:
        table = res.studies(ci=method)
        want_low, want_high = _arr(block[method]["low"]), _arr(block[method]["high"])
        if method == "wald":
            want_low, want_high = np.clip(want_low, 0, 1), np.clip(want_high, 0, 1)
        c.close(
            f"{method}.proportion",
            table["proportion"].to_numpy(),
            block["proportion"],
            kind="study_ci",
        )
        c.close(f"{method}.ci_low", table["ci_low"].to_numpy(), want_low, kind="study_ci")
        c.close(f"{method}.ci_high", table["ci_high"].to_numpy(), want_high, kind="study_ci")
        c.close(
            f"{method}.weight_pct",
            table["weight_pct"].to_numpy(),
            case["fit"]["weights"],
            kind="weights",
        )
    c.done()


# ---- generic input: reported estimates to effect sizes --------------------------------------


@pytest.mark.parametrize("name", GENERIC, ids=[f"{n}-effects" for n in GENERIC])
def test_estimates_to_effects(name):
    ds = DATASETS[name]
    es = mp.estimates_to_effects(
        ds["estimate"],
        _arr(ds["ci_low"]),
        _arr(ds["ci_high"]),
        n=ds["n"],
        scale=ds["scale"],
        level=ds["level"],
        labels=ds["labels"],
    )
    c = Checker(name, iterative=False)
    c.close("yi", es.yi, ds["yi"])
    c.close("vi", es.vi, ds["vi"])
    c.equal("approximate", es.approximate.tolist(), ds["approximate"])
    c.equal("measure", es.measure, "GEN")
    c.equal("transform", es.transform, ds["scale"])
    c.done()


@pytest.mark.parametrize("name", GENERIC, ids=[f"{n}-GEN-REML-z-from-effectsizes" for n in GENERIC])
def test_meta_analysis_of_effectsizes(name):
    """meta_analysis(EffectSizes) keeps the scale and matches rma(yi, vi)."""
    ds = DATASETS[name]
    case = next(c for c in ds["cases"] if (c["method"], c["test"]) == ("REML", "z"))
    es = mp.estimates_to_effects(
        ds["estimate"],
        _arr(ds["ci_low"]),
        _arr(ds["ci_high"]),
        n=ds["n"],
        scale=ds["scale"],
        level=ds["level"],
        labels=ds["labels"],
    )
    res = mp.meta_analysis(es, method="REML", test="z", ni=ds["n"])
    c = Checker(f"{name}-GEN-REML-z", iterative=True)
    c.equal("transform", res.transform, ds["scale"])
    c.equal("labels", tuple(res.labels), tuple(ds["labels"]))
    _check_fit(c, res, case["fit"])
    c.done()


# ---- GLMM with one study --------------------------------------------------------------------


def test_glmm_single_study_is_refused():
    """rma.glmm() cannot fit one study (two parameters); metaprop says so."""
    ds = DATASETS["single_study"]
    assert "error" in ds["glmm"]
    with pytest.raises(ValueError):
        mp.meta_prop_glmm(ds["events"], ds["totals"])


# ---- the fixture itself: provenance, completeness, agreement with the vendored file ---------


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_fixture_is_current():
    """The fixture was made by the generator and inputs in the repository, as they are now."""
    src = REF["source"]
    assert src["script_md5"] == _md5(GENERATOR), "re-run scripts/metafor_reference.R"
    assert src["inputs_md5"] == _md5(INPUTS), "re-run scripts/metafor_reference.R"
    assert src["control"] == {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000}
    assert src["metafor_version"] and src["r_version"] and src["date"]


def test_no_case_skipped():
    """Every case of the grid is in the fixture, fitted without error, and collected here."""
    methods, tests = GRID["methods"], GRID["tests"]
    method_tests = [(m, t) for m in methods for t in tests if m != "FE" or t in GRID["fe_tests"]]
    inputs = json.loads(INPUTS.read_text())
    expected_names = [d["name"] for d in inputs["binomial"] + inputs["generic"]]
    assert list(DATASETS) == expected_names
    new_ids, regtest_ids = set(), set()
    for ds in REF["datasets"]:
        measures = GRID["measures"] if ds["kind"] == "binomial" else ["GEN"]
        got = [(c["measure"], c["method"], c["test"]) for c in ds["cases"]]
        assert got == [(ms, m, t) for ms in measures for m, t in method_tests], ds["name"]
        for case in ds["cases"]:
            errors = [key for key in case if key == "error" or key.endswith("_error")]
            assert not errors, (case_id(ds, case), errors)
            assert "fit" in case, case_id(ds, case)
            k = case["fit"]["k"]
            if ds["name"] in NEW_DATASETS or case["test"] == "adhoc":
                new_ids.add(case_id(ds, case))
            if k >= 3:
                assert set(case["regtest"]) == set(PREDICTORS), case_id(ds, case)
                for predictor, by_model in case["regtest"].items():
                    assert set(by_model) == set(MODELS)
                    assert all("error" not in r for r in by_model.values()), case_id(ds, case)
                    regtest_ids |= {f"{ds['name']}-regtest-{predictor}-{m}" for m in MODELS}
                for key in ("leave1out", "begg", "trimfill_L0", "trimfill_R0"):
                    assert key in case, (case_id(ds, case), key)
                if case["method"] != "FE":
                    assert "tau2_ci_qprofile" in case, case_id(ds, case)
    assert {case_id(ds, case) for ds, case in NEW_CASES} == new_ids
    assert len(NEW_CASES) == len(new_ids)
    assert {f"{n}-regtest-{p}-{m}" for n, p, m in REGTEST_PARAMS} == regtest_ids
    assert {(n, m) for n, _, m in STUDY_CI_PARAMS} == {
        (n, m) for n in BINOMIAL for m in STUDY_CI_METHODS
    }
    levels = {(n, lv) for n, lv, _ in STUDY_CI_PARAMS}
    assert levels == {(n, lv) for n in BINOMIAL for lv in inputs["levels"]}


def _numbers_agree(vendored, ours, path: str, problems: list[str]) -> None:
    """Walk the vendored record; every value must be in ours (length-1 arrays unboxed)."""
    if isinstance(ours, list) and not isinstance(vendored, list) and len(ours) <= 1:
        ours = ours[0] if ours else None
    if isinstance(vendored, dict):
        for key, value in vendored.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            else:
                _numbers_agree(value, ours[key], f"{path}.{key}", problems)
    elif isinstance(vendored, list):
        if not isinstance(ours, list) or len(ours) != len(vendored):
            problems.append(f"{path}: length {len(vendored)} vs {ours!r}")
            return
        for i, (a, b) in enumerate(zip(vendored, ours, strict=True)):
            _numbers_agree(a, b, f"{path}[{i}]", problems)
    elif isinstance(vendored, float) and isinstance(ours, (int, float)):
        if not math.isclose(vendored, ours, rel_tol=1e-12, abs_tol=1e-300):
            problems.append(f"{path}: {vendored!r} vs {ours!r}")
    elif vendored != ours:
        problems.append(f"{path}: {vendored!r} vs {ours!r}")


def test_generator_reproduces_vendored_reference():
    """Our generator gives the shared reference's numbers on its grid (same metafor)."""
    vendored = json.loads(VENDORED.read_text())
    problems: list[str] = []
    for vds in vendored["datasets"]:
        ds = DATASETS[vds["name"]]
        ours = {(c["measure"], c["method"], c["test"]): c for c in ds["cases"]}
        for vcase in vds["cases"]:
            key = (vcase["measure"], vcase["method"], vcase["test"])
            _numbers_agree(vcase, ours[key], "-".join([vds["name"], *key]), problems)
        _numbers_agree(vds["glmm"], ds["glmm"], f"{vds['name']}.glmm", problems)
    assert not problems, "\n".join(problems[:50])
