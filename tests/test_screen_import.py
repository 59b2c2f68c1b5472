"""``python -m review screen import``: every export format, duplicates, idempotence, bad files."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from review.data import screen, validate

ROOT = Path(__file__).resolve().parents[1]
EXPORTS = Path(__file__).parent / "fixtures" / "search"
LU2 = [
    ["lu2", "MEDLINE via PubMed", "database", "PubMed", "(inotuzumab) AND (leukemia)"],
    ["lu2", "Embase", "database", "Embase.com", "'inotuzumab ozogamicin'/exp"],
    ["lu2", "ClinicalTrials.gov", "register", "ClinicalTrials.gov", "inotuzumab"],
]


@pytest.fixture
def ddir(tmp_path: Path) -> Path:
    """A copy of the repository's data with a database search round (lu2) described."""
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=shutil.ignore_patterns("releases"))
    with (d / "search_strategies.csv").open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for rnd, source, kind, iface, strategy in LU2:
            w.writerow(
                [rnd, source, kind, iface, strategy, "none", "2024-12-01", "2026-12-01",
                 "2026-12-01", "a reviewer", "", "test", ""]
            )  # fmt: skip
    return d


def _log(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "screening.csv", dtype=str, keep_default_na=False)


def _new(d: Path, before: int) -> pd.DataFrame:
    return _log(d).iloc[before:].reset_index(drop=True)


def test_format_is_told_from_the_content(tmp_path):
    for name, fmt in (("pubmed.nbib", "medline"), ("embase.ris", "ris"), ("ctgov.csv", "ctgov")):
        copy = tmp_path / "export.txt"  # the file name says nothing
        copy.write_bytes((EXPORTS / name).read_bytes())
        assert screen.parse_export(copy)[0] == fmt


def test_pubmed_medline_import(ddir):
    before = len(_log(ddir))
    result = screen.import_export(EXPORTS / "pubmed.nbib", ddir)
    assert (result.read, result.duplicates, result.new) == (4, 2, 2)
    new = _new(ddir, before)
    assert new["record_id"].tolist() == ["lu2-001", "lu2-002", "lu2-003", "lu2-004"]
    assert set(new["source"]) == {"MEDLINE via PubMed"}
    assert set(new["date"]) == {"2026-12-01"}
    # record 1: the EWALL-INO report already included (same PMID and DOI as the study)
    assert new.loc[0, "decision"] == "duplicate"
    assert new.loc[0, "study_id"] == "ref22_Chevallier_EWALL-INO"
    assert new.loc[0, "pmid"] == "39418626"
    # record 3: the same DOI as record 2 of the same file, written in capitals
    assert new.loc[2, "decision"] == "duplicate"
    assert new.loc[2, "duplicate_of"] == "lu2-002"
    assert new.loc[1, "decision"] == new.loc[3, "decision"] == "pending"
    assert new.loc[3, "nct"] == "NCT09999993"
    assert new.loc[1, "title"].startswith("Example record: inotuzumab")  # continuation joined
    assert new.loc[1, "year"] == "2026"
    assert validate.run(ddir).ok


def test_ris_import(ddir):
    before = len(_log(ddir))
    result = screen.import_export(EXPORTS / "embase.ris", ddir)
    assert (result.read, result.duplicates, result.new) == (4, 3, 1)
    new = _new(ddir, before)
    assert set(new["source"]) == {"Embase"}  # from the export's DB tag
    # record 1: DOI written as an upper-case https://doi.org/ address; an included study
    assert new.loc[0, "decision"] == "duplicate"
    assert new.loc[0, "doi"] == "10.3389/fonc.2025.1601782"
    assert new.loc[0, "duplicate_of"] == "lu1-001"
    assert new.loc[0, "study_id"] == "lu1_Agrawal_FrontOncol2025"
    # record 3: the title of record 2 with other case and punctuation, same year
    assert new.loc[2, "decision"] == "duplicate"
    assert new.loc[2, "duplicate_of"] == new.loc[1, "record_id"]
    assert "title and year" in new.loc[2, "reason"]
    # record 4: an excluded record of living update 1 (doi: prefix)
    assert new.loc[3, "duplicate_of"] == "lu1-033"
    assert new.loc[1, "decision"] == "pending"
    assert new.loc[1, "stage"] == "title"  # no abstract in the export
    assert validate.run(ddir).ok


def test_ctgov_import(ddir):
    before = len(_log(ddir))
    result = screen.import_export(EXPORTS / "ctgov.csv", ddir)
    assert (result.read, result.duplicates, result.new) == (4, 3, 1)
    new = _new(ddir, before)
    assert set(new["stage"]) == {"registry"}
    assert set(new["source"]) == {"ClinicalTrials.gov"}
    assert new.loc[0, "study_id"] == "ref22_Chevallier_EWALL-INO"  # NCT03249870
    assert new.loc[2, "duplicate_of"] == new.loc[1, "record_id"]  # the same row twice
    assert new.loc[3, "duplicate_of"] == "lu1-012"  # NCT05687032, awaiting since lu1
    assert new.loc[1, "url"] == "https://clinicaltrials.gov/study/NCT09999992"
    assert validate.run(ddir).ok


