"""Report subscriptions, the record of every report sent and every serious event alert.

Registered from analytics/admin.py. No role has these models' permissions (registry.roles), so
only administrators see them. Sends and alerts are read only: what a person may do is re-send
one (recorded as theirs) or mark one left in "sending" as looked into.
"""

from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from analytics.alerts import serious_event_alert_resend_request
from analytics.models import ReportSend, ReportSubscription, SendStatus, SeriousEventAlert
from analytics.reports import report_resend_request, subscription_validate
from analytics.tasks import report_resend, serious_event_alert


def attention_q() -> Q:
    """Sends a person should look at: failed, or "sending" for longer than an attempt takes
    (the worker stopped after claiming: the mail may or may not have left)."""
    stuck_since = timezone.now() - settings.SEND_STUCK_AFTER
    return Q(checked_at__isnull=True) & (
        Q(status=SendStatus.FAILED) | Q(status=SendStatus.SENDING, claimed_at__lt=stuck_since)
    )


class AttentionFilter(admin.SimpleListFilter):
    title = "needs a person"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Yes: failed, or stuck in sending")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(attention_q())
        return queryset


class ClaimedSendAdmin(admin.ModelAdmin):
    list_filter = [AttentionFilter, "status"]
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="needs a person")
    def attention(self, row):
        return row.needs_attention(stuck_after=settings.SEND_STUCK_AFTER)

    @admin.display(description="error")
    def short_error(self, row):
        return row.error[:120]

    def changelist_view(self, request, extra_context=None):
        waiting = self.get_queryset(request).filter(attention_q()).count()
        if waiting:
            messages.warning(
                request,
                f"{waiting} need{'s' if waiting == 1 else ''} a person: failed, or left in "
                "'sending' by a worker that stopped (the email may have left). Check the mail "
                "server's log, then re-send or mark as looked into.",
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Mark as looked into (no re-send)")
    def mark_checked(self, request, queryset):
        count = queryset.filter(attention_q()).update(
            checked_by=request.user, checked_at=timezone.now()
        )
        messages.success(request, f"{count} marked as looked into by you.")


class ReportSubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["user", "sites", "level", "active"]

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None and cleaned.get("active"):
            subscription_validate(
                user=user,
                site_codes=[site.code for site in cleaned.get("sites") or []],
                level=cleaned.get("level", ""),
            )
        return cleaned


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    form = ReportSubscriptionForm
    list_display = ["user", "email", "site_codes", "level", "active", "created_at"]
    list_filter = ["level", "active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["sites"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("sites")

    @admin.display(description="email", ordering="user__email")
    def email(self, subscription):
        return subscription.user.email or "(none: add one)"

    @admin.display(description="sites")
    def site_codes(self, subscription):
        return ", ".join(site.code for site in subscription.sites.all()) or "all theirs"


@admin.register(ReportSend)
class ReportSendAdmin(ClaimedSendAdmin):
    list_display = [
        "month",
        "username",
        "kind",
        "status",
        "attention",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = [AttentionFilter, "status", "period", "level"]
    list_select_related = ["requested_by"]
    search_fields = ["username"]
    date_hierarchy = "period"
    actions = ["resend", "mark_checked"]
    fields = [
        ("period", "username", "level", "sites"),
        ("status", "attempts", "claimed_at", "sent_at"),
        ("resend_of", "requested_by"),
        ("checked_by", "checked_at"),
        "recipients",
        "subject",
        "error",
        "shown",
        "figures",
        "export",
        "snapshot",
    ]
    readonly_fields = [
        name for row in fields for name in (row if isinstance(row, tuple) else [row])
    ]

    @admin.display(description="period", ordering="period")
    def month(self, send):
        return f"{send.period:%Y-%m}"

    @admin.display(description="kind")
    def kind(self, send):
        if send.resend_of_id is None:
            return "scheduled"
        return f"re-send by {send.requested_by}" if send.requested_by else "re-send"

    @admin.display(description="what it showed")
    def shown(self, send):
        content = send.content or {}
        rows = [
            *((label, count) for label, count in content.get("month", {}).items()),
            *((label, fraction) for label, fraction in content.get("headlines", {}).items()),
            ("Deviations, by rule", content.get("deviations") or "none"),
            ("Overdue visits", content.get("overdue_visits", "-")),
            ("Doses due next month", content.get("doses_due_next_month", "-")),
            ("Attachment", content.get("attachment", {}).get("file_name", "-")),
        ]
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="figures (drawn again from the stored snapshot)")
    def figures(self, send):
        if send.snapshot is None:
            return "-"
        # matplotlib loads when a figure is drawn, not with the admin (analytics.options).
        from analytics.cohort_figures import SNAPSHOT_FIGURES
        from analytics.forest import figure_data_uri

        return format_html_join(
            "",
            '<p>{}<br><img src="{}" alt="{}" style="max-width: 640px"></p>',
            (
                (title, figure_data_uri(draw(send.snapshot.payload)), title)
                for _, title, draw in SNAPSHOT_FIGURES
            ),
        )

    @admin.action(description="Re-send to the same subscriber (recorded as asked for by you)")
    def resend(self, request, queryset):
        queued = []
        for send in queryset.select_related("subscription"):
            if send.subscription_id is None:
                messages.error(request, f"{send}: its subscription was removed.")
                continue
            row = report_resend_request(send=send, user=request.user)
            # After commit: the task must find the row the admin's transaction writes.
            transaction.on_commit(partial(report_resend.delay, row.pk), robust=True)
            queued.append(str(send))
        if queued:
            messages.success(request, f"Re-send queued: {'; '.join(queued)}.")


@admin.register(SeriousEventAlert)
class SeriousEventAlertAdmin(ClaimedSendAdmin):
    list_display = [
        "created_at",
        "study_id",
        "site_code",
        "status",
        "attention",
        "attempts",
        "sent_at",
        "recipient_list",
        "short_error",
    ]
    list_filter = [AttentionFilter, "status", "site_code"]
    search_fields = ["study_id"]
    date_hierarchy = "created_at"
    actions = ["send_again", "mark_checked"]
    fields = [
        ("study_id", "site_code", "adverse_event"),
        ("status", "attempts", "claimed_at", "sent_at"),
        ("requested_by", "checked_by", "checked_at"),
        "recipients",
        "subject",
        "error",
    ]
    readonly_fields = [
        name for row in fields for name in (row if isinstance(row, tuple) else [row])
    ]

    @admin.display(description="recipients")
    def recipient_list(self, alert):
        return ", ".join(alert.recipients)

    @admin.action(description="Send again (failed, or stuck and looked into)")
    def send_again(self, request, queryset):
        count = 0
        stuck_since = timezone.now() - settings.SEND_STUCK_AFTER
        # Never one still being sent: only failed ones, and ones a worker left in "sending".
        again = Q(status=SendStatus.FAILED) | Q(
            Q(claimed_at__lt=stuck_since) | Q(checked_at__isnull=False),
            status=SendStatus.SENDING,
        )
        for alert in queryset.filter(again):
            if alert.adverse_event_id and serious_event_alert_resend_request(
                alert=alert, user=request.user
            ):
                transaction.on_commit(
                    partial(serious_event_alert.delay, alert.adverse_event_id), robust=True
                )
                count += 1
        messages.success(request, f"{count} alert{'s' if count != 1 else ''} queued again.")
