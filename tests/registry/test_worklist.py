"""The 14-day work list: what each nurse must give or see, at her sites only, with identifiers
only for those allowed; and a bounded number of queries however large the site."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outcomes.selectors import worklist
from registry.models import Patient, PlannedDose
from tests.registry.treatment import bulk_treated_patients

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 2)
URL = "admin:registry_treatmentcycle_worklist"


def on_today():
    return time_machine.travel(dt.datetime(2025, 6, 2, 15, tzinfo=dt.UTC))


@pytest.fixture
def sites(cast, site_a, site_b):
    bulk_treated_patients(site_a, 3, today=TODAY)
    bulk_treated_patients(site_b, 2, today=TODAY, start=100)
    return site_a, site_b


def fresh(user):
    """The user as a request would load it: no permission cached yet."""
    return get_user_model().objects.get(pk=user.pk)


def test_a_nurse_sees_the_doses_and_visits_due_at_her_site_only(cast, sites):
    work = worklist(user=fresh(cast["alice"]), today=TODAY)
    assert {item.site_code for item in work.doses + work.visits} == {"MTL"}
    assert len(work.doses) == 3 and len(work.visits) == 3
    dose = work.doses[0]
    assert dose.what == "IVIg maintenance dose (cycle 1)"
    assert (dose.due_from, dose.due_until) == (
        TODAY + dt.timedelta(days=3),
        TODAY + dt.timedelta(days=11),
    )
    assert str(dose.dose_g) == "40.00"
    assert dose.window_text.startswith("2025-06-05 to 2025-06-13 (GA ")
    assert (dose.name, dose.mrn) == ("Family0, Given0", "MTL00000000")


def test_a_researcher_work_list_carries_no_identifier_at_all(cast, sites):
    work = worklist(user=fresh(cast["rita"]), today=TODAY)
    assert {item.site_code for item in work.doses} == {"MTL", "CPH"}
    assert {(item.name, item.mrn) for item in work.doses + work.visits} == {(None, None)}


def test_a_dose_already_given_in_its_window_or_a_patient_who_left_is_not_listed(cast, sites):
    site_a, _ = sites
    due = PlannedDose.objects.filter(
        cycle__patient__site=site_a, due_from=TODAY + dt.timedelta(days=3)
    )
    first, second, _ = due.order_by("cycle__patient__study_id")
    first.cycle.infusions.create(
        given_on=TODAY + dt.timedelta(days=4), route="ivig", dose_g=40, weight_kg=60
    )
    Patient.objects.filter(pk=second.cycle.patient_id).update(
        status="withdrawn", status_reason="moved"
    )
    work = worklist(user=fresh(cast["alice"]), today=TODAY)
    assert len(work.doses) == 1
    assert len(work.visits) == 2


def test_the_page_shows_identifiers_to_staff_and_only_study_ids_to_a_researcher(
    client, cast, sites
):
    with on_today():
        client.force_login(cast["alice"])
        staff = client.get(reverse(URL)).content.decode()
        client.force_login(cast["rita"])
        researcher = client.get(reverse(URL)).content.decode()
    assert "Family0" in staff and "MTL00000000" in staff
    assert "Family100" not in staff  # another site's
    assert "MTL-" in researcher and "CPH-" in researcher
    for identifier in ("Family0", "Given0", "MTL00000000", "CPH00000100"):
        assert identifier not in researcher
    assert "40 g" in staff and "Antenatal (every 3 months) visit" in staff


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("bob", 200), ("ivan", 200), ("rita", 200), ("admin", 200)]
)
def test_every_role_opens_its_work_list(client, cast, sites, who, status):
    client.force_login(cast[who])
    assert client.get(reverse(URL)).status_code == status


def test_the_cycle_list_links_to_the_work_list(client, cast, sites):
    client.force_login(cast["alice"])
    html = client.get(reverse("admin:registry_treatmentcycle_changelist")).content.decode()
    assert reverse(URL) in html


# Pinned: the user's permissions (2) and one query each for doses and visits, whatever the size.
WORKLIST_QUERIES = 4


@pytest.mark.parametrize("patients", [10, 200])
def test_the_work_list_takes_the_same_queries_for_10_or_200_patients(
    cast, site_a, patients, django_assert_num_queries
):
    bulk_treated_patients(site_a, patients, today=TODAY)
    alice = fresh(cast["alice"])
    with django_assert_num_queries(WORKLIST_QUERIES):
        work = worklist(user=alice, today=TODAY)
    assert len(work.doses) == patients and len(work.visits) == patients


def test_the_work_list_page_takes_the_same_queries_for_10_or_200_patients(client, cast, site_a):
    counts = []
    for patients, start in ((10, 0), (190, 10)):
        bulk_treated_patients(site_a, patients, today=TODAY, start=start)
        with on_today():
            client.force_login(cast["alice"])
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse(URL))
        assert response.status_code == 200
        assert response.content.decode().count("<td>MTL</td>") == 2 * (start + patients)
        counts.append(len(queries))
    assert counts[0] == counts[1]
