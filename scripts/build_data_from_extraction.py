"""Build data/ from the shared per-study extraction (kept for provenance).

Reads ``../shared/extraction/extraction.csv`` (the extraction of the 16 studies of Lao et al.
2025) and ``../shared/paper/reported_*.csv`` and writes the tables of ``data/``. Every
extraction row that carries a value is accounted for exactly once: it becomes an outcome row
(``outcomes.extraction_line``), supports a study's characteristics
(``studies.extraction_lines``) or is listed in ``exclusions.csv`` with its reason. The script
stops if a valued row is left unassigned, so nothing is lost silently.

Rows of the living update (``staging/living_update_studies.csv``,
``staging/living_update_outcomes.csv``, ``staging/screening_log.csv``), written in the
column layout of ``data/README.md``, are appended when present.

After the first generation ``data/`` is edited by hand; this script is history. Run it as
``python scripts/build_data_from_extraction.py [--extraction PATH] [--out DIR] [--force]``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STAGING = REPO / "staging"

STUDY_COLUMNS = (
    "study_id,paper_ref,id_role,in_source_paper,first_author,year,citation,doi,pmid,nct,"
    "source_url,source_tier,design,phase,disease_status,ph_status,regimen_group,regimen,"
    "n_enrolled,n_evaluable,age_median,age_range,follow_up_median_months,id_confidence,"
    "runner_ups,cohort_id,overlap_note,date_public,quote,extraction_lines,note"
).split(",")
OUTCOME_COLUMNS = (
    "study_id,outcome,variant,primary,kind,events,total,percent_reported,estimate_pct,"
    "ci_low_pct,ci_high_pct,n_analysed,read_from,definition,denominator_basis,derived,"
    "derivation,flags,supersedes,date_public,report,source_url,quote,extraction_line,note"
).split(",")
SCREENING_COLUMNS = (
    "record_id,search_round,date,source,record,identifier,url,stage,decision,reason,study_id,note"
).split(",")
QUALITY_COLUMNS = (
    "study_id,paper_ref,scale,item,item_label,score,max_score,scorer,rationale,source"
).split(",")
PRISMA_COLUMNS = "search_round,step,count,quote,source".split(",")
EXCLUSION_COLUMNS = (
    "extraction_line,extraction_study_id,outcome,role,events,total,percent_reported,"
    "reason_code,reason"
).split(",")
MISSING_COLUMNS = "study_id,outcome,extraction_line,looked_in,note".split(",")

SURVIVAL = {"OS_1y", "OS_2y", "OS_3y", "OS_4y", "OS_5y", "EFS_1y", "PFS_5y"}
DESIGN_ROWS = {
    "identification_only",
    "design_planned_enrollment",
    "design_description",
    "design_exploratory_endpoints",
    "design_population",
    "design_primary_endpoint",
    "design_followup",
    "design_median_age",
    "n_treated_and_age",
    "n_treated",
    "n_enrolled",
    "n_evaluable",
    "n_randomized",
}

# --- studies -------------------------------------------------------------------------------
# One row per report: the best identification of each of the paper's references 17-32 (from
# STUDIES.md), then the runner-up candidates that carry numbers of their own. Cohorts:
# reports that share patients share a cohort_id.
S_COMMON = dict.fromkeys(STUDY_COLUMNS, "")
STUDIES = [
    dict(
        study_id="ref17_NCT03677596",
        paper_ref="17",
        id_role="best",
        in_source_paper="true",
        first_author="",
        year="",
        citation="Open-label randomised phase 4 study of two InO dose levels (1.2 vs 1.8 "
        "mg/m2/cycle), NCT03677596 / EudraCT 2018-001557-27; Haematologica report (authors "
        "and year not identified)",
        nct="NCT03677596",
        source_url="https://haematologica.org/article/view/11921",
        source_tier="journal",
        design="randomised_dose",
        phase="4",
        disease_status="relapsed_refractory",
        ph_status="unknown",
        regimen_group="ino_mono",
        regimen="InO monotherapy; run-in 1.2 mg/m2/cycle (n = 22), then randomised 1.8 (n = 38) "
        "vs 1.2 mg/m2/cycle (n = 42)",
        n_enrolled="102",
        id_confidence="moderate",
        runner_ups="Registry results: EU CTR 2018-001557-27; ClinicalTrials.gov NCT03677596",
        cohort_id="C_NCT03677596",
        date_public="2025",
        extraction_lines="538",
        note="Trial identification high; which data source the paper used is uncertain. The "
        "Haematologica report's date was not found and it probably appeared after 2 December "
        "2024 (STUDIES.md), hence date_public 2025 (approximate). HSCT-eligible patients with "
        "VOD risk factors. Median age and follow-up not found.",
    ),
    dict(
        study_id="ref18_INO-VATE",
        paper_ref="18",
        id_role="best",
        in_source_paper="true",
        first_author="Kantarjian",
        year="2019",
        citation="Kantarjian HM et al. INO-VATE final report. Cancer 2019;125(14):2474-2487",
        doi="10.1002/cncr.32116",
        pmid="30920645",
        nct="NCT01564784",
        source_url="https://pmc.ncbi.nlm.nih.gov/articles/PMC6618133",
        source_tier="journal",
        design="rct",
        phase="3",
        disease_status="relapsed_refractory",
        ph_status="mixed",
        regimen_group="ino_mono",
        regimen="InO 1.8 mg/m2/cycle, up to 6 cycles (InO arm of a randomised comparison with "
        "standard care)",
        n_enrolled="164",
        n_evaluable="164",
        age_median="47",
        id_confidence="moderate",
        runner_ups="Kantarjian HM et al. NEJM 2016;375:740-753, doi 10.1056/NEJMoa1509277 "
        "(ITT218); related: Jabbour et al. Leuk Res 2020 (MRD); Kantarjian et al. Lancet "
        "Haematol 2017 (hepatotoxicity)",
        cohort_id="C_INO-VATE",
        date_public="2019-03",
        extraction_lines="546;547;548;549",
        note="InO arm only (164 randomised, all treated). Median age 47 is that of all 326 "
        "randomised patients. Follow-up >= 2 years after the last randomisation (no median). "
        "Trial identification high; report version moderate.",
    ),
    dict(
        study_id="ref19_DeAngelo_1010",
        paper_ref="19",
        id_role="best",
        in_source_paper="true",
        first_author="DeAngelo",
        year="2017",
        citation="DeAngelo DJ, Stock W, Stein AS, et al. Blood Adv 2017;1(15):1167-1180",
        doi="10.1182/bloodadvances.2016001925",
        nct="NCT01363297",
        source_url="http://ashpublications.net/bloodadvances/article/1/15/1167/15750/"
        "Inotuzumab-ozogamicin-in-adults-with-relapsed-or",
        source_tier="journal",
        design="single_arm",
        phase="1/2",
        disease_status="relapsed_refractory",
        ph_status="mixed",
        regimen_group="ino_mono",
        regimen="InO monotherapy (phase 1 dose escalation 1.2-1.8 mg/m2/cycle, expansion and "
        "phase 2 at the RP2D 1.8 mg/m2/cycle)",
        n_enrolled="72",
        n_evaluable="72",
        follow_up_median_months="23.7",
        id_confidence="high",
        runner_ups="ASH 2012 abstract of the phase 1 part (Blood 120(21):2612)",
        cohort_id="C_study1010",
        date_public="2017-06",
        extraction_lines="557;558;559",
        note="72 treated = phase 1 24 + expansion 13 + phase 2 35. Follow-up is that of "
        "survivors. DOI not checked against the journal page. Median age not found.",
    ),
    dict(
        study_id="ref20_Kopmar",
        paper_ref="20",
        id_role="best",
        in_source_paper="true",
        first_author="Kopmar",
        citation="Kopmar NE et al. (cited report not found). Candidate trial NCT03962465 "
        "(NCI-2020-04002): phase 1 InO with augmented BFM re-induction, R/R B-ALL, ages 18-55",
        nct="NCT03962465",
        source_url="https://clinicaltrials.gov/ct2/show/study/NCT03962465?view=record",
        source_tier="registry",
        design="single_arm",
        phase="1",
        disease_status="relapsed_refractory",
        ph_status="unknown",
        regimen_group="ino_chemo",
        regimen="InO + prednisone, daunorubicin, vincristine (part 2 adds pegaspargase)",
        id_confidence="low",
        cohort_id="C_NCT03962465",
        extraction_lines="102;103;104;105;106",
        note="Report not found; the link between Kopmar and NCT03962465 is not established. "
        "Planned enrolment 36 (registry), actual n unknown. No outcome numbers.",
    ),
    dict(
        study_id="ref21_Marconi_INO-CD22",
        paper_ref="21",
        id_role="best",
        in_source_paper="true",
        first_author="Marconi",
        year="2025",
        citation="INO-CD22 real-world cohort (24 Italian centres). Cancer 2025, PMID 40120068 "
        "(first authorship of Marconi not verified)",
        pmid="40120068",
        source_url="https://pubmed-d.ncbi.nlm.nih.gov/40120068",
        source_tier="journal",
        design="retrospective_cohort",
        disease_status="relapsed_refractory",
        ph_status="unknown",
        regimen_group="ino_mono",
        regimen="InO monotherapy per label",
        n_enrolled="73",
        n_evaluable="73",
        age_median="52.7",
        follow_up_median_months="37.2",
        id_confidence="low",
        runner_ups="Marconi G et al. GIMEMA ALL2418, ASH 2022 abstract 2726 (InO for "
        "MRD-positive B-ALL before HSCT; no results seen)",
        cohort_id="C_INO-CD22",
        date_public="2025-03",
        extraction_lines="138;563;564;565",
        note="About 45% likely; the paper (search date 2 Dec 2024) probably cited an earlier "
        "meeting version of this cohort. Median age 52.7 (printed 'quartiles' 51.9-53.5 look "
        "like a CI).",
    ),
    dict(
        study_id="ref22_Chevallier_EWALL-INO",
        paper_ref="22",
        id_role="best",
        in_source_paper="true",
        first_author="Chevallier",
        year="2024",
        citation="Chevallier P et al. EWALL-INO. J Clin Oncol 2024;42(36):4327-4341",
        doi="10.1200/JCO.24.00490",
        pmid="39418626",
        nct="NCT03249870",
        source_url="https://proxy.weglot.com/wg_31e3b69165a930b5a27173d9b265f5a52/nl/en/"
        "pubmed.ncbi.nlm.nih.gov/39418626/",
        source_tier="journal",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo",
        regimen="Steroid prephase; induction 1 vincristine + dexamethasone + InO; induction 2 "
        "cyclophosphamide + dexamethasone + InO; then consolidation and maintenance",
        n_enrolled="131",
        age_median="68",
        follow_up_median_months="31.3",
        id_confidence="high",
        runner_ups="ASH 2021 abstract 511 (interim)",
        cohort_id="C_EWALL-INO",
        date_public="2024-10",
        extraction_lines="571;572;573",
        note="Age >= 55, CD22+ Ph-negative BCP-ALL. 130 alive after induction 1, 120 received "
        "induction 2. Follow-up from the ASCO Post summary.",
    ),
    dict(
        study_id="ref23_Nasr",
        paper_ref="23",
        id_role="best",
        in_source_paper="true",
        first_author="Nasr",
        citation="Nasr et al. (cited report not identified)",
        id_confidence="none",
        note="Not identified. Most plausible group InO + chemotherapy with or without "
        "blinatumomab (MD Anderson), unverified. The paper uses it for 1- and 2-year OS, the "
        "AE table and VOD.",
    ),
    dict(
        study_id="ref24_Kantarjian_JHO2023",
        paper_ref="24",
        id_role="best",
        in_source_paper="true",
        first_author="Kantarjian",
        year="2023",
        citation="Kantarjian H, Haddad FG, Jain N, et al. J Hematol Oncol 2023;16:44",
        doi="10.1186/s13045-023-01444-2",
        source_url="https://jhoonline.biomedcentral.com/articles/10.1186/s13045-023-01444-2",
        source_tier="journal",
        design="single_arm",
        phase="2",
        disease_status="relapsed_refractory",
        ph_status="negative",
        regimen_group="ino_chemo_pm_blina",
        regimen="Mini-hyper-CVD + InO; from patient 68 fractionated InO + blinatumomab; POMP "
        "maintenance",
        n_enrolled="110",
        n_evaluable="110",
        age_median="37",
        follow_up_median_months="48",
        id_confidence="moderate",
        runner_ups="Kantarjian H et al. Lancet Oncol 2018;19:240-248 (older ND, n = 52); ASH "
        "2021 abstract 3363 (R/R long-term follow-up)",
        cohort_id="C_MDACC_RR_miniHCVD",
        date_public="2023-04",
        extraction_lines="581;582",
        overlap_note="Same R/R trial as ref25_Jabbour_JAMAOncol2018 and "
        "ref25_alt_Jabbour_Cancer2018 (first-salvage subset).",
        note="67 original schedule + 43 fractionated InO with blinatumomab.",
    ),
    dict(
        study_id="ref25_Jabbour_JAMAOncol2018",
        paper_ref="25",
        id_role="best",
        in_source_paper="true",
        first_author="Jabbour",
        year="2018",
        citation="Jabbour E et al. JAMA Oncol 2018: salvage mini-hyper-CVD + InO in R/R "
        "Ph-negative ALL (phase 2); not obtained",
        source_tier="journal",
        design="single_arm",
        phase="2",
        disease_status="relapsed_refractory",
        ph_status="negative",
        regimen_group="ino_chemo",
        regimen="Mini-hyper-CVD + InO",
        id_confidence="low",
        runner_ups="Jabbour E et al. Cancer 2018;124:4044 (first salvage, n = 48); Jabbour E "
        "et al. Blood 2024;143:417 (low-dose InO for MRD-positive ALL, n = 26)",
        cohort_id="C_MDACC_RR_miniHCVD",
        date_public="2018",
        overlap_note="Same R/R trial as ref24_Kantarjian_JHO2023.",
        note="About 35% likely; DOI probably 10.1001/jamaoncol.2017.2380 (unverified). No "
        "numbers obtained.",
    ),
    dict(
        study_id="ref26_Wieduwilt_A041703",
        paper_ref="26",
        id_role="best",
        in_source_paper="true",
        first_author="Wieduwilt",
        year="2023",
        citation="Wieduwilt MJ et al. Alliance A041703. ASCO 2023 abstract 7006, J Clin Oncol "
        "41(16_suppl)",
        nct="NCT03739814",
        source_url="https://paperexplained.cn/articles/paper/detail/"
        "c3dd2c55f2ac864fea7dae45f43a0924f3316d59",
        source_tier="abstract",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_blina",
        regimen="InO induction (0.8/0.5/0.5 mg/m2) then blinatumomab courses; intrathecal "
        "methotrexate; no systemic chemotherapy",
        n_enrolled="34",
        n_evaluable="33",
        age_median="71",
        age_range="60-84",
        follow_up_median_months="22",
        id_confidence="moderate",
        runner_ups="EHA 2023 report; possible ASH 2024 update; J Clin Oncol 2025 full paper "
        "(after the search date)",
        cohort_id="C_A041703",
        overlap_note="Same 33 treated patients as lu1_Wieduwilt_A041703_JCO (the J Clin Oncol "
        "report, a later cut, added by living update 1).",
        date_public="2023-05",
        extraction_lines="199;200;201;202;204;205;594;595;596",
        note="Age >= 60, no planned alloHCT. NCT number not checked against the registry.",
    ),
    dict(
        study_id="ref27_Stelljes_INITIAL-1",
        paper_ref="27",
        id_role="best",
        in_source_paper="true",
        first_author="Stelljes",
        year="2024",
        citation="Stelljes M et al. GMALL INITIAL-1. J Clin Oncol 2024;42(3):273-282 (online "
        "October 2023)",
        doi="10.1200/JCO.23.00546",
        pmid="37883727",
        source_url="https://ascopost.com/news/november-2023/"
        "inotuzumab-ozogamicin-based-induction-in-older-patients-with-philadelphia-chromosome-"
        "negative-b-cell-precursor-all",
        source_tier="press",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo",
        regimen="InO + dexamethasone induction (3 cycles), then age-adapted GMALL "
        "consolidation and maintenance",
        n_enrolled="45",
        n_evaluable="43",
        age_median="64",
        age_range="56-80",
        follow_up_median_months="32.4",
        id_confidence="moderate",
        runner_ups="ASH 2020 abstract 12 (first results); ASH 2022 update",
        cohort_id="C_INITIAL-1",
        date_public="2023-10",
        extraction_lines="603;604;605;611",
        note="Numbers from news summaries of the JCO paper (ASCO Post, Physician's Weekly). "
        "DOI and PMID unverified. Follow-up 2.7 years = 32.4 months.",
    ),
    dict(
        study_id="ref28_Advani",
        paper_ref="28",
        id_role="best",
        in_source_paper="true",
        first_author="Advani",
        citation="Advani et al. (cited report not found). Best guess SWOG S1312, phase 1 InO + "
        "CVP in R/R CD22+ acute leukaemia (unverified)",
        design="single_arm",
        phase="1",
        disease_status="relapsed_refractory",
        regimen_group="ino_chemo",
        regimen="InO + cyclophosphamide, vincristine, prednisone",
        id_confidence="low",
        note="About 40% likely, from background knowledge; NCT01925131 unverified. No numbers.",
    ),
    dict(
        study_id="ref29_Jen",
        paper_ref="29",
        id_role="best",
        in_source_paper="true",
        first_author="Jen",
        year="2023",
        citation="Jen WY, Jabbour E, Haddad FG, et al. Blood 2023;142(Suppl 1):2878 (ASH 2023 "
        "abstract)",
        nct="NCT01371630",
        source_url="https://github.com/Sergiomms/article_summary_3/blob/"
        "4047041ad8213c27ba4a8aedafe9648ede5afe9c/src/Texts.jsx",
        source_tier="secondary_copy",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo_pm_blina",
        regimen="Mini-hyper-CVD + InO; fractionated InO + blinatumomab from patient 50; POMP "
        "maintenance",
        n_enrolled="83",
        n_evaluable="77",
        age_median="68",
        age_range="60-87",
        follow_up_median_months="88",
        id_confidence="high",
        runner_ups="Jabbour E et al. Lancet Haematol 2023;10(6):e433-e444; Haddad F et al. EHA "
        "2022; Macaron W et al. ASCO 2022; propensity-score analysis (58 patients); review J "
        "Hematol Oncol 2023",
        cohort_id="C_MDACC_olderND",
        date_public="2023-11",
        extraction_lines="612;613",
        overlap_note="Same older-ND cohort as ref32_Short_candA_ASH2020 and "
        "ref24_alt_Kantarjian_LancetOncol2018. NCT01371630 is also given for "
        "ref25_alt_Jabbour_Cancer2018 (R/R patients, no overlap).",
        note="Values from a verbatim secondary copy of the abstract; check against the Blood "
        "supplement page. 6 of 83 were in CR at entry.",
    ),
    dict(
        study_id="ref30_Nasnas",
        paper_ref="30",
        id_role="best",
        in_source_paper="true",
        first_author="Nasnas",
        citation="Nasnas et al. (cited report not identified)",
        id_confidence="none",
        note="Not identified; ranked guesses: a >= 5-year update of the R/R mini-hyper-CVD + "
        "InO trial (would overlap ref 24), another analysis of the ref-29 cohort, hyper-CVAD + "
        "blinatumomab +/- InO.",
    ),
    dict(
        study_id="ref31_Rafei",
        paper_ref="31",
        id_role="best",
        in_source_paper="true",
        first_author="Rafei",
        citation="Rafei et al. (cited report not identified)",
        id_confidence="none",
        note="Not identified; best guess ASH 2021 abstract 3363 (R/R long-term follow-up of "
        "mini-hyper-CVD + InO +/- blinatumomab), which would overlap ref 24.",
    ),
    dict(
        study_id="ref32_Short_candA_ASH2020",
        paper_ref="32",
        id_role="best",
        in_source_paper="true",
        first_author="Short",
        year="2020",
        citation="Short NJ, Kantarjian HM, Ravandi F, et al. Blood 2020;136(Suppl 1) (ASH 2020 "
        "abstract): mini-hyper-CVD + InO +/- blinatumomab in older ND Ph-negative ALL",
        source_url="https://github.com/Sergiomms/article_summary_3/blob/"
        "4047041ad8213c27ba4a8aedafe9648ede5afe9c/src/Texts.jsx",
        source_tier="secondary_copy",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo_pm_blina",
        regimen="Mini-hyper-CVD + InO with or without blinatumomab",
        n_enrolled="73",
        n_evaluable="70",
        age_median="68",
        age_range="60-81",
        follow_up_median_months="45",
        id_confidence="low",
        runner_ups="Candidate B: Short N et al. ASH 2022 (Blood 140 Suppl 1:8966-8968); "
        "candidate C: ASCO 2022 cut of the same cohort",
        cohort_id="C_MDACC_olderND",
        date_public="2020-11",
        overlap_note="Same older-ND cohort as ref29_Jen (about 73 of 83 patients).",
        quote="Results: 73 pts have been treated, 70 of whom are evaluable for efficacy (3 pts "
        "too early for response assessment). | Median age was 68 years (range, 60-81 years) | "
        "With a median follow-up of 45 months (range, 2-98 months)",
        note="Candidate A, about 45% likely. 64 evaluable for morphological response.",
    ),
    # runner-up candidates with numbers of their own
    dict(
        study_id="ref24_alt_Kantarjian_LancetOncol2018",
        paper_ref="24",
        id_role="runner_up",
        in_source_paper="false",
        first_author="Kantarjian",
        year="2018",
        citation="Kantarjian H et al. Lancet Oncol 2018;19:240-248 (older ND); numbers from the "
        "interim ASH 2017 abstract (Blood 130 Suppl 1), seen without a web address",
        source_tier="abstract",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo",
        regimen="Mini-hyper-CVD + InO",
        n_enrolled="52",
        n_evaluable="48",
        age_median="68",
        age_range="60-81",
        id_confidence="low",
        cohort_id="C_MDACC_olderND",
        date_public="2017-11",
        extraction_lines="587",
        overlap_note="Earlier report of the ref29_Jen cohort.",
        note="Runner-up for ref 24 (about 35%). FLAG no_url: abstract text seen without its "
        "address.",
    ),
    dict(
        study_id="ref25_alt_Jabbour_Cancer2018",
        paper_ref="25",
        id_role="runner_up",
        in_source_paper="false",
        first_author="Jabbour",
        year="2018",
        citation="Jabbour E et al. Cancer 2018;124(20):4044-4055 (first salvage)",
        pmid="30307611",
        nct="NCT01371630",
        source_url="https://pmc.ncbi.nlm.nih.gov/articles/PMC6515924",
        source_tier="journal",
        design="single_arm",
        phase="2",
        disease_status="relapsed_refractory",
        ph_status="negative",
        regimen_group="ino_chemo_pm_blina",
        regimen="Mini-hyper-CVD + InO; blinatumomab added from patient 39",
        n_enrolled="48",
        n_evaluable="48",
        age_median="39",
        follow_up_median_months="31",
        id_confidence="low",
        cohort_id="C_MDACC_RR_miniHCVD",
        date_public="2018-10",
        extraction_lines="589;590",
        overlap_note="First-salvage subset of the R/R trial of ref24_Kantarjian_JHO2023. "
        "NCT01371630 is also given for ref29_Jen (older ND patients, no overlap).",
        note="Runner-up for ref 25 (about 25%).",
    ),
    dict(
        study_id="ref25_alt_Jabbour_Blood2024",
        paper_ref="25",
        id_role="runner_up",
        in_source_paper="false",
        first_author="Jabbour",
        year="2024",
        citation="Jabbour E et al. Blood 2024;143(5):417-421 (low-dose InO for MRD-positive ALL)",
        doi="10.1182/blood.2023022330",
        nct="NCT03441061",
        source_url="http://ashpublications.net/blood/article/143/5/417/498427/"
        "Phase-2-study-of-inotuzumab-ozogamicin-for?searchresult=1",
        source_tier="journal",
        design="single_arm",
        phase="2",
        disease_status="mixed",
        ph_status="mixed",
        regimen_group="ino_mono",
        regimen="Low-dose InO monotherapy",
        n_enrolled="26",
        n_evaluable="26",
        age_median="46",
        age_range="19-70",
        follow_up_median_months="24",
        id_confidence="low",
        cohort_id="C_NCT03441061",
        date_public="2023",
        quote="Twenty-six consecutive patients with a median age of 46 years (range, 19-70 years) "
        "were treated. | After a median follow-up of 24 months (range, 9-43), the 2-year "
        "relapse-free survival rate was 54%",
        note="Runner-up for ref 25 (about 20%). Patients in CR1 or CR2+ with MRD >= 1e-4 "
        "(coded mixed); 16 of 26 Ph+.",
    ),
    dict(
        study_id="ref32_alt_Short_candB_ASH2022",
        paper_ref="32",
        id_role="runner_up",
        in_source_paper="false",
        first_author="Short",
        year="2022",
        citation="Short N, Jabbour E, Ravandi F, et al. Blood 2022;140(Suppl 1):8966-8968 (ASH "
        "2022 abstract): hyper-CVAD + blinatumomab, InO added from patient 39",
        nct="NCT02877303",
        source_url="https://github.com/Sergiomms/article_summary_2/blob/"
        "0fabdca2b89d725906ff4c09ccbdc2c9b1259332/src/Texts.jsx",
        source_tier="secondary_copy",
        design="single_arm",
        phase="2",
        disease_status="newly_diagnosed",
        ph_status="negative",
        regimen_group="ino_chemo_pm_blina",
        regimen="Hyper-CVAD + blinatumomab; InO added from patient 39 (38 of 62 without InO)",
        n_enrolled="62",
        age_median="34",
        age_range="18-59",
        follow_up_median_months="23",
        id_confidence="low",
        cohort_id="C_MDACC_HCVAD_blina",
        date_public="2022-11",
        quote="Results: As of June 2022, 62 pts have been treated (38 without INO and 24 with "
        "INO). | The median age was 34 years (range, 18-59 years). | The median duration of "
        "follow-up is 23 months (range, 1-63 months).",
        note="Candidate B for ref 32 (about 35%). 38 of 62 patients received no InO.",
    ),
]

STUDY_MAP = [  # extraction study_id prefix -> data study_id (first match wins)
    ("ref17_", "ref17_NCT03677596"),
    ("ref18_", "ref18_INO-VATE"),
    ("ref19_", "ref19_DeAngelo_1010"),
    ("ref20_", "ref20_Kopmar"),
    ("ref21_", "ref21_Marconi_INO-CD22"),
    ("ref22_", "ref22_Chevallier_EWALL-INO"),
    ("ref23_", "ref23_Nasr"),
    ("ref24_ALT_Kantarjian_LancetOncol2018", "ref24_alt_Kantarjian_LancetOncol2018"),
    ("ref24_", "ref24_Kantarjian_JHO2023"),
    ("ref25_ALT_Jabbour_Cancer2018", "ref25_alt_Jabbour_Cancer2018"),
    ("ref25_ALT_Jabbour_Blood2024", "ref25_alt_Jabbour_Blood2024"),
    ("ref25_", "ref25_Jabbour_JAMAOncol2018"),
    ("ref26_", "ref26_Wieduwilt_A041703"),
    ("ref27_", "ref27_Stelljes_INITIAL-1"),
    ("ref28_", "ref28_Advani"),
    ("ref29_", "ref29_Jen"),
    ("ref30_", "ref30_Nasnas"),
    ("ref31_", "ref31_Rafei"),
    ("ref32_Short_candB", "ref32_alt_Short_candB_ASH2022"),
    ("ref32_ALT_cohortC", "ref32_alt_Short_candB_ASH2022"),
    ("ref32_", "ref32_Short_candA_ASH2020"),
]

# Report of each extraction study_id: (report, date_public). Dates are when the number first
# became public, as best known (partial ISO dates where only month or year is known).
REPORTS = {
    "ref17_": ("Haematologica report of NCT03677596 (abstract)", "2025"),
    "ref18_INO-VATE_InO": ("Kantarjian HM et al. Cancer 2019;125:2474 (final report)", "2019-03"),
    "ref18_INO-VATE_InO_NEJM2016": ("Kantarjian HM et al. NEJM 2016;375:740 (ITT218)", "2016-06"),
    "ref18_INO-VATE_InO_anyHSCT": ("BESPONSA product information (INO-VATE data)", "2017-06"),
    "ref18_INO-VATE_InO_ASH2017": (
        "Kantarjian HM et al. INO-VATE long-term meeting abstract (data as of 5 Jan 2017; "
        "probably ASH 2017, Blood 130 Suppl 1); web address not recorded",
        "2017-11",
    ),
    "ref19_": ("DeAngelo DJ et al. Blood Adv 2017;1:1167", "2017-06"),
    "ref19_DeAngelo_1010_Ph+": (
        "Pooled Ph+ analysis of studies 1010 and 1022 (Stock et al.), web copy dated 2023-05-05",
        "2023-05",
    ),
    "ref21_": ("INO-CD22 cohort, Cancer 2025 (PMID 40120068)", "2025-03"),
    "ref22_": ("Chevallier P et al. J Clin Oncol 2024;42:4327", "2024-10"),
    "ref22_ALT_RELAPSINO": (
        "RELAPSINO (EWALL-INO relapse analysis), 2025 meeting abstract; web address not recorded",
        "2025",
    ),
    "ref24_Kantarjian_JHO2023": ("Kantarjian H et al. J Hematol Oncol 2023;16:44", "2023-04"),
    "ref24_ALT_Kantarjian_LancetOncol2018": (
        "Kantarjian H et al. interim ASH 2017 abstract (Lancet Oncol 2018;19:240); web address "
        "not recorded",
        "2017-11",
    ),
    "ref25_ALT_Jabbour_Cancer2018": ("Jabbour E et al. Cancer 2018;124:4044", "2018-10"),
    "ref25_ALT_Jabbour_Blood2024": ("Jabbour E et al. Blood 2024;143:417", "2023"),
    "ref26_": ("Wieduwilt MJ et al. ASCO 2023 abstract 7006", "2023-05"),
    "ref27_": ("Stelljes M et al. J Clin Oncol 2024;42:273 (via news summaries)", "2023-10"),
    "ref29_Jen": ("Jen WY et al. ASH 2023 abstract, Blood 142 Suppl 1:2878", "2023-11"),
    "ref29_ALT_cohortA_LancetHaematol2023": (
        "Jabbour E et al. Lancet Haematol 2023;10:e433",
        "2023-05",
    ),
    "ref29_ALT_cohortA_Haddad_EHA2022": ("Haddad F et al. EHA 2022 abstract", "2022-05"),
    "ref29_ALT_cohortA_Macaron_ASCO2022": ("Macaron W et al. ASCO 2022 abstract", "2022-05"),
    "ref32_Short_candA_ASH2020": ("Short NJ et al. ASH 2020 abstract", "2020-11"),
    "ref32_Short_candB_ASH2022": ("Short N et al. ASH 2022 abstract", "2022-11"),
    "ref32_ALT_cohortC_Short_ASCO2022": ("Short NJ et al. ASCO 2022 abstract", "2022-05"),
    "ref32_ALT_cohortC_HCVAD_blina_InO_ASH2025": (
        "ASH 2025 abstract, Blood 146 Suppl 1:1567",
        "2025-11",
    ),
}

# Per-line decisions for outcome rows: line -> (variant, primary, overrides). Overrides may
# set denominator_basis, flags, definition, outcome, ci, read_from, date_public, note_add.
P, A = True, False
ROWS = {
    2: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR/CRi")),
    3: ("arm_runin_1.2", A, dict(denominator_basis="subgroup", definition="CR/CRi")),
    4: ("arm_rand_1.2", A, dict(denominator_basis="subgroup", definition="CR/CRi")),
    5: ("arm_all_1.2", A, dict(denominator_basis="subgroup", definition="CR/CRi")),
    6: ("arm_rand_1.8", A, dict(denominator_basis="subgroup", definition="CR/CRi")),
    7: ("all_treated", P, dict(denominator_basis="all_treated", definition="SOS, all post-HSCT")),
    8: ("all_treated", P, dict(denominator_basis="all_treated", definition="HSCT after InO")),
    9: ("post_hsct_arm_runin_1.2", A, dict(denominator_basis="transplanted")),
    10: ("post_hsct_arm_rand_1.2", A, dict(denominator_basis="transplanted")),
    11: ("post_hsct_arm_rand_1.8", A, dict(denominator_basis="transplanted")),
    # ref 18 INO-VATE
    35: ("itt326", P, dict(denominator_basis="itt", definition="CR/CRi")),
    36: ("itt218", A, dict(denominator_basis="itt", definition="CR/CRi")),
    37: (
        "eot_responders",
        A,
        dict(
            denominator_basis="responders",
            definition="MRD < 1e-4 at end of treatment among CR/CRi",
            report="Jabbour E et al. Leuk Res 2020 (INO-VATE MRD analysis, final data cut)",
            date_public="2019-11",
        ),
    ),
    555: (
        "itt218_responders",
        A,
        dict(
            denominator_basis="responders",
            definition="MRD-negative among CR/CRi (first 218)",
            flags="secondary_source",
        ),
    ),
    39: ("itt326", P, dict()),
    40: (
        "direct_itt326",
        A,
        dict(
            denominator_basis="itt",
            definition="HSCT directly after CR/CRi, before follow-up induction",
        ),
    ),
    41: (
        "any_time_itt326",
        P,
        dict(denominator_basis="itt", definition="HSCT at any time after InO", flags="label_data"),
    ),
    42: (
        "itt218",
        A,
        dict(
            denominator_basis="itt",
            definition="proceeded to HSCT",
            report="ASCO 2017 abstract reporting the NEJM 2016 ITT218 population",
            date_public="2017-05",
        ),
    ),
    43: ("safety", P, dict(denominator_basis="safety", definition="VOD/SOS, any grade")),
    44: (
        "safety",
        P,
        dict(
            denominator_basis="safety",
            read_from="table",
            definition="VOD, grade >= 3 (serious-AE table)",
        ),
    ),
    378: ("label_safety", P, dict(flags="percent_only;label_data")),
    379: ("label_safety", P, dict(flags="percent_only;label_data")),
    380: ("label_safety", P, dict(flags="percent_only;label_data")),
    381: ("label_safety", P, dict(flags="label_data")),
    382: ("label_safety", P, dict(flags="percent_only;label_data")),
    383: ("label_safety", P, dict(flags="label_data")),
    384: ("label_safety", P, dict(flags="percent_only;label_data")),
    385: ("label_safety", P, dict(flags="percent_only;label_data")),
    61: ("safety", P, dict(denominator_basis="safety", read_from="table", flags="serious_only")),
    62: ("safety", P, dict(denominator_basis="safety", read_from="table", flags="serious_only")),
    396: ("safety", P, dict(denominator_basis="safety", read_from="table", flags="serious_only")),
    399: ("safety", P, dict(denominator_basis="safety", read_from="table", flags="serious_only")),
    551: ("itt326", P, dict(ci=("26.4", "40.9"), flags="no_url")),
    # ref 19
    68: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR/CRi")),
    69: (
        "responders",
        A,
        dict(denominator_basis="responders", definition="MRD negativity among CR/CRi"),
    ),
    70: (
        "all_treated",
        P,
        dict(denominator_basis="all_treated", definition="post-study allo-HSCT"),
    ),
    71: (
        "all_treated",
        P,
        dict(denominator_basis="all_treated", definition="treatment-related VOD/SOS"),
    ),
    72: (
        "ph_pos_subgroup",
        A,
        dict(denominator_basis="subgroup", definition="CR/CRi", flags="secondary_source"),
    ),
    # ref 21
    130: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR + CRi")),
    131: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR alone")),
    132: ("all_treated", P, dict(ci=("11.9", "32.3"))),
    133: (
        "all_treated",
        P,
        dict(
            flags="ci_inconsistent",
            note_add="Printed 95% CI 9.6%-29.8% does not contain the estimate; CI left blank.",
        ),
    ),
    134: ("all_treated", P, dict(denominator_basis="all_treated", definition="allo-HSCT")),
    135: ("all_treated", P, dict(denominator_basis="all_treated", definition="VOD/SOS")),
    # ref 22
    139: (
        "all_enrolled",
        P,
        dict(denominator_basis="all_treated", definition="CR/CRp after induction 2"),
    ),
    142: ("all_enrolled", P, dict()),
    143: ("all_enrolled", P, dict(flags="secondary_source")),
    145: ("responders", A, dict(denominator_basis="responders", definition="relapse (crude)")),
    578: (
        "relapsino_2023_all",
        A,
        dict(
            denominator_basis="all_treated",
            flags="no_url",
            definition="relapse (crude), follow-up May 2023",
        ),
    ),
    # ref 24
    174: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR, CRp or CRi")),
    175: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR alone")),
    176: (
        "responders",
        A,
        dict(denominator_basis="responders", definition="MRD negativity among responders"),
    ),
    177: ("all_treated", P, dict(denominator_basis="all_treated", definition="allo-SCT")),
    178: ("all_treated", P, dict(denominator_basis="all_treated", definition="SOS, any grade")),
    473: ("arm_original_schedule", A, dict(denominator_basis="subgroup")),
    474: ("arm_fractionated_blina", A, dict(denominator_basis="subgroup")),
    179: ("all_treated", P, dict()),
    181: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", flags="no_url", definition="CR, CRp or CRi"),
    ),
    182: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", flags="no_url", definition="CR alone"),
    ),
    183: (
        "responders_time_unknown",
        P,
        dict(
            denominator_basis="mrd_evaluable",
            flags="no_url",
            definition="flow MRD negativity, time point cut off in the text",
        ),
    ),
    586: (
        "review_citation",
        P,
        dict(
            flags="secondary_source",
            report="Wieduwilt MJ, review, Clin Lymphoma Myeloma "
            "Leuk 2024;24:S31, quoting Lancet Oncol 2018",
            date_public="2018-01",
        ),
    ),
    # ref 25 alternatives
    186: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR, CRp or CRi")),
    187: ("all_treated", P, dict(denominator_basis="all_treated", definition="CR alone")),
    188: (
        "responders",
        A,
        dict(
            denominator_basis="responders", definition="MRD negativity among responders (overall)"
        ),
    ),
    591: ("all_treated", P, dict(denominator_basis="all_treated", definition="allo-SCT")),
    190: ("all_treated", P, dict(denominator_basis="all_treated", definition="VOD, any grade")),
    588: ("all_treated", P, dict()),
    192: (
        "all_treated",
        P,
        dict(denominator_basis="all_treated", definition="response with MRD negativity"),
    ),
    193: ("all_treated", P, dict()),
    194: ("all_treated", P, dict(denominator_basis="all_treated", definition="SOS, any grade")),
    # ref 26
    195: (
        "all_treated",
        P,
        dict(denominator_basis="all_treated", definition="cumulative CR/CRh/CRi through course II"),
    ),
    196: (
        "all_treated",
        P,
        dict(
            denominator_basis="all_treated",
            definition="cumulative CR/CRh/CRi after InO courses only",
        ),
    ),
    203: (
        "all_treated",
        P,
        dict(ci=("61", "92"), note_add="CI from the quote of extraction line 596."),
    ),
    597: ("all_treated", P, dict(ci=("72", "98"))),
    599: (
        "all_treated",
        P,
        dict(denominator_basis="all_treated", definition="relapse (crude)", derived=False),
    ),
    600: (
        "all_treated",
        P,
        dict(
            denominator_basis="all_treated",
            flags="lower_bound",
            definition="SOS (only the fatal case is mentioned)",
        ),
    ),
    # ref 27
    228: ("evaluable", P, dict(denominator_basis="evaluable", definition="CR/CRi")),
    229: (
        "after_c2",
        A,
        dict(
            denominator_basis="evaluable", definition="molecular MRD < 1e-4 after induction cycle 2"
        ),
    ),
    230: (
        "after_c3",
        P,
        dict(
            denominator_basis="evaluable",
            flags="inferred_denominator",
            definition="molecular MRD < 1e-4 after induction cycle 3 (end of induction)",
        ),
    ),
    231: ("evaluable", P, dict(ci=("82", "99"))),
    232: ("evaluable", P, dict(ci=("59", "87"))),
    233: (
        "evaluable",
        P,
        dict(
            denominator_basis="evaluable", flags="assumed_denominator", definition="VOD, nonfatal"
        ),
    ),
    # ref 29 (Jen ASH 2023 and other reports of the same cohort)
    284: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", definition="CR, CRp or CRi", flags="secondary_source"),
    ),
    285: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", definition="CR alone", flags="secondary_source"),
    ),
    286: (
        "responders",
        A,
        dict(
            denominator_basis="responders",
            flags="secondary_source",
            definition="flow MRD negativity at any time among responders",
        ),
    ),
    287: (
        "responders",
        P,
        dict(
            denominator_basis="responders",
            flags="secondary_source",
            definition="flow MRD negativity after cycle 1 among responders",
        ),
    ),
    288: ("all_enrolled", P, dict(flags="secondary_source;assumed_denominator")),
    289: (
        "all_enrolled",
        P,
        dict(
            denominator_basis="all_treated",
            flags="secondary_source;assumed_denominator",
            definition="allo-SCT in first CR",
        ),
    ),
    290: (
        "all_enrolled",
        P,
        dict(
            denominator_basis="all_treated",
            flags="secondary_source;assumed_denominator",
            definition="relapse (crude)",
        ),
    ),
    291: (
        "all_enrolled",
        P,
        dict(
            denominator_basis="all_treated", flags="secondary_source", definition="VOD, any grade"
        ),
    ),
    296: (
        "lancet_haematol_2023",
        P,
        dict(denominator_basis="all_treated", flags="secondary_source;grade3_4_only"),
    ),
    297: (
        "lancet_haematol_2023",
        P,
        dict(denominator_basis="all_treated", flags="secondary_source;grade3_4_only"),
    ),
    298: (
        "lancet_haematol_2023",
        A,
        dict(denominator_basis="all_treated", flags="secondary_source"),
    ),
    299: ("lancet_haematol_2023", P, dict(ci=("31.2", "54.3"), flags="secondary_source")),
    300: ("eha2022", A, dict(denominator_basis="evaluable", flags="secondary_source")),
    301: (
        "eha2022_responders",
        A,
        dict(
            denominator_basis="responders",
            flags="secondary_source",
            definition="flow MRD negativity overall",
        ),
    ),
    302: ("eha2022", A, dict(flags="secondary_source")),
    303: ("eha2022_responders", A, dict(denominator_basis="responders", flags="secondary_source")),
    304: (
        "eha2022",
        A,
        dict(denominator_basis="all_treated", flags="secondary_source;assumed_denominator"),
    ),
    305: (
        "asco2022",
        A,
        dict(denominator_basis="evaluable", flags="secondary_source", derived=False),
    ),
    306: ("asco2022", A, dict(flags="secondary_source")),
    # ref 32 candidate A
    345: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", definition="CR, CRp or CRi", flags="secondary_source"),
    ),
    346: (
        "evaluable",
        P,
        dict(denominator_basis="evaluable", definition="CR alone", flags="secondary_source"),
    ),
    347: (
        "mrd_evaluable",
        A,
        dict(
            denominator_basis="mrd_evaluable",
            definition="flow MRD negativity overall",
            flags="secondary_source",
        ),
    ),
    348: (
        "responders",
        P,
        dict(
            denominator_basis="responders",
            flags="secondary_source",
            definition="allo-SCT in first remission",
            note_add="Primary on responders: the number transplanted among all treated is "
            "not printed.",
        ),
    ),
    349: ("responders", A, dict(denominator_basis="responders", flags="secondary_source")),
    350: ("evaluable", P, dict(denominator_basis="evaluable", flags="secondary_source")),
    351: ("evaluable", P, dict(flags="secondary_source")),
    # ref 32 candidate B (runner-up) and other cuts of its cohort
    352: ("active_disease", P, dict(denominator_basis="evaluable", flags="secondary_source")),
    353: ("mrd_evaluable", P, dict(denominator_basis="mrd_evaluable", flags="secondary_source")),
    354: ("all_treated", P, dict(denominator_basis="all_treated", flags="secondary_source")),
    355: ("all_treated", P, dict(denominator_basis="all_treated", flags="secondary_source")),
    356: ("all_treated", P, dict(flags="secondary_source")),
    357: (
        "ino_cohort",
        P,
        dict(
            outcome="OS_1y",
            flags="secondary_source",
            denominator_basis="subgroup",
            note_add="Extraction code OS_1y_InOcohort, recoded as OS_1y with variant "
            "ino_cohort: the InO cohort (24 of 62) is a subgroup; the abstract prints no 1-year "
            "OS for the whole study.",
        ),
    ),
    358: ("ino_exposed", P, dict(denominator_basis="subgroup", flags="secondary_source")),
    359: ("asco2022", A, dict(flags="secondary_source")),
    342: ("ash2025_all", A, dict(denominator_basis="all_treated")),
    343: ("ash2025_ino_cohort", A, dict(denominator_basis="subgroup")),
    344: (
        "ash2025_all",
        A,
        dict(denominator_basis="all_treated", definition="flow MRD negativity at any time"),
    ),
}

# Rows computed from two printed numbers of one report (a count over another printed
# denominator). They carry derived=true and name their base line.
REBASED = [
    # (base line, variant, primary, events, total, basis, derivation)
    (
        145,
        "all_treated",
        P,
        "47",
        "131",
        "all_treated",
        "47 relapses (printed, among 119 responders) over all 131 included (printed)",
    ),
    (
        349,
        "all_evaluable",
        P,
        "9",
        "70",
        "evaluable",
        "9 relapses (printed, among 69 in remission) over the 70 patients evaluable for "
        "efficacy (printed)",
    ),
    (
        37,
        "eot_all_treated",
        P,
        "76",
        "164",
        "itt",
        "76 MRD-negative (printed, among 121 CR/CRi) over all 164 randomised to InO (printed)",
    ),
    (
        69,
        "all_treated",
        P,
        "41",
        "72",
        "all_treated",
        "41 MRD-negative (printed, among 49 CR/CRi) over all 72 treated (printed)",
    ),
    (
        176,
        "all_treated",
        P,
        "75",
        "110",
        "all_treated",
        "75 MRD-negative (printed, among 91 responders) over all 110 treated (printed)",
    ),
    (
        188,
        "all_treated",
        P,
        "41",
        "48",
        "all_treated",
        "41 MRD-negative (DERIVED from 93% of 44 responders) over all 48 treated (printed)",
    ),
    (
        286,
        "evaluable",
        P,
        "71",
        "77",
        "evaluable",
        "71 MRD-negative (printed, among 76 responders) over the 77 patients evaluable for "
        "response (printed; the 6 in CR at entry are not counted by the source)",
    ),
    (
        347,
        "evaluable",
        P,
        "65",
        "70",
        "evaluable",
        "65 MRD-negative (printed, among 68 assessed) over the 70 patients evaluable for "
        "efficacy (printed)",
    ),
]

REPEAT = "repeat"
EXCLUDE = {
    38: (
        "same_measurement",
        "ASCO 2015 interim figure (78% of about 88 responders, no count) "
        "of the data set whose printed count 69/88 is outcome row from line 555",
    ),
    73: (
        "subgroup_only",
        "Ph+ subgroup (16 of 72) from a pooled analysis; no whole-study CR "
        "exists to stand beside it, and a subgroup cannot be the study's primary row",
    ),
    141: (
        "no_denominator",
        "MRD2 < 1e-4 in 80%; the denominator (MRD-evaluable responders) is "
        "not given, so no count can be formed",
    ),
    281: (
        "not_a_report",
        "Narrative review (rounded 5-year OS 50%, no n); the extraction says do not pool",
    ),
    282: (
        "no_denominator",
        "Propensity-score analysis: 98% with unclear denominator (58 or 38 matched)",
    ),
    283: (
        "subgroup_only",
        "Propensity-matched subset (n = 38) of an earlier cut of the ref-29 "
        "cohort, not a study-level estimate",
    ),
    341: (
        "not_a_report",
        "Narrative review (rounded 3-year OS 85%, no n); the extraction says do not pool",
    ),
}
# Repeated rows (second pass): line -> kept line.
REPEATS = {
    550: 39,
    556: 41,
    394: 43,
    395: 44,
    397: 61,
    398: 62,
    45: 378,
    46: 379,
    47: 380,
    48: 381,
    49: 382,
    50: 383,
    51: 384,
    52: 385,
    417: 71,
    566: 133,
    436: 135,
    574: 142,
    575: 143,
    577: 145,
    472: 178,
    583: 179,
    189: 591,
    478: 190,
    602: 195,
    606: 231,
    607: 232,
    496: 233,
    614: 288,
    616: 289,
    615: 290,
    532: 291,
    534: 296,
    535: 297,
    536: 298,
    617: 302,
}

DEFINITIONS = {
    "OR": "overall response as the source defines it",
    "CR": "complete remission alone",
    "SCT": "allogeneic stem cell transplantation",
    "relapse": "relapse",
    "VOD": "hepatic VOD/SOS, any grade",
}


def _survival_definition(code: str) -> str:
    """'Kaplan-Meier overall survival at 1 year' for OS_1y, and the like; '' otherwise."""
    names = {
        "OS": "overall survival",
        "EFS": "event-free survival",
        "PFS": "progression-free survival",
    }
    head, _, tail = code.partition("_")
    if head not in names or not tail.endswith("y"):
        return ""
    years = tail[:-1]
    return f"Kaplan-Meier {names[head]} at {years} year{'s' if years != '1' else ''}"


def _study_for(extraction_id: str) -> str:
    for prefix, sid in STUDY_MAP:
        if extraction_id.startswith(prefix):
            return sid
    raise KeyError(extraction_id)


def _report_for(extraction_id: str) -> tuple[str, str]:
    best = ""
    for prefix in REPORTS:
        if extraction_id.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if not best:
        raise KeyError(f"no report date for {extraction_id}")
    return REPORTS[best]


def read_extraction(path: Path) -> list[dict]:
    """Rows of extraction.csv with the line number an editor shows (header = line 1)."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        start = 2
        for row in reader:
            row["_line"] = start
            rows.append(row)
            start = reader.line_num + 1
    return rows


