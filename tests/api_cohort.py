"""A small two-site cohort with one row of every kind the API serves, and clients for the cast.

Each site has one patient with the whole chain: consents, an immune test, a cycle with a planned
dose and an infusion, three transfers (one with a finished pregnancy, one with an ongoing
pregnancy, one without), a visit, an outcome, an infant and an adverse event. The patient at
site A carries sentinel identifiers, so a test can look for them in any response.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analytics.evidence import read_studies_csv
from analytics.services import published_studies_load
from registry.models import PlannedDose
from tests.factories import (
    AdverseEventFactory,
    ConsentFactory,
    CycleFactory,
    ImmuneTestFactory,
    InfantFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    PregnancyFactory,
    ProductFactory,
    ProtocolFactory,
    TransferFactory,
    VisitFactory,
)

SENTINELS = {
    "given_name": "Zebulona",
    "family_name": "Quillfeather",
    "mrn": "MRN-SENT-4471",
    "date_of_birth": dt.date(1987, 3, 29),
    "email": "zebulona.q@example.org",
    "phone": "+1-555-0199",
    "address": "17 Sentinel Lane",
}
SENTINEL_TEXTS = [
    value.isoformat() if isinstance(value, dt.date) else value for value in SENTINELS.values()
]

# Endpoint name (the URL's path segment) -> the attribute of `SiteRows` it serves.
ENDPOINTS = {
    "patients": "patient",
    "consents": "consent",
    "immune-tests": "immune_test",
    "cycles": "cycle",
    "planned-doses": "planned_dose",
    "infusions": "infusion",
    "transfers": "free_transfer",
    "pregnancies": "pregnancy",
    "visits": "visit",
    "outcomes": "outcome",
    "infants": "infant",
    "adverse-events": "adverse_event",
}


@dataclass
class SiteRows:
    site: object
    patient: object
    consent: object  # a second consent, which no infusion depends on
    immune_test: object
    cycle: object
    planned_dose: object
    infusion: object
    free_transfer: object  # no pregnancy yet
    pregnancy: object  # finished: has an outcome, a visit and an infant
    ongoing_pregnancy: object  # no outcome yet
    visit: object
    outcome: object
    infant: object
    adverse_event: object


def site_rows(site, **identifiers) -> SiteRows:
    patient = PatientFactory(site=site, **identifiers)
    ConsentFactory(patient=patient, version="v1")
    cycle = CycleFactory(patient=patient, number=1, protocol=ProtocolFactory())
    planned_dose = PlannedDose.objects.create(
        cycle=cycle,
        sequence=1,
        phase=PlannedDose.Phase.INDUCTION,
        route="ivig",
        due_from=dt.date(2025, 2, 21),
        due_until=dt.date(2025, 2, 26),
        dose_g=Decimal("40"),
    )
    infusion = InfusionFactory(cycle=cycle, planned_dose=planned_dose, product=ProductFactory())
    finished = PregnancyFactory(transfer__cycle=cycle)
    ongoing = PregnancyFactory(
        transfer__cycle=cycle,
        transfer__transferred_on=dt.date(2025, 9, 1),
        confirmed_on=dt.date(2025, 9, 24),
    )
    return SiteRows(
        site=site,
        patient=patient,
        consent=ConsentFactory(patient=patient, version="v2", signed_on=dt.date(2025, 2, 1)),
        immune_test=ImmuneTestFactory(patient=patient),
        cycle=cycle,
        planned_dose=planned_dose,
        infusion=infusion,
        free_transfer=TransferFactory(cycle=cycle, transferred_on=dt.date(2025, 12, 1)),
        pregnancy=finished,
        ongoing_pregnancy=ongoing,
        visit=VisitFactory(pregnancy=finished),
        outcome=OutcomeFactory(pregnancy=finished),
        infant=InfantFactory(pregnancy=finished),
        adverse_event=AdverseEventFactory(patient=patient, infusion=infusion),
    )


@dataclass
class Cohort:
    a: SiteRows
    b: SiteRows


def build_cohort(site_a, site_b) -> Cohort:
    return Cohort(a=site_rows(site_a, **SENTINELS), b=site_rows(site_b))


def load_published_studies() -> None:
    """The eight controlled studies of seed 003, as `make run` loads them."""
    csv = Path(settings.BASE_DIR) / "fixtures" / "published_ivig_rpl_immune.csv"
    published_studies_load(studies=read_studies_csv(csv))


def token_client(user) -> APIClient:
    """A client as another program would be: a token in the Authorization header."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
