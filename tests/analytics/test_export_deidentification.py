"""What each profile gives away: the de-identified zip holds no name, MRN, contact, free text or
date (only years, days from the index date, and ages capped at 90+)."""

import csv
import datetime as dt
import io
import json
import re

import pytest

from analytics.classification import DICTIONARY_FILE, MANIFEST_FILE, TABLES, ExportProfile
from analytics.exports import ExportFilters
from outcomes.models import Infant
from registry.age import age_years
from tests.analytics.export_fixtures import (
    FREE_TEXT_SENTINELS,
    LOT_NUMBER,
    OVERRIDDEN_AT,
    SENTINELS,
    STUDY_ID_SCREENED,
    STUDY_ID_TREATED,
    STUDY_ID_WITHDRAWN,
    export_zip,
    members,
    read_csv,
    seed_export_cohort,
)
from tests.factories import ENROLLED_ON, TRANSFER_ON, PatientFactory

pytestmark = pytest.mark.django_db

# Any way a full date might be written: 2025-03-03, 2025/3/3, 03/03/2025, 3.3.2025, 20250303.
DATE_LIKE = re.compile(
    rb"(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|(?:19|20)\d{6})(?!\d)"
)


def every_date_in_the_registry() -> set[dt.date]:
    dates = set()
    for table in TABLES:
        date_fields = [
            f.name
            for f in table.model._meta.concrete_fields
            if f.get_internal_type() == "DateField"
        ]
        if not date_fields:
            continue
        for row in table.model.objects.values_list(*date_fields):
            dates.update(value for value in row if value is not None)
    return dates


def date_spellings(day: dt.date) -> list[bytes]:
    return [
        spelling.encode()
        for spelling in (
            day.isoformat(),
            day.strftime("%Y%m%d"),
            day.strftime("%d/%m/%Y"),
            day.strftime("%m/%d/%Y"),
        )
    ]


@pytest.fixture
def cohort(site_a, site_b):
    return seed_export_cohort(site_a, site_b)


def test_no_sentinel_identifier_free_text_or_full_date_is_anywhere_in_the_deidentified_zip(cohort):
    exported = export_zip(ExportProfile.DEIDENTIFIED)
    secrets = [value.encode() for value in SENTINELS.values()]
    secrets += [value.encode() for value in FREE_TEXT_SENTINELS]
    secrets += [b"Quillfeather", b"Sentinel Lane", b"SENTINEL"]
    for day in every_date_in_the_registry() | {OVERRIDDEN_AT.date()}:
        secrets += date_spellings(day)
    secrets.append(OVERRIDDEN_AT.isoformat()[:19].encode())
    assert len(every_date_in_the_registry()) > 20
    for name, data in members(exported).items():
        if name == MANIFEST_FILE:
            # When the export was made is the one date it may carry: not a date of her life.
            manifest = json.loads(data)
            assert DATE_LIKE.search(manifest.pop("created_at").encode())
            data = json.dumps(manifest).encode()
        for secret in secrets:
            assert secret not in data, f"{secret!r} leaked into {name}"
        assert not DATE_LIKE.search(data), f"{name}: {DATE_LIKE.search(data).group()!r}"
    # The raw zip as well: names, comments and anything stored uncompressed.
    for secret in secrets:
        assert secret not in exported


def test_the_same_sentinels_are_in_the_identified_zip_so_the_leak_test_can_see_them(cohort):
    exported = export_zip(ExportProfile.IDENTIFIED)
    everything = b"".join(members(exported).values())
    for secret in [*SENTINELS.values(), *FREE_TEXT_SENTINELS]:
        assert secret.encode() in everything
    assert DATE_LIKE.search(everything)


def test_no_deidentified_column_holds_more_than_a_year(cohort):
    exported = export_zip(ExportProfile.DEIDENTIFIED)
    dictionary = read_csv(exported, DICTIONARY_FILE)
    assert not [row for row in dictionary if row["type"] in ("date", "datetime")]
    types = {(row["table"], row["variable"]): row["type"] for row in dictionary}
    for table in TABLES:
        for row in read_csv(exported, table.file_name):
            for column, value in row.items():
                if types[(table.name, column)] == "year":
                    assert re.fullmatch(r"\d{4}", value)
                elif column.endswith("_days") and value:
                    assert re.fullmatch(r"-?\d+", value), (table.name, column, value)


def test_dates_become_days_from_her_first_dose_and_the_index_date_only_its_year(cohort):
    exported = export_zip(ExportProfile.DEIDENTIFIED)
    first_dose_on = TRANSFER_ON - dt.timedelta(days=7)
    patient = next(
        row for row in read_csv(exported, "patients.csv") if row["study_id"] == STUDY_ID_TREATED
    )
    assert patient["index_year"] == "2025"
    assert patient["index_event"] == "first_dose"
    assert patient["enrolled_on_days"] == str((ENROLLED_ON - first_dose_on).days)
    assert patient["eligibility_overridden_at_days"] == str(
        (OVERRIDDEN_AT.astimezone(dt.UTC).date() - first_dose_on).days
    )
    infusions = [
        row for row in read_csv(exported, "infusions.csv") if row["study_id"] == STUDY_ID_TREATED
    ]
    assert [row["given_on_days"] for row in infusions] == ["0", "27", "27"]
    consents = [
        row for row in read_csv(exported, "consents.csv") if row["study_id"] == STUDY_ID_TREATED
    ]
    assert consents[0]["signed_on_days"] == "-49"