def has_value(row: dict) -> bool:
    """A row carries a value unless it is a not_found row without events or percentage."""
    if row["role"] != "not_found":
        return True
    return bool(row["events"].strip() or row["percent_reported"].strip())


def _merge_flags(*parts: str) -> str:
    out: list[str] = []
    for part in parts:
        for f in part.split(";"):
            if f and f not in out:
                out.append(f)
    return ";".join(out)


def outcome_row(src: dict, variant: str, primary: bool, over: dict) -> dict:
    """One outcomes.csv row from an extraction row and the decisions for it."""
    code = over.get("outcome", src["outcome"])
    kind = "survival" if code in SURVIVAL else "binary"
    report, date = _report_for(src["study_id"])
    note = src["note"].strip()
    # the extraction marks derived counts DERIVED/INFERRED; a few notes use the word about
    # another number (override "derived" then)
    derived = over.get("derived", "DERIVED" in note or "INFERRED" in note)
    flags = over.get("flags", "")
    if not src["source_url"].strip():
        flags = _merge_flags(flags, "no_url")
    if "ASSUMED" in note:
        flags = _merge_flags(flags, "assumed_denominator")
    if "LOWER BOUND" in note:
        flags = _merge_flags(flags, "lower_bound")
    row = dict.fromkeys(OUTCOME_COLUMNS, "")
    row.update(
        study_id=_study_for(src["study_id"]),
        outcome=code,
        variant=variant,
        primary="true" if primary else "false",
        kind=kind,
        percent_reported=src["percent_reported"].strip(),
        read_from=over.get("read_from", "text"),
        definition=over.get("definition", DEFINITIONS.get(code, _survival_definition(code))),
        denominator_basis=over.get("denominator_basis", ""),
        derived="true" if derived else "false",
        derivation=note if derived else "",
        flags=flags,
        date_public=over.get("date_public", date),
        report=over.get("report", report),
        source_url=src["source_url"].strip(),
        quote=src["quote"].strip(),
        extraction_line=str(src["_line"]),
        note=(note + (" " + over["note_add"] if "note_add" in over else "")).strip(),
    )
    if kind == "binary":
        row["events"] = src["events"].strip()
        row["total"] = src["total"].strip()
        if not row["events"]:
            row["flags"] = _merge_flags(row["flags"], "percent_only")
        if not row["denominator_basis"]:
            row["denominator_basis"] = "safety" if code.startswith("AE_") else "unknown"
    else:
        # a survival landmark: the estimate as printed, never a count
        row["estimate_pct"] = src["percent_reported"].strip()
        row["n_analysed"] = src["total"].strip()
        if "ci" in over:
            row["ci_low_pct"], row["ci_high_pct"] = over["ci"]
        row["denominator_basis"] = over.get("denominator_basis", "")
        row["derived"] = "false"
        row["derivation"] = ""
    return row


