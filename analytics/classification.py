"""Every field of every clinical model, classified; and the tidy file format built from it.

Exports choose their columns from this allowlist: a field nobody classified is in no export,
and `tests/analytics/test_export_classification.py` fails until someone classifies it. The
profile policy (what each kind becomes in each profile) is here too, so the whole
de-identification decision can be read in one file.

The importer (`outcomes/imports.py`) reads the `identified` columns of the same tables, so the
format is defined once.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.db import models

from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from registry.models import (
    Consent,
    ImmuneTest,
    Infusion,
    MaintenancePhase,
    Patient,
    PlannedDose,
    Product,
    Protocol,
    Site,
    SiteMembership,
    TreatmentCycle,
)


class Kind(StrEnum):
    KEY = "key"  # row identity and the links between rows
    DIRECT_IDENTIFIER = "direct identifier"  # names a person or reaches her
    DATE = "date"  # a date or time in a patient's life
    QUASI_IDENTIFIER = "quasi-identifier"  # identifies only in combination (place, batch)
    CLINICAL = "clinical"
    FREE_TEXT = "free text"  # typed by hand: may hold anything, names included
    RECORD_KEEPING = "record keeping"  # who typed a row in and when: the audit trail keeps it


class ExportProfile(models.TextChoices):
    DEIDENTIFIED = (
        "deidentified",
        "De-identified (HIPAA Safe Harbor): days from each patient's index date, no free text",
    )
    LIMITED = "limited", "Limited data set: dates kept; direct identifiers and free text removed"
    IDENTIFIED = "identified", "Identified: everything (the import format)"


class Treatment(StrEnum):
    KEEP = "keep"
    DROP = "drop"
    DAYS_FROM_INDEX = "days from index"


@dataclass(frozen=True)
class Classified:
    kind: Kind
    unit: str = ""
    # Why, where the kind is a judgement call; shown to nobody but the next reader.
    why: str = ""
    # A quasi-identifier the de-identified profile may keep, with the reason in `why`.
    keep_when_deidentified: bool = False


def _kind(kind: Kind):
    def classify(unit: str = "", why: str = "", **kwargs) -> Classified:
        return Classified(kind, unit=unit, why=why, **kwargs)

    return classify


key = _kind(Kind.KEY)
identifier = _kind(Kind.DIRECT_IDENTIFIER)
date = _kind(Kind.DATE)
quasi = _kind(Kind.QUASI_IDENTIFIER)
clinical = _kind(Kind.CLINICAL)
free_text = _kind(Kind.FREE_TEXT)
record_keeping = _kind(Kind.RECORD_KEEPING)

FIELDS: dict[type[models.Model], dict[str, Classified]] = {
    Patient: {
        "id": key(),
        "study_id": key(why="random; the only key a researcher sees"),
        "site": quasi(
            keep_when_deidentified=True,
            why="the site code is the study ID's prefix, so hiding it would hide nothing",
        ),
        "given_name": identifier(),
        "family_name": identifier(),
        "mrn": identifier(),
        "date_of_birth": identifier(
            why="a full birth date; exports give the age at the index date instead"
        ),
        "email": identifier(),
        "phone": identifier(),
        "address": identifier(),
        "indication": clinical(),
        "unexplained_miscarriages": clinical(unit="count"),
        "failed_good_blastocyst_transfers": clinical(unit="count"),
        "prior_live_births": clinical(unit="count"),
        "prior_stillbirths": clinical(unit="count"),
        "prior_late_losses": clinical(unit="count"),
        "conventional_treatment_failed": clinical(),
        "comorbidities": free_text(),
        "ig_contraindication": clinical(),
        "other_immunomodulator": clinical(),
        "status": clinical(),
        "screened_on": date(),
        "enrolled_on": date(),
        "status_changed_on": date(),
        "status_reason": free_text(),
        "eligibility_override_reason": free_text(),
        "eligibility_overridden_by": record_keeping(
            why="a member of staff, not the patient; users do not move between registries, "
            "and the audit trail names who overrode"
        ),
        "eligibility_overridden_at": date(
            why="when she was enrolled despite the rules: a date in her care, and the import "
            "needs it beside the reason (the database pairs them)"
        ),
        "created_at": record_keeping(),
    },
    Consent: {
        "id": key(),
        "patient": key(),
        "version": clinical(),
        "signed_on": date(),
        "withdrawn_on": date(),
    },
    ImmuneTest: {
        "id": key(),
        "patient": key(),
        "analyte": clinical(),
        "value": clinical(why="its unit is the next column"),
        "unit": clinical(),
        "tested_on": date(),
        "abnormal": clinical(),
    },
    TreatmentCycle: {
        "id": key(),
        "patient": key(),
        "protocol": clinical(why="written as the protocol's code"),
        "number": clinical(),
        "route": clinical(),
        "plan": clinical(),
        "planned_event_on": date(),
        "weight_kg": clinical(unit="kg"),
        "weighed_on": date(),
    },
    PlannedDose: {
        "id": key(),
        "cycle": key(),
        "sequence": clinical(),
        "phase": clinical(),
        "route": clinical(),
        "due_from": date(),
        "due_until": date(),
        "dose_g": clinical(unit="g"),
    },
    Infusion: {
        "id": key(),
        "cycle": key(),
        "planned_dose": key(),
        "given_on": date(),
        "route": clinical(),
        "product": clinical(why="written as the product's name"),
        "lot_number": quasi(
            why="a batch given at one clinic in one week: with the site it narrows the date"
        ),
        "dose_g": clinical(unit="g"),
        "weight_kg": clinical(unit="kg"),
    },
    EmbryoTransfer: {
        "id": key(),
        "cycle": key(),
        "transferred_on": date(),
        "kind": clinical(),
        "embryo_day": clinical(unit="days"),
        "embryo_quality": clinical(why="a grade such as 4AA, not prose"),
        "good_quality": clinical(),
        "embryos_transferred": clinical(unit="count"),
        "result": clinical(),
    },
    Pregnancy: {
        "id": key(),
        "patient": key(),
        "cycle": key(),
        "transfer": key(),
        "conception": clinical(),
        "dating": clinical(),
        "lmp_on": date(),
        "fetuses": clinical(unit="count"),
        "confirmed_on": date(),
    },
    FollowUpVisit: {
        "id": key(),
        "pregnancy": key(),
        "kind": clinical(),
        "due_from": date(),
        "due_until": date(),
        "status": clinical(),
        "done_on": date(),
        "notes": free_text(),
    },
    PregnancyOutcome: {
        "id": key(),
        "pregnancy": key(),
        "kind": clinical(),
        "ended_on": date(),
        "delivery_mode": clinical(),
        "preterm_labour": clinical(),
        "complications": free_text(),
    },
    Infant: {
        "id": key(),
        "pregnancy": key(),
        "birth_order": clinical(),
        "sex": clinical(),
        "birth_weight_g": clinical(unit="g"),
        "live_born": clinical(),
        "anomalies": free_text(),
        "nicu_admission": clinical(),
        "development_12m": clinical(),
    },
    AdverseEvent: {
        "id": key(),
        "patient": key(),
        "infusion": key(),
        "pregnancy": key(),
        "subject": clinical(),
        "term": clinical(),
        "term_other": free_text(),
        "grade": clinical(why="CTCAE grade"),
        "serious": clinical(),
        "relatedness": clinical(),
        "onset_on": date(),
        "resolved_on": date(),
        "action_taken": clinical(),
        "resolution": clinical(),
        "description": free_text(),
        "created_at": record_keeping(),
    },
    # Reference data: not exported as tables (rows name them by code), classified all the same
    # so that exporting them one day starts from a decision, not a default.
    Site: {
        "id": key(),
        "code": quasi(keep_when_deidentified=True, why="the study ID's prefix"),
        "name": quasi(why="a clinic's name is a place"),
        "time_zone": quasi(why="a region"),
    },
    SiteMembership: {
        "id": key(),
        "user": identifier(why="a member of staff"),
        "site": key(),
    },
    Product: {
        "id": key(),
        "name": clinical(),
        "route": clinical(),
        "vial_step_g": clinical(unit="g"),
    },
    Protocol: {
        "id": key(),
        "code": clinical(),
        "name": clinical(),
        "source": free_text(),
        "min_age_years": clinical(unit="years"),
        "max_age_years": clinical(unit="years"),
        "miscarriages_more_than": clinical(unit="count"),
        "failed_transfers_more_than": clinical(unit="count"),
        "requires_conventional_failure": clinical(),
        "induction_anchor": clinical(),
        "induction_days_before_min": clinical(unit="days"),
        "induction_days_before_max": clinical(unit="days"),
        "conception_lead_days": clinical(unit="days"),
        "scig_lead_days": clinical(unit="days"),
        "dose_mg_per_kg_min": clinical(unit="mg/kg"),
        "dose_mg_per_kg_max": clinical(unit="mg/kg"),
        "ivig_interval_days": clinical(unit="days"),
        "scig_interval_days": clinical(unit="days"),
        "maintenance_until_ga_days": clinical(unit="days"),
        "stop_ga_days": clinical(unit="days"),
        "scig_conversion_factor": clinical(),
        "visit_interval_days": clinical(unit="days"),
        "postpartum_visit_days": clinical(unit="days"),
    },
    MaintenancePhase: {
        "id": key(),
        "protocol": key(),
        "from_ga_days": clinical(unit="days"),
        "until_ga_days": clinical(unit="days"),
        "dose_mg_per_kg_min": clinical(unit="mg/kg"),
        "dose_mg_per_kg_max": clinical(unit="mg/kg"),
        "interval_days": clinical(unit="days"),
    },
}

# What each kind becomes in each profile. Limited drops free text as well as identifiers:
# nobody can promise that a note holds no name.
POLICY: dict[Kind, dict[ExportProfile, Treatment]] = {
    Kind.KEY: dict.fromkeys(ExportProfile, Treatment.KEEP),
    Kind.CLINICAL: dict.fromkeys(ExportProfile, Treatment.KEEP),
    Kind.DIRECT_IDENTIFIER: {
        ExportProfile.DEIDENTIFIED: Treatment.DROP,
        ExportProfile.LIMITED: Treatment.DROP,
        ExportProfile.IDENTIFIED: Treatment.KEEP,
    },
    Kind.DATE: {
        ExportProfile.DEIDENTIFIED: Treatment.DAYS_FROM_INDEX,
        ExportProfile.LIMITED: Treatment.KEEP,
        ExportProfile.IDENTIFIED: Treatment.KEEP,
    },
    Kind.QUASI_IDENTIFIER: {
        ExportProfile.DEIDENTIFIED: Treatment.DROP,
        ExportProfile.LIMITED: Treatment.KEEP,
        ExportProfile.IDENTIFIED: Treatment.KEEP,
    },
    Kind.FREE_TEXT: {
        ExportProfile.DEIDENTIFIED: Treatment.DROP,
        ExportProfile.LIMITED: Treatment.DROP,
        ExportProfile.IDENTIFIED: Treatment.KEEP,
    },
    Kind.RECORD_KEEPING: dict.fromkeys(ExportProfile, Treatment.DROP),
}


def classification(model: type[models.Model], field_name: str) -> Classified | None:
    return FIELDS.get(model, {}).get(field_name)


def treatment(model: type[models.Model], field_name: str, profile: ExportProfile) -> Treatment:
    """What `profile` does with a field; an unclassified field is dropped, never exported."""
    classified = classification(model, field_name)
    if classified is None:
        return Treatment.DROP
    if (
        classified.kind is Kind.QUASI_IDENTIFIER
        and classified.keep_when_deidentified
        and profile is ExportProfile.DEIDENTIFIED
    ):
        return Treatment.KEEP
    return POLICY[classified.kind][profile]


def is_audit_event_model(model: type[models.Model]) -> bool:
    """pghistory's event tables copy a tracked model's fields: the trail, never exported."""
    import pghistory.models

    return issubclass(model, pghistory.models.Event)


def unclassified_fields(models_to_check) -> list[str]:
    """ "app.Model.field" for every concrete field that FIELDS does not classify."""
    return [
        f"{model._meta.label}.{f.name}"
        for model in models_to_check
        for f in model._meta.concrete_fields
        if classification(model, f.name) is None
    ]


# The tidy file format ------------------------------------------------------------------------

FORMAT_NAME = "ivig-registry cohort export"
FORMAT_VERSION = 1
DICTIONARY_FILE = "data_dictionary.csv"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Link:
    """A foreign key written as the key of a row in another file (or a reference code)."""

    column: str
    table: str | None  # the file whose key it names; None for reference data
    lookup: str = ""  # for reference data: the field of the referenced model written


@dataclass(frozen=True)
class Table:
    """One CSV file: one model, its row key and how its foreign keys are written."""

    name: str  # the file is f"{name}.csv"
    model: type[models.Model]
    key_column: str
    key_format: str  # documentation of the key's shape, for the dictionary
    links: dict[str, Link] = field(default_factory=dict)  # foreign-key field -> link
    description: str = ""

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def parent_field(self) -> str | None:
        """The foreign key naming the row this one belongs to (it decides the study ID)."""
        for name, link in self.links.items():
            if link.table is not None:
                return name
        return None


STUDY_ID = "study_id"

# In dependency order: a file only names rows of files above it. Row keys are built from the
# study ID and each row's place among its siblings (date, then entry order), so they are stable
# across an export -> import -> export round trip, and say nothing a study ID does not.
TABLES: list[Table] = [
    Table(
        "patients",
        Patient,
        key_column=STUDY_ID,
        key_format="the random study ID, e.g. MTL-7Q4K2B",
        links={"site": Link("site", None, lookup="code")},
        description="One row per patient.",
    ),
    Table(
        "consents",
        Consent,
        key_column="consent_id",
        key_format="{study_id}-CN{n}, n counting her consents by date signed",
        links={"patient": Link(STUDY_ID, "patients")},
        description="Consent forms signed, and withdrawn.",
    ),
    Table(
        "immune_tests",
        ImmuneTest,
        key_column="immune_test_id",
        key_format="{study_id}-IT{n}, n counting her tests by date",
        links={"patient": Link(STUDY_ID, "patients")},
        description="Immune work-up results.",
    ),
    Table(
        "cycles",
        TreatmentCycle,
        key_column="cycle_id",
        key_format="{study_id}-C{number}",
        links={
            "patient": Link(STUDY_ID, "patients"),
            "protocol": Link("protocol", None, lookup="code"),
        },
        description="Treatment cycles: one attempt under a protocol.",
    ),
    Table(
        "planned_doses",
        PlannedDose,
        key_column="planned_dose_id",
        key_format="{cycle_id}-D{sequence}",
        links={"cycle": Link("cycle_id", "cycles")},
        description="Doses planned from the protocol, with their due windows.",
    ),
    Table(
        "infusions",
        Infusion,
        key_column="infusion_id",
        key_format="{cycle_id}-I{n}, n counting the cycle's infusions by date given",
        links={
            "cycle": Link("cycle_id", "cycles"),
            "planned_dose": Link("planned_dose_id", "planned_doses"),
            "product": Link("product", None, lookup="name"),
        },
        description="Immunoglobulin doses given.",
    ),
    Table(
        "transfers",
        EmbryoTransfer,
        key_column="transfer_id",
        key_format="{cycle_id}-T{n}, n counting the cycle's transfers by date",
        links={"cycle": Link("cycle_id", "cycles")},
        description="Embryo transfers.",
    ),
    Table(
        "pregnancies",
        Pregnancy,
        key_column="pregnancy_id",
        key_format="{study_id}-P{n}, n counting her pregnancies by date confirmed",
        links={
            "patient": Link(STUDY_ID, "patients"),
            "cycle": Link("cycle_id", "cycles"),
            "transfer": Link("transfer_id", "transfers"),
        },
        description="Clinical pregnancies.",
    ),
    Table(
        "visits",
        FollowUpVisit,
        key_column="visit_id",
        key_format="{pregnancy_id}-V{n}, n counting the pregnancy's visits by due date",
        links={"pregnancy": Link("pregnancy_id", "pregnancies")},
        description="Follow-up visits during and after pregnancy.",
    ),
    Table(
        "outcomes",
        PregnancyOutcome,
        key_column="outcome_id",
        key_format="{pregnancy_id}-O (one per pregnancy)",
        links={"pregnancy": Link("pregnancy_id", "pregnancies")},
        description="How each pregnancy ended.",
    ),
    Table(
        "infants",
        Infant,
        key_column="infant_id",
        key_format="{pregnancy_id}-B{birth_order}",
        links={"pregnancy": Link("pregnancy_id", "pregnancies")},
        description="Babies born, one row each (twins are two rows).",
    ),
    Table(
        "adverse_events",
        AdverseEvent,
        key_column="adverse_event_id",
        key_format="{study_id}-AE{n}, n counting her events by onset date",
        links={
            "patient": Link(STUDY_ID, "patients"),
            "infusion": Link("infusion_id", "infusions"),
            "pregnancy": Link("pregnancy_id", "pregnancies"),
        },
        description="Maternal, fetal and neonatal adverse events.",
    ),
]
TABLES_BY_NAME = {table.name: table for table in TABLES}
EXPORTED_MODELS = {table.model for table in TABLES}


# Columns -------------------------------------------------------------------------------------

# Columns that are not a model field: computed from the patient's index date.
INDEX_ON = "index_on"
INDEX_YEAR = "index_year"
INDEX_EVENT = "index_event"
AGE_AT_INDEX = "age_at_index_years"
INDEX_EVENTS = {
    "first_dose": "the first immunoglobulin dose",
    "enrolment": "enrolment (no dose given)",
    "screening": "screening (not enrolled, no dose given)",
}
INDEX_DEFINITION = (
    "The index date (day 0) is the patient's first immunoglobulin dose; "
    "if she had none, her enrolment; if not enrolled, her screening."
)
# HIPAA Safe Harbor: ages above 89 are aggregated into one category.
AGE_TOP_CODE = 90

CONVENTIONS = {
    "missing": "an empty cell, in every file and column",
    "boolean": "true or false",
    "code": "the stored code; data_dictionary.csv lists every code with its meaning",
    "date": "YYYY-MM-DD",
    "datetime": "YYYY-MM-DDTHH:MM:SS.ffffffZ, in UTC",
    "days from index": "whole days from the patient's index date; negative before it",
    "decimal": "a point as decimal separator, no thousands separator",
    "csv": "UTF-8, comma-separated, double quotes around values that need them, LF line ends",
    "keys": "study_id links every file to patients.csv; *_id columns name rows of other files",
    "index date": INDEX_DEFINITION,
}


@dataclass(frozen=True)
class Column:
    name: str
    table: str
    type: str
    unit: str
    allowed_values: str
    description: str
    field: models.Field | None = None  # None for the columns computed from the index date
    treatment: Treatment = Treatment.KEEP
    link: Link | None = None

    def dictionary_row(self) -> dict[str, str]:
        return {
            "variable": self.name,
            "table": self.table,
            "type": self.type,
            "unit": self.unit,
            "allowed_values": self.allowed_values,
            "description": self.description,
        }


DICTIONARY_HEADER = ["variable", "table", "type", "unit", "allowed_values", "description"]


def _sentence(text: str) -> str:
    text = str(text).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _describe(f: models.Field, *suffix: str) -> str:
    parts = [_sentence(f.verbose_name), _sentence(f.help_text), *suffix]
    if f.null or (f.blank and not isinstance(f, models.BooleanField)):
        parts.append("Empty when not recorded.")
    return " ".join(part for part in parts if part)


def _value_type(f: models.Field) -> tuple[str, str]:
    """(type, allowed values) of a field written as it is stored."""
    if f.choices:
        return "code", " | ".join(f"{value} = {label}" for value, label in f.flatchoices)
    if isinstance(f, models.BooleanField):
        return "boolean", "true | false"
    if isinstance(f, models.DateTimeField):
        return "datetime", ""
    if isinstance(f, models.DateField):
        return "date", ""
    if isinstance(f, models.DecimalField):
        return "decimal", f"up to {f.decimal_places} decimal places"
    if isinstance(f, models.IntegerField):
        positive = (
            models.PositiveSmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
        )
        return "integer", "0 or more" if isinstance(f, positive) else ""
    return "text", f"at most {f.max_length} characters" if f.max_length else ""


def shifted_name(field_name: str) -> str:
    """given_on -> given_on_days: the field's name, so the limited and de-identified files read
    alike, and the unit, so nobody mistakes it for a date (or for embryo_day)."""
    return f"{field_name}_days"


def _index_columns(table: str, profile: ExportProfile) -> list[Column]:
    event = Column(
        INDEX_EVENT,
        table,
        "code",
        "",
        " | ".join(f"{code} = {meaning}" for code, meaning in INDEX_EVENTS.items()),
        "What day 0 is for this patient. " + INDEX_DEFINITION,
    )
    if profile is ExportProfile.DEIDENTIFIED:
        when = Column(
            INDEX_YEAR,
            table,
            "year",
            "",
            "",
            "Year of the index date (day 0); the only year given.",
        )
        age = Column(
            AGE_AT_INDEX,
            table,
            "integer",
            "years",
            f"whole years; {AGE_TOP_CODE}+ for every age above {AGE_TOP_CODE - 1}",
            f"Age at the index date, in completed years; ages above {AGE_TOP_CODE - 1} are "
            f"written {AGE_TOP_CODE}+ (HIPAA Safe Harbor).",
        )
    else:
        when = Column(INDEX_ON, table, "date", "", "", "The index date (day 0).")
        age = Column(
            AGE_AT_INDEX, table, "integer", "years", "", "Age at the index date, completed years."
        )
    return [when, event, age]


def columns(table: Table, profile: ExportProfile) -> list[Column]:
    """The columns of one file in one profile, in order: study ID, row key, fields."""
    model = table.model
    out: list[Column] = []
    if table.key_column != STUDY_ID:
        out.append(
            Column(STUDY_ID, table.name, "key", "", "", "Study ID of the patient.", link=None)
        )
    for f in model._meta.concrete_fields:
        how = treatment(model, f.name, profile)
        if how is Treatment.DROP:
            continue
        classified = classification(model, f.name)
        if f.primary_key:
            if table.key_column == STUDY_ID:
                continue  # a patient's row key is her study ID, written at its own field
            out.append(
                Column(
                    table.key_column,
                    table.name,
                    "key",
                    "",
                    table.key_format,
                    f"Row key: {table.key_format}.",
                    field=f,
                )
            )
        elif f.name == STUDY_ID:
            out.append(
                Column(STUDY_ID, table.name, "key", "", "", "Study ID of the patient.", field=f)
            )
        elif f.is_relation:
            link = table.links.get(f.name)
            if link is None:
                raise LookupError(
                    f"{model._meta.label}.{f.name}: no link in TABLES says how to write it"
                )
            if link.column == STUDY_ID:
                continue  # written first
            if link.table is None:
                description = _describe(f, f"Written as its {link.lookup}.")
                out.append(
                    Column(link.column, table.name, "text", "", "", description, f, how, link)
                )
            else:
                target = TABLES_BY_NAME[link.table]
                description = _describe(
                    f, f"The {target.key_column} of a row in {target.file_name}."
                )
                out.append(
                    Column(link.column, table.name, "key", "", "", description, f, how, link)
                )
            if (
                table.model is Patient
                and f.name == "site"
                and profile is not ExportProfile.IDENTIFIED
            ):
                # The identified file is the import format: model fields only, nothing derived.
                out.extend(_index_columns(table.name, profile))
        elif how is Treatment.DAYS_FROM_INDEX:
            description = _describe(
                f, "Days from the patient's index date (day 0); negative before it."
            )
            out.append(
                Column(
                    shifted_name(f.name),
                    table.name,
                    "integer",
                    "days from index",
                    "",
                    description,
                    f,
                    how,
                )
            )
        else:
            kind, allowed = _value_type(f)
            unit = classified.unit if classified else ""
            out.append(Column(f.name, table.name, kind, unit, allowed, _describe(f), f, how))
    return out
