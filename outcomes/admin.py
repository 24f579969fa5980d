import pghistory
from django.contrib import admin, messages
from django.utils import timezone

from analytics.tasks import serious_event_alert_after_commit
from outcomes import gestation
from outcomes.forms import OutcomeFormSet, PregnancyForm
from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from outcomes.planning import cycle_plan_schedule, pregnancy_plan_visits
from registry.admin_scoping import ScopedInline, ScopedSiteFilter, SiteScopedAdmin
from registry.dosing import DoseRefused


def plan_with_message(request, cycle) -> None:
    """Re-plan a cycle and say what happened. A plan that cannot be dosed is reported, not
    raised, so the save that asked for it still stands."""
    try:
        change = cycle_plan_schedule(cycle=cycle, today=timezone.localdate())
    except DoseRefused as refused:
        messages.warning(request, f"{cycle}: schedule not planned: {refused}.")
    else:
        messages.success(request, f"{cycle}: schedule planned ({change}).")


class EmbryoTransferInline(admin.TabularInline):
    model = EmbryoTransfer
    extra = 0
    fields = [
        "transferred_on",
        "kind",
        "embryo_day",
        "embryo_quality",
        "good_quality",
        "embryos_transferred",
        "result",
    ]


class AdverseEventInline(ScopedInline, admin.StackedInline):
    model = AdverseEvent
    extra = 0
    raw_id_fields = ["infusion", "pregnancy"]
    fields = [
        ("subject", "term", "term_other"),
        ("grade", "serious", "relatedness"),
        ("onset_on", "resolved_on"),
        ("action_taken", "resolution"),
        ("infusion", "pregnancy"),
        "description",
    ]


class FollowUpVisitInline(admin.TabularInline):
    model = FollowUpVisit
    extra = 0
    fields = ["kind", "due_from", "due_until", "status", "done_on", "ga_at_visit", "notes"]
    readonly_fields = ["ga_at_visit"]

    @admin.display(description="GA at visit")
    def ga_at_visit(self, obj):
        if obj.pk is None or obj.done_on is None:
            return "-"
        return gestation.format_ga(obj.pregnancy.ga_days_on(obj.done_on))


class PregnancyOutcomeInline(admin.StackedInline):
    model = PregnancyOutcome
    formset = OutcomeFormSet
    extra = 0
    max_num = 1
    fields = [
        ("kind", "ended_on", "ga_at_end"),
        ("delivery_mode", "preterm_labour"),
        "complications",
    ]
    readonly_fields = ["ga_at_end"]

    @admin.display(description="gestational age at end")
    def ga_at_end(self, obj):
        if obj.pk is None:
            return "-"
        return gestation.format_ga(obj.pregnancy.ga_days_on(obj.ended_on))


class InfantInline(admin.TabularInline):
    model = Infant
    extra = 0
    fields = [
        "birth_order",
        "sex",
        "birth_weight_g",
        "live_born",
        "nicu_admission",
        "anomalies",
        "development_12m",
    ]


REPLAN_FIELDS = {"cycle", "transfer", "dating", "lmp_on", "confirmed_on"}


@admin.register(Pregnancy)
class PregnancyAdmin(SiteScopedAdmin):
    form = PregnancyForm
    list_display = [
        "__str__",
        "study_id",
        "site_code",
        "conception",
        "fetuses",
        "ga_today_or_at_end",
        "outcome_kind",
    ]
    list_filter = [("patient__site", ScopedSiteFilter), "conception", "outcome__kind"]
    list_select_related = ["patient__site", "outcome"]
    search_fields = ["patient__study_id"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["cycle", "transfer"]
    readonly_fields = ["ga_today_or_at_end"]
    inlines = [FollowUpVisitInline, PregnancyOutcomeInline, InfantInline]
    fieldsets = [
        (None, {"fields": ["patient", "cycle", "transfer", "conception"]}),
        ("Dating", {"fields": ["dating", "lmp_on", "confirmed_on", "ga_today_or_at_end"]}),
        (None, {"fields": ["fetuses", "change_reason"]}),
    ]

    @admin.display(description="study ID", ordering="patient__study_id")
    def study_id(self, obj):
        return obj.patient.study_id

    @admin.display(description="site", ordering="patient__site__code")
    def site_code(self, obj):
        return obj.patient.site.code

    @admin.display(description="GA (today, or at the end)")
    def ga_today_or_at_end(self, obj):
        if obj.pk is None:
            return "-"
        outcome = getattr(obj, "outcome", None)
        on = outcome.ended_on if outcome else timezone.localdate()
        return gestation.format_ga(obj.ga_days_on(on))

    @admin.display(description="outcome", ordering="outcome__kind")
    def outcome_kind(self, obj):
        outcome = getattr(obj, "outcome", None)
        return outcome.get_kind_display() if outcome else "ongoing"

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason", "").strip()
        if reason:
            # Joins the request's audit context, so every row written below carries it.
            pghistory.context(reason=reason)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        ended = any(
            formset.has_changed() for formset in formsets if formset.model is PregnancyOutcome
        )
        # Recording a pregnancy, re-dating it or recording its end re-plans the maintenance doses
        # of its cycle and the follow-up visits.
        if not change or ended or REPLAN_FIELDS & set(form.changed_data):
            pregnancy = form.instance
            if pregnancy.cycle_id is not None:
                plan_with_message(request, pregnancy.cycle)
            visits = pregnancy_plan_visits(pregnancy=pregnancy)
            messages.success(request, f"Follow-up visits planned ({visits}).")


@admin.register(AdverseEvent)
class AdverseEventAdmin(SiteScopedAdmin):
    list_display = ["onset_on", "study_id", "subject", "term", "grade", "serious", "relatedness"]
    list_filter = [("patient__site", ScopedSiteFilter), "term", "grade", "serious", "subject"]
    list_select_related = ["patient"]
    search_fields = ["patient__study_id"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["infusion", "pregnancy"]
    date_hierarchy = "onset_on"

    @admin.display(description="study ID", ordering="patient__study_id")
    def study_id(self, obj):
        return obj.patient.study_id

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A serious event emails the site's investigators once this save commits (once per
        # event: analytics/alerts.py). The patient page's inline does the same in
        # registry/admin.py; the every-minute sweep catches writes that bypass the admin.
        serious_event_alert_after_commit(adverse_event=obj)