def build(extraction: Path) -> dict[str, list[dict]]:
    """All tables as lists of row dicts."""
    src = read_extraction(extraction)
    by_line = {r["_line"]: r for r in src}
    study_lines = {int(x) for s in STUDIES for x in s.get("extraction_lines", "").split(";") if x}
    outcomes: list[dict] = []
    exclusions: list[dict] = []
    missing: list[dict] = []
    unassigned = []
    for r in src:
        line = r["_line"]
        if not has_value(r):
            missing.append(
                dict(
                    study_id=_study_for(r["study_id"]),
                    outcome=r["outcome"],
                    extraction_line=str(line),
                    looked_in=r["source_url"].strip(),
                    note=r["note"].strip(),
                )
            )
            continue
        if line in ROWS:
            variant, primary, over = ROWS[line]
            outcomes.append(outcome_row(r, variant, primary, over))
        elif line in study_lines:
            continue
        elif line in EXCLUDE or line in REPEATS:
            if line in REPEATS:
                kept = REPEATS[line]
                code = REPEAT
                reason = (
                    f"Repeat of extraction line {kept} (same study, outcome and value"
                    + (
                        "; the kept line carries the count derived where a single integer fits"
                        if by_line[kept]["events"] and not r["events"]
                        else ""
                    )
                    + ")"
                )
            else:
                code, reason = EXCLUDE[line]
            exclusions.append(
                dict(
                    extraction_line=str(line),
                    extraction_study_id=r["study_id"],
                    outcome=r["outcome"],
                    role=r["role"],
                    events=r["events"].strip(),
                    total=r["total"].strip(),
                    percent_reported=r["percent_reported"].strip(),
                    reason_code=code,
                    reason=reason,
                )
            )
        elif r["outcome"] in DESIGN_ROWS:
            unassigned.append(f"line {line}: design row {r['outcome']} not used by a study")
        else:
            unassigned.append(f"line {line}: {r['study_id']} {r['outcome']} has no decision")
    for base, variant, primary, ev, tot, basis, how in REBASED:
        r = by_line[base]
        row = outcome_row(r, variant, primary, dict(ROWS[base][2]))
        row.update(
            events=ev,
            total=tot,
            denominator_basis=basis,
            derived="true",
            derivation=how,
            primary="true" if primary else "false",
            percent_reported="",
        )
        outcomes.append(row)
    if unassigned:
        raise SystemExit("unassigned extraction rows:\n" + "\n".join(unassigned))
    # characteristics quotes of the studies
    studies = []
    for s in STUDIES:
        row = dict(S_COMMON)
        row.update(s)
        lines = [int(x) for x in row["extraction_lines"].split(";") if x]
        if lines:  # else the quote written above, read from the source itself
            row["quote"] = " | ".join(by_line[n]["quote"].strip() for n in lines)
        studies.append(row)
    return dict(studies=studies, outcomes=outcomes, exclusions=exclusions, missing=missing)


