from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from analytics import (
    dashboard_admin,  # noqa: F401  (registers the cohort dashboard)
    export_admin,  # noqa: F401  (registers the export records' admin)
    report_admin,  # noqa: F401  (registers report subscriptions, sends and alerts)
)
from analytics.models import PublishedStudy
from analytics.options import MEASURES, CohortFilters
from analytics.snapshots import cohort_snapshot_compute
from registry import access

# Columns a reader may split the evidence page by; anything else in the query string is ignored.
EVIDENCE_SUBGROUP_COLUMNS = {
    "nk_selection": "NK selection",
    "ivig_start": "IVIg started",
    "country": "Country",
    "design": "Design",
}


@admin.register(PublishedStudy)
class PublishedStudyAdmin(admin.ModelAdmin):
    list_display = [
        "study",
        "year",
        "country",
        "design",
        "treated",
        "control",
        "nk_selection",
        "ivig_start",
    ]
    list_filter = ["nk_selection", "ivig_start", "country"]
    search_fields = ["study", "country", "regimen"]
    ordering = ["study", "year"]
    change_list_template = "admin/analytics/publishedstudy/change_list.html"

    @admin.display(description="Treated (live births/N)")
    def treated(self, study):
        return f"{study.events_treated}/{study.total_treated}"

    @admin.display(description="Control (live births/N)")
    def control(self, study):
        return f"{study.events_control}/{study.total_control}"

    def get_urls(self):
        return [
            path(
                "evidence/",
                self.admin_site.admin_view(self.evidence_view),
                name="analytics_publishedstudy_evidence",
            ),
            *super().get_urls(),
        ]

    def evidence_view(self, request):
        """Pooled estimates and the forest, leave-one-out and funnel plots of the table."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # pandas, statsmodels and matplotlib load with this page, not with the admin
        # (analytics.options).
        from analytics.cohort_comparison import add_registry_comparison, cohort_beside_arms
        from analytics.evidence import synthesise_evidence
        from analytics.forest import (
            cohort_beside_arms_figure,
            figure_data_uri,
            forest_figure,
            format_estimate,
            format_heterogeneity,
            format_p_value,
            funnel_figure,
            leave_one_out_figure,
        )
        from analytics.queries import published_studies_frame

        measure = request.GET.get("measure", "RR")
        measure = measure if measure in MEASURES else "RR"
        subgroup = request.GET.get("subgroup", "")
        subgroup = subgroup if subgroup in EVIDENCE_SUBGROUP_COLUMNS else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Evidence synthesis: published controlled studies",
            "measure": measure,
            "measures": MEASURES,
            "subgroup": subgroup,
            "subgroup_columns": EVIDENCE_SUBGROUP_COLUMNS,
        }
        # The registry beside the evidence: the reader's own sites (researchers: every site).
        sites = tuple(access.sites_for(request.user).values_list("code", flat=True))
        cohort = cohort_snapshot_compute(filters=CohortFilters(sites=sites)).payload
        per_treated = cohort["live_birth_per_treated_patient"]
        studies = published_studies_frame()
        route = cohort.get("comparisons", {}).get("route")
        with_registry = request.GET.get("registry") == "route" and route is not None
        if with_registry:
            # The registry's own comparison group (SCIg against IVIg) as one more row.
            studies = add_registry_comparison(
                studies,
                label=f"Registry {'+'.join(sites)}: SCIg vs IVIg",
                events_treated=route["a"]["events"],
                total_treated=route["a"]["total"],
                events_control=route["b"]["events"],
                total_control=route["b"]["total"],
            )
        context["with_registry"] = with_registry
        context["registry_route"] = route
        if per_treated.get("total"):
            arms = cohort_beside_arms(
                published_studies_frame(),
                cohort_events=per_treated["events"],
                cohort_total=per_treated["total"],
                label=f"Registry {'+'.join(sites)} (per treated patient)",
            )
            context["beside_svg"] = figure_data_uri(
                cohort_beside_arms_figure(
                    arms, title="Live birth in treated arms and the registry"
                ),
                image_format="svg",
            )
        try:
            synthesis = synthesise_evidence(
                studies, measure=measure, subgroup_column=subgroup or None
            )
        except ValueError as exc:
            context["error"] = str(exc)
            return TemplateResponse(
                request, "admin/analytics/publishedstudy/evidence.html", context
            )
        analysis = synthesis.analysis
        context.update(
            {
                "k": analysis.k,
                "fixed": format_estimate(analysis.fixed),
                "fixed_p": format_p_value(analysis.fixed.p_value),
                "random": format_estimate(analysis.random),
                "random_p": format_p_value(analysis.random.p_value),
                "heterogeneity": format_heterogeneity(analysis.heterogeneity),
                "egger": (
                    f"intercept {synthesis.egger.intercept:.2f}, "
                    f"{format_p_value(synthesis.egger.p_value)}"
                    if synthesis.egger
                    else "not run"
                ),
                "subgroups": [
                    {
                        "value": group.value,
                        "k": group.analysis.k,
                        "random": format_estimate(group.analysis.random),
                        "random_p": format_p_value(group.analysis.random.p_value),
                        "heterogeneity": format_heterogeneity(group.analysis.heterogeneity),
                    }
                    for group in (synthesis.subgroups.groups if synthesis.subgroups else [])
                ],
                "notes": synthesis.notes,
                "forest_svg": figure_data_uri(
                    forest_figure(
                        synthesis, title=f"Live birth, immunoglobulin versus control ({measure})"
                    ),
                    image_format="svg",
                ),
                "leave_one_out_svg": figure_data_uri(
                    leave_one_out_figure(synthesis, title="Leave-one-out"), image_format="svg"
                ),
                "funnel_svg": figure_data_uri(funnel_figure(synthesis), image_format="svg"),
            }
        )
        return TemplateResponse(request, "admin/analytics/publishedstudy/evidence.html", context)
