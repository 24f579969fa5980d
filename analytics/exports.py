"""Cohort exports: one tidy CSV per table, a data dictionary and a manifest, in a streamed zip.

Rows go from PostgreSQL to the zip by `COPY (query) TO STDOUT` through Django's own connection:
the de-identification (days from the index date, the index year, ages above 89 as 90+) is in
the query, so no row is ever a Python object. COPY hands over one block per row; grouping them
into chunks of at least 64 KiB before writing is what keeps the pipeline within reach of psql's
own COPY (a write per row cost 2.5x), and a small buffer between the zip and the caller keeps
memory flat whatever the cohort's size.

Columns come from `analytics.classification`, never from the model directly, so a field nobody
classified is in no export.
"""

import csv
import datetime as dt
import functools
import importlib.metadata
import io
import json
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from analytics.classification import (
    AGE_AT_INDEX,
    AGE_TOP_CODE,
    CONVENTIONS,
    DICTIONARY_FILE,
    DICTIONARY_HEADER,
    FORMAT_NAME,
    FORMAT_VERSION,
    INDEX_DEFINITION,
    INDEX_EVENT,
    INDEX_ON,
    INDEX_YEAR,
    MANIFEST_FILE,
    STUDY_ID,
    TABLES,
    Column,
    ExportProfile,
    Table,
    Treatment,
    columns,
)
from analytics.models import ExportRecord
from registry import access
from registry.models import Site

# Measured on this machine: COPY blocks grouped into >= 64 KiB before writing ran at 0.9x of
# psql's COPY; a write per block (one per row) at 2.5x.
CHUNK_BYTES = 64 * 1024
# The caller gets the zip in pieces of about this size: small enough to keep memory flat,
# large enough that an HTTP server is not handed thousands of tiny writes.
YIELD_BYTES = 256 * 1024
# Measured on the 100,000-patient benchmark cohort (133 MB of CSV): level 1 gives 25.3 MB in
# 0.5 s, level 6 gives 19.5 MB in 2.1 s. A quarter larger, for a quarter of the CPU time, keeps
# the whole export close to COPY's own pace.
ZIP_COMPRESSLEVEL = 1
# For the export's own transaction. The planner cannot see through the patients CTE, guesses
# millions of rows where there are thousands, and JIT-compiles every file's query for about a
# third of a second it never earns back (measured at 100,000 patients: 20% of the export).
# Sorts and hashes of a large cohort fit in 64 MB instead of spilling to disk.
SESSION_SETTINGS = {"jit": "off", "work_mem": "64MB", "DateStyle": "ISO, YMD"}


