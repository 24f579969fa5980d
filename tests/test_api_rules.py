"""Writes through the API obey the admin's rules, and bad input gets a 4xx naming the field.

Nothing refused is half-written: each request is one transaction (ATOMIC_REQUESTS).
"""

import datetime as dt
import json
import re

import pytest

from analytics.evidence import synthesise_evidence
from analytics.models import ExportRecord, PublishedStudy
from analytics.options import CohortFilters
from analytics.queries import published_studies_frame
from analytics.snapshots import cohort_snapshot_compute
from outcomes import gestation
from outcomes.models import Pregnancy, PregnancyOutcome
from registry import study_ids
from registry.models import Consent, Infusion, Patient
from tests.api_cohort import build_cohort, load_published_studies, token_client
from tests.factories import ConsentFactory, CycleFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(site_a, site_b):
    return build_cohort(site_a, site_b)


@pytest.fixture
def alice(cast):
    return token_client(cast["alice"])


def infusion(cycle, **changes):
    return {
        "cycle": cycle.pk,
        "given_on": "2025-02-24",
        "route": "ivig",
        "dose_g": "40.00",
        "weight_kg": "60.0",
        **changes,
    }


def test_a_new_patient_gets_a_random_study_id_of_her_site(alice, site_a):
    response = alice.post(
        "/api/v1/patients/",
        {
            "site": "MTL",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "mrn": "MTL-000123",
            "date_of_birth": "1988-02-01",
            "indication": "rif",
            "screened_on": "2025-02-01",
        },
    )
    assert response.status_code == 201, response.json()
    study_id = response.json()["study_id"]
    assert study_id.startswith("MTL-")
    assert "000123" not in study_id
    assert Patient.objects.get(study_id=study_id).mrn == "MTL-000123"
    assert re.fullmatch(study_ids.PATTERN, study_id)


def test_a_client_cannot_choose_the_study_id(alice, cohort):
    patient = cohort.a.patient
    alice.patch(f"/api/v1/patients/{patient.pk}/", {"study_id": "MTL-CHOSEN"})
    patient.refresh_from_db()
    assert patient.study_id != "MTL-CHOSEN"


def test_staff_cannot_add_a_patient_at_another_site(alice, site_b):
    response = alice.post(
        "/api/v1/patients/",
        {
            "site": "CPH",
            "given_name": "A",
            "family_name": "B",
            "mrn": "1",
            "date_of_birth": "1988-02-01",
            "indication": "rpl",
            "screened_on": "2025-02-01",
        },
    )
    assert response.status_code == 400
    assert "site" in response.json()
    assert not Patient.objects.filter(mrn="1").exists()


def test_a_patient_screened_before_birth_is_refused_with_the_rule(alice):
    response = alice.post(
        "/api/v1/patients/",
        {
            "site": "MTL",
            "given_name": "A",
            "family_name": "B",
            "mrn": "2",
            "date_of_birth": "1988-02-01",
            "indication": "rpl",
            "screened_on": "1987-02-01",
        },
    )
    assert response.status_code == 400
    assert "Screened on must be after the date of birth." in str(response.json())


def test_a_second_patient_with_the_same_mrn_at_the_site_is_refused(alice, cohort):
    response = alice.post(
        "/api/v1/patients/",
        {
            "site": "MTL",
            "given_name": "A",
            "family_name": "B",
            "mrn": cohort.a.patient.mrn,
            "date_of_birth": "1988-02-01",
            "indication": "rpl",
            "screened_on": "2025-02-01",
        },
    )
    assert response.status_code == 400
    assert "MRN" in str(response.json())


def test_no_dose_before_a_signed_consent(alice, site_a):
    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    ConsentFactory(patient=cycle.patient, signed_on=dt.date(2025, 3, 1))
    response = alice.post("/api/v1/infusions/", infusion(cycle, given_on="2025-02-24"))
    assert response.status_code == 400
    assert "no dose may be given before a signed consent" in response.json()["given_on"][0]
    assert not Infusion.objects.filter(cycle=cycle).exists()


def test_no_dose_after_the_consent_was_withdrawn(alice, site_a):
    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    ConsentFactory(
        patient=cycle.patient, signed_on=dt.date(2025, 1, 1), withdrawn_on=dt.date(2025, 2, 1)
    )
    response = alice.post("/api/v1/infusions/", infusion(cycle, given_on="2025-02-24"))
    assert response.status_code == 400
    assert "given_on" in response.json()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"dose_g": "0.50"}, "dose_g", "greater than or equal to 1"),
        ({"dose_g": "250.00"}, "dose_g", "less than or equal to 200"),
        ({"weight_kg": "20.0"}, "weight_kg", "greater than or equal to 30"),
        ({"dose_g": "1.00"}, "non_field_errors", "between 50 and 2000 mg/kg"),
        ({"dose_g": "abc"}, "dose_g", "A valid number is required"),
        ({"given_on": "2025-02-30"}, "given_on", "Date has wrong format"),
    ],
)
def test_an_implausible_dose_is_refused_naming_the_field(alice, cohort, changes, field, words):
    response = alice.post("/api/v1/infusions/", infusion(cohort.a.cycle, **changes))
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])


