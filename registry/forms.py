"""Admin forms: the rules that span rows, checked before the database has to refuse."""

from django import forms

from registry import consents
from registry.models import IDENTIFIER_FIELDS, Infusion, Patient


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
        ]

    def clean(self):
        cleaned = super().clean()
        born_on = cleaned.get("date_of_birth")
        screened_on = cleaned.get("screened_on")
        if born_on and screened_on and screened_on <= born_on:
            self.add_error("screened_on", "Screened on must be after the date of birth.")
        return cleaned


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
        if given_on and cycle is not None and cycle.pk:
            periods = cycle.patient.consents.values_list("signed_on", "withdrawn_on")
            if not consents.covers(periods, given_on):
                self.add_error(
                    "given_on",
                    f"Given on {given_on:%Y-%m-%d}: no dose may be given before a signed consent "
                    "(none signed on or before that date, or it was withdrawn).",
                )
        return cleaned
