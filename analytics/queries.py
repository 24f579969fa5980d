"""The one place querysets become DataFrames; everything downstream is pandas and statsmodels."""

import io
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q

from analytics.cohort import (
    ADVERSE_EVENT_COLUMNS,
    INFANT_COLUMNS,
    PATIENT_COLUMNS,
    PREGNANCY_COLUMNS,
    TRANSFER_COLUMNS,
    CohortFrames,
)
from analytics.models import PublishedStudy
from outcomes.models import AdverseEvent, EmbryoTransfer, Infant, Pregnancy
from registry.models import ImmuneTest, Infusion, Patient, Route, TreatmentCycle

PUBLISHED_STUDY_COLUMNS = [
    "study",
    "year",
    "country",
    "design",
    "events_treated",
    "total_treated",
    "events_control",
    "total_control",
    "nk_selection",
    "ivig_start",
    "regimen",
]


def published_studies_frame() -> pd.DataFrame:
    """Every published study, one row each, in the fixture CSV's vocabulary (one query)."""
    rows = list(PublishedStudy.objects.order_by("study", "year").values(*PUBLISHED_STUDY_COLUMNS))
    studies = pd.DataFrame(rows, columns=PUBLISHED_STUDY_COLUMNS)
    # Subgroup labels read "yes"/"no" whether the table came from the database or the CSV.
    studies["nk_selection"] = studies["nk_selection"].map({True: "yes", False: "no"})
    return studies


# -- The cohort: one frame per unit of analysis, for analytics.cohort ------------------------
#
# Each frame is one query, run once: the database joins and groups (one row per patient,
# transfer, pregnancy, infant or event comes back), and PostgreSQL hands the rows over as CSV
# (`COPY (query) TO STDOUT`), which pandas parses straight into columns of the dtypes
# analytics.cohort declares. No model instances (at 100,000 patients the difference between a
# second and a minute) and no Python tuple per row: measured with benchmarks/cohort_snapshot.py
# at 100,000 patients, reading rows as tuples took the process's peak memory to 690 MB, COPY
# to 390 MB (240 MB of either is the imports). The patients' per-patient facts come from
# querysets grouped over a single relation each, joined to the patients in SQL rather than
# merged in pandas: a Count or Sum annotated across two relations in one query would multiply
# rows.


ANALYTICS_WORK_MEM = "64MB"
# COPY's spelling of NULL. Its default, an empty field, is also how an empty string comes
# out, and pandas cannot tell them apart (it ignores quotes when looking for missing values).
# A text value spelt \N would be read as missing: the text columns here hold choice codes.
COPY_NULL = r"\N"
# Decimals stay Decimals (analytics.cohort asks registry.dosing for mg/kg with them), and the
# same Decimals psycopg would make: from the database's own text of the value.
DECIMAL_COLUMNS = ("first_ivig_dose_g", "first_ivig_weight_kg")


def _frame(sql: str, params: Sequence, columns: dict[str, str]) -> pd.DataFrame:
    """The rows of `sql` through COPY, as `columns` (name: dtype, as in analytics.cohort).

    COPY takes no bind parameters and Django's cursor (with DEBUG, or counting queries in a
    test) passes none to it, so the parameters are bound here, by psycopg on the client, and
    the COPY goes through Django's cursor like any other query.
    """
    statement = connection.ops.compose_sql(
        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER, NULL '{COPY_NULL}')", params
    )
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    dates = [name for name, dtype in columns.items() if dtype.startswith("datetime64")]
    frame = pd.read_csv(
        buffer,
        dtype={name: object if name in dates else dtype for name, dtype in columns.items()},
        keep_default_na=False,
        na_values=[COPY_NULL],
        true_values=["t"],
        false_values=["f"],
    )
    buffer.close()
    for name in dates:
        # DateStyle ISO (cohort_frames sets it): YYYY-MM-DD.
        frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d").astype(columns[name])
    for name in DECIMAL_COLUMNS:
        if name in frame.columns:
            values = frame[name]
            # A few hundred distinct doses and weights in a whole cohort: one Decimal each.
            frame[name] = values.map({text: Decimal(text) for text in values.dropna().unique()})
    return frame


def _queryset_frame(queryset, columns: dict[str, str]) -> pd.DataFrame:
    sql, params = queryset.query.sql_with_params()
    return _frame(sql, params, columns)


def _in_sites(model, site_path: str, site_codes: Sequence[str] | None):
    """All of `model`'s rows at these sites, unordered (a model's default ordering would sort
    every row for nothing)."""
    queryset = model.objects.order_by()
    if site_codes is None:
        return queryset
    return queryset.filter(**{f"{site_path}__code__in": list(site_codes)})


