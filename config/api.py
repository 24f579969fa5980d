"""What every endpoint of the REST API shares: paging, throttling, errors and their documentation.

Bad input answers 4xx with a message that names the field, never 500: a rule the serializers did
not see (a trigger across tables, a race on a unique constraint) still reaches the client as the
database's own message, and ATOMIC_REQUESTS rolls the whole request back.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from rest_framework import pagination, serializers, status, throttling
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

# PostgreSQL's SQLSTATE for RAISE EXCEPTION in a trigger function (our cross-table rules).
RAISE_EXCEPTION_SQLSTATE = "P0001"


class RegistryPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # Bounded, so one request cannot ask for the whole registry at once.
    max_page_size = 200


class _RateFromSettings:
    def get_rate(self):
        # DRF reads rates once, at import; reading them per request lets the environment and
        # the tests' settings overrides reach throttles that are already loaded.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RateFromSettings, throttling.UserRateThrottle):
    pass


def exception_handler(exc, context):
    """DRF's handler, plus the database's and the models' refusals as 400s."""
    if isinstance(exc, DjangoValidationError):
        exc = serializers.ValidationError(named_errors(exc))
    elif isinstance(exc, DatabaseError) and _is_bad_input(exc):
        set_rollback()
        return Response(
            {api_settings.NON_FIELD_ERRORS_KEY: [_database_message(exc)]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)


def named_errors(exc: DjangoValidationError):
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): messages
        for field, messages in exc.message_dict.items()
    }


def _is_bad_input(exc: DatabaseError) -> bool:
    if isinstance(exc, IntegrityError | DataError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) == RAISE_EXCEPTION_SQLSTATE


def _database_message(exc: DatabaseError) -> str:
    """The constraint's own message when we know it, else the first line of the database's.

    Only the first line: PostgreSQL's DETAIL line repeats the offending values, which may be
    identifiers (a duplicate MRN), and has no place in a response or a log.
    """
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        message = _constraint_messages().get(name)
        if message:
            return message
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "Not saved."


def _constraint_messages() -> dict[str, str]:
    from django.apps import apps

    return {
        constraint.name: str(constraint.violation_error_message)
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if getattr(constraint, "violation_error_message", None)
    }


# The error bodies, as the schema promises them. A 400 maps each field (or non_field_errors) to
# its messages; a request that could not be parsed at all gets {"detail": "..."}.
_VALIDATION_ERROR = {
    "type": "object",
    "description": "Messages by field; rules across fields are under non_field_errors.",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}
_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
ERROR_RESPONSES = {
    "400": ("Invalid input: the messages name the field and the rule.", "ValidationError"),
    "401": ("Not authenticated: log in (session) or send 'Authorization: Token ...'.", "Detail"),
    "403": ("Authenticated, but this role may not do this.", "Detail"),
    "404": ("No such object at the sites you work at (or no such page).", "Detail"),
    "429": ("Too many requests: the Retry-After header says when to try again.", "Detail"),
}
_WRITE_ONLY_ERRORS = {
    "415": ("Send the body as application/json.", "Detail"),
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation lists the errors it can answer."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ValidationError"] = _VALIDATION_ERROR
    schemas["Detail"] = _DETAIL
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = dict(ERROR_RESPONSES)
            if method in ("post", "put", "patch"):
                errors |= _WRITE_ONLY_ERRORS
            responses = operation.setdefault("responses", {})
            for code, (description, component) in errors.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{component}"}
                            }
                        },
                    },
                )
    return result
