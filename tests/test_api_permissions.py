"""Every endpoint and method, for every member of the cast, answers as the roles say.

The cast: anonymous; alice (clinic staff at site A, MTL); bob (clinic staff at B, CPH); ivan
(investigator at A); rita (researcher, every site, de-identified); admin. "Own" rows are at A.
"""

import json

import pytest

from registry.models import IDENTIFIER_FIELDS
from tests.api_cohort import (
    ENDPOINTS,
    SENTINEL_TEXTS,
    build_cohort,
    load_published_studies,
    token_client,
)

pytestmark = pytest.mark.django_db

WHO = ["anonymous", "alice", "bob", "ivan", "rita", "admin"]
ACTIONS = ["list", "retrieve_a", "retrieve_b", "create", "patch", "put", "delete"]


def statuses(**columns: str) -> dict[str, dict[str, int]]:
    """A table: one string of six statuses per action, in the order of WHO."""
    return {
        action: dict(zip(WHO, map(int, row.split()), strict=True))
        for action, row in columns.items()
    }


# Clinical records: staff read and write their site; another site's row does not exist for them;
# bob's new row names A's patient, which is not among his choices (400); only admin sees all.
CLINICAL = statuses(
    list="401 200 200 200 200 200",
    retrieve_a="401 200 404 200 200 200",
    retrieve_b="401 404 200 404 200 200",
    create="401 201 400 403 403 201",
    patch="401 200 404 403 403 200",
    put="401 200 404 403 403 200",
    delete="401 204 404 403 403 204",
)
# A method an endpoint does not have is 405 for anyone logged in.
NO_WRITES = statuses(
    create="401 405 405 405 405 405",
    patch="401 405 405 405 405 405",
    put="401 405 405 405 405 405",
    delete="401 405 405 405 405 405",
)
# Patients are withdrawn, never deleted: the API has no DELETE for them.
PATIENTS = CLINICAL | statuses(delete="401 405 405 405 405 405")
# Planned doses come from the protocol: readable as clinical records, never written here.
PLANNED = CLINICAL | NO_WRITES
# Reference data is read by every role and edited in the admin only.
READ_ONLY = (
    statuses(
        list="401 200 200 200 200 200",
        retrieve_a="401 200 200 200 200 200",
        retrieve_b="401 200 200 200 200 200",
    )
    | NO_WRITES
)
SITES = READ_ONLY | statuses(
    retrieve_a="401 200 404 200 200 200",
    retrieve_b="401 404 200 404 200 200",
)
EXPECTED = {
    **dict.fromkeys(ENDPOINTS, CLINICAL),
    "patients": PATIENTS,
    "planned-doses": PLANNED,
    "sites": SITES,
    "protocols": READ_ONLY,
    "products": READ_ONLY,
}
# Endpoints whose writes to a finished pregnancy must give a reason (the matrix always does).
NEEDS_REASON = {"pregnancies", "visits", "outcomes", "infants"}


@pytest.fixture
def cohort(site_a, site_b):
    return build_cohort(site_a, site_b)


