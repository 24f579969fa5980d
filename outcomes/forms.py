"""Admin forms for pregnancies: dating, date order, and a reason for editing a finished record."""

from django import forms
from django.forms.models import BaseInlineFormSet

from outcomes import chronology, gestation
from outcomes.models import Pregnancy, PregnancyOutcome


class PregnancyForm(forms.ModelForm):
    change_reason = forms.CharField(
        required=False,
        max_length=300,
        help_text="Required when editing a pregnancy that has an outcome; kept in the audit trail.",
    )

    class Meta:
        model = Pregnancy
        fields = [
            "patient",
            "cycle",
            "transfer",
            "conception",
            "dating",
            "lmp_on",
            "fetuses",
            "confirmed_on",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "lmp_on" in self.fields:
            # Derived from the transfer when the pregnancy is dated by it.
            self.fields["lmp_on"].required = False

    def is_completed(self) -> bool:
        return (
            bool(self.instance.pk)
            and PregnancyOutcome.objects.filter(pregnancy_id=self.instance.pk).exists()
        )

    def clean(self):
        cleaned = super().clean()
        patient = cleaned.get("patient")
        cycle = cleaned.get("cycle")
        transfer = cleaned.get("transfer")
        if cycle and patient and cycle.patient_id != patient.pk:
            self.add_error("cycle", "Cycle must be one of this patient's cycles.")
        if transfer and patient and transfer.cycle.patient_id != patient.pk:
            self.add_error("transfer", "Transfer must be one of this patient's transfers.")
        if cleaned.get("dating") == Pregnancy.Dating.TRANSFER and transfer:
            cleaned["lmp_on"] = gestation.lmp_from_transfer(
                transfer.transferred_on, transfer.embryo_day
            )
            self.instance.lmp_on = cleaned["lmp_on"]
        elif not cleaned.get("lmp_on"):
            self.add_error("lmp_on", "LMP-equivalent date is required unless dated by transfer.")
        confirmed_on = cleaned.get("confirmed_on")
        if confirmed_on:
            for message in chronology.confirmation_date_errors(
                confirmed_on=confirmed_on,
                transferred_on=transfer.transferred_on if transfer else None,
            ):
                self.add_error("confirmed_on", message)
        if self.is_completed() and not cleaned.get("change_reason", "").strip():
            self.add_error(
                "change_reason",
                "Change reason is required: this pregnancy has an outcome, so every edit "
                "to it (or its visits, outcome or infants) must say why.",
            )
        return cleaned


class OutcomeFormSet(BaseInlineFormSet):
    """Checks the outcome's date against the pregnancy being saved with it."""

    def clean(self):
        super().clean()
        pregnancy = self.instance
        if pregnancy.lmp_on is None:
            return
        transferred_on = pregnancy.transfer.transferred_on if pregnancy.transfer_id else None
        for form in self.forms:
            ended_on = form.cleaned_data.get("ended_on") if form.cleaned_data else None
            if ended_on is None or form.cleaned_data.get("DELETE"):
                continue
            for message in chronology.outcome_date_errors(
                ended_on=ended_on, lmp_on=pregnancy.lmp_on, transferred_on=transferred_on
            ):
                form.add_error("ended_on", message)
