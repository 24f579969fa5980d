"""Protocol deviations computed from a cycle's facts; no database."""

import datetime as dt
from decimal import Decimal

from outcomes import gestation
from registry.deviations import (
    WEIGHT_MAX_AGE_DAYS,
    InfusionFacts,
    Rule,
    VisitFacts,
    find_deviations,
)
from registry.protocol_rules import ROUTE_IVIG, ROUTE_SCIG, SEED_000
from registry.schedule import (
    PHASE_MAINTENANCE,
    PLAN_FRESH_ET,
    GivenDose,
    PlannedDoseSpec,
    plan_cycle,
)
from tests.registry import regimens

ET = dt.date(2025, 3, 10)
LMP = gestation.lmp_from_transfer(ET, 5)
WEIGHED_ON = ET - dt.timedelta(days=20)
CONSENTED = [(ET - dt.timedelta(days=60), None)]


def days(number):
    return dt.timedelta(days=number)


def at_ga(weeks, extra_days=0):
    return gestation.date_at_ga(LMP, gestation.ga_from_weeks(weeks, extra_days))


def infusion(given_on, dose_g=40, route=ROUTE_IVIG, weight_kg=55, weighed_on=WEIGHED_ON):
    return InfusionFacts(given_on, route, Decimal(dose_g), Decimal(weight_kg), weighed_on)


def induction_window():
    (induction,) = plan_cycle(
        SEED_000,
        route=ROUTE_IVIG,
        plan=PLAN_FRESH_ET,
        planned_event_on=ET,
        weight_kg=Decimal(55),
        vial_step_g=Decimal(5),
    )
    return induction


def window(due_from, due_until, phase=PHASE_MAINTENANCE, sequence=2):
    return PlannedDoseSpec(sequence, phase, ROUTE_IVIG, due_from, due_until, Decimal(40))


def deviations(infusions=(), planned=None, rules=SEED_000, **changes):
    facts = {
        "infusions": infusions,
        "planned": [induction_window()] if planned is None else planned,
        "consent_periods": CONSENTED,
        "cycle_planned_on": ET,
        "today": ET,
    } | changes
    return find_deviations(rules, **facts)


def rules_broken(found):
    return [deviation.rule for deviation in found]


# Windows


def test_doses_on_et_minus_10_and_et_minus_5_are_inside_the_induction_window():
    assert deviations([infusion(ET - days(10))]) == []
    assert deviations([infusion(ET - days(5))]) == []


def test_doses_on_et_minus_4_and_et_minus_11_are_outside_it():
    (late,) = deviations([infusion(ET - days(4))])
    assert late.rule == Rule.OUTSIDE_WINDOW
    assert late.value == "2025-03-06"
    assert late.limit == "2025-02-28 to 2025-03-05"
    assert late.message == (
        "dose given on 2025-03-06, 1 day outside its nearest window, 2025-02-28 to 2025-03-05"
    )
    (early,) = deviations([infusion(ET - days(11))])
    assert early.rule == Rule.OUTSIDE_WINDOW


def test_a_dose_when_nothing_was_planned_is_outside_any_window():
    (found,) = deviations([infusion(ET - days(7))], planned=[])
    assert found.limit == "no planned dose"


# Dose


def test_a_dose_below_the_mg_per_kg_range_is_flagged_with_its_mg_per_kg():
    (found,) = deviations([infusion(ET - days(7), dose_g=30)])
    assert found.rule == Rule.DOSE_OUTSIDE_RANGE
    assert (found.value, found.limit) == ("545.5 mg/kg", "600-800 mg/kg")
    assert found.message == (
        "30 g on 2025-03-03 for 55 kg is 545.5 mg/kg, below the protocol's 600-800 mg/kg"
    )


def test_a_dose_above_the_range_is_flagged_too():
    (found,) = deviations([infusion(ET - days(7), dose_g=45)])
    assert "above the protocol's 600-800 mg/kg" in found.message


def test_the_range_edges_are_inside():
    assert deviations([infusion(ET - days(7), dose_g=33)]) == []  # 600 mg/kg
    assert deviations([infusion(ET - days(7), dose_g=44)]) == []  # 800 mg/kg


def test_a_weekly_scig_dose_is_judged_against_the_weekly_share_of_the_range():
    planned = [window(ET - days(8), ET - days(6))]
    assert deviations([infusion(ET - days(7), dose_g=10, route=ROUTE_SCIG)], planned) == []
    (found,) = deviations([infusion(ET - days(7), dose_g=40, route=ROUTE_SCIG)], planned)
    assert found.limit == "150-200 mg/kg per SCIg dose"


def test_a_maintenance_dose_is_judged_against_its_phase():
    rules = regimens.STEP_DOWN_400_THEN_200
    planned = [window(at_ga(20) - days(4), at_ga(20) + days(4))]
    at_200 = infusion(at_ga(20), dose_g=11)
    at_400 = infusion(at_ga(20), dose_g=22)
    assert deviations([at_200], planned, rules, lmp_on=LMP, today=at_ga(21)) == []
    (found,) = deviations([at_400], planned, rules, lmp_on=LMP, today=at_ga(21))
    assert found.limit == "190-210 mg/kg"


# Stop


def test_a_dose_at_34_weeks_is_at_or_after_the_stop():
    given_on = at_ga(34)
    planned = [window(given_on - days(1), given_on + days(1))]
    (found,) = deviations([infusion(given_on)], planned, lmp_on=LMP, today=given_on)
    assert found.rule == Rule.AT_OR_AFTER_STOP
    assert (found.value, found.limit) == ("34+0", "before 34+0")
    assert "at 34+0 weeks, at or after the protocol's stop at 34+0" in found.message


