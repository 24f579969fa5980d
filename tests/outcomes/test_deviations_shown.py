"""Deviations: none in the demo where the case series reports none, and every one planted here
is found, and shown on the cycle page and the patient page."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from outcomes.planning import cycle_plan_schedule
from outcomes.selectors import cycle_deviations, patient_deviations
from registry.deviations import Rule
from registry.models import Patient, TreatmentCycle
from registry.selectors import patient_eligibility
from tests.factories import TRANSFER_ON, OutcomeFactory, VisitFactory
from tests.registry.treatment import INDUCTION_ON, at_ga, give, monthly_doses, treated_cycle

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def demo(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())


def demo_deviations() -> dict[str, list]:
    return {
        patient.study_id: [
            item.deviation for item in patient_deviations(patient=patient, today=TODAY)
        ]
        for patient in Patient.objects.order_by("study_id")
    }


def test_the_demo_shows_no_deviation_but_the_missed_doses_after_ivig_stopped_at_24_weeks(demo):
    found = {study_id: rows for study_id, rows in demo_deviations().items() if rows}
    renal_colic = Patient.objects.get(comorbidities__contains="renal colic")
    assert list(found) == [renal_colic.study_id]
    missed = found[renal_colic.study_id]
    assert [d.rule for d in missed] == [Rule.MISSED_MAINTENANCE, Rule.MISSED_MAINTENANCE]
    # The doses due after she stopped at 24 weeks, and none at or after 32 weeks.
    assert [d.limit.split("(GA ")[1][:4] for d in missed] == ["25+2", "29+2"]


def test_storing_the_demos_plans_changes_none_of_its_deviations(demo):
    before = demo_deviations()
    for cycle in TreatmentCycle.objects.all():
        cycle_plan_schedule(cycle=cycle, today=TODAY)
    assert demo_deviations() == before


def test_every_demo_patient_is_eligible_under_her_cycles_protocol(demo):
    for patient in Patient.objects.all():
        result = patient_eligibility(patient=patient, today=TODAY)
        assert result.eligible, (patient.study_id, result.reasons)


@pytest.fixture
def treated(site_a):
    """Given as planned until 32 weeks, born at 39 weeks, every visit done: no deviation."""
    cycle, pregnancy = treated_cycle(site_a, doses=monthly_doses())
    OutcomeFactory(pregnancy=pregnancy, ended_on=at_ga(39))
    return cycle, pregnancy


def rules(cycle, today=TODAY):
    return [deviation.rule for deviation in cycle_deviations(cycle=cycle, today=today)]


def test_a_cycle_given_as_planned_shows_no_deviation(client, cast, treated):
    cycle, _ = treated
    assert rules(cycle) == []
    client.force_login(cast["alice"])
    html = client.get(reverse("admin:registry_treatmentcycle_change", args=[cycle.pk])).content
    assert "No deviation from the protocol." in html.decode()


def test_a_dose_at_34_weeks_is_found(treated):
    cycle, _ = treated
    give(cycle, at_ga(34))
    assert Rule.AT_OR_AFTER_STOP in rules(cycle)


def test_a_dose_below_the_mg_per_kg_range_is_found_with_its_mg_per_kg(treated):
    cycle, _ = treated
    cycle.infusions.filter(given_on=INDUCTION_ON).update(dose_g="30")
    (found,) = cycle_deviations(cycle=cycle, today=TODAY)
    assert (found.rule, found.value, found.limit) == (
        Rule.DOSE_OUTSIDE_RANGE,
        "500 mg/kg",
        "600-800 mg/kg",
    )


def test_a_dose_outside_its_window_is_found(treated):
    cycle, _ = treated
    cycle.infusions.filter(given_on=INDUCTION_ON).update(
        given_on=TRANSFER_ON - dt.timedelta(days=3)
    )
    assert Rule.OUTSIDE_WINDOW in rules(cycle)


def test_an_overdue_visit_is_found(treated):
    cycle, pregnancy = treated
    VisitFactory(pregnancy=pregnancy, due_from=at_ga(20), due_until=at_ga(22))
    assert rules(cycle) == [Rule.VISIT_OVERDUE]


def test_planted_deviations_are_shown_with_rule_value_and_limit_on_the_cycle_and_patient_pages(
    client, cast, treated
):
    cycle, pregnancy = treated
    give(cycle, at_ga(34))
    cycle.infusions.filter(given_on=INDUCTION_ON).update(dose_g="30")
    VisitFactory(pregnancy=pregnancy, due_from=at_ga(20), due_until=at_ga(22))
    with time_machine.travel(dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)):
        client.force_login(cast["alice"])
        pages = [
            client.get(reverse("admin:registry_treatmentcycle_change", args=[cycle.pk])),
            client.get(reverse("admin:registry_patient_change", args=[cycle.patient.pk])),
        ]
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        for text in (
            "dose at or after the stop",
            "34+0",
            "before 34+0",
            "dose outside the mg/kg range",
            "500 mg/kg",
            "600-800 mg/kg",
            "dose outside its window",
            "outside its nearest window",
            "visit overdue",
            "overdue",
        ):
            assert text in html, text
    assert "outside any window" in pages[0].content.decode()  # the plan table


def test_the_cycle_page_shows_the_plan_beside_the_doses_given_with_mg_per_kg_and_ga(
    client, cast, treated
):
    cycle, _ = treated
    with time_machine.travel(dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)):
        client.force_login(cast["alice"])
        html = client.get(reverse("admin:registry_treatmentcycle_change", args=[cycle.pk]))
    html = html.content.decode()
    assert "Computed from the protocol; not stored yet" in html
    second = monthly_doses()[1]  # 2025-03-24, GA 5+5
    assert "2025-03-20 to 2025-03-28 (GA 5+1 to 6+2)" in html
    assert f"{second:%Y-%m-%d}" in html and "5+5" in html
    assert "666.7" in html  # 40 g for 60 kg
    assert "IVIg maintenance" in html
