"""Importing a cohort from the `identified` export format: every row checked, then all or nothing.

Clinics move in from spreadsheets and REDCap, so a bad file is the normal case: the report names
every problem by file, row and column, in the words of the data dictionary, and nothing is
committed unless there are none. The checks reuse what the registry already knows: the models'
field validation and constraints (full_clean, each constraint's validate), the consent rule of
`registry.consents` and the date order of `outcomes.chronology`.

In two steps, because Django validates a constraint with one query per row (a few hundred rows
a second, against about 2,000 for the whole import otherwise):
1. every check that needs no database: cells, links, field validation, keys unique within the
   file, consent before each dose, date order across rows;
2. a file that passes goes in in one transaction, where the same constraints and the triggers
   check every row; if the database refuses one, or step 1 found problems, every row is then
   validated against each constraint in turn, so the report still names them all.

Row keys (study IDs, cycle_id, ...) only link rows within the zip; new rows get new database
ids, and inserting each file in its own order keeps the keys an export would give them.
Sites, protocols and products are reference data: they must exist already (by code or name).

Lives in outcomes/ rather than analytics/ because it writes clinical rows; it reads the file
format from `analytics.classification`, the one place the format is defined.
"""

import csv
import datetime as dt
import io
import json
import re
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

import pghistory
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, models, transaction
from django.db.models import F, Q, UniqueConstraint
from tqdm import tqdm

from analytics.classification import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_FILE,
    STUDY_ID,
    TABLES,
    TABLES_BY_NAME,
    ExportProfile,
    Table,
    columns,
)
from outcomes import chronology, gestation
from registry import access, consents
from registry.models import Patient, Product, Protocol, Site

# Reference data a file names by code: model and the field written.
REFERENCE_MODELS = {"site": Site, "protocol": Protocol, "product": Product}
BATCH_SIZE = 1000
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
INTEGER_PATTERN = re.compile(r"[+-]?\d+")
TEXT_FIELDS = (models.CharField, models.TextField)


