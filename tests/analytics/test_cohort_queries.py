"""analytics.queries.cohort_frames: a fixed number of queries, and counts that do not multiply."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.queries import cohort_frames
from tests.factories import (
    CycleFactory,
    ImmuneTestFactory,
    InfantFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    TransferFactory,
)

pytestmark = pytest.mark.django_db

QUERIES = 6


def patient_with_two_cycles(site):
    """Two cycles of three infusions each (one SCIg), a pregnancy with twins from the second."""
    patient = PatientFactory(site=site)
    ImmuneTestFactory(patient=patient)
    for number in (1, 2):
        cycle = CycleFactory(
            patient=patient,
            number=number,
            planned_event_on=dt.date(2025, 3, 3) + dt.timedelta(days=120 * (number - 1)),
        )
        for offset, route in ((-7, "ivig"), (21, "ivig"), (28, "scig")):
            InfusionFactory(
                cycle=cycle,
                route=route,
                dose_g=10 if route == "scig" else 40,
                given_on=cycle.planned_event_on + dt.timedelta(days=offset),
            )
        transfer = TransferFactory(
            cycle=cycle,
            transferred_on=cycle.planned_event_on,
            result="clinical" if number == 2 else "negative",
        )
    outcome = OutcomeFactory(
        pregnancy__transfer=transfer,
        pregnancy__confirmed_on=transfer.transferred_on + dt.timedelta(days=23),
    )
    InfantFactory(pregnancy=outcome.pregnancy, birth_order=1)
    InfantFactory(pregnancy=outcome.pregnancy, birth_order=2)
    return patient


def test_the_frames_take_the_same_six_queries_for_one_patient_or_ten(site_a):
    patient_with_two_cycles(site_a)
    with CaptureQueriesContext(connection) as few:
        cohort_frames()
    for _ in range(9):
        patient_with_two_cycles(site_a)
    with CaptureQueriesContext(connection) as many:
        frames = cohort_frames()
    assert len(few) == len(many) == QUERIES
    assert len(frames.patients) == 10


def test_per_patient_counts_are_not_multiplied_by_other_relations(site_a):
    patient = patient_with_two_cycles(site_a)
    frames = cohort_frames()
    row = frames.patients.set_index("patient_id").loc[patient.pk]
    assert (row["infusions"], row["infusions_ivig"], row["infusions_scig"]) == (6, 4, 2)
    assert row["first_infusion_on"].date() == dt.date(2025, 2, 24)
    assert (row["first_ivig_dose_g"], row["nk_percent"]) == (40, 13.5)
    assert len(frames.transfers) == 2 and len(frames.pregnancies) == 1
    assert len(frames.infants) == 2


def test_a_site_filter_reads_only_that_sites_rows(site_a, site_b):
    patient_with_two_cycles(site_a)
    patient_with_two_cycles(site_b)
    frames = cohort_frames(site_codes=["CPH"])
    assert frames.patients["site_code"].tolist() == ["CPH"]
    assert len(frames.transfers) == 2 and len(frames.infants) == 2


def test_no_site_at_all_is_an_empty_cohort(site_a):
    patient_with_two_cycles(site_a)
    frames = cohort_frames(site_codes=[])
    assert frames.patients.empty and frames.transfers.empty