@pytest.mark.parametrize("name", ["pubmed.nbib", "embase.ris", "ctgov.csv"])
def test_importing_twice_adds_nothing(ddir, name):
    screen.import_export(EXPORTS / name, ddir)
    first = (ddir / "screening.csv").read_bytes()
    again = screen.import_export(EXPORTS / name, ddir)
    assert (again.duplicates, again.new, again.already_imported) == (0, 0, 4)
    assert (ddir / "screening.csv").read_bytes() == first


def test_the_same_records_from_another_file_are_duplicates(ddir, tmp_path):
    screen.import_export(EXPORTS / "pubmed.nbib", ddir)
    other = tmp_path / "pubmed_again.txt"
    other.write_text((EXPORTS / "pubmed.nbib").read_text() + "\n", encoding="utf-8")
    result = screen.import_export(other, ddir)
    assert (result.duplicates, result.new) == (4, 0)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_unterminated.ris", "RIS record 2 (line 6) has no end tag"),
        ("bad_no_title.nbib", "MEDLINE record 2 (line 5, PMID 90000012) has no title"),
        ("bad_nct.csv", "ClinicalTrials.gov record 3 (line 4) has no valid NCT number"),
        ("bad_unknown.txt", "not a search export"),
    ],
)
def test_bad_file_names_the_record_and_leaves_data_alone(ddir, name, message):
    before = {p.name: p.read_bytes() for p in ddir.iterdir() if p.is_file()}
    with pytest.raises(screen.ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        screen.import_export(EXPORTS / name, ddir)
    after = {p.name: p.read_bytes() for p in ddir.iterdir() if p.is_file()}
    assert after == before  # no file changed, no temporary file left


def test_import_needs_the_strategy_of_its_search(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=shutil.ignore_patterns("releases"))
    before = (d / "screening.csv").read_bytes()
    with pytest.raises(screen.ExportError, match="search_strategies.csv"):
        screen.import_export(EXPORTS / "pubmed.nbib", d)
    assert (d / "screening.csv").read_bytes() == before


def test_a_publication_naming_an_included_trial_is_screened_not_dropped(ddir, tmp_path):
    export = tmp_path / "later_cut.nbib"
    export.write_text(
        "PMID- 90000021\nDP  - 2027\nTI  - Example record: a synthetic later report of the "
        "EWALL-INO trial.\nSI  - ClinicalTrials.gov/NCT03249870\n",
        encoding="utf-8",
    )
    screen.import_export(export, ddir)
    row = _log(ddir).iloc[-1]
    assert row["decision"] == "pending"
    assert "NCT03249870" in row["note"]


def test_identifiers_in_any_written_form():
    assert screen.norm_doi("https://dx.doi.org/10.3389%2FFONC.2025.1601782") == (
        "10.3389/fonc.2025.1601782"
    )
    assert screen.norm_doi("DOI 10.1002/cncr.28136.") == "10.1002/cncr.28136"
    assert screen.norm_pmid("PMID: 0035142153") == "35142153"
    assert screen.norm_pmid("35142153 [PubMed - indexed for MEDLINE]") == "35142153"
    assert screen.norm_pmid("Blood 140(Suppl 1):8906") == ""
    assert screen.norm_nct("nct 3677596") == "NCT03677596"
    assert screen.norm_title("Inotuzumab–Ozogamicin: Phase II") == screen.norm_title(
        "inotuzumab ozogamicin, phase ii."
    )


def test_command_line(ddir):
    cmd = [sys.executable, "-m", "review", "screen", "import"]
    ok = subprocess.run(
        [*cmd, str(EXPORTS / "ctgov.csv"), "--data", str(ddir)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "4 record(s) read, 3 duplicate(s), 1 new record(s) to screen" in ok.stdout
    bad = subprocess.run(
        [*cmd, str(EXPORTS / "bad_nct.csv"), "--data", str(ddir)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "record 3" in bad.stderr and "left as it was" in bad.stderr


def test_a_record_with_the_title_and_year_of_an_included_study_is_a_duplicate(ddir, tmp_path):
    export = tmp_path / "scopus.ris"
    export.write_text(
        "TY  - JOUR\n"
        "TI  - A Retrospective Analysis of Inotuzumab Ozogamicin Usage in Adult Patients with "
        "Relapsed/Refractory B-cell Acute Lymphoblastic Leukemia\n"
        "PY  - 2025\nER  - \n"
        "TY  - JOUR\n"
        "TI  - A Retrospective Analysis of Inotuzumab Ozogamicin Usage in Adult Patients with "
        "Relapsed/Refractory B-cell Acute Lymphoblastic Leukemia\n"
        "PY  - 2019\nER  - \n",
        encoding="utf-8",
    )
    result = screen.import_export(export, ddir, search_round="lu2", source="Embase")
    assert (result.duplicates, result.new) == (1, 1)  # another year: not the same record
    first = _log(ddir).iloc[-2]
    assert first["study_id"] == "lu1_Agrawal_FrontOncol2025"
    assert "title and year" in first["reason"]
