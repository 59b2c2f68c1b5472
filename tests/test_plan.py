"""The analysis plan loads, and a malformed plan fails with an error naming the key."""

import copy
from pathlib import Path

import pytest
import yaml
from review.data.plan import Plan, PlanError, default_plan_path, load_plan, missing_references


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(default_plan_path().read_text(encoding="utf-8"))


def test_repository_plan_is_valid():
    plan = load_plan()
    assert plan.primary.is_glmm and plan.primary.measure == "PLO"
    assert not plan.fallback.is_glmm
    assert [s["key"] for s in plan.strata] == ["newly_diagnosed", "relapsed_refractory"]
    assert plan.comparison["key"] == "all" and plan.comparison["headline"] is False


def test_thresholds_exact_key_then_pattern():
    plan = load_plan()
    assert plan.thresholds("VOD") == (0.05, 0.1)
    assert plan.thresholds("AE_nausea_g3") == plan.thresholds("AE_fatigue_g3")
    assert plan.thresholds("AE_nausea_any") != plan.thresholds("AE_nausea_g3")
    with pytest.raises(KeyError, match="EFS_9y"):
        plan.thresholds("EFS_9y")


def test_every_pooled_outcome_of_the_paper_has_thresholds_and_wording():
    plan = load_plan()
    for code in [
        "OR",
        "CR",
        "MRD_neg",
        "OS_1y",
        "OS_2y",
        "OS_3y",
        "OS_5y",
        "SCT",
        "relapse",
        "VOD",
        "AE_anemia_g3",
        "AE_vomiting_any",
    ]:
        cuts = plan.thresholds(code)
        assert len(cuts) >= 1
        assert plan.wording(code)["verb"]


def test_paper_model_switches_on_i2():
    plan = load_plan()
    assert plan.paper_model(90.1).measure == "PFT"
    assert plan.paper_model(40.0).measure == "PR"
    assert plan.paper_model(50.0).measure == "PR"  # "I2 > 50%" is strict


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda r: r.pop("grade"), "`grade` is missing"),
        (
            lambda r: r["grade"]["thresholds"]["OR"].update(cuts=[0.8, 0.5]),
            "grade.thresholds.OR.cuts",
        ),
        (
            lambda r: r["grade"]["thresholds"]["VOD"].update(cuts=[0.05, 1.2]),
            "grade.thresholds.VOD.cuts[1]",
        ),
        (lambda r: r["primary_model"].update(measure="PFT"), "primary_model.measure"),
        (lambda r: r["sensitivity_models"][0].update(test="t"), "sensitivity_models[0].test"),
        (lambda r: r["multiverse"]["models"][2].update(method="XX"), "multiverse.models[2].method"),
        (lambda r: r.update(level=True), "`level` must be float"),
        (
            lambda r: r["populations"]["comparison"].update(headline=True),
            "populations.comparison.headline",
        ),
        (lambda r: r["regimen_groups"].update(headline=True), "regimen_groups.headline"),
        (lambda r: r["few_studies"].update(min_k_pooled=1), "few_studies.min_k_pooled"),
        (lambda r: r["grade"].update(starting_level="certain"), "grade.starting_level"),
        (lambda r: r["grade"]["risk_of_bias"].pop("reason"), "grade.risk_of_bias.reason"),
        (
            lambda r: r["heterogeneity"]["prediction_interval"].update(dist="t(k)"),
            "heterogeneity.prediction_interval.dist",
        ),
        (lambda r: r["survival"].update(scale="log"), "survival.scale"),
        (
            lambda r: r["row_selection"].update(min_id_confidence="sure"),
            "row_selection.min_id_confidence",
        ),
        (lambda r: r["populations"]["references"].append("not a key"), "populations.references[2]"),
        (lambda r: r["multiverse"]["data_choices"].pop(0), "multiverse.data_choices"),
    ],
)
def test_bad_plan_names_the_key(raw, mutate, key):
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(PlanError) as err:
        Plan(bad)
    assert key in str(err.value)


def test_load_plan_from_a_file(tmp_path: Path, raw):
    path = tmp_path / "plan.yaml"
    bad = copy.deepcopy(raw)
    bad["grade"]["imprecision"]["min_patients"] = "many"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(PlanError, match="grade.imprecision.min_patients"):
        load_plan(path)


def test_missing_references(tmp_path: Path):
    plan = load_plan()
    keys = sorted(plan.references())
    bib = tmp_path / "refs.bib"
    bib.write_text("".join(f"@article{{{k},\n  title = {{x}}\n}}\n" for k in keys[1:]))
    assert missing_references(plan, bib) == [keys[0]]


def test_choices_frame_lists_every_choice_with_reason_and_references():
    plan = load_plan()
    frame = plan.choices_frame()
    assert list(frame.columns) == ["section", "choice", "reason", "references"]
    assert (frame["reason"].str.len() > 20).all()
    cited = {key for refs in frame["references"] for key in refs.split(", ") if key}
    assert cited <= plan.references()
    assert (frame["section"] == "Sensitivity model").sum() == len(plan.sensitivity)


def test_repository_plan_cites_only_keys_in_references_bib():
    bib = default_plan_path().parent / "references.bib"
    if not bib.exists():
        pytest.skip("references.bib not written yet")
    assert missing_references(load_plan(), bib) == []


def test_paper_comparison_names_each_difference(raw):
    bad = copy.deepcopy(raw)
    bad["paper_comparison"][0].pop("difference")
    with pytest.raises(PlanError, match=r"paper_comparison\[0\].difference"):
        Plan(bad)


def test_amendments_need_when_and_what(raw):
    bad = copy.deepcopy(raw)
    bad["amendments"] = [{"when": "today"}]
    with pytest.raises(PlanError, match=r"amendments\[0\].what"):
        Plan(bad)
