"""The metrics of DESIGN.md section 6 on small hand-written cohorts; no database."""

import datetime as dt
import json

import pytest

from analytics import cohort
from analytics.cohort import Definitions, cohort_snapshot
from analytics.options import CohortFilters
from outcomes import gestation
from outcomes.models import EmbryoTransfer, PregnancyOutcome
from registry.models import Patient, Route
from tests.analytics.cohort_rows import (
    TRANSFER_ON,
    adverse_event,
    frames,
    infant,
    patient,
    pregnancy,
    transfer,
    untreated,
)


def snapshot(**rows) -> dict:
    report = cohort_snapshot(frames(**rows))
    json.dumps(report, allow_nan=False)  # never NaN, whatever the cohort
    return report


def counts(metric: dict) -> tuple:
    return metric["events"], metric["total"], metric.get("pending")


def test_the_choice_values_the_metrics_read_are_the_models():
    assert cohort.RESULT_PENDING == EmbryoTransfer.Result.PENDING
    assert cohort.RESULT_CLINICAL == EmbryoTransfer.Result.CLINICAL
    assert cohort.RESULT_ECTOPIC == EmbryoTransfer.Result.ECTOPIC
    assert cohort.OUTCOME_LIVE_BIRTH == PregnancyOutcome.Kind.LIVE_BIRTH
    assert set(cohort.LOSS_OUTCOMES) <= set(PregnancyOutcome.Kind.values)
    assert cohort.STATUS_ENROLLED == Patient.Status.ENROLLED
    assert {cohort.ROUTE_IVIG, cohort.ROUTE_SCIG} == set(Route.values)


def test_an_empty_cohort_is_no_data_everywhere_and_never_crashes():
    report = snapshot()
    assert report["cohort"]["patients"] == 0
    assert report["live_birth_per_treated_patient"]["rate"] is None
    assert report["live_birth_per_treated_patient"]["note"] == "no data"
    assert all(m["rate"] is None for m in report["cumulative_live_birth"].values())
    assert report["gestational_age_at_live_birth_days"]["median"] is None
    assert report["historical_comparison"]["p_value"] is None
    assert report["comparisons"]["route"]["risk_ratio"] is None
    assert report["adverse_events"]["per_100_infusions"]["rate"] is None
    assert report["notes"] == ["no data: no patient matches (all patients)"]


