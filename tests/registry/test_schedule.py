"""The protocol's calendar: dose windows, maintenance, visits and re-planning; no database."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes import gestation
from registry.dosing import DoseRefused
from registry.models import Protocol
from registry.protocol_rules import (
    ROUTE_IVIG,
    ROUTE_SCIG,
    SEED_000,
    PhaseRules,
    ProtocolRules,
)
from registry.schedule import (
    PHASE_INDUCTION,
    PHASE_MAINTENANCE,
    PLAN_FRESH_ET,
    PLAN_FROZEN_ET,
    PLAN_NATURAL,
    VISIT_ANTENATAL,
    VISIT_POSTPARTUM,
    GivenDose,
    plan_cycle,
    plan_visits,
)
from tests.registry import regimens

ET = dt.date(2025, 3, 10)
EMBRYO_DAY = 5
LMP = gestation.lmp_from_transfer(ET, EMBRYO_DAY)  # the pregnancy a day-5 transfer on ET makes


def days(number):
    return dt.timedelta(days=number)


def at_ga(weeks, extra_days=0, lmp_on=LMP):
    return gestation.date_at_ga(lmp_on, gestation.ga_from_weeks(weeks, extra_days))


def ga(on, lmp_on=LMP):
    return gestation.ga_days(lmp_on, on)


def plan(rules=SEED_000, **changes):
    facts = {
        "route": ROUTE_IVIG,
        "plan": PLAN_FRESH_ET,
        "planned_event_on": ET,
        "weight_kg": Decimal(60),
        "vial_step_g": Decimal(5),
    } | changes
    return plan_cycle(rules, **facts)


def maintenance(specs):
    return [spec for spec in specs if spec.phase == PHASE_MAINTENANCE]


# The protocol as data


def test_seed_000_rules_are_the_protocol_models_defaults():
    assert ProtocolRules.from_protocol(Protocol(code="seed-000", name="Seed 000")) == SEED_000


def test_rules_read_a_protocols_maintenance_phases_in_gestational_order():
    row = SimpleNamespace(
        **{name: value for name, value in vars(SEED_000).items() if name != "maintenance_phases"},
        pk=1,
        maintenance_phases=SimpleNamespace(
            all=lambda: [
                SimpleNamespace(
                    from_ga_days=91,
                    until_ga_days=245,
                    dose_mg_per_kg_min=200,
                    dose_mg_per_kg_max=200,
                    interval_days=28,
                ),
                SimpleNamespace(
                    from_ga_days=0,
                    until_ga_days=91,
                    dose_mg_per_kg_min=400,
                    dose_mg_per_kg_max=400,
                    interval_days=21,
                ),
            ]
        ),
    )
    rules = ProtocolRules.from_protocol(row)
    assert [phase.from_ga_days for phase in rules.maintenance_phases] == [0, 91]
    assert rules.phase_at(90).dose_mg_per_kg_min == 400
    assert rules.phase_at(91).dose_mg_per_kg_min == 200
    assert rules.ivig_interval_at(None) == 21


# Induction


def test_ivig_induction_is_due_from_et_minus_10_to_et_minus_5():
    (induction,) = plan()
    assert induction.phase == PHASE_INDUCTION
    assert (induction.due_from, induction.due_until) == (ET - days(10), ET - days(5))
    assert induction.contains(ET - days(10))
    assert induction.contains(ET - days(5))
    assert not induction.contains(ET - days(4))
    assert not induction.contains(ET - days(11))


def test_a_frozen_transfer_has_the_same_window():
    assert plan(plan=PLAN_FROZEN_ET) == plan()


def test_the_induction_dose_is_weight_times_the_middle_of_the_range_in_vial_steps():
    (induction,) = plan(weight_kg=Decimal(55))
    assert induction.dose_g == Decimal(40)


def test_natural_conception_induction_is_about_one_month_before():
    (induction,) = plan(plan=PLAN_NATURAL)
    assert (induction.due_from, induction.due_until) == (ET - days(33), ET - days(27))


def test_scig_is_weekly_from_four_weeks_before_the_transfer_up_to_it():
    specs = plan(route=ROUTE_SCIG, vial_step_g=Decimal(1))
    centres = [spec.due_from + days(1) for spec in specs]
    assert centres == [ET - days(28), ET - days(21), ET - days(14), ET - days(7)]
    assert {spec.phase for spec in specs} == {PHASE_INDUCTION}
    # 60 kg at 600-800 mg/kg a month is 150-200 mg/kg a week: 9-12 g, aiming at 10.5 g.
    assert {spec.dose_g for spec in specs} == {Decimal(11)}


def test_sequences_number_the_plan_in_date_order():
    specs = plan(route=ROUTE_SCIG, vial_step_g=Decimal(1))
    assert [spec.sequence for spec in specs] == [1, 2, 3, 4]


# Maintenance


def test_no_maintenance_is_planned_before_a_pregnancy_is_recorded():
    assert maintenance(plan()) == []


def test_ivig_maintenance_is_every_four_weeks_after_the_last_dose():
    given_on = ET - days(7)
    specs = maintenance(
        plan(pregnancy_lmp_on=LMP, given=[GivenDose(given_on, ROUTE_IVIG, Decimal(40))])
    )
    centres = [spec.due_from + days(4) for spec in specs]
    assert centres[0] == given_on + days(28)
    assert all(later - earlier == days(28) for earlier, later in pairwise(centres))
    assert all(spec.due_until - spec.due_from == days(8) for spec in specs)


def test_maintenance_is_planned_until_32_weeks_and_none_is_due_at_34_weeks():
    specs = maintenance(plan(pregnancy_lmp_on=LMP))
    assert ga(specs[-1].due_from + days(4)) < 32 * 7
    assert ga(specs[-1].due_from + days(4)) + 28 >= 32 * 7
    assert all(spec.due_until < at_ga(34) for spec in specs)


def test_no_window_reaches_the_stop_even_when_maintenance_runs_up_to_it():
    rules = replace(SEED_000, maintenance_until_ga_days=34 * 7)
    specs = maintenance(plan(rules, pregnancy_lmp_on=LMP))
    assert max(spec.due_until for spec in specs) <= at_ga(33, 6)


def test_scig_maintenance_is_weekly_through_the_pregnancy():
    specs = maintenance(plan(route=ROUTE_SCIG, vial_step_g=Decimal(1), pregnancy_lmp_on=LMP))
    assert specs[0].due_from == ET - days(1)  # one week after the last dose before transfer
    assert all(b.due_from - a.due_from == days(7) for a, b in pairwise(specs))
    assert all(spec.dose_g == Decimal(11) for spec in specs)


def test_a_step_down_protocol_gives_each_phase_its_own_dose():
    specs = plan(regimens.STEP_DOWN_400_THEN_200, vial_step_g=Decimal(1), pregnancy_lmp_on=LMP)
    doses_by_phase = {
        ga(spec.due_from + days(4)) < 13 * 7: spec.dose_g for spec in maintenance(specs)
    }
    assert doses_by_phase == {True: Decimal(24), False: Decimal(12)}  # 60 kg at 400, at 200
    assert all(spec.due_until < at_ga(35) for spec in specs)


def test_a_phase_starting_later_in_pregnancy_opens_its_first_dose_on_its_first_day():
    rules = replace(
        SEED_000,
        maintenance_phases=(PhaseRules(13 * 7, 32 * 7, 200, 200, 28),),
    )
    specs = maintenance(plan(rules, vial_step_g=Decimal(1), pregnancy_lmp_on=LMP))
    assert specs[0].due_from == at_ga(13) - days(4)
    assert {spec.dose_g for spec in specs} == {Decimal(12)}


def test_a_positive_test_protocol_plans_nothing_before_the_pregnancy():
    assert plan(regimens.FROM_POSITIVE_TEST_400) == []


def test_a_positive_test_protocol_starts_at_four_weeks():
    specs = plan(regimens.FROM_POSITIVE_TEST_400, vial_step_g=Decimal(1), pregnancy_lmp_on=LMP)
    assert specs[0].due_from + days(4) == at_ga(4)
    assert specs[0].dose_g == Decimal(24)
    assert all(spec.due_until < at_ga(32) for spec in specs)
    assert ga(specs[-1].due_from + days(4)) < 30 * 7


def test_a_before_conception_protocol_doses_two_weeks_before_and_then_monthly():
    rules = regimens.BEFORE_CONCEPTION_200
    (induction,) = plan(rules, plan=PLAN_NATURAL, vial_step_g=Decimal(1))
    assert induction.due_from + days(3) == ET - days(14)
    assert induction.dose_g == Decimal(12)
    lmp_on = ET - days(14)  # conceived on the planned day
    specs = maintenance(
        plan(rules, plan=PLAN_NATURAL, vial_step_g=Decimal(1), pregnancy_lmp_on=lmp_on)
    )
    assert specs[0].due_from + days(4) == ET + days(14)
    assert ga(specs[-1].due_from + days(4), lmp_on) < 26 * 7


def test_a_500_mg_per_kg_protocol_runs_to_33_weeks_and_stops_before_34():
    specs = plan(regimens.FROM_POSITIVE_TEST_500, vial_step_g=Decimal(1), pregnancy_lmp_on=LMP)
    assert {spec.dose_g for spec in specs} == {Decimal(30)}
    assert ga(specs[-1].due_from + days(4)) < 33 * 7
    assert all(spec.due_until < at_ga(34) for spec in specs)


def test_after_the_pregnancy_ends_no_maintenance_is_planned():
    ended_on = at_ga(10)
    specs = maintenance(plan(pregnancy_lmp_on=LMP, pregnancy_ended_on=ended_on))
    assert specs
    assert all(spec.due_until < ended_on for spec in specs)


# Re-planning


def test_moving_the_transfer_plans_a_new_induction_and_leaves_the_given_dose_alone():
    given = (GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40)),)
    moved_et = ET + days(21)
    (induction,) = plan(planned_event_on=moved_et, given=given, today=ET)
    assert (induction.due_from, induction.due_until) == (moved_et - days(10), moved_et - days(5))
    assert induction.sequence == 2
    assert given == (GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40)),)


def test_moving_the_transfer_a_little_earlier_plans_nothing_more():
    given = [GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40))]
    assert plan(planned_event_on=ET - days(2), given=given, today=ET - days(6)) == []


def test_switching_to_scig_mid_pregnancy_starts_a_week_after_the_last_ivig():
    given = [
        GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40)),
        GivenDose(ET + days(21), ROUTE_IVIG, Decimal(40)),
    ]
    specs = plan(
        route=ROUTE_SCIG,
        vial_step_g=Decimal(1),
        pregnancy_lmp_on=LMP,
        given=given,
        today=ET + days(22),
    )
    assert specs[0].due_from == ET + days(27)  # 7 days after the last IVIg, less 1 day
    assert specs[0].sequence == 3
    assert {spec.route for spec in specs} == {ROUTE_SCIG}
    assert all(b.due_from - a.due_from == days(7) for a, b in pairwise(specs))


def test_recording_a_pregnancy_adds_maintenance_after_the_induction_given():
    given = [GivenDose(ET - days(8), ROUTE_IVIG, Decimal(40))]
    specs = plan(pregnancy_lmp_on=LMP, given=given, today=ET + days(14))
    assert specs[0].phase == PHASE_MAINTENANCE
    assert specs[0].due_from == ET - days(8) + days(28 - 4)


def test_an_overdue_dose_is_due_from_today_and_the_rhythm_restarts():
    given = [GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40))]
    today = ET + days(40)  # the dose due ET+21 (window to ET+25) was never given
    specs = plan(pregnancy_lmp_on=LMP, given=given, today=today)
    assert specs[0].due_from == today
    assert specs[1].due_from == today + days(28 - 4)


def test_windows_already_over_are_not_planned_again():
    today = ET - days(4)
    assert plan(today=today) == []


# Visits


def test_antenatal_visits_are_every_three_months_from_confirmation():
    confirmed_on = at_ga(6)
    visits = plan_visits(SEED_000, confirmed_on=confirmed_on, lmp_on=LMP)
    assert [visit.kind for visit in visits] == [VISIT_ANTENATAL, VISIT_ANTENATAL]
    assert [visit.due_from + days(14) for visit in visits] == [
        confirmed_on + days(91),
        confirmed_on + days(182),
    ]


def test_a_visit_is_due_one_month_after_the_pregnancy_ends():
    ended_on = at_ga(37)
    visits = plan_visits(SEED_000, confirmed_on=at_ga(6), lmp_on=LMP, ended_on=ended_on)
    postpartum = visits[-1]
    assert postpartum.kind == VISIT_POSTPARTUM
    assert postpartum.due_from + days(7) == ended_on + days(30)
    assert all(visit.due_until < ended_on for visit in visits[:-1])


def test_an_early_loss_cancels_the_antenatal_visits_after_it():
    ended_on = at_ga(9)
    visits = plan_visits(SEED_000, confirmed_on=at_ga(6), lmp_on=LMP, ended_on=ended_on)
    assert [visit.kind for visit in visits] == [VISIT_POSTPARTUM]


# Properties over every regimen

cycles = st.fixed_dictionaries(
    {
        "rules": st.sampled_from(list(regimens.ALL.values())),
        "route": st.sampled_from([ROUTE_IVIG, ROUTE_SCIG]),
        "plan": st.sampled_from([PLAN_FRESH_ET, PLAN_FROZEN_ET, PLAN_NATURAL]),
        "planned_event_on": st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
        "weight_kg": st.decimals(min_value=30, max_value=250, places=1),
    }
)


def plan_or_none(**facts):
    """The plan, or None when the dose is refused (a 5 % band can be narrower than a vial)."""
    try:
        return plan_cycle(vial_step_g=Decimal(1), **facts)
    except DoseRefused:
        return None


@settings(max_examples=200)
@given(
    cycle=cycles,
    embryo_day=st.integers(2, 7),
    today_offset=st.none() | st.integers(-40, 300),
)
def test_no_maintenance_dose_is_due_at_or_after_the_stop(cycle, embryo_day, today_offset):
    lmp_on = gestation.lmp_from_transfer(cycle["planned_event_on"], embryo_day)
    today = None if today_offset is None else cycle["planned_event_on"] + days(today_offset)
    specs = plan_or_none(**cycle, pregnancy_lmp_on=lmp_on, today=today)
    if specs is None:
        return
    stop_on = gestation.date_at_ga(lmp_on, cycle["rules"].stop_ga_days)
    assert all(spec.due_until < stop_on for spec in specs)
    assert all(spec.due_from <= spec.due_until for spec in specs)


@settings(max_examples=200)
@given(
    cycle=cycles,
    doses_given=st.integers(0, 6),
    day_in_window=st.integers(0, 8),
    et_moved_by=st.integers(-10, 30),
    new_route=st.sampled_from([ROUTE_IVIG, ROUTE_SCIG]),
    pregnant=st.booleans(),
    days_after_last=st.integers(0, 60),
)
def test_re_planning_never_alters_or_drops_a_given_dose(
    cycle, doses_given, day_in_window, et_moved_by, new_route, pregnant, days_after_last
):
    event_on = cycle["planned_event_on"]
    lmp_on = gestation.lmp_from_transfer(event_on, 5) if pregnant else None
    first_plan = plan_or_none(**cycle, pregnancy_lmp_on=lmp_on) or []
    given_doses = tuple(
        GivenDose(min(spec.due_from + days(day_in_window), spec.due_until), spec.route, spec.dose_g)
        for spec in first_plan[:doses_given]
    )
    history = tuple(given_doses)
    today = (given_doses[-1].given_on if given_doses else event_on - days(60)) + days(
        days_after_last
    )

    new_plan = plan_or_none(
        **(cycle | {"route": new_route, "planned_event_on": event_on + days(et_moved_by)}),
        pregnancy_lmp_on=lmp_on,
        given=given_doses,
        today=today,
    )
    if new_plan is None:
        return

    assert given_doses == history
    if given_doses:
        # Nothing new opens on or before the last dose given: the caller, replacing only
        # planned doses still to come, never has to touch one that was given.
        assert all(spec.due_from > given_doses[-1].given_on for spec in new_plan)
    assert all(spec.due_until >= today for spec in new_plan)
    assert [spec.sequence for spec in new_plan] == list(
        range(len(given_doses) + 1, len(given_doses) + 1 + len(new_plan))
    )


def test_a_protocol_with_a_zero_interval_is_refused_rather_than_planned_for_ever():
    with pytest.raises(ValueError, match="ivig_interval_days must be at least 1 day"):
        replace(SEED_000, ivig_interval_days=0)


def test_the_caller_may_number_the_new_plan_after_its_own_stored_rows():
    given = [GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40))]
    specs = plan(pregnancy_lmp_on=LMP, given=given, first_sequence=5)
    assert specs[0].sequence == 5
