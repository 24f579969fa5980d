"""The three roles as Django groups, with their permissions.

Kept in code and synced after every migrate (and by `manage.py sync_roles`), so a new model's
permissions reach the roles without anyone clicking through the admin.
"""

from django.contrib.auth.models import Group, Permission

CLINIC_STAFF = "Clinic staff"
INVESTIGATOR = "Investigator"
RESEARCHER = "Researcher"

# Models clinic staff enter data into.
CLINICAL_MODELS = {
    "registry": ["patient", "consent", "immunetest", "treatmentcycle", "planneddose", "infusion"],
    "outcomes": [
        "embryotransfer",
        "pregnancy",
        "followupvisit",
        "pregnancyoutcome",
        "infant",
        "adverseevent",
    ],
}
# Reference data: protocols and products.
PROTOCOL_MODELS = {"registry": ["protocol", "maintenancephase", "product", "site"]}
# Published evidence: researchers and investigators keep it up to date as studies appear.
EVIDENCE_MODELS = {"analytics": ["publishedstudy"]}
# The record of cohort exports: each role reads its own (analytics/export_admin.py scopes it).
EXPORT_MODELS = {"analytics": ["exportrecord"]}


def _codenames(models: dict[str, list[str]], actions: list[str]) -> set[tuple[str, str]]:
    return {
        (app, f"{action}_{model}")
        for app, names in models.items()
        for model in names
        for action in actions
    }


def _staff() -> set[tuple[str, str]]:
    perms = _codenames(CLINICAL_MODELS, ["view", "add", "change", "delete"])
    perms.discard(("registry", "delete_patient"))  # a patient is withdrawn, not deleted
    perms |= _codenames(PROTOCOL_MODELS, ["view"])
    perms |= _codenames(EVIDENCE_MODELS, ["view"])
    perms |= _codenames(EXPORT_MODELS, ["view"])
    perms.add(("registry", "view_identifiers"))
    return perms


def _investigator() -> set[tuple[str, str]]:
    perms = _codenames(CLINICAL_MODELS, ["view"])
    perms |= _codenames(PROTOCOL_MODELS, ["view", "add", "change"])
    perms |= _codenames(EVIDENCE_MODELS, ["view", "add", "change"])
    perms |= _codenames(EXPORT_MODELS, ["view"])
    perms.discard(("registry", "add_site"))
    perms.add(("registry", "view_identifiers"))
    return perms


def _researcher() -> set[tuple[str, str]]:
    perms = _codenames(CLINICAL_MODELS, ["view"])
    perms |= _codenames(PROTOCOL_MODELS, ["view"])
    perms |= _codenames(EVIDENCE_MODELS, ["view", "add", "change"])
    perms |= _codenames(EXPORT_MODELS, ["view"])
    perms.add(("registry", "view_all_sites"))
    return perms


ROLE_PERMISSIONS = {CLINIC_STAFF: _staff, INVESTIGATOR: _investigator, RESEARCHER: _researcher}


def sync_groups() -> dict[str, int]:
    """Create the groups and set exactly their permissions; returns permissions per group."""
    counts = {}
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        pairs = wanted()
        perms = [
            perm
            for perm in Permission.objects.select_related("content_type")
            if (perm.content_type.app_label, perm.codename) in pairs
        ]
        missing = pairs - {(p.content_type.app_label, p.codename) for p in perms}
        if missing:
            raise RuntimeError(f"permissions missing for {name}: {sorted(missing)}")
        group.permissions.set(perms)
        counts[name] = len(perms)
    return counts


def sync_groups_after_migrate(sender, **kwargs):
    # Permissions of every app must exist first; post_migrate order between apps is not fixed.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    sync_groups()
