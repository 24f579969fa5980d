"""Reading the audit trail of one patient: every event on her rows and her children's rows."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from pghistory.models import Events

from registry.models import IDENTIFIER_FIELDS, Patient

HIDDEN = "(hidden)"


@dataclass(frozen=True)
class AuditEntry:
    created_at: object
    label: str
    model: str
    object_id: str
    user: str
    reason: str
    changes: dict  # field -> [old, new] for updates; field -> value for inserts and deletes


def _related_objects(patient: Patient) -> list:
    cycles = list(patient.cycles.all())
    pregnancies = list(patient.pregnancies.all())
    return [patient, *cycles, *pregnancies]


def patient_events(patient: Patient, *, show_identifiers: bool) -> list[AuditEntry]:
    """Events on the patient row and every row that points to her, her cycles or pregnancies."""
    events = list(
        Events.objects.references(_related_objects(patient)).order_by("pgh_created_at", "pgh_id")
    )
    user_ids = {e.pgh_context.get("user") for e in events if e.pgh_context}
    users = get_user_model().objects.in_bulk([u for u in user_ids if u is not None])
    entries = []
    for event in events:
        context = event.pgh_context or {}
        changes = event.pgh_diff if event.pgh_diff is not None else event.pgh_data
        if event.pgh_obj_model == "registry.Patient" and not show_identifiers:
            changes = {
                field: HIDDEN if field in IDENTIFIER_FIELDS else value
                for field, value in changes.items()
            }
        user = users.get(context.get("user"))
        entries.append(
            AuditEntry(
                created_at=event.pgh_created_at,
                label=event.pgh_label,
                model=event.pgh_obj_model.split(".")[-1],
                object_id=event.pgh_obj_id,
                user=user.get_username() if user else context.get("source", "system"),
                reason=context.get("reason", ""),
                changes=changes,
            )
        )
    return entries
