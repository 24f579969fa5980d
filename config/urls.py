from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analytics import export_views
from outcomes import import_views

# Swagger UI's page carries a small inline <style> block; that page alone may use inline styles.
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Cohort export and import (admin pages; before admin/ so its catch-all does not take them).
    path(
        "admin/cohort/export/",
        admin.site.admin_view(export_views.cohort_export_page),
        name="cohort_export",
    ),
    path(
        "admin/cohort/export.zip",
        admin.site.admin_view(export_views.cohort_export_download),
        name="cohort_export_download",
    ),
    path(
        "admin/cohort/import/",
        admin.site.admin_view(import_views.cohort_import_page),
        name="cohort_import",
    ),
    path("admin/", admin.site.urls),
    # The REST API (config/api_urls.py), its OpenAPI 3 schema and the schema's browsable docs.
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
]
