"""A patient treated under seed 000, built with the factories, for planning and deviation tests.

She is transferred a day-5 blastocyst on TRANSFER_ON (2025-03-03), so her LMP-equivalent date is
2025-02-12; she weighs 60 kg and receives 40 g of IVIg (667 mg/kg) a week before the transfer,
then every 28 days while the pregnancy is under 32 weeks.
"""

import datetime as dt
from decimal import Decimal

from outcomes import gestation
from outcomes.models import FollowUpVisit, Pregnancy
from registry import study_ids
from registry.models import Consent, Infusion, Patient, PlannedDose, TreatmentCycle
from tests.factories import (
    TRANSFER_ON,
    ConsentFactory,
    CycleFactory,
    PatientFactory,
    PregnancyFactory,
    ProductFactory,
    ProtocolFactory,
)

LMP = gestation.lmp_from_transfer(TRANSFER_ON, 5)
INDUCTION_ON = TRANSFER_ON - dt.timedelta(days=7)


def at_ga(weeks: int, extra_days: int = 0) -> dt.date:
    return gestation.date_at_ga(LMP, gestation.ga_from_weeks(weeks, extra_days))


def monthly_doses(until_ga_days: int = 32 * 7) -> list[dt.date]:
    days, on = [], INDUCTION_ON
    while gestation.ga_days(LMP, on) < until_ga_days:
        days.append(on)
        on += dt.timedelta(days=28)
    return days


def give(cycle, on: dt.date, dose_g="40", route="ivig", weight_kg="60.0") -> Infusion:
    return Infusion.objects.create(
        cycle=cycle,
        given_on=on,
        route=route,
        product=ProductFactory(),
        dose_g=Decimal(dose_g),
        weight_kg=Decimal(weight_kg),
    )


def treated_cycle(site, *, doses: list[dt.date] | None = None, pregnant: bool = True):
    """Her cycle, the doses given on `doses` (default: the induction only) and her pregnancy."""
    patient = PatientFactory(site=site)
    ConsentFactory(patient=patient)
    ProductFactory()
    cycle = CycleFactory(patient=patient, weight_kg=Decimal("60.0"))
    for on in [INDUCTION_ON] if doses is None else doses:
        give(cycle, on)
    pregnancy = PregnancyFactory(transfer__cycle=cycle) if pregnant else None
    return cycle, pregnancy


def bulk_treated_patients(site, count: int, *, today: dt.date, start: int = 0) -> None:
    """`count` pregnant patients at `site`, written with bulk_create (fast enough for 10,000).

    Each has one cycle transferred 60 days before `today`: an induction dose given in its window,
    a maintenance dose due within the next two weeks and one due later, and two visits, one done
    and one due now. Study IDs and MRNs are numbered from `start`, so a site can be grown.
    """

    def code(number: int) -> str:
        digits = []
        for _ in range(6):
            number, digit = divmod(number, len(study_ids.ALPHABET))
            digits.append(study_ids.ALPHABET[digit])
        return "".join(reversed(digits))

    product = ProductFactory()
    protocol = ProtocolFactory()
    et = today - dt.timedelta(days=60)
    lmp_on = gestation.lmp_from_transfer(et, 5)
    numbers = range(start, start + count)
    patients = Patient.objects.bulk_create(
        Patient(
            site=site,
            study_id=f"{site.code}-{code(n)}",
            given_name=f"Given{n}",
            family_name=f"Family{n}",
            mrn=f"{site.code}{n:08d}",
            date_of_birth=dt.date(1990, 5, 17),
            indication=Patient.Indication.RPL,
            unexplained_miscarriages=5,
            conventional_treatment_failed=True,
            status=Patient.Status.ENROLLED,
            screened_on=et - dt.timedelta(days=90),
            enrolled_on=et - dt.timedelta(days=80),
        )
        for n in numbers
    )
    Consent.objects.bulk_create(
        Consent(patient=p, version="v1", signed_on=et - dt.timedelta(days=80)) for p in patients
    )
    cycles = TreatmentCycle.objects.bulk_create(
        TreatmentCycle(
            patient=p,
            protocol=protocol,
            number=1,
            plan=TreatmentCycle.Plan.NATURAL,
            planned_event_on=et,
            weight_kg=Decimal("60.0"),
            weighed_on=et - dt.timedelta(days=10),
        )
        for p in patients
    )
    doses = []
    for cycle in cycles:
        for sequence, (phase, due_from) in enumerate(
            [
                ("induction", et - dt.timedelta(days=10)),
                ("maintenance", today + dt.timedelta(days=3)),
                ("maintenance", today + dt.timedelta(days=31)),
            ],
            start=1,
        ):
            doses.append(
                PlannedDose(
                    cycle=cycle,
                    sequence=sequence,
                    phase=phase,
                    route="ivig",
                    due_from=due_from,
                    due_until=due_from + dt.timedelta(days=5 if sequence == 1 else 8),
                    dose_g=Decimal("40"),
                )
            )
    PlannedDose.objects.bulk_create(doses)
    Infusion.objects.bulk_create(
        Infusion(
            cycle=cycle,
            given_on=et - dt.timedelta(days=7),
            route="ivig",
            product=product,
            dose_g=Decimal("40"),
            weight_kg=Decimal("60.0"),
        )
        for cycle in cycles
    )
    pregnancies = Pregnancy.objects.bulk_create(
        Pregnancy(
            patient=cycle.patient,
            cycle=cycle,
            conception=Pregnancy.Conception.NATURAL,
            dating=Pregnancy.Dating.LMP,
            lmp_on=lmp_on,
            confirmed_on=et + dt.timedelta(days=23),
        )
        for cycle in cycles
    )
    FollowUpVisit.objects.bulk_create(
        visit
        for pregnancy in pregnancies
        for visit in (
            FollowUpVisit(
                pregnancy=pregnancy,
                kind="antenatal",
                due_from=today - dt.timedelta(days=40),
                due_until=today - dt.timedelta(days=20),
                status="done",
                done_on=today - dt.timedelta(days=30),
            ),
            FollowUpVisit(
                pregnancy=pregnancy,
                kind="antenatal",
                due_from=today - dt.timedelta(days=5),
                due_until=today + dt.timedelta(days=9),
            ),
        )
    )
