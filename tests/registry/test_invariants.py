"""Each invariant is refused twice: by the form, with a message naming the field and the rule,
and by the database, whatever the write path (create, update(), raw)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms import modelform_factory

from outcomes.forms import PregnancyForm
from outcomes.models import Infant, PregnancyOutcome
from registry import services
from registry.forms import InfusionForm, PatientForm
from registry.models import Consent, Infusion, Patient, TreatmentCycle
from tests.factories import (
    ConsentFactory,
    CycleFactory,
    InfantFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    PregnancyFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db


def refused_by_database(constraint: str):
    """Expect the statement in the block to be refused by the named constraint."""

    class _Refused:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.raises = pytest.raises(IntegrityError, match=constraint)
            self.raises.__enter__()

        def __exit__(self, *exc):
            handled = self.raises.__exit__(*exc)
            # Roll the savepoint back: the refused statement aborted it.
            self.atomic.__exit__(*exc)
            return handled

    return _Refused()


def form_errors(model, data, fields, instance=None, form=None):
    form_class = form or modelform_factory(model, fields=fields)
    bound = form_class(data=data, instance=instance)
    assert not bound.is_valid()
    return [str(message) for messages in bound.errors.values() for message in messages]


# Weight


def cycle_data(patient, protocol, **overrides):
    data = {
        "patient": patient.pk,
        "protocol": protocol.pk,
        "number": 1,
        "route": "ivig",
        "plan": "frozen_et",
        "planned_event_on": "2025-03-03",
        "weight_kg": "60",
        "weighed_on": "2025-02-20",
    }
    return {**data, **overrides}


CYCLE_FIELDS = [
    "patient",
    "protocol",
    "number",
    "route",
    "plan",
    "planned_event_on",
    "weight_kg",
    "weighed_on",
]


@pytest.mark.parametrize("weight_kg", ["29.9", "250.1", "0", "-60"])
def test_an_implausible_weight_is_refused_by_the_form(weight_kg):
    cycle = CycleFactory()
    errors = form_errors(
        TreatmentCycle,
        cycle_data(cycle.patient, cycle.protocol, number=2, weight_kg=weight_kg),
        CYCLE_FIELDS,
    )
    # The field validator names the limit; the constraint's message names field and rule.
    assert any(e.startswith("Ensure this value is") for e in errors)
    bound = modelform_factory(TreatmentCycle, fields=CYCLE_FIELDS)(
        data=cycle_data(cycle.patient, cycle.protocol, number=2, weight_kg=weight_kg)
    )
    bound.is_valid()
    assert "weight_kg" in bound.errors


def test_an_implausible_weight_is_refused_by_the_database():
    cycle = CycleFactory()
    with refused_by_database("cycle_weight_plausible"):
        TreatmentCycle.objects.filter(pk=cycle.pk).update(weight_kg=Decimal("12.0"))
    with refused_by_database("infusion_weight_plausible"):
        InfusionFactory(cycle=cycle, weight_kg=Decimal("300"))


# Dose


def infusion_data(cycle, **overrides):
    data = {
        "cycle": cycle.pk,
        "given_on": "2025-02-24",
        "route": "ivig",
        "dose_g": "40",
        "weight_kg": "60",
    }
    return {**data, **overrides}


def test_an_implausible_dose_is_refused_by_the_form_with_the_rule():
    cycle = CycleFactory()
    ConsentFactory(patient=cycle.patient)
    errors = form_errors(Infusion, infusion_data(cycle, dose_g="150"), None, form=InfusionForm)
    assert "Dose (g) for this weight must be between 50 and 2000 mg/kg." in errors
    errors = form_errors(Infusion, infusion_data(cycle, dose_g="0.5"), None, form=InfusionForm)
    assert "Ensure this value is greater than or equal to 1." in errors


def test_an_implausible_dose_is_refused_by_the_database():
    infusion = InfusionFactory()
    with refused_by_database("infusion_mg_per_kg_plausible"):
        Infusion.objects.filter(pk=infusion.pk).update(dose_g=Decimal("150"))
    with refused_by_database("infusion_dose_plausible"):
        Infusion.objects.filter(pk=infusion.pk).update(dose_g=Decimal("0"))


def test_a_plausible_dose_is_accepted_and_its_mg_per_kg_derived():
    infusion = InfusionFactory(dose_g=Decimal("40"), weight_kg=Decimal("55"))
    assert infusion.dose_mg_per_kg == Decimal("727.3")


# Consent before the first dose


def test_a_dose_before_consent_is_refused_by_the_form():
    cycle = CycleFactory()
    ConsentFactory(patient=cycle.patient, signed_on=dt.date(2025, 2, 25))
    errors = form_errors(
        Infusion, infusion_data(cycle, given_on="2025-02-24"), None, form=InfusionForm
    )
    assert errors == [
        "Given on 2025-02-24: no dose may be given before a signed consent "
        "(none signed on or before that date, or it was withdrawn)."
    ]


def test_a_dose_before_consent_is_refused_by_the_database():
    cycle = CycleFactory()
    ConsentFactory(patient=cycle.patient, signed_on=dt.date(2025, 2, 25))
    with refused_by_database("no consent was signed on or before that date"):
        Infusion.objects.create(
            cycle=cycle,
            given_on=dt.date(2025, 2, 24),
            route="ivig",
            dose_g=Decimal("40"),
            weight_kg=Decimal("60"),
        )


def test_moving_a_consent_after_a_given_dose_is_refused_at_commit():
    infusion = InfusionFactory(given_on=dt.date(2025, 2, 24))
    consent = Consent.objects.get(patient=infusion.cycle.patient)
    with refused_by_database("leaves the infusion given on 2025-02-24 without consent"):
        Consent.objects.filter(pk=consent.pk).update(signed_on=dt.date(2025, 3, 1))
        # The check is deferred to commit (so a patient can be deleted whole); run it now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_patient_with_doses_can_still_be_deleted_whole():
    infusion = InfusionFactory()
    patient = infusion.cycle.patient
    patient.delete()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Patient.objects.filter(pk=patient.pk).exists()


# Dates in order: transfer, conception, outcome, birth


def test_an_outcome_before_its_transfer_is_refused_by_the_database():
    # (The form's message for the same rule is tested on the pure function and the admin.)
    pregnancy = PregnancyFactory()
    with refused_by_database("outcome_after_conception|is before the embryo transfer"):
        PregnancyOutcome.objects.create(
            pregnancy=pregnancy,
            kind="miscarriage",
            ended_on=pregnancy.transfer.transferred_on - dt.timedelta(days=1),
        )


def test_a_birth_not_after_conception_is_refused_by_the_database():
    cycle = CycleFactory(plan="natural")
    pregnancy = PregnancyFactory(
        conception="natural",
        dating="lmp",
        transfer=None,
        cycle=cycle,
        patient=cycle.patient,
        lmp_on=dt.date(2025, 2, 10),
        confirmed_on=dt.date(2025, 3, 30),
    )
    with refused_by_database("is not after conception"):
        PregnancyOutcome.objects.create(
            pregnancy=pregnancy,
            kind="live_birth",
            delivery_mode="vaginal",
            ended_on=pregnancy.lmp_on + dt.timedelta(days=14),
        )


def test_redating_a_pregnancy_past_its_birth_is_refused_by_the_database():
    outcome = OutcomeFactory()
    pregnancy = outcome.pregnancy
    with refused_by_database("not after conception"):
        type(pregnancy).objects.filter(pk=pregnancy.pk).update(
            lmp_on=outcome.ended_on, confirmed_on=outcome.ended_on + dt.timedelta(days=20)
        )


def test_a_confirmation_before_the_transfer_is_refused_by_form_and_database():
    pregnancy = PregnancyFactory()
    transfer = pregnancy.transfer
    data = {
        "patient": pregnancy.patient.pk,
        "cycle": pregnancy.cycle.pk,
        "transfer": transfer.pk,
        "conception": "ivf",
        "dating": "transfer",
        "fetuses": 1,
        "confirmed_on": "2025-03-01",
    }
    errors = form_errors(type(pregnancy), data, None, instance=pregnancy, form=PregnancyForm)
    assert "Confirmed on 2025-03-01 must be on or after the embryo transfer (2025-03-03)." in (
        errors
    )
    with refused_by_database("is before the embryo transfer"):
        type(pregnancy).objects.filter(pk=pregnancy.pk).update(confirmed_on=dt.date(2025, 3, 1))


def test_an_implausible_birth_weight_is_refused():
    pregnancy = PregnancyFactory()
    errors = form_errors(
        Infant,
        {"pregnancy": pregnancy.pk, "birth_order": 1, "sex": "male", "birth_weight_g": 26900},
        ["pregnancy", "birth_order", "sex", "birth_weight_g"],
    )
    assert "Birth weight (g) must be between 200 and 6500 g." in errors
    infant = InfantFactory(pregnancy=pregnancy)
    with refused_by_database("infant_birth_weight_plausible"):
        Infant.objects.filter(pk=infant.pk).update(birth_weight_g=26900)


# One outcome per pregnancy


def test_a_second_outcome_for_a_pregnancy_is_refused_by_form_and_database():
    outcome = OutcomeFactory()
    errors = form_errors(
        PregnancyOutcome,
        {
            "pregnancy": outcome.pregnancy.pk,
            "kind": "stillbirth",
            "ended_on": str(outcome.ended_on),
            "delivery_mode": "vaginal",
        },
        ["pregnancy", "kind", "ended_on", "delivery_mode"],
    )
    assert "Pregnancy outcome with this Pregnancy already exists." in errors
    with refused_by_database("pregnancy_id"):
        PregnancyOutcome.objects.create(
            pregnancy=outcome.pregnancy,
            kind="stillbirth",
            delivery_mode="vaginal",
            ended_on=outcome.ended_on,
        )


# Study IDs


def test_study_ids_are_unique_in_the_database():
    patient = PatientFactory()
    with refused_by_database("study_id"):
        PatientFactory(site=patient.site, study_id=patient.study_id)


def test_a_study_id_not_in_the_random_format_is_refused():
    with refused_by_database("patient_study_id_format"):
        PatientFactory(study_id="MTL-MRN1234567")


def test_a_new_patient_draws_again_when_the_study_id_is_taken(monkeypatch):
    site = SiteFactory(code="MTL")
    taken = PatientFactory(site=site)
    draws = iter([taken.study_id, "MTL-2345AB"])
    monkeypatch.setattr(services.study_ids, "new_study_id", lambda code: next(draws))
    patient = PatientFactory.build(site=site, study_id="")
    services.patient_assign_study_id(patient)
    assert patient.study_id == "MTL-2345AB"


def test_the_study_id_does_not_contain_the_mrn_or_name():
    site = SiteFactory(code="MTL")
    patient = PatientFactory.build(site=site, study_id="", mrn="12345678", family_name="Doe")
    services.patient_assign_study_id(patient)
    assert "1234" not in patient.study_id and "DOE" not in patient.study_id


# Other constraints named in messages


def test_a_withdrawal_without_a_reason_is_refused_with_the_rule():
    patient = PatientFactory()
    errors = form_errors(
        Patient,
        {
            "site": patient.site.pk,
            "given_name": "A",
            "family_name": "B",
            "mrn": "X1",
            "date_of_birth": "1990-01-01",
            "indication": "rpl",
            "unexplained_miscarriages": 5,
            "failed_good_blastocyst_transfers": 0,
            "prior_live_births": 0,
            "prior_stillbirths": 0,
            "prior_late_losses": 0,
            "status": "withdrawn",
            "screened_on": "2025-01-02",
            "enrolled_on": "2025-01-06",
            "status_reason": "",
        },
        None,
        form=PatientForm,
    )
    assert "Status reason is required when a patient is withdrawn or lost to follow-up." in errors
    with refused_by_database("patient_withdrawal_has_reason"):
        Patient.objects.filter(pk=patient.pk).update(status="withdrawn", status_reason="")


def test_an_ae_of_grade_4_must_be_serious():
    from outcomes.models import AdverseEvent
    from tests.factories import AdverseEventFactory

    event = AdverseEventFactory()
    with refused_by_database("ae_grade_4_5_serious"):
        AdverseEvent.objects.filter(pk=event.pk).update(grade=4, serious=False)