def test_an_infusion_reports_its_dose_per_kilogram(alice, cohort):
    response = alice.post("/api/v1/infusions/", infusion(cohort.a.cycle, given_on="2025-03-01"))
    assert response.status_code == 201
    assert response.json()["dose_mg_per_kg"] == "666.7"


def test_a_consent_change_that_would_leave_a_dose_uncovered_is_refused_whole(alice, cohort):
    # The database's trigger refuses it; the answer is its message, and nothing changes.
    assert alice.delete(f"/api/v1/consents/{cohort.a.consent.pk}/").status_code == 204
    first = Consent.objects.get(patient=cohort.a.patient, version="v1")
    response = alice.delete(f"/api/v1/consents/{first.pk}/")
    assert response.status_code == 400
    assert "without consent" in response.json()["non_field_errors"][0]
    assert Consent.objects.filter(pk=first.pk).exists()


def test_a_transfer_dated_pregnancy_gets_its_lmp_from_the_transfer(alice, cohort):
    transfer = cohort.a.free_transfer
    response = alice.post(
        "/api/v1/pregnancies/",
        {
            "patient": cohort.a.patient.pk,
            "cycle": cohort.a.cycle.pk,
            "transfer": transfer.pk,
            "conception": "ivf",
            "dating": "transfer",
            "lmp_on": "2020-01-01",
            "confirmed_on": "2025-12-24",
        },
    )
    assert response.status_code == 201, response.json()
    expected = gestation.lmp_from_transfer(transfer.transferred_on, transfer.embryo_day)
    assert response.json()["lmp_on"] == expected.isoformat()


def test_a_pregnancy_not_dated_by_transfer_needs_its_lmp(alice, cohort):
    response = alice.post(
        "/api/v1/pregnancies/",
        {
            "patient": cohort.a.patient.pk,
            "conception": "natural",
            "dating": "lmp",
            "confirmed_on": "2025-12-24",
        },
    )
    assert response.status_code == 400
    assert "lmp_on" in response.json()


def test_a_pregnancy_confirmed_before_its_transfer_is_refused(alice, cohort):
    response = alice.post(
        "/api/v1/pregnancies/",
        {
            "patient": cohort.a.patient.pk,
            "transfer": cohort.a.free_transfer.pk,
            "conception": "ivf",
            "dating": "transfer",
            "confirmed_on": "2025-11-30",
        },
    )
    assert response.status_code == 400
    assert "must be on or after the embryo transfer" in response.json()["confirmed_on"][0]


def test_a_pregnancy_cannot_name_another_patients_transfer(alice, cohort, site_a):
    other = PatientFactory(site=site_a)
    response = alice.post(
        "/api/v1/pregnancies/",
        {
            "patient": other.pk,
            "transfer": cohort.a.free_transfer.pk,
            "conception": "ivf",
            "dating": "transfer",
            "confirmed_on": "2025-12-24",
        },
    )
    assert response.status_code == 400
    assert "Transfer must be one of this patient's transfers." in response.json()["transfer"]


def test_an_outcome_before_conception_is_refused_with_the_date_rule(alice, cohort):
    pregnancy = cohort.a.ongoing_pregnancy
    response = alice.post(
        "/api/v1/outcomes/",
        {"pregnancy": pregnancy.pk, "kind": "miscarriage", "ended_on": "2025-08-01"},
    )
    assert response.status_code == 400
    assert "must be after conception" in response.json()["ended_on"][0]
    assert not PregnancyOutcome.objects.filter(pregnancy=pregnancy).exists()


def test_a_second_outcome_for_one_pregnancy_is_refused(alice, cohort):
    response = alice.post(
        "/api/v1/outcomes/",
        {
            "pregnancy": cohort.a.pregnancy.pk,
            "kind": "live_birth",
            "ended_on": "2025-11-20",
            "delivery_mode": "vaginal",
            "change_reason": "duplicate",
        },
    )
    assert response.status_code == 400
    assert "pregnancy" in response.json()


def test_a_live_birth_needs_its_delivery_mode(alice, cohort):
    response = alice.post(
        "/api/v1/outcomes/",
        {
            "pregnancy": cohort.a.ongoing_pregnancy.pk,
            "kind": "live_birth",
            "ended_on": "2026-05-20",
        },
    )
    assert response.status_code == 400
    assert "Delivery mode is required" in response.json()["non_field_errors"][0]


