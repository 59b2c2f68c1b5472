"""The real ``data/``: valid, complete against the extraction, and honest about derivations.

The extraction (``../shared/extraction/extraction.csv``, outside the repository) is the
source ``data/`` was generated from; the tests that compare against it skip when it is not
there (a fresh clone without the shared folder).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import metaprop as mp
import pandas as pd
import pytest
from review import data
from review.data import row_rules, schema, validate, versions
from review.data.plan import load_plan

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
# copies of ../shared (extraction and the paper's tables), so these tests run in any clone
SHARED = Path(__file__).parent / "fixtures" / "shared"
ORIGINAL = REPO.parent / "shared"
EXTRACTION = SHARED / "extraction" / "extraction.csv"
FIXTURE = Path(__file__).parent / "fixtures" / "data_small"
COPIED = ("extraction/extraction.csv", "paper/reported_pooled.csv", "paper/reported_quality.csv")


@pytest.mark.parametrize("name", COPIED)
def test_copies_of_the_shared_inputs_are_current(name):
    original = ORIGINAL / name
    if not original.is_file():
        pytest.skip(f"{original} is not beside this clone; the copy in {SHARED} stands")
    assert (SHARED / name).read_bytes() == original.read_bytes()


def extraction_rows() -> dict[int, dict]:
    """Extraction rows by editor line (header = line 1)."""
    out = {}
    with EXTRACTION.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        start = 2
        for row in reader:
            out[start] = row
            start = reader.line_num + 1
    return out


def has_value(row: dict) -> bool:
    return row["role"] != "not_found" or bool(row["events"].strip() or row["percent_reported"])


@pytest.fixture(scope="module")
def ds() -> data.Dataset:
    return data.load(DATA)


def test_real_data_validates():
    report = validate.run(DATA)
    assert report.ok, str(report)


def test_every_valued_extraction_row_is_accounted_for_once(ds):
    """Each row with a value is an outcome row, a study characteristic or an exclusion."""
    ext = extraction_rows()
    valued = {n for n, r in ext.items() if has_value(r)}
    in_outcomes = set(ds.outcomes["extraction_line"].dropna().astype(int))
    in_studies = {
        int(x) for v in ds.studies["extraction_lines"] for x in str(v).split(";") if x.strip()
    }
    in_exclusions = set(ds.exclusions["extraction_line"].astype(int))
    places = [in_outcomes, in_studies, in_exclusions]
    lost = sorted(valued - set().union(*places))
    assert not lost, f"extraction lines with a value missing from data/: {lost}"
    for a in range(3):
        for b in range(a + 1, 3):
            assert not (places[a] & places[b]), "a line is used twice"
    assert set().union(*places) <= valued
    missing = set(ds.missing["extraction_line"].astype(int))
    assert missing == set(ext) - valued


def test_outcome_rows_carry_the_extraction_numbers_and_quotes(ds):
    ext = extraction_rows()
    o = ds.outcomes[ds.outcomes["extraction_line"].notna()]
    for _, r in o.iterrows():
        src = ext[int(r["extraction_line"])]
        assert r["quote"] == src["quote"].strip()
        assert r["source_url"] == src["source_url"].strip()
        if r["kind"] == "survival":
            assert r["estimate_pct"] == float(src["percent_reported"])
            assert str(r["n_analysed"]) == (src["total"].strip() or "<NA>")
            continue
        # the count is always the extracted one; only a rebased row (a printed count over
        # another printed denominator, said in `derivation`) has another total
        assert str(r["events"]) == (src["events"].strip() or "<NA>")
        rebased = r["derived"] and r["derivation"] != src["note"].strip()
        if not rebased:
            assert str(r["total"]) == (src["total"].strip() or "<NA>")


# Extraction lines whose own count is derived (STUDIES.md, "Derived numbers", and the AE
# second pass); lines 305 and 599 use the word DERIVED about another number.
DERIVED_LINES = {
    2,
    3,
    4,
    5,
    6,
    8,
    9,
    10,
    11,
    36,
    40,
    130,
    131,
    134,
    178,
    188,
    195,
    196,
    230,
    342,
    343,
    344,
    352,
    381,
    383,
}
NOT_DERIVED_LINES = {305, 599}


def test_derived_counts_are_flagged(ds):
    """Rows from derived extraction counts carry derived=true and say how."""
    ext = extraction_rows()
    assert all("DERIVED" in ext[n]["note"] or "INFERRED" in ext[n]["note"] for n in DERIVED_LINES)
    o = ds.outcomes[ds.outcomes["extraction_line"].notna() & (ds.outcomes["kind"] == "binary")]
    lines = o["extraction_line"].astype(int)
    rows = o[lines.isin(DERIVED_LINES)]
    assert set(rows["extraction_line"].astype(int)) == DERIVED_LINES
    assert rows["derived"].all()
    assert (rows["derivation"].str.len() > 0).all()
    # their own count is printed: a row from them is derived only when it puts that count
    # over another denominator (a rebased row, e.g. relapse among patients in remission)
    plain = o[lines.isin(NOT_DERIVED_LINES)]
    rebased = plain["total"].astype(str) != plain["extraction_line"].map(
        lambda n: ext[int(n)]["total"].strip()
    )
    assert not plain[~rebased]["derived"].any()


def test_dictionary_types_match_the_schema(ds):
    d = ds.dictionary[ds.dictionary["code"] == ""]
    declared = {(t, c): typ for t, c, typ in zip(d["table"], d["column"], d["type"], strict=True)}
    for name, table in schema.TABLES.items():
        if name in ("dictionary", "paper_reported", "exclusions", "missing"):
            continue
        for col in table.columns:
            assert declared[(name, col.name)] == col.type, f"{name}.{col.name}"


def test_survival_rows_carry_no_counts(ds):
    s = ds.outcomes[ds.outcomes["kind"] == "survival"]
    assert len(s) > 0
    assert s["events"].isna().all() and s["total"].isna().all()
    assert not s["derived"].any()
    assert s["estimate_pct"].notna().all()


def test_one_primary_per_study_and_outcome(ds):
    """One primary row per study and outcome, or none when no variant is a usable number."""
    bad = row_rules.not_usable_flags(load_plan())
    o = ds.outcomes.assign(
        usable=ds.outcomes["flags"].fillna("").map(lambda v: not set(v.split(";")) & bad)
    )
    g = o.groupby(["study_id", "outcome"])
    counts, usable = g["primary"].sum(), g["usable"].any()
    assert (counts <= 1).all()
    assert (counts[usable] == 1).all()
    assert (counts[~usable] == 0).all() and (~usable).sum() > 0


def test_paper_studies_and_unidentified_ones(ds):
    s = ds.studies
    paper = s[s["in_source_paper"]]
    assert sorted(paper["paper_ref"].astype(int)) == list(range(17, 33))
    with_rows = set(ds.outcomes["study_id"])
    for ref in (20, 23, 28, 30, 31):
        row = paper[paper["paper_ref"] == ref].iloc[0]
        assert row["id_confidence"] in ("none", "low")
        assert row["study_id"] not in with_rows


def test_rows_without_url_are_flagged(ds):
    o = ds.outcomes
    no_url = o[o["source_url"] == ""]
    assert len(no_url) >= 3
    assert no_url["flags"].str.contains("no_url").all()
    assert (no_url["report"].str.len() > 0).all()


def test_paper_tables_copied_unchanged(ds):
    pooled = pd.read_csv(SHARED / "paper" / "reported_pooled.csv", dtype=str, keep_default_na=False)
    mine = pd.read_csv(DATA / "paper_reported.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(pooled, mine)
    q = pd.read_csv(SHARED / "paper" / "reported_quality.csv", dtype=str, keep_default_na=False)
    tot = ds.quality[(ds.quality["item"] == "total") & (ds.quality["scorer"] == "lao2025")]
    got = dict(zip(tot["paper_ref"].astype(int), tot["score"].astype(int), strict=True))
    assert got == {int(r): int(t) for r, t in zip(q["ref"], q["total"], strict=True)}


def test_prisma_counts_of_the_paper(ds):
    p = ds.prisma[ds.prisma["search_round"] == "lao2024"].set_index("step")["count"]
    assert p["records_identified_databases"] == 2503
    assert p["records_identified_registers"] == 65
    assert p["studies_included"] == 16
    assert pd.isna(p["records_screened"])  # unknown stays unknown


# --- the data API -------------------------------------------------------------------------------


def test_outcome_ready_for_meta_prop():
    df = data.outcome("OR", data_dir=FIXTURE)
    assert len(df) >= 10
    assert df["events"].dtype == "Int64" and df["total"].dtype == "Int64"
    for col in (
        "study_id",
        "label",
        "disease_status",
        "regimen_group",
        "source_tier",
        "cohort_id",
        "id_confidence",
        "available_from",
        "minors",
    ):
        assert col in df.columns
    assert df["label"].is_unique
    res = mp.meta_prop(data=df, events="events", totals="total", labels="label")
    assert 0 < res.estimate < 1


def test_outcome_variants_and_runner_ups():
    prim = data.outcome("MRD_neg", data_dir=FIXTURE)
    allv = data.outcome("MRD_neg", data_dir=FIXTURE, variants="all")
    assert len(allv) == 2 * len(prim)
    assert set(allv["variant"]) == {"all_treated", "responders"}
    base = data.outcome("OR", data_dir=FIXTURE)
    more = data.outcome("OR", data_dir=FIXTURE, runner_ups=True)
    assert set(more["study_id"]) - set(base["study_id"]) == {"fx13_alt"}


def test_as_of_restores_the_earlier_primary():
    now = data.outcome("OR", data_dir=FIXTURE).set_index("study_id")
    then = data.outcome("OR", data_dir=FIXTURE, as_of="2024-12-02").set_index("study_id")
    assert now.at["fx11", "variant"] == "update2024"
    assert then.at["fx11", "variant"] == "all_treated"
    assert (then["available_from"].map(lambda d: d <= "2024-12")).all()


def test_landmark_has_no_counts():
    df = data.landmark("OS_1y", data_dir=FIXTURE)
    assert len(df) == 4
    assert df["estimate"].between(0, 1).all()
    assert (df["ci_low"] <= df["estimate"]).all() and (df["estimate"] <= df["ci_high"]).all()
    assert not df["curve_read"].any()
    assert df["events"].isna().all()


def test_wrong_kind_and_unknown_code():
    with pytest.raises(ValueError, match="landmark"):
        data.outcome("OS_1y", data_dir=FIXTURE)
    with pytest.raises(ValueError, match="outcome"):
        data.landmark("OR", data_dir=FIXTURE)
    with pytest.raises(KeyError):
        data.outcome("ORR", data_dir=FIXTURE)


def test_data_dir_from_environment(monkeypatch):
    monkeypatch.setenv("REVIEW_DATA_DIR", str(FIXTURE))
    assert set(data.outcome("CR")["study_id"]) <= {f"fx{i:02d}" for i in range(1, 13)}
    assert "OS_1y" in data.outcome_codes("survival")
    assert "OS_1y" not in data.outcome_codes("binary")


def test_text_is_not_interpreted():
    ds = data.load(FIXTURE)
    assert ds.studies["note"].map(type).eq(str).all()
    assert ds.outcomes["flags"].map(type).eq(str).all()


# --- the living update: dated, screened, reconstructible ---------------------------------------

SEARCH_DATE = "2024-12-02"


def test_evidence_as_of_the_search_date_holds_nothing_later(ds):
    """`as_of` keeps only numbers public by 2 December 2024: a study added later appears only
    if its report was public by then (an eligible study the paper missed), never one that
    appeared after the search date."""
    cut = schema.parse_date_end(SEARCH_DATE)
    added = ds.studies[ds.studies["id_role"] == "added"]
    assert len(added), "the living update added no study"
    public = added["date_public"].map(lambda v: v != "" and schema.parse_date_end(v) <= cut)
    later = set(added.loc[~public, "study_id"])
    assert later, "no study added after the search date"
    seen_earlier = set()
    for kind, get in (("binary", data.outcome), ("survival", data.landmark)):
        for code in sorted(set(ds.outcomes.loc[ds.outcomes["kind"] == kind, "outcome"])):
            then = get(code, data_dir=DATA, as_of=SEARCH_DATE, variants="all", runner_ups=True)
            assert not (set(then["study_id"]) & later), code
            seen_earlier |= set(then["study_id"]) & set(added.loc[public, "study_id"])
            dates = then["date_public"].map(schema.parse_date_end)
            assert (dates <= cut).all(), code
            assert (then.groupby("study_id")["primary"].sum() <= 1).all(), code
    # a study the paper missed that was public by the search date is evidence "as of" that
    # date, so this data choice does not reproduce the paper's own set of studies
    assert seen_earlier == set(added.loc[public, "study_id"])


def test_living_update_rows_are_dated_sourced_and_outside_the_extraction(ds):
    """Rows added after the extraction carry a date, an address and a quote; a row dated
    before the search date belongs to a study the paper missed (not in the source paper,
    included through the screening log), never to one of the paper's studies."""
    new = ds.outcomes[ds.outcomes["extraction_line"].isna()]
    assert len(new) > 0
    cut = schema.parse_date_end(SEARCH_DATE)
    earlier = new[new["date_public"].map(schema.parse_date_end) <= cut]
    in_paper = set(ds.studies.loc[ds.studies["in_source_paper"], "study_id"])
    log = ds.screening
    included = set(log.loc[log["decision"] == "include", "study_id"])
    assert not (set(earlier["study_id"]) & in_paper)
    assert set(earlier["study_id"]) <= included
    assert new["source_url"].str.match(r"https?://").all()
    assert (new["quote"].str.len() > 0).all()


