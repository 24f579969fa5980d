"""The import's two ways in: the admin page (check, then import) and `manage.py import_cohort`.

The cast: alice (clinic staff at MTL), bob (clinic staff at CPH), rita (researcher).
"""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from pghistory.models import Events

from analytics.classification import ExportProfile
from analytics.exports import ExportFilters
from registry.models import Patient
from tests.analytics.export_fixtures import (
    STUDY_ID_TREATED,
    clinical_row_counts,
    delete_cohort,
    export_zip,
    rewrite_csv,
    seed_export_cohort,
    set_cell,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mtl_zip(site_a, site_b) -> bytes:
    """MTL's patients in the identified format, the registry emptied of every patient."""
    seed_export_cohort(site_a, site_b)
    exported = export_zip(ExportProfile.IDENTIFIED, ExportFilters(site_codes=("MTL",)))
    delete_cohort()
    return exported


def upload(client, user, zip_bytes: bytes, button: str):
    client.force_login(user)
    return client.post(
        reverse("cohort_import"),
        {"archive": SimpleUploadedFile("mtl.zip", zip_bytes, "application/zip"), button: "1"},
    )


def test_checking_a_good_file_previews_it_and_writes_nothing(client, cast, mtl_zip):
    response = upload(client, cast["alice"], mtl_zip, "check")
    assert response.status_code == 200
    html = response.content.decode()
    assert "mtl.zip: no problems; 3 patients" in html
    assert 'id="import-preview"' in html
    assert STUDY_ID_TREATED in html
    assert not any(clinical_row_counts().values())


def test_importing_a_good_file_writes_it_with_the_user_in_the_audit_trail(client, cast, mtl_zip):
    response = upload(client, cast["alice"], mtl_zip, "import")
    assert response.status_code == 200
    assert "mtl.zip: imported 3 patients" in response.content.decode()
    patient = Patient.objects.get(study_id=STUDY_ID_TREATED)
    event = Events.objects.references(patient).filter(pgh_label="insert").first()
    assert event.pgh_context["user"] == cast["alice"].pk
    assert event.pgh_context["source"] == "import_cohort"
    assert event.pgh_context["import_file"] == "mtl.zip"


def test_a_bad_file_shows_every_problem_by_file_row_and_column(client, cast, mtl_zip):
    spoilt = rewrite_csv(mtl_zip, *set_cell("infusions.csv", 2, "dose_g", "forty"))
    response = upload(client, cast["alice"], spoilt, "import")
    html = response.content.decode()
    assert "mtl.zip: 1 problem; nothing was written." in html
    assert "<td>infusions.csv</td><td>2</td><td>dose_g</td>" in html
    assert not any(clinical_row_counts().values())


def test_staff_cannot_import_patients_into_another_sites_registry(client, cast, mtl_zip):
    response = upload(client, cast["bob"], mtl_zip, "import")
    html = response.content.decode()
    assert "you may import patients of your own sites only (CPH); MTL is not one of them" in html
    assert not any(clinical_row_counts().values())


def test_researchers_may_not_import(client, cast, mtl_zip):
    assert upload(client, cast["rita"], mtl_zip, "import").status_code == 403
    client.force_login(cast["rita"])
    assert client.get(reverse("cohort_import")).status_code == 403


def test_the_command_dry_run_reports_and_writes_nothing(tmp_path: Path, mtl_zip):
    path = tmp_path / "mtl.zip"
    path.write_bytes(mtl_zip)
    out = io.StringIO()
    call_command("import_cohort", str(path), "--dry-run", stdout=out)
    assert out.getvalue().startswith("mtl.zip: no problems; 3 patients")
    assert "Nothing was written (dry run)." in out.getvalue()
    assert not any(clinical_row_counts().values())


def test_the_command_imports_and_says_how_much(tmp_path: Path, mtl_zip):
    path = tmp_path / "mtl.zip"
    path.write_bytes(mtl_zip)
    out = io.StringIO()
    call_command("import_cohort", str(path), stdout=out)
    assert out.getvalue().startswith("mtl.zip: imported 3 patients")
    assert Patient.objects.count() == 3


def test_the_command_lists_the_problems_and_fails(tmp_path: Path, mtl_zip):
    path = tmp_path / "bad.zip"
    path.write_bytes(rewrite_csv(mtl_zip, *set_cell("outcomes.csv", 2, "kind", "lve_birth")))
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 problem in bad.zip; nothing was written"):
        call_command("import_cohort", str(path), stdout=out)
    assert "outcomes.csv, row 2, column kind: 'lve_birth' is not one of" in out.getvalue()
    assert not any(clinical_row_counts().values())