def quality_rows(path: Path, studies: list[dict]) -> list[dict]:
    """The paper's modified Jadad and MINORS item scores, long format."""
    jadad = [
        "random sequence generation",
        "allocation concealment",
        "blinding",
        "withdrawals and dropouts",
    ]
    jadad_max = ["2", "2", "2", "1"]
    minors = [
        "clearly stated aim",
        "consecutive patient inclusion",
        "prospective data collection",
        "endpoints appropriate to the aim",
        "unbiased assessment of the endpoint",
        "adequate follow-up period",
        "loss to follow-up <= 5%",
        "prospective calculation of the study size",
    ]
    by_ref = {s["paper_ref"]: s["study_id"] for s in studies if s["id_role"] == "best"}
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            jad = r["scale"] == "modified Jadad"
            labels = jadad if jad else minors
            for i, label in enumerate(labels, start=1):
                out.append(
                    dict(
                        study_id=by_ref[r["ref"]],
                        paper_ref=r["ref"],
                        scale="modified_jadad" if jad else "minors",
                        item=str(i),
                        item_label=label,
                        score=r[f"item_{i}"],
                        max_score=jadad_max[i - 1] if jad else "2",
                        scorer="lao2025",
                        rationale="Score as printed in Lao 2025 Table 1; the paper gives no "
                        "per-item rationale.",
                        source="Lao 2025, Table 1" + ("A" if jad else "B"),
                    )
                )
            out.append(
                dict(
                    study_id=by_ref[r["ref"]],
                    paper_ref=r["ref"],
                    scale="modified_jadad" if jad else "minors",
                    item="total",
                    item_label="total score",
                    score=r["total"],
                    max_score="7" if jad else "16",
                    scorer="lao2025",
                    rationale="Total as printed in Lao 2025 Table 1.",
                    source="Lao 2025, Table 1" + ("A" if jad else "B"),
                )
            )
    return out


