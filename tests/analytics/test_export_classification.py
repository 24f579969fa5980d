"""Every field is classified, and the exports' columns follow the classification.

A new field on any registry or outcomes model fails here until someone decides what it is, so a
field can never reach an export by default.
"""

import pytest
from django.apps import apps

from analytics.classification import (
    FIELDS,
    POLICY,
    STUDY_ID,
    TABLES,
    ExportProfile,
    Kind,
    Treatment,
    classification,
    columns,
    is_audit_event_model,
    unclassified_fields,
)
from registry.models import IDENTIFIER_FIELDS, Patient

CLINICAL_MODELS = [
    model
    for label in ("registry", "outcomes")
    for model in apps.get_app_config(label).get_models()
    if not is_audit_event_model(model)
]


def test_every_concrete_field_of_every_registry_and_outcomes_model_is_classified():
    assert unclassified_fields(CLINICAL_MODELS) == []


def test_the_classification_names_no_field_that_does_not_exist():
    stale = [
        f"{model._meta.label}.{name}"
        for model, fields in FIELDS.items()
        for name in fields
        if name not in {f.name for f in model._meta.concrete_fields}
    ]
    assert stale == []


def test_every_clinical_model_is_classified_and_every_exported_one_has_a_file():
    assert set(FIELDS) == set(CLINICAL_MODELS)
    assert {table.model for table in TABLES} <= set(CLINICAL_MODELS)
    assert len(TABLES) == 12


def test_the_registrys_identifier_fields_are_direct_identifiers():
    assert {
        name: classification(Patient, name).kind for name in IDENTIFIER_FIELDS
    } == dict.fromkeys(IDENTIFIER_FIELDS, Kind.DIRECT_IDENTIFIER)


def test_a_field_nobody_classified_is_dropped_by_every_profile():
    from analytics.classification import treatment

    for profile in ExportProfile:
        assert treatment(Patient, "a_field_added_tomorrow", profile) is Treatment.DROP


def test_only_the_identified_profile_keeps_direct_identifiers_and_free_text():
    for kind in (Kind.DIRECT_IDENTIFIER, Kind.FREE_TEXT):
        assert POLICY[kind] == {
            ExportProfile.DEIDENTIFIED: Treatment.DROP,
            ExportProfile.LIMITED: Treatment.DROP,
            ExportProfile.IDENTIFIED: Treatment.KEEP,
        }


@pytest.mark.parametrize("profile", list(ExportProfile))
def test_every_file_starts_with_the_study_id_and_then_its_own_key(profile):
    for table in TABLES:
        names = [column.name for column in columns(table, profile)]
        assert names[0] == STUDY_ID
        if table.key_column != STUDY_ID:
            assert names[1] == table.key_column
        assert len(names) == len(set(names)), f"{table.name} repeats a column"


def test_the_deidentified_files_hold_no_identifier_free_text_or_date():
    for table in TABLES:
        for column in columns(table, ExportProfile.DEIDENTIFIED):
            if column.field is None:
                continue
            kind = classification(table.model, column.field.name).kind
            assert kind not in (Kind.DIRECT_IDENTIFIER, Kind.FREE_TEXT, Kind.RECORD_KEEPING)
            assert column.type not in ("date", "datetime"), f"{table.name}.{column.name}"
            if kind is Kind.DATE:
                assert column.unit == "days from index"
                assert column.name.endswith("_days")


def test_the_identified_files_hold_every_classified_field_but_record_keeping():
    for table in TABLES:
        written = {
            column.field.name
            for column in columns(table, ExportProfile.IDENTIFIED)
            if column.field is not None
        }
        expected = {
            name
            for name, classified in FIELDS[table.model].items()
            if classified.kind is not Kind.RECORD_KEEPING
        }
        # A child's link to its patient is the study ID column, and a patient's row key is her
        # study ID: neither is written as a field of its own.
        assert written | {"patient", "id"} >= expected, table.name
