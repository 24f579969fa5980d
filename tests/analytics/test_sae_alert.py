"""Serious adverse event alerts: saved in the admin (either page) or written any other way, a
serious event emails its site's investigators once, after the save commits, without a single
identifier. Tasks run in this process here (no broker), against a real SMTP server on loopback;
tests/analytics/test_sae_worker.py runs the same through Redis and a real worker."""

import importlib

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.urls import reverse

from analytics.alerts import serious_event_alert_send
from analytics.models import SendStatus, SeriousEventAlert
from analytics.tasks import serious_event_alert, serious_event_sweep
from config.celery import app
from outcomes.models import AdverseEvent
from tests.admin_forms import add_inline_row, form_errors, rendered_fields, submit
from tests.analytics.mail_services import Inbox, smtp_server, use_smtp
from tests.analytics.report_cohort import (
    FREE_TEXT,
    identifiers_of_mtl_patient,
    report_cohort,
)
from tests.factories import AdverseEventFactory

IVAN = "ivan@clinic.example.org"


@pytest.fixture
def cohort(cast, site_a, site_b):
    return report_cohort(cast, site_a, site_b)


@pytest.fixture
def inbox(settings):
    inbox = Inbox()
    with smtp_server(inbox) as port:
        use_smtp(settings, port)
        yield inbox


def serious_event_fields(patient) -> dict[str, str]:
    return {
        "patient": str(patient.pk),
        "subject": "maternal",
        "term": "other",
        "term_other": FREE_TEXT[1],
        "grade": "3",
        "serious": "on",
        "relatedness": "possible",
        "onset_on": "2025-06-12",
        "action_taken": "hospitalised",
        "resolution": "recovering",
        "description": FREE_TEXT[0],
    }


def assert_no_identifier(received, patient):
    everything = received.subject + received.text()
    for hidden in [*identifiers_of_mtl_patient(), *FREE_TEXT]:
        assert hidden not in everything
    assert patient.study_id in received.subject and patient.study_id in received.text()


