"""Bad files: every problem reported by file, row and column, in words; nothing written.

Each test starts from a good identified export of a cohort that fills every table, empties the
registry, spoils the file one way and imports it. Rows are numbered as a spreadsheet shows them
(the header is row 1); patients sort by study ID, so CPH-5DDDDD is row 2 and MTL-2AAAAA row 3.
"""

import io
import json

import pytest

from analytics.classification import ExportProfile
from outcomes.imports import ImportProblem, cohort_import
from tests.analytics.export_fixtures import (
    STUDY_ID_TREATED,
    clinical_row_counts,
    delete_cohort,
    export_zip,
    members,
    rewrite_csv,
    seed_export_cohort,
    set_cell,
)

pytestmark = pytest.mark.django_db

TREATED_ROW = 3  # MTL-2AAAAA in patients.csv, and her first infusion in infusions.csv


@pytest.fixture
def good_zip(site_a, site_b) -> bytes:
    seed_export_cohort(site_a, site_b)
    exported = export_zip(ExportProfile.IDENTIFIED)
    delete_cohort()
    return exported


def spoil(zip_bytes: bytes, *changes) -> bytes:
    for name, change in changes:
        zip_bytes = rewrite_csv(zip_bytes, name, change)
    return zip_bytes


def import_problems(zip_bytes: bytes, existing: int = 0) -> list[ImportProblem]:
    """The problems importing the file reports; and it wrote nothing (beyond `existing`
    patients already in the registry)."""
    report = cohort_import(archive=io.BytesIO(zip_bytes))
    assert not report.written
    counts = clinical_row_counts()
    assert counts.pop("patients") == existing
    assert not any(counts.values()), "a bad file wrote rows"
    return report.problems


def drop_column(name: str, column: str):
    def change(rows):
        index = rows[0].index(column)
        return [row[:index] + row[index + 1 :] for row in rows]

    return name, change


def test_the_good_file_imports_every_row(good_zip):
    report = cohort_import(archive=io.BytesIO(good_zip))
    assert report.problems == []
    assert report.written
    assert report.row_counts == clinical_row_counts()
    assert report.summary() == "upload: imported 4 patients (31 rows in all)."


def test_a_missing_column_is_named_on_the_header_row(good_zip):
    problems = import_problems(spoil(good_zip, drop_column("patients.csv", "indication")))
    assert problems == [ImportProblem("patients.csv", 1, "indication", "the column is missing")]


def test_a_misspelt_column_is_reported_as_unknown_and_as_missing(good_zip):
    def rename(rows):
        rows[0][rows[0].index("dose_g")] = "dose_gram"
        return rows

    problems = import_problems(spoil(good_zip, ("infusions.csv", rename)))
    assert ImportProblem("infusions.csv", 1, "dose_g", "the column is missing") in problems
    assert (
        ImportProblem(
            "infusions.csv",
            1,
            "dose_gram",
            "is not a column of infusions.csv (data_dictionary.csv lists them)",
        )
        in problems
    )


@pytest.mark.parametrize(
    ("file", "column", "value", "message"),
    [
        (
            "infusions.csv",
            "dose_g",
            "forty",
            "'forty' is not a number (write decimals with a point: 62.5)",
        ),
        (
            "patients.csv",
            "date_of_birth",
            "17/05/1990",
            "'17/05/1990' is not a date written YYYY-MM-DD (e.g. 2025-01-31)",
        ),
        ("patients.csv", "date_of_birth", "1990-02-30", "'1990-02-30' is not a real date"),
        ("patients.csv", "unexplained_miscarriages", "4.5", "'4.5' is not a whole number"),
        ("patients.csv", "ig_contraindication", "yes", "'yes' is not true or false"),
        ("patients.csv", "family_name", "", "is empty: a value is required"),
        (
            "patients.csv",
            "eligibility_overridden_at",
            "2025-01-05 15:30",
            "'2025-01-05 15:30' is not a date and time with its zone, written like "
            "2025-01-31T14:05:00Z",
        ),
    ],
)
def test_a_wrong_type_is_reported_at_its_cell(good_zip, file, column, value, message):
    problems = import_problems(spoil(good_zip, set_cell(file, TREATED_ROW, column, value)))
    assert problems == [ImportProblem(file, TREATED_ROW, column, message)]


