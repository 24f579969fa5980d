"""Loading the synthetic demo cohort (fixtures/demo_cohort.json) and the demo users.

Idempotent: a site, product, protocol, user or patient that already exists is left as it is, so
running it twice changes nothing. Lives in outcomes/ because it writes both apps' rows.
"""

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from outcomes import gestation
from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from registry.models import (
    Consent,
    ImmuneTest,
    Infusion,
    MaintenancePhase,
    Patient,
    Product,
    Protocol,
    Site,
    SiteMembership,
    TreatmentCycle,
)

DEMO_COHORT = Path(settings.BASE_DIR) / "fixtures" / "demo_cohort.json"

PATIENT_FIELDS = [
    "study_id",
    "given_name",
    "family_name",
    "mrn",
    "date_of_birth",
    "email",
    "phone",
    "address",
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


@dataclass
class DemoSummary:
    patients_created: int = 0
    patients_existing: int = 0
    users_created: list[str] = field(default_factory=list)


def _date(value):
    return dt.date.fromisoformat(value) if value else None


def _pick(row: dict, names: list[str]) -> dict:
    return {name: row[name] for name in names if name in row}


def _load_patient(row: dict, sites: dict, protocols: dict, products: dict) -> None:
    values = _pick(row, PATIENT_FIELDS)
    for name in ("date_of_birth", "screened_on", "enrolled_on", "status_changed_on"):
        values[name] = _date(values.get(name))
    patient = Patient.objects.create(site=sites[row["site"]], **values)
    for consent in row["consents"]:
        Consent.objects.create(
            patient=patient,
            version=consent["version"],
            signed_on=_date(consent["signed_on"]),
            withdrawn_on=_date(consent.get("withdrawn_on")),
        )
    for test in row["immune_tests"]:
        ImmuneTest.objects.create(
            patient=patient,
            analyte=test["analyte"],
            value=Decimal(test["value"]),
            unit=test["unit"],
            tested_on=_date(test["tested_on"]),
            abnormal=test["abnormal"],
        )
    infusions_by_date: dict[dt.date, Infusion] = {}
    pregnancies: list[Pregnancy] = []
    for cycle_row in row["cycles"]:
        cycle = TreatmentCycle.objects.create(
            patient=patient,
            protocol=protocols[cycle_row["protocol"]],
            number=cycle_row["number"],
            route=cycle_row["route"],
            plan=cycle_row["plan"],
            planned_event_on=_date(cycle_row["planned_event_on"]),
            weight_kg=Decimal(cycle_row["weight_kg"]),
            weighed_on=_date(cycle_row["weighed_on"]),
        )
        for infusion in cycle_row["infusions"]:
            given_on = _date(infusion["given_on"])
            infusions_by_date[given_on] = Infusion.objects.create(
                cycle=cycle,
                given_on=given_on,
                route=infusion["route"],
                product=products[infusion["product"]],
                lot_number=infusion["lot_number"],
                dose_g=Decimal(infusion["dose_g"]),
                weight_kg=Decimal(infusion["weight_kg"]),
            )
        for transfer_row in cycle_row["transfers"]:
            transfer = EmbryoTransfer.objects.create(
                cycle=cycle,
                **_pick(
                    transfer_row,
                    [
                        "kind",
                        "embryo_day",
                        "embryo_quality",
                        "good_quality",
                        "embryos_transferred",
                        "result",
                    ],
                ),
                transferred_on=_date(transfer_row["transferred_on"]),
            )
            if "pregnancy" in transfer_row:
                pregnancies.append(
                    _load_pregnancy(transfer_row["pregnancy"], patient, cycle, transfer)
                )
        if "pregnancy" in cycle_row:
            pregnancies.append(_load_pregnancy(cycle_row["pregnancy"], patient, cycle, None))
    for event in row["adverse_events"]:
        values = _pick(
            event,
            [
                "subject",
                "term",
                "grade",
                "serious",
                "relatedness",
                "action_taken",
                "resolution",
                "description",
            ],
        )
        AdverseEvent.objects.create(
            patient=patient,
            onset_on=_date(event["onset_on"]),
            resolved_on=_date(event.get("resolved_on")),
            infusion=infusions_by_date.get(_date(event.get("on_infusion_given_on"))),
            pregnancy=pregnancies[-1] if event.get("on_pregnancy") else None,
            **values,
        )


def _load_pregnancy(row: dict, patient, cycle, transfer) -> Pregnancy:
    if transfer is not None:
        lmp_on = gestation.lmp_from_transfer(transfer.transferred_on, transfer.embryo_day)
    else:
        lmp_on = _date(row["lmp_on"])
    pregnancy = Pregnancy.objects.create(
        patient=patient,
        cycle=cycle,
        transfer=transfer,
        conception=row["conception"],
        dating=row["dating"],
        lmp_on=lmp_on,
        fetuses=row["fetuses"],
        confirmed_on=_date(row["confirmed_on"]),
    )
    for visit in row["visits"]:
        FollowUpVisit.objects.create(
            pregnancy=pregnancy,
            kind=visit["kind"],
            due_from=_date(visit["due_from"]),
            due_until=_date(visit["due_until"]),
            status=visit["status"],
            done_on=_date(visit.get("done_on")),
        )
    outcome = row["outcome"]
    PregnancyOutcome.objects.create(
        pregnancy=pregnancy,
        kind=outcome["kind"],
        ended_on=_date(outcome["ended_on"]),
        delivery_mode=outcome["delivery_mode"],
        preterm_labour=outcome["preterm_labour"],
        complications=outcome["complications"],
    )
    for infant in row["infants"]:
        Infant.objects.create(pregnancy=pregnancy, **infant)
    return pregnancy


def _load_users(rows: list[dict], sites: dict, password: str) -> list[str]:
    User = get_user_model()
    created = []
    for row in rows:
        if User.objects.filter(username=row["username"]).exists():
            continue
        superuser = row["role"] == "superuser"
        user = User.objects.create_user(
            username=row["username"],
            password=password,
            is_staff=True,
            is_superuser=superuser,
        )
        if not superuser:
            user.groups.add(Group.objects.get(name=row["role"]))
        for code in row["sites"]:
            SiteMembership.objects.create(user=user, site=sites[code])
        created.append(row["username"])
    return created


def demo_password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-password.txt"


def demo_password(explicit: str | None = None) -> str:
    """The demo users' password: given, or drawn once and kept under var/ (never in git)."""
    if explicit:
        return explicit
    path = demo_password_file()
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


@transaction.atomic
def load_demo(*, path: Path = DEMO_COHORT, password: str) -> DemoSummary:
    cohort = json.loads(path.read_text())
    summary = DemoSummary()
    with pghistory.context(source="load_demo"):
        sites = {}
        for row in cohort["sites"]:
            sites[row["code"]], _ = Site.objects.get_or_create(code=row["code"], defaults=row)
        products = {}
        for row in cohort["products"]:
            products[row["name"]], _ = Product.objects.get_or_create(
                name=row["name"], defaults={**row, "vial_step_g": Decimal(row["vial_step_g"])}
            )
        protocols = {}
        for row in cohort["protocols"]:
            values = {name: value for name, value in row.items() if name != "maintenance_phases"}
            protocol, created = Protocol.objects.get_or_create(code=row["code"], defaults=values)
            if created:
                # Only with a protocol it created: an existing one may have been edited since.
                MaintenancePhase.objects.bulk_create(
                    MaintenancePhase(protocol=protocol, **phase)
                    for phase in row.get("maintenance_phases", [])
                )
            protocols[row["code"]] = protocol
        summary.users_created = _load_users(cohort["users"], sites, password)
        existing = set(
            Patient.objects.filter(
                study_id__in=[p["study_id"] for p in cohort["patients"]]
            ).values_list("study_id", flat=True)
        )
        for row in cohort["patients"]:
            if row["study_id"] in existing:
                summary.patients_existing += 1
                continue
            _load_patient(row, sites, protocols, products)
            summary.patients_created += 1
    return summary