def test_a_dose_at_33_weeks_and_6_days_is_not():
    given_on = at_ga(33, 6)
    planned = [window(given_on - days(1), given_on + days(1))]
    assert deviations([infusion(given_on)], planned, lmp_on=LMP, today=given_on) == []


def test_the_stop_does_not_apply_without_a_pregnancy():
    given_on = at_ga(40)
    planned = [window(given_on, given_on)]
    assert deviations([infusion(given_on)], planned, today=given_on) == []


# Consent


def test_a_dose_before_consent_was_signed_is_flagged():
    (found,) = deviations([infusion(ET - days(7))], consent_periods=[(ET - days(6), None)])
    assert found.rule == Rule.WITHOUT_CONSENT
    assert found.message == "dose given on 2025-03-03 before consent was signed on 2025-03-04"


def test_a_dose_after_consent_was_withdrawn_is_flagged():
    periods = [(ET - days(60), ET - days(8))]
    (found,) = deviations([infusion(ET - days(7))], consent_periods=periods)
    assert found.message == "dose given on 2025-03-03 after consent was withdrawn on 2025-03-02"


def test_a_dose_with_no_consent_at_all_is_flagged():
    (found,) = deviations([infusion(ET - days(7))], consent_periods=[])
    assert found.limit == "a signed consent"


def test_a_dose_on_the_day_consent_is_signed_is_covered():
    assert deviations([infusion(ET - days(7))], consent_periods=[(ET - days(7), None)]) == []


# Missed maintenance


def test_a_maintenance_window_that_passed_with_no_dose_is_missed():
    planned = [window(at_ga(8), at_ga(9))]
    (found,) = deviations([], planned, lmp_on=LMP, today=at_ga(9, 1))
    assert found.rule == Rule.MISSED_MAINTENANCE
    assert found.limit == "2025-04-16 to 2025-04-23 (GA 8+0 to 9+0)"
    assert (
        found.message
        == "maintenance dose due 2025-04-16 to 2025-04-23 (GA 8+0 to 9+0) was not given"
    )


def test_a_window_still_open_or_with_a_dose_in_it_is_not_missed():
    planned = [window(at_ga(8), at_ga(9))]
    assert deviations([], planned, lmp_on=LMP, today=at_ga(9)) == []
    assert deviations([infusion(at_ga(8, 3))], planned, lmp_on=LMP, today=at_ga(12)) == []


def test_a_window_after_the_pregnancy_ended_is_not_missed():
    planned = [window(at_ga(8), at_ga(9))]
    found = deviations([], planned, lmp_on=LMP, pregnancy_ended_on=at_ga(8, 2), today=at_ga(12))
    assert found == []


# Weight


def test_a_weight_older_than_30_days_before_the_cycle_is_flagged():
    stale_on = ET - days(WEIGHT_MAX_AGE_DAYS + 1)
    (found,) = deviations([infusion(ET - days(7), weighed_on=stale_on)])
    assert found.rule == Rule.WEIGHT_OLDER_THAN_CYCLE
    assert (found.value, found.limit) == ("31 days", "30 days")


def test_a_weight_exactly_30_days_old_is_fine():
    fresh_enough = ET - days(WEIGHT_MAX_AGE_DAYS)
    assert deviations([infusion(ET - days(7), weighed_on=fresh_enough)]) == []


# Visits


def test_a_visit_not_done_after_its_window_is_overdue():
    visits = [VisitFacts(ET - days(3), None, "due")]
    (found,) = deviations(visits=visits)
    assert found.rule == Rule.VISIT_OVERDUE
    assert found.message == "follow-up visit due by 2025-03-07 is 3 days overdue"


def test_a_visit_marked_missed_says_so():
    (found,) = deviations(visits=[VisitFacts(ET - days(3), None, "missed")])
    assert found.message.endswith("(marked missed)")


def test_a_visit_done_or_not_yet_due_is_not_overdue():
    visits = [VisitFacts(ET - days(3), ET - days(4), "done"), VisitFacts(ET, None, "due")]
    assert deviations(visits=visits) == []


# Together


def test_every_deviation_of_a_dose_is_listed_in_date_order():
    found = deviations(
        [infusion(ET - days(3), dose_g=30, weighed_on=ET - days(90))],
        consent_periods=[(ET - days(1), None)],
        visits=[VisitFacts(ET - days(20), None, "due")],
    )
    assert rules_broken(found) == [
        Rule.VISIT_OVERDUE,
        Rule.DOSE_OUTSIDE_RANGE,
        Rule.OUTSIDE_WINDOW,
        Rule.WEIGHT_OLDER_THAN_CYCLE,
        Rule.WITHOUT_CONSENT,
    ]


def test_a_cycle_given_as_planned_has_no_deviations():
    given = [GivenDose(ET - days(7), ROUTE_IVIG, Decimal(40))]
    facts = {
        "route": ROUTE_IVIG,
        "plan": PLAN_FRESH_ET,
        "planned_event_on": ET,
        "weight_kg": Decimal(55),
        "vial_step_g": Decimal(5),
    }
    maintenance = plan_cycle(SEED_000, **facts, pregnancy_lmp_on=LMP, given=given)
    planned = [induction_window(), *maintenance]
    infusions = [infusion(spec.due_from + days(4), spec.dose_g) for spec in planned]
    today = at_ga(36)
    assert deviations(infusions, planned, lmp_on=LMP, today=today) == []
