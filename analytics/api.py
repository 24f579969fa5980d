"""Read-only REST endpoints over analytics: the cohort snapshot, its export, the evidence.

Each calls what the admin page and the command call, so all of them report the same thing:
`cohort_snapshot_compute` (the dashboard, `cohort_stats --json`), `cohort_export_response` (the
export page, with its permissions, site scoping and export record) and `synthesise_evidence`
(`metaanalysis --json`). The serializers below validate query strings and document responses.
"""

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import negotiation, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.classification import ExportProfile
from analytics.export_views import CohortExportForm, cohort_export_response
from analytics.models import ExportRecord, PublishedStudy
from analytics.options import CHOICE_FILTERS, MEASURES, MODELS, CohortFilters
from analytics.snapshots import cohort_snapshot_compute
from registry import access
from registry.models import Patient

# Columns the pooled estimate may be split by, as on the admin's evidence page.
SUBGROUP_COLUMNS = ("nk_selection", "ivig_start", "country", "design")


class MetaAnalysisQuery(serializers.Serializer):
    measure = serializers.ChoiceField(choices=MEASURES, default="RR")
    model = serializers.ChoiceField(
        choices=MODELS, default="random", help_text="Model for leave-one-out and subgroups."
    )
    subgroup = serializers.ChoiceField(
        choices=SUBGROUP_COLUMNS, required=False, help_text="Pool each value of this column."
    )


def _number(**kwargs):
    return serializers.FloatField(allow_null=True, **kwargs)


class PooledSerializer(serializers.Serializer):
    estimate = _number()
    ci_low = _number()
    ci_high = _number()
    p_value = _number()


class HeterogeneitySerializer(serializers.Serializer):
    q = _number()
    df = serializers.IntegerField()
    p_value = _number()
    i2 = _number(help_text="I² (%).")
    tau2 = _number()


class StudyEstimateSerializer(serializers.Serializer):
    study = serializers.CharField()
    estimate = _number()
    ci_low = _number()
    ci_high = _number()
    weight_fixed = _number(help_text="Weight (%), fixed effect.")
    weight_random = _number(help_text="Weight (%), random effects.")


class LeaveOneOutSerializer(serializers.Serializer):
    omitted = serializers.CharField()
    estimate = _number()
    ci_low = _number()
    ci_high = _number()
    i2 = _number(help_text="I² (%) of the remaining studies.")


class EggerSerializer(serializers.Serializer):
    intercept = _number()
    p_value = _number()


class SubgroupSerializer(serializers.Serializer):
    k = serializers.IntegerField()
    studies = serializers.ListField(child=serializers.CharField())
    fixed = PooledSerializer()
    random = PooledSerializer()
    heterogeneity = HeterogeneitySerializer(allow_null=True)


class SubgroupDifferenceSerializer(serializers.Serializer):
    q = _number()
    df = serializers.IntegerField()
    p_value = _number()


class SubgroupsSerializer(serializers.Serializer):
    # Empty ({}) when no subgroup was asked for, hence nothing required.
    column = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    groups = serializers.DictField(child=SubgroupSerializer(), required=False)
    difference = SubgroupDifferenceSerializer(allow_null=True, required=False)


class MetaAnalysisSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=MEASURES)
    k = serializers.IntegerField(help_text="Number of studies pooled.")
    fixed = PooledSerializer()
    random = PooledSerializer()
    heterogeneity = HeterogeneitySerializer(allow_null=True)
    studies = StudyEstimateSerializer(many=True)
    leave_one_out = LeaveOneOutSerializer(many=True)
    egger = EggerSerializer(allow_null=True)
    subgroups = SubgroupsSerializer()
    notes = serializers.ListField(child=serializers.CharField())