# Who may export what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """Which patients: sites (codes; empty means every site the user may see) and an enrolment
    period, both ends included. Patients never enrolled fall outside any enrolment period."""

    site_codes: tuple[str, ...] = ()
    enrolled_from: dt.date | None = None
    enrolled_until: dt.date | None = None

    def as_json(self) -> dict:
        return {
            "sites": list(self.site_codes),
            "enrolled_from": self.enrolled_from.isoformat() if self.enrolled_from else None,
            "enrolled_until": self.enrolled_until.isoformat() if self.enrolled_until else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "ExportFilters":
        def day(value):
            return dt.date.fromisoformat(value) if value else None

        return cls(
            site_codes=tuple(data.get("sites") or ()),
            enrolled_from=day(data.get("enrolled_from")),
            enrolled_until=day(data.get("enrolled_until")),
        )


def export_profiles_for(user) -> list[ExportProfile]:
    """Researchers get de-identified data only; a limited data set (real dates) needs the right
    to see identifiers or to export them; identified data needs registry.export_identified."""
    if not (user.is_authenticated and user.has_perm("registry.view_patient")):
        return []
    profiles = [ExportProfile.DEIDENTIFIED]
    may_export_identified = user.has_perm("registry.export_identified")
    if may_export_identified or access.can_view_identifiers(user):
        profiles.append(ExportProfile.LIMITED)
    if may_export_identified:
        profiles.append(ExportProfile.IDENTIFIED)
    return profiles


def export_authorise(*, user, profile: ExportProfile, filters: ExportFilters) -> ExportFilters:
    """The filters narrowed to what `user` may export; PermissionDenied says what is refused.

    `user` None is the command line: whoever runs manage.py already holds the database.
    The sites chosen are written out in full, so the export record says exactly what left.
    """
    known = set(Site.objects.values_list("code", flat=True))
    unknown = sorted(set(filters.site_codes) - known)
    if unknown:
        raise ValueError(f"no site with code {', '.join(unknown)}")
    if user is None:
        return filters
    if profile not in export_profiles_for(user):
        raise PermissionDenied(f"You may not export {profile} data.")
    if access.sees_all_sites(user):
        return filters
    allowed = set(access.sites_for(user).values_list("code", flat=True))
    refused = sorted(set(filters.site_codes) - allowed)
    if refused:
        raise PermissionDenied(f"You may not export patients of {', '.join(refused)}.")
    codes = filters.site_codes or tuple(sorted(allowed))
    if not codes:
        raise PermissionDenied("You work at no site, so there is nothing you may export.")
    return ExportFilters(codes, filters.enrolled_from, filters.enrolled_until)


def export_record_start(
    *, user, profile: ExportProfile, filters: ExportFilters, source: str
) -> ExportRecord:
    """Written before the first byte leaves, so an export cut short is on the record too."""
    return ExportRecord.objects.create(
        user=user,
        username=user.get_username() if user is not None else _os_user(),
        source=source,
        profile=profile,
        filters=filters.as_json(),
    )


def export_record_finish(*, record: ExportRecord, row_counts: dict[str, int]) -> ExportRecord:
    record.row_counts = row_counts
    record.finished_at = timezone.now()
    record.save(update_fields=["row_counts", "finished_at"])
    return record


def _os_user() -> str:
    import getpass

    try:
        return f"{getpass.getuser()} (command line)"
    except OSError:
        return "(command line)"


# SQL -----------------------------------------------------------------------------------------


def _ordinal(prefix: str, marker: str, partition: str, order: str) -> str:
    """A row key: the parent's key, a marker and the row's place among its siblings."""
    return (
        f"{prefix} || '-{marker}' || row_number() OVER (PARTITION BY {partition} ORDER BY {order})"
    )


CYCLE_KEY = "pt.study_id || '-C' || c.number"

# How each file reaches its patient (alias pt), its own key, its order, and the keys of the rows
# its foreign keys point to. Keys numbered by date are numbered in the same order as the rows
# are written, so an import that inserts rows in file order gets the same keys back.
# The CTEs k_infusion, k_transfer and k_pregnancy give the keys other files point to; they are
# numbered exactly as the files themselves number them.
KEY_CTES = {
    "k_infusion": f"""
        SELECT i.id, {_ordinal("ip.study_id || '-C' || ic.number", "I", "i.cycle_id", "i.given_on, i.id")} AS key
        FROM registry_infusion i
        JOIN registry_treatmentcycle ic ON ic.id = i.cycle_id
        JOIN pt ip ON ip.id = ic.patient_id""",
    "k_transfer": f"""
        SELECT t.id, {_ordinal("tp.study_id || '-C' || tc.number", "T", "t.cycle_id", "t.transferred_on, t.id")} AS key
        FROM outcomes_embryotransfer t
        JOIN registry_treatmentcycle tc ON tc.id = t.cycle_id
        JOIN pt tp ON tp.id = tc.patient_id""",
    "k_pregnancy": """
        SELECT n.id, n.patient_id, n.n, gp.study_id || '-P' || n.n AS key
        FROM (
            SELECT g.id, g.patient_id,
                   row_number() OVER (PARTITION BY g.patient_id ORDER BY g.confirmed_on, g.id) AS n
            FROM outcomes_pregnancy g
        ) n
        JOIN pt gp ON gp.id = n.patient_id""",
}


@dataclass(frozen=True)
class TableSql:
    joins: str
    key: str
    order: str
    links: dict[str, str]
    needs: tuple[str, ...] = ()
    time_zone: str = ""  # the site's time zone, for days from index of a date-time


TABLE_SQL: dict[str, TableSql] = {
    "patients": TableSql(
        joins="JOIN pt ON pt.id = x.id JOIN registry_site s ON s.id = x.site_id",
        key="pt.study_id",
        order="pt.study_id",
        links={"site": "s.code"},
        time_zone="s.time_zone",
    ),
    "consents": TableSql(
        joins="JOIN pt ON pt.id = x.patient_id",
        key=_ordinal("pt.study_id", "CN", "pt.study_id", "x.signed_on, x.id"),
        order="pt.study_id, x.signed_on, x.id",
        links={"patient": "pt.study_id"},
    ),
    "immune_tests": TableSql(
        joins="JOIN pt ON pt.id = x.patient_id",
        key=_ordinal("pt.study_id", "IT", "pt.study_id", "x.tested_on, x.id"),
        order="pt.study_id, x.tested_on, x.id",
        links={"patient": "pt.study_id"},
    ),
    "cycles": TableSql(
        joins="JOIN pt ON pt.id = x.patient_id JOIN registry_protocol pr ON pr.id = x.protocol_id",
        key="pt.study_id || '-C' || x.number",
        order="pt.study_id, x.number",
        links={"patient": "pt.study_id", "protocol": "pr.code"},
    ),
    "planned_doses": TableSql(
        joins="JOIN registry_treatmentcycle c ON c.id = x.cycle_id JOIN pt ON pt.id = c.patient_id",
        key=f"{CYCLE_KEY} || '-D' || x.sequence",
        order="pt.study_id, c.number, x.sequence",
        links={"cycle": CYCLE_KEY},
    ),
    "infusions": TableSql(
        joins="""
            JOIN registry_treatmentcycle c ON c.id = x.cycle_id
            JOIN pt ON pt.id = c.patient_id
            LEFT JOIN registry_planneddose pd ON pd.id = x.planned_dose_id
            LEFT JOIN registry_treatmentcycle pdc ON pdc.id = pd.cycle_id
            LEFT JOIN pt pdp ON pdp.id = pdc.patient_id
            LEFT JOIN registry_product prod ON prod.id = x.product_id""",
        key=_ordinal(CYCLE_KEY, "I", "pt.study_id, c.number", "x.given_on, x.id"),
        order="pt.study_id, c.number, x.given_on, x.id",
        links={
            "cycle": CYCLE_KEY,
            "planned_dose": "pdp.study_id || '-C' || pdc.number || '-D' || pd.sequence",
            "product": "prod.name",
        },
    ),
    "transfers": TableSql(
        joins="JOIN registry_treatmentcycle c ON c.id = x.cycle_id JOIN pt ON pt.id = c.patient_id",
        key=_ordinal(CYCLE_KEY, "T", "pt.study_id, c.number", "x.transferred_on, x.id"),
        order="pt.study_id, c.number, x.transferred_on, x.id",
        links={"cycle": CYCLE_KEY},
    ),
    "pregnancies": TableSql(
        joins="""
            JOIN pt ON pt.id = x.patient_id
            LEFT JOIN registry_treatmentcycle pc ON pc.id = x.cycle_id
            LEFT JOIN pt pcp ON pcp.id = pc.patient_id
            LEFT JOIN k_transfer kt ON kt.id = x.transfer_id""",
        key=_ordinal("pt.study_id", "P", "pt.study_id", "x.confirmed_on, x.id"),
        order="pt.study_id, x.confirmed_on, x.id",
        links={
            "patient": "pt.study_id",
            "cycle": "pcp.study_id || '-C' || pc.number",
            "transfer": "kt.key",
        },
        needs=("k_transfer",),
    ),
    "visits": TableSql(
        joins="JOIN k_pregnancy kp ON kp.id = x.pregnancy_id JOIN pt ON pt.id = kp.patient_id",
        key=_ordinal("kp.key", "V", "pt.study_id, kp.n", "x.due_from, x.id"),
        order="pt.study_id, kp.n, x.due_from, x.id",
        links={"pregnancy": "kp.key"},
        needs=("k_pregnancy",),
    ),
    "outcomes": TableSql(
        joins="JOIN k_pregnancy kp ON kp.id = x.pregnancy_id JOIN pt ON pt.id = kp.patient_id",
        key="kp.key || '-O'",
        order="pt.study_id, kp.n",
        links={"pregnancy": "kp.key"},
        needs=("k_pregnancy",),
    ),
    "infants": TableSql(
        joins="JOIN k_pregnancy kp ON kp.id = x.pregnancy_id JOIN pt ON pt.id = kp.patient_id",
        key="kp.key || '-B' || x.birth_order",
        order="pt.study_id, kp.n, x.birth_order",
        links={"pregnancy": "kp.key"},
        needs=("k_pregnancy",),
    ),
    "adverse_events": TableSql(
        joins="""
            JOIN pt ON pt.id = x.patient_id
            LEFT JOIN k_infusion ki ON ki.id = x.infusion_id
            LEFT JOIN k_pregnancy kp ON kp.id = x.pregnancy_id""",
        key=_ordinal("pt.study_id", "AE", "pt.study_id", "x.onset_on, x.id"),
        order="pt.study_id, x.onset_on, x.id",
        links={"patient": "pt.study_id", "infusion": "ki.key", "pregnancy": "kp.key"},
        needs=("k_infusion", "k_pregnancy"),
    ),
}

# Completed years, exactly as registry.age.age_years counts them (a 29 February birthday falls
# on 1 March); tests/analytics/test_export_profiles.py holds the two to each other.
AGE_SQL = """(
    EXTRACT(YEAR FROM pt.index_on)::int - EXTRACT(YEAR FROM x.date_of_birth)::int
    - CASE WHEN (EXTRACT(MONTH FROM pt.index_on), EXTRACT(DAY FROM pt.index_on))
              < (EXTRACT(MONTH FROM x.date_of_birth), EXTRACT(DAY FROM x.date_of_birth))
           THEN 1 ELSE 0 END
)"""

INDEX_SQL = """,
        COALESCE(fd.first_dose_on, p.enrolled_on, p.screened_on) AS index_on,
        CASE WHEN fd.first_dose_on IS NOT NULL THEN 'first_dose'
             WHEN p.enrolled_on IS NOT NULL THEN 'enrolment'
             ELSE 'screening' END AS index_event"""
FIRST_DOSE_JOIN = """
    LEFT JOIN (
        SELECT fc.patient_id, min(fi.given_on) AS first_dose_on
        FROM registry_infusion fi JOIN registry_treatmentcycle fc ON fc.id = fi.cycle_id
        GROUP BY fc.patient_id
    ) fd ON fd.patient_id = p.id"""


def _patients_cte(profile: ExportProfile, filters: ExportFilters) -> tuple[str, dict]:
    """The chosen patients; with their index date unless the profile has no use for it."""
    conditions, params = ["TRUE"], {}
    if filters.site_codes:
        conditions.append(
            "p.site_id IN (SELECT id FROM registry_site WHERE code = ANY(%(site_codes)s))"
        )
        params["site_codes"] = list(filters.site_codes)
    if filters.enrolled_from:
        conditions.append("p.enrolled_on >= %(enrolled_from)s")
        params["enrolled_from"] = filters.enrolled_from
    if filters.enrolled_until:
        conditions.append("p.enrolled_on <= %(enrolled_until)s")
        params["enrolled_until"] = filters.enrolled_until
    with_index = profile is not ExportProfile.IDENTIFIED
    # Study IDs sort by byte ("C" collation): the same order on every server, and fast.
    sql = f"""pt AS MATERIALIZED (
    SELECT p.id, p.study_id COLLATE "C" AS study_id{INDEX_SQL if with_index else ""}
    FROM registry_patient p{FIRST_DOSE_JOIN if with_index else ""}
    WHERE {" AND ".join(conditions)}
)"""
    return sql, params


def _text(expression: str) -> str:
    # One spelling of "missing" in every file: an empty cell, never a quoted empty string.
    return f"NULLIF({expression}, '')"


def _column_sql(column: Column, table: Table, spec: TableSql, profile: ExportProfile) -> str:
    f = column.field
    if f is None:
        return {
            STUDY_ID: "pt.study_id",
            INDEX_ON: "pt.index_on",
            INDEX_YEAR: "EXTRACT(YEAR FROM pt.index_on)::int",
            INDEX_EVENT: "pt.index_event",
            AGE_AT_INDEX: (
                f"CASE WHEN {AGE_SQL} >= {AGE_TOP_CODE} THEN '{AGE_TOP_CODE}+' "
                f"ELSE ({AGE_SQL})::text END"
                if profile is ExportProfile.DEIDENTIFIED
                else AGE_SQL
            ),
        }[column.name]
    if f.primary_key or f.name == STUDY_ID:
        return spec.key
    if f.is_relation:
        return spec.links[f.name]
    value = f"x.{f.column}"
    internal = f.get_internal_type()
    if column.treatment is Treatment.DAYS_FROM_INDEX:
        if internal == "DateTimeField":
            if not spec.time_zone:
                raise LookupError(f"{table.name}: a date-time needs the site's time zone")
            return f"(({value} AT TIME ZONE {spec.time_zone})::date - pt.index_on)"
        return f"({value} - pt.index_on)"
    if internal == "BooleanField":
        return f"{value}::text"  # true / false
    if internal == "DateTimeField":
        return f"to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    if internal in ("CharField", "TextField", "EmailField", "SlugField"):
        return _text(value)
    return value


def table_query(table: Table, profile: ExportProfile, filters: ExportFilters) -> tuple[str, dict]:
    """The SELECT that yields one file's rows, already de-identified for `profile`."""
    spec = TABLE_SQL[table.name]
    patients, params = _patients_cte(profile, filters)
    ctes = [patients, *(f"{name} AS ({KEY_CTES[name]})" for name in spec.needs)]
    select = ",\n    ".join(
        f'{_column_sql(column, table, spec, profile)} AS "{column.name}"'
        for column in columns(table, profile)
    )
    sql = (
        f"WITH {', '.join(ctes)}\n"
        f"SELECT\n    {select}\n"
        f"FROM {table.model._meta.db_table} x {spec.joins}\n"
        f"ORDER BY {spec.order}"
    )
    return sql, params


