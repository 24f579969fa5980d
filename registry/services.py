"""Writes that span rows or need a rule: the one way in for admin, API, import and commands."""

import datetime as dt

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


def patient_sign_eligibility_override(*, patient: Patient, user, at: dt.datetime) -> Patient:
    """Sign the override reason on the patient with who gave it and when, or clear the signature
    with the reason.

    Only sets the fields: the caller saves them with the rest of its changes, so the audit trail
    holds one event with the reason, the user and the time together (the database refuses a
    reason without its time). The caller has checked that an override is due (ConsentFormSet).
    """
    if patient.eligibility_override_reason.strip():
        patient.eligibility_overridden_by = user
        patient.eligibility_overridden_at = at
    else:
        patient.eligibility_override_reason = ""
        patient.eligibility_overridden_by = None
        patient.eligibility_overridden_at = None
    return patient