def test_an_unknown_code_is_reported_with_the_codes_allowed(good_zip):
    problems = import_problems(spoil(good_zip, set_cell("outcomes.csv", 3, "kind", "lve_birth")))
    assert problems == [
        ImportProblem(
            "outcomes.csv",
            3,
            "kind",
            "'lve_birth' is not one of the codes allowed: "
            "live_birth, miscarriage, stillbirth, ectopic, termination",
        )
    ]


def test_an_unknown_site_is_reported_as_missing_reference_data(good_zip):
    problems = import_problems(spoil(good_zip, set_cell("patients.csv", 2, "site", "XYZ")))
    assert (
        ImportProblem(
            "patients.csv",
            2,
            "site",
            "no site with code 'XYZ' in this registry (an administrator adds sites in the admin)",
        )
        in problems
    )


def test_a_dangling_reference_is_reported_at_the_row_that_makes_it(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("infusions.csv", TREATED_ROW, "cycle_id", "MTL-2AAAAA-C9"))
    )
    assert (
        ImportProblem(
            "infusions.csv",
            TREATED_ROW,
            "cycle_id",
            "MTL-2AAAAA-C9 is not a cycle_id in cycles.csv",
        )
        in problems
    )


def test_a_row_of_an_unknown_patient_is_reported(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("consents.csv", 2, "study_id", "MTL-9ZZZZZ"))
    )
    assert (
        ImportProblem("consents.csv", 2, "study_id", "MTL-9ZZZZZ is not a study_id in patients.csv")
        in problems
    )


def test_a_link_to_another_patients_row_is_refused(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("infusions.csv", TREATED_ROW, "cycle_id", "CPH-5DDDDD-C1"))
    )
    assert (
        ImportProblem(
            "infusions.csv",
            TREATED_ROW,
            "cycle_id",
            f"CPH-5DDDDD-C1 belongs to patient CPH-5DDDDD, not to {STUDY_ID_TREATED}",
        )
        in problems
    )


def test_a_duplicate_study_id_is_reported_at_its_second_row(good_zip):
    def duplicate(rows):
        copy = list(rows[TREATED_ROW - 1])
        copy[rows[0].index("mrn")] = "MRN-OTHER-1"
        return [*rows, copy]

    problems = import_problems(spoil(good_zip, ("patients.csv", duplicate)))
    assert problems == [
        ImportProblem(
            "patients.csv",
            6,
            "study_id",
            f"duplicate study ID {STUDY_ID_TREATED}: it is also on row {TREATED_ROW}",
        )
    ]


def test_a_duplicate_mrn_at_one_site_is_reported(good_zip):
    problems = import_problems(spoil(good_zip, set_cell("patients.csv", 4, "mrn", "MRN-SENT-4471")))
    assert (
        ImportProblem(
            "patients.csv",
            4,
            "columns site, mrn",
            "row 3 has the same site and mrn; there may be only one",
        )
        in problems
    )


def test_an_mrn_already_registered_at_the_site_is_found_when_the_database_refuses_it(
    good_zip, site_a
):
    from tests.factories import PatientFactory

    PatientFactory(site=site_a, study_id="MTL-9ZZZZZ", mrn="MRN-SENT-4471")
    problems = import_problems(good_zip, existing=1)
    assert problems == [
        ImportProblem(
            "patients.csv",
            TREATED_ROW,
            "columns site, mrn",
            "Patient with this Site and MRN already exists.",
        )
    ]


def test_a_study_id_already_in_the_registry_is_refused(good_zip):
    assert cohort_import(archive=io.BytesIO(good_zip)).written
    counts = clinical_row_counts()
    report = cohort_import(archive=io.BytesIO(good_zip))
    assert not report.written
    assert clinical_row_counts() == counts
    assert (
        ImportProblem(
            "patients.csv",
            TREATED_ROW,
            "study_id",
            f"study ID {STUDY_ID_TREATED} is already in the registry; the import adds new patients only",
        )
        in report.problems
    )


def test_an_outcome_before_its_transfer_is_reported_in_the_chronology_rules_words(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("outcomes.csv", 3, "ended_on", "2025-03-01"))
    )
    assert problems == [
        ImportProblem(
            "outcomes.csv",
            3,
            "ended_on",
            "Ended on 2025-03-01 must be on or after the embryo transfer (2025-03-03).",
        )
    ]


def test_enrolment_before_screening_is_reported_with_the_constraints_message(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("patients.csv", TREATED_ROW, "enrolled_on", "2024-12-01"))
    )
    assert problems == [
        ImportProblem(
            "patients.csv",
            TREATED_ROW,
            "columns enrolled_on, screened_on",
            "Enrolled on must be on or after screened on.",
        )
    ]


