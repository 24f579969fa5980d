"""Who may see what: the sites a user works at and whether identifiers are shown.

Every list, form, export and endpoint scopes its queryset through these selectors.
"""

from django.db.models import QuerySet

from registry.models import Patient, Site


def sees_all_sites(user) -> bool:
    return user.is_superuser or user.has_perm("registry.view_all_sites")


def sites_for(user) -> QuerySet[Site]:
    if not user.is_authenticated:
        return Site.objects.none()
    if sees_all_sites(user):
        return Site.objects.all()
    return Site.objects.filter(memberships__user=user)


def scope(queryset: QuerySet, user, site_path: str) -> QuerySet:
    """Narrow `queryset` to rows whose site (reached through `site_path`) the user works at."""
    if not user.is_authenticated:
        return queryset.none()
    if sees_all_sites(user):
        return queryset
    return queryset.filter(**{f"{site_path}__memberships__user": user})


def patients_for(user) -> QuerySet[Patient]:
    return scope(Patient.objects.all(), user, "site")


def can_view_identifiers(user) -> bool:
    return user.is_authenticated and user.has_perm("registry.view_identifiers")
