"""Who may export what, through the admin page, the streaming download and the command; and
the record every export leaves.

The cast: alice (clinic staff at MTL), bob (clinic staff at CPH), ivan (investigator at MTL),
rita (researcher, every site, de-identified) and admin. Researchers get de-identified data only;
a limited data set (real dates) needs the right to see identifiers (staff, investigators) or to
export them; identified data needs registry.export_identified, which no role holds by default.
"""

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.urls import reverse

from analytics.classification import MANIFEST_FILE, ExportProfile
from analytics.models import ExportRecord
from tests.analytics.export_fixtures import (
    STUDY_ID_OTHER_SITE,
    STUDY_ID_SCREENED,
    STUDY_ID_TREATED,
    STUDY_ID_WITHDRAWN,
    members,
    read_csv,
    seed_export_cohort,
)

pytestmark = pytest.mark.django_db

MTL = {STUDY_ID_TREATED, STUDY_ID_SCREENED, STUDY_ID_WITHDRAWN}


@pytest.fixture
def cohort(site_a, site_b):
    return seed_export_cohort(site_a, site_b)


def download(client, user, **params):
    client.force_login(user)
    return client.get(reverse("cohort_export_download"), params)


def content(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def study_ids(zip_bytes: bytes) -> set[str]:
    return {row["study_id"] for row in read_csv(zip_bytes, "patients.csv")}


@pytest.mark.parametrize(
    ("who", "profile", "status"),
    [
        ("rita", "deidentified", 200),
        ("rita", "limited", 403),
        ("rita", "identified", 403),
        ("alice", "deidentified", 200),
        ("alice", "limited", 200),
        ("alice", "identified", 403),
        ("ivan", "limited", 200),
        ("ivan", "identified", 403),
        ("admin", "identified", 200),
    ],
)
def test_each_role_gets_only_its_profiles(client, cast, cohort, who, profile, status):
    response = download(client, cast[who], profile=profile)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/zip"
        assert "no-store" in response["Cache-Control"]
        assert f"cohort-{profile}-" in response["Content-Disposition"]
        assert zipfile.ZipFile(io.BytesIO(content(response))).testzip() is None


def test_a_refused_export_leaves_no_record_and_no_data(client, cast, cohort):
    response = download(client, cast["rita"], profile="identified")
    assert response.status_code == 403
    assert not ExportRecord.objects.exists()


def test_a_researcher_exports_every_site(client, cast, cohort):
    exported = content(download(client, cast["rita"], profile="deidentified"))
    assert study_ids(exported) == MTL | {STUDY_ID_OTHER_SITE}


def test_staff_export_only_their_own_sites_patients(client, cast, cohort):
    exported = content(download(client, cast["alice"], profile="limited"))
    assert study_ids(exported) == MTL
    for name, data in members(exported).items():
        assert STUDY_ID_OTHER_SITE.encode() not in data, name


@pytest.mark.parametrize(("who", "site"), [("alice", "CPH"), ("bob", "MTL"), ("ivan", "CPH")])
def test_staff_of_one_site_cannot_export_another(client, cast, cohort, who, site):
    response = download(client, cast[who], profile="deidentified", site=site)
    assert response.status_code == 403
    assert not ExportRecord.objects.exists()


def test_staff_given_export_identified_get_identifiers_of_their_site_only(client, cast, cohort):
    alice = cast["alice"]
    alice.user_permissions.add(Permission.objects.get(codename="export_identified"))
    exported = content(download(client, alice, profile="identified"))
    patients = read_csv(exported, "patients.csv")
    assert {row["study_id"] for row in patients} == MTL
    assert "Quillfeather" in {row["family_name"] for row in patients}


def test_a_bad_request_is_refused_with_the_reason(client, cast, cohort):
    response = download(client, cast["rita"], profile="everything")
    assert response.status_code == 400
    assert "profile" in response.content.decode()
    response = download(
        client, cast["rita"], enrolled_from="2025-02-01", enrolled_until="2025-01-01"
    )
    assert response.status_code == 400


def test_anonymous_visitors_are_sent_to_log_in(client, cohort):
    response = client.get(reverse("cohort_export_download"), {"profile": "deidentified"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_enrolment_period_narrows_the_patients(client, cast, cohort):
    exported = content(
        download(
            client,
            cast["rita"],
            profile="deidentified",
            enrolled_from="2025-01-06",
            enrolled_until="2025-01-06",
        )
    )
    # The patient still screening was never enrolled, so no enrolment period holds her.
    assert study_ids(exported) == {STUDY_ID_TREATED, STUDY_ID_WITHDRAWN, STUDY_ID_OTHER_SITE}
    exported = content(
        download(client, cast["rita"], profile="deidentified", enrolled_from="2025-01-07")
    )
    assert study_ids(exported) == set()


def test_every_export_is_recorded_with_who_profile_filters_and_row_counts(client, cast, cohort):
    exported = content(download(client, cast["alice"], profile="deidentified", site="MTL"))
    record = ExportRecord.objects.get()
    assert record.user == cast["alice"]
    assert record.username == "alice"
    assert record.source == ExportRecord.Source.API
    assert record.profile == ExportProfile.DEIDENTIFIED
    assert record.filters == {"sites": ["MTL"], "enrolled_from": None, "enrolled_until": None}
    assert record.finished_at is not None
    assert record.row_counts["patients"] == 3
    assert record.row_counts["infusions"] == len(read_csv(exported, "infusions.csv")) == 3


def test_staff_who_choose_no_site_are_recorded_as_exporting_their_own(client, cast, cohort):
    content(download(client, cast["alice"], profile="deidentified"))
    assert ExportRecord.objects.get().filters["sites"] == ["MTL"]


def test_export_records_are_in_the_audit_trail_and_cannot_be_deleted(client, cast, cohort):
    from django.db import DatabaseError, transaction

    content(download(client, cast["rita"], profile="deidentified"))
    record = ExportRecord.objects.get()
    labels = list(record.events.order_by("pgh_id").values_list("pgh_label", flat=True))
    assert labels == ["insert", "update"]
    with pytest.raises(DatabaseError, match="Cannot delete"), transaction.atomic():
        record.delete()
    assert ExportRecord.objects.filter(pk=record.pk).exists()


def test_the_admin_page_offers_researchers_only_the_deidentified_profile(client, cast, cohort):
    client.force_login(cast["rita"])
    html = client.get(reverse("cohort_export")).content.decode()
    assert 'value="deidentified"' in html
    assert 'value="limited"' not in html
    assert 'value="identified"' not in html


def test_the_admin_page_offers_staff_only_their_sites(client, cast, cohort):
    client.force_login(cast["alice"])
    html = client.get(reverse("cohort_export")).content.decode()
    assert 'value="MTL"' in html
    assert 'value="CPH"' not in html
    assert 'value="limited"' in html


def test_submitting_the_admin_page_downloads_the_zip(client, cast, cohort):
    client.force_login(cast["rita"])
    response = client.post(reverse("cohort_export"), {"profile": "deidentified", "site": ["CPH"]})
    assert response.status_code == 200
    assert study_ids(content(response)) == {STUDY_ID_OTHER_SITE}
    assert ExportRecord.objects.get().source == ExportRecord.Source.ADMIN


def test_each_user_sees_their_own_export_records_and_a_link_to_export(client, cast, cohort):
    content(download(client, cast["rita"], profile="deidentified"))
    content(download(client, cast["alice"], profile="deidentified"))
    client.force_login(cast["rita"])
    html = client.get(reverse("admin:analytics_exportrecord_changelist")).content.decode()
    assert reverse("cohort_export") in html
    assert reverse("cohort_import") not in html  # researchers do not import
    assert ">rita<" in html and ">alice<" not in html
    client.force_login(cast["alice"])
    html = client.get(reverse("admin:analytics_exportrecord_changelist")).content.decode()
    assert reverse("cohort_import") in html


def test_the_command_writes_the_zip_and_records_it(tmp_path: Path, cohort):
    out = tmp_path / "cohort.zip"
    stdout = io.StringIO()
    call_command(
        "export_cohort",
        "--profile",
        "deidentified",
        "--site",
        "CPH",
        "--out",
        str(out),
        stdout=stdout,
    )
    assert f"Wrote {out}" in stdout.getvalue()
    exported = out.read_bytes()
    assert study_ids(exported) == {STUDY_ID_OTHER_SITE}
    assert MANIFEST_FILE in members(exported)
    assert not (tmp_path / "cohort.zip.partial").exists()
    record = ExportRecord.objects.get()
    assert record.source == ExportRecord.Source.COMMAND
    assert record.username.endswith("(command line)")


def test_the_command_refuses_an_unknown_site(tmp_path: Path, cohort):
    with pytest.raises(CommandError, match="no site with code XYZ"):
        call_command("export_cohort", "--site", "XYZ", "--out", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
