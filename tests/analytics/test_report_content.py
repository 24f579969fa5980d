"""What the monthly report holds, and who may get what: built from a real cohort, read back from
the email it becomes (plain text, HTML, inline figures and the attached export)."""

import datetime as dt
import email
import email.policy
import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError

from analytics.models import ReportLevel, ReportSubscription
from analytics.reports import (
    report_build,
    report_message,
    report_period,
    subscription_scope,
    subscription_validate,
)
from tests.analytics.report_cohort import (
    FREE_TEXT,
    OTHER_SITE_MRN,
    OTHER_SITE_NAME,
    PERIOD_START,
    REPORT_DAY,
    SENTINELS,
    identifiers_of_mtl_patient,
    report_cohort,
)
from tests.factories import make_user

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cohort(cast, site_a, site_b):
    return report_cohort(cast, site_a, site_b)


def built(subscription, *, store=False):
    return report_build(
        subscription=subscription, period=PERIOD_START, today=REPORT_DAY, store=store
    )


def parsed(report) -> email.message.EmailMessage:
    raw = report_message(report=report).message().as_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_and_html(message) -> str:
    return (
        message.get_body(preferencelist=("plain",)).get_content()
        + message.get_body(preferencelist=("html",)).get_content()
    )


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_period_is_last_month_by_default_and_otherwise_the_month_written():
    assert report_period(today=dt.date(2025, 7, 1)) == dt.date(2025, 6, 1)
    assert report_period(today=dt.date(2025, 1, 31)) == dt.date(2024, 12, 1)
    assert report_period("2025-06", today=dt.date(2025, 7, 1)) == dt.date(2025, 6, 1)


@pytest.mark.parametrize("written", ["2025-6", "June 2025", "2025-13", "2025-06-01", "2030-01"])
def test_a_month_badly_written_or_not_begun_is_refused(written):
    with pytest.raises(ValueError, match=r"YYYY-MM|not begun"):
        report_period(written, today=dt.date(2025, 7, 1))


@pytest.mark.django_db
def test_an_investigator_gets_identified_work_lists_of_her_own_site_only(cohort):
    report = built(cohort["ivan_subscription"])
    assert report.scope.site_codes == ("MTL",) and report.scope.identified
    message = parsed(report)
    both = text_and_html(message)
    assert message["Subject"] == "IVIg registry: monthly report, June 2025 (MTL)"
    assert message["To"] == "ivan@clinic.example.org"
    # The work lists name the patient, as the clinic's own lists do.
    assert (
        "Quarrington, Zebedea (MRN MRN-RPT-5150)"
        in message.get_body(preferencelist=("plain",)).get_content()
    )
    assert "follow-up visit due by 2025-06-20 is 11 days overdue" in both
    assert [item.due_until for item in report.overdue_visits] == [dt.date(2025, 6, 20)]
    assert [item.due_from for item in report.doses_due] == [dt.date(2025, 7, 10)]
    assert "Doses due in July 2025" in both
    # Nothing of the other site.
    assert OTHER_SITE_NAME not in both and OTHER_SITE_MRN not in both
    # Contact details and free text are in no report, identified or not.
    for hidden in [SENTINELS["email"], SENTINELS["phone"], SENTINELS["address"], *FREE_TEXT]:
        assert hidden not in both


@pytest.mark.django_db
def test_a_researcher_gets_counts_only_and_never_a_name(cohort):
    report = built(cohort["rita_subscription"])
    assert report.scope == type(report.scope)(("CPH", "MTL"), False)
    message = parsed(report)
    both = text_and_html(message)
    for identifier in [*identifiers_of_mtl_patient(), OTHER_SITE_NAME, OTHER_SITE_MRN]:
        assert identifier not in both
    assert "1 visit overdue." in both and "1 dose due." in both
    assert "visit overdue" in both  # the deviation, counted by rule
    assert "De-identified: counts only, no patient is named." in both
    content = report.content()
    assert content["level"] == ReportLevel.DEIDENTIFIED
    # MTL's two, and CPH's maintenance dose that nobody gave in June.
    assert content["deviations"] == {
        "missed_maintenance": 1,
        "outside_window": 1,
        "visit_overdue": 1,
    }
    assert content["month"]["Serious adverse events"] == 1