@pytest.mark.parametrize("endpoint", ["pregnancies", "visits", "outcomes", "infants"])
def test_editing_a_finished_pregnancy_needs_a_reason(alice, cohort, endpoint):
    row = {
        "pregnancies": cohort.a.pregnancy,
        "visits": cohort.a.visit,
        "outcomes": cohort.a.outcome,
        "infants": cohort.a.infant,
    }[endpoint]
    url = f"/api/v1/{endpoint}/{row.pk}/"
    without = alice.patch(url, {})
    assert without.status_code == 400
    assert "Change reason is required" in without.json()["change_reason"][0]
    assert alice.delete(url).status_code == 400
    assert alice.patch(url, {"change_reason": "corrected at source"}).status_code == 200


def test_the_reason_and_the_token_user_are_kept_in_the_audit_trail(alice, cast, cohort):
    pregnancy = cohort.a.pregnancy
    alice.patch(
        f"/api/v1/pregnancies/{pregnancy.pk}/", {"fetuses": 2, "change_reason": "twin on scan"}
    )
    event = Pregnancy.pgh_event_model.objects.filter(pgh_obj_id=pregnancy.pk).last()
    assert event.pgh_context.metadata["reason"] == "twin on scan"
    assert event.pgh_context.metadata["user"] == cast["alice"].pk


def test_an_ongoing_pregnancy_is_edited_without_a_reason(alice, cohort):
    url = f"/api/v1/pregnancies/{cohort.a.ongoing_pregnancy.pk}/"
    assert alice.patch(url, {"fetuses": 2}).status_code == 200


def test_an_nk_result_in_another_unit_is_refused_with_the_rule(alice, cohort):
    response = alice.patch(f"/api/v1/immune-tests/{cohort.a.immune_test.pk}/", {"unit": "ratio"})
    assert response.status_code == 400
    # The message once ended in a bare "%", which Django's %-formatting turned into a 500.
    assert (
        "must be a percentage: value 0-100 with unit %." in response.json()["non_field_errors"][0]
    )


def test_a_grade_4_adverse_event_must_be_serious(alice, cohort):
    response = alice.post(
        "/api/v1/adverse-events/",
        {
            "patient": cohort.a.patient.pk,
            "term": "anaphylaxis",
            "grade": 4,
            "relatedness": "probable",
            "onset_on": "2025-02-24",
        },
    )
    assert response.status_code == 400
    assert "serious by definition" in response.json()["non_field_errors"][0]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[]", "application/json", 400),
        ("version=v1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_a_4xx(alice, body, content_type, status):
    response = alice.generic("POST", "/api/v1/consents/", body, content_type=content_type)
    assert response.status_code == status
    assert response.json()


@pytest.mark.parametrize(
    "query",
    [
        "signed_on__gte=yesterday",
        "patient=abc",
        "page=0",
        "page=999",
        "page_size=100000",
        "ordering=nonsense",
        "patient=99999999999999999999999",
    ],
)
def test_odd_query_parameters_never_break_a_list(alice, cohort, query):
    response = alice.get(f"/api/v1/consents/?{query}")
    assert response.status_code in (200, 400, 404)
    assert response.json()


def test_a_huge_id_is_simply_not_found(alice):
    assert alice.get("/api/v1/patients/99999999999999999999999/").status_code == 404


def test_bob_cannot_hang_a_record_on_site_as_patient(cast, cohort):
    bob = token_client(cast["bob"])
    response = bob.post(
        "/api/v1/consents/",
        {"patient": cohort.a.patient.pk, "version": "v9", "signed_on": "2025-01-06"},
    )
    assert response.status_code == 400
    assert "patient" in response.json()
    assert not Consent.objects.filter(version="v9").exists()


def test_lists_filter_by_site_study_id_and_dates(alice, cast, cohort):
    rita = token_client(cast["rita"])
    by_site = rita.get("/api/v1/infusions/?site=CPH").json()
    assert [row["study_id"] for row in by_site["results"]] == [cohort.b.patient.study_id]
    by_study = rita.get(f"/api/v1/pregnancies/?study_id={cohort.a.patient.study_id}").json()
    assert by_study["count"] == 2
    by_date = rita.get("/api/v1/consents/?signed_on__gte=2025-02-01").json()
    assert {row["version"] for row in by_date["results"]} == {"v2"}


def test_lists_are_paged_and_the_page_size_is_bounded(alice, site_a):
    for _ in range(3):
        PatientFactory(site=site_a)
    page = alice.get("/api/v1/patients/?page_size=2").json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]
    huge = alice.get("/api/v1/patients/?page_size=100000").json()
    assert len(huge["results"]) == 3


