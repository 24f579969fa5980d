from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from outcomes.admin import AdverseEventInline, EmbryoTransferInline
from registry import access, history
from registry.admin_scoping import ScopedInline, ScopedSiteFilter, SiteScopedAdmin
from registry.age import age_years
from registry.forms import InfusionForm, PatientForm
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
from registry.services import patient_assign_study_id

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
    readonly_fields = ["study_id", "age_at_screening", "audit_trail"]
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
                ]
            },
        ),
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

    def save_model(self, request, obj, form, change):
        if not change:
            patient_assign_study_id(obj)
        else:
            super().save_model(request, obj, form, change)

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

    @admin.display(description="mg/kg")
    def mg_per_kg(self, obj):
        return obj.dose_mg_per_kg if obj.pk else "-"


class PlannedDoseInline(admin.TabularInline):
    model = PlannedDose
    extra = 0
    can_delete = False
    fields = ["sequence", "phase", "route", "due_from", "due_until", "dose_g"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TreatmentCycle)
class TreatmentCycleAdmin(SiteScopedAdmin):
    list_display = ["__str__", "site_code", "route", "plan", "planned_event_on", "weight_kg"]
    list_filter = [("patient__site", ScopedSiteFilter), "route", "plan", "protocol"]
    list_select_related = ["patient__site", "protocol"]
    search_fields = ["patient__study_id"]
    inlines = [PlannedDoseInline, InfusionInline, EmbryoTransferInline]

    @admin.display(description="site", ordering="patient__site__code")
    def site_code(self, obj):
        return obj.patient.site.code


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


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 0


admin.site.unregister(User)


@admin.register(User)
class RegistryUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SiteMembershipInline]