def test_an_nk_result_that_is_not_a_percentage_breaks_the_models_rule(good_zip):
    problems = import_problems(spoil(good_zip, set_cell("immune_tests.csv", 2, "value", "130")))
    assert [(p.file, p.row, p.column) for p in problems] == [
        ("immune_tests.csv", 2, "columns analyte, value, unit")
    ]
    assert problems[0].message.startswith("An NK cell result must be a percentage: value 0-100")


def test_a_dose_before_any_signed_consent_is_refused(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("infusions.csv", TREATED_ROW, "given_on", "2024-12-01"))
    )
    assert problems == [
        ImportProblem(
            "infusions.csv",
            TREATED_ROW,
            "given_on",
            f"given on 2024-12-01, but {STUDY_ID_TREATED} has no consent in consents.csv "
            "signed on or before that date and not withdrawn by then; no dose may be given "
            "before a signed consent",
        )
    ]


def test_a_pregnancy_dated_against_its_transfer_wrongly_is_reported(good_zip):
    problems = import_problems(
        spoil(good_zip, set_cell("pregnancies.csv", 3, "lmp_on", "2025-02-10"))
    )
    assert problems == [
        ImportProblem(
            "pregnancies.csv",
            3,
            "lmp_on",
            "2025-02-10 does not match its transfer: a day-5 embryo transferred on 2025-03-03 "
            "dates the LMP-equivalent date to 2025-02-12",
        )
    ]


def test_every_problem_is_listed_at_once_in_file_then_row_order(good_zip):
    problems = import_problems(
        spoil(
            good_zip,
            set_cell("outcomes.csv", 3, "kind", "lve_birth"),
            set_cell("patients.csv", 2, "ig_contraindication", "yes"),
            set_cell("infusions.csv", TREATED_ROW, "dose_g", "forty"),
            set_cell("infusions.csv", 2, "weight_kg", "600"),
        )
    )
    assert [(p.file, p.row, p.column) for p in problems] == [
        ("patients.csv", 2, "ig_contraindication"),
        # Once a cell fails its own checks, rules that read it are not run on it again.
        ("infusions.csv", 2, "weight_kg"),
        ("infusions.csv", TREATED_ROW, "dose_g"),
        ("outcomes.csv", 3, "kind"),
    ]
    assert (
        str(problems[0])
        == "patients.csv, row 2, column ig_contraindication: 'yes' is not true or false"
    )


def test_a_missing_file_is_reported(good_zip):
    stripped = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(stripped, "w") as archive:
        for name, data in members(good_zip).items():
            if name != "infants.csv":
                archive.writestr(name, data)
    problems = import_problems(stripped.getvalue())
    assert problems == [
        ImportProblem(
            "infants.csv",
            0,
            "",
            "the file is missing from the zip (a table with no rows is a file with only its "
            "header row)",
        )
    ]


def test_a_deidentified_export_is_refused_for_import(site_a, site_b):
    seed_export_cohort(site_a, site_b)
    exported = export_zip(ExportProfile.DEIDENTIFIED)
    delete_cohort()
    problems = import_problems(exported)
    assert problems[0].file == "manifest.json"
    assert problems[0].column == "profile"
    assert "only identified exports can be imported" in problems[0].message


def test_a_file_that_is_not_a_zip_is_refused(db):
    report = cohort_import(archive=io.BytesIO(b"study_id,site\n"), file_name="cohort.csv")
    assert [str(problem) for problem in report.problems] == ["cohort.csv: is not a zip file"]


def test_a_zip_without_manifest_is_read_as_the_identified_format(good_zip):
    bare = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(bare, "w") as archive:
        for name, data in members(good_zip).items():
            if name != "manifest.json":
                archive.writestr(name, data)
    report = cohort_import(archive=io.BytesIO(bare.getvalue()))
    assert report.written
    assert report.notes[0] == "No manifest.json: the files are read as the identified format."


def test_the_manifest_of_a_newer_format_is_refused(good_zip):
    def newer(zip_bytes):
        out = io.BytesIO()
        import zipfile

        with zipfile.ZipFile(out, "w") as archive:
            for name, data in members(zip_bytes).items():
                if name == "manifest.json":
                    manifest = json.loads(data)
                    manifest["format_version"] = 99
                    data = json.dumps(manifest)
                archive.writestr(name, data)
        return out.getvalue()

    problems = import_problems(newer(good_zip))
    assert [(p.file, p.column) for p in problems] == [("manifest.json", "format_version")]