def test_an_all_pending_cohort_counts_its_pending_patients_apart():
    report = snapshot(
        patients=[patient(1, status="enrolled"), patient(2, status="enrolled")],
        transfers=[transfer(10, 1, "pending"), transfer(20, 2, "clinical")],
        pregnancies=[pregnancy(200, 2, transfer_id=20, outcome=None)],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (0, 0, 2)
    assert report["live_birth_per_treated_patient"]["note"] == "no data: all 2 pending"
    assert counts(report["live_birth_after_first_transfer"]) == (0, 0, 2)
    assert counts(report["clinical_pregnancy_per_transfer"]) == (1, 1, 1)
    assert counts(report["miscarriage_per_clinical_pregnancy"]) == (0, 0, 1)


def test_twins_are_one_live_birth_and_one_multiple_birth():
    report = snapshot(
        patients=[patient(1), patient(2)],
        transfers=[transfer(10, 1, "clinical"), transfer(20, 2, "clinical")],
        pregnancies=[
            pregnancy(100, 1, transfer_id=10, fetuses=2, ga_days=gestation.ga_from_weeks(37, 2)),
            pregnancy(200, 2, transfer_id=20),
        ],
        infants=[infant(100, birth_weight_g=2500), infant(100, birth_weight_g=2700), infant(200)],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (2, 2, 0)
    assert counts(report["live_birth_per_transfer"]) == (2, 2, 0)
    assert counts(report["multiple_birth_per_live_birth_delivery"]) == (1, 2, None)
    assert report["birth_weight_g"]["n"] == 3 and report["birth_weight_g"]["median"] == 2700


def test_a_delivery_with_one_live_born_twin_is_a_live_birth():
    report = snapshot(
        patients=[patient(1)],
        transfers=[transfer(10, 1, "clinical")],
        pregnancies=[pregnancy(100, 1, transfer_id=10, outcome="stillbirth", fetuses=2)],
        infants=[infant(100, live_born=False), infant(100, live_born=True)],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (1, 1, 0)
    assert counts(report["stillbirth_per_clinical_pregnancy"]) == (0, 1, 0)


def test_a_live_birth_counts_from_the_transfer_it_came_from_and_cumulates():
    # Patient 1: a live birth at her first transfer. Patient 2: negative, then a live birth at
    # her second. Patient 3: negative twice and stopped. Patient 4: first transfer pending.
    report = snapshot(
        patients=[patient(1), patient(2), patient(3), patient(4, status="enrolled")],
        transfers=[
            transfer(10, 1, "clinical"),
            transfer(21, 2, "clinical", days_after=120),
            transfer(20, 2, "negative"),
            transfer(30, 3, "negative"),
            transfer(31, 3, "biochemical", days_after=90),
            transfer(40, 4, "pending"),
        ],
        pregnancies=[
            pregnancy(100, 1, transfer_id=10),
            pregnancy(210, 2, transfer_id=21),
        ],
    )
    assert counts(report["live_birth_after_first_transfer"]) == (1, 3, 1)
    assert counts(report["live_birth_per_transfer"]) == (2, 5, 1)
    cumulative = report["cumulative_live_birth"]
    assert counts(cumulative["1"]) == (1, 3, 1)
    assert counts(cumulative["2"]) == (2, 3, 1)
    # Patient 3 stopped after two transfers: still no live birth at five, as in seed 002.
    assert counts(cumulative["5"]) == (2, 3, 1)
    assert counts(report["failed_transfer_per_ivf_patient"]) == (1, 3, 1)
    assert counts(report["clinical_pregnancy_per_transfer"]) == (2, 5, 1)


def test_an_ongoing_pregnancy_is_pending_and_left_out_of_every_denominator():
    report = snapshot(
        patients=[patient(1), patient(2)],
        transfers=[transfer(10, 1, "clinical"), transfer(20, 2, "clinical")],
        pregnancies=[
            pregnancy(100, 1, transfer_id=10),
            pregnancy(200, 2, transfer_id=20, outcome=None),
        ],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (1, 1, 1)
    assert counts(report["live_birth_after_first_transfer"]) == (1, 1, 1)
    assert counts(report["miscarriage_per_clinical_pregnancy"]) == (0, 1, 1)


def test_a_clinical_transfer_without_its_pregnancy_recorded_is_pending():
    report = snapshot(
        patients=[patient(1, status="completed")], transfers=[transfer(10, 1, "clinical")]
    )
    assert counts(report["live_birth_per_transfer"]) == (0, 0, 1)


def test_an_enrolled_patient_without_a_live_birth_yet_is_pending_and_a_completed_one_is_not():
    report = snapshot(
        patients=[patient(1, status="enrolled"), patient(2, status="completed")],
        transfers=[transfer(10, 1, "negative"), transfer(20, 2, "negative")],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (0, 1, 1)


def test_treated_and_intention_to_treat_differ_by_the_patients_never_dosed():
    report = snapshot(
        patients=[
            patient(1),
            untreated(2, status="withdrawn"),
            untreated(3, enrolled_on=None, status="screening"),
        ],
        pregnancies=[pregnancy(100, 1)],
    )
    assert counts(report["live_birth_per_treated_patient"]) == (1, 1, 0)
    assert counts(report["live_birth_per_enrolled_patient"]) == (1, 2, 0)


def test_a_loss_before_twenty_weeks_is_a_miscarriage_and_the_limit_is_configurable():
    rows = {
        "patients": [patient(1), patient(2), patient(3)],
        "pregnancies": [
            pregnancy(100, 1, outcome="miscarriage", ga_days=gestation.ga_from_weeks(9)),
            pregnancy(200, 2, outcome="miscarriage", ga_days=gestation.ga_from_weeks(21)),
            pregnancy(300, 3, outcome="ectopic", ga_days=gestation.ga_from_weeks(7)),
        ],
    }
    report = snapshot(**rows)
    assert counts(report["miscarriage_per_clinical_pregnancy"]) == (1, 3, 0)
    assert counts(report["stillbirth_per_clinical_pregnancy"]) == (1, 3, 0)
    later = cohort_snapshot(
        frames(**rows), definitions=Definitions(miscarriage_before_ga_days=22 * 7)
    )
    assert counts(later["miscarriage_per_clinical_pregnancy"]) == (2, 3, 0)
    assert later["definitions"]["miscarriage_before_ga_days"] == 154


def test_preterm_is_before_37_weeks_and_the_gestational_age_reads_in_weeks():
    report = snapshot(
        patients=[patient(1), patient(2), patient(3)],
        pregnancies=[
            pregnancy(100, 1, ga_days=gestation.ga_from_weeks(33, 5)),
            pregnancy(200, 2, ga_days=gestation.ga_from_weeks(37, 0)),
            pregnancy(300, 3, ga_days=gestation.ga_from_weeks(39, 4)),
        ],
    )
    assert counts(report["preterm_birth_per_live_birth_delivery"]) == (1, 3, None)
    ga = report["gestational_age_at_live_birth_days"]
    assert ga["median"] == 259 and ga["weeks"]["median"] == "37+0"


def test_adverse_events_count_patients_once_per_term_and_events_per_100_infusions():
    report = snapshot(
        patients=[
            patient(1, infusions=10, infusions_ivig=10),
            patient(2, infusions=10, infusions_ivig=0, infusions_scig=10),
            patient(3, infusions=20, infusions_ivig=20),
        ],
        adverse_events=[
            adverse_event(1),
            adverse_event(1),
            adverse_event(2, infusion_route="scig"),
            adverse_event(3, "thrombosis", grade=4, serious=True),
            adverse_event(3, "preterm_labour", grade=3, serious=True, infusion_route=None),
        ],
    )
    events = report["adverse_events"]
    assert counts(events["patients_with_any"]) == (3, 3, None)
    headache = events["by_term"]["headache"]
    assert counts(headache) == (2, 3, None) and headache["event_count"] == 3
    assert events["by_seriousness"]["serious"]["event_count"] == 2
    assert events["by_grade"]["4"]["events"] == 1
    assert events["per_100_infusions"]["events"] == 4
    assert events["per_100_infusions"]["rate"] == pytest.approx(10.0)
    assert events["by_route"]["ivig"]["per_100_infusions"]["rate"] == pytest.approx(10.0)
    assert events["by_route"]["scig"]["per_100_infusions"]["rate"] == pytest.approx(10.0)
    assert counts(events["by_route"]["scig"]["patients_with_any"]) == (1, 1, None)


def test_subgroups_split_treated_patients_and_compare_two_of_them():
    report = snapshot(
        patients=[
            patient(1, nk_percent=15.0),
            patient(2, nk_percent=12.0),
            patient(3, nk_percent=8.0),
            patient(4, nk_percent=None),
            patient(5, infusions_ivig=0, infusions_scig=1, first_ivig_dose_g=None),
        ],
        pregnancies=[pregnancy(100, 1), pregnancy(200, 2), pregnancy(500, 5)],
    )
    nk = report["subgroups"]["nk"]
    assert counts(nk["high"]) == (2, 2, 0) and counts(nk["normal"]) == (1, 2, 0)
    assert counts(nk["unknown"]) == (0, 1, 0)
    comparison = report["comparisons"]["nk"]
    assert comparison["a"]["label"] == "high" and comparison["b"]["label"] == "normal"
    assert comparison["risk_difference"] == pytest.approx(0.5)
    assert report["subgroups"]["route"]["scig"]["events"] == 1
    assert report["subgroups"]["dose_band"]["scig_only"]["total"] == 1
    assert report["subgroups"]["dose_band"]["600-800"]["total"] == 4


def test_a_first_dose_during_the_pregnancy_is_a_start_after_conception():
    report = snapshot(
        patients=[
            # After fertilisation in vitro but before the transfer: the conception cycle.
            patient(1, first_infusion_on=TRANSFER_ON - dt.timedelta(days=2)),
            # A month after the transfer, as the positive-test regimens start.
            patient(2, first_infusion_on=TRANSFER_ON + dt.timedelta(days=30)),
        ],
        transfers=[transfer(10, 1, "clinical"), transfer(20, 2, "clinical")],
        pregnancies=[pregnancy(100, 1, transfer_id=10), pregnancy(200, 2, transfer_id=20)],
    )
    start = report["subgroups"]["start"]
    assert start["before_conception"]["total"] == 1 and start["after_conception"]["total"] == 1


def test_filters_narrow_the_cohort_and_say_so_when_nobody_is_left():
    rows = {
        "patients": [patient(1, site_code="MTL"), patient(2, site_code="CPH", indication="rif")],
        "pregnancies": [pregnancy(100, 1)],
    }
    mtl = cohort_snapshot(frames(**rows), filters=CohortFilters(sites=("MTL",)))
    assert counts(mtl["live_birth_per_treated_patient"]) == (1, 1, 0)
    rif = cohort_snapshot(frames(**rows), filters=CohortFilters(indication="rif"))
    assert counts(rif["live_birth_per_treated_patient"]) == (0, 1, 0)
    nobody = cohort_snapshot(frames(**rows), filters=CohortFilters(route="scig"))
    assert nobody["cohort"]["patients"] == 0
    assert nobody["notes"] == ["no data: no patient matches (route scig)"]


def test_filters_round_trip_through_json_and_refuse_what_they_do_not_know():
    filters = CohortFilters.from_json({"sites": ["MTL"], "enrolled_from": "2014-08-01"})
    assert CohortFilters.from_json(filters.as_json()) == filters
    with pytest.raises(ValueError, match="unknown filter colour"):
        CohortFilters.from_json({"colour": "red"})
    with pytest.raises(ValueError, match="enrolled_until must be a date"):
        CohortFilters.from_json({"enrolled_until": "last year"})
