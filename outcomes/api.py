"""REST endpoints for what happens: transfers, pregnancies, visits, outcomes, infants, adverse events.

The rules are the admin's: date order from `outcomes.chronology`, the LMP-equivalent date from
`outcomes.gestation` for transfer-dated pregnancies, and a reason for any change to a pregnancy
that already has an outcome (kept in the audit trail).
"""

import pghistory
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from outcomes import chronology, gestation
from outcomes.admin import REPLAN_FIELDS as PREGNANCY_REPLAN_FIELDS
from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from outcomes.planning import pregnancy_plan_visits
from registry.api import (
    CheckedSerializer,
    ClinicalViewSet,
    changed_fields,
    cycle_replan,
    filterset_for,
)

CHANGE_REASON_REQUIRED = (
    "Change reason is required: this pregnancy has an outcome, so every edit to it "
    "(or its visits, outcome or infants) must say why."
)


# ---------------------------------------------------------------------------------------------
# Transfers


class EmbryoTransferSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="cycle.patient.study_id", read_only=True)

    class Meta:
        model = EmbryoTransfer
        fields = [
            "id",
            "cycle",
            "study_id",
            "transferred_on",
            "kind",
            "embryo_day",
            "embryo_quality",
            "good_quality",
            "embryos_transferred",
            "result",
        ]


class EmbryoTransferViewSet(ClinicalViewSet):
    serializer_class = EmbryoTransferSerializer
    queryset = EmbryoTransfer.objects.select_related("cycle__patient")
    site_path = "cycle__patient__site"
    filterset_class = filterset_for(
        EmbryoTransfer,
        site_path="cycle__patient__site",
        fields={"kind": ["exact"], "result": ["exact"], "transferred_on": ["gte", "lte"]},
        parents=("cycle",),
    )
    ordering_fields = ["transferred_on", "id"]
    ordering = ["transferred_on", "id"]


# ---------------------------------------------------------------------------------------------
# A pregnancy and what hangs from it: a finished one is changed only with a reason


class ChangeReasonSerializer(CheckedSerializer):
    change_reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Required when the pregnancy has an outcome; kept in the audit trail.",
    )

    def pregnancy_ids(self, attrs: dict) -> set[int]:
        """The pregnancies this write touches (before and after, when it moves a row)."""
        ids = {getattr(self.instance, "pregnancy_id", None)}
        if "pregnancy" in attrs:
            ids.add(attrs["pregnancy"].pk)
        return ids - {None}

    def apply_rules(self, attrs):
        attrs = super().apply_rules(attrs)
        if has_outcome(self.pregnancy_ids(attrs)) and not attrs.get("change_reason", "").strip():
            raise serializers.ValidationError({"change_reason": [CHANGE_REASON_REQUIRED]})
        return attrs


def pregnancy_replan(pregnancy: Pregnancy) -> None:
    """As the admin does after saving a pregnancy page: its cycle's doses, then its visits."""
    if pregnancy.cycle_id is not None:
        cycle_replan(pregnancy.cycle)
    pregnancy_plan_visits(pregnancy=pregnancy)


def has_outcome(pregnancy_ids: set[int]) -> bool:
    return bool(pregnancy_ids) and (
        PregnancyOutcome.objects.filter(pregnancy_id__in=pregnancy_ids).exists()
    )


@extend_schema_view(
    destroy=extend_schema(
        parameters=[
            OpenApiParameter(
                "change_reason",
                str,
                description="Required when the pregnancy has an outcome; kept in the audit trail.",
            )
        ]
    )
)
class ChangeReasonViewSet(ClinicalViewSet):
    """Writes carry their reason into the audit trail; a delete gives it as a query parameter."""

    def create_row(self, serializer):
        self.save_with_reason(serializer)

    def update_row(self, serializer):
        self.save_with_reason(serializer)

    def save_with_reason(self, serializer):
        self._with_reason(serializer.validated_data.pop("change_reason", ""))
        serializer.save()

    def destroy_row(self, instance):
        reason = self.request.query_params.get("change_reason", "")
        pregnancy_id = instance.pk if isinstance(instance, Pregnancy) else instance.pregnancy_id
        if has_outcome({pregnancy_id}) and not reason.strip():
            raise serializers.ValidationError({"change_reason": [CHANGE_REASON_REQUIRED]})
        self._with_reason(reason)
        instance.delete()
        self.after_destroy(instance)

    def after_destroy(self, instance) -> None:
        pass

    def _with_reason(self, reason: str) -> None:
        if reason.strip():
            # Joins the request's audit context, so every row written below carries it.
            pghistory.context(reason=reason.strip())


