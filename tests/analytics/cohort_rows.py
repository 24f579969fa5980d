"""Hand-written rows for analytics.cohort: one dict per patient, transfer, pregnancy, infant or
adverse event, with defaults a reader need not repeat. No database."""

import datetime as dt

from analytics.cohort import CohortFrames
from outcomes import gestation

ENROLLED_ON = dt.date(2024, 1, 8)
TRANSFER_ON = dt.date(2024, 3, 4)


def patient(patient_id: int, **values) -> dict:
    """A completed, treated (one IVIg infusion of 700 mg/kg) RPL patient at MTL."""
    return {
        "patient_id": patient_id,
        "site_code": "MTL",
        "indication": "rpl",
        "status": "completed",
        "enrolled_on": ENROLLED_ON,
        "protocol_code": "seed-000",
        "infusions": 1,
        "infusions_ivig": 1,
        "infusions_scig": 0,
        "first_infusion_on": TRANSFER_ON - dt.timedelta(days=7),
        "first_ivig_dose_g": "42.00",
        "first_ivig_weight_kg": "60.0",
        "nk_percent": 10.0,
        **values,
    }


def untreated(patient_id: int, **values) -> dict:
    return patient(
        patient_id,
        infusions=0,
        infusions_ivig=0,
        first_infusion_on=None,
        first_ivig_dose_g=None,
        first_ivig_weight_kg=None,
        **values,
    )


def transfer(transfer_id: int, patient_id: int, result: str, *, days_after: int = 0) -> dict:
    """A transfer `days_after` the first transfer date of every patient."""
    return {
        "transfer_id": transfer_id,
        "patient_id": patient_id,
        "transferred_on": TRANSFER_ON + dt.timedelta(days=days_after),
        "result": result,
    }


def pregnancy(
    pregnancy_id: int,
    patient_id: int,
    *,
    transfer_id: int | None = None,
    outcome: str | None = "live_birth",
    ga_days: int = gestation.ga_from_weeks(39),
    fetuses: int = 1,
    transferred_on: dt.date = TRANSFER_ON,
) -> dict:
    """A day-5 transfer pregnancy ending at `ga_days` in `outcome` (None: still going on)."""
    lmp_on = gestation.lmp_from_transfer(transferred_on, 5)
    return {
        "pregnancy_id": pregnancy_id,
        "patient_id": patient_id,
        "transfer_id": transfer_id,
        "lmp_on": lmp_on,
        "fetuses": fetuses,
        "outcome_kind": outcome,
        "ended_on": gestation.date_at_ga(lmp_on, ga_days) if outcome else None,
    }


def infant(pregnancy_id: int, *, birth_weight_g: int = 3400, live_born: bool = True) -> dict:
    return {"pregnancy_id": pregnancy_id, "birth_weight_g": birth_weight_g, "live_born": live_born}


def adverse_event(patient_id: int, term: str = "headache", **values) -> dict:
    return {
        "patient_id": patient_id,
        "term": term,
        "grade": 1,
        "serious": False,
        "infusion_route": "ivig",
        **values,
    }


def frames(**rows) -> CohortFrames:
    return CohortFrames.from_records(**rows)
