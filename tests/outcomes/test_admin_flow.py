"""A nurse records a whole treatment through the admin, page by page, as a browser posts it."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from outcomes.models import FollowUpVisit, Infant, Pregnancy, PregnancyOutcome
from registry.models import Infusion, Patient, PlannedDose, TreatmentCycle
from tests.admin_forms import add_inline_row, form_errors, rendered_fields
from tests.factories import ProductFactory, ProtocolFactory

pytestmark = pytest.mark.django_db


def post_page(client, url, fields: dict, inlines: dict | None = None):
    data = rendered_fields(client.get(url).content.decode())
    data.update(fields)
    for prefix, rows in (inlines or {}).items():
        for row in rows:
            add_inline_row(data, prefix, row)
    return client.post(url, data)


def on(day: str):
    """The story happens on its own dates: planning reads today."""
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T15:00:00+00:00"))


def test_a_nurse_records_patient_consent_cycle_infusion_transfer_pregnancy_visit_and_birth(
    client, cast, site_a
):
    protocol = ProtocolFactory()
    ProductFactory()
    alice = cast["alice"]

    with on("2025-01-06"):
        client.force_login(alice)
        response = post_page(
            client,
            reverse("admin:registry_patient_add"),
            {
                "site": str(site_a.pk),
                "given_name": "Ada",
                "family_name": "Example",
                "mrn": "A-100",
                "date_of_birth": "1989-04-02",
                "indication": "rpl",
                "unexplained_miscarriages": "5",
                "conventional_treatment_failed": "on",
                "status": "enrolled",
                "screened_on": "2025-01-02",
                "enrolled_on": "2025-01-06",
            },
            {"consents": [{"version": "v2", "signed_on": "2025-01-06"}]},
        )
    assert response.status_code == 302, form_errors(response)
    patient = Patient.objects.get(mrn="A-100")
    assert patient.study_id.startswith("MTL-")
    assert patient.consents.count() == 1

    # The induction dose, given on the cycle page the day it is entered: the plan is stored.
    with on("2025-02-24"):
        client.force_login(alice)
        response = post_page(
            client,
            reverse("admin:registry_treatmentcycle_add"),
            {
                "patient": str(patient.pk),
                "protocol": str(protocol.pk),
                "number": "1",
                "route": "ivig",
                "plan": "frozen_et",
                "planned_event_on": "2025-03-03",
                "weight_kg": "55.0",
                "weighed_on": "2025-02-20",
            },
            {
                "infusions": [
                    {"given_on": "2025-02-24", "route": "ivig", "dose_g": "40", "weight_kg": "55.0"}
                ],
                "transfers": [
                    {
                        "transferred_on": "2025-03-03",
                        "kind": "frozen",
                        "embryo_day": "5",
                        "embryos_transferred": "1",
                        "good_quality": "on",
                        "result": "clinical",
                    }
                ],
            },
        )
    assert response.status_code == 302, form_errors(response)
    cycle = TreatmentCycle.objects.get(patient=patient)
    infusion = Infusion.objects.get(cycle=cycle)
    assert str(infusion.dose_mg_per_kg) == "727.3"
    (induction,) = PlannedDose.objects.filter(cycle=cycle)
    assert (str(induction.due_from), str(induction.due_until)) == ("2025-02-21", "2025-02-26")
    transfer = cycle.transfers.get()

    # The pregnancy: its maintenance doses and follow-up visits are planned.
    with on("2025-03-26"):
        client.force_login(alice)
        response = post_page(
            client,
            reverse("admin:outcomes_pregnancy_add"),
            {
                "patient": str(patient.pk),
                "cycle": str(cycle.pk),
                "transfer": str(transfer.pk),
                "conception": "ivf",
                "dating": "transfer",
                "fetuses": "1",
                "confirmed_on": "2025-03-26",
            },
        )
    assert response.status_code == 302, form_errors(response)
    pregnancy = Pregnancy.objects.get(patient=patient)
    assert str(pregnancy.lmp_on) == "2025-02-12"  # derived: ET minus 14 minus embryo day
    maintenance = PlannedDose.objects.filter(cycle=cycle, phase="maintenance").order_by("due_from")
    assert str(maintenance[0].due_from) == "2025-03-20"  # 28 days after the dose, less 4
    assert maintenance.count() == 7  # monthly while under 32 weeks
    assert list(pregnancy.visits.values_list("kind", "status")) == [
        ("antenatal", "due"),
        ("antenatal", "due"),
    ]

    # The birth and the visits done, recorded later on the pregnancy page.
    url = reverse("admin:outcomes_pregnancy_change", args=[pregnancy.pk])
    with on("2025-11-09"):
        client.force_login(alice)
        response = post_page(
            client,
            url,
            {
                "visits-0-status": "done",
                "visits-0-done_on": "2025-06-20",
                "visits-1-status": "done",
                "visits-1-done_on": "2025-09-22",
            },
            {
                "outcome": [
                    {
                        "kind": "live_birth",
                        "ended_on": "2025-11-08",
                        "delivery_mode": "vaginal",
                    }
                ],
                "infants": [
                    {
                        "birth_order": "1",
                        "sex": "male",
                        "birth_weight_g": "2690",
                        "live_born": "on",
                        "development_12m": "not_assessed",
                    }
                ],
            },
        )
        assert response.status_code == 302, form_errors(response)
        page = client.get(url).content.decode()
    outcome = PregnancyOutcome.objects.get(pregnancy=pregnancy)
    assert outcome.kind == "live_birth"
    assert Infant.objects.get(pregnancy=pregnancy).birth_weight_g == 2690
    assert "38+3" in page  # gestational age at the end, weeks+days
    postpartum = pregnancy.visits.get(kind="postpartum")
    assert (str(postpartum.due_from), postpartum.status) == ("2025-12-01", "due")

    # The postpartum visit: the pregnancy is now complete, so the edit needs a reason.
    with on("2025-12-08"):
        client.force_login(alice)
        response = post_page(
            client,
            url,
            {
                "change_reason": "Postpartum visit recorded",
                "visits-2-status": "done",
                "visits-2-done_on": "2025-12-08",
            },
        )
    assert response.status_code == 302, form_errors(response)
    assert list(
        FollowUpVisit.objects.filter(pregnancy=pregnancy).values_list("status", flat=True)
    ) == [
        "done",
        "done",
        "done",
    ]


def test_an_outcome_before_the_transfer_is_refused_on_the_page_with_the_rule(client, cast, site_a):
    from tests.factories import ConsentFactory, CycleFactory, PatientFactory, PregnancyFactory

    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    ConsentFactory(patient=cycle.patient)
    pregnancy = PregnancyFactory(transfer__cycle=cycle)
    client.force_login(cast["alice"])
    url = reverse("admin:outcomes_pregnancy_change", args=[pregnancy.pk])
    response = post_page(
        client,
        url,
        {},
        {"outcome": [{"kind": "miscarriage", "ended_on": "2025-02-20", "delivery_mode": "na"}]},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ended on 2025-02-20 must be after conception (2025-02-26)." in html
    assert "Ended on 2025-02-20 must be on or after the embryo transfer (2025-03-03)." in html
    assert not PregnancyOutcome.objects.filter(pregnancy=pregnancy).exists()


def test_a_dose_before_consent_is_refused_on_the_cycle_page(client, cast, site_a):
    from tests.factories import ConsentFactory, CycleFactory, PatientFactory

    cycle = CycleFactory(patient=PatientFactory(site=site_a))
    ConsentFactory(patient=cycle.patient, signed_on="2025-02-25")
    client.force_login(cast["alice"])
    url = reverse("admin:registry_treatmentcycle_change", args=[cycle.pk])
    response = post_page(
        client,
        url,
        {},
        {
            "infusions": [
                {"given_on": "2025-02-24", "route": "ivig", "dose_g": "40", "weight_kg": "60"}
            ]
        },
    )
    assert response.status_code == 200
    assert "no dose may be given before a signed consent" in response.content.decode()
    assert not Infusion.objects.filter(cycle=cycle).exists()