class MetaAnalysisView(APIView):
    """Meta-analysis of the published controlled studies (live birth, immunoglobulin vs control)."""

    # For the role check only: reading the evidence needs analytics.view_publishedstudy.
    queryset = PublishedStudy.objects.none()

    @extend_schema(
        parameters=[MetaAnalysisQuery],
        responses={
            200: MetaAnalysisSerializer,
            409: OpenApiResponse(
                description="The published-evidence table cannot be pooled as it stands "
                "(e.g. it is empty); the detail says why.",
                response={"$ref": "#/components/schemas/Detail"},
            ),
        },
    )
    def get(self, request):
        query = MetaAnalysisQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        # pandas and statsmodels load with the first request, not with the URLconf
        # (analytics.options).
        from analytics.evidence import synthesise_evidence
        from analytics.queries import published_studies_frame

        try:
            synthesis = synthesise_evidence(
                published_studies_frame(),
                measure=query.validated_data["measure"],
                model=query.validated_data["model"],
                subgroup_column=query.validated_data.get("subgroup"),
            )
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(synthesis.as_json())


# ---------------------------------------------------------------------------------------------
# The cohort snapshot: counts and rates only, never a patient, for the sites the user sees


class CohortSnapshotQuery(serializers.Serializer):
    site = serializers.CharField(
        required=False, help_text="One of your sites' codes; omitted: every site you see."
    )
    protocol = serializers.CharField(required=False, help_text="Protocol code.")
    enrolled_from = serializers.DateField(required=False, help_text="Included.")
    enrolled_until = serializers.DateField(required=False, help_text="Included.")

    def get_fields(self):
        fields = super().get_fields()
        # The dashboard's own filters, with its choices.
        for name, label, choices in CHOICE_FILTERS:
            fields[name] = serializers.ChoiceField(
                choices=[key for key, _ in choices], required=False, help_text=label
            )
        return fields


class CohortSnapshotView(APIView):
    """The cohort's metrics now, as the cohort dashboard and `cohort_stats --json` give them."""

    # For the role check only: whoever may read patients may read their sites' metrics.
    queryset = Patient.objects.none()

    @extend_schema(
        parameters=[CohortSnapshotQuery],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Every metric, as `manage.py cohort_stats --json` prints it, with "
                "code_version, computed_at and seconds.",
            )
        },
    )
    def get(self, request):
        query = CohortSnapshotQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        user = request.user
        site_codes = list(access.sites_for(user).values_list("code", flat=True))
        if not site_codes:
            raise PermissionDenied("You work at no site yet: an administrator adds your sites.")
        site = wanted.pop("site", None)
        if site and site not in site_codes:
            raise serializers.ValidationError(
                {"site": [f"Site must be one you see: {', '.join(sorted(site_codes))}."]}
            )
        # As on the dashboard: everyone but a whole-registry reader is held to their own sites.
        sites = [site] if site else ([] if access.sees_all_sites(user) else site_codes)
        filters = CohortFilters.from_json({**wanted, "sites": sites})
        return Response(cohort_snapshot_compute(filters=filters).as_json())


# ---------------------------------------------------------------------------------------------
# The cohort export: the export page's zip, streamed


class ExportQuery(serializers.Serializer):
    """Documents the query string; CohortExportForm (the export page's form) validates it."""

    profile = serializers.ChoiceField(choices=ExportProfile.choices, required=False)
    site = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Site codes (repeat the parameter); none: every site you may export.",
    )
    enrolled_from = serializers.DateField(required=False, help_text="Included.")
    enrolled_until = serializers.DateField(required=False, help_text="Included.")


class FirstRenderer(negotiation.DefaultContentNegotiation):
    # The zip is a Django streaming response, not rendered; errors are JSON whatever the
    # client's Accept header says, rather than 406.
    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CohortExportView(APIView):
    """The cohort as a zip of one CSV per entity, a data dictionary and a manifest, streamed."""

    queryset = Patient.objects.none()
    content_negotiation_class = FirstRenderer

    @extend_schema(
        parameters=[ExportQuery],
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export, streamed; recorded with its filters."
            )
        },
    )
    def get(self, request):
        form = CohortExportForm(
            {"profile": ExportProfile.DEIDENTIFIED, **request.query_params.dict()}
            | {"site": request.query_params.getlist("site")},
            user=request.user,
        )
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        profile, filters = form.export_request()
        return cohort_export_response(
            user=request.user, profile=profile, filters=filters, source=ExportRecord.Source.API
        )