@dataclass(frozen=True, order=True)
class ImportProblem:
    """One problem, where a data manager will find it. Rows count as a spreadsheet shows them:
    the header is row 1, the first patient row 2. Row 0 is the file as a whole."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}" if "," not in self.column else self.column)
        return f"{', '.join(where)}: {self.message}"


@dataclass
class ImportReport:
    file_name: str
    dry_run: bool
    problems: list[ImportProblem] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    study_ids: list[str] = field(default_factory=list)  # the patients the file adds
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            count = len(self.problems)
            return (
                f"{self.file_name}: {count} problem{'s' if count != 1 else ''}; "
                "nothing was written."
            )
        rows = sum(self.row_counts.values())
        patients = self.row_counts.get("patients", 0)
        if self.written:
            return f"{self.file_name}: imported {patients} patients ({rows} rows in all)."
        return (
            f"{self.file_name}: no problems; {patients} patients ({rows} rows) would be imported. "
            "Nothing was written (dry run)."
        )

    def lines(self) -> list[str]:
        return [self.summary(), *self.notes, *(str(problem) for problem in self.problems)]


class _DryRun(Exception):
    pass


@dataclass(slots=True)
class _Row:
    table: Table
    number: int
    key: str
    study_id: str
    values: dict[str, object] = field(default_factory=dict)  # field attname -> value
    links: dict[str, str | None] = field(default_factory=dict)  # foreign key -> key or code
    bad: set[str] = field(default_factory=set)  # fields whose cell did not parse
    placeholder: int = 0
    pk: int | None = None


@dataclass
class _Table:
    table: Table
    readable: bool = False  # the key column is there, so other files may point into it
    rows: list[_Row] = field(default_factory=list)
    by_key: dict[str, _Row] = field(default_factory=dict)


class _Checker:
    def __init__(self, *, file_name: str, user, progress: bool | None):
        self.file_name = file_name
        self.user = user
        self.progress = progress
        self.problems: list[ImportProblem] = []
        self.notes: list[str] = []
        self.tables = {table.name: _Table(table) for table in TABLES}
        self.references = {
            "site": dict(Site.objects.values_list("code", "id")),
            "protocol": dict(Protocol.objects.values_list("code", "id")),
            "product": dict(Product.objects.values_list("name", "id")),
        }
        self._next_placeholder = -1

    def problem(self, table: Table | str, row: int, column: str, message: str):
        file = table.file_name if isinstance(table, Table) else table
        self.problems.append(ImportProblem(file, row, column, message))

    # Reading ---------------------------------------------------------------------------------

    def read(self, archive: zipfile.ZipFile):
        members = {Path(name).name: name for name in archive.namelist() if not name.endswith("/")}
        self._read_manifest(archive, members)
        for table in TABLES:
            if table.file_name not in members:
                self.problem(
                    table,
                    0,
                    "",
                    "the file is missing from the zip (a table with no rows is a file with "
                    "only its header row)",
                )
                continue
            try:
                with archive.open(members[table.file_name]) as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                    self._read_table(table, csv.reader(text, strict=True))
            except UnicodeDecodeError:
                self.problem(table, 0, "", "is not UTF-8 text: save it as 'CSV UTF-8'")
            except csv.Error as exc:
                self.problem(table, 0, "", f"is not a readable CSV file ({exc})")

    def _read_manifest(self, archive: zipfile.ZipFile, members: dict[str, str]):
        if MANIFEST_FILE not in members:
            self.notes.append("No manifest.json: the files are read as the identified format.")
            return
        try:
            manifest = json.loads(archive.read(members[MANIFEST_FILE]))
        except (ValueError, UnicodeDecodeError):
            self.problem(MANIFEST_FILE, 0, "", "is not valid JSON")
            return
        if manifest.get("format") != FORMAT_NAME:
            self.problem(MANIFEST_FILE, 0, "format", f"is not '{FORMAT_NAME}'")
        version = manifest.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            self.problem(
                MANIFEST_FILE,
                0,
                "format_version",
                f"is {version!r}; this registry reads version {FORMAT_VERSION} and older",
            )
        profile = manifest.get("profile")
        if profile != ExportProfile.IDENTIFIED:
            self.problem(
                MANIFEST_FILE,
                0,
                "profile",
                f"this is a '{profile}' export; only identified exports can be imported "
                "(the others leave out the identifiers and dates a registry needs)",
            )

    def _read_table(self, table: Table, reader):
        state = self.tables[table.name]
        expected = {column.name: column for column in columns(table, ExportProfile.IDENTIFIED)}
        header = next(reader, None)
        if header is None:
            self.problem(table, 0, "", "is empty: it needs at least its header row")
            return
        header = [name.strip() for name in header]
        seen = set()
        for name in header:
            if name in seen:
                self.problem(table, 1, name, "appears twice in the header")
            elif name not in expected:
                self.problem(
                    table,
                    1,
                    name,
                    f"is not a column of {table.file_name} (data_dictionary.csv lists them)",
                )
            seen.add(name)
        missing = [name for name in expected if name not in seen]
        for name in missing:
            self.problem(table, 1, name, "the column is missing")
        if table.key_column in missing or (STUDY_ID in missing and table.key_column != STUDY_ID):
            return  # rows without their keys cannot be linked or checked further
        state.readable = True
        position = {name: index for index, name in enumerate(header) if name in expected}
        rows = tqdm(
            enumerate(reader, start=2),
            desc=f"checking {table.file_name}",
            unit=" rows",
            disable=_disable(self.progress),
            file=sys.stderr,
        )
        for number, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) != len(header):
                self.problem(
                    table,
                    number,
                    "",
                    f"has {len(cells)} values but the header has {len(header)} columns",
                )
                continue
            row = self._parse_row(table, number, cells, position, expected, missing)
            state.rows.append(row)
            if not row.key:
                self.problem(table, number, table.key_column, "is empty: every row needs its key")
            elif row.key in state.by_key:
                first = state.by_key[row.key].number
                what = "study ID" if table.key_column == STUDY_ID else table.key_column
                self.problem(
                    table,
                    number,
                    table.key_column,
                    f"duplicate {what} {row.key}: it is also on row {first}",
                )
            else:
                state.by_key[row.key] = row

    def _parse_row(self, table, number, cells, position, expected, missing) -> _Row:
        cell = {name: cells[index] for name, index in position.items()}
        key = cell[table.key_column].strip()
        study_id = cell.get(STUDY_ID, "").strip()
        row = _Row(table, number, key, study_id, placeholder=self._next_placeholder)
        self._next_placeholder -= 1
        for column in expected.values():
            f = column.field
            if f is None or f.primary_key:
                continue  # a child's study ID, or its row key: read above
            if f.name == STUDY_ID:
                row.values[f.attname] = key  # a patient's key is her study ID
                continue
            if column.name in missing:
                row.bad.add(f.name)
                continue
            raw = cell[column.name]
            if f.is_relation:
                row.links[f.name] = raw.strip() or None
                continue
            try:
                row.values[f.attname] = parse_cell(f, raw)
            except ValueError as exc:
                row.bad.add(f.name)
                self.problem(table, number, column.name, str(exc))
        if table.links.get("patient") is not None:
            row.links["patient"] = study_id or None
        return row

    # Checking --------------------------------------------------------------------------------

    def check_rows(self):
        """Every check but the models' constraints: parsing, links, field validation, unique
        keys within the file, the consent and date-order rules across rows."""
        self._check_links()
        self._check_patients()
        for table in TABLES:
            self._check_fields(table)
            self._check_unique_in_file(table)
        self._check_cross_row_rules()

    def _target(self, row: _Row, name: str) -> _Row | None:
        link = row.table.links[name]
        key = row.links.get(name)
        if key is None or link.table is None:
            return None
        return self.tables[link.table].by_key.get(key)

    def _check_links(self):
        patients = self.tables["patients"]
        for table in TABLES:
            for row in self.tables[table.name].rows:
                if table.key_column != STUDY_ID and patients.readable:
                    if not row.study_id:
                        self.problem(table, row.number, STUDY_ID, "is empty: whose row is it?")
                    elif row.study_id not in patients.by_key:
                        self.problem(
                            table,
                            row.number,
                            STUDY_ID,
                            f"{row.study_id} is not a study_id in patients.csv",
                        )
                for name, link in table.links.items():
                    if name in row.bad or (link.column == STUDY_ID):
                        continue
                    self._check_link(row, name)

    def _check_link(self, row: _Row, name: str):
        table, link = row.table, row.table.links[name]
        f = table.model._meta.get_field(name)
        value = row.links.get(name)
        if value is None:
            if not f.null:
                row.bad.add(name)
                self.problem(table, row.number, link.column, "is empty: a value is required")
            return
        if link.table is None:
            if value not in self.references[name]:
                row.bad.add(name)
                self.problem(
                    table,
                    row.number,
                    link.column,
                    f"no {name} with {link.lookup} '{value}' in this registry "
                    f"(an administrator adds {name}s in the admin)",
                )
            return
        target_state = self.tables[link.table]
        if not target_state.readable:
            row.bad.add(name)  # that file's own problems are reported already
            return
        target = target_state.by_key.get(value)
        target_table = TABLES_BY_NAME[link.table]
        if target is None:
            row.bad.add(name)
            self.problem(
                table,
                row.number,
                link.column,
                f"{value} is not a {target_table.key_column} in {target_table.file_name}",
            )
        elif target.study_id != row.study_id and row.study_id:
            row.bad.add(name)
            self.problem(
                table,
                row.number,
                link.column,
                f"{value} belongs to patient {target.study_id}, not to {row.study_id}",
            )

    def _check_patients(self):
        table = TABLES_BY_NAME["patients"]
        rows = self.tables["patients"].rows
        existing = set(
            Patient.objects.filter(study_id__in=[row.key for row in rows]).values_list(
                "study_id", flat=True
            )
        )
        allowed = None
        if self.user is not None and not access.sees_all_sites(self.user):
            allowed = set(access.sites_for(self.user).values_list("code", flat=True))
        for row in rows:
            if row.key in existing:
                self.problem(
                    table,
                    row.number,
                    STUDY_ID,
                    f"study ID {row.key} is already in the registry; the import adds new "
                    "patients only",
                )
            site = row.links.get("site")
            if site and "site" not in row.bad:
                if row.key and not row.key.startswith(f"{site}-"):
                    self.problem(
                        table,
                        row.number,
                        STUDY_ID,
                        f"study ID {row.key} does not start with its site's code ({site}-)",
                    )
                if allowed is not None and site not in allowed:
                    self.problem(
                        table,
                        row.number,
                        "site",
                        f"you may import patients of your own sites only "
                        f"({', '.join(sorted(allowed)) or 'none'}); {site} is not one of them",
                    )

    def _instance(self, row: _Row) -> models.Model:
        """The row as an unsaved model, its links pointing at placeholder ids so that
        constraints that ask whether a link is set see it set."""
        instance = row.table.model(**row.values)
        for name, link in row.table.links.items():
            f = row.table.model._meta.get_field(name)
            value = row.links.get(name)
            if value is None or name in row.bad:
                continue
            if link.table is None:
                setattr(instance, f.attname, self.references[name][value])
            else:
                target = self.tables[link.table].by_key.get(value)
                if target is not None:
                    setattr(instance, f.attname, target.placeholder)
        return instance

    def _check_fields(self, table: Table):
        """Each field's own validation (lengths, ranges, formats): no database needed."""
        column_of = _column_names(table)
        for row in self.tables[table.name].rows:
            instance = self._instance(row)
            exclude = set(row.bad) | set(table.links)
            try:
                instance.full_clean(
                    exclude=exclude, validate_unique=False, validate_constraints=False
                )
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    column = "" if name == NON_FIELD_ERRORS else column_of.get(name, name)
                    for message in messages:
                        self.problem(table, row.number, column, message)
                    row.bad.add(name)

    def check_constraints(self):
        """Every row against its model's constraints, each named by its own message.

        Django asks the database once per constraint and row: thorough but slow (a few
        hundred rows a second), so it runs only when a file has problems already, or when the
        database refused a file that passed every other check.
        """
        for table in TABLES:
            model = table.model
            imported_links = {name for name, link in table.links.items() if link.table}
            column_of = _column_names(table)
            rows = tqdm(
                self.tables[table.name].rows,
                desc=f"checking {table.file_name} against the rules",
                unit=" rows",
                disable=_disable(self.progress),
                file=sys.stderr,
            )
            for row in rows:
                instance = self._instance(row)
                for constraint in model._meta.constraints:
                    if isinstance(constraint, UniqueConstraint) and imported_links & set(
                        constraint.fields
                    ):
                        continue  # a new parent has no rows yet: checked within the file
                    try:
                        constraint.validate(
                            model, instance, exclude=row.bad, using=DEFAULT_DB_ALIAS
                        )
                    except ValidationError as exc:
                        message = " ".join(exc.messages)
                    except ValueError:
                        # Django %-formats the message; one ending in a bare "%" cannot be,
                        # but the rule is broken all the same: give its message as written.
                        message = str(constraint.violation_error_message)
                    else:
                        continue
                    names = _constraint_fields(constraint)
                    self.problem(
                        table,
                        row.number,
                        _columns_label([column_of.get(name, name) for name in names]),
                        message,
                    )
                    row.bad.update(names)

    def _check_unique_in_file(self, table: Table):
        model = table.model
        column_of = _column_names(table)
        groups = [
            (f.name,)
            for f in model._meta.concrete_fields
            if f.unique and not f.primary_key and f.name != STUDY_ID
        ]
        groups += [
            tuple(c.fields) for c in model._meta.constraints if isinstance(c, UniqueConstraint)
        ]
        for names in groups:
            seen: dict[tuple, int] = {}
            for row in self.tables[table.name].rows:
                if set(names) & row.bad:
                    continue
                value = tuple(_row_value(row, model, name) for name in names)
                if any(part in (None, "") for part in value):
                    continue  # nulls never collide
                labels = [column_of.get(name, name) for name in names]
                if value in seen:
                    self.problem(
                        table,
                        row.number,
                        _columns_label(labels),
                        f"row {seen[value]} has the same {' and '.join(labels)}; "
                        "there may be only one",
                    )
                else:
                    seen[value] = row.number

    def _check_cross_row_rules(self):
        consent_periods = defaultdict(list)
        for row in self.tables["consents"].rows:
            if "signed_on" not in row.bad:
                consent_periods[row.study_id].append(
                    (row.values["signed_on"], row.values.get("withdrawn_on"))
                )
        infusions = TABLES_BY_NAME["infusions"]
        for row in self.tables["infusions"].rows:
            given_on = row.values.get("given_on")
            if "given_on" in row.bad or given_on is None:
                continue
            if not consents.covers(consent_periods[row.study_id], given_on):
                self.problem(
                    infusions,
                    row.number,
                    "given_on",
                    f"given on {given_on:%Y-%m-%d}, but {row.study_id} has no consent in "
                    "consents.csv signed on or before that date and not withdrawn by then; "
                    "no dose may be given before a signed consent",
                )
        for row in self.tables["infusions"].rows:
            dose = self._target(row, "planned_dose")
            if (
                dose is not None
                and "cycle" not in row.bad
                and dose.links["cycle"] != row.links["cycle"]
            ):
                self.problem(
                    infusions,
                    row.number,
                    "planned_dose_id",
                    f"{dose.key} is a dose planned for cycle {dose.links['cycle']}, not for this "
                    f"infusion's cycle {row.links['cycle']}",
                )
        pregnancies = TABLES_BY_NAME["pregnancies"]
        for row in self.tables["pregnancies"].rows:
            transfer = self._target(row, "transfer")
            if transfer is None or {"transferred_on", "embryo_day"} & transfer.bad:
                continue
            transferred_on = transfer.values["transferred_on"]
            if "confirmed_on" not in row.bad:
                for message in chronology.confirmation_date_errors(
                    confirmed_on=row.values["confirmed_on"], transferred_on=transferred_on
                ):
                    self.problem(pregnancies, row.number, "confirmed_on", message)
            if row.values.get("dating") == "transfer" and "lmp_on" not in row.bad:
                lmp_on = gestation.lmp_from_transfer(transferred_on, transfer.values["embryo_day"])
                if row.values["lmp_on"] != lmp_on:
                    self.problem(
                        pregnancies,
                        row.number,
                        "lmp_on",
                        f"{row.values['lmp_on']:%Y-%m-%d} does not match its transfer: a "
                        f"day-{transfer.values['embryo_day']} embryo transferred on "
                        f"{transferred_on:%Y-%m-%d} dates the LMP-equivalent date to "
                        f"{lmp_on:%Y-%m-%d}",
                    )
        outcomes = TABLES_BY_NAME["outcomes"]
        for row in self.tables["outcomes"].rows:
            pregnancy = self._target(row, "pregnancy")
            if pregnancy is None or "ended_on" in row.bad or "lmp_on" in pregnancy.bad:
                continue
            transfer = self._target(pregnancy, "transfer")
            for message in chronology.outcome_date_errors(
                ended_on=row.values["ended_on"],
                lmp_on=pregnancy.values["lmp_on"],
                transferred_on=transfer.values.get("transferred_on") if transfer else None,
            ):
                self.problem(outcomes, row.number, "ended_on", message)

    # Writing ---------------------------------------------------------------------------------

    def write(self):
        """Insert every row, parents first, in file order; raises DatabaseError if refused."""
        for table in TABLES:
            rows = self.tables[table.name].rows
            for start in tqdm(
                range(0, len(rows), BATCH_SIZE),
                desc=f"writing {table.file_name}",
                unit=" batches",
                disable=_disable(self.progress) if rows else True,
                file=sys.stderr,
            ):
                batch = rows[start : start + BATCH_SIZE]
                objects = [self._new_instance(row) for row in batch]
                table.model.objects.bulk_create(objects)
                for row, instance in zip(batch, objects, strict=True):
                    row.pk = instance.pk
        # Rules the database checks at commit (consent still covering every dose) are checked
        # now, while a refusal can still be reported and rolled back here.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _new_instance(self, row: _Row) -> models.Model:
        """The row as the model to insert, its links pointing at the rows already written."""
        instance = row.table.model(**row.values)
        for name, link in row.table.links.items():
            value = row.links.get(name)
            if value is None:
                continue
            attname = row.table.model._meta.get_field(name).attname
            if link.table is None:
                setattr(instance, attname, self.references[name][value])
            else:
                setattr(instance, attname, self.tables[link.table].by_key[value].pk)
        return instance


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def parse_cell(f: models.Field, raw: str):
    """A cell as the field's Python value; ValueError says what is wrong, in plain words."""
    value = raw if isinstance(f, TEXT_FIELDS) else raw.strip()
    if value == "":
        if f.null:
            return None
        if isinstance(f, TEXT_FIELDS) and f.blank:
            return ""
        raise ValueError("is empty: a value is required")
    if f.choices:
        codes = [str(code) for code, _ in f.flatchoices]
        if value not in codes:
            raise ValueError(f"'{value}' is not one of the codes allowed: {', '.join(codes)}")
        return f.to_python(value)
    if isinstance(f, models.BooleanField):
        if value.lower() not in ("true", "false"):
            raise ValueError(f"'{value}' is not true or false")
        return value.lower() == "true"
    if isinstance(f, models.DateTimeField):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValueError(
                f"'{value}' is not a date and time with its zone, written like 2025-01-31T14:05:00Z"
            )
        return moment
    if isinstance(f, models.DateField):
        if not DATE_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not a date written YYYY-MM-DD (e.g. 2025-01-31)")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a real date") from None
    if isinstance(f, models.IntegerField):
        if not INTEGER_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not a whole number")
        return int(value)
    if isinstance(f, models.DecimalField):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(f"'{value}' is not a number (write decimals with a point: 62.5)")
        return number
    return value


