"""The cohort dashboard in the admin: scoped to the reader's sites, linked from the index, and
a fixed number of queries however many patients it counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import InfusionFactory, OutcomeFactory, PatientFactory, make_user

pytestmark = pytest.mark.django_db

URL = reverse("admin:analytics_cohortdashboard_changelist")


def treated_live_birth(site):
    patient = PatientFactory(site=site, status="completed")
    outcome = OutcomeFactory(pregnancy__transfer__cycle__patient=patient)
    InfusionFactory(cycle=outcome.pregnancy.cycle)
    return patient


def test_the_admin_index_links_to_the_dashboard(client, cast):
    client.force_login(cast["ivan"])
    response = client.get(reverse("admin:index"))
    assert URL in response.content.decode()


def test_an_investigator_sees_only_her_sites(client, cast, site_a, site_b):
    treated_live_birth(site_a)
    treated_live_birth(site_b)
    treated_live_birth(site_b)
    client.force_login(cast["ivan"])
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["cohort"]["sites"] == ["MTL"]
    assert response.context["site_codes"] == ["MTL"]
    # Asking for another site's cohort gets her own.
    response = client.get(URL, {"site": "CPH"})
    assert response.context["cohort"]["sites"] == ["MTL"]
    assert response.context["cohort"]["patients"] == 1


def test_a_researcher_sees_every_site_and_no_identifier(client, cast, site_a, site_b):
    patient = treated_live_birth(site_a)
    treated_live_birth(site_b)
    client.force_login(cast["rita"])
    response = client.get(URL)
    assert response.context["cohort"]["sites"] == ["CPH", "MTL"]
    page = response.content.decode()
    for identifier in (patient.study_id, patient.mrn, patient.family_name):
        assert identifier not in page
    response = client.get(URL, {"site": "CPH"})
    assert response.context["cohort"]["sites"] == ["CPH"]


def test_the_page_shows_rates_with_their_exact_ci_and_svg_figures(client, cast, site_a):
    treated_live_birth(site_a)
    client.force_login(cast["ivan"])
    response = client.get(URL)
    headline = response.context["headlines"][0]
    assert (headline["fraction"], headline["rate"]) == ("1/1", "100.0%")
    assert headline["ci"] == "2.5% to 100.0%"
    page = response.content.decode()
    assert page.count('src="data:image/svg+xml;base64,') == 3
    assert "Cumulative live birth" in page and "Subgroups" in page


def test_filters_narrow_the_cohort_and_an_empty_one_says_no_data(client, cast, site_a):
    treated_live_birth(site_a)
    client.force_login(cast["ivan"])
    response = client.get(URL, {"route": "scig"})
    assert response.context["cohort"]["patients"] == 0
    assert "no data" in response.content.decode()


def test_someone_without_a_site_is_told_so(client, db):
    from registry import roles

    newcomer = make_user("nina", role=roles.INVESTIGATOR)
    client.force_login(newcomer)
    response = client.get(URL)
    assert "You work at no site yet" in response.content.decode()


def test_staff_without_patient_access_are_refused(client, db):
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == 403


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# Pinned: a change here is a change in what the page asks of the database; look before updating.
PINNED_QUERIES = 16


def test_the_dashboard_runs_its_pinned_number_of_queries_for_3_or_30_patients(client, cast, site_a):
    for _ in range(3):
        treated_live_birth(site_a)
    client.force_login(cast["ivan"])
    few = count_queries(client, URL)
    for _ in range(27):
        treated_live_birth(site_a)
    many = count_queries(client, URL)
    assert few == many == PINNED_QUERIES
