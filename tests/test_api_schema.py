"""The API keeps the promises of its OpenAPI schema, whatever a client sends.

Schemathesis reads /api/schema/ from the running Django app (in-process WSGI) and sends every
operation generated requests, valid and invalid, as clinic staff and as a researcher, against a
small two-site cohort: no server error, no status code the schema does not list, no body or
header that contradicts it. Detail paths use a real row of site A, so updates and deletes meet
real data (and its rules).
"""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.api_cohort import ENDPOINTS, build_cohort, load_published_studies, token_client

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# A few examples of each kind per operation keeps the whole run well under two minutes.
CONFIG = {
    "phases": {
        "examples": {"enabled": False},
        "coverage": {"enabled": False},
        "stateful": {"enabled": False},
        "fuzzing": {"enabled": True},
    },
    "generation": {"mode": "all", "max-examples": 6, "deterministic": True, "database": "none"},
}


@pytest.fixture
def connections_kept_open():
    # As Django's own test client does: a request must not close the connection that holds the
    # test's transaction (and its cohort) when it finishes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute"},
    }
    yield
    cache.clear()


@pytest.fixture
def cohort(site_a, site_b):
    load_published_studies()
    return build_cohort(site_a, site_b)


@pytest.fixture
def api_schema(db, connections_kept_open, unthrottled, cast, cohort, who):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", application, config=schemathesis.Config.from_dict(CONFIG)
    )
    key = token_client(cast[who])._credentials["HTTP_AUTHORIZATION"]

    @schema.auth(refresh_interval=None, retry_on=[])
    class TokenOfTheCastMember:
        def get(self, case, context):
            return key

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.parametrize("who", ["alice", "rita"])
@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_schemas_promises(case, cohort, who):
    if "id" in (case.path_parameters or {}):
        case.path_parameters["id"] = row_of_site_a(case.operation.path, cohort)
    if isinstance(case.body, dict):
        # Generated IDs almost never exist; real ones take a write past "no such row" to the
        # rules behind it. Anything that is not an ID-shaped value is left as generated.
        for field, pk in real_parents(cohort).items():
            if isinstance(case.body.get(field), int):
                case.body[field] = pk
        if isinstance(case.body.get("site"), str):
            case.body["site"] = cohort.a.site.code
    # Each example starts from the same cohort: what one writes (or deletes) is rolled back.
    with transaction.atomic():
        case.call_and_validate(checks=CHECKS)
        transaction.set_rollback(True)


def real_parents(cohort) -> dict[str, int]:
    a = cohort.a
    return {
        "patient": a.patient.pk,
        "cycle": a.cycle.pk,
        "planned_dose": a.planned_dose.pk,
        "product": a.infusion.product_id,
        "protocol": a.cycle.protocol_id,
        "transfer": a.free_transfer.pk,
        "pregnancy": a.ongoing_pregnancy.pk,
        "infusion": a.infusion.pk,
    }


def row_of_site_a(path: str, cohort) -> int:
    endpoint = path.removeprefix("/api/v1/").split("/")[0]
    if endpoint == "sites":
        return cohort.a.site.pk
    if endpoint == "protocols":
        return cohort.a.cycle.protocol_id
    if endpoint == "products":
        return cohort.a.infusion.product_id
    return getattr(cohort.a, ENDPOINTS[endpoint]).pk