@pytest.mark.django_db
def test_an_identified_subscription_is_sent_deidentified_to_someone_who_may_not_see_identifiers(
    cohort,
):
    subscription = cohort["rita_subscription"]
    subscription.level = ReportLevel.IDENTIFIED  # as if written past the admin's check
    subscription.save()
    assert not subscription_scope(subscription=subscription).identified


@pytest.mark.django_db
def test_a_site_the_subscriber_does_not_work_at_is_left_out(cohort, site_a, site_b):
    subscription = cohort["ivan_subscription"]
    subscription.sites.set([site_a, site_b])
    assert subscription_scope(subscription=subscription).site_codes == ("MTL",)


@pytest.mark.django_db
def test_the_admin_refuses_a_subscription_beyond_what_the_user_may_see(cohort, site_b):
    with pytest.raises(ValidationError, match="may not see identifiers"):
        subscription_validate(user=cohort["rita"], site_codes=[], level=ReportLevel.IDENTIFIED)
    with pytest.raises(ValidationError, match="does not work at CPH"):
        subscription_validate(user=cohort["ivan"], site_codes=["CPH"], level="identified")
    nobody = make_user("noemail", role="Investigator", sites=[site_b])
    with pytest.raises(ValidationError, match="no email address"):
        subscription_validate(user=nobody, site_codes=[], level=ReportLevel.DEIDENTIFIED)
    subscription_validate(user=cohort["ivan"], site_codes=["MTL"], level="identified")


@pytest.mark.django_db
def test_the_admin_form_says_why_a_subscription_is_refused(client, cast, cohort):
    client.force_login(cast["admin"])
    ReportSubscription.objects.filter(user=cohort["rita"]).delete()
    response = client.post(
        "/admin/analytics/reportsubscription/add/",
        {"user": cohort["rita"].pk, "level": "identified", "active": "on"},
    )
    assert response.status_code == 200
    assert "may not see identifiers" in response.content.decode()
    assert not ReportSubscription.objects.filter(user=cohort["rita"]).exists()


@pytest.mark.django_db
def test_the_email_has_text_and_html_with_inline_figures_and_the_deidentified_export(cohort):
    report = built(cohort["ivan_subscription"], store=True)
    message = parsed(report)
    assert message.get_content_type() == "multipart/mixed"
    html = message.get_body(preferencelist=("html",)).get_content()
    images = {
        part["Content-ID"].strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "image"
    }
    assert set(images) == {
        "cumulative_live_birth@ivig-registry",
        "adverse_events@ivig-registry",
        "subgroups@ivig-registry",
    }
    for cid, png in images.items():
        assert png.startswith(PNG_MAGIC)
        assert f'src="cid:{cid}"' in html
    assert [figure["name"] for figure in report.content()["figures"]] == [
        "cumulative_live_birth",
        "adverse_events",
        "subgroups",
    ]
    [(name, data)] = [
        (part.get_filename(), part.get_content())
        for part in message.walk()
        if part.get_content_disposition() == "attachment"
    ]
    assert name.startswith("cohort-deidentified-") and name.endswith(".zip")
    members = zip_members(data)
    manifest = json.loads(members["manifest.json"])
    assert manifest["profile"] == "deidentified" and manifest["filters"]["sites"] == ["MTL"]
    everything = b"".join(members.values()).decode()
    for identifier in [*identifiers_of_mtl_patient(), *FREE_TEXT, OTHER_SITE_NAME]:
        assert identifier not in everything
    assert cohort["patient"].study_id in everything
    # The export is on the record, as the subscriber's, finished.
    record = report.attachment.record
    assert record.user == cohort["ivan"] and record.finished_at is not None


@pytest.mark.django_db
def test_an_export_too_large_to_attach_is_linked_instead(cohort, settings):
    settings.REPORT_ATTACHMENT_MAX_BYTES = 1000
    report = built(cohort["rita_subscription"])
    message = parsed(report)
    assert not [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    assert "/admin/cohort/export/" in text_and_html(message)
    assert report.content()["attachment"]["attached"] is False
