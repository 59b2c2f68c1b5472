"""The plan's row rules (``review.data.row_rules``): every rule has a row that breaks it and a row
that the plan excepts, on small tables written here; the real ``data/`` obeys them all.

The tables are outcome rows as ``review.data.validate`` reads them (every cell text, blank ``""``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from review.book import row_changes
from review.data import row_rules, validate
from review.data.plan import default_plan_path, load_plan

FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
DATA = Path(__file__).resolve().parents[1] / "data"

COLUMNS = [
    "study_id",
    "outcome",
    "variant",
    "primary",
    "kind",
    "events",
    "total",
    "estimate_pct",
    "n_analysed",
    "definition",
    "denominator_basis",
    "flags",
    "date_public",
    "report",
    "note",
]
NOT_USABLE = ["lower_bound", "ci_inconsistent", "verify", "no_url"]


def row(**cells) -> dict:
    base = {c: "" for c in COLUMNS}
    base.update(
        study_id="s1",
        primary="true",
        kind="binary",
        events="10",
        total="40",
        denominator_basis="all_treated",
        date_public="2020-06",
        report="Report A",
    )
    base.update(cells)
    return base


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def plan(*exceptions: dict) -> dict:
    return {"row_selection": {"not_usable_flags": NOT_USABLE, "exceptions": list(exceptions)}}


def excepted(r: dict, rule: str) -> dict:
    return {
        "study_id": r["study_id"],
        "outcome": r["outcome"],
        "variant": r["variant"],
        "rule": rule,
        "reason": "stated in the plan",
    }


# One case per rule: the rows, and the row (by position) that breaks the rule.
CASES = {
    "usable": [row(outcome="VOD", variant="all", flags="lower_bound")],
    "denominator": [
        row(
            outcome="MRD_neg",
            variant="responders",
            events="18",
            total="19",
            denominator_basis="responders",
        ),
        row(outcome="OR", variant="all", events="19", total="32"),
    ],
    "mrd": [row(outcome="MRD_neg", variant="c2", definition="MRD < 1e-4 after induction cycle 2")],
    "transplant": [row(outcome="SCT", variant="all", definition="allo-SCT in first CR")],
    "adverse_events": [row(outcome="VOD", variant="all", definition="treatment-related VOD/SOS")],
    "relapse": [
        row(outcome="relapse", variant="all", events="9", total="33", note="follow-up 22 months")
    ],
    "one_report_per_cohort": [
        row(outcome="OR", variant="early", date_public="2019-06", report="Abstract"),
        row(outcome="OR", variant="late", primary="false", date_public="2022-06", report="Paper"),
    ],
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_primary_row_that_breaks_the_rule_is_reported(rule):
    breaks, unused = row_rules.check(frame(*CASES[rule]), plan())
    assert [(b.index, b.rule) for b in breaks] == [(0, rule)]
    assert breaks[0].column == row_rules.RULES[rule][1]
    assert not unused


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_plan_can_except_that_row_for_that_rule(rule):
    rows = CASES[rule]
    breaks, unused = row_rules.check(frame(*rows), plan(excepted(rows[0], rule)))
    assert breaks == [] and unused == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_an_exception_for_another_rule_does_not_excuse_the_row(rule):
    other = next(r for r in sorted(CASES) if r != rule)
    breaks, unused = row_rules.check(frame(*CASES[rule]), plan(excepted(CASES[rule][0], other)))
    assert [b.rule for b in breaks] == [rule]
    assert len(unused) == 1  # the misdirected exception is reported as unused


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_same_row_as_a_variant_breaks_nothing(rule):
    rows = [dict(r) for r in CASES[rule]]
    rows[0]["primary"] = "false"
    breaks, _ = row_rules.check(frame(*rows), plan())
    assert breaks == []


def test_rows_that_follow_the_rules_pass():
    ok = frame(
        row(outcome="OR", variant="all", events="19", total="32"),
        row(
            outcome="MRD_neg", variant="all", events="18", total="32", definition="MRD at any time"
        ),
        row(
            outcome="MRD_neg",
            variant="resp",
            primary="false",
            total="19",
            denominator_basis="responders",
        ),
        row(outcome="SCT", variant="all", definition="allogeneic HSCT at any time after InO"),
        row(
            outcome="VOD",
            variant="all",
            definition="VOD/SOS, any grade",
            denominator_basis="safety",
        ),
        row(
            outcome="relapse",
            variant="rem",
            events="9",
            total="32",
            denominator_basis="responders",
            note="Median follow-up 22 months.",
        ),
        row(
            outcome="OS_1y", variant="all", kind="survival", events="", total="", estimate_pct="50"
        ),
    )
    assert row_rules.check(ok, plan()) == ([], [])


def test_an_evaluable_denominator_passes_when_the_report_prints_no_all_treated_n():
    """Patients in CR at entry cannot respond: where no all-treated n is printed (or it is
    only assumed), the evaluable denominator is the rule's own fallback."""
    rows = frame(
        row(outcome="OR", variant="ev", events="47", total="48", denominator_basis="evaluable"),
        row(outcome="VOD", variant="all", total="52", flags="assumed_denominator"),
    )
    assert row_rules.check(rows, plan()) == ([], [])