def copy_statement(table: Table, profile: ExportProfile, filters: ExportFilters):
    sql, params = table_query(table, profile, filters)
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)", params


# The zip -------------------------------------------------------------------------------------


class _Pipe:
    """The file ZipFile writes into: not seekable, so it writes entries of unknown size with
    data descriptors; whoever iterates the export drains it."""

    def __init__(self):
        self._buffer = bytearray()

    def write(self, data) -> int:
        self._buffer += data
        return len(data)

    def flush(self):
        pass

    def __len__(self) -> int:
        return len(self._buffer)

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


@contextmanager
def _snapshot():
    """Every file from one snapshot, so the files agree with each other; read only."""
    if connection.in_atomic_block:
        # Inside someone else's transaction (a test, a task): its snapshot rules.
        with transaction.atomic(), connection.cursor() as cursor:
            yield cursor
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for name, value in SESSION_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        yield cursor


def copy_chunks(cursor, statement: str, params: dict) -> Iterator[bytes]:
    """COPY's output in chunks of at least CHUNK_BYTES (the last may be shorter)."""
    buffer = bytearray()
    # The psycopg cursor itself: Django's debug wrapper (DEBUG=1) takes no parameters for COPY.
    raw = getattr(cursor, "cursor", cursor)
    with raw.copy(statement, params) as copy:
        for block in copy:
            buffer += block
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def dictionary_csv(profile: ExportProfile) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=DICTIONARY_HEADER, lineterminator="\n")
    writer.writeheader()
    for table in TABLES:
        for column in columns(table, profile):
            writer.writerow(column.dictionary_row())
    return out.getvalue().encode()


