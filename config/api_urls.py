"""Version 1 of the REST API: one route per entity clinic staff enter, and the read-only analytics.

Mounted at /api/v1/ by config/urls.py; the schema (/api/schema/) and its docs (/api/docs/) describe
exactly these routes.
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from analytics.api import CohortExportView, CohortSnapshotView, MetaAnalysisView
from outcomes import api as outcomes_api
from registry import api as registry_api

router = DefaultRouter(trailing_slash=True)
# The API root would list the routes to anyone; the schema and its docs already do that.
router.include_root_view = False

router.register("sites", registry_api.SiteViewSet, basename="site")
router.register("protocols", registry_api.ProtocolViewSet, basename="protocol")
router.register("products", registry_api.ProductViewSet, basename="product")
router.register("patients", registry_api.PatientViewSet, basename="patient")
router.register("consents", registry_api.ConsentViewSet, basename="consent")
router.register("immune-tests", registry_api.ImmuneTestViewSet, basename="immunetest")
router.register("cycles", registry_api.TreatmentCycleViewSet, basename="cycle")
router.register("planned-doses", registry_api.PlannedDoseViewSet, basename="planneddose")
router.register("infusions", registry_api.InfusionViewSet, basename="infusion")
router.register("transfers", outcomes_api.EmbryoTransferViewSet, basename="transfer")
router.register("pregnancies", outcomes_api.PregnancyViewSet, basename="pregnancy")
router.register("visits", outcomes_api.FollowUpVisitViewSet, basename="visit")
router.register("outcomes", outcomes_api.PregnancyOutcomeViewSet, basename="outcome")
router.register("infants", outcomes_api.InfantViewSet, basename="infant")
router.register("adverse-events", outcomes_api.AdverseEventViewSet, basename="adverseevent")

app_name = "api"
urlpatterns = [
    path("cohort/snapshot/", CohortSnapshotView.as_view(), name="cohort-snapshot"),
    path("cohort/export/", CohortExportView.as_view(), name="cohort-export"),
    path("evidence/meta-analysis/", MetaAnalysisView.as_view(), name="meta-analysis"),
    *router.urls,
]
