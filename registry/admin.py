from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from analytics.tasks import serious_event_alert_after_commit
from outcomes import selectors as outcome_selectors
from outcomes.admin import AdverseEventInline, EmbryoTransferInline, plan_with_message
from outcomes.models import AdverseEvent
from registry import access, history
from registry.admin_scoping import ScopedInline, ScopedSiteFilter, SiteScopedAdmin
from registry.age import age_years
from registry.forms import ConsentFormSet, InfusionForm, PatientForm
from registry.models import (
    IDENTIFIER_FIELDS,
    Consent,
    ImmuneTest,
    Infusion,
    MaintenancePhase,
    Patient,
    PlannedDose,
    Product,
    Protocol,
    Site,
    SiteMembership,
    TreatmentCycle,
)
from registry.selectors import patient_eligibility
from registry.services import patient_assign_study_id, patient_sign_eligibility_override

admin.site.site_header = "IVIg registry"
admin.site.site_title = "IVIg registry"
admin.site.index_title = "Registry"


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return access.sites_for(request.user)


class MaintenancePhaseInline(admin.TabularInline):
    model = MaintenancePhase
    extra = 0


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "dose_mg_per_kg_min", "dose_mg_per_kg_max", "stop_ga_days"]
    search_fields = ["code", "name"]
    inlines = [MaintenancePhaseInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "source"]}),
        (
            "Eligibility",
            {
                "fields": [
                    ("min_age_years", "max_age_years"),
                    ("miscarriages_more_than", "failed_transfers_more_than"),
                    "requires_conventional_failure",
                ]
            },
        ),
        (
            "Induction",
            {
                "fields": [
                    "induction_anchor",
                    ("induction_days_before_min", "induction_days_before_max"),
                    ("conception_lead_days", "scig_lead_days"),
                    ("dose_mg_per_kg_min", "dose_mg_per_kg_max"),
                ]
            },
        ),
        (
            "Maintenance and follow-up",
            {
                "fields": [
                    ("ivig_interval_days", "scig_interval_days"),
                    ("maintenance_until_ga_days", "stop_ga_days"),
                    "scig_conversion_factor",
                    ("visit_interval_days", "postpartum_visit_days"),
                ]
            },
        ),
    ]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "route", "vial_step_g"]
    list_filter = ["route"]


class ConsentInline(admin.TabularInline):
    model = Consent
    formset = ConsentFormSet
    extra = 0


class ImmuneTestInline(admin.TabularInline):
    model = ImmuneTest
    extra = 0


class TreatmentCycleInline(ScopedInline, admin.TabularInline):
    model = TreatmentCycle
    extra = 0
    show_change_link = True
    fields = ["number", "protocol", "route", "plan", "planned_event_on", "weight_kg", "weighed_on"]


