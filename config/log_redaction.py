"""Keep patient identifiers out of logs and error reports.

Log lines are read by people who may not see identifiers (operators, log services), and a
database error's DETAIL repeats the values it refused (a duplicate MRN). So every record passes
through `RedactIdentifiers` before a handler writes it, and Django's error reports hide the
identifier fields and request bodies.
"""

import functools
import logging
import re
from collections.abc import Mapping

from django.db.models import Model
from django.views.debug import SafeExceptionReporterFilter

REDACTED = "[redacted]"


def identifier_fields() -> tuple[str, ...]:
    # Imported late: logging is configured before the apps (and their models) are loaded, and
    # until they are there are no patients in memory to leak.
    from django.apps import apps

    if not apps.models_ready:
        return ()
    from registry.models import IDENTIFIER_FIELDS

    return IDENTIFIER_FIELDS


@functools.cache
def _field_value(names: tuple[str, ...]) -> re.Pattern:
    """field=value, field: value, 'field': 'value', "field": "value"."""
    fields = "|".join(names) or "(?!)"
    return re.compile(
        rf"""(?P<key>["']?\b(?:{fields})\b["']?\s*[:=]\s*)"""
        r"""(?P<value>"[^"]*"|'[^']*'|[^,;&\s)}\]]+)""",
        re.IGNORECASE,
    )


# PostgreSQL: DETAIL:  Key (site_id, mrn)=(1, MRN0000042) already exists.
_KEY_DETAIL = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>[^)]*)\)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    text = _field_value(identifier_fields()).sub(lambda m: m.group("key") + REDACTED, text)
    text = _KEY_DETAIL.sub(
        lambda m: (
            f"Key ({m.group('columns')})=({REDACTED})"
            if any(field in m.group("columns") for field in identifier_fields())
            else m.group(0)
        ),
        text,
    )
    return _EMAIL.sub(REDACTED, text)


class RedactIdentifiers(logging.Filter):
    """A logging filter: the message, its arguments and any traceback, with identifiers removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # Handlers that format the request (mail_admins) must not see its body or parameters.
        if hasattr(record, "request"):
            record.request = None
        return True


class IdentifierRedactingReporterFilter(SafeExceptionReporterFilter):
    """Error reports (the debug page, mail_admins) hide identifier fields and request bodies."""

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None:
            return parameters
        parameters = parameters.copy()
        for name in parameters:
            if name in identifier_fields():
                parameters[name] = self.cleansed_substitute
        return parameters

    def get_traceback_frame_variables(self, request, tb_frame):
        # Local variables of a clinical view hold patients; none of them belongs in a report.
        return [
            (name, REDACTED if _holds_identifiers(name, value) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


def _holds_identifiers(name: str, value) -> bool:
    # Judged by type and keys, never by str(value): that could run a queryset mid-report.
    if name in identifier_fields():
        return True
    if isinstance(value, Mapping):
        return any(field in value for field in identifier_fields())
    return isinstance(value, Model) and any(hasattr(value, field) for field in identifier_fields())
