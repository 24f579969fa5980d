"""Reads that decide something about a patient: her protocol and whether she is eligible for it."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from registry import consents
from registry.age import age_years
from registry.eligibility import check_eligibility
from registry.models import Patient, Protocol, TreatmentCycle
from registry.protocol_rules import SEED_000, ProtocolRules

# The default protocol (created by migration 0004). A patient with no cycle yet is screened
# against it.
SEED_PROTOCOL_CODE = "seed-000"
# The statuses that say a patient was enrolled: reaching one of them is enrolling her.
ENROLLED_STATUSES = (Patient.Status.ENROLLED, Patient.Status.COMPLETED)


@dataclass(frozen=True)
class PatientEligibility:
    protocol_name: str
    eligible: bool
    reasons: list[str]

    def refusal(self) -> str:
        """The reasons as one sentence, for messages."""
        return f"not eligible under {self.protocol_name}: " + "; ".join(self.reasons) + "."


def patient_protocol(*, patient: Patient) -> Protocol | None:
    """The protocol of her latest cycle; else the seed-000 protocol; None if even that is gone.

    Two queries: the protocol and its maintenance phases.
    """
    if patient.pk is not None:
        cycle = (
            TreatmentCycle.objects.filter(patient=patient)
            .select_related("protocol")
            .prefetch_related("protocol__maintenance_phases")
            .order_by("-number")
            .first()
        )
        if cycle is not None:
            return cycle.protocol
    return (
        Protocol.objects.filter(code=SEED_PROTOCOL_CODE)
        .prefetch_related("maintenance_phases")
        .first()
    )


def patient_eligibility(
    *,
    patient: Patient,
    today: dt.date,
    consent_periods: Sequence[consents.ConsentPeriod] | None = None,
) -> PatientEligibility:
    """Eligibility under her protocol, with every reason, judged as of her enrolment.

    Age is her age on the screening date. Consent counts when one signed on or before her
    enrolment date (today while she has none) covers that day. `consent_periods` replaces her
    stored consents when a form is about to save others with her.
    """
    protocol = patient_protocol(patient=patient)
    if protocol is not None:
        rules, name = ProtocolRules.from_protocol(protocol), protocol.name
    else:
        rules, name = SEED_000, "the seed-000 protocol"
    if consent_periods is None:
        consent_periods = (
            list(patient.consents.values_list("signed_on", "withdrawn_on"))
            if patient.pk is not None
            else []
        )
    result = check_eligibility(
        rules,
        age_years=age_years(patient.date_of_birth, patient.screened_on),
        unexplained_miscarriages=patient.unexplained_miscarriages,
        failed_good_blastocyst_transfers=patient.failed_good_blastocyst_transfers,
        conventional_treatment_failed=patient.conventional_treatment_failed,
        ig_contraindication=patient.ig_contraindication,
        other_immunomodulator=patient.other_immunomodulator,
        consent_signed=consents.covers(consent_periods, patient.enrolled_on or today),
    )
    return PatientEligibility(protocol_name=name, eligible=result.eligible, reasons=result.reasons)


def enrolment_override_error(
    *,
    patient: Patient,
    before_status: str | None,
    before_reason: str,
    today: dt.date,
    consent_periods: Sequence[consents.ConsentPeriod] | None = None,
) -> tuple[str, str] | None:
    """(field, message) when saving `patient` breaks the enrolment override rule, else None.

    Reaching an enrolled status (new, or from screening, withdrawn or lost) while she is not
    eligible needs an eligibility override reason; a new reason for a patient who is eligible
    is refused rather than recorded as an override that never was. The admin and the API both
    ask this one function.
    """
    reason = patient.eligibility_override_reason.strip()
    enrolling = patient.status in ENROLLED_STATUSES and before_status not in ENROLLED_STATUSES
    new_reason = bool(reason) and reason != before_reason
    if not (enrolling or new_reason):
        return None
    eligibility = patient_eligibility(patient=patient, today=today, consent_periods=consent_periods)
    if enrolling and not eligibility.eligible and not reason:
        return (
            "status",
            f"Status {patient.get_status_display()} refused: she is {eligibility.refusal()} "
            "To enrol her anyway, give an eligibility override reason; it is recorded "
            "with your name.",
        )
    if new_reason and eligibility.eligible:
        return (
            "eligibility_override_reason",
            "Eligibility override reason: leave it empty; she is eligible under "
            f"{eligibility.protocol_name}, so there is nothing to override.",
        )
    return None