@admin.register(Patient)
class PatientAdmin(SiteScopedAdmin):
    site_path = "site"
    form = PatientForm
    list_filter = [("site", ScopedSiteFilter), "status", "indication"]
    list_select_related = ["site"]
    list_per_page = 50
    readonly_fields = [
        "study_id",
        "age_at_screening",
        "audit_trail",
        "eligibility",
        "eligibility_override",
        "protocol_deviations",
    ]
    # Replaced per request by get_search_fields; declared so autocomplete fields may use it.
    search_fields = ["study_id"]
    inlines = [ConsentInline, ImmuneTestInline, TreatmentCycleInline, AdverseEventInline]

    CLINICAL_FIELDSETS = [
        (
            "Indication and history",
            {
                "fields": [
                    "indication",
                    ("unexplained_miscarriages", "failed_good_blastocyst_transfers"),
                    ("prior_live_births", "prior_stillbirths", "prior_late_losses"),
                    "conventional_treatment_failed",
                    ("ig_contraindication", "other_immunomodulator"),
                    "comorbidities",
                ]
            },
        ),
        (
            "Status",
            {
                "fields": [
                    ("status", "status_changed_on"),
                    ("screened_on", "enrolled_on"),
                    "status_reason",
                    "eligibility",
                    "eligibility_override_reason",
                    "eligibility_override",
                ]
            },
        ),
        ("Protocol deviations", {"fields": ["protocol_deviations"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        study = (None, {"fields": ["study_id", "site", "age_at_screening", "audit_trail"]})
        if not access.can_view_identifiers(request.user):
            return [study, *self.CLINICAL_FIELDSETS]
        identifiers = (
            "Identifiers",
            {
                "fields": [
                    ("given_name", "family_name"),
                    ("mrn", "date_of_birth"),
                    ("email", "phone"),
                    "address",
                ]
            },
        )
        return [study, identifiers, *self.CLINICAL_FIELDSETS]

    def get_exclude(self, request, obj=None):
        if not access.can_view_identifiers(request.user):
            return list(IDENTIFIER_FIELDS)
        return super().get_exclude(request, obj)

    def get_list_display(self, request):
        columns = ["study_id", "site_code", "status", "indication", "screened_on"]
        if access.can_view_identifiers(request.user):
            columns[1:1] = ["family_name", "given_name", "mrn"]
        return columns

    def get_search_fields(self, request):
        if access.can_view_identifiers(request.user):
            return ["study_id", "mrn", "family_name", "given_name"]
        return ["study_id"]

    @admin.display(description="site", ordering="site__code")
    def site_code(self, obj):
        return obj.site.code

    @admin.display(description="age at screening")
    def age_at_screening(self, obj):
        if obj.pk is None:
            return "-"
        return f"{age_years(obj.date_of_birth, obj.screened_on)} years"

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:registry_patient_audit", args=[obj.pk])
        return format_html('<a href="{}">Every change to this patient\'s records</a>', url)

    @admin.display(description="eligibility")
    def eligibility(self, obj):
        if obj.pk is None:
            return "Judged when she is saved, under the protocol of her latest cycle."
        result = patient_eligibility(patient=obj, today=timezone.localdate())
        if result.eligible:
            return f"Eligible under {result.protocol_name}."
        reasons = format_html_join("", "<li>{}</li>", ((reason,) for reason in result.reasons))
        return format_html(
            "Not eligible under {}:<ul>{}</ul>", result.protocol_name, reasons or "-"
        )

    @admin.display(description="override recorded")
    def eligibility_override(self, obj):
        if obj.eligibility_overridden_at is None:
            return "-"
        who = obj.eligibility_overridden_by.get_username() if obj.eligibility_overridden_by else ""
        when = timezone.localtime(obj.eligibility_overridden_at)
        return f"by {who or 'a deleted user'} on {when:%Y-%m-%d %H:%M}"

    @admin.display(description="deviations of all her cycles")
    def protocol_deviations(self, obj):
        if obj.pk is None:
            return "-"
        found = outcome_selectors.patient_deviations(patient=obj, today=timezone.localdate())
        rows = [
            (item.cycle_number, outcome_selectors.RULE_NAMES[item.deviation.rule], item.deviation)
            for item in found
        ]
        return render_to_string("admin/registry/deviations.html", {"rows": rows, "by_cycle": True})

    def save_model(self, request, obj, form, change):
        if "eligibility_override_reason" in form.changed_data:
            # ConsentFormSet has accepted the reason: she is being enrolled and is not eligible.
            patient_sign_eligibility_override(patient=obj, user=request.user, at=timezone.now())
        if not change:
            patient_assign_study_id(obj)
        else:
            super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        # Serious adverse events added or changed on this page email the site's investigators
        # once the save commits (once per event: analytics/alerts.py), as AdverseEventAdmin's do.
        if formset.model is AdverseEvent:
            for event in [*formset.new_objects, *(obj for obj, _ in formset.changed_objects)]:
                serious_event_alert_after_commit(adverse_event=event)

    def get_urls(self):
        audit = path(
            "<int:pk>/audit/",
            self.admin_site.admin_view(self.audit_view),
            name="registry_patient_audit",
        )
        return [audit, *super().get_urls()]

    def audit_view(self, request, pk):
        patient = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, patient):
            return self.admin_site.login(request)
        events = history.patient_events(
            patient, show_identifiers=access.can_view_identifiers(request.user)
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": patient,
            "title": f"Audit trail of {patient.study_id}",
            "events": events,
        }
        return TemplateResponse(request, "admin/registry/patient/audit.html", context)


class InfusionInline(ScopedInline, admin.TabularInline):
    model = Infusion
    form = InfusionForm
    extra = 0
    fields = [
        "given_on",
        "route",
        "product",
        "lot_number",
        "dose_g",
        "weight_kg",
        "mg_per_kg",
        "planned_dose",
    ]
    readonly_fields = ["mg_per_kg"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # An infusion is linked to a planned dose of its own cycle, never of another one.
        if "planned_dose" in formset.form.base_fields:
            formset.form.base_fields["planned_dose"].queryset = (
                PlannedDose.objects.filter(cycle=obj) if obj else PlannedDose.objects.none()
            )
        return formset

    @admin.display(description="mg/kg")
    def mg_per_kg(self, obj):
        return obj.dose_mg_per_kg if obj.pk else "-"


# Saving any of these on the cycle page re-plans it: the transfer or conception date moved,
# the route changed, or the doses given changed ("monthly" counts from the last infusion).
REPLAN_FIELDS = {"planned_event_on", "route", "plan", "protocol", "weight_kg"}


@admin.register(TreatmentCycle)
class TreatmentCycleAdmin(SiteScopedAdmin):
    list_display = ["__str__", "site_code", "route", "plan", "planned_event_on", "weight_kg"]
    list_filter = [("patient__site", ScopedSiteFilter), "route", "plan", "protocol"]
    list_select_related = ["patient__site", "protocol"]
    search_fields = ["patient__study_id"]
    inlines = [InfusionInline, EmbryoTransferInline]
    actions = ["plan_schedule"]
    readonly_fields = ["plan_and_doses", "deviations"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("patient", "number"),
                    "protocol",
                    ("route", "plan"),
                    "planned_event_on",
                    ("weight_kg", "weighed_on"),
                ]
            },
        ),
        ("Plan beside the doses given", {"fields": ["plan_and_doses"]}),
        ("Protocol deviations", {"fields": ["deviations"]}),
    ]

    @admin.display(description="site", ordering="patient__site__code")
    def site_code(self, obj):
        return obj.patient.site.code

    def report(self, obj):
        # Both read-only fields show the same report: computed once per page.
        if "_cycle_report" not in obj.__dict__:
            obj.__dict__["_cycle_report"] = outcome_selectors.cycle_report(
                cycle=obj, today=timezone.localdate()
            )
        return obj.__dict__["_cycle_report"]

    @admin.display(description="plan and doses given")
    def plan_and_doses(self, obj):
        if obj.pk is None:
            return "Planned when the cycle is saved."
        return render_to_string(
            "admin/registry/treatmentcycle/plan_and_doses.html", {"report": self.report(obj)}
        )

    @admin.display(description="deviations")
    def deviations(self, obj):
        if obj.pk is None:
            return "-"
        rows = [
            (None, outcome_selectors.RULE_NAMES[deviation.rule], deviation)
            for deviation in self.report(obj).deviations
        ]
        return render_to_string("admin/registry/deviations.html", {"rows": rows})

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        doses_changed = any(
            formset.has_changed() for formset in formsets if formset.model is Infusion
        )
        if not change or doses_changed or REPLAN_FIELDS & set(form.changed_data):
            plan_with_message(request, form.instance)

    @admin.action(description="Plan schedule", permissions=["change"])
    def plan_schedule(self, request, queryset):
        for cycle in queryset.select_related("patient"):
            plan_with_message(request, cycle)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_plan": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        views = [
            path(
                "worklist/",
                self.admin_site.admin_view(self.worklist_view),
                name="registry_treatmentcycle_worklist",
            ),
            path(
                "<int:pk>/plan/",
                self.admin_site.admin_view(self.plan_view),
                name="registry_treatmentcycle_plan",
            ),
        ]
        return [*views, *super().get_urls()]

    def plan_view(self, request, pk):
        """Plan schedule, from the cycle page: a confirmation page, and the planning on POST."""
        cycle = get_object_or_404(self.get_queryset(request).select_related("patient"), pk=pk)
        if not self.has_change_permission(request, cycle):
            raise PermissionDenied
        if request.method == "POST":
            plan_with_message(request, cycle)
            return redirect("admin:registry_treatmentcycle_change", cycle.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": cycle,
            "title": f"Plan the schedule of {cycle}",
            "report": self.report(cycle),
        }
        return TemplateResponse(request, "admin/registry/treatmentcycle/plan_confirm.html", context)

    def worklist_view(self, request):
        """Doses and visits due in the next 14 days at the user's sites, for the nurses."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        work = outcome_selectors.worklist(user=request.user, today=timezone.localdate())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Work list: {work.today:%Y-%m-%d} to {work.until:%Y-%m-%d}",
            "work": work,
            "show_identifiers": access.can_view_identifiers(request.user),
        }
        return TemplateResponse(request, "admin/registry/treatmentcycle/worklist.html", context)


@admin.register(Infusion)
class InfusionAdmin(SiteScopedAdmin):
    site_path = "cycle__patient__site"
    form = InfusionForm
    list_display = ["given_on", "study_id", "route", "dose_g", "weight_kg", "mg_per_kg"]
    list_filter = [("cycle__patient__site", ScopedSiteFilter), "route", "product"]
    list_select_related = ["cycle__patient"]
    search_fields = ["cycle__patient__study_id", "lot_number"]
    date_hierarchy = "given_on"

    @admin.display(description="study ID", ordering="cycle__patient__study_id")
    def study_id(self, obj):
        return obj.cycle.patient.study_id

    @admin.display(description="mg/kg")
    def mg_per_kg(self, obj):
        return obj.dose_mg_per_kg

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "planned_dose" in form.base_fields:
            form.base_fields["planned_dose"].queryset = PlannedDose.objects.filter(
                cycle_id=obj.cycle_id
            )
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # "Monthly" counts from the last infusion: the doses to come follow this one.
        plan_with_message(request, obj.cycle)


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0


admin.site.unregister(User)


@admin.register(User)
class RegistryUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SiteMembershipInline]
