"""A serious adverse event saved in the admin reaches the site's investigators within a minute,
through Redis and a real worker (`celery -A config worker --pool=solo`, its own process), and
one written without the admin is found by the sweep the same way. Skipped with the reason when
Redis is absent, failed instead under REQUIRE_SERVICES=1 (CI)."""

import time

import pytest
from django.urls import reverse

from analytics.models import SendStatus, SeriousEventAlert
from analytics.tasks import serious_event_sweep
from tests.admin_forms import form_errors, submit
from tests.analytics.mail_services import (
    BROKER_URL,
    Inbox,
    celery_worker,
    redis_reachable,
    smtp_server,
    tasks_sent_to_broker,
    wait_until,
)
from tests.analytics.report_cohort import FREE_TEXT, identifiers_of_mtl_patient, report_cohort
from tests.conftest import require_service

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WITHIN_A_MINUTE_S = 60


@pytest.fixture
def redis():
    if not redis_reachable(BROKER_URL):
        require_service("Redis", f"nothing answers at {BROKER_URL}")


def test_a_serious_event_saved_in_the_admin_reaches_the_sites_investigators_within_a_minute(
    redis, client, cast, site_a, site_b, tmp_path
):
    cohort = report_cohort(cast, site_a, site_b)
    patient = cohort["patient"]
    inbox = Inbox()
    log_path = tmp_path / "worker.log"
    client.force_login(cast["alice"])
    with smtp_server(inbox) as port:
        env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
        with celery_worker(log_path=log_path, env=env), tasks_sent_to_broker():
            response = submit(
                client,
                reverse("admin:outcomes_adverseevent_add"),
                {
                    "patient": str(patient.pk),
                    "term": "thrombosis",
                    "grade": "4",
                    "serious": "on",
                    "relatedness": "possible",
                    "onset_on": "2025-06-14",
                    "action_taken": "hospitalised",
                    "resolution": "recovering",
                    "description": FREE_TEXT[0],
                },
            )
            saved_at = time.monotonic()
            assert response.status_code == 302, form_errors(response)
            inbox.wait_for(1, timeout_s=WITHIN_A_MINUTE_S)
            delay_s = time.monotonic() - saved_at

            # Written by a factory (as an import or the API would): the sweep finds it.
            serious_event_sweep.delay()
            inbox.wait_for(2, timeout_s=WITHIN_A_MINUTE_S)
            assert wait_until(
                lambda: SeriousEventAlert.objects.filter(status=SendStatus.SENT).count() == 2,
                timeout_s=30,
            ), log_path.read_text()[-4000:]

    assert len(inbox.messages) == 2, log_path.read_text()[-4000:]
    assert delay_s < WITHIN_A_MINUTE_S
    saved, swept = inbox.messages
    assert saved.subject == (
        f"IVIg registry: serious adverse event at MTL: {patient.study_id}, thrombosis, grade 4"
    )
    assert "anaphylaxis, grade 4" in swept.subject
    for received in (saved, swept):
        assert received.rcpt_tos == ["ivan@clinic.example.org"]  # MTL's investigator only
        everything = received.subject + received.text()
        assert patient.study_id in everything
        for hidden in [*identifiers_of_mtl_patient(), *FREE_TEXT]:
            assert hidden not in everything
