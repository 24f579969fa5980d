"""Writes that span rows or need a rule: the one way in for admin, API, import and commands."""

from django.db import IntegrityError, transaction

from registry import study_ids
from registry.models import Patient

STUDY_ID_ATTEMPTS = 20


def patient_assign_study_id(patient: Patient) -> Patient:
    """Save a new patient under a fresh random study ID, drawing again on a collision."""
    for _ in range(STUDY_ID_ATTEMPTS):
        patient.study_id = study_ids.new_study_id(patient.site.code)
        try:
            with transaction.atomic():
                patient.save()
        except IntegrityError as exc:
            if "study_id" not in str(exc):
                raise
            continue
        return patient
    raise RuntimeError(f"no free study ID for site {patient.site.code} after {STUDY_ID_ATTEMPTS}")
