"""The one place querysets become DataFrames; everything downstream is pandas and statsmodels."""

from collections.abc import Sequence

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q

from analytics.cohort import CohortFrames
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
# Each frame is one queryset, run once: the database joins and groups (one row per patient,
# transfer, pregnancy, infant or event comes back), and the rows go straight from the cursor
# into pandas without model instances, which at 100,000 patients is the difference between
# a second and a minute. Per-patient aggregates come from querysets grouped over a single
# relation: a Count or Sum annotated across two relations in one query would multiply rows.


ANALYTICS_WORK_MEM = "64MB"


def _frame(queryset) -> pd.DataFrame:
    """Run a `.values()` queryset once; columns named by its aliases, no model instances."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def _in_sites(model, site_path: str, site_codes: Sequence[str] | None):
    """All of `model`'s rows at these sites, unordered (a model's default ordering would sort
    every row for nothing)."""
    queryset = model.objects.order_by()
    if site_codes is None:
        return queryset
    return queryset.filter(**{f"{site_path}__code__in": list(site_codes)})


def cohort_frames(*, site_codes: Sequence[str] | None = None) -> CohortFrames:
    """The registry's patients at `site_codes` (None: every site) as `CohortFrames`.

    Ten queries whatever the number of patients (none for an empty list of sites): the memory
    setting, patients, their infusion counts, first IVIg dose, first cycle's protocol and
    baseline NK result, then transfers, pregnancies, infants and adverse events. Outside a
    transaction the nine reads see one moment of the database (repeatable read); inside one
    (a request) they see what that transaction sees.
    """
    if site_codes is not None and not list(site_codes):
        return CohortFrames.from_records()
    outermost = not connection.in_atomic_block
    # savepoint=False: inside a request's transaction there is nothing to roll back to.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # The per-patient grouping and first-dose sort of 100,000 patients need 20-45 MB; at
        # PostgreSQL's default 4 MB they spill to disk and take about twice as long.
        cursor.execute(f"SET LOCAL work_mem = '{ANALYTICS_WORK_MEM}'")
        return _read_cohort_frames(site_codes)


def _read_cohort_frames(site_codes: Sequence[str] | None) -> CohortFrames:
    patients = _frame(
        _in_sites(Patient, "site", site_codes).values(
            "enrolled_on", "status", "indication", patient_id=F("id"), site_code=F("site__code")
        )
    )
    infusions = _frame(
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
    first_ivig = _frame(
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
    protocols = _frame(
        _in_sites(TreatmentCycle, "patient__site", site_codes)
        .order_by("patient_id", "number")
        .distinct("patient_id")
        .values("patient_id", protocol_code=F("protocol__code"))
    )
    nk = _frame(
        _in_sites(ImmuneTest, "patient__site", site_codes)
        .filter(analyte=ImmuneTest.Analyte.NK_PERCENT, value__isnull=False)
        .order_by("patient_id", "tested_on", "id")
        .distinct("patient_id")
        .values("patient_id", nk_percent=F("value"))
    )
    for extra in (infusions, first_ivig, protocols, nk):
        if len(extra):
            patients = patients.merge(extra, on="patient_id", how="left")
    for column in ("infusions", "infusions_ivig", "infusions_scig"):
        if column in patients.columns:
            patients[column] = patients[column].fillna(0)
        else:
            patients[column] = 0
    transfers = _frame(
        _in_sites(EmbryoTransfer, "cycle__patient__site", site_codes).values(
            "transferred_on", "result", transfer_id=F("id"), patient_id=F("cycle__patient_id")
        )
    )
    pregnancies = _frame(
        _in_sites(Pregnancy, "patient__site", site_codes).values(
            "patient_id",
            "transfer_id",
            "lmp_on",
            "fetuses",
            pregnancy_id=F("id"),
            outcome_kind=F("outcome__kind"),
            ended_on=F("outcome__ended_on"),
        )
    )
    infants = _frame(
        _in_sites(Infant, "pregnancy__patient__site", site_codes).values(
            "pregnancy_id", "birth_weight_g", "live_born"
        )
    )
    adverse_events = _frame(
        _in_sites(AdverseEvent, "patient__site", site_codes).values(
            "patient_id", "term", "grade", "serious", infusion_route=F("infusion__route")
        )
    )
    return CohortFrames.from_records(
        patients=patients,
        transfers=transfers,
        pregnancies=pregnancies,
        infants=infants,
        adverse_events=adverse_events,
    )