def new_row(endpoint: str, cohort) -> dict:
    """A valid new row at site A (the row bob may not name)."""
    a = cohort.a
    return {
        "sites": {"code": "NEW", "name": "New"},
        "protocols": {"code": "new", "name": "New"},
        "products": {"name": "New", "route": "ivig", "vial_step_g": "5"},
        "patients": {
            "site": "MTL",
            "given_name": "New",
            "family_name": "Patient",
            "mrn": "MRN-NEW-1",
            "date_of_birth": "1988-02-01",
            "indication": "rpl",
            "screened_on": "2025-02-01",
        },
        "consents": {"patient": a.patient.pk, "version": "v3", "signed_on": "2025-01-06"},
        "immune-tests": {
            "patient": a.patient.pk,
            "analyte": "nk_percent",
            "value": "14.000",
            "unit": "%",
            "tested_on": "2025-01-10",
            "abnormal": True,
        },
        "cycles": {
            "patient": a.patient.pk,
            "protocol": a.cycle.protocol_id,
            "number": 2,
            "plan": "frozen_et",
            "planned_event_on": "2025-06-02",
            "weight_kg": "61.5",
            "weighed_on": "2025-05-20",
        },
        "planned-doses": {
            "cycle": a.cycle.pk,
            "sequence": 2,
            "phase": "maintenance",
            "route": "ivig",
            "due_from": "2025-04-01",
            "due_until": "2025-04-05",
            "dose_g": "40",
        },
        "infusions": {
            "cycle": a.cycle.pk,
            "given_on": "2025-03-24",
            "route": "ivig",
            "dose_g": "40.00",
            "weight_kg": "60.0",
        },
        "transfers": {
            "cycle": a.cycle.pk,
            "transferred_on": "2025-06-02",
            "kind": "frozen",
            "embryo_day": 5,
        },
        "pregnancies": {
            "patient": a.patient.pk,
            "cycle": a.cycle.pk,
            "transfer": a.free_transfer.pk,
            "conception": "ivf",
            "dating": "transfer",
            "confirmed_on": "2025-12-24",
        },
        "visits": {
            "pregnancy": a.pregnancy.pk,
            "kind": "postpartum",
            "due_from": "2025-12-01",
            "due_until": "2025-12-15",
            "change_reason": "postpartum visit booked late",
        },
        "outcomes": {
            "pregnancy": a.ongoing_pregnancy.pk,
            "kind": "miscarriage",
            "ended_on": "2025-10-20",
        },
        "infants": {
            "pregnancy": a.pregnancy.pk,
            "birth_order": 2,
            "sex": "male",
            "birth_weight_g": 3100,
            "change_reason": "the twin was missed at entry",
        },
        "adverse-events": {
            "patient": a.patient.pk,
            "term": "headache",
            "grade": 1,
            "relatedness": "possible",
            "onset_on": "2025-02-25",
        },
    }[endpoint]


CHANGES = {
    "patients": {"comorbidities": "none known"},
    "consents": {"version": "v2b"},
    "immune-tests": {"abnormal": False},
    "cycles": {"weight_kg": "61.0"},
    "planned-doses": {"dose_g": "45"},
    "infusions": {"lot_number": "LOT-9"},
    "transfers": {"embryo_quality": "4AA"},
    "pregnancies": {"fetuses": 1},
    "visits": {"notes": "called, rebooked"},
    "outcomes": {"preterm_labour": True},
    "infants": {"nicu_admission": True},
    "adverse-events": {"description": "settled with paracetamol"},
    "sites": {"name": "Renamed"},
    "protocols": {"name": "Renamed"},
    "products": {"name": "Renamed"},
}


def row_a_and_b(endpoint: str, cohort, site_a, site_b):
    if endpoint == "sites":
        return site_a, site_b
    if endpoint in ("protocols", "products"):
        row = cohort.a.cycle.protocol if endpoint == "protocols" else cohort.a.infusion.product
        return row, row
    attribute = ENDPOINTS[endpoint]
    return getattr(cohort.a, attribute), getattr(cohort.b, attribute)


def writable(representation: dict) -> dict:
    """What a client sends back when it replaces a row it has just read."""
    read_only = {"id", "study_id", "created_at", "dose_mg_per_kg", "maintenance_phases"}
    return {key: value for key, value in representation.items() if key not in read_only}


def answers(client, admin_client, endpoint, cohort, site_a, site_b) -> dict[str, int]:
    row_a, row_b = row_a_and_b(endpoint, cohort, site_a, site_b)
    base = f"/api/v1/{endpoint}/"
    url_a, url_b = f"{base}{row_a.pk}/", f"{base}{row_b.pk}/"
    reason = {"change_reason": "matrix"} if endpoint in NEEDS_REASON else {}
    # PUT sends back what an allowed reader saw, as a client replacing the row would.
    current = admin_client.get(url_a)
    replacement = {**writable(current.json()), **reason} if current.status_code == 200 else {}
    return {
        "list": client.get(base).status_code,
        "retrieve_a": client.get(url_a).status_code,
        "retrieve_b": client.get(url_b).status_code,
        "create": client.post(base, new_row(endpoint, cohort)).status_code,
        "patch": client.patch(url_a, {**CHANGES[endpoint], **reason}).status_code,
        "put": client.put(url_a, replacement).status_code,
        "delete": client.delete(f"{url_a}?change_reason=matrix").status_code,
    }


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("endpoint", list(EXPECTED))
def test_every_endpoint_answers_each_role_as_the_roles_say(
    cast, cohort, site_a, site_b, endpoint, who
):
    client = token_client(cast.get(who))
    admin_client = token_client(cast["admin"])
    got = answers(client, admin_client, endpoint, cohort, site_a, site_b)
    expected = {action: EXPECTED[endpoint][action][who] for action in ACTIONS}
    assert got == expected


