"""The admin evidence page, for staff who may view the published studies.

The cast: paula (staff, may view published studies), sam (staff, may not).
"""

from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

EVIDENCE_URL = reverse("admin:analytics_publishedstudy_evidence")


@pytest.fixture
def published_loaded():
    call_command("load_published_evidence", stdout=None)


@pytest.fixture
def paula(django_user_model):
    user = django_user_model.objects.create_user("paula", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_publishedstudy"))
    return user


@pytest.fixture
def sam(django_user_model):
    return django_user_model.objects.create_user("sam", is_staff=True)


def test_staff_who_may_view_studies_see_the_pooled_rr_and_the_plots(
    client, paula, published_loaded, django_assert_num_queries
):
    client.force_login(paula)
    # Session, user, the audit context with the request's savepoint, the user's and the
    # groups' permissions, the studies (one query however many), releasing the savepoint, and
    # saving the session (idle expiry; savepoint, update, release): 10; and the registry beside
    # the evidence: the reader's sites and the cohort, one query per frame however many rows
    # and one for its session settings: 7.
    with django_assert_num_queries(17):
        response = client.get(EVIDENCE_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1.98 [1.44, 2.73]" in html
    assert "Heterogeneity: Q = 19.36, df = 7, P = 0.007" in html
    assert "intercept 1.44, P = 0.362" in html
    assert html.count('src="data:image/svg+xml;base64,') == 3


def test_subgroups_can_be_chosen_on_the_page(client, paula, published_loaded):
    client.force_login(paula)
    response = client.get(EVIDENCE_URL, {"subgroup": "ivig_start", "measure": "RR"})
    html = response.content.decode()
    assert "4.47 [1.53, 13.05]" in html
    assert "1.71 [1.16, 2.53]" in html


def test_an_unknown_subgroup_or_measure_falls_back_to_the_defaults(client, paula, published_loaded):
    client.force_login(paula)
    response = client.get(EVIDENCE_URL, {"subgroup": "password", "measure": "HR"})
    assert response.status_code == 200
    assert "1.98 [1.44, 2.73]" in response.content.decode()


def test_staff_without_the_permission_are_refused(client, sam, published_loaded):
    client.force_login(sam)
    assert client.get(EVIDENCE_URL).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(EVIDENCE_URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_an_empty_table_explains_how_to_load_it(client, paula):
    client.force_login(paula)
    response = client.get(EVIDENCE_URL)
    assert response.status_code == 200
    assert "load_published_evidence" in response.content.decode()


def test_the_list_page_links_to_the_evidence_page(client, paula, published_loaded):
    client.force_login(paula)
    response = client.get(reverse("admin:analytics_publishedstudy_changelist"))
    html = response.content.decode()
    assert EVIDENCE_URL in html
    assert "Ramos-Medina" in html


def test_the_evidence_page_shows_the_registry_beside_the_published_arms(
    client, cast, site_a, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    call_command("load_published_evidence", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    client.force_login(cast["admin"])
    url = reverse("admin:analytics_publishedstudy_evidence")
    html = client.get(url).content.decode()
    assert 'id="registry-beside"' in html
    # The demo's SCIg and IVIg patients: 4/4 against 9/11 across both sites' treated patients.
    assert "SCIg against IVIg" in html and 'id="add-registry"' in html
    with_row = client.get(url + "?registry=route").content.decode()
    assert "included above as one more row" in with_row
    # Nine studies pooled: the eight published and the registry's own.
    assert "live birth, 9 studies" in with_row
