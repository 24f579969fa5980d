"""Who may call which endpoint, and which rows and fields they get back.

The same three answers as the admin, from the same places: model permissions by role
(`registry.roles`), rows by site and identifiers by permission (`registry.access`). Another site's
object is not in the queryset, so its URL answers 404, as it does in the admin.
"""

from rest_framework import permissions, serializers

from registry import access
from registry.models import IDENTIFIER_FIELDS

# How to reach the site from each model a client may name in a write (a foreign key), so the
# choices are the user's sites' rows only. Keyed by label to keep registry free of outcomes.
SITE_PATHS = {
    "registry.Site": "",
    "registry.Patient": "site",
    "registry.TreatmentCycle": "patient__site",
    "registry.PlannedDose": "cycle__patient__site",
    "registry.Infusion": "cycle__patient__site",
    "outcomes.EmbryoTransfer": "cycle__patient__site",
    "outcomes.Pregnancy": "patient__site",
}


class RolePermission(permissions.DjangoModelPermissions):
    """Reading needs the view permission too: every role that reads has it, nobody else."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # A method the endpoint does not have answers 405 to anyone logged in, rather than 403
        # to some roles and 405 to others.
        if not hasattr(view, request.method.lower()) and request.user.is_authenticated:
            return True
        return super().has_permission(request, view)


class SiteScopedMixin:
    """A viewset whose rows belong to a site through `site_path` (as in `SiteScopedAdmin`)."""

    site_path = "patient__site"

    def get_queryset(self):
        return access.scope(super().get_queryset(), self.request.user, self.site_path)


def scoped_choices(queryset, user):
    """A foreign key's choices narrowed to the sites `user` works at."""
    path = SITE_PATHS.get(queryset.model._meta.label)
    if path is None:
        return queryset
    if path == "":
        return access.sites_for(user)
    return access.scope(queryset, user, path)


class RegistrySerializer(serializers.ModelSerializer):
    """Foreign keys offer the user's sites' rows only; identifiers go to those allowed to see them."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        view = self.context.get("view")
        if request is None or getattr(view, "swagger_fake_view", False):
            return fields  # the schema documents every field, whoever asks for it
        for field in fields.values():
            related = getattr(field, "child_relation", field)
            if isinstance(related, serializers.RelatedField) and related.queryset is not None:
                related.queryset = scoped_choices(related.queryset, request.user)
        if not access.can_view_identifiers(request.user):
            for name in IDENTIFIER_FIELDS:
                fields.pop(name, None)
        return fields
