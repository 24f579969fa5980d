"""Eligibility on the patient page, and enrolling a patient who is not eligible: refused unless
someone gives a reason, which is recorded with their name, the time and the audit trail."""

import datetime as dt

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from registry.models import Patient, Protocol
from registry.selectors import patient_eligibility
from tests.admin_forms import add_inline_row, form_errors, rendered_fields, submit
from tests.factories import ConsentFactory, CycleFactory, PatientFactory, ProtocolFactory

pytestmark = pytest.mark.django_db

PatientEvent = apps.get_model("registry", "PatientEvent")


def change_url(patient):
    return reverse("admin:registry_patient_change", args=[patient.pk])


def screening(site, **changes):
    facts = {"site": site, "status": "screening", "enrolled_on": None} | changes
    return PatientFactory(**facts)


def enrol(client, patient, **changes):
    fields = {"status": "enrolled", "enrolled_on": "2025-01-06"} | changes
    return submit(client, change_url(patient), fields)


def test_the_patient_page_says_she_is_eligible_under_the_seed_000_protocol(client, cast, site_a):
    seed = ProtocolFactory()  # the seed-000 row (created by a migration)
    patient = screening(site_a)
    ConsentFactory(patient=patient)
    client.force_login(cast["alice"])
    html = client.get(change_url(patient)).content.decode()
    assert f"Eligible under {seed.name}." in html


def test_without_the_seed_000_row_she_is_judged_by_the_seed_000_defaults(site_a):
    Protocol.objects.filter(code="seed-000").delete()
    patient = screening(site_a, date_of_birth=dt.date(1980, 1, 1))
    result = patient_eligibility(patient=patient, today=dt.date(2025, 1, 6))
    assert result.protocol_name == "the seed-000 protocol"
    assert "age 45 is above the protocol's 42" in result.reasons


def test_the_patient_page_lists_every_reason_she_is_not_eligible(client, cast, site_a):
    patient = screening(
        site_a,
        date_of_birth=dt.date(1980, 1, 1),
        unexplained_miscarriages=2,
        other_immunomodulator=True,
    )
    client.force_login(cast["rita"])
    html = client.get(change_url(patient)).content.decode()
    for reason in (
        "age 45 is above the protocol&#x27;s 42",
        "2 unexplained miscarriages and 0 failed good-quality blastocyst transfers",
        "receives another immunomodulatory treatment",
        "informed consent is not signed",
    ):
        assert reason in html


def test_eligibility_is_judged_under_the_protocol_of_her_latest_cycle(client, cast, site_a):
    lenient = ProtocolFactory(code="lenient", name="Lenient", max_age_years=46)
    patient = screening(site_a, date_of_birth=dt.date(1980, 1, 1))
    ConsentFactory(patient=patient)
    CycleFactory(patient=patient, number=1)
    CycleFactory(patient=patient, number=2, protocol=lenient)
    client.force_login(cast["alice"])
    assert "Eligible under Lenient." in client.get(change_url(patient)).content.decode()


def test_enrolling_a_patient_who_is_not_eligible_is_refused_with_the_reasons(client, cast, site_a):
    patient = screening(site_a, unexplained_miscarriages=3)
    ConsentFactory(patient=patient)
    client.force_login(cast["alice"])
    response = enrol(client, patient)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Status Enrolled refused: she is not eligible under" in html
    assert "3 unexplained miscarriages and 0 failed good-quality blastocyst transfers" in html
    assert "give an eligibility override reason" in html
    patient.refresh_from_db()
    assert patient.status == "screening"


def test_an_override_reason_enrols_her_and_is_recorded_with_the_user(client, cast, site_a):
    patient = screening(site_a, unexplained_miscarriages=3)
    ConsentFactory(patient=patient)
    client.force_login(cast["alice"])
    reason = "Three losses, all with normal karyotype; PI approved"
    response = enrol(client, patient, eligibility_override_reason=reason)
    assert response.status_code == 302, form_errors(response)

    patient.refresh_from_db()
    assert patient.status == "enrolled"
    assert patient.eligibility_override_reason == reason
    assert patient.eligibility_overridden_by == cast["alice"]
    assert timezone.now() - patient.eligibility_overridden_at < dt.timedelta(minutes=1)
    event = PatientEvent.objects.filter(pgh_obj=patient).latest("pgh_id")
    assert event.eligibility_override_reason == reason
    assert event.pgh_context.metadata["user"] == cast["alice"].pk
    html = client.get(change_url(patient)).content.decode()
    assert "by alice on" in html


def test_a_consent_recorded_with_the_enrolment_counts(client, cast, site_a):
    patient = screening(site_a)
    client.force_login(cast["alice"])
    url = change_url(patient)
    data = rendered_fields(client.get(url).content.decode())
    data.update({"status": "enrolled", "enrolled_on": "2025-01-06"})
    add_inline_row(data, "consents", {"version": "v2", "signed_on": "2025-01-06"})
    response = client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    patient.refresh_from_db()
    assert patient.status == "enrolled" and patient.eligibility_override_reason == ""


def test_a_new_override_reason_for_an_eligible_patient_is_refused(client, cast, site_a):
    patient = screening(site_a)
    ConsentFactory(patient=patient)
    client.force_login(cast["alice"])
    response = enrol(client, patient, eligibility_override_reason="just in case")
    assert response.status_code == 200
    assert (
        "Eligibility override reason: leave it empty; she is eligible" in response.content.decode()
    )


def test_a_new_patient_who_is_not_eligible_is_not_created_without_a_reason(client, cast, site_a):
    client.force_login(cast["alice"])
    response = submit(
        client,
        reverse("admin:registry_patient_add"),
        {
            "site": str(site_a.pk),
            "given_name": "Bea",
            "family_name": "Example",
            "mrn": "B-200",
            "date_of_birth": "1981-04-02",
            "indication": "rpl",
            "unexplained_miscarriages": "5",
            "conventional_treatment_failed": "on",
            "status": "enrolled",
            "screened_on": "2025-01-02",
            "enrolled_on": "2025-01-06",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "age 43 is above the protocol&#x27;s 42" in html
    assert "informed consent is not signed" in html
    assert not Patient.objects.filter(mrn="B-200").exists()


def test_the_database_refuses_a_reason_without_its_time(site_a):
    patient = screening(site_a)
    with transaction.atomic(), pytest.raises(IntegrityError, match="patient_override_recorded"):
        Patient.objects.filter(pk=patient.pk).update(eligibility_override_reason="no time")
