"""The admin page for importing a cohort: upload, see what would be imported, then import.

"Check" runs the import as a dry run and shows every problem, or what the file would add;
"Import" checks again and writes, all or nothing. The file is uploaded for each step rather
than kept between them, so nothing is written outside the database.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from analytics.classification import TABLES
from outcomes.imports import cohort_import
from registry.models import Patient

# Importing adds rows to every clinical table, so it takes the right to add each of them.
IMPORT_PERMISSIONS = [
    f"{table.model._meta.app_label}.add_{table.model._meta.model_name}" for table in TABLES
]
PREVIEW_STUDY_IDS = 50


def may_import(user) -> bool:
    return user.is_authenticated and user.has_perms(IMPORT_PERMISSIONS)


class CohortImportForm(forms.Form):
    archive = forms.FileField(
        label="Zip file",
        help_text="In the identified export format: one CSV per table, as export_cohort writes.",
    )


def cohort_import_page(request):
    if not may_import(request.user):
        raise PermissionDenied("Importing needs the right to add every kind of clinical record.")
    form = CohortImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["archive"]
        report = cohort_import(
            archive=upload,
            dry_run="import" not in request.POST,
            user=request.user,
            file_name=upload.name,
        )
        if report.written:
            messages.success(request, report.summary())
    context = {
        **admin.site.each_context(request),
        "opts": Patient._meta,
        "title": "Import a cohort",
        "form": form,
        "report": report,
        "counts": [(table.file_name, report.row_counts.get(table.name, 0)) for table in TABLES]
        if report
        else [],
        "study_ids": report.study_ids[:PREVIEW_STUDY_IDS] if report else [],
        "more_study_ids": max(0, len(report.study_ids) - PREVIEW_STUDY_IDS) if report else 0,
    }
    return TemplateResponse(request, "admin/outcomes/cohort_import.html", context)