def test_an_all_treated_n_of_another_report_of_the_study_does_not_count():
    rows = frame(
        row(outcome="OR", variant="ev", events="47", total="48", denominator_basis="evaluable"),
        row(outcome="VOD", variant="later", primary="true", total="52", report="Report B"),
    )
    assert row_rules.check(rows, plan()) == ([], [])


def test_a_later_report_that_breaks_another_rule_does_not_displace_the_primary():
    """A later transplant count 'directly after CR' cannot replace an any-time count."""
    rows = frame(
        row(outcome="SCT", variant="any", date_public="2017-06", definition="HSCT at any time"),
        row(
            outcome="SCT",
            variant="direct",
            primary="false",
            date_public="2019-03",
            definition="HSCT directly after CR/CRi",
        ),
    )
    assert row_rules.check(rows, plan()) == ([], [])


def test_a_survival_subgroup_breaks_the_denominator_rule_only_beside_a_whole_study_value():
    sub = row(
        outcome="OS_1y",
        variant="sub",
        kind="survival",
        events="",
        total="",
        estimate_pct="90",
        denominator_basis="subgroup",
    )
    alone, _ = row_rules.check(frame(sub, row(outcome="SCT", variant="all")), plan())
    assert alone == []
    whole = row(
        outcome="OS_1y",
        variant="all",
        primary="false",
        kind="survival",
        events="",
        total="",
        estimate_pct="80",
    )
    beside, _ = row_rules.check(frame(sub, whole), plan())
    assert [b.rule for b in beside] == ["denominator"]


def test_a_relapse_row_without_its_follow_up_breaks_the_relapse_rule():
    r = row(
        outcome="relapse", variant="rem", events="9", total="32", denominator_basis="responders"
    )
    breaks, _ = row_rules.check(frame(r), plan())
    assert [(b.rule, b.column) for b in breaks] == [("relapse", "note")]


def test_serious_only_adverse_event_rates_break_the_all_causality_rule():
    rows = frame(
        row(outcome="AE_nausea_any", variant="s", flags="serious_only", denominator_basis="safety")
    )
    assert [b.rule for b in row_rules.check(rows, plan())[0]] == ["adverse_events"]


@pytest.mark.parametrize("flag", NOT_USABLE)
def test_every_not_usable_flag_keeps_a_row_out_of_the_primary_set(flag):
    rows = frame(row(outcome="OR", variant="all", flags=f"secondary_source;{flag}"))
    assert [b.rule for b in row_rules.check(rows, plan())[0]] == ["usable"]


def test_malformed_exceptions_are_named():
    bad = plan(
        {"study_id": "s1", "outcome": "OR", "variant": "all", "rule": "nope", "reason": "x"},
        {"study_id": "s1", "outcome": "OR", "variant": "all", "rule": "mrd", "reason": ""},
    )
    found = row_rules.exception_problems(bad)
    assert [i for i, _ in found] == [0, 1]
    assert "unknown rule" in found[0][1] and "reason" in found[1][1]


# --- through the validator: file, line, column and rule ----------------------------------------


def _copy(tmp_path: Path, exceptions: list[dict]) -> tuple[Path, Path]:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    raw = yaml.safe_load(default_plan_path().read_text(encoding="utf-8"))
    raw["row_selection"]["exceptions"] = exceptions
    p = tmp_path / "analysis_plan.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return d, p


def _set(path: Path, study: str, outcome: str, variant: str, **cells) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    head = table[0]
    hits = [n for n, r in enumerate(table) if r[:3] == [study, outcome, variant]]
    assert len(hits) == 1, "row not found"
    for k, v in cells.items():
        table[hits[0]][head.index(k)] = v
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)
    return hits[0] + 1  # the editor line (the header is line 1)