# Our own scoring of ref 17, which the paper did not score (modified Jadad; from the
# Haematologica abstract, the only text of the report that could be read).
OWN_QUALITY = [
    (
        "1",
        "random sequence generation",
        "1",
        "2",
        "Randomised phase stated ('in the randomized phase patients received InO...'); the "
        "method of sequence generation is not described in the abstract.",
    ),
    ("2", "allocation concealment", "1", "2", "Not described in the abstract: unclear."),
    ("3", "blinding", "0", "2", "Open-label study (no blinding)."),
    (
        "4",
        "withdrawals and dropouts",
        "0",
        "1",
        "Withdrawals and dropouts are not described in the abstract.",
    ),
    ("total", "total score", "2", "7", "Sum of the four items."),
]


def own_quality_rows() -> list[dict]:
    """Review-team quality rows for the studies the paper did not score."""
    return [
        dict(
            study_id="ref17_NCT03677596",
            paper_ref="17",
            scale="modified_jadad",
            item=item,
            item_label=label,
            score=score,
            max_score=top,
            scorer="review_team",
            rationale=why,
            source="https://haematologica.org/article/view/11921 (abstract)",
        )
        for item, label, score, top, why in OWN_QUALITY
    ]


PRISMA = [
    (
        "records_identified_databases",
        "2503",
        "A total of 2,503 references and 65 NCT-registered trials were initially identified.",
    ),
    (
        "records_identified_registers",
        "65",
        "A total of 2,503 references and 65 NCT-registered trials were initially identified.",
    ),
    ("duplicates_removed", "", ""),
    ("records_screened", "", ""),
    ("records_excluded", "", ""),
    ("reports_assessed", "", ""),
    ("reports_excluded", "", ""),
    (
        "studies_included",
        "16",
        "After removing duplicates and screening titles and abstracts, followed by full-text "
        "assessment, 16 studies were ultimately included in the analysis.",
    ),
]