def test_the_meta_analysis_is_the_one_the_command_and_admin_report(alice):
    load_published_studies()
    response = alice.get("/api/v1/evidence/meta-analysis/?measure=OR&subgroup=nk_selection")
    assert response.status_code == 200
    expected = synthesise_evidence(
        published_studies_frame(), measure="OR", subgroup_column="nk_selection"
    ).as_json()
    assert response.json() == expected


def test_the_meta_analysis_names_a_bad_parameter(alice):
    response = alice.get("/api/v1/evidence/meta-analysis/?measure=HR")
    assert response.status_code == 400
    assert "measure" in response.json()


def test_the_meta_analysis_of_an_empty_table_says_why(alice):
    PublishedStudy.objects.all().delete()
    response = alice.get("/api/v1/evidence/meta-analysis/")
    assert response.status_code == 409
    assert response.json()["detail"]


def test_enrolling_a_patient_who_is_not_eligible_needs_a_signed_override(alice, cast, site_a):
    patient = PatientFactory(site=site_a, status="screening", enrolled_on=None)  # no consent
    url = f"/api/v1/patients/{patient.pk}/"
    enrol = {"status": "enrolled", "enrolled_on": "2025-01-06"}
    refused = alice.patch(url, enrol)
    assert refused.status_code == 400
    assert "refused: she is not eligible" in refused.json()["status"][0]
    accepted = alice.patch(url, {**enrol, "eligibility_override_reason": "MDT decision 12/24"})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["eligibility_overridden_by"] == cast["alice"].pk
    assert accepted.json()["eligibility_overridden_at"]


def test_an_override_for_an_eligible_patient_is_refused(alice, cohort):
    response = alice.patch(
        f"/api/v1/patients/{cohort.a.patient.pk}/",
        {"eligibility_override_reason": "just in case"},
    )
    assert response.status_code == 400
    assert "nothing to override" in response.json()["eligibility_override_reason"][0]


def test_an_infusion_names_a_planned_dose_of_its_own_cycle(alice, cohort):
    other_cycle = CycleFactory(patient=cohort.a.patient, number=2)
    response = alice.post(
        "/api/v1/infusions/",
        infusion(other_cycle, given_on="2025-03-01", planned_dose=cohort.a.planned_dose.pk),
    )
    assert response.status_code == 400
    assert response.json()["planned_dose"] == ["Planned dose must be one of this cycle's."]


def test_a_new_cycle_is_planned_as_the_admin_plans_it(alice, cohort):
    response = alice.post(
        "/api/v1/cycles/",
        {
            "patient": cohort.a.patient.pk,
            "protocol": cohort.a.cycle.protocol_id,
            "number": 2,
            "plan": "frozen_et",
            "planned_event_on": "2026-06-01",
            "weight_kg": "62.0",
            "weighed_on": "2026-05-20",
        },
    )
    assert response.status_code == 201, response.json()
    planned = alice.get(f"/api/v1/planned-doses/?cycle={response.json()['id']}").json()
    assert planned["count"] >= 1
    assert planned["results"][0]["phase"] == "induction"


def test_the_cohort_snapshot_counts_only_the_staff_members_sites(alice, cast, cohort):
    mine = alice.get("/api/v1/cohort/snapshot/").json()
    everyone = token_client(cast["rita"]).get("/api/v1/cohort/snapshot/").json()
    assert mine["cohort"] != everyone["cohort"]
    dashboard = cohort_snapshot_compute(filters=CohortFilters(sites=("MTL",))).payload
    assert {key: mine[key] for key in dashboard} == json.loads(json.dumps(dashboard))
    other = alice.get("/api/v1/cohort/snapshot/?site=CPH")
    assert other.status_code == 400
    assert "Site must be one you see: MTL." in other.json()["site"]


def test_the_cohort_snapshot_names_a_bad_filter(alice, cohort):
    response = alice.get("/api/v1/cohort/snapshot/?route=oral&enrolled_from=soon")
    assert response.status_code == 400
    assert set(response.json()) == {"route", "enrolled_from"}


def test_an_export_through_the_api_is_recorded_as_such(cast, cohort):
    response = token_client(cast["alice"]).get("/api/v1/cohort/export/?site=MTL")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    b"".join(response.streaming_content)
    record = ExportRecord.objects.get()
    assert record.source == ExportRecord.Source.API
    assert record.filters["sites"] == ["MTL"]
    assert record.row_counts


def test_an_export_of_another_sites_patients_is_refused(cast, cohort):
    response = token_client(cast["alice"]).get("/api/v1/cohort/export/?site=CPH")
    assert response.status_code == 403
    assert "CPH" in response.json()["detail"]