def test_the_validator_names_file_line_column_and_rule(tmp_path):
    d, p = _copy(tmp_path, [])
    line = _set(d / "outcomes.csv", "fx01", "SCT", "all_treated", definition="allo-SCT in first CR")
    report = validate.run(d, plan_path=p)
    hits = [e for e in report.errors if e.rule == row_rules.rule_name("transplant")]
    assert [(e.file, e.line, e.column, e.value) for e in hits] == [
        ("outcomes.csv", line, "definition", "allo-SCT in first CR")
    ]
    assert "fx01 / SCT / all_treated" in hits[0].detail


def test_the_validator_accepts_the_row_the_plan_excepts(tmp_path):
    rule = {
        "study_id": "fx01",
        "outcome": "SCT",
        "variant": "all_treated",
        "rule": "transplant",
        "reason": "r",
    }
    d, p = _copy(tmp_path, [rule])
    _set(d / "outcomes.csv", "fx01", "SCT", "all_treated", definition="allo-SCT in first CR")
    report = validate.run(d, plan_path=p)
    assert report.ok, str(report)


def test_the_validator_warns_about_an_exception_that_excuses_nothing(tmp_path):
    rule = {
        "study_id": "fx01",
        "outcome": "SCT",
        "variant": "all_treated",
        "rule": "transplant",
        "reason": "r",
    }
    d, p = _copy(tmp_path, [rule])
    report = validate.run(d, plan_path=p)
    assert report.ok
    assert any("exception names a primary row" in w.rule for w in report.warnings)


def test_a_flagged_primary_row_fails_and_without_primary_passes(tmp_path):
    d, p = _copy(tmp_path, [])
    line = _set(d / "outcomes.csv", "fx01", "VOD", "safety", flags="verify")
    report = validate.run(d, plan_path=p)
    assert [(e.line, e.column) for e in report.errors] == [(line, "flags")]
    _set(d / "outcomes.csv", "fx01", "VOD", "safety", primary="false")
    assert validate.run(d, plan_path=p).ok


def test_no_primary_row_is_an_error_while_a_usable_variant_exists(tmp_path):
    d, p = _copy(tmp_path, [])
    _set(d / "outcomes.csv", "fx01", "OR", "all_treated", primary="false")
    report = validate.run(d, plan_path=p)
    assert any(e.rule.startswith("exactly one primary") for e in report.errors)


def test_an_unreadable_plan_is_an_error(tmp_path):
    d, _ = _copy(tmp_path, [])
    bad = tmp_path / "bad.yaml"
    bad.write_text("row_selection: [", encoding="utf-8")
    report = validate.run(d, plan_path=bad)
    assert any(e.rule == "analysis plan readable" for e in report.errors)


# --- the real data -----------------------------------------------------------------------------


def test_the_real_data_follow_the_rules_and_every_exception_is_used():
    report = validate.run(DATA)
    assert report.ok, str(report)
    rule_problems = [p for p in report.problems if "row rule" in p.rule or "exception" in p.rule]
    assert rule_problems == []
    assert row_rules.exceptions(load_plan())  # the plan does record exceptions


def test_every_exception_has_a_reason_and_a_known_rule():
    assert row_rules.exception_problems(load_plan()) == []


def test_exceptions_table_speaks_words():
    t = row_changes.exceptions_table(data_dir=DATA)
    assert list(t.columns) == ["Study", "Outcome", "Result kept", "Rule", "Reason"]
    assert len(t) == len(row_rules.exceptions(load_plan()))
    assert not t.isna().any().any()
    assert not t["Study"].str.contains("_").any()
    assert not t["Result kept"].str.contains("not in the data").any()
    assert "MRD negativity" in set(t["Outcome"])  # abbreviations keep their case


def test_change_log_puts_every_logged_change_in_words():
    log = pd.read_csv(DATA / "changes.csv", dtype=str, keep_default_na=False)
    t = row_changes.change_log(DATA)
    assert list(t.columns) == ["Date", "Study", "Outcome", "Result", "Change", "Rule", "Reason"]
    assert len(t) == len(log) > 0
    assert not t.isna().any().any()
    assert not t["Result"].str.contains("no longer in the data").any()
    # every logged rule is a rule of the plan, and every logged row is in the data
    assert set(log["rule"]) <= set(row_rules.RULES)


def test_change_log_of_a_folder_without_one_is_empty():
    assert row_changes.change_log(FIXTURE).empty