def write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def read_staging(name: str, columns: list[str]) -> list[dict]:
    """Rows of a staging file, which must have exactly the given columns."""
    path = STAGING / name
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != columns:
            raise SystemExit(f"{path}: columns {reader.fieldnames} differ from {columns}")
        return list(reader)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extraction", type=Path, default=SHARED / "extraction/extraction.csv")
    ap.add_argument("--paper", type=Path, default=SHARED / "paper")
    ap.add_argument("--out", type=Path, default=REPO / "data")
    ap.add_argument(
        "--force", action="store_true", help="overwrite existing tables (hand edits are lost)"
    )
    args = ap.parse_args(argv)
    if (args.out / "studies.csv").exists() and not args.force:
        print(
            f"{args.out} already holds the tables, which may carry hand edits; "
            "re-run with --force to regenerate them",
            file=sys.stderr,
        )
        return 2
    t = build(args.extraction)
    studies = t["studies"] + read_staging("living_update_studies.csv", STUDY_COLUMNS)
    outcomes = t["outcomes"] + read_staging("living_update_outcomes.csv", OUTCOME_COLUMNS)
    screening = read_staging("screening_log.csv", SCREENING_COLUMNS)
    outcomes.sort(key=lambda r: (r["study_id"], r["outcome"], r["primary"] != "true", r["variant"]))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    write(out / "studies.csv", STUDY_COLUMNS, studies)
    write(out / "outcomes.csv", OUTCOME_COLUMNS, outcomes)
    write(out / "screening.csv", SCREENING_COLUMNS, screening)
    write(out / "exclusions.csv", EXCLUSION_COLUMNS, t["exclusions"])
    write(out / "missing.csv", MISSING_COLUMNS, t["missing"])
    write(
        out / "quality.csv",
        QUALITY_COLUMNS,
        quality_rows(args.paper / "reported_quality.csv", studies) + own_quality_rows(),
    )
    write(
        out / "prisma.csv",
        PRISMA_COLUMNS,
        [
            dict(
                search_round="lao2024",
                step=s,
                count=c,
                quote=q,
                source="Lao 2025, section 3.1" if q else "",
            )
            for s, c, q in PRISMA
        ],
    )
    with (args.paper / "reported_pooled.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        pooled = list(reader)
        write(out / "paper_reported.csv", list(reader.fieldnames), pooled)
    n_primary = sum(r["primary"] == "true" for r in outcomes)
    print(
        f"studies {len(studies)}, outcome rows {len(outcomes)} ({n_primary} primary), "
        f"exclusions {len(t['exclusions'])}, missing {len(t['missing'])}, "
        f"screening {len(screening)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
