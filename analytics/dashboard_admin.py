"""The cohort dashboard in the admin, and the stored snapshots' list.

Investigators see their own sites; researchers (and admins) every site. The page shows counts
and rates only, never a patient, so a researcher sees nothing that identifies anyone. Whoever
may read patients (`registry.view_patient`) may read the dashboard of the sites they see.
"""

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from analytics.formatting import (
    HEADLINES,
    ROUTE_LABELS,
    comparison_row,
    number,
    p_text,
    rate_row,
)
from analytics.models import CohortDashboard, CohortSnapshot
from analytics.options import CHOICE_FILTERS, SUBGROUPS, CohortFilters
from analytics.snapshots import cohort_snapshot_compute
from registry import access


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@admin.register(CohortDashboard)
class CohortDashboardAdmin(admin.ModelAdmin):
    """The admin index's "Cohort dashboard" row opens the dashboard, not a list of rows."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.has_perm("registry.view_patient")

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Cohort dashboard",
            **dashboard_context(request),
        }
        return TemplateResponse(request, "admin/analytics/cohort_dashboard.html", context)


def dashboard_context(request) -> dict:
    user = request.user
    all_sites = access.sees_all_sites(user)
    site_codes = list(access.sites_for(user).order_by("code").values_list("code", flat=True))
    query = request.GET
    chosen_site = query.get("site", "")
    if chosen_site not in site_codes:
        chosen_site = ""
    form = {
        "site": chosen_site,
        "protocol": query.get("protocol", ""),
        "enrolled_from": query.get("enrolled_from", ""),
        "enrolled_until": query.get("enrolled_until", ""),
    }
    for name, _, choices in CHOICE_FILTERS:
        value = query.get(name, "")
        form[name] = value if value in {key for key, _ in choices} else ""
    context = {
        "site_codes": site_codes,
        "all_sites": all_sites,
        "form": form,
        "choice_filters": [
            {"name": name, "label": label, "choices": choices, "value": form[name]}
            for name, label, choices in CHOICE_FILTERS
        ],
    }
    if not site_codes:
        context["error"] = "You work at no site yet: an administrator adds your sites."
        return context
    # Everyone but a whole-registry reader is held to their own sites.
    sites = [chosen_site] if chosen_site else ([] if all_sites else site_codes)
    filters = CohortFilters.from_json(
        {
            "sites": sites,
            "protocol": form["protocol"],
            "route": form["route"],
            "indication": form["indication"],
            "nk": form["nk"],
            "start": form["start"],
            "dose_band": form["dose_band"],
            "enrolled_from": _date(form["enrolled_from"]),
            "enrolled_until": _date(form["enrolled_until"]),
        }
    )
    # matplotlib loads when a figure is drawn, not with the admin (analytics.options).
    from analytics.cohort_figures import (
        adverse_events_figure,
        cumulative_live_birth_figure,
        subgroup_figure,
    )
    from analytics.forest import figure_data_uri

    snapshot = cohort_snapshot_compute(filters=filters).as_json()
    events = snapshot["adverse_events"]
    context.update(
        {
            "snapshot": snapshot,
            "cohort": snapshot["cohort"],
            "filters_text": filters.describe(),
            "protocols": sorted(snapshot["subgroups"]["protocol_code"]),
            "headlines": [rate_row(label, snapshot[key]) for key, label in HEADLINES],
            "cumulative": [
                rate_row(f"Up to {k} transfer{'s' if k != '1' else ''}", metric)
                for k, metric in snapshot["cumulative_live_birth"].items()
            ],
            "historical": snapshot["historical_comparison"],
            "historical_p": p_text(snapshot["historical_comparison"]["p_value"]),
            "ga": snapshot["gestational_age_at_live_birth_days"],
            "birth_weight": snapshot["birth_weight_g"],
            "adverse_any": rate_row(
                "Patients with at least one event", events["patients_with_any"]
            ),
            "adverse_by_term": [
                {**rate_row(term.replace("_", " "), metric), "events": metric["event_count"]}
                for term, metric in events["by_term"].items()
            ],
            "adverse_by_grade": [
                {**rate_row(f"Grade {grade}", metric), "events": metric["event_count"]}
                for grade, metric in sorted(events["by_grade"].items())
            ],
            "adverse_by_seriousness": [
                {**rate_row(label.replace("_", " "), metric), "events": metric["event_count"]}
                for label, metric in events["by_seriousness"].items()
            ],
            "adverse_by_route": [
                {
                    "route": ROUTE_LABELS[route],
                    "infusions": values["infusions"],
                    "events": values["per_100_infusions"]["events"],
                    "per_100": number(values["per_100_infusions"]["rate"]),
                    "ci": (
                        f"{number(values['per_100_infusions']['ci_low'])} to "
                        f"{number(values['per_100_infusions']['ci_high'])}"
                    ),
                    "patients": rate_row(route, values["patients_with_any"]),
                }
                for route, values in events["by_route"].items()
            ],
            "subgroups": [
                {
                    "heading": heading,
                    "rows": [
                        rate_row(str(value).replace("_", " "), metric)
                        for value, metric in snapshot["subgroups"][column].items()
                    ],
                }
                for column, heading in SUBGROUPS.items()
            ],
            "comparisons": [
                comparison_row(column, comparison)
                for column, comparison in snapshot["comparisons"].items()
            ],
            "cumulative_svg": figure_data_uri(cumulative_live_birth_figure(snapshot)),
            "adverse_svg": figure_data_uri(adverse_events_figure(snapshot)),
            "subgroup_svg": figure_data_uri(subgroup_figure(snapshot, subgroups=SUBGROUPS)),
        }
    )
    return context


@admin.register(CohortSnapshot)
class CohortSnapshotAdmin(admin.ModelAdmin):
    """Stored snapshots (from the task or `cohort_stats --store`): read-only, for the record."""

    list_display = ["computed_at", "filters", "code_version", "seconds"]
    readonly_fields = ["computed_at", "filters", "code_version", "seconds", "payload"]
    date_hierarchy = "computed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