def _column_names(table: Table) -> dict[str, str]:
    """Field name -> the column that carries it (a foreign key's is its link column)."""
    names = {}
    for column in columns(table, ExportProfile.IDENTIFIED):
        if column.field is not None:
            names[column.field.name] = column.name
            names[column.field.attname] = column.name
    for name, link in table.links.items():
        names[name] = link.column
    return names


def _columns_label(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return unique[0] if len(unique) == 1 else "columns " + ", ".join(unique)


def _constraint_fields(constraint) -> list[str]:
    """The fields a constraint reads, in the order it names them."""
    if isinstance(constraint, UniqueConstraint):
        return list(constraint.fields)
    names: list[str] = []

    def walk(node):
        if isinstance(node, Q):
            for child in node.children:
                walk(child)
        elif isinstance(node, tuple):
            names.append(node[0].split("__")[0])
            walk(node[1])
        elif isinstance(node, F):
            names.append(node.name.split("__")[0])
        elif hasattr(node, "get_source_expressions"):
            for source in node.get_source_expressions():
                walk(source)

    walk(constraint.condition)
    return list(dict.fromkeys(names))


def _row_value(row: _Row, model, name: str):
    f = model._meta.get_field(name)
    if f.is_relation:
        return row.links.get(name)
    return row.values.get(f.attname)


def cohort_import(
    *,
    archive: BinaryIO | Path | str,
    dry_run: bool = False,
    user=None,
    file_name: str | None = None,
    progress: bool | None = False,
) -> ImportReport:
    """Check an identified export zip in full; unless it has problems or this is a dry run,
    write it in one transaction. `user` None is the command line (every site).

    `progress` shows tqdm bars on stderr: True, False, or None for "when stderr is a terminal".
    """
    name = file_name or (Path(archive).name if isinstance(archive, str | Path) else "upload")
    report = ImportReport(file_name=name, dry_run=dry_run)
    checker = _Checker(file_name=name, user=user, progress=progress)
    try:
        with zipfile.ZipFile(archive) as opened:
            checker.read(opened)
    except zipfile.BadZipFile:
        report.problems.append(ImportProblem(name, 0, "", "is not a zip file"))
        return report
    checker.check_rows()
    report.notes = checker.notes
    report.row_counts = {table.name: len(checker.tables[table.name].rows) for table in TABLES}
    report.study_ids = [row.key for row in checker.tables["patients"].rows]
    if checker.problems:
        checker.check_constraints()  # the report lists every problem, not only the first kinds
        return _refused(report, checker)
    if any(
        row.values.get("eligibility_override_reason") for row in checker.tables["patients"].rows
    ):
        report.notes.append(
            "Eligibility overrides keep their reason and time; who overrode stays in the "
            "source registry's audit trail."
        )
    # The file passed every check that needs no database. Its rows now go in, in one
    # transaction, where the models' constraints and the triggers check each of them; nothing
    # is committed unless all pass (and nothing at all on a dry run).
    try:
        with transaction.atomic(), pghistory.context(source="import_cohort", import_file=name):
            checker.write()
            if dry_run:
                raise _DryRun
    except _DryRun:
        return report
    except DatabaseError as exc:
        # The database stops at its first refusal: ask each row in turn, to name them all.
        checker.check_constraints()
        if not checker.problems:
            checker.problem(
                name, 0, "", f"the database refused the import: {str(exc).splitlines()[0]}"
            )
        return _refused(report, checker)
    report.written = True
    return report


def _refused(report: ImportReport, checker: _Checker) -> ImportReport:
    order = {table.file_name: index for index, table in enumerate(TABLES)}
    report.problems = sorted(
        checker.problems, key=lambda p: (order.get(p.file, -1), p.row, p.column, p.message)
    )
    return report