def test_every_included_record_is_a_study_and_every_added_study_was_screened(ds):
    log = ds.screening
    included = set(log.loc[log["decision"] == "include", "study_id"])
    studies = set(ds.studies["study_id"])
    assert included <= studies
    added = set(ds.studies.loc[ds.studies["id_role"] == "added", "study_id"])
    assert added <= included
    assert log["record_id"].is_unique
    assert log["date"].map(lambda d: schema.parse_date_end(d) is not None).all()


def test_flow_of_the_living_update_is_computed_from_the_log(ds):
    from review.book import prisma

    flows = prisma.flows(ds.prisma, ds.screening, ds.studies)
    assert [f.search_round for f in flows][0] == "lao2024"
    first, *updates = flows
    assert first.counts["studies_included"] == 16
    assert updates and all(f.computed for f in updates)
    for f in updates:
        rounds = ds.screening[ds.screening["search_round"] == f.search_round]
        c = f.counts
        assert c["records_identified_databases"] + c["records_identified_registers"] == len(rounds)
        assert c["reports_included"] == int((rounds["decision"] == "include").sum())


def test_load_skips_validation_only_of_the_bytes_the_build_validated(tmp_path, monkeypatch):
    from review.data import validate

    folder = tmp_path / "data"
    shutil.copytree(FIXTURE, folder)
    calls = []
    real_run = validate.run
    monkeypatch.setattr(validate, "run", lambda root: calls.append(root) or real_run(root))
    monkeypatch.setenv("REVIEW_DATA_VALIDATED", versions.data_hash(folder, short=False))
    data.load(folder)
    assert calls == []  # the build checked these very bytes
    with open(folder / "studies.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")  # any change: the claim no longer holds
    data.load(folder)
    assert calls == [folder.resolve()]
