"""The monthly report: what it holds, the email it becomes, and sending it once per subscriber.

A report is about one month (the period, written YYYY-MM and kept as its first day) and is
built for one subscriber, from what that subscriber may see on the day it is built:

- what happened at their sites in the month (patients screened and enrolled, infusions,
  transfers, pregnancies, outcomes, adverse events) and the cohort to date, from a cohort
  snapshot that is stored with the send so its figures can be drawn again;
- three figures of the snapshot (analytics.cohort_figures.SNAPSHOT_FIGURES), inline PNGs in the HTML part;
- protocol deviations dated in the month, visits overdue on the day and doses due in the next
  month: rows with study ID, name and MRN for a subscriber at the identified level who may see
  identifiers (registry.access), counts only for everyone else;
- the de-identified export (HIPAA Safe Harbor) of their sites, attached as a zip.

Sending goes through analytics.mail's claim, so the scheduled report of a period reaches each
subscriber once however often the job runs; a re-send is a row of its own, asked for by a
person in the admin.
"""

import calendar
import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from email.mime.image import MIMEImage
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics.classification import ExportProfile
from analytics.exports import (
    ExportFilters,
    export_authorise,
    export_chunks,
    export_file_name,
    export_record_start,
)
from analytics.formatting import HEADLINES, rate_row
from analytics.mail import RETRYABLE, NotSendable, send_claim, send_once
from analytics.models import (
    CohortSnapshot,
    ExportRecord,
    ReportLevel,
    ReportSend,
    ReportSubscription,
    SendStatus,
)
from analytics.options import CohortFilters
from analytics.snapshots import cohort_snapshot_compute
from outcomes import selectors as outcome_selectors
from outcomes.models import AdverseEvent, EmbryoTransfer, FollowUpVisit, Pregnancy, PregnancyOutcome
from registry import access
from registry.models import Infusion, Patient

logger = logging.getLogger(__name__)

PERIOD_FORMAT = re.compile(r"^(\d{4})-(\d{2})$")


# The period -----------------------------------------------------------------------------------


def report_period(value: str | None = None, *, today: dt.date | None = None) -> dt.date:
    """The month a report is about, as its first day: "YYYY-MM", or (None) the month before
    `today` (in the clinic's time zone), which is what the first of the month reports on."""
    today = today or timezone.localdate()
    if not value:
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    match = PERIOD_FORMAT.match(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"the period is a month written YYYY-MM, not {value!r}")
    period = dt.date(int(match[1]), int(match[2]), 1)
    if period > today:
        raise ValueError(f"{value} has not begun yet")
    return period


def month_end(period: dt.date) -> dt.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def month_after(period: dt.date) -> dt.date:
    return month_end(period) + dt.timedelta(days=1)


# Who gets what --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    site_codes: tuple[str, ...]
    identified: bool


def subscription_validate(*, user, site_codes: list[str], level: str) -> None:
    """The admin's check of a subscription: ValidationError says what is wrong."""
    problems = []
    if not user.email:
        problems.append(f"{user} has no email address: add one on the user's page first.")
    if not user.has_perm("registry.view_patient"):
        problems.append(f"{user} may not read patients, so may not get the report.")
    allowed = set(access.sites_for(user).values_list("code", flat=True))
    refused = sorted(set(site_codes) - allowed)
    if refused:
        problems.append(f"{user} does not work at {', '.join(refused)}.")
    elif not allowed:
        problems.append(f"{user} works at no site yet.")
    if level == ReportLevel.IDENTIFIED and not access.can_view_identifiers(user):
        problems.append(f"{user} may not see identifiers, so gets the de-identified report only.")
    if problems:
        raise ValidationError(problems)


def subscription_scope(*, subscription: ReportSubscription) -> ReportScope:
    """What the subscriber may get today: the chosen sites they still work at (every site they
    work at when none was chosen), with identifiers only at the identified level and only while
    they may see identifiers. NotSendable when there is nothing they may get."""
    user = subscription.user
    if not user.is_active:
        raise NotSendable(f"{user} is not an active user")
    if not user.email:
        raise NotSendable(f"{user} has no email address")
    allowed = set(access.sites_for(user).values_list("code", flat=True))
    chosen = {site.code for site in subscription.sites.all()}
    codes = chosen & allowed if chosen else allowed
    if not codes:
        raise NotSendable(f"{user} works at none of the sites of the subscription")
    identified = subscription.level == ReportLevel.IDENTIFIED and access.can_view_identifiers(user)
    return ReportScope(tuple(sorted(codes)), identified)


