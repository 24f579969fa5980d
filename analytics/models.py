"""Published evidence the registry is read beside.

The counts are checked by the database as well as by `analytics.meta`, so a study typed into the
admin cannot carry more live births than patients into the pooled estimate.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from analytics.classification import ExportProfile
from registry.audit import audited


class IvigStart(models.TextChoices):
    BEFORE_CONCEPTION = "before_conception", "Before conception or in the conception cycle"
    AFTER_PREGNANCY_CONFIRMED = "after_pregnancy_confirmed", "After pregnancy was confirmed"
    UNSPECIFIED = "unspecified", "Not specified"


class PublishedStudy(models.Model):
    """One controlled study of a published meta-analysis; events are live births."""

    study = models.CharField(max_length=100, help_text="First author, e.g. Ahmadi.")
    year = models.PositiveSmallIntegerField()
    country = models.CharField(max_length=60, blank=True)
    design = models.CharField(max_length=60, blank=True, help_text="e.g. randomized controlled.")
    events_treated = models.IntegerField("live births, treated")
    total_treated = models.IntegerField("patients, treated")
    events_control = models.IntegerField("live births, control")
    total_control = models.IntegerField("patients, control")
    nk_selection = models.BooleanField(
        "NK selection",
        help_text="The study required NK cells of at least 12% of lymphocytes for inclusion.",
    )
    ivig_start = models.CharField(
        "IVIg started", max_length=32, choices=IvigStart.choices, default=IvigStart.UNSPECIFIED
    )
    regimen = models.TextField(blank=True)

    class Meta:
        ordering = ["study", "year"]
        verbose_name = "published study"
        verbose_name_plural = "published studies"
        constraints = [
            models.UniqueConstraint(
                fields=["study", "year"],
                name="published_study_unique_study_year",
                violation_error_message="A published study with this study and year exists.",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{count}__gte": 0}),
                    name=f"published_study_{count}_not_negative",
                    violation_error_message=f"{count} must not be negative.",
                )
                for count in ("events_treated", "events_control")
            ),
            # An arm without patients has no rate to compare, so totals start at one.
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{count}__gte": 1}),
                    name=f"published_study_{count}_positive",
                    violation_error_message=f"{count} must be at least 1.",
                )
                for count in ("total_treated", "total_control")
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"events_{arm}__lte": F(f"total_{arm}")}),
                    name=f"published_study_events_{arm}_within_total",
                    violation_error_message=f"events_{arm} must not exceed total_{arm}.",
                )
                for arm in ("treated", "control")
            ),
        ]

    def __str__(self):
        return f"{self.study} ({self.year})"


@audited()
class ExportRecord(models.Model):
    """One cohort export: who, when, which profile and filters, and how many rows per file.

    Created before the first byte leaves and completed with the row counts once every row has,
    so an export cut short stays on the record without counts. Audited like clinical data, and
    never deleted (a database trigger refuses).
    """

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin page"
        API = "api", "API"
        COMMAND = "command", "Command line"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept beside the user so the record still says who if the account is ever removed.
    username = models.CharField(max_length=150)
    source = models.CharField(max_length=7, choices=Source.choices)
    profile = models.CharField(max_length=12, choices=ExportProfile.choices)
    filters = models.JSONField(default=dict)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        triggers = [pgtrigger.Protect(name="export_records_are_kept", operation=pgtrigger.Delete)]

    def __str__(self):
        return f"{self.profile} export by {self.username} at {self.started_at:%Y-%m-%d %H:%M}"


class CohortSnapshot(models.Model):
    """The cohort's metrics as computed at one moment, kept for the record and for reports.

    `payload` is what `manage.py cohort_stats --json` prints (analytics.cohort.cohort_snapshot);
    `code_version` says which code and metric definitions computed it, so a rate that moved
    between two snapshots can be traced to the data or to the method.
    """

    filters = models.JSONField(default=dict, help_text="The filters the cohort was chosen by.")
    payload = models.JSONField(help_text="Every metric, as printed by cohort_stats --json.")
    code_version = models.CharField(max_length=100)
    computed_at = models.DateTimeField(db_index=True)
    seconds = models.FloatField(help_text="How long computing it took.")

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self):
        return f"cohort snapshot of {self.computed_at:%Y-%m-%d %H:%M} UTC"

    def as_json(self) -> dict:
        return {
            **self.payload,
            "code_version": self.code_version,
            "computed_at": self.computed_at.isoformat(),
            "seconds": self.seconds,
        }


class CohortDashboard(CohortSnapshot):
    """The admin's cohort dashboard; a proxy so the admin index links to it like a model."""

    class Meta:
        proxy = True
        verbose_name = "cohort dashboard"
        verbose_name_plural = "cohort dashboard"


