"""The audit trail records every write, whatever made it, with the acting user."""

import datetime as dt
from decimal import Decimal

import pghistory
import pytest
from django.apps import apps
from django.db import ProgrammingError, transaction
from django.urls import reverse

from outcomes.models import FollowUpVisit
from registry.models import Infusion, Patient
from tests.admin_forms import rendered_fields, submit
from tests.factories import (
    ConsentFactory,
    CycleFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    VisitFactory,
)

pytestmark = pytest.mark.django_db

PatientEvent = apps.get_model("registry", "PatientEvent")
InfusionEvent = apps.get_model("registry", "InfusionEvent")
PregnancyEvent = apps.get_model("outcomes", "PregnancyEvent")


def context_of(event) -> dict:
    return event.pgh_context.metadata if event.pgh_context else {}


def test_a_save_in_the_admin_is_recorded_with_the_user_and_old_and_new_values(client, cast, site_a):
    patient = PatientFactory(site=site_a, unexplained_miscarriages=5)
    client.force_login(cast["alice"])
    url = reverse("admin:registry_patient_change", args=[patient.pk])
    response = submit(client, url, {"unexplained_miscarriages": "6"})
    assert response.status_code == 302

    update = PatientEvent.objects.get(pgh_obj=patient, pgh_label="update")
    assert update.unexplained_miscarriages == 6
    assert context_of(update)["user"] == cast["alice"].pk
    assert context_of(update)["url"] == url

    # The trail as the patient page shows it: old and new values, who, when (UTC).
    client.force_login(cast["alice"])
    html = client.get(reverse("admin:registry_patient_audit", args=[patient.pk])).content
    html = html.decode()
    assert "<code>unexplained_miscarriages</code>: 5 &rarr; 6" in html
    assert "alice" in html


def test_queryset_update_is_recorded_with_the_user(cast):
    infusion = InfusionFactory(dose_g=Decimal("40"))
    with pghistory.context(user=cast["alice"].pk):
        Infusion.objects.filter(pk=infusion.pk).update(dose_g=Decimal("45"))
    update = InfusionEvent.objects.get(pgh_obj=infusion, pgh_label="update")
    assert update.dose_g == Decimal("45")
    assert context_of(update)["user"] == cast["alice"].pk


def test_bulk_create_is_recorded_row_by_row(cast):
    pregnancy = VisitFactory().pregnancy
    visits = [
        FollowUpVisit(
            pregnancy=pregnancy,
            kind="antenatal",
            due_from=dt.date(2025, 9, 1) + dt.timedelta(days=91 * i),
            due_until=dt.date(2025, 9, 20) + dt.timedelta(days=91 * i),
        )
        for i in range(3)
    ]
    with pghistory.context(user=cast["bob"].pk):
        created = FollowUpVisit.objects.bulk_create(visits)
    VisitEvent = apps.get_model("outcomes", "FollowUpVisitEvent")
    events = VisitEvent.objects.filter(pgh_obj__in=[v.pk for v in created], pgh_label="insert")
    assert events.count() == 3
    assert {context_of(e)["user"] for e in events} == {cast["bob"].pk}


def test_a_delete_is_recorded_with_the_last_values(cast):
    infusion = InfusionFactory(dose_g=Decimal("40"))
    pk = infusion.pk
    with pghistory.context(user=cast["alice"].pk):
        infusion.delete()
    deleted = InfusionEvent.objects.get(pgh_obj_id=pk, pgh_label="delete")
    assert deleted.dose_g == Decimal("40")
    assert context_of(deleted)["user"] == cast["alice"].pk


def test_nobody_can_edit_or_delete_the_trail():
    patient = PatientFactory()
    event = PatientEvent.objects.get(pgh_obj=patient, pgh_label="insert")
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        PatientEvent.objects.filter(pk=event.pk).update(mrn="rewritten")
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        PatientEvent.objects.filter(pk=event.pk).delete()


def test_editing_a_completed_pregnancy_asks_for_a_reason_and_records_it(client, cast, site_a):
    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    ConsentFactory(patient=cycle.patient)
    outcome = OutcomeFactory(pregnancy__transfer__cycle=cycle)
    pregnancy = outcome.pregnancy
    client.force_login(cast["alice"])
    url = reverse("admin:outcomes_pregnancy_change", args=[pregnancy.pk])

    refused = submit(client, url, {"fetuses": "2"})
    assert refused.status_code == 200
    assert "Change reason is required: this pregnancy has an outcome" in refused.content.decode()
    pregnancy.refresh_from_db()
    assert pregnancy.fetuses == 1

    accepted = submit(client, url, {"fetuses": "2", "change_reason": "Twin found on review"})
    assert accepted.status_code == 302
    update = PregnancyEvent.objects.get(pgh_obj=pregnancy, pgh_label="update")
    assert update.fetuses == 2
    assert context_of(update)["reason"] == "Twin found on review"
    assert context_of(update)["user"] == cast["alice"].pk


def test_an_ongoing_pregnancy_is_edited_without_a_reason(client, cast, site_a):
    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    visit = VisitFactory(pregnancy__transfer__cycle=cycle)
    client.force_login(cast["alice"])
    url = reverse("admin:outcomes_pregnancy_change", args=[visit.pregnancy.pk])
    assert submit(client, url, {"fetuses": "2"}).status_code == 302


def test_the_rendered_patient_form_posts_back_unchanged(client, cast, site_a):
    # Guards the helper the audit tests rely on: a round trip changes nothing.
    patient = PatientFactory(site=site_a)
    client.force_login(cast["alice"])
    url = reverse("admin:registry_patient_change", args=[patient.pk])
    assert "given_name" in rendered_fields(client.get(url).content.decode())
    assert submit(client, url).status_code == 302
    assert not PatientEvent.objects.filter(pgh_obj=patient, pgh_label="update").exists()
    assert Patient.objects.get(pk=patient.pk).given_name == patient.given_name
