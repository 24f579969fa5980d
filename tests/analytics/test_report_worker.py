"""The monthly report on a real worker: `celery -A config worker --pool=solo` in its own process,
tasks through Redis, mail to an SMTP server on loopback, data in the test database. Skipped with
the reason when Redis is absent, failed instead under REQUIRE_SERVICES=1 (CI)."""

import io
import json
import re
import zipfile

import pytest

from analytics.models import ReportSend, SendStatus
from analytics.tasks import monthly_report
from tests.analytics.mail_services import (
    BROKER_URL,
    Inbox,
    celery_worker,
    redis_reachable,
    smtp_server,
    tasks_sent_to_broker,
    wait_until,
)
from tests.analytics.report_cohort import (
    FREE_TEXT,
    OTHER_SITE_NAME,
    PERIOD,
    identifiers_of_mtl_patient,
    report_cohort,
)
from tests.conftest import require_service

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FIGURES = {
    "cumulative_live_birth@ivig-registry",
    "adverse_events@ivig-registry",
    "subgroups@ivig-registry",
}


@pytest.fixture
def redis():
    if not redis_reachable(BROKER_URL):
        require_service("Redis", f"nothing answers at {BROKER_URL}")


def smtp_env(port: int, **more: str) -> dict[str, str]:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), **more}


def finished(log_path, task: str, count: int) -> bool:
    """The worker has logged `count` final outcomes (success or failure) of `task`."""
    log = log_path.read_text(errors="replace")
    return len(re.findall(rf"Task {re.escape(task)}\[[^]]+\] (succeeded|raised)", log)) >= count


def test_a_worker_sends_the_monthly_report_once_to_each_subscriber_with_figures_and_export(
    redis, cast, site_a, site_b, tmp_path
):
    cohort = report_cohort(cast, site_a, site_b)
    inbox = Inbox()
    log_path = tmp_path / "worker.log"
    with smtp_server(inbox) as port, celery_worker(log_path=log_path, env=smtp_env(port)):
        with tasks_sent_to_broker():
            # Twice: the second run finds both reports sent and sends nothing.
            monthly_report.delay(PERIOD)
            monthly_report.delay(PERIOD)
        assert wait_until(lambda: finished(log_path, monthly_report.name, 2), timeout_s=180), (
            log_path.read_text()[-4000:]
        )
    assert log_path.read_text().count("succeeded") == 2
    by_address = {received.rcpt_tos[0]: received for received in inbox.messages}
    assert len(inbox.messages) == 2
    assert set(by_address) == {"ivan@clinic.example.org", "rita@clinic.example.org"}

    ivan, rita = by_address["ivan@clinic.example.org"], by_address["rita@clinic.example.org"]
    assert ivan.subject == "IVIg registry: monthly report, June 2025 (MTL)"
    assert rita.subject == "IVIg registry: monthly report, June 2025 (CPH, MTL)"
    assert ivan.message["To"] == "ivan@clinic.example.org"
    assert "Quarrington, Zebedea" in ivan.text()  # identified work lists, her own site
    for received in (ivan, rita):
        images = received.images()
        assert set(images) == FIGURES
        assert all(png.startswith(b"\x89PNG") for png in images.values())
        assert all(f"cid:{cid}" in received.html() for cid in FIGURES)
        [(name, data)] = received.attachments().items()
        assert name.startswith("cohort-deidentified-") and name.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {member: archive.read(member) for member in archive.namelist()}
        assert json.loads(members["manifest.json"])["profile"] == "deidentified"
        everything = b"".join(members.values()).decode()
        for identifier in [*identifiers_of_mtl_patient(), *FREE_TEXT, OTHER_SITE_NAME]:
            assert identifier not in everything
        assert cohort["patient"].study_id in everything
    for identifier in identifiers_of_mtl_patient():
        assert identifier not in rita.text() + rita.html()

    sends = ReportSend.objects.order_by("username")
    assert [(send.username, send.status, send.attempts) for send in sends] == [
        ("ivan", SendStatus.SENT, 1),
        ("rita", SendStatus.SENT, 1),
    ]
    assert all(len(send.content["figures"]) == 3 for send in sends)


def test_a_refusing_smtp_server_is_retried_with_backoff_on_the_worker_and_the_sends_end_failed(
    redis, cast, site_a, site_b, tmp_path
):
    report_cohort(cast, site_a, site_b)
    refusing = Inbox(refuse="550 5.1.1 mailbox unavailable")
    log_path = tmp_path / "worker.log"
    env = smtp_env(0, MAIL_MAX_RETRIES="2", MAIL_RETRY_BACKOFF_SECONDS="1")
    with smtp_server(refusing) as port:
        env["EMAIL_PORT"] = str(port)
        with celery_worker(log_path=log_path, env=env):
            with tasks_sent_to_broker():
                monthly_report.delay(PERIOD)
            assert wait_until(lambda: finished(log_path, monthly_report.name, 1), timeout_s=180), (
                log_path.read_text()[-4000:]
            )
    log = log_path.read_text()
    # Two retries, each after a backoff, then the failure.
    assert len(re.findall(r"retry: Retry in \d+s", log)) == 2, log[-4000:]
    assert "raised unexpected: SMTPRecipientsRefused" in log
    assert "SMTPRecipientsRefused" in log
    assert refusing.refused == 3 * 2 and not refusing.messages
    for send in ReportSend.objects.all():
        assert send.status == SendStatus.FAILED and send.attempts == 3
        assert "550" in send.error and "mailbox unavailable" in send.error
