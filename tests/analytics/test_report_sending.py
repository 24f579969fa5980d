"""Sending the monthly report: once per subscriber and month, whatever runs it how often, and
nothing lost when the SMTP server refuses. The task functions are called here, in this process,
against a real SMTP server on loopback; tests/analytics/test_report_worker.py runs them on a
real worker through Redis."""

import datetime as dt
import threading
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from analytics.models import ReportSend, SendStatus
from analytics.reports import monthly_report_send
from analytics.tasks import MailTask, cohort_snapshot, monthly_report, serious_event_alert
from config.celery import app
from tests.analytics.mail_services import Inbox, free_port, smtp_server, use_smtp
from tests.analytics.report_cohort import PERIOD, PERIOD_START, REPORT_DAY, report_cohort

RUNS = 8


@pytest.fixture
def cohort(cast, site_a, site_b):
    return report_cohort(cast, site_a, site_b)


@pytest.fixture
def inbox(settings):
    inbox = Inbox()
    with smtp_server(inbox) as port:
        use_smtp(settings, port)
        yield inbox


@pytest.fixture
def eager_retries():
    """Eager tasks retry in place (with no wait) instead of handing the retry to the caller."""
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = django_settings.CELERY_TASK_EAGER_PROPAGATES


def by_recipient(inbox: Inbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for received in inbox.messages:
        for address in received.rcpt_tos:
            counts[address] = counts.get(address, 0) + 1
    return counts


EVERY_SUBSCRIBER_ONCE = {"ivan@clinic.example.org": 1, "rita@clinic.example.org": 1}


@pytest.mark.django_db
def test_each_subscriber_gets_the_report_once_and_the_send_is_recorded(cohort, inbox):
    first = monthly_report(PERIOD)
    again = monthly_report(PERIOD)
    assert first == {"period": PERIOD, "sent": ["ivan", "rita"], "already": [], "failed": {}}
    assert again["sent"] == [] and again["already"] == ["ivan", "rita"]
    assert by_recipient(inbox) == EVERY_SUBSCRIBER_ONCE
    assert {received.subject for received in inbox.messages} == {
        "IVIg registry: monthly report, June 2025 (MTL)",
        "IVIg registry: monthly report, June 2025 (CPH, MTL)",
    }
    send = ReportSend.objects.get(username="ivan")
    assert send.status == SendStatus.SENT and send.sent_at is not None and send.attempts == 1
    assert send.period == PERIOD_START and send.level == "identified" and send.sites == ["MTL"]
    assert send.recipients == ["ivan@clinic.example.org"]
    # What it showed: the figures (and their bytes' digests), drawn from a stored snapshot.
    assert [figure["name"] for figure in send.content["figures"]] == [
        "cumulative_live_birth",
        "adverse_events",
        "subgroups",
    ]
    assert all(len(figure["sha256"]) == 64 for figure in send.content["figures"])
    assert send.snapshot.payload["cohort"]["sites"] == ["MTL"]
    assert send.export.profile == "deidentified" and send.export.user == cohort["ivan"]


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_runs_send_exactly_one_email_per_subscriber(cohort, inbox):
    start = threading.Barrier(RUNS)
    results, errors = [], []

    def run():
        try:
            start.wait(timeout=30)
            results.append(monthly_report.apply(args=[PERIOD]).get())
        except Exception as exc:  # reported below, with the others'
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert by_recipient(inbox) == EVERY_SUBSCRIBER_ONCE
    assert sorted(name for result in results for name in result["sent"]) == ["ivan", "rita"]
    assert ReportSend.objects.count() == 2
    assert set(ReportSend.objects.values_list("status", "attempts")) == {(SendStatus.SENT, 1)}


@pytest.mark.django_db
def test_a_send_left_sending_by_a_worker_that_died_is_not_sent_again_but_flagged(
    cohort, inbox, client, cast
):
    # The worker claimed ivan's report, sent it (or not: nobody knows) and died.
    ReportSend.objects.create(
        subscription=cohort["ivan_subscription"],
        username="ivan",
        period=PERIOD_START,
        status=SendStatus.SENDING,
        attempts=1,
        claimed_at=timezone.now() - dt.timedelta(hours=2),
    )
    result = monthly_report(PERIOD)
    assert result["sent"] == ["rita"] and result["already"] == ["ivan"]
    assert by_recipient(inbox) == {"rita@clinic.example.org": 1}
    stuck = ReportSend.objects.get(username="ivan")
    assert stuck.status == SendStatus.SENDING
    assert stuck.needs_attention(stuck_after=django_settings.SEND_STUCK_AFTER)

    client.force_login(cast["admin"])
    page = client.get("/admin/analytics/reportsend/?attention=yes").content.decode()
    assert "1 needs a person" in page and "ivan" in page and "rita</td>" not in page


@pytest.mark.django_db
def test_a_refusing_smtp_server_is_retried_and_the_send_ends_failed_with_the_error(
    cohort, settings, monkeypatch, eager_retries
):
    monkeypatch.setattr(monthly_report, "max_retries", 2)
    refusing = Inbox(refuse="550 5.1.1 mailbox unavailable")
    with smtp_server(refusing) as port:
        use_smtp(settings, port)
        with pytest.raises(Exception, match="mailbox unavailable"):
            monthly_report.apply(args=[PERIOD]).get()
    # Three attempts (the first and two retries), each refused for both subscribers.
    assert refusing.refused == 3 * 2
    for send in ReportSend.objects.all():
        assert send.status == SendStatus.FAILED and send.attempts == 3
        assert "SMTPRecipientsRefused" in send.error and "550" in send.error
        assert send.needs_attention(stuck_after=django_settings.SEND_STUCK_AFTER)
    # Nothing is lost: once the server takes mail again, the next run sends what failed.
    accepting = Inbox()
    with smtp_server(accepting) as port:
        use_smtp(settings, port)
        assert monthly_report(PERIOD)["sent"] == ["ivan", "rita"]
    assert by_recipient(accepting) == EVERY_SUBSCRIBER_ONCE
    assert set(ReportSend.objects.values_list("status", "attempts", "error")) == {
        (SendStatus.SENT, 4, "")
    }


@pytest.mark.django_db
def test_an_smtp_port_nobody_listens_on_is_retried_and_recorded_as_failed(
    cohort, settings, monkeypatch, eager_retries
):
    monkeypatch.setattr(monthly_report, "max_retries", 1)
    use_smtp(settings, free_port())
    with pytest.raises(ConnectionRefusedError):
        monthly_report.apply(args=[PERIOD]).get()
    assert set(ReportSend.objects.values_list("status", "attempts")) == {(SendStatus.FAILED, 2)}
    assert "ConnectionRefusedError" in ReportSend.objects.first().error


def test_mail_tasks_retry_smtp_and_database_errors_with_backoff_and_acknowledge_late():
    from smtplib import SMTPException

    from django.db import OperationalError

    for task in (monthly_report, serious_event_alert):
        assert isinstance(task, MailTask)
        assert {SMTPException, OperationalError} <= set(task.autoretry_for)
        assert (
            task.retry_backoff
            == django_settings.CELERY_TASK_ANNOTATIONS[task.name]["retry_backoff"]
        )
        assert task.max_retries == 8 and task.acks_late
    # Storing a snapshot twice stores two: not idempotent, so acknowledged on receipt.
    assert not cohort_snapshot.acks_late
    assert monthly_report.time_limit > monthly_report.soft_time_limit > 0
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > monthly_report.time_limit and visibility > monthly_report.retry_backoff_max


def test_beat_sends_the_report_at_six_on_the_first_of_each_month_in_the_clinic_time_zone():
    entry = django_settings.CELERY_BEAT_SCHEDULE["monthly-report"]
    schedule = entry["schedule"]
    assert entry["task"] == monthly_report.name
    assert isinstance(schedule, crontab)
    assert schedule.minute == {0} and schedule.hour == {6} and schedule.day_of_month == {1}
    assert app.conf.timezone == django_settings.TIME_ZONE == "America/Toronto"
    sweep = django_settings.CELERY_BEAT_SCHEDULE["serious-event-sweep"]
    assert sweep["task"] == serious_event_alert.name.replace("alert", "sweep")
    assert sweep["schedule"] == 60.0


@pytest.mark.django_db
def test_an_admin_resends_a_report_deliberately_and_the_resend_is_recorded_as_theirs(
    cohort, inbox, client, cast, django_capture_on_commit_callbacks
):
    monthly_report_send(period=PERIOD_START, today=REPORT_DAY)
    original = ReportSend.objects.get(username="rita")
    client.force_login(cast["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/analytics/reportsend/",
            {"action": "resend", "_selected_action": [original.pk]},
        )
    assert response.status_code == 302
    assert by_recipient(inbox) == {"ivan@clinic.example.org": 1, "rita@clinic.example.org": 2}
    resend = ReportSend.objects.get(resend_of=original)
    assert resend.requested_by == cast["admin"] and resend.status == SendStatus.SENT
    assert resend.period == original.period and resend.subscription == original.subscription
    assert "re-send by admin" in client.get("/admin/analytics/reportsend/").content.decode()
    # Its page shows what it showed: the figures drawn again from the stored snapshot.
    page = client.get(f"/admin/analytics/reportsend/{resend.pk}/change/").content.decode()
    assert page.count('<img src="data:image/svg+xml;base64,') == 3
    assert "Cumulative live birth after up to k transfers" in page


@pytest.mark.django_db
def test_a_dry_run_writes_the_emails_to_files_and_records_no_send(cohort, inbox, tmp_path):
    call_command("send_monthly_report", "--period", PERIOD, "--dry-run", "--out", str(tmp_path))
    files = sorted(path.name for path in Path(tmp_path).iterdir())
    assert files == ["2025-06-ivan.eml", "2025-06-rita.eml"]
    assert (
        b"Subject: IVIg registry: monthly report, June 2025 (MTL)"
        in (tmp_path / "2025-06-ivan.eml").read_bytes()
    )
    assert not ReportSend.objects.exists() and not inbox.messages


@pytest.mark.django_db
def test_the_command_sends_by_hand_what_the_task_sends_and_says_so(cohort, inbox, capsys):
    call_command("send_monthly_report", "--period", PERIOD)
    call_command("send_monthly_report", "--period", PERIOD)
    out = capsys.readouterr().out
    assert "2025-06: 2 sent, 0 already sent, 0 failed." in out
    assert "2025-06: 0 sent, 2 already sent, 0 failed." in out
    assert by_recipient(inbox) == EVERY_SUBSCRIBER_ONCE
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("send_monthly_report", "--period", "June")