@functools.cache
def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    try:
        version = importlib.metadata.version("ivig-registry")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version


def manifest(record: ExportRecord, row_counts: dict[str, int]) -> dict:
    profile = ExportProfile(record.profile)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "profile": profile.value,
        "profile_description": profile.label,
        "filters": record.filters,
        "row_counts": row_counts,
        "files": [DICTIONARY_FILE, *(table.file_name for table in TABLES)],
        "created_at": record.started_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "code_version": code_version(),
        "conventions": CONVENTIONS,
        "index_date": INDEX_DEFINITION,
    }


ProgressCallback = Callable[[str, int], None]


def export_chunks(
    *, record: ExportRecord, on_progress: ProgressCallback | None = None
) -> Iterator[bytes]:
    """The zip of the export `record` describes, in pieces; completes the record at the end.

    `on_progress(table_name, bytes)` is called as CSV bytes are produced (for progress bars).
    """
    profile = ExportProfile(record.profile)
    filters = ExportFilters.from_json(record.filters)
    pipe = _Pipe()
    row_counts: dict[str, int] = {}
    with zipfile.ZipFile(
        pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL
    ) as archive:
        archive.writestr(DICTIONARY_FILE, dictionary_csv(profile))
        yield pipe.drain()
        with _snapshot() as cursor:
            for table in TABLES:
                statement, params = copy_statement(table, profile, filters)
                with archive.open(table.file_name, "w", force_zip64=True) as out:
                    for chunk in copy_chunks(cursor, statement, params):
                        out.write(chunk)
                        if on_progress is not None:
                            on_progress(table.name, len(chunk))
                        if len(pipe) >= YIELD_BYTES:
                            yield pipe.drain()
                row_counts[table.name] = cursor.rowcount
        export_record_finish(record=record, row_counts=row_counts)
        archive.writestr(MANIFEST_FILE, json.dumps(manifest(record, row_counts), indent=2) + "\n")
    yield pipe.drain()


def export_file_name(record: ExportRecord) -> str:
    stamp = record.started_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"cohort-{record.profile}-{stamp}.zip"
