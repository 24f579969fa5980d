"""Export identified -> import into an empty registry -> export again: the same files.

Row keys are built from the study ID and each row's place among its siblings, and the import
inserts every file in its own order, so new database ids give back the same keys.
"""

import io
import json

import pytest

from analytics.classification import MANIFEST_FILE, TABLES, ExportProfile
from outcomes.demo import load_demo
from outcomes.imports import cohort_import
from registry.models import Patient
from tests.analytics.export_fixtures import (
    SENTINELS,
    STUDY_ID_TREATED,
    clinical_row_counts,
    delete_cohort,
    export_zip,
    members,
    read_csv,
    seed_export_cohort,
)

pytestmark = pytest.mark.django_db


def round_trip(first: bytes) -> bytes:
    counts = clinical_row_counts()
    delete_cohort()
    report = cohort_import(archive=io.BytesIO(first))
    assert report.problems == []
    assert report.written
    assert clinical_row_counts() == counts
    return export_zip(ExportProfile.IDENTIFIED)


def assert_same_export(first: bytes, second: bytes):
    before, after = members(first), members(second)
    assert list(before) == list(after)
    for name in before:
        if name == MANIFEST_FILE:
            continue
        assert before[name] == after[name], f"{name} changed in the round trip"
    manifest_before, manifest_after = (
        json.loads(before[MANIFEST_FILE]),
        json.loads(after[MANIFEST_FILE]),
    )
    manifest_before.pop("created_at"), manifest_after.pop("created_at")
    assert manifest_before == manifest_after


def test_a_cohort_filling_every_table_survives_export_import_export(site_a, site_b):
    seed_export_cohort(site_a, site_b)
    first = export_zip(ExportProfile.IDENTIFIED)
    assert all(json.loads(members(first)[MANIFEST_FILE])["row_counts"].values())
    assert_same_export(first, round_trip(first))


def test_the_demo_cohort_survives_export_import_export(db):
    load_demo(password="pw-for-tests-only")
    first = export_zip(ExportProfile.IDENTIFIED)
    assert_same_export(first, round_trip(first))


def test_imported_patients_keep_their_identifiers_study_ids_and_override(site_a, site_b):
    seed_export_cohort(site_a, site_b)
    round_trip(export_zip(ExportProfile.IDENTIFIED))
    patient = Patient.objects.get(study_id=STUDY_ID_TREATED)
    assert {name: getattr(patient, name) for name in SENTINELS} == SENTINELS
    assert patient.eligibility_overridden_at is not None


def test_rows_link_through_keys_that_name_their_study_id_and_place(site_a, site_b):
    seed_export_cohort(site_a, site_b)
    exported = export_zip(ExportProfile.IDENTIFIED)
    infusions = [
        row for row in read_csv(exported, "infusions.csv") if row["study_id"] == STUDY_ID_TREATED
    ]
    assert [row["infusion_id"] for row in infusions] == [
        f"{STUDY_ID_TREATED}-C1-I1",
        f"{STUDY_ID_TREATED}-C1-I2",
        f"{STUDY_ID_TREATED}-C1-I3",
    ]
    assert [row["planned_dose_id"] for row in infusions] == [
        f"{STUDY_ID_TREATED}-C1-D1",
        f"{STUDY_ID_TREATED}-C1-D2",
        "",
    ]
    keys = {
        table.name: {row[table.key_column] for row in read_csv(exported, table.file_name)}
        for table in TABLES
    }
    for table in TABLES:
        for row in read_csv(exported, table.file_name):
            assert row["study_id"] in keys["patients"]
            for link in table.links.values():
                if link.table is not None and row[link.column]:
                    assert row[link.column] in keys[link.table], (table.name, link.column)
