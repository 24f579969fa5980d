"""Admin list pages run a fixed number of queries however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    AdverseEventFactory,
    CycleFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db

LISTS = [
    "admin:registry_patient_changelist",
    "admin:registry_treatmentcycle_changelist",
    "admin:registry_infusion_changelist",
    "admin:outcomes_pregnancy_changelist",
    "admin:outcomes_adverseevent_changelist",
]


def add_patients(site, n):
    for _ in range(n):
        cycle = CycleFactory(patient=PatientFactory(site=site))
        InfusionFactory(cycle=cycle)
        OutcomeFactory(pregnancy__transfer__cycle=cycle)
        AdverseEventFactory(patient=cycle.patient)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("changelist", LISTS)
@pytest.mark.parametrize("who", ["alice", "rita"])
def test_a_list_page_runs_the_same_queries_for_3_or_30_rows(client, cast, site_a, changelist, who):
    client.force_login(cast[who])
    url = reverse(changelist)
    add_patients(site_a, 3)
    few = count_queries(client, url)
    add_patients(site_a, 27)
    many = count_queries(client, url)
    assert few == many


# Pinned: a change here is a change in what the page asks of the database; look before updating.
# Each count includes saving the session on every request (idle expiry): savepoint, update and
# release, 3 queries.
PINNED = {
    "admin:registry_patient_changelist": 12,
    "admin:registry_treatmentcycle_changelist": 13,
    "admin:registry_infusion_changelist": 15,
    "admin:outcomes_pregnancy_changelist": 12,
    "admin:outcomes_adverseevent_changelist": 15,
}


@pytest.mark.parametrize("changelist", LISTS)
def test_a_list_page_runs_its_pinned_number_of_queries(client, cast, site_a, changelist):
    add_patients(site_a, 5)
    client.force_login(cast["alice"])
    assert count_queries(client, reverse(changelist)) == PINNED[changelist]
