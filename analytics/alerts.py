"""Serious adverse event alerts: the site's investigators hear of each serious event once.

An event saved as serious in the admin enqueues the alert when its transaction commits
(analytics.tasks.serious_event_alert_after_commit); a beat task every minute enqueues it for
any serious event that has no alert yet, whoever wrote it (import, API, shell). Both reach
serious_event_alert_send, which claims the event's one SeriousEventAlert row before sending.

The email names the study ID and the event, never the patient: no name, MRN, birth date or
contact, and no free text (the description and "term, if other" may hold anything). The
investigators open the event in the registry, where they see her identifiers.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics.mail import NotSendable, send_claim, send_once
from analytics.models import SendStatus, SeriousEventAlert
from outcomes.models import AdverseEvent
from outcomes.selectors import ga_text
from registry import roles
from registry.schedule import ROUTE_NAMES

SWEEP_LIMIT = 200


def serious_event_recipients(*, site_id: int) -> list[str]:
    """Email addresses of the active investigators who work at the site."""
    users = get_user_model().objects.filter(
        is_active=True,
        groups__name=roles.INVESTIGATOR,
        site_memberships__site_id=site_id,
    )
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))


def serious_event_message(*, event: AdverseEvent, recipients: list[str]) -> EmailMessage:
    site = event.patient.site
    if not recipients:
        raise NotSendable(f"no active investigator with an email address works at {site.code}")
    term = "other event" if event.term == AdverseEvent.Term.OTHER else event.get_term_display()
    pregnancy = event.pregnancy
    context = {
        "event": event,
        "site": site,
        "ga_at_onset": ga_text(pregnancy.lmp_on, event.onset_on) if pregnancy else "",
        "infusion": event.infusion,
        "infusion_route": (
            ROUTE_NAMES.get(event.infusion.route, event.infusion.route) if event.infusion else ""
        ),
        "recorded_at": timezone.localtime(event.created_at),
        "event_url": settings.REGISTRY_URL
        + reverse("admin:outcomes_adverseevent_change", args=[event.pk]),
    }
    return EmailMessage(
        subject=(
            f"{settings.SITE_NAME}: serious adverse event at {site.code}: "
            f"{event.patient.study_id}, {term.lower()}, grade {event.grade}"
        ),
        body=render_to_string("analytics/email/serious_event.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )


def serious_event_alert_send(*, adverse_event_id: int) -> SeriousEventAlert | None:
    """Alert the investigators of the event's site, unless it was alerted (or is being);
    None then, or if the event is gone or no longer serious."""
    event = (
        AdverseEvent.objects.select_related("patient__site", "pregnancy", "infusion__product")
        .filter(pk=adverse_event_id)
        .first()
    )
    if event is None or not event.serious:
        return None
    row = send_claim(
        SeriousEventAlert.objects.filter(adverse_event_id=event.pk),
        create=lambda **fields: SeriousEventAlert.objects.create(
            adverse_event=event,
            study_id=event.patient.study_id,
            site_code=event.patient.site.code,
            **fields,
        ),
    )
    if row is None:
        return None

    def build():
        recipients = serious_event_recipients(site_id=event.patient.site_id)
        return serious_event_message(event=event, recipients=recipients), {}

    return send_once(row=row, build=build)


def serious_events_unalerted(*, limit: int = SWEEP_LIMIT) -> list[int]:
    """Serious events without an alert row, oldest first."""
    events = AdverseEvent.objects.filter(serious=True, serious_alert__isnull=True)
    return list(events.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])


def serious_event_alerts_enqueue(*, enqueue: Callable[[int], object]) -> list[int]:
    """Hand every serious event that has no alert yet to `enqueue` (the alert task's delay).

    An event whose alert task is already waiting may be handed over again: the claim sends it
    once all the same.
    """
    ids = serious_events_unalerted()
    for adverse_event_id in ids:
        enqueue(adverse_event_id)
    return ids


def serious_event_alert_resend_request(*, alert: SeriousEventAlert, user) -> bool:
    """Queue a failed alert, or one left in "sending" that a person has looked into, to be sent
    again, recording who asked. False if it was sent (or queued) meanwhile."""
    return bool(
        SeriousEventAlert.objects.filter(
            pk=alert.pk, status__in=[SendStatus.FAILED, SendStatus.SENDING]
        ).update(status=SendStatus.QUEUED, requested_by=user)
    )
