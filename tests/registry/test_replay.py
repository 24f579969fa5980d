"""Rebuilding a cycle's plan from its protocol and the doses given, as re-planning would have
stored it; and maintenance that follows doses still to come before the event. No database."""

import datetime as dt
from decimal import Decimal

import pytest

from outcomes import gestation
from registry.deviations import InfusionFacts, Rule, find_deviations
from registry.dosing import DoseRefused
from registry.protocol_rules import ROUTE_IVIG, ROUTE_SCIG, SEED_000
from registry.schedule import (
    PHASE_INDUCTION,
    PHASE_MAINTENANCE,
    PLAN_FROZEN_ET,
    GivenDose,
    plan_cycle,
    replay_cycle,
)

ET = dt.date(2025, 3, 10)
LMP = gestation.lmp_from_transfer(ET, 5)
STEPS = {ROUTE_IVIG: Decimal(5), ROUTE_SCIG: Decimal(1)}


def days(number):
    return dt.timedelta(days=number)


def at_ga(weeks, extra_days=0):
    return gestation.date_at_ga(LMP, gestation.ga_from_weeks(weeks, extra_days))


def replay(given=(), route=ROUTE_IVIG, **changes):
    facts = {
        "route": route,
        "plan": PLAN_FROZEN_ET,
        "planned_event_on": ET,
        "weight_kg": Decimal(60),
        "vial_steps_g": STEPS,
        "pregnancy_lmp_on": LMP,
    } | changes
    return replay_cycle(SEED_000, given=given, **facts)


def monthly_from(first_on, until_ga_days=32 * 7, grams=40):
    doses, on = [], first_on
    while gestation.ga_days(LMP, on) < until_ga_days:
        doses.append(GivenDose(on, ROUTE_IVIG, Decimal(grams)))
        on += days(28)
    return doses


def deviations(given, windows, today, ended_on=None):
    return find_deviations(
        SEED_000,
        infusions=[InfusionFacts(*dose, Decimal(60), ET - days(10)) for dose in given],
        planned=windows,
        consent_periods=[(ET - days(60), None)],
        cycle_planned_on=ET,
        today=today,
        lmp_on=LMP,
        pregnancy_ended_on=ended_on,
    )


def test_a_cycle_given_as_planned_replays_one_window_around_each_dose():
    given = monthly_from(ET - days(7))
    windows = replay(given)
    assert len(windows) == len(given)
    assert all(window.contains(dose.given_on) for window, dose in zip(windows, given, strict=True))
    assert [w.sequence for w in windows] == list(range(1, len(windows) + 1))
    assert deviations(given, windows, today=at_ga(40)) == []


def test_doses_stopped_at_24_weeks_leave_the_later_windows_missed():
    given = monthly_from(ET - days(7), until_ga_days=24 * 7)
    windows = replay(given, pregnancy_ended_on=at_ga(34, 3))
    found = deviations(given, windows, today=at_ga(40), ended_on=at_ga(34, 3))
    assert {d.rule for d in found} == {Rule.MISSED_MAINTENANCE}
    assert len(found) == 2  # due near 25+5 and 29+5; nothing is due at 32 weeks or later


def test_a_dose_late_by_a_few_days_moves_the_rhythm_as_re_planning_does():
    given = monthly_from(ET - days(7), until_ga_days=10 * 7)
    late = GivenDose(given[-1].given_on + days(31), ROUTE_IVIG, Decimal(40))  # 3 days late
    windows = replay([*given, late], pregnancy_ended_on=at_ga(11))
    assert any(window.contains(late.given_on) for window in windows)


def test_a_dose_given_before_the_pregnancy_ended_keeps_the_window_it_was_given_in():
    # The loss a day later was not known when the window was planned.
    given = monthly_from(ET - days(7), until_ga_days=8 * 7)
    ended_on = given[-1].given_on + days(1)
    windows = replay(given, pregnancy_ended_on=ended_on)
    assert deviations(given, windows, today=at_ga(20), ended_on=ended_on) == []


def test_a_switch_to_scig_is_replayed_with_the_route_of_each_dose():
    induction = GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40))
    weekly = [GivenDose(ET + days(7 * week), ROUTE_SCIG, Decimal(11)) for week in range(0, 4)]
    ended_on = ET + days(24)
    windows = replay([induction, *weekly], route=ROUTE_SCIG, pregnancy_ended_on=ended_on)
    assert windows[0].route == ROUTE_IVIG and windows[0].phase == PHASE_INDUCTION
    assert {w.route for w in windows[1:]} == {ROUTE_SCIG}
    assert deviations([induction, *weekly], windows, ET + days(60), ended_on) == []


def test_a_replay_without_doses_is_the_whole_plan_missed_windows_included():
    windows = replay(pregnancy_ended_on=at_ga(39))
    assert windows[0].phase == PHASE_INDUCTION
    missed = deviations([], windows, today=at_ga(40), ended_on=at_ga(39))
    assert len(missed) == len([w for w in windows if w.phase == PHASE_MAINTENANCE])


def test_a_route_with_no_product_cannot_be_replayed():
    with pytest.raises(DoseRefused, match="no SCIg product is registered"):
        replay(route=ROUTE_SCIG, vial_steps_g={ROUTE_IVIG: Decimal(5)})


def test_maintenance_follows_the_scig_doses_still_to_come_before_the_transfer():
    first = GivenDose(ET - days(28), ROUTE_SCIG, Decimal(11))
    specs = plan_cycle(
        SEED_000,
        route=ROUTE_SCIG,
        plan=PLAN_FROZEN_ET,
        planned_event_on=ET,
        weight_kg=Decimal(60),
        vial_step_g=Decimal(1),
        pregnancy_lmp_on=LMP,
        given=[first],
    )
    starts = [spec.due_from for spec in specs]
    assert len(starts) == len(set(starts)), "a week planned twice"
    induction = [spec for spec in specs if spec.phase == PHASE_INDUCTION]
    maintenance = [spec for spec in specs if spec.phase == PHASE_MAINTENANCE]
    assert [spec.due_from + days(1) for spec in induction] == [
        ET - days(21),
        ET - days(14),
        ET - days(7),
    ]
    assert maintenance[0].due_from + days(1) == ET