def test_an_untreated_patients_index_date_is_her_enrolment_or_else_her_screening(cohort):
    exported = export_zip(ExportProfile.DEIDENTIFIED)
    patients = {row["study_id"]: row for row in read_csv(exported, "patients.csv")}
    assert patients[STUDY_ID_WITHDRAWN]["index_event"] == "enrolment"
    assert patients[STUDY_ID_WITHDRAWN]["enrolled_on_days"] == "0"
    assert patients[STUDY_ID_SCREENED]["index_event"] == "screening"
    assert patients[STUDY_ID_SCREENED]["screened_on_days"] == "0"
    assert patients[STUDY_ID_SCREENED]["enrolled_on_days"] == ""


def test_ages_above_89_are_written_90_plus_and_younger_ages_exactly(cohort):
    patients = {
        row["study_id"]: row
        for row in read_csv(export_zip(ExportProfile.DEIDENTIFIED), "patients.csv")
    }
    assert patients[STUDY_ID_SCREENED]["age_at_index_years"] == "90+"
    assert patients[STUDY_ID_TREATED]["age_at_index_years"] == "63"
    limited = {
        row["study_id"]: row for row in read_csv(export_zip(ExportProfile.LIMITED), "patients.csv")
    }
    assert limited[STUDY_ID_SCREENED]["age_at_index_years"] == "93"


@pytest.mark.parametrize(
    "index_on",
    [
        dt.date(2023, 2, 27),
        dt.date(2023, 2, 28),
        dt.date(2023, 3, 1),
        dt.date(2024, 2, 28),
        dt.date(2024, 2, 29),
    ],
)
def test_the_exports_age_counts_years_as_the_registry_does_even_for_a_leap_day_birthday(
    site_a, index_on
):
    born_on = dt.date(2000, 2, 29)
    PatientFactory(
        site=site_a,
        study_id="MTL-2FEBXX",
        date_of_birth=born_on,
        screened_on=index_on,
        enrolled_on=index_on,
    )
    (patient,) = read_csv(export_zip(ExportProfile.LIMITED), "patients.csv")
    assert patient["index_on"] == index_on.isoformat()
    assert patient["age_at_index_years"] == str(age_years(born_on, index_on))


def test_the_limited_profile_keeps_dates_but_no_identifier_or_free_text(cohort):
    exported = export_zip(ExportProfile.LIMITED)
    everything = b"".join(members(exported).values()).decode()
    for secret in [*SENTINELS.values(), *FREE_TEXT_SENTINELS]:
        if secret == LOT_NUMBER:
            continue  # a quasi-identifier: the limited data set keeps it
        assert secret not in everything
    assert LOT_NUMBER in everything
    patient = next(
        row for row in read_csv(exported, "patients.csv") if row["study_id"] == STUDY_ID_TREATED
    )
    assert patient["enrolled_on"] == ENROLLED_ON.isoformat()
    assert "date_of_birth" not in patient


def test_booleans_codes_and_missing_values_are_written_one_way_in_every_file(cohort):
    exported = export_zip(ExportProfile.IDENTIFIED)
    dictionary = read_csv(exported, DICTIONARY_FILE)
    types = {(row["table"], row["variable"]): row for row in dictionary}
    raw = members(exported)
    for table in TABLES:
        text = raw[table.file_name].decode()
        assert '""' not in text, f"{table.file_name} writes an empty string, not an empty cell"
        for row in csv.DictReader(io.StringIO(text)):
            for column, value in row.items():
                entry = types[(table.name, column)]
                if entry["type"] == "boolean":
                    assert value in ("true", "false")
                if entry["type"] == "code" and value:
                    allowed = [
                        part.split(" = ")[0] for part in entry["allowed_values"].split(" | ")
                    ]
                    assert value in allowed
    infants = read_csv(exported, "infants.csv")
    assert {row["nicu_admission"] for row in infants} == {"true", "false"}
    assert Infant.objects.filter(anomalies="").exists()
    assert "" in {row["anomalies"] for row in infants}


def test_the_dictionary_describes_every_column_of_every_file_and_nothing_else(cohort):
    for profile in ExportProfile:
        exported = export_zip(profile)
        described = {(row["table"], row["variable"]) for row in read_csv(exported, DICTIONARY_FILE)}
        written = set()
        for table in TABLES:
            header = members(exported)[table.file_name].decode().splitlines()[0].split(",")
            written |= {(table.name, column) for column in header}
        assert described == written
        for row in read_csv(exported, DICTIONARY_FILE):
            assert row["description"], row


def test_the_manifest_says_profile_filters_row_counts_and_version(cohort):
    exported = export_zip(ExportProfile.DEIDENTIFIED, ExportFilters(site_codes=("MTL",)))
    manifest = json.loads(members(exported)[MANIFEST_FILE])
    assert manifest["profile"] == "deidentified"
    assert manifest["filters"] == {"sites": ["MTL"], "enrolled_from": None, "enrolled_until": None}
    assert manifest["code_version"]
    assert manifest["created_at"].endswith("Z")
    for table in TABLES:
        assert manifest["row_counts"][table.name] == len(read_csv(exported, table.file_name))
    assert manifest["row_counts"]["patients"] == 3