# What the report holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFigure:
    name: str
    title: str
    png: bytes

    @property
    def cid(self) -> str:
        return f"{self.name}@ivig-registry"

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "bytes": len(self.png),
            "sha256": hashlib.sha256(self.png).hexdigest(),
        }


@dataclass(frozen=True)
class ReportAttachment:
    file_name: str
    data: bytes | None  # None: too large to attach
    size: int
    record: ExportRecord

    def as_json(self) -> dict:
        report = {"file_name": self.file_name, "profile": ExportProfile.DEIDENTIFIED.value}
        if self.data is None:
            return {**report, "attached": False, "bytes_over": self.size}
        return {
            **report,
            "attached": True,
            "bytes": self.size,
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


@dataclass
class MonthlyReport:
    period: dt.date
    today: dt.date
    username: str
    recipient: str
    scope: ReportScope
    snapshot: CohortSnapshot
    month: list[tuple[str, int]]
    headlines: list[dict]
    figures: list[ReportFigure]
    deviations: list[outcome_selectors.SiteDeviation]
    overdue_visits: list[outcome_selectors.WorkItem]
    doses_due: list[outcome_selectors.WorkItem]
    attachment: ReportAttachment
    notes: list[str] = field(default_factory=list)

    @property
    def next_month(self) -> dt.date:
        return month_after(self.period)

    def content(self) -> dict:
        """What the email showed, for the send's record: counts, never a patient."""
        by_rule = Counter(str(item.deviation.rule) for item in self.deviations)
        return {
            "period": f"{self.period:%Y-%m}",
            "as_of": self.today.isoformat(),
            "level": ReportLevel.IDENTIFIED if self.scope.identified else ReportLevel.DEIDENTIFIED,
            "sites": list(self.scope.site_codes),
            "month": dict(self.month),
            "cohort": self.snapshot.payload["cohort"],
            "headlines": {row["label"]: row["fraction"] for row in self.headlines},
            "figures": [figure.as_json() for figure in self.figures],
            "deviations": dict(sorted(by_rule.items())),
            "overdue_visits": len(self.overdue_visits),
            "doses_due_next_month": len(self.doses_due),
            "attachment": self.attachment.as_json(),
        }


def report_figures(snapshot: dict) -> list[ReportFigure]:
    # matplotlib loads when a report is drawn, not with every worker (analytics.options).
    from analytics.cohort_figures import SNAPSHOT_FIGURES
    from analytics.forest import figure_bytes

    # PNG: mail programs do not show SVG.
    return [
        ReportFigure(name, title, figure_bytes(draw(snapshot), image_format="png"))
        for name, title, draw in SNAPSHOT_FIGURES
    ]


def month_activity(*, site_codes: tuple[str, ...], since: dt.date, until: dt.date) -> list:
    """What happened at the sites from `since` to `until`: (label, count) rows. Six queries."""

    def on(field_name: str) -> Q:
        return Q(**{f"{field_name}__range": (since, until)})

    patients = Patient.objects.filter(site__code__in=site_codes).aggregate(
        screened=Count("pk", filter=on("screened_on")),
        enrolled=Count("pk", filter=on("enrolled_on")),
    )
    infusions = Infusion.objects.filter(
        on("given_on"), cycle__patient__site__code__in=site_codes
    ).aggregate(
        ivig=Count("pk", filter=Q(route="ivig")),
        scig=Count("pk", filter=Q(route="scig")),
    )
    transfers = EmbryoTransfer.objects.filter(
        on("transferred_on"), cycle__patient__site__code__in=site_codes
    ).count()
    pregnancies = Pregnancy.objects.filter(
        on("confirmed_on"), patient__site__code__in=site_codes
    ).count()
    ended = dict(
        PregnancyOutcome.objects.filter(
            on("ended_on"), pregnancy__patient__site__code__in=site_codes
        )
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    events = AdverseEvent.objects.filter(
        on("onset_on"), patient__site__code__in=site_codes
    ).aggregate(any=Count("pk"), serious=Count("pk", filter=Q(serious=True)))
    kinds = dict(PregnancyOutcome.Kind.choices)
    return [
        ("Patients screened", patients["screened"]),
        ("Patients enrolled", patients["enrolled"]),
        ("IVIg infusions", infusions["ivig"]),
        ("SCIg infusions", infusions["scig"]),
        ("Embryo transfers", transfers),
        ("Pregnancies confirmed", pregnancies),
        *((f"Pregnancies ended: {kinds[kind].lower()}", n) for kind, n in sorted(ended.items())),
        ("Adverse events", events["any"]),
        ("Serious adverse events", events["serious"]),
    ]


def overdue_visits(
    *, user, site_codes: tuple[str, ...], today: dt.date, identified: bool
) -> list[outcome_selectors.WorkItem]:
    """Follow-up visits still due whose window closed before `today`, at the sites. One query;
    names and MRNs are read only when they will be shown."""
    visits = access.scope(FollowUpVisit.objects.all(), user, "pregnancy__patient__site")
    visits = (
        visits.filter(
            pregnancy__patient__site__code__in=site_codes,
            status=FollowUpVisit.Status.DUE,
            due_until__lt=today,
        )
        .exclude(pregnancy__patient__status__in=outcome_selectors.INACTIVE_STATUSES)
        .order_by("due_until", "pregnancy__patient__study_id")
    )
    patient = "pregnancy__patient"
    columns = [f"{patient}__study_id", f"{patient}__site__code"]
    if identified:
        columns += [f"{patient}__family_name", f"{patient}__given_name", f"{patient}__mrn"]
    kinds = dict(FollowUpVisit.Kind.choices)
    return [
        outcome_selectors.WorkItem(
            study_id=row[f"{patient}__study_id"],
            site_code=row[f"{patient}__site__code"],
            what=f"{kinds[row['kind']]} visit, {(today - row['due_until']).days} days overdue",
            due_from=row["due_from"],
            due_until=row["due_until"],
            window_text=f"{row['due_from']:%Y-%m-%d} to {row['due_until']:%Y-%m-%d}",
            pregnancy_id=row["pregnancy_id"],
            name=(
                f"{row[f'{patient}__family_name']}, {row[f'{patient}__given_name']}"
                if identified
                else None
            ),
            mrn=row[f"{patient}__mrn"] if identified else None,
        )
        for row in visits.values("due_from", "due_until", "kind", "pregnancy_id", *columns)
    ]


def doses_due(
    *, user, site_codes: tuple[str, ...], month: dt.date
) -> list[outcome_selectors.WorkItem]:
    """Planned doses whose window is open on some day of `month` and not given yet: the
    clinic's work list (outcomes.selectors.worklist) for that month, at the sites."""
    days = (month_end(month) - month).days
    items = outcome_selectors.worklist(user=user, today=month, days=days).doses
    return [item for item in items if item.site_code in site_codes]


def report_attachment(
    *, user, site_codes: tuple[str, ...], recorded_as_user: bool
) -> ReportAttachment:
    """The de-identified export of the sites, authorised as `user` and recorded as an export
    (to the subscriber; or, for a dry run, to whoever runs the command)."""
    try:
        filters = export_authorise(
            user=user,
            profile=ExportProfile.DEIDENTIFIED,
            filters=ExportFilters(site_codes=site_codes),
        )
    except PermissionDenied as refused:
        raise NotSendable(f"{user} may not get the export: {refused}") from None
    record = export_record_start(
        user=user if recorded_as_user else None,
        profile=ExportProfile.DEIDENTIFIED,
        filters=filters,
        source=ExportRecord.Source.COMMAND,
    )
    data, size = bytearray(), 0
    chunks = export_chunks(record=record)
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > settings.REPORT_ATTACHMENT_MAX_BYTES:
                # Stopped here: the export record stays without row counts, as any export cut
                # short does.
                break
            data += chunk
    finally:
        chunks.close()
    too_large = size > settings.REPORT_ATTACHMENT_MAX_BYTES
    return ReportAttachment(
        export_file_name(record), None if too_large else bytes(data), size, record
    )


def report_build(
    *, subscription: ReportSubscription, period: dt.date, today: dt.date, store: bool
) -> MonthlyReport:
    """The subscriber's report of `period` as of `today`. With `store`, the cohort snapshot is
    kept (for the send's record); a dry run keeps nothing but the export's record."""
    scope = subscription_scope(subscription=subscription)
    user = subscription.user
    attachment = report_attachment(user=user, site_codes=scope.site_codes, recorded_as_user=store)
    snapshot = cohort_snapshot_compute(filters=CohortFilters(sites=scope.site_codes))
    if store:
        snapshot.save()
    payload = snapshot.payload
    until = month_end(period)
    notes = list(payload.get("notes", []))
    if attachment.data is None:
        notes.append(
            f"The de-identified export ({attachment.size // (1024 * 1024)} MB and more) is too "
            f"large to attach: download it from {settings.REGISTRY_URL}{reverse('cohort_export')}"
        )
    return MonthlyReport(
        period=period,
        today=today,
        username=user.get_username(),
        recipient=user.email,
        scope=scope,
        snapshot=snapshot,
        month=month_activity(site_codes=scope.site_codes, since=period, until=until),
        headlines=[rate_row(label, payload[key]) for key, label in HEADLINES],
        figures=report_figures(payload),
        deviations=outcome_selectors.site_deviations(
            site_codes=list(scope.site_codes), since=period, until=until, today=today
        ),
        overdue_visits=overdue_visits(
            user=user, site_codes=scope.site_codes, today=today, identified=scope.identified
        ),
        doses_due=doses_due(user=user, site_codes=scope.site_codes, month=month_after(period)),
        attachment=attachment,
        notes=notes,
    )


# The email ----------------------------------------------------------------------------------


def report_subject(report: MonthlyReport) -> str:
    return (
        f"{settings.SITE_NAME}: monthly report, {report.period:%B %Y} "
        f"({', '.join(report.scope.site_codes)})"
    )


def report_message(*, report: MonthlyReport) -> EmailMultiAlternatives:
    """Plain text and HTML; the figures are inline images the HTML names by Content-ID."""
    by_rule = Counter(str(item.deviation.rule) for item in report.deviations)
    who = _identifiers(report) if report.scope.identified else {}
    context = {
        "report": report,
        "site_name": settings.SITE_NAME,
        "sites": ", ".join(report.scope.site_codes),
        "identified": report.scope.identified,
        "cohort": report.snapshot.payload["cohort"],
        "computed_at": timezone.localtime(report.snapshot.computed_at),
        "deviation_counts": [
            (outcome_selectors.RULE_NAMES[rule], by_rule[rule])
            for rule in outcome_selectors.RULE_NAMES
            if by_rule[rule]
        ],
        "deviation_rows": [
            {"item": item, "who": who.get(item.patient_id, "")} for item in report.deviations
        ],
        "registry_url": settings.REGISTRY_URL,
        "subscription_url": settings.REGISTRY_URL
        + reverse("admin:analytics_reportsubscription_changelist"),
    }
    message = EmailMultiAlternatives(
        subject=report_subject(report),
        body=render_to_string("analytics/email/monthly_report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[report.recipient],
    )
    message.attach_alternative(
        render_to_string("analytics/email/monthly_report.html", context), "text/html"
    )
    for figure in report.figures:
        image = MIMEImage(figure.png, "png")
        image.add_header("Content-ID", f"<{figure.cid}>")
        image.add_header("Content-Disposition", "inline", filename=f"{figure.name}.png")
        message.attach(image)
    if report.attachment.data is not None:
        message.attach(report.attachment.file_name, report.attachment.data, "application/zip")
    return message


def _identifiers(report: MonthlyReport) -> dict[int, str]:
    """Name and MRN of the patients the deviation list names, for an identified report: one
    query, and only for a subscriber the scope allows them to."""
    ids = {item.patient_id for item in report.deviations}
    return {
        pk: f"{family}, {given} (MRN {mrn})"
        for pk, family, given, mrn in Patient.objects.filter(pk__in=ids).values_list(
            "pk", "family_name", "given_name", "mrn"
        )
    }


# Sending --------------------------------------------------------------------------------------


def _deliver(
    *, row: ReportSend, subscription: ReportSubscription | None, today: dt.date
) -> ReportSend:
    def build():
        if subscription is None:
            raise NotSendable("the subscription was removed")
        report = report_build(subscription=subscription, period=row.period, today=today, store=True)
        content = report.content()
        return report_message(report=report), {
            "level": content["level"],
            "sites": content["sites"],
            "snapshot": report.snapshot,
            "export": report.attachment.record,
            "content": content,
        }

    return send_once(row=row, build=build)


def report_send_scheduled(
    *, subscription: ReportSubscription, period: dt.date, today: dt.date | None = None
) -> ReportSend | None:
    """The subscriber's report of `period`, unless it was sent or another job is sending it
    (None then). Raises what stopped it, after recording it on the send."""
    rows = ReportSend.objects.filter(
        subscription=subscription, period=period, resend_of__isnull=True
    )
    row = send_claim(
        rows,
        create=lambda **fields: ReportSend.objects.create(
            subscription=subscription,
            username=subscription.user.get_username(),
            period=period,
            **fields,
        ),
    )
    if row is None:
        return None
    return _deliver(row=row, subscription=subscription, today=today or timezone.localdate())


def report_send_queued(*, send_id: int, today: dt.date | None = None) -> ReportSend | None:
    """A re-send someone asked for (or a failed send taken again); None if it is taken."""
    row = send_claim(ReportSend.objects.filter(pk=send_id))
    if row is None:
        return None
    subscription = (
        ReportSubscription.objects.select_related("user").filter(pk=row.subscription_id).first()
    )
    return _deliver(row=row, subscription=subscription, today=today or timezone.localdate())


@dataclass
class MonthlyRun:
    period: dt.date
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "period": f"{self.period:%Y-%m}",
            "sent": self.sent,
            "already": self.already,
            "failed": self.failed,
        }


def active_subscriptions():
    return (
        ReportSubscription.objects.filter(active=True, user__is_active=True)
        .select_related("user")
        .prefetch_related("sites")
        .order_by("user__username")
    )


def monthly_report_send(*, period: dt.date, today: dt.date | None = None) -> MonthlyRun:
    """The report of `period` to every active subscriber who has not had it.

    One subscriber's failure does not hold back the others. If any failure may pass (the SMTP
    server, the database), the first such error is raised once everyone has been tried, so
    the task is retried: the subscribers who got the report are skipped then, the failed
    ones taken again.
    """
    run = MonthlyRun(period)
    worth_retrying: BaseException | None = None
    for subscription in active_subscriptions():
        name = subscription.user.get_username()
        try:
            row = report_send_scheduled(subscription=subscription, period=period, today=today)
        except RETRYABLE as exc:
            run.failed[name] = f"{type(exc).__name__}: {exc}"
            worth_retrying = worth_retrying or exc
            continue
        except NotSendable as exc:
            run.failed[name] = str(exc)
            continue
        except Exception as exc:
            logger.exception("the monthly report of %s to %s failed", f"{period:%Y-%m}", name)
            run.failed[name] = f"{type(exc).__name__}: {exc}"
            continue
        (run.sent if row is not None else run.already).append(name)
    if worth_retrying is not None:
        raise worth_retrying
    return run


def monthly_report_preview(
    *, period: dt.date, out_dir: Path, today: dt.date | None = None
) -> tuple[list[Path], dict[str, str]]:
    """The emails the report of `period` would send, written as .eml files to `out_dir`; no
    send is claimed or recorded. Returns the files and, per subscriber skipped, why."""
    today = today or timezone.localdate()
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], {}
    for subscription in active_subscriptions():
        name = subscription.user.get_username()
        try:
            report = report_build(
                subscription=subscription, period=period, today=today, store=False
            )
        except NotSendable as exc:
            skipped[name] = str(exc)
            continue
        path = out_dir / f"{period:%Y-%m}-{re.sub(r'[^A-Za-z0-9.@+_-]', '_', name)}.eml"
        path.write_bytes(report_message(report=report).message().as_bytes())
        written.append(path)
    return written, skipped


def report_resend_request(*, send: ReportSend, user) -> ReportSend:
    """A new send of the same subscriber and period, queued, recorded as a re-send asked for
    by `user`. A send left in "sending" that is re-sent is marked as looked into by them."""
    if send.subscription_id is None:
        raise ValueError("the subscription of this send was removed")
    if send.status == SendStatus.SENDING and send.checked_at is None:
        send.checked_by, send.checked_at = user, timezone.now()
        send.save(update_fields=["checked_by", "checked_at"])
    return ReportSend.objects.create(
        subscription_id=send.subscription_id,
        username=send.username,
        period=send.period,
        status=SendStatus.QUEUED,
        resend_of=send.resend_of or send,
        requested_by=user,
    )
