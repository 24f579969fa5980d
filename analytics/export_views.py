"""The export's two ways in over HTTP: an admin page with a form, and a streaming download.

`cohort_export_response` is the one function both call; the REST API can call it too (with
source "api"), so permissions, site scoping and the export record are the same everywhere.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse

from analytics.classification import ExportProfile
from analytics.exports import (
    ExportFilters,
    export_authorise,
    export_chunks,
    export_file_name,
    export_profiles_for,
    export_record_start,
)
from analytics.models import ExportRecord
from registry import access
from registry.models import Site


class CohortExportForm(forms.Form):
    """Every profile and site is a valid choice, so that asking for one you may not have is
    refused as such (403), not as a typing error; the page offers only what you may have."""

    profile = forms.ChoiceField(choices=ExportProfile.choices, initial=ExportProfile.DEIDENTIFIED)
    site = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every site you may see.",
    )
    enrolled_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Included."
    )
    enrolled_until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Included."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [
            (code, code) for code in Site.objects.values_list("code", flat=True)
        ]
        allowed_profiles = export_profiles_for(user)
        self.fields["profile"].widget.choices = [
            (profile.value, profile.label) for profile in allowed_profiles
        ]
        self.fields["site"].widget.choices = [
            (site.code, str(site)) for site in access.sites_for(user).order_by("code")
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("enrolled_from"), cleaned.get("enrolled_until")
        if start and end and end < start:
            self.add_error("enrolled_until", "Enrolled until must be on or after enrolled from.")
        return cleaned

    def export_request(self) -> tuple[ExportProfile, ExportFilters]:
        data = self.cleaned_data
        filters = ExportFilters(
            site_codes=tuple(sorted(data["site"])),
            enrolled_from=data["enrolled_from"],
            enrolled_until=data["enrolled_until"],
        )
        return ExportProfile(data["profile"]), filters


def cohort_export_response(
    *, user, profile: ExportProfile, filters: ExportFilters, source: str
) -> StreamingHttpResponse:
    """The zip as a streamed download; PermissionDenied (403) when `user` may not have it."""
    filters = export_authorise(user=user, profile=profile, filters=filters)
    record = export_record_start(user=user, profile=profile, filters=filters, source=source)
    response = StreamingHttpResponse(export_chunks(record=record), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(record)}"'
    # Patient data: never kept by a browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


def _require_export_rights(request):
    if not export_profiles_for(request.user):
        raise PermissionDenied("You may not export cohort data.")


def cohort_export_page(request):
    """Choose profile, sites and enrolment period; submitting downloads the zip."""
    _require_export_rights(request)
    form = CohortExportForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        profile, filters = form.export_request()
        return cohort_export_response(
            user=request.user, profile=profile, filters=filters, source=ExportRecord.Source.ADMIN
        )
    context = {
        **admin.site.each_context(request),
        "opts": ExportRecord._meta,
        "title": "Export the cohort",
        "form": form,
        "profiles": export_profiles_for(request.user),
    }
    return TemplateResponse(request, "admin/analytics/cohort_export.html", context)


def cohort_export_download(request):
    """GET ?profile=...&site=MTL&site=CPH&enrolled_from=YYYY-MM-DD&enrolled_until=...: the zip.

    For scripts and the API; the same checks and the same record as the page.
    """
    _require_export_rights(request)
    form = CohortExportForm(request.GET, user=request.user)
    if not form.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()
        )
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    profile, filters = form.export_request()
    return cohort_export_response(
        user=request.user, profile=profile, filters=filters, source=ExportRecord.Source.API
    )
