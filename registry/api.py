"""REST endpoints for who the patient is and what she receives.

Serializers only call the rules the admin calls (consent before a dose, the model's own
constraints through `full_clean`); views scope rows by site and hand new patients to
`patient_assign_study_id`. Researchers get the same rows without identifiers.
"""

import contextlib
import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_filters import rest_framework as filters
from rest_framework import mixins, serializers, viewsets

from config.api import named_errors
from outcomes.planning import cycle_plan_schedule
from registry import access, consents, services
from registry.admin import REPLAN_FIELDS as CYCLE_REPLAN_FIELDS
from registry.api_permissions import RegistrySerializer, SiteScopedMixin
from registry.dosing import DoseRefused
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
    TreatmentCycle,
)
from registry.selectors import enrolment_override_error

# ---------------------------------------------------------------------------------------------
# Shared by every endpoint of registry and outcomes


class CheckedSerializer(RegistrySerializer):
    """Validates a write as the admin's form does: its rules, then the model's `full_clean`."""

    def get_validators(self):
        # Uniqueness is left to full_clean, whose messages name the fields as the admin's do.
        return []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs = self.apply_rules(attrs)
        self.full_clean(attrs)
        return attrs

    def apply_rules(self, attrs: dict) -> dict:
        """Call the clinical rule functions that span rows; may add derived values."""
        return attrs

    def value(self, attrs: dict, name: str):
        """What the write leaves in `name`: the new value, or the row's current one."""
        if name in attrs:
            return attrs[name]
        return getattr(self.instance, name, None)

    def full_clean(self, attrs: dict) -> None:
        # Field validators, check and unique constraints, exactly as a ModelForm runs them:
        # fields the client cannot write (study_id, created_at) are left out, as a form's are.
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        model_fields = {field.name for field in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in model_fields:
                setattr(instance, name, value)
        writable = {name for name, field in self.fields.items() if not field.read_only}
        try:
            instance.full_clean(exclude=model_fields - writable)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(named_errors(exc)) from None


class SavepointWritesMixin:
    """Each write in its own savepoint, its deferred rules checked before the savepoint ends.

    A rule the database checks only at commit (consent still covering every dose) would
    otherwise fail after the response was decided, as a server error; checked here, its
    refusal rolls back to the savepoint and reaches the client as a 400.
    """

    def perform_create(self, serializer):
        with transaction.atomic():
            self.create_row(serializer)
            check_deferred_rules()

    def perform_update(self, serializer):
        with transaction.atomic():
            self.update_row(serializer)
            check_deferred_rules()

    def perform_destroy(self, instance):
        with transaction.atomic():
            self.destroy_row(instance)
            check_deferred_rules()

    def create_row(self, serializer):
        serializer.save()

    def update_row(self, serializer):
        serializer.save()

    def destroy_row(self, instance):
        instance.delete()


def check_deferred_rules() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def cycle_replan(cycle: TreatmentCycle) -> None:
    """Re-plan the cycle's doses after a write the admin re-plans after, as it does.

    A plan no whole vial can dose is not an error of the write: the write stands and the stored
    plan stays as it was (the admin shows the reason as a warning; the cycle page and
    /planned-doses/ show the plan).
    """
    with contextlib.suppress(DoseRefused):
        cycle_plan_schedule(cycle=cycle, today=timezone.localdate())


def changed_fields(serializer) -> set[str]:
    """The fields an update is about to change (what the admin calls form.changed_data)."""
    return {
        name
        for name, value in serializer.validated_data.items()
        if getattr(serializer.instance, name, None) != value
    }


class ClinicalViewSet(SavepointWritesMixin, SiteScopedMixin, viewsets.ModelViewSet):
    """Read and write by role, rows by site (see `registry.api_permissions`)."""


def filterset_for(model, *, site_path: str, fields: dict, parents: tuple[str, ...] = ()):
    """A FilterSet with the filters every clinical list has: site code, study ID, parent IDs.

    Parents filter by raw ID, not a choice of rows: a choice would answer "no such row" for
    another site's ID, telling the caller it exists.
    """
    patient_path = site_path.removesuffix("site")
    attrs = {
        "site": filters.CharFilter(
            field_name=f"{site_path}__code", help_text="Site code, e.g. MTL."
        ),
        "study_id": filters.CharFilter(
            field_name=f"{patient_path}study_id", help_text="The patient's study ID."
        ),
        **{
            parent: filters.NumberFilter(field_name=f"{parent}_id", help_text=f"The {parent}'s ID.")
            for parent in parents
        },
        "Meta": type("Meta", (), {"model": model, "fields": fields}),
    }
    return type(f"{model.__name__}Filter", (filters.FilterSet,), attrs)


def identifiers_only_for_those_allowed(result, generator, request, public):
    """drf-spectacular postprocessing hook: say that identifiers are absent for researchers."""
    patient = result.get("components", {}).get("schemas", {}).get("Patient")
    if patient:
        patient["required"] = [n for n in patient.get("required", []) if n not in IDENTIFIER_FIELDS]
        for name in IDENTIFIER_FIELDS:
            if name in patient.get("properties", {}):
                patient["properties"][name]["description"] = (
                    "Identifier: present only for users with registry.view_identifiers."
                )
    return result


# ---------------------------------------------------------------------------------------------
# Reference data: read-only here (protocols and products are edited in the admin)


class SiteSerializer(RegistrySerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name", "time_zone"]


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SiteSerializer
    queryset = Site.objects.all()
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return access.sites_for(self.request.user)


class MaintenancePhaseSerializer(RegistrySerializer):
    class Meta:
        model = MaintenancePhase
        fields = [
            "from_ga_days",
            "until_ga_days",
            "dose_mg_per_kg_min",
            "dose_mg_per_kg_max",
            "interval_days",
        ]


class ProtocolSerializer(RegistrySerializer):
    maintenance_phases = MaintenancePhaseSerializer(many=True, read_only=True)

    class Meta:
        model = Protocol
        fields = "__all__"


class ProtocolViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProtocolSerializer
    queryset = Protocol.objects.prefetch_related("maintenance_phases")
    pagination_class = None
    filter_backends = []


class ProductSerializer(RegistrySerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "route", "vial_step_g"]


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProductSerializer
    queryset = Product.objects.all()
    pagination_class = None
    filter_backends = []


# ---------------------------------------------------------------------------------------------
# Patients


class PatientSerializer(CheckedSerializer):
    site = serializers.SlugRelatedField(
        slug_field="code", queryset=Site.objects.all(), help_text="Site code, e.g. MTL."
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "study_id",
            "site",
            *IDENTIFIER_FIELDS,
            "indication",
            "unexplained_miscarriages",
            "failed_good_blastocyst_transfers",
            "prior_live_births",
            "prior_stillbirths",
            "prior_late_losses",
            "conventional_treatment_failed",
            "comorbidities",
            "ig_contraindication",
            "other_immunomodulator",
            "status",
            "screened_on",
            "enrolled_on",
            "status_changed_on",
            "status_reason",
            "eligibility_override_reason",
            "eligibility_overridden_by",
            "eligibility_overridden_at",
            "created_at",
        ]

    def apply_rules(self, attrs):
        # The admin's ConsentFormSet rule: reaching an enrolled status while not eligible needs
        # an override reason, and a new reason for an eligible patient is refused. Here her
        # consents are the stored ones (the API records consents on their own endpoint).
        patient = copy.copy(self.instance) if self.instance is not None else Patient()
        for name, value in attrs.items():
            setattr(patient, name, value)
        if patient.date_of_birth is None or patient.screened_on is None:
            return attrs  # the field errors name what is missing
        error = enrolment_override_error(
            patient=patient,
            before_status=getattr(self.instance, "status", None),
            before_reason=getattr(self.instance, "eligibility_override_reason", ""),
            today=timezone.localdate(),
        )
        if error is not None:
            field, message = error
            raise serializers.ValidationError({field: [message]})
        return attrs


class PatientViewSet(
    SavepointWritesMixin,
    SiteScopedMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Patients are withdrawn (status), never deleted, so there is no DELETE."""

    serializer_class = PatientSerializer
    queryset = Patient.objects.select_related("site")
    site_path = "site"
    filterset_class = filterset_for(
        Patient,
        site_path="site",
        fields={
            "status": ["exact"],
            "indication": ["exact"],
            "screened_on": ["gte", "lte"],
            "enrolled_on": ["gte", "lte"],
        },
    )
    ordering_fields = ["study_id", "screened_on", "enrolled_on", "status", "created_at"]
    ordering = ["study_id"]

    def create_row(self, serializer):
        patient = self.signed(Patient(**serializer.validated_data), before="")
        serializer.instance = services.patient_assign_study_id(patient)

    def update_row(self, serializer):
        patient = serializer.instance
        before = patient.eligibility_override_reason
        for name, value in serializer.validated_data.items():
            setattr(patient, name, value)
        self.signed(patient, before=before).save()

    def signed(self, patient: Patient, *, before: str) -> Patient:
        # A changed override reason is signed with who gave it and when, as in the admin.
        if patient.eligibility_override_reason != before:
            services.patient_sign_eligibility_override(
                patient=patient, user=self.request.user, at=timezone.now()
            )
        return patient


# ---------------------------------------------------------------------------------------------
# Consent and immune work-up


class ConsentSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = Consent
        fields = ["id", "patient", "study_id", "version", "signed_on", "withdrawn_on"]


class ConsentViewSet(ClinicalViewSet):
    serializer_class = ConsentSerializer
    queryset = Consent.objects.select_related("patient")
    filterset_class = filterset_for(
        Consent,
        site_path="patient__site",
        fields={"signed_on": ["gte", "lte"], "withdrawn_on": ["gte", "lte"]},
        parents=("patient",),
    )
    ordering_fields = ["signed_on", "withdrawn_on", "id"]
    ordering = ["signed_on", "id"]


class ImmuneTestSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = ImmuneTest
        fields = ["id", "patient", "study_id", "analyte", "value", "unit", "tested_on", "abnormal"]


class ImmuneTestViewSet(ClinicalViewSet):
    serializer_class = ImmuneTestSerializer
    queryset = ImmuneTest.objects.select_related("patient")
    filterset_class = filterset_for(
        ImmuneTest,
        site_path="patient__site",
        fields={"analyte": ["exact"], "abnormal": ["exact"], "tested_on": ["gte", "lte"]},
        parents=("patient",),
    )
    ordering_fields = ["tested_on", "analyte", "id"]
    ordering = ["tested_on", "id"]


# ---------------------------------------------------------------------------------------------
# Cycles, planned doses and infusions


class TreatmentCycleSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = TreatmentCycle
        fields = [
            "id",
            "patient",
            "study_id",
            "protocol",
            "number",
            "route",
            "plan",
            "planned_event_on",
            "weight_kg",
            "weighed_on",
        ]


class TreatmentCycleViewSet(ClinicalViewSet):
    serializer_class = TreatmentCycleSerializer
    queryset = TreatmentCycle.objects.select_related("patient")
    filterset_class = filterset_for(
        TreatmentCycle,
        site_path="patient__site",
        fields={
            "route": ["exact"],
            "plan": ["exact"],
            "protocol": ["exact"],
            "planned_event_on": ["gte", "lte"],
        },
        parents=("patient",),
    )
    ordering_fields = ["planned_event_on", "number", "id"]
    ordering = ["patient__study_id", "number"]

    def create_row(self, serializer):
        cycle_replan(serializer.save())

    def update_row(self, serializer):
        changed = changed_fields(serializer)
        cycle = serializer.save()
        if changed & CYCLE_REPLAN_FIELDS:
            cycle_replan(cycle)


class PlannedDoseSerializer(RegistrySerializer):
    study_id = serializers.CharField(source="cycle.patient.study_id", read_only=True)

    class Meta:
        model = PlannedDose
        fields = [
            "id",
            "cycle",
            "study_id",
            "sequence",
            "phase",
            "route",
            "due_from",
            "due_until",
            "dose_g",
        ]


class PlannedDoseViewSet(SiteScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Planned doses are generated from the protocol, never typed in: read-only."""

    serializer_class = PlannedDoseSerializer
    queryset = PlannedDose.objects.select_related("cycle__patient")
    site_path = "cycle__patient__site"
    filterset_class = filterset_for(
        PlannedDose,
        site_path="cycle__patient__site",
        fields={"phase": ["exact"], "route": ["exact"], "due_from": ["gte", "lte"]},
        parents=("cycle",),
    )
    ordering_fields = ["due_from", "sequence", "id"]
    ordering = ["cycle_id", "sequence"]


class InfusionSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="cycle.patient.study_id", read_only=True)
    dose_mg_per_kg = serializers.DecimalField(max_digits=7, decimal_places=1, read_only=True)

    class Meta:
        model = Infusion
        fields = [
            "id",
            "cycle",
            "study_id",
            "planned_dose",
            "given_on",
            "route",
            "product",
            "lot_number",
            "dose_g",
            "weight_kg",
            "dose_mg_per_kg",
        ]

    def apply_rules(self, attrs):
        cycle = self.value(attrs, "cycle")
        given_on = self.value(attrs, "given_on")
        planned = self.value(attrs, "planned_dose")
        if planned is not None and cycle is not None and planned.cycle_id != cycle.pk:
            raise serializers.ValidationError(
                {"planned_dose": ["Planned dose must be one of this cycle's."]}
            )
        if cycle is not None and given_on is not None:
            periods = cycle.patient.consents.values_list("signed_on", "withdrawn_on")
            if not consents.covers(periods, given_on):
                raise serializers.ValidationError(
                    {
                        "given_on": [
                            f"Given on {given_on:%Y-%m-%d}: no dose may be given before a signed "
                            "consent (none signed on or before that date, or it was withdrawn)."
                        ]
                    }
                )
        return attrs


class InfusionViewSet(ClinicalViewSet):
    serializer_class = InfusionSerializer
    queryset = Infusion.objects.select_related("cycle__patient")
    site_path = "cycle__patient__site"
    filterset_class = filterset_for(
        Infusion,
        site_path="cycle__patient__site",
        fields={"route": ["exact"], "product": ["exact"], "given_on": ["gte", "lte"]},
        parents=("cycle",),
    )
    ordering_fields = ["given_on", "dose_g", "id"]
    ordering = ["given_on", "id"]

    # "Monthly" counts from the last dose given: any change to the doses re-plans the cycle.
    def create_row(self, serializer):
        cycle_replan(serializer.save().cycle)

    def update_row(self, serializer):
        before = serializer.instance.cycle
        infusion = serializer.save()
        for cycle in {before, infusion.cycle}:
            cycle_replan(cycle)

    def destroy_row(self, instance):
        cycle = instance.cycle
        instance.delete()
        cycle_replan(cycle)