@pytest.fixture
def published_studies(db):
    load_published_studies()


def test_the_meta_analysis_is_read_by_every_role_and_nobody_anonymous(cast, published_studies):
    url = "/api/v1/evidence/meta-analysis/"
    got = {who: token_client(cast.get(who)).get(url).status_code for who in WHO}
    assert got == {
        "anonymous": 401,
        "alice": 200,
        "bob": 200,
        "ivan": 200,
        "rita": 200,
        "admin": 200,
    }
    assert token_client(cast["alice"]).post(url, {}).status_code == 405


def walk_keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from walk_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_keys(item)


def researcher_urls(cohort) -> list[str]:
    urls = []
    for endpoint, attribute in ENDPOINTS.items():
        base = f"/api/v1/{endpoint}/"
        urls += [
            base,
            f"{base}?study_id={cohort.a.patient.study_id}",
            f"{base}?site=MTL&ordering=-id",
            f"{base}{getattr(cohort.a, attribute).pk}/",
            f"{base}{getattr(cohort.b, attribute).pk}/",
        ]
    return [
        *urls,
        "/api/v1/sites/",
        "/api/v1/protocols/",
        "/api/v1/products/",
        "/api/v1/cohort/snapshot/",
    ]


def test_no_researcher_response_holds_an_identifier_field_or_value(cast, cohort):
    client = token_client(cast["rita"])
    for url in researcher_urls(cohort):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert not set(walk_keys(response.json())) & set(IDENTIFIER_FIELDS), url
        assert not [value for value in SENTINEL_TEXTS if value in text], url


def test_staff_of_the_patients_site_do_see_her_identifiers(cast, cohort):
    response = token_client(cast["alice"]).get(f"/api/v1/patients/{cohort.a.patient.pk}/")
    text = json.dumps(response.json())
    assert all(value in text for value in SENTINEL_TEXTS)


def test_researchers_cannot_search_or_sort_by_an_identifier(cast, cohort):
    client = token_client(cast["rita"])
    by_name = client.get("/api/v1/patients/?family_name=Quillfeather&ordering=family_name")
    # Unknown filters and orderings are ignored, so the answer says nothing about the name.
    assert by_name.status_code == 200
    assert by_name.json()["count"] == 2


def test_a_session_login_works_for_the_api_and_needs_the_csrf_token_to_write(client, cast, cohort):
    client.force_login(cast["alice"])
    assert client.get("/api/v1/patients/").status_code == 200
    from rest_framework.test import APIClient

    strict = APIClient(enforce_csrf_checks=True)
    strict.force_login(cast["alice"])
    response = strict.patch(
        f"/api/v1/consents/{cohort.a.consent.pk}/", {"version": "v9"}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_the_cohort_snapshot_is_read_by_whoever_reads_patients(cast, cohort):
    url = "/api/v1/cohort/snapshot/"
    got = {who: token_client(cast.get(who)).get(url).status_code for who in WHO}
    assert got == {
        "anonymous": 401,
        "alice": 200,
        "bob": 200,
        "ivan": 200,
        "rita": 200,
        "admin": 200,
    }


def test_the_cohort_export_is_streamed_to_whoever_may_export(cast, cohort):
    url = "/api/v1/cohort/export/"
    got = {who: token_client(cast.get(who)).get(url).status_code for who in WHO}
    assert got == {
        "anonymous": 401,
        "alice": 200,
        "bob": 200,
        "ivan": 200,
        "rita": 200,
        "admin": 200,
    }
    identified = token_client(cast["rita"]).get(f"{url}?profile=identified")
    assert identified.status_code == 403


def test_a_researchers_export_holds_no_identifier(cast, cohort):
    import io
    import zipfile

    response = token_client(cast["rita"]).get("/api/v1/cohort/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    text = "".join(archive.read(name).decode() for name in archive.namelist())
    assert cohort.a.patient.study_id in text
    assert not [value for value in SENTINEL_TEXTS if value in text]
