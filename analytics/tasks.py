"""Celery tasks of analytics: thin; plain values in, one function called."""

from functools import partial

from celery import Task, shared_task
from django.db import transaction

from analytics.alerts import serious_event_alert_send, serious_event_alerts_enqueue
from analytics.mail import RETRYABLE
from analytics.options import CohortFilters
from analytics.reports import (
    monthly_report_send,
    report_period,
    report_send_queued,
)
from analytics.snapshots import cohort_snapshot_store


@shared_task(name="analytics.cohort_snapshot")
def cohort_snapshot(filters: dict | None = None) -> int:
    """Compute and store a cohort snapshot; returns its id.

    `filters` are CohortFilters as plain JSON values: site codes, ISO dates, subgroup values.
    Running it twice stores two snapshots, each true of its moment: nothing is sent or changed.
    """
    return cohort_snapshot_store(filters=CohortFilters.from_json(filters)).pk


class MailTask(Task):
    """A task that sends email.

    Running one twice sends nothing twice (every send is claimed first, analytics.mail), so it
    acknowledges its message only once it has run: a worker that dies mid-task leaves the
    message to be delivered again. What may pass (a refused or unreachable SMTP server, a lost
    database) is retried with exponential backoff; the number of retries and the backoff come
    from CELERY_TASK_ANNOTATIONS in the settings, which Celery applies before this takes effect.
    """

    acks_late = True
    autoretry_for = RETRYABLE
    retry_backoff = True
    retry_jitter = True


@shared_task(base=MailTask, name="analytics.monthly_report")
def monthly_report(period: str | None = None) -> dict:
    """The monthly report of `period` (YYYY-MM; default: last month) to every subscriber."""
    return monthly_report_send(period=report_period(period)).as_json()


@shared_task(base=MailTask, name="analytics.report_resend")
def report_resend(send_id: int) -> str | None:
    """A re-send asked for in the admin; returns its status (None if someone else has it)."""
    send = report_send_queued(send_id=send_id)
    return send.status if send else None


@shared_task(base=MailTask, name="analytics.serious_event_alert")
def serious_event_alert(adverse_event_id: int) -> str | None:
    alert = serious_event_alert_send(adverse_event_id=adverse_event_id)
    return alert.status if alert else None


@shared_task(name="analytics.serious_event_sweep", acks_late=True)
def serious_event_sweep() -> list[int]:
    """Every minute (beat): enqueue the alert of every serious event that has none yet."""
    return serious_event_alerts_enqueue(enqueue=serious_event_alert.delay)


def serious_event_alert_after_commit(*, adverse_event) -> None:
    """For the admin's save paths: alert the site's investigators once the save has committed,
    if the event is serious (a save that rolls back alerts nobody).

    robust: the save has committed by then, so a broker that cannot be reached (or, without
    one, an SMTP error in the eager task) is logged, not shown as a failed save; the sweep
    alerts the event a minute later.
    """
    if adverse_event.serious:
        transaction.on_commit(partial(serious_event_alert.delay, adverse_event.pk), robust=True)
