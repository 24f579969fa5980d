"""Storing the calendar: a cycle's planned doses and a pregnancy's visits, and re-planning them."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.apps import apps

from outcomes.models import FollowUpVisit, PregnancyOutcome
from outcomes.planning import cycle_plan_schedule, pregnancy_plan_visits
from outcomes.selectors import cycle_deviations
from registry.dosing import DoseRefused
from registry.models import Infusion, PlannedDose, Product
from tests.factories import TRANSFER_ON, OutcomeFactory, VisitFactory
from tests.registry.treatment import INDUCTION_ON, LMP, at_ga, give, monthly_doses, treated_cycle

pytestmark = pytest.mark.django_db

PlannedDoseEvent = apps.get_model("registry", "PlannedDoseEvent")


def days(number):
    return dt.timedelta(days=number)


def windows(cycle):
    return list(
        PlannedDose.objects.filter(cycle=cycle)
        .order_by("due_from")
        .values_list("phase", "route", "due_from", "due_until", "dose_g")
    )


def infusion_rows(cycle):
    return list(
        Infusion.objects.filter(cycle=cycle)
        .order_by("pk")
        .values_list("pk", "given_on", "route", "dose_g", "weight_kg", "planned_dose_id")
    )


def test_planning_a_new_cycle_stores_its_induction_window_and_dose(site_a):
    cycle, _ = treated_cycle(site_a, doses=[], pregnant=False)
    change = cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON - days(20))
    assert windows(cycle) == [
        ("induction", "ivig", TRANSFER_ON - days(10), TRANSFER_ON - days(5), Decimal("40.00"))
    ]
    assert (change.kept, change.removed, change.added) == (0, 0, 1)


def test_recording_the_pregnancy_plans_maintenance_every_28_days_from_the_dose_given(site_a):
    cycle, _ = treated_cycle(site_a)
    cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON + days(23))
    stored = windows(cycle)
    assert stored[0][:4] == ("induction", "ivig", TRANSFER_ON - days(10), TRANSFER_ON - days(5))
    maintenance = [row for row in stored if row[0] == "maintenance"]
    assert maintenance[0][2] == INDUCTION_ON + days(28 - 4)
    assert all(
        later[2] - earlier[2] == days(28) for earlier, later in itertools.pairwise(maintenance)
    )
    assert all(row[3] < at_ga(34) for row in maintenance)


def test_moving_the_transfer_re_plans_the_rest_and_never_touches_what_was_given(site_a):
    cycle, _ = treated_cycle(site_a, pregnant=False)
    give(cycle, INDUCTION_ON + days(1), dose_g="45")  # a second dose, in the same window
    cycle_plan_schedule(cycle=cycle, today=INDUCTION_ON + days(2))
    induction = PlannedDose.objects.get(cycle=cycle)
    Infusion.objects.filter(cycle=cycle).update(planned_dose=induction)
    given_before = infusion_rows(cycle)

    cycle.planned_event_on = TRANSFER_ON + days(21)
    cycle.save()
    change = cycle_plan_schedule(cycle=cycle, today=INDUCTION_ON + days(3))

    assert infusion_rows(cycle) == given_before
    assert PlannedDose.objects.filter(pk=induction.pk).exists()
    new_et = TRANSFER_ON + days(21)
    assert windows(cycle)[-1][2:4] == (new_et - days(10), new_et - days(5))
    assert (change.kept, change.added) == (1, 1)


def test_re_planning_replaces_only_what_is_still_to_come(site_a):
    cycle, _ = treated_cycle(site_a, doses=monthly_doses(until_ga_days=10 * 7))
    cycle_plan_schedule(cycle=cycle, today=at_ga(10))
    before = {row.pk: row.due_from for row in PlannedDose.objects.filter(cycle=cycle)}
    held_or_over = {pk for pk, due_from in before.items() if due_from < at_ga(12)}

    # The next dose is given ten days early, at 11+5: the doses to come follow it.
    give(cycle, at_ga(11, 5))
    cycle_plan_schedule(cycle=cycle, today=at_ga(11, 5))

    after = {row.pk: row.due_from for row in PlannedDose.objects.filter(cycle=cycle)}
    assert held_or_over <= set(after)
    next_due = min(due_from for pk, due_from in after.items() if pk not in before)
    assert next_due == at_ga(11, 5) + days(28 - 4)


def test_re_planning_an_unchanged_cycle_writes_nothing(site_a):
    cycle, _ = treated_cycle(site_a)
    cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON + days(23))
    events = PlannedDoseEvent.objects.count()
    change = cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON + days(23))
    assert (change.removed, change.added) == (0, 0)
    assert PlannedDoseEvent.objects.count() == events


def test_a_cycle_planned_after_its_doses_stores_its_history_and_keeps_its_deviations(site_a):
    cycle, pregnancy = treated_cycle(site_a, doses=monthly_doses(until_ga_days=24 * 7))
    OutcomeFactory(pregnancy=pregnancy, ended_on=at_ga(34, 3))
    today = at_ga(40)
    computed = cycle_deviations(cycle=cycle, today=today)
    assert {d.rule for d in computed} == {"missed_maintenance"}

    cycle_plan_schedule(cycle=cycle, today=today)

    assert PlannedDose.objects.filter(cycle=cycle).count() == len(monthly_doses())
    assert cycle_deviations(cycle=cycle, today=today) == computed


def test_a_cycle_whose_route_has_no_product_is_not_planned_and_says_why(site_a):
    cycle, _ = treated_cycle(site_a, doses=[], pregnant=False)
    Product.objects.all().delete()
    with pytest.raises(DoseRefused, match="no IVIg product is registered"):
        cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON - days(20))
    assert not PlannedDose.objects.filter(cycle=cycle).exists()


def test_visits_are_planned_every_three_months_and_one_month_after_the_birth(site_a):
    _, pregnancy = treated_cycle(site_a)
    pregnancy_plan_visits(pregnancy=pregnancy)
    confirmed_on = pregnancy.confirmed_on
    assert list(pregnancy.visits.values_list("kind", "due_from")) == [
        ("antenatal", confirmed_on + days(91 - 14)),
        ("antenatal", confirmed_on + days(182 - 14)),
    ]
    OutcomeFactory(pregnancy=pregnancy, ended_on=LMP + days(39 * 7))
    pregnancy.refresh_from_db()
    pregnancy_plan_visits(pregnancy=pregnancy)
    assert pregnancy.visits.last().kind == "postpartum"


def test_re_planning_visits_keeps_those_done_or_missed_and_adds_none_over_them(site_a):
    _, pregnancy = treated_cycle(site_a)
    confirmed_on = pregnancy.confirmed_on
    done = VisitFactory(
        pregnancy=pregnancy,
        due_from=confirmed_on + days(80),
        due_until=confirmed_on + days(100),
        status="done",
        done_on=confirmed_on + days(90),
    )
    stray = VisitFactory(pregnancy=pregnancy, due_from=at_ga(20), due_until=at_ga(21))
    change = pregnancy_plan_visits(pregnancy=pregnancy)
    visits = list(pregnancy.visits.order_by("due_from"))
    assert visits[0] == done and visits[0].status == "done"
    assert not FollowUpVisit.objects.filter(pk=stray.pk).exists()
    assert len(visits) == 2 and visits[1].due_from == confirmed_on + days(182 - 14)
    assert (change.removed, change.added) == (1, 1)
    again = pregnancy_plan_visits(pregnancy=pregnancy)
    assert (again.removed, again.added) == (0, 0)


def test_an_outcome_drops_the_maintenance_doses_after_it(site_a):
    cycle, pregnancy = treated_cycle(site_a)
    cycle_plan_schedule(cycle=cycle, today=TRANSFER_ON + days(23))
    PregnancyOutcome.objects.create(
        pregnancy=pregnancy, kind="miscarriage", ended_on=at_ga(9), delivery_mode="na"
    )
    cycle_plan_schedule(cycle=cycle, today=at_ga(9, 1))
    assert all(row[3] < at_ga(9) for row in windows(cycle))
