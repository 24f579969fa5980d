"""Planning a cycle and reading its deviations take a fixed number of queries: however many
patients the site has and however many doses the cycle has (pinned)."""

from decimal import Decimal

import pytest

from outcomes.planning import cycle_plan_schedule
from outcomes.selectors import cycle_report, patient_deviations
from tests.registry.treatment import (
    INDUCTION_ON,
    at_ga,
    bulk_treated_patients,
    monthly_doses,
    treated_cycle,
)

pytestmark = pytest.mark.django_db

TODAY = at_ga(20)
# One dose given, or every dose due so far.
DOSES = [[INDUCTION_ON], monthly_doses(until_ga_days=20 * 7)]

# Pinned: a change here is a change in what planning asks of the database; look before updating.
# Savepoint; the cycle (locked, with its protocol and patient); phases; infusions; planned doses;
# pregnancies; products; the insert; release.
FIRST_PLAN_QUERIES = 9
# The same, and the delete of the planned doses still to come: Django reads them, clears the
# infusion links to them (none: a planned dose holding an infusion is kept), deletes them.
RE_PLAN_QUERIES = 12
# The cycle (with protocol and patient); phases; infusions; planned doses; pregnancies; visits;
# consents; products.
CYCLE_REPORT_QUERIES = 8
# The same for all her cycles, and the visits of pregnancies outside any cycle.
PATIENT_DEVIATIONS_QUERIES = 9


@pytest.mark.parametrize("others", [10, 200])
@pytest.mark.parametrize("doses", DOSES)
def test_planning_a_cycle_takes_the_same_queries_whatever_the_site_or_the_doses(
    site_a, others, doses, django_assert_num_queries
):
    bulk_treated_patients(site_a, others, today=TODAY)
    cycle, _ = treated_cycle(site_a, doses=doses)
    with django_assert_num_queries(FIRST_PLAN_QUERIES):
        cycle_plan_schedule(cycle=cycle, today=TODAY)
    cycle.weight_kg = Decimal("80.0")  # the doses still to come change
    cycle.save()
    with django_assert_num_queries(RE_PLAN_QUERIES):
        cycle_plan_schedule(cycle=cycle, today=TODAY)


@pytest.mark.parametrize("others", [10, 200])
@pytest.mark.parametrize("doses", DOSES)
def test_a_cycles_plan_and_deviations_take_the_same_queries_whatever_the_size(
    site_a, others, doses, django_assert_num_queries
):
    bulk_treated_patients(site_a, others, today=TODAY)
    cycle, _ = treated_cycle(site_a, doses=doses)
    with django_assert_num_queries(CYCLE_REPORT_QUERIES):
        cycle_report(cycle=cycle, today=TODAY)
    with django_assert_num_queries(PATIENT_DEVIATIONS_QUERIES):
        patient_deviations(patient=cycle.patient, today=TODAY)
