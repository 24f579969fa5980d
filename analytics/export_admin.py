"""The record of every export, read only: each user sees their own, a superuser everyone's.

Registered from analytics/admin.py. The list page links to the export and import pages.
"""

from django.contrib import admin
from django.urls import reverse

from analytics.classification import TABLES
from analytics.models import ExportRecord
from outcomes.import_views import may_import


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "username",
        "source",
        "profile",
        "sites",
        "enrolment_period",
        "finished_at",
        "rows",
    ]
    list_filter = ["profile", "source"]
    list_select_related = ["user"]
    change_list_template = "admin/analytics/exportrecord/change_list.html"
    readonly_fields = [
        "started_at",
        "finished_at",
        "user",
        "username",
        "source",
        "profile",
        "filters",
        "row_counts",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        records = super().get_queryset(request)
        if request.user.is_superuser:
            return records
        return records.filter(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="sites")
    def sites(self, record):
        return ", ".join(record.filters.get("sites") or []) or "all"

    @admin.display(description="enrolled")
    def enrolment_period(self, record):
        start = record.filters.get("enrolled_from") or ""
        end = record.filters.get("enrolled_until") or ""
        return f"{start} to {end}" if start or end else "any time"

    @admin.display(description="rows")
    def rows(self, record):
        if record.finished_at is None:
            return "not finished"
        return sum(record.row_counts.get(table.name, 0) for table in TABLES)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "export_url": reverse("cohort_export"),
            "import_url": reverse("cohort_import") if may_import(request.user) else "",
        }
        return super().changelist_view(request, extra_context)
