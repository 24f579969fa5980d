"""Admin forms: the rules that span rows, checked before the database has to refuse."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from registry import consents
from registry.models import IDENTIFIER_FIELDS, Infusion, Patient
from registry.selectors import enrolment_override_error


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
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
        ]

    def clean(self):
        cleaned = super().clean()
        born_on = cleaned.get("date_of_birth")
        screened_on = cleaned.get("screened_on")
        if born_on and screened_on and screened_on <= born_on:
            self.add_error("screened_on", "Screened on must be after the date of birth.")
        return cleaned


class ConsentFormSet(BaseInlineFormSet):
    """Enrolment is judged here: only the patient's consent inline knows the consents being
    saved with her (a consent is often signed and recorded on the day she is enrolled).

    Reaching an enrolled status (new, or from screening, withdrawn or lost) while she is not
    eligible needs an eligibility override reason; a new reason for a patient who is eligible
    is refused rather than recorded as an override that never was.
    """

    def clean(self):
        super().clean()
        patient = self.instance
        if any(self.errors) or patient.date_of_birth is None or patient.screened_on is None:
            return  # the patient form names what is missing
        before = (
            Patient.objects.filter(pk=patient.pk)
            .values("status", "eligibility_override_reason")
            .first()
            if patient.pk is not None
            else None
        ) or {"status": None, "eligibility_override_reason": ""}
        periods = [
            (form.cleaned_data["signed_on"], form.cleaned_data.get("withdrawn_on"))
            for form in self.forms
            if form.cleaned_data.get("signed_on") and not form.cleaned_data.get("DELETE")
        ]
        error = enrolment_override_error(
            patient=patient,
            before_status=before["status"],
            before_reason=before["eligibility_override_reason"],
            today=timezone.localdate(),
            consent_periods=periods,
        )
        if error is not None:
            raise ValidationError(error[1])


class InfusionForm(forms.ModelForm):
    class Meta:
        model = Infusion
        fields = [
            "cycle",
            "planned_dose",
            "given_on",
            "route",
            "product",
            "lot_number",
            "dose_g",
            "weight_kg",
        ]

    def clean(self):
        cleaned = super().clean()
        given_on = cleaned.get("given_on")
        cycle = cleaned.get("cycle") or getattr(self.instance, "cycle", None)
        planned = cleaned.get("planned_dose")
        if planned is not None and cycle is not None and planned.cycle_id != cycle.pk:
            self.add_error("planned_dose", "Planned dose must be one of this cycle's.")
        if given_on and cycle is not None and cycle.pk:
            periods = cycle.patient.consents.values_list("signed_on", "withdrawn_on")
            if not consents.covers(periods, given_on):
                self.add_error(
                    "given_on",
                    f"Given on {given_on:%Y-%m-%d}: no dose may be given before a signed consent "
                    "(none signed on or before that date, or it was withdrawn).",
                )
        return cleaned
