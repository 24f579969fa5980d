"""The cycle page for each role: the plan, the Plan schedule button and action, and re-planning
when a nurse moves the transfer or changes the route."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from registry.models import Infusion, PlannedDose
from tests.admin_forms import form_errors, rendered_fields, submit
from tests.factories import TRANSFER_ON, ProductFactory
from tests.registry.treatment import INDUCTION_ON, treated_cycle

pytestmark = pytest.mark.django_db

# The week of the induction dose, when nurses plan and re-plan.
TODAY = INDUCTION_ON


def on_today():
    return time_machine.travel(dt.datetime.combine(TODAY, dt.time(15), tzinfo=dt.UTC))


@pytest.fixture
def cycles(cast, site_a, site_b):
    mine, _ = treated_cycle(site_a, pregnant=False)
    theirs, _ = treated_cycle(site_b, pregnant=False)
    return mine, theirs


def change_url(cycle):
    return reverse("admin:registry_treatmentcycle_change", args=[cycle.pk])


def plan_url(cycle):
    return reverse("admin:registry_treatmentcycle_plan", args=[cycle.pk])


@pytest.mark.parametrize(
    ("who", "status", "may_plan"),
    [("alice", 200, True), ("ivan", 200, False), ("rita", 200, False), ("admin", 200, True)],
)
def test_each_role_sees_the_cycle_page_with_its_plan(client, cast, cycles, who, status, may_plan):
    mine, _ = cycles
    with on_today():
        client.force_login(cast[who])
        response = client.get(change_url(mine))
    assert response.status_code == status
    html = response.content.decode()
    assert "Plan beside the doses given" in html and "Protocol deviations" in html
    assert (plan_url(mine) in html) is may_plan
    if who == "rita":
        assert mine.patient.family_name not in html


def test_staff_do_not_see_another_sites_cycle_or_its_plan(client, cast, cycles):
    _, theirs = cycles
    client.force_login(cast["alice"])
    assert client.get(change_url(theirs)).status_code == 302
    assert client.get(plan_url(theirs)).status_code == 404
    assert client.post(plan_url(theirs)).status_code == 404


@pytest.mark.parametrize("who", ["ivan", "rita"])
def test_investigators_and_researchers_cannot_plan(client, cast, cycles, who):
    mine, _ = cycles
    client.force_login(cast[who])
    assert client.get(plan_url(mine)).status_code == 403
    assert client.post(plan_url(mine)).status_code == 403
    assert not PlannedDose.objects.exists()


def test_a_nurse_plans_a_cycle_from_its_page(client, cast, cycles):
    mine, _ = cycles
    with on_today():
        client.force_login(cast["alice"])
        confirm = client.get(plan_url(mine))
        assert confirm.status_code == 200
        assert "never changes an infusion" in confirm.content.decode()
        response = client.post(plan_url(mine), follow=True)
    assert response.redirect_chain[-1][0] == change_url(mine)
    html = response.content.decode()
    assert "schedule planned" in html
    assert "The cycle's stored plan." in html
    assert PlannedDose.objects.filter(cycle=mine).count() == 1


def test_the_plan_schedule_action_plans_the_selected_cycles_of_the_users_sites(
    client, cast, cycles
):
    mine, theirs = cycles
    with on_today():
        client.force_login(cast["alice"])
        response = client.post(
            reverse("admin:registry_treatmentcycle_changelist"),
            {"action": "plan_schedule", "_selected_action": [mine.pk, theirs.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert PlannedDose.objects.filter(cycle=mine).exists()
    assert not PlannedDose.objects.filter(cycle=theirs).exists()


def test_moving_the_transfer_on_the_cycle_page_re_plans_and_leaves_the_infusion_alone(
    client, cast, cycles
):
    mine, _ = cycles
    given = list(Infusion.objects.filter(cycle=mine).values())
    with on_today():
        client.force_login(cast["alice"])
        client.post(plan_url(mine))
        induction = PlannedDose.objects.get(cycle=mine)
        moved = TRANSFER_ON + dt.timedelta(days=14)
        response = submit(client, change_url(mine), {"planned_event_on": f"{moved:%Y-%m-%d}"})
    assert response.status_code == 302, form_errors(response)
    assert list(Infusion.objects.filter(cycle=mine).values()) == given
    rows = list(PlannedDose.objects.filter(cycle=mine).order_by("due_from"))
    assert rows[0].pk == induction.pk  # holds the dose given: kept as it was
    assert (rows[1].due_from, rows[1].due_until) == (
        moved - dt.timedelta(days=10),
        moved - dt.timedelta(days=5),
    )


def test_switching_the_route_to_scig_re_plans_weekly_scig_doses(client, cast, cycles):
    mine, _ = cycles
    ProductFactory(name="SCIg 20%", route="scig", vial_step_g=1)
    mine.planned_event_on = TRANSFER_ON + dt.timedelta(days=35)
    mine.save()
    with on_today():
        client.force_login(cast["alice"])
        response = submit(client, change_url(mine), {"route": "scig"})
    assert response.status_code == 302, form_errors(response)
    to_come = PlannedDose.objects.filter(cycle=mine, due_from__gt=INDUCTION_ON)
    assert set(to_come.values_list("route", flat=True)) == {"scig"}
    assert to_come.count() == 4  # weekly up to the transfer


def test_a_cycle_that_cannot_be_dosed_is_saved_and_the_page_says_why(client, cast, cycles):
    mine, _ = cycles
    with on_today():
        client.force_login(cast["alice"])
        response = submit(client, change_url(mine), {"route": "scig"}, follow=True)
    html = response.content.decode()
    assert "schedule not planned: no SCIg product is registered" in html
    mine.refresh_from_db()
    assert mine.route == "scig"


def test_an_infusion_is_offered_only_its_own_cycles_planned_doses(client, cast, cycles):
    mine, theirs = cycles
    with on_today():
        client.force_login(cast["alice"])
        client.post(plan_url(mine))
        client.force_login(cast["bob"])
        client.post(plan_url(theirs))
        client.force_login(cast["alice"])
        fields = rendered_fields(client.get(change_url(mine)).content.decode())
        html = client.get(change_url(mine)).content.decode()
    theirs_dose = PlannedDose.objects.get(cycle=theirs)
    assert "infusions-0-planned_dose" in fields
    assert f'value="{theirs_dose.pk}"' not in html
    assert f'value="{PlannedDose.objects.get(cycle=mine).pk}"' in html


def test_a_dose_recorded_on_the_infusion_page_re_plans_the_doses_to_come(client, cast, site_a):
    cycle, _ = treated_cycle(site_a, doses=[])
    with on_today():
        client.force_login(cast["alice"])
        response = submit(
            client,
            reverse("admin:registry_infusion_add"),
            {
                "cycle": str(cycle.pk),
                "given_on": f"{INDUCTION_ON:%Y-%m-%d}",
                "route": "ivig",
                "dose_g": "40",
                "weight_kg": "60.0",
            },
        )
    assert response.status_code == 302, form_errors(response)
    maintenance = PlannedDose.objects.filter(cycle=cycle, phase="maintenance").order_by("due_from")
    assert maintenance[0].due_from == INDUCTION_ON + dt.timedelta(days=28 - 4)