# --- Monthly reports and serious adverse event alerts (analytics/reports.py, alerts.py) --------


class ReportLevel(models.TextChoices):
    IDENTIFIED = "identified", "Identified work lists of the subscriber's own sites"
    DEIDENTIFIED = "deidentified", "De-identified: counts only, no row per patient"


class ReportSubscription(models.Model):
    """Who gets the monthly report, about which sites, at which level.

    What was chosen here is narrowed again at every send to what the user may see then
    (analytics.reports.subscription_scope), so a subscriber who loses a site or the right to see
    identifiers gets less from the next report on, whatever this row still says.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscription"
    )
    sites = models.ManyToManyField(
        "registry.Site",
        blank=True,
        related_name="+",
        help_text="Leave empty for every site the user works at.",
    )
    level = models.CharField(
        max_length=12, choices=ReportLevel.choices, default=ReportLevel.DEIDENTIFIED
    )
    active = models.BooleanField(
        default=True, help_text="Untick to stop the reports; past sends stay on the record."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self):
        return f"monthly report for {self.user}"


class SendStatus(models.TextChoices):
    QUEUED = "queued", "Queued (a re-send asked for)"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    PREDATES = "predates", "Not sent: recorded before alerts existed"


class ClaimedSend(models.Model):
    """One email that must leave at most once.

    The row is claimed (inserted, or taken from "queued" or "failed", as "sending") in its own
    committed transaction before anything is sent, and marked "sent" after. A row left in
    "sending" means a worker stopped between the two: the mail may or may not have left, so no
    job takes it over; the admin flags it for a person (`needs_attention`).
    """

    status = models.CharField(max_length=8, choices=SendStatus.choices)
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person who looked into a send left in 'sending'.",
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def needs_attention(self, *, stuck_after) -> bool:
        """Failed, or in "sending" for longer than any attempt takes: a person should look."""
        if self.checked_at is not None:
            return False
        if self.status == SendStatus.FAILED:
            return True
        return (
            self.status == SendStatus.SENDING
            and self.claimed_at is not None
            and self.claimed_at < timezone.now() - stuck_after
        )


class ReportSend(ClaimedSend):
    """One monthly report to one subscriber: the scheduled send of a period, or a re-send."""

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.SET_NULL, null=True, related_name="sends"
    )
    # Kept beside the subscription so the record still says who if it is ever removed.
    username = models.CharField(max_length=150)
    period = models.DateField(help_text="The first day of the month reported on.")
    level = models.CharField(max_length=12, choices=ReportLevel.choices, blank=True)
    sites = models.JSONField(default=list, blank=True)
    resend_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="resends"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who asked for this re-send.",
    )
    snapshot = models.ForeignKey(
        CohortSnapshot,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The cohort snapshot the figures were drawn from.",
    )
    export = models.ForeignKey(
        ExportRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content = models.JSONField(
        default=dict, blank=True, help_text="What the email showed: figures, counts, attachment."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period", "username", "-created_at"]
        constraints = [
            # The guard that makes the scheduled report go out once per subscriber and month,
            # however many workers run the job; deliberate re-sends are rows of their own.
            models.UniqueConstraint(
                fields=["subscription", "period"],
                condition=Q(resend_of__isnull=True),
                name="one_scheduled_report_per_subscriber_and_period",
            ),
            models.CheckConstraint(
                condition=Q(period__day=1),
                name="report_period_is_a_month",
                violation_error_message="The period is a month: its first day.",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="report_sent_has_time",
            ),
            models.CheckConstraint(
                condition=Q(resend_of__isnull=True) | Q(requested_by__isnull=False),
                name="report_resend_names_who",
                violation_error_message="A re-send records who asked for it.",
            ),
        ]

    def __str__(self):
        kind = "re-send" if self.resend_of_id else "report"
        return f"{kind} of {self.period:%Y-%m} to {self.username}"


class SeriousEventAlert(ClaimedSend):
    """The email that told a site's investigators about one serious adverse event.

    One row per event, unique, claimed before sending: the admin's save, the every-minute sweep
    and a retry all go through it, so investigators hear of each event once.
    """

    adverse_event = models.OneToOneField(
        "outcomes.AdverseEvent",
        on_delete=models.SET_NULL,
        null=True,
        related_name="serious_alert",
    )
    # Kept so the record still says which event if the event is ever deleted.
    study_id = models.CharField(max_length=16)
    site_code = models.CharField(max_length=6)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who asked for it to be sent again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="alert_sent_has_time",
            ),
        ]

    def __str__(self):
        return f"serious event alert for {self.study_id}"
