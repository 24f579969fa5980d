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


def _events(patient: Patient) -> list:
    """Events on the patient row and every row that points to her, her cycles or pregnancies.

    pghistory's references() takes objects of one model at a time: one query per parent model.
    """
    parents = [[patient], list(patient.cycles.all()), list(patient.pregnancies.all())]
    seen, events = set(), []
    for objs in parents:
        if not objs:
            continue
        for event in Events.objects.references(objs):
            if event.pgh_slug not in seen:
                seen.add(event.pgh_slug)
                events.append(event)
    return sorted(events, key=lambda e: (e.pgh_created_at, e.pgh_model, e.pgh_id))


def patient_events(patient: Patient, *, show_identifiers: bool) -> list[AuditEntry]:
    events = _events(patient)
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
