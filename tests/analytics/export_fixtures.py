"""A small cohort that fills every exported table, for the export and import tests.

Study IDs are fixed so rows sort the same every run (the tests name rows by number). Every free
text and identifier carries a sentinel the leak test searches for.
"""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

from analytics.classification import TABLES, ExportProfile
from analytics.exports import ExportFilters, export_chunks, export_record_start
from analytics.models import ExportRecord
from outcomes.models import AdverseEvent, FollowUpVisit, Pregnancy, PregnancyOutcome
from registry.models import Patient
from tests.factories import (
    ENROLLED_ON,
    TRANSFER_ON,
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
    TransferFactory,
    VisitFactory,
)

SENTINELS = {
    "given_name": "Zebulona",
    "family_name": "Quillfeather",
    "mrn": "MRN-SENT-4471",
    "email": "zebulona.q@sentinel.example.org",
    "phone": "+1-555-0199",
    "address": "12 Sentinel Lane, Montreal",
    "comorbidities": "SENTINEL-COMORBIDITY asthma",
    "eligibility_override_reason": "SENTINEL-OVERRIDE discussed with Dr Quillfeather",
}
LOT_NUMBER = "LOT-SENT-77"  # a quasi-identifier rather than free text, but no less a sentinel
FREE_TEXT_SENTINELS = [
    "SENTINEL-REASON",
    LOT_NUMBER,
    "SENTINEL-VISIT-NOTE",
    "SENTINEL-COMPLICATION",
    "SENTINEL-ANOMALY",
    "SENTINEL-TERM",
    "SENTINEL-AE-DESCRIPTION",
]
BORN_ON = dt.date(1961, 3, 14)
NONAGENARIAN_BORN_ON = dt.date(1931, 2, 10)
OVERRIDDEN_AT = dt.datetime(2025, 1, 5, 15, 30, 12, 345678, tzinfo=dt.UTC)

STUDY_ID_TREATED = "MTL-2AAAAA"  # every table
STUDY_ID_SCREENED = "MTL-3BBBBB"  # screening only, aged 90+: index date is screening
STUDY_ID_WITHDRAWN = "MTL-4CCCCC"  # enrolled, untreated, withdrawn: index date is enrolment
STUDY_ID_OTHER_SITE = "CPH-5DDDDD"