def cohort_frames(*, site_codes: Sequence[str] | None = None) -> CohortFrames:
    """The registry's patients at `site_codes` (None: every site) as `CohortFrames`.

    Six queries whatever the number of patients (none for an empty list of sites): the
    session settings, then patients (with their infusion counts, first IVIg dose, first
    cycle's protocol and baseline NK result), transfers, pregnancies, infants and adverse
    events. Outside a transaction the five reads see one moment of the database (repeatable
    read); inside one (a request) they see what that transaction sees.
    """
    if site_codes is not None and not list(site_codes):
        return CohortFrames.from_records()
    outermost = not connection.in_atomic_block
    # savepoint=False: inside a request's transaction there is nothing to roll back to.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # The per-patient grouping and first-dose sort of 100,000 patients need 20-45 MB; at
        # PostgreSQL's default 4 MB they spill to disk and take about twice as long. Dates
        # come out of COPY as the session's DateStyle says; _frame reads ISO.
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('DateStyle', 'ISO, YMD', true)",
            [ANALYTICS_WORK_MEM],
        )
        return _read_cohort_frames(site_codes)


def _patients_query(site_codes: Sequence[str] | None) -> tuple[str, list]:
    """One row per patient: the patient, and what each per-patient queryset (each grouped
    over one relation, one row per patient at most) says of her, joined by patient_id."""
    patients = _in_sites(Patient, "site", site_codes).values(
        "enrolled_on", "status", "indication", patient_id=F("id"), site_code=F("site__code")
    )
    infusions = (
        _in_sites(Infusion, "cycle__patient__site", site_codes)
        .values(patient_id=F("cycle__patient_id"))
        .annotate(
            infusions=Count("id"),
            infusions_ivig=Count("id", filter=Q(route=Route.IVIG)),
            infusions_scig=Count("id", filter=Q(route=Route.SCIG)),
            first_infusion_on=Min("given_on"),
        )
        .order_by()
    )
    first_ivig = (
        _in_sites(Infusion, "cycle__patient__site", site_codes)
        .filter(route=Route.IVIG)
        .order_by("cycle__patient_id", "given_on", "id")
        .distinct("cycle__patient_id")
        .values(
            patient_id=F("cycle__patient_id"),
            first_ivig_dose_g=F("dose_g"),
            first_ivig_weight_kg=F("weight_kg"),
        )
    )
    protocols = (
        _in_sites(TreatmentCycle, "patient__site", site_codes)
        .order_by("patient_id", "number")
        .distinct("patient_id")
        .values("patient_id", protocol_code=F("protocol__code"))
    )
    nk = (
        _in_sites(ImmuneTest, "patient__site", site_codes)
        .filter(analyte=ImmuneTest.Analyte.NK_PERCENT, value__isnull=False)
        .order_by("patient_id", "tested_on", "id")
        .distinct("patient_id")
        .values("patient_id", nk_percent=F("value"))
    )
    sql, params = patients.query.sql_with_params()
    joins, params = [], list(params)
    for alias, queryset in (("i", infusions), ("f", first_ivig), ("c", protocols), ("n", nk)):
        subquery, subquery_params = queryset.query.sql_with_params()
        joins.append(f"LEFT JOIN ({subquery}) {alias} ON {alias}.patient_id = p.patient_id")
        params.extend(subquery_params)
    joined = "\n".join(joins)
    sql = f"""SELECT
    p.patient_id, p.site_code, p.indication, p.status, p.enrolled_on, c.protocol_code,
    COALESCE(i.infusions, 0) AS infusions,
    COALESCE(i.infusions_ivig, 0) AS infusions_ivig,
    COALESCE(i.infusions_scig, 0) AS infusions_scig,
    i.first_infusion_on, f.first_ivig_dose_g, f.first_ivig_weight_kg, n.nk_percent
FROM ({sql}) p
{joined}"""
    return sql, params


def _read_cohort_frames(site_codes: Sequence[str] | None) -> CohortFrames:
    patients = _frame(*_patients_query(site_codes), PATIENT_COLUMNS)
    transfers = _queryset_frame(
        _in_sites(EmbryoTransfer, "cycle__patient__site", site_codes).values(
            "transferred_on", "result", transfer_id=F("id"), patient_id=F("cycle__patient_id")
        ),
        TRANSFER_COLUMNS,
    )
    pregnancies = _queryset_frame(
        _in_sites(Pregnancy, "patient__site", site_codes).values(
            "patient_id",
            "transfer_id",
            "lmp_on",
            "fetuses",
            pregnancy_id=F("id"),
            outcome_kind=F("outcome__kind"),
            ended_on=F("outcome__ended_on"),
        ),
        PREGNANCY_COLUMNS,
    )
    infants = _queryset_frame(
        _in_sites(Infant, "pregnancy__patient__site", site_codes).values(
            "pregnancy_id", "birth_weight_g", "live_born"
        ),
        INFANT_COLUMNS,
    )
    adverse_events = _queryset_frame(
        _in_sites(AdverseEvent, "patient__site", site_codes).values(
            "patient_id", "term", "grade", "serious", infusion_route=F("infusion__route")
        ),
        ADVERSE_EVENT_COLUMNS,
    )
    return CohortFrames.from_records(
        patients=patients,
        transfers=transfers,
        pregnancies=pregnancies,
        infants=infants,
        adverse_events=adverse_events,
    )
