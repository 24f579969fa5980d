"""What a reader can ask of the analytics, importable without the libraries that answer it.

The admin, the API and the Celery tasks are imported by every process at start (admin
autodiscovery, the URLconf, task discovery); pandas, scipy, statsmodels and matplotlib add about
200 MB and 4 s to each of them. So those modules import their choices from here, and the
computing modules (analytics.cohort, .meta, .forest, .cohort_figures, ...) where they are
called: a worker that only exports, or an admin page that only lists, never loads them.
tests/analytics/test_lazy_imports.py keeps it so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Literal

Measure = Literal["RR", "OR"]
Model = Literal["fixed", "random"]
MEASURES: tuple[Measure, ...] = ("RR", "OR")
MODELS: tuple[Model, ...] = ("fixed", "random")

# Subgroups patients are split by: column -> heading.
SUBGROUPS = {
    "site_code": "Site",
    "protocol_code": "Protocol",
    "route": "Route",
    "indication": "Indication",
    "nk": "NK cells",
    "start": "Immunoglobulin started",
    "dose_band": "Induction dose (IVIg)",
    "enrolment_period": "Enrolled",
}

# The cohort filters' fixed choices: (field, label, choices); the dashboard's form, the API.
CHOICE_FILTERS = (
    ("route", "Route", (("ivig", "IVIg only"), ("scig", "Any SCIg"))),
    ("indication", "Indication", (("rpl", "RPL"), ("rif", "RIF"), ("both", "Both"))),
    ("nk", "NK cells", (("high", ">= 12%"), ("normal", "< 12%"), ("unknown", "not tested"))),
    (
        "start",
        "Started",
        (("before_conception", "before conception"), ("after_conception", "after conception")),
    ),
    (
        "dose_band",
        "Induction dose",
        (
            ("below_600", "below 600 mg/kg"),
            ("600-800", "600-800 mg/kg"),
            ("above_800", "above 800 mg/kg"),
            ("scig_only", "SCIg only"),
        ),
    ),
)


@dataclass(frozen=True)
class CohortFilters:
    """Which patients a snapshot is about. Empty fields filter nothing."""

    sites: tuple[str, ...] = ()
    protocol: str | None = None
    route: str | None = None
    indication: str | None = None
    nk: str | None = None
    start: str | None = None
    dose_band: str | None = None
    enrolled_from: dt.date | None = None
    enrolled_until: dt.date | None = None

    def as_json(self) -> dict:
        report = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            report[item.name] = value
        return report

    @classmethod
    def from_json(cls, values: dict | None) -> CohortFilters:
        """From plain values (a task's arguments, a query string): ISO dates, lists of codes."""
        values = dict(values or {})
        unknown = set(values) - {item.name for item in fields(cls)}
        if unknown:
            raise ValueError(f"unknown filter {', '.join(sorted(unknown))}")
        for name in ("enrolled_from", "enrolled_until"):
            if values.get(name):
                try:
                    values[name] = dt.date.fromisoformat(str(values[name]))
                except ValueError:
                    raise ValueError(f"{name} must be a date, YYYY-MM-DD") from None
            else:
                values[name] = None
        values["sites"] = tuple(sorted(values.get("sites") or ()))
        for name in ("protocol", "route", "indication", "nk", "start", "dose_band"):
            values[name] = values.get(name) or None
        return cls(**values)

    def describe(self) -> str:
        parts = [
            f"{name.replace('_', ' ')} {', '.join(value) if isinstance(value, list) else value}"
            for name, value in self.as_json().items()
            if value not in (None, [])
        ]
        return "; ".join(parts) or "all patients"