def seed_export_cohort(site_a, site_b) -> dict[str, Patient]:
    product = ProductFactory()
    treated = PatientFactory(
        site=site_a,
        study_id=STUDY_ID_TREATED,
        date_of_birth=BORN_ON,
        eligibility_overridden_at=OVERRIDDEN_AT,
        **SENTINELS,
    )
    ConsentFactory(patient=treated, version="v1", signed_on=ENROLLED_ON)
    ConsentFactory(
        patient=treated,
        version="v2",
        signed_on=ENROLLED_ON + dt.timedelta(days=3),
        withdrawn_on=ENROLLED_ON + dt.timedelta(days=400),
    )
    ImmuneTestFactory(patient=treated)
    ImmuneTestFactory(
        patient=treated, analyte="ana", value=None, unit="", abnormal=False, tested_on=ENROLLED_ON
    )

    cycle = CycleFactory(patient=treated, number=1)
    first_dose, second_dose = (
        cycle.planned.create(
            sequence=sequence,
            phase=phase,
            route="ivig",
            due_from=due_from,
            due_until=due_from + dt.timedelta(days=5),
            dose_g=Decimal("40.00"),
        )
        for sequence, phase, due_from in [
            (1, "induction", TRANSFER_ON - dt.timedelta(days=10)),
            (2, "maintenance", TRANSFER_ON + dt.timedelta(days=18)),
        ]
    )
    induction = InfusionFactory(
        cycle=cycle, planned_dose=first_dose, product=product, lot_number=LOT_NUMBER
    )
    # Two doses on one day: their keys are told apart by entry order, which the import keeps.
    InfusionFactory(cycle=cycle, planned_dose=second_dose, given_on=TRANSFER_ON + dt.timedelta(20))
    InfusionFactory(cycle=cycle, given_on=TRANSFER_ON + dt.timedelta(20), dose_g=Decimal("20"))
    transfer = TransferFactory(cycle=cycle, embryo_quality="4AA")
    pregnancy = PregnancyFactory(transfer=transfer)
    VisitFactory(pregnancy=pregnancy)
    VisitFactory(
        pregnancy=pregnancy,
        due_from=TRANSFER_ON + dt.timedelta(days=190),
        due_until=TRANSFER_ON + dt.timedelta(days=210),
        status=FollowUpVisit.Status.DONE,
        done_on=TRANSFER_ON + dt.timedelta(days=200),
        notes="SENTINEL-VISIT-NOTE",
    )
    OutcomeFactory(
        pregnancy=pregnancy,
        delivery_mode=PregnancyOutcome.Delivery.CAESAREAN,
        preterm_labour=True,
        complications="SENTINEL-COMPLICATION",
    )
    InfantFactory(pregnancy=pregnancy, birth_order=1, birth_weight_g=2690)
    InfantFactory(
        pregnancy=pregnancy,
        birth_order=2,
        sex="male",
        birth_weight_g=2450,
        anomalies="SENTINEL-ANOMALY",
        nicu_admission=True,
    )
    AdverseEventFactory(patient=treated, infusion=induction, onset_on=induction.given_on)
    AdverseEventFactory(
        patient=treated,
        pregnancy=pregnancy,
        term=AdverseEvent.Term.OTHER,
        term_other="SENTINEL-TERM",
        grade=4,
        serious=True,
        relatedness=AdverseEvent.Relatedness.UNLIKELY,
        onset_on=induction.given_on,
        resolved_on=induction.given_on + dt.timedelta(days=2),
        description="SENTINEL-AE-DESCRIPTION",
    )
    natural = CycleFactory(
        patient=treated, number=2, plan="natural", planned_event_on=dt.date(2026, 1, 15)
    )
    lmp_on = dt.date(2026, 1, 1)
    Pregnancy.objects.create(
        patient=treated,
        cycle=natural,
        conception=Pregnancy.Conception.NATURAL,
        dating=Pregnancy.Dating.LMP,
        lmp_on=lmp_on,
        confirmed_on=lmp_on + dt.timedelta(days=40),
    )

    screened = PatientFactory(
        site=site_a,
        study_id=STUDY_ID_SCREENED,
        date_of_birth=NONAGENARIAN_BORN_ON,
        status=Patient.Status.SCREENING,
        enrolled_on=None,
    )
    withdrawn = PatientFactory(
        site=site_a,
        study_id=STUDY_ID_WITHDRAWN,
        status=Patient.Status.WITHDRAWN,
        status_changed_on=ENROLLED_ON + dt.timedelta(days=30),
        status_reason="SENTINEL-REASON moved away",
    )
    other = PatientFactory(site=site_b, study_id=STUDY_ID_OTHER_SITE)
    other_cycle = CycleFactory(patient=other, number=1)
    InfusionFactory(cycle=other_cycle)
    OutcomeFactory(pregnancy=PregnancyFactory(transfer=TransferFactory(cycle=other_cycle)))
    return {
        "treated": treated,
        "screened": screened,
        "withdrawn": withdrawn,
        "other": other,
    }


def export_zip(
    profile: ExportProfile = ExportProfile.IDENTIFIED,
    filters: ExportFilters | None = None,
    user=None,
) -> bytes:
    record = export_record_start(
        user=user,
        profile=profile,
        filters=filters or ExportFilters(),
        source=ExportRecord.Source.COMMAND,
    )
    return b"".join(export_chunks(record=record))


def members(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def read_csv(zip_bytes: bytes, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(members(zip_bytes)[name].decode())))


def rewrite_csv(zip_bytes: bytes, name: str, change) -> bytes:
    """The zip with one CSV replaced by `change(rows)`, rows being lists of cells, header first."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member, data in members(zip_bytes).items():
            if member == name:
                rows = change(list(csv.reader(io.StringIO(data.decode()))))
                text = io.StringIO()
                csv.writer(text, lineterminator="\n").writerows(rows)
                data = text.getvalue().encode()
            target.writestr(member, data)
    return out.getvalue()


def set_cell(name: str, row: int, column: str, value: str):
    """A change for rewrite_csv: one cell, the row numbered as a spreadsheet shows it."""

    def change(rows):
        rows[row - 1][rows[0].index(column)] = value
        return rows

    return name, change


def clinical_row_counts() -> dict[str, int]:
    return {table.name: table.model.objects.count() for table in TABLES}


def delete_cohort():
    """Empty the registry of patients (reference data stays), as a new installation is."""
    Patient.objects.all().delete()
    assert not any(clinical_row_counts().values())