@pytest.mark.django_db
def test_saving_a_serious_event_in_the_admin_emails_the_sites_investigators_once_it_commits(
    client, cast, cohort, inbox, django_capture_on_commit_callbacks
):
    patient = cohort["patient"]
    client.force_login(cast["alice"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = submit(
            client,
            reverse("admin:outcomes_adverseevent_add"),
            serious_event_fields(patient),
        )
        assert response.status_code == 302, form_errors(response)
        assert not inbox.messages  # nothing leaves before the save has committed
    for callback in callbacks:
        callback()
    [received] = inbox.messages
    assert received.rcpt_tos == [IVAN]  # MTL's investigator; not ian (CPH), not rita
    assert received.subject == (
        f"IVIg registry: serious adverse event at MTL: {patient.study_id}, other event, grade 3"
    )
    body = received.text()
    assert "Grade (CTCAE):  3" in body and "Onset:          2025-06-12" in body
    assert "Action taken:   Hospitalised" in body
    event = AdverseEvent.objects.get(onset_on="2025-06-12")
    assert f"/admin/outcomes/adverseevent/{event.pk}/change/" in body
    assert_no_identifier(received, patient)
    alert = SeriousEventAlert.objects.get(adverse_event=event)
    assert alert.status == SendStatus.SENT and alert.recipients == [IVAN]


@pytest.mark.django_db
def test_a_serious_event_added_on_the_patient_page_alerts_too(
    client, cast, cohort, inbox, django_capture_on_commit_callbacks
):
    patient = cohort["patient"]
    client.force_login(cast["alice"])
    url = reverse("admin:registry_patient_change", args=[patient.pk])
    data = rendered_fields(client.get(url).content.decode())
    row = serious_event_fields(patient)
    row.pop("patient")
    add_inline_row(data, "adverse_events", row)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    [received] = inbox.messages
    assert received.rcpt_tos == [IVAN]
    assert_no_identifier(received, patient)


@pytest.mark.django_db
def test_an_event_that_is_not_serious_alerts_nobody(
    client, cast, cohort, inbox, django_capture_on_commit_callbacks
):
    fields = serious_event_fields(cohort["patient"])
    fields.pop("serious")
    client.force_login(cast["alice"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = submit(client, reverse("admin:outcomes_adverseevent_add"), fields)
    assert response.status_code == 302, form_errors(response)
    assert not callbacks and not inbox.messages


@pytest.mark.django_db
def test_each_event_is_alerted_once_however_often_it_is_saved_sent_or_swept(
    client, cast, cohort, inbox, django_capture_on_commit_callbacks
):
    event = cohort["serious_event"]
    assert serious_event_alert(event.pk) == SendStatus.SENT
    assert serious_event_alert(event.pk) is None
    assert serious_event_sweep() == []
    client.force_login(cast["alice"])
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(
            client,
            reverse("admin:outcomes_adverseevent_change", args=[event.pk]),
            {"resolution": "recovered", "resolved_on": "2025-06-20"},
        )
    assert response.status_code == 302, form_errors(response)
    assert len(inbox.messages) == 1 and SeriousEventAlert.objects.count() == 1


@pytest.mark.django_db
def test_the_sweep_alerts_serious_events_written_without_the_admin(cohort, inbox):
    # The cohort's serious event was written by a factory, as an import or the API would.
    event = cohort["serious_event"]
    assert serious_event_sweep() == [event.pk]
    [received] = inbox.messages
    assert received.rcpt_tos == [IVAN]
    assert "anaphylaxis, grade 4" in received.subject
    body = received.text()
    assert "Infusion:       2025-06-05, IVIg, IVIg 10%, 40.00 g" in body
    assert "Onset:          2025-06-05 (gestational age 16+1)" in body
    assert_no_identifier(received, cohort["patient"])
    assert serious_event_sweep() == []


@pytest.mark.django_db
def test_a_site_without_an_investigator_to_email_is_recorded_as_failed_for_a_person(cohort, inbox):
    cohort["ivan"].email = ""
    cohort["ivan"].save()
    with pytest.raises(Exception, match="no active investigator with an email address"):
        serious_event_alert_send(adverse_event_id=cohort["serious_event"].pk)
    alert = SeriousEventAlert.objects.get()
    assert alert.status == SendStatus.FAILED and "MTL" in alert.error
    assert alert.needs_attention(stuck_after=django_settings.SEND_STUCK_AFTER)
    assert not inbox.messages


@pytest.mark.django_db
def test_a_refused_alert_is_retried_ends_failed_and_an_admin_can_send_it_again(
    cohort, settings, monkeypatch, client, cast, django_capture_on_commit_callbacks
):
    event = cohort["serious_event"]
    monkeypatch.setattr(serious_event_alert, "max_retries", 2)
    monkeypatch.setattr(app.conf, "task_eager_propagates", False)
    refusing = Inbox(refuse="550 5.7.1 relaying denied")
    with smtp_server(refusing) as port:
        use_smtp(settings, port)
        result = serious_event_alert.apply(args=[event.pk])
    assert result.failed() and refusing.refused == 3
    alert = SeriousEventAlert.objects.get()
    assert alert.status == SendStatus.FAILED and alert.attempts == 3 and "550" in alert.error
    # The sweep leaves a failed alert to a person: it has its row.
    assert serious_event_sweep() == []

    accepting = Inbox()
    client.force_login(cast["admin"])
    with smtp_server(accepting) as port:
        use_smtp(settings, port)
        page = client.get("/admin/analytics/seriouseventalert/").content.decode()
        assert "1 needs a person" in page
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/admin/analytics/seriouseventalert/",
                {"action": "send_again", "_selected_action": [alert.pk]},
            )
    [received] = accepting.messages
    assert received.rcpt_tos == [IVAN]
    alert.refresh_from_db()
    assert alert.status == SendStatus.SENT and alert.requested_by == cast["admin"]


@pytest.mark.django_db
def test_serious_events_recorded_before_alerts_existed_are_not_alerted_on_upgrade(cohort, inbox):
    migration = importlib.import_module("analytics.migrations.0004_reports_and_alerts")
    AdverseEventFactory(patient=cohort["patient"], serious=False)
    migration.earlier_serious_events_predate_alerts(apps, None)
    assert list(SeriousEventAlert.objects.values_list("adverse_event", "status")) == [
        (cohort["serious_event"].pk, SendStatus.PREDATES)
    ]
    assert serious_event_sweep() == [] and not inbox.messages
