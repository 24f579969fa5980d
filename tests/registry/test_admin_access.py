"""Site scoping and identifier hiding, for every role, in lists, forms, search and history.

The cast: alice (clinic staff at MTL), bob (clinic staff at CPH), ivan (investigator at MTL),
rita (researcher, every site, de-identified) and admin.
"""

import pytest
from django.urls import reverse

from tests.factories import (
    AdverseEventFactory,
    CycleFactory,
    InfusionFactory,
    PatientFactory,
    PregnancyFactory,
)

pytestmark = pytest.mark.django_db

SENTINELS = {
    "given_name": "Zebulona",
    "family_name": "Quillfeather",
    "mrn": "MRN-SENT-4471",
    "email": "zebulona.q@example.org",
    "phone": "+1-555-0199",
}


@pytest.fixture
def patients(cast, site_a, site_b):
    pa = PatientFactory(site=site_a, **SENTINELS)
    pb = PatientFactory(site=site_b, family_name="Otherside", mrn="MRN-B-1")
    for patient in (pa, pb):
        cycle = CycleFactory(patient=patient)
        InfusionFactory(cycle=cycle)
        PregnancyFactory(transfer__cycle=cycle)
        AdverseEventFactory(patient=patient)
    return pa, pb


def page(client, user, url):
    client.force_login(user)
    return client.get(url)


CHANGELISTS = [
    "admin:registry_patient_changelist",
    "admin:registry_treatmentcycle_changelist",
    "admin:registry_infusion_changelist",
    "admin:outcomes_pregnancy_changelist",
    "admin:outcomes_adverseevent_changelist",
]


@pytest.mark.parametrize("changelist", CHANGELISTS)
@pytest.mark.parametrize(
    ("who", "sees_a", "sees_b"),
    [
        ("alice", True, False),
        ("bob", False, True),
        ("ivan", True, False),
        ("rita", True, True),
        ("admin", True, True),
    ],
)
def test_each_role_lists_only_its_sites_rows(
    client, cast, patients, changelist, who, sees_a, sees_b
):
    pa, pb = patients
    response = page(client, cast[who], reverse(changelist))
    assert response.status_code == 200
    html = response.content.decode()
    assert (pa.study_id in html) is sees_a
    assert (pb.study_id in html) is sees_b


@pytest.mark.parametrize(("who", "status"), [("alice", 302), ("ivan", 302), ("bob", 200)])
def test_another_sites_patient_does_not_exist_for_staff(client, cast, patients, who, status):
    _, pb = patients
    response = page(client, cast[who], reverse("admin:registry_patient_change", args=[pb.pk]))
    # The admin answers an object outside the queryset by redirecting to the index.
    assert response.status_code == status


@pytest.mark.parametrize("who", ["alice", "ivan", "admin"])
def test_roles_with_the_permission_see_identifiers(client, cast, patients, who):
    pa, _ = patients
    for url in (
        reverse("admin:registry_patient_changelist"),
        reverse("admin:registry_patient_change", args=[pa.pk]),
    ):
        html = page(client, cast[who], url).content.decode()
        assert SENTINELS["family_name"] in html
        assert SENTINELS["mrn"] in html


def test_a_researcher_sees_no_identifier_anywhere_in_the_patient_pages(client, cast, patients):
    pa, _ = patients
    rita = cast["rita"]
    urls = [
        reverse("admin:registry_patient_changelist"),
        reverse("admin:registry_patient_change", args=[pa.pk]),
        reverse("admin:registry_patient_audit", args=[pa.pk]),
        reverse("admin:outcomes_pregnancy_changelist"),
        reverse("admin:registry_treatmentcycle_changelist"),
    ]
    for url in urls:
        response = page(client, rita, url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert pa.study_id in html
        for value in [*SENTINELS.values(), "1990-05-17", "17 May 1990"]:
            assert value not in html, (url, value)


def test_a_researcher_cannot_search_by_mrn_or_name(client, cast, patients):
    rita = cast["rita"]
    url = reverse("admin:registry_patient_changelist")
    for term in (SENTINELS["mrn"], SENTINELS["family_name"]):
        html = page(client, rita, f"{url}?q={term}").content.decode()
        assert "0 patients" in html


def test_staff_find_a_patient_by_mrn_name_or_study_id(client, cast, patients):
    pa, _ = patients
    url = reverse("admin:registry_patient_changelist")
    for term in (SENTINELS["mrn"], SENTINELS["family_name"], pa.study_id):
        html = page(client, cast["alice"], f"{url}?q={term}").content.decode()
        assert "1 patient" in html and pa.study_id in html


def test_staff_edit_their_patients_but_investigators_and_researchers_only_read(
    client, cast, patients
):
    pa, _ = patients
    url = reverse("admin:registry_patient_change", args=[pa.pk])
    assert 'name="_save"' in page(client, cast["alice"], url).content.decode()
    for who in ("ivan", "rita"):
        response = page(client, cast[who], url)
        assert response.status_code == 200
        assert 'name="_save"' not in response.content.decode()
        client.force_login(cast[who])
        assert client.post(url, {}).status_code == 403
    client.force_login(cast["rita"])
    assert client.get(reverse("admin:registry_patient_add")).status_code == 403


def test_staff_choose_only_their_own_sites_and_patients_in_forms(client, cast, patients):
    pa, pb = patients
    html = page(client, cast["alice"], reverse("admin:registry_treatmentcycle_add")).content
    html = html.decode()
    assert pa.study_id in html
    assert pb.study_id not in html
    html = page(client, cast["alice"], reverse("admin:registry_patient_add")).content.decode()
    assert "MTL" in html and "CPH" not in html


def test_the_audit_trail_hides_identifier_values_from_a_researcher(client, cast, patients):
    pa, _ = patients
    url = reverse("admin:registry_patient_audit", args=[pa.pk])
    staff_html = page(client, cast["alice"], url).content.decode()
    assert SENTINELS["family_name"] in staff_html
    researcher_html = page(client, cast["rita"], url).content.decode()
    assert "(hidden)" in researcher_html
    assert SENTINELS["family_name"] not in researcher_html


def test_staff_cannot_open_another_sites_audit_trail(client, cast, patients):
    _, pb = patients
    response = page(client, cast["alice"], reverse("admin:registry_patient_audit", args=[pb.pk]))
    assert response.status_code == 404
