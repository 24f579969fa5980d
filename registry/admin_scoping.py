"""Site scoping for every admin page: lists, forms, inlines and foreign-key choices.

A model admin names the path from its model to the Site (`site_path`); everything else follows.
Another site's object is simply not in the queryset, so its URL answers "does not exist".
"""

from django.contrib import admin, messages
from django.db import IntegrityError
from django.http import HttpResponseRedirect

from registry import access
from registry.models import Patient, PlannedDose, Site, TreatmentCycle

# How to reach the site from the models that appear as foreign-key choices.
CHOICE_SITE_PATHS = {
    Site: "",
    Patient: "site",
    TreatmentCycle: "patient__site",
    PlannedDose: "cycle__patient__site",
}


def _scoped_choices(db_field, request):
    model = db_field.related_model
    if model not in CHOICE_SITE_PATHS:
        return None
    path = CHOICE_SITE_PATHS[model]
    if model is Site:
        return access.sites_for(request.user)
    queryset = model._default_manager.all()
    if model is TreatmentCycle:
        queryset = queryset.select_related("patient")
    return access.scope(queryset, request.user, path)


class ScopedChoicesMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = _scoped_choices(db_field, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedSiteFilter(admin.RelatedFieldListFilter):
    """The site filter offers only the sites the user works at."""

    def field_choices(self, field, request, model_admin):
        return [(site.pk, str(site)) for site in access.sites_for(request.user)]


class SiteScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    site_path = "patient__site"
    # A second COUNT(*) over the whole table on every page load buys nothing at 100,000 rows.
    show_full_result_count = False

    def get_queryset(self, request):
        return access.scope(super().get_queryset(request), request.user, self.site_path)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Forms check every rule they can; a trigger-enforced rule that a form could not see
        # (two inlines changed together) still ends here with its message, not a server error.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError as exc:
            messages.error(request, f"Not saved: {str(exc).splitlines()[0]}")
            return HttpResponseRedirect(request.get_full_path())


class ScopedInline(ScopedChoicesMixin):
    """Inlines are shown inside a scoped parent; only their choices need narrowing."""