class PregnancySerializer(ChangeReasonSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = Pregnancy
        fields = [
            "id",
            "patient",
            "study_id",
            "cycle",
            "transfer",
            "conception",
            "dating",
            "lmp_on",
            "fetuses",
            "confirmed_on",
            "change_reason",
        ]
        extra_kwargs = {
            "lmp_on": {
                "required": False,
                "help_text": "Dating anchor; derived from the transfer when dated by it.",
            }
        }

    def pregnancy_ids(self, attrs):
        return {self.instance.pk} if self.instance is not None else set()

    def apply_rules(self, attrs):
        # The same checks, in the same order, as the admin's PregnancyForm.clean.
        errors: dict[str, list[str]] = {}
        patient = self.value(attrs, "patient")
        cycle = self.value(attrs, "cycle")
        transfer = self.value(attrs, "transfer")
        if cycle and patient and cycle.patient_id != patient.pk:
            errors["cycle"] = ["Cycle must be one of this patient's cycles."]
        if transfer and patient and transfer.cycle.patient_id != patient.pk:
            errors["transfer"] = ["Transfer must be one of this patient's transfers."]
        if self.value(attrs, "dating") == Pregnancy.Dating.TRANSFER and transfer:
            attrs["lmp_on"] = gestation.lmp_from_transfer(
                transfer.transferred_on, transfer.embryo_day
            )
        elif not self.value(attrs, "lmp_on"):
            errors["lmp_on"] = ["LMP-equivalent date is required unless dated by transfer."]
        transferred_on = transfer.transferred_on if transfer else None
        confirmed_on = self.value(attrs, "confirmed_on")
        if confirmed_on:
            messages = chronology.confirmation_date_errors(
                confirmed_on=confirmed_on, transferred_on=transferred_on
            )
            if messages:
                errors["confirmed_on"] = messages
        # An outcome already recorded must still end after conception and the transfer.
        outcome = PregnancyOutcome.objects.filter(pregnancy_id=getattr(self.instance, "pk", None))
        lmp_on = self.value(attrs, "lmp_on")
        for ended_on in outcome.values_list("ended_on", flat=True):
            if lmp_on:
                messages = chronology.outcome_date_errors(
                    ended_on=ended_on, lmp_on=lmp_on, transferred_on=transferred_on
                )
                if messages:
                    errors.setdefault("lmp_on", []).extend(messages)
        if errors:
            raise serializers.ValidationError(errors)
        return super().apply_rules(attrs)


class PregnancyViewSet(ChangeReasonViewSet):
    serializer_class = PregnancySerializer
    queryset = Pregnancy.objects.select_related("patient")
    filterset_class = filterset_for(
        Pregnancy,
        site_path="patient__site",
        fields={
            "conception": ["exact"],
            "dating": ["exact"],
            "confirmed_on": ["gte", "lte"],
            "outcome__kind": ["exact"],
        },
        parents=("patient", "cycle", "transfer"),
    )
    ordering_fields = ["confirmed_on", "lmp_on", "id"]
    ordering = ["confirmed_on", "id"]

    # Recording a pregnancy or re-dating it re-plans its cycle's doses and its visits.
    def create_row(self, serializer):
        super().create_row(serializer)
        pregnancy_replan(serializer.instance)

    def update_row(self, serializer):
        changed = changed_fields(serializer)
        super().update_row(serializer)
        if changed & PREGNANCY_REPLAN_FIELDS:
            pregnancy_replan(serializer.instance)


class FollowUpVisitSerializer(ChangeReasonSerializer):
    study_id = serializers.CharField(source="pregnancy.patient.study_id", read_only=True)

    class Meta:
        model = FollowUpVisit
        fields = [
            "id",
            "pregnancy",
            "study_id",
            "kind",
            "due_from",
            "due_until",
            "status",
            "done_on",
            "notes",
            "change_reason",
        ]


class FollowUpVisitViewSet(ChangeReasonViewSet):
    serializer_class = FollowUpVisitSerializer
    queryset = FollowUpVisit.objects.select_related("pregnancy__patient")
    site_path = "pregnancy__patient__site"
    filterset_class = filterset_for(
        FollowUpVisit,
        site_path="pregnancy__patient__site",
        fields={
            "kind": ["exact"],
            "status": ["exact"],
            "due_from": ["gte", "lte"],
            "done_on": ["gte", "lte"],
        },
        parents=("pregnancy",),
    )
    ordering_fields = ["due_from", "done_on", "id"]
    ordering = ["due_from", "id"]


class PregnancyOutcomeSerializer(ChangeReasonSerializer):
    study_id = serializers.CharField(source="pregnancy.patient.study_id", read_only=True)

    class Meta:
        model = PregnancyOutcome
        fields = [
            "id",
            "pregnancy",
            "study_id",
            "kind",
            "ended_on",
            "delivery_mode",
            "preterm_labour",
            "complications",
            "change_reason",
        ]

    def apply_rules(self, attrs):
        pregnancy = self.value(attrs, "pregnancy")
        ended_on = self.value(attrs, "ended_on")
        if pregnancy is not None and ended_on is not None:
            messages = chronology.outcome_date_errors(
                ended_on=ended_on,
                lmp_on=pregnancy.lmp_on,
                transferred_on=pregnancy.transfer.transferred_on if pregnancy.transfer_id else None,
            )
            if messages:
                raise serializers.ValidationError({"ended_on": messages})
        return super().apply_rules(attrs)


class PregnancyOutcomeViewSet(ChangeReasonViewSet):
    serializer_class = PregnancyOutcomeSerializer
    queryset = PregnancyOutcome.objects.select_related("pregnancy__patient")
    site_path = "pregnancy__patient__site"
    filterset_class = filterset_for(
        PregnancyOutcome,
        site_path="pregnancy__patient__site",
        fields={"kind": ["exact"], "delivery_mode": ["exact"], "ended_on": ["gte", "lte"]},
        parents=("pregnancy",),
    )
    ordering_fields = ["ended_on", "id"]
    ordering = ["ended_on", "id"]

    # Recording (or correcting) the end of a pregnancy re-plans its cycle's doses and its visits.
    def save_with_reason(self, serializer):
        super().save_with_reason(serializer)
        pregnancy_replan(serializer.instance.pregnancy)

    def after_destroy(self, instance):
        pregnancy_replan(instance.pregnancy)


class InfantSerializer(ChangeReasonSerializer):
    study_id = serializers.CharField(source="pregnancy.patient.study_id", read_only=True)

    class Meta:
        model = Infant
        fields = [
            "id",
            "pregnancy",
            "study_id",
            "birth_order",
            "sex",
            "birth_weight_g",
            "live_born",
            "anomalies",
            "nicu_admission",
            "development_12m",
            "change_reason",
        ]


class InfantViewSet(ChangeReasonViewSet):
    serializer_class = InfantSerializer
    queryset = Infant.objects.select_related("pregnancy__patient")
    site_path = "pregnancy__patient__site"
    filterset_class = filterset_for(
        Infant,
        site_path="pregnancy__patient__site",
        fields={"sex": ["exact"], "live_born": ["exact"], "nicu_admission": ["exact"]},
        parents=("pregnancy",),
    )
    ordering_fields = ["birth_weight_g", "id"]
    ordering = ["pregnancy_id", "birth_order"]


# ---------------------------------------------------------------------------------------------
# Adverse events


class AdverseEventSerializer(CheckedSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "patient",
            "study_id",
            "infusion",
            "pregnancy",
            "subject",
            "term",
            "term_other",
            "grade",
            "serious",
            "relatedness",
            "onset_on",
            "resolved_on",
            "action_taken",
            "resolution",
            "description",
            "created_at",
        ]


class AdverseEventViewSet(ClinicalViewSet):
    serializer_class = AdverseEventSerializer
    queryset = AdverseEvent.objects.select_related("patient")
    filterset_class = filterset_for(
        AdverseEvent,
        site_path="patient__site",
        fields={
            "term": ["exact"],
            "grade": ["exact", "gte"],
            "serious": ["exact"],
            "subject": ["exact"],
            "onset_on": ["gte", "lte"],
        },
        parents=("patient", "infusion", "pregnancy"),
    )
    ordering_fields = ["onset_on", "grade", "id"]
    ordering = ["onset_on", "id"]
