"""A small cohort for the monthly report and alert tests, June 2025 seen from 1 July 2025.

At MTL, Zebedea Quarrington (every identifier a sentinel the tests search for) is pregnant after
a transfer in March: an infusion and a serious adverse event in June, a follow-up visit that
fell due in June and was not done (overdue, and a protocol deviation of June), and a
maintenance dose due in July. At CPH, Ottoline Vandersteen had an uneventful live birth. ivan
investigates at MTL, ian at CPH; rita is a researcher (every site, no identifiers).
"""

import datetime as dt
from decimal import Decimal

from analytics.models import ReportLevel, ReportSubscription
from outcomes.models import AdverseEvent, FollowUpVisit
from registry import roles
from tests.factories import (
    AdverseEventFactory,
    CycleFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    PregnancyFactory,
    ProductFactory,
    TransferFactory,
    VisitFactory,
    make_user,
)

PERIOD = "2025-06"
PERIOD_START = dt.date(2025, 6, 1)
REPORT_DAY = dt.date(2025, 7, 1)
SENTINELS = {
    "given_name": "Zebedea",
    "family_name": "Quarrington",
    "mrn": "MRN-RPT-5150",
    "email": "zebedea.q@sentinel.example.org",
    "phone": "+1-555-0142",
    "address": "7 Sentinel Row, Montreal",
}
BIRTH_DATE = dt.date(1987, 3, 9)
FREE_TEXT = ["SENTINEL-SAE-NOTE", "SENTINEL-OTHER-TERM"]
OTHER_SITE_NAME = "Vandersteen"
OTHER_SITE_MRN = "MRN-CPH-7070"


def identifiers_of_mtl_patient() -> list[str]:
    return [*SENTINELS.values(), BIRTH_DATE.isoformat()]


def report_cohort(cast, site_a, site_b) -> dict:
    product = ProductFactory()
    patient = PatientFactory(site=site_a, date_of_birth=BIRTH_DATE, **SENTINELS)
    cycle = CycleFactory(patient=patient, number=1)
    InfusionFactory(cycle=cycle, product=product)
    pregnancy = PregnancyFactory(transfer=TransferFactory(cycle=cycle))
    june_infusion = InfusionFactory(
        cycle=cycle, product=product, given_on=dt.date(2025, 6, 5), dose_g=Decimal("40")
    )
    VisitFactory(
        pregnancy=pregnancy,
        due_from=dt.date(2025, 6, 2),
        due_until=dt.date(2025, 6, 20),
        status=FollowUpVisit.Status.DUE,
    )
    cycle.planned.create(
        sequence=9,
        phase="maintenance",
        route="ivig",
        due_from=dt.date(2025, 7, 10),
        due_until=dt.date(2025, 7, 15),
        dose_g=Decimal("40.00"),
    )
    serious_event = AdverseEventFactory(
        patient=patient,
        infusion=june_infusion,
        pregnancy=pregnancy,
        term=AdverseEvent.Term.ANAPHYLAXIS,
        grade=4,
        serious=True,
        relatedness=AdverseEvent.Relatedness.PROBABLE,
        onset_on=dt.date(2025, 6, 5),
        action_taken=AdverseEvent.Action.HOSPITALISED,
        description=FREE_TEXT[0],
    )

    other = PatientFactory(
        site=site_b, given_name="Ottoline", family_name=OTHER_SITE_NAME, mrn=OTHER_SITE_MRN
    )
    other_cycle = CycleFactory(patient=other, number=1)
    InfusionFactory(cycle=other_cycle, product=product)
    OutcomeFactory(pregnancy=PregnancyFactory(transfer=TransferFactory(cycle=other_cycle)))

    ivan, rita = cast["ivan"], cast["rita"]
    ian = make_user("ian", role=roles.INVESTIGATOR, sites=[site_b])
    for user in (ivan, rita, ian):
        user.email = f"{user.username}@clinic.example.org"
        user.save(update_fields=["email"])
    return {
        "patient": patient,
        "other": other,
        "serious_event": serious_event,
        "ivan": ivan,
        "rita": rita,
        "ian": ian,
        "ivan_subscription": ReportSubscription.objects.create(
            user=ivan, level=ReportLevel.IDENTIFIED
        ),
        "rita_subscription": ReportSubscription.objects.create(
            user=rita, level=ReportLevel.DEIDENTIFIED
        ),
    }
