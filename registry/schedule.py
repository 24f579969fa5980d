"""When doses and visits are due: the protocol's calendar, as values that nothing saves.

plan_cycle returns the doses still to come; it never returns, alters or drops a dose already
given. Re-planning (the transfer moves, the route changes from IVIg to SCIg, a pregnancy is
recorded) is calling it again with the doses given so far: the caller keeps every stored planned
dose that has an infusion or whose window is over (history, and the evidence of a missed dose),
and replaces the others with what this returns.

Decisions the protocol leaves open, made here once:

- Induction before a transfer is due from `induction_days_before_max` to
  `induction_days_before_min` days before it, both days included (ET-10 .. ET-5).
- Induction before a natural conception, or under a protocol anchored on conception, is due
  `conception_lead_days` before it, give or take CONCEPTION_WINDOW_DAYS ("about one month").
- SCIg before the event: one dose every `scig_interval_days`, the first `scig_lead_days` before
  the transfer or conception, the last before it.
- A protocol anchored on a positive pregnancy test plans nothing before the pregnancy; its first
  dose is due at POSITIVE_TEST_GA_DAYS.
- Maintenance is planned only once a pregnancy is recorded (its LMP-equivalent date is known).
  Each dose follows the previous one by the interval ("monthly" counts from the last infusion),
  starting from the last dose before the event still to come, else from the last dose given,
  else from the planned induction. A dose is planned while its date is before
  `maintenance_until_ga_days` and inside a maintenance phase when the protocol has phases; no
  window reaches `stop_ga_days`. If the first dose after the last one given is already overdue,
  it is due from today, and the rhythm restarts from there.
- A maintenance window spans maintenance_slack_days either side of its date: 4 days for a
  28-day interval, 1 day for weekly SCIg.
- When the route changes, the next dose follows the last by the shorter of the two routes'
  intervals: SCIg starts one week after the last IVIg infusion, as SCIg labels advise.
- Doses are planned on the cycle's weight; a plan that cannot be dosed raises DoseRefused.

replay_cycle rebuilds, for a cycle with no stored plan (imported or demo data), the plan its
stored rows would hold had it been re-planned after every dose; see its docstring.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from outcomes import gestation
from registry import dosing
from registry.protocol_rules import (
    ANCHOR_CONCEPTION,
    ANCHOR_POSITIVE_TEST,
    ROUTE_IVIG,
    ROUTE_SCIG,
    ProtocolRules,
)

# The stored values of TreatmentCycle.Plan, PlannedDose.Phase and FollowUpVisit.Kind.
PLAN_FRESH_ET = "fresh_et"
PLAN_FROZEN_ET = "frozen_et"
PLAN_NATURAL = "natural"
PHASE_INDUCTION = "induction"
PHASE_MAINTENANCE = "maintenance"
VISIT_ANTENATAL = "antenatal"
VISIT_POSTPARTUM = "postpartum"

ROUTE_NAMES = {ROUTE_IVIG: "IVIg", ROUTE_SCIG: "SCIg"}

# "About one month before a planned natural conception": the planned date is itself an estimate
# (ovulation), so the dose may come three days either side of it.
CONCEPTION_WINDOW_DAYS = 3
# A urine test turns positive around the missed period, four weeks after the LMP.
POSITIVE_TEST_GA_DAYS = 28
# With the pregnancy still going, antenatal visits are planned up to the due date (40+0).
DUE_DATE_GA_DAYS = 280
# Visits are booked by hand: two weeks either side of the three-monthly date, one week either
# side of the postpartum one.
VISIT_WINDOW_DAYS = 14
POSTPARTUM_WINDOW_DAYS = 7


def maintenance_slack_days(interval_days: int) -> int:
    """Days either side of a maintenance dose's date: one per week of interval.

    Windows of consecutive doses never overlap, so an infusion belongs to at most one.
    """
    return interval_days // 7


class GivenDose(NamedTuple):
    given_on: dt.date
    route: str
    dose_g: Decimal


@dataclass(frozen=True)
class PlannedDoseSpec:
    sequence: int
    phase: str
    route: str
    due_from: dt.date
    due_until: dt.date
    dose_g: Decimal

    def contains(self, on: dt.date) -> bool:
        return self.due_from <= on <= self.due_until


@dataclass(frozen=True)
class VisitSpec:
    kind: str
    due_from: dt.date
    due_until: dt.date


@dataclass(frozen=True)
class _Window:
    phase: str
    due_from: dt.date
    on: dt.date  # the date the window is built around; the next maintenance dose counts from it
    due_until: dt.date
    ga_days: int | None  # None before the pregnancy: the protocol's own mg/kg range applies


def pregnancy_ga_days(lmp_on: dt.date | None, on: dt.date) -> int | None:
    """The gestational age a dose's mg/kg is looked up by: None before conception.

    A dose before conception is induction, at the protocol's own range, even when the
    pregnancy it led to is known now.
    """
    if lmp_on is None or on < gestation.conception_from_lmp(lmp_on):
        return None
    return gestation.ga_days(lmp_on, on)


def _days(number: int) -> dt.timedelta:
    return dt.timedelta(days=number)


def _pre_event_windows(
    rules: ProtocolRules, *, route: str, plan: str, event_on: dt.date
) -> list[_Window]:
    if rules.induction_anchor == ANCHOR_POSITIVE_TEST:
        return []
    last_day = event_on - _days(1)
    if route == ROUTE_SCIG:
        interval = rules.scig_interval_days
        slack = maintenance_slack_days(interval)
        windows = []
        on = event_on - _days(rules.scig_lead_days)
        while on < event_on:
            windows.append(
                _Window(
                    PHASE_INDUCTION, on - _days(slack), on, min(on + _days(slack), last_day), None
                )
            )
            on += _days(interval)
        return windows
    if plan == PLAN_NATURAL or rules.induction_anchor == ANCHOR_CONCEPTION:
        on = event_on - _days(rules.conception_lead_days)
        due_until = min(on + _days(CONCEPTION_WINDOW_DAYS), last_day)
        return [_Window(PHASE_INDUCTION, on - _days(CONCEPTION_WINDOW_DAYS), on, due_until, None)]
    midpoint = (rules.induction_days_before_max + rules.induction_days_before_min) // 2
    return [
        _Window(
            PHASE_INDUCTION,
            event_on - _days(rules.induction_days_before_max),
            event_on - _days(midpoint),
            event_on - _days(rules.induction_days_before_min),
            None,
        )
    ]


def _interval_after(rules: ProtocolRules, *, route: str, last_route: str, last_ga_days: int) -> int:
    def interval_of(this_route: str) -> int:
        if this_route == ROUTE_SCIG:
            return rules.scig_interval_days
        return rules.ivig_interval_at(last_ga_days)

    if route == last_route:
        return interval_of(route)
    return min(interval_of(route), interval_of(last_route))


def _maintenance_windows(
    rules: ProtocolRules,
    *,
    route: str,
    lmp_on: dt.date,
    last_on: dt.date | None,
    last_route: str,
    today: dt.date | None,
) -> list[_Window]:
    last_day = gestation.date_at_ga(lmp_on, rules.stop_ga_days) - _days(1)
    if last_on is None:
        on = gestation.date_at_ga(lmp_on, POSITIVE_TEST_GA_DAYS)
    else:
        on = last_on + _days(
            _interval_after(
                rules,
                route=route,
                last_route=last_route,
                last_ga_days=gestation.ga_days(lmp_on, last_on),
            )
        )
    windows: list[_Window] = []
    may_catch_up = today is not None
    starts_today = False
    while True:
        ga_days = gestation.ga_days(lmp_on, on)
        if rules.maintenance_phases and rules.phase_at(ga_days) is None:
            coming = rules.next_phase_after(ga_days)
            if coming is None:
                break
            on = gestation.date_at_ga(lmp_on, coming.from_ga_days)
            ga_days = coming.from_ga_days
        if ga_days >= rules.maintenance_until_ga_days:
            break
        interval = (
            rules.scig_interval_days if route == ROUTE_SCIG else rules.ivig_interval_at(ga_days)
        )
        slack = maintenance_slack_days(interval)
        due_from = on - _days(slack)
        due_until = min(on + _days(slack), last_day)
        if may_catch_up and due_until < today:
            # Overdue already: due from today, and the rhythm restarts from today.
            on, starts_today = today, True
            may_catch_up = False
            continue
        may_catch_up = False
        if starts_today:
            due_from, starts_today = on, False
        if due_from > due_until:
            break
        windows.append(
            _Window(PHASE_MAINTENANCE, due_from, on, due_until, pregnancy_ga_days(lmp_on, on))
        )
        on += _days(interval)
    return windows


def plan_cycle(
    rules: ProtocolRules,
    *,
    route: str,
    plan: str,
    planned_event_on: dt.date,
    weight_kg: Decimal,
    vial_step_g: Decimal,
    pregnancy_lmp_on: dt.date | None = None,
    pregnancy_ended_on: dt.date | None = None,
    given: Iterable[tuple[dt.date, str, Decimal]] = (),
    today: dt.date | None = None,
    first_sequence: int | None = None,
) -> list[PlannedDoseSpec]:
    """The doses still to come in a cycle, in date order.

    `planned_event_on` is the planned transfer or natural conception; `given` the doses given so
    far in the cycle as (given_on, route, dose_g), by any route. Only windows that open after the
    last given dose, and (when `today` is given) have not closed before today, are returned, so
    a dose already given is never part of the answer. Sequences run on from `first_sequence`
    (default: one after the given doses) so the caller's stored rows keep theirs.
    """
    given_doses = sorted(given, key=lambda dose: dose[0])
    last_given = given_doses[-1] if given_doses else None
    last_given_on = last_given[0] if last_given else None

    windows = _pre_event_windows(rules, route=route, plan=plan, event_on=planned_event_on)
    if last_given_on is not None:
        windows = [w for w in windows if w.due_from > last_given_on]
    if pregnancy_lmp_on is not None:
        if windows:
            # Doses before the event are still to come (weekly SCIg after the first one given):
            # maintenance follows the last of them, or it would be planned over them a second time.
            last_on, last_route = windows[-1].on, route
        elif last_given is not None:
            last_on, last_route = last_given[0], last_given[1]
        else:
            last_on, last_route = None, route
        maintenance = _maintenance_windows(
            rules,
            route=route,
            lmp_on=pregnancy_lmp_on,
            last_on=last_on,
            last_route=last_route,
            today=today,
        )
        if pregnancy_ended_on is not None:
            # After a birth or a loss nothing more is given: no window may reach the end.
            maintenance = [w for w in maintenance if w.due_until < pregnancy_ended_on]
        windows += maintenance

    if last_given_on is not None:
        windows = [w for w in windows if w.due_from > last_given_on]
    if today is not None:
        windows = [w for w in windows if w.due_until >= today]

    sequence = first_sequence if first_sequence is not None else len(given_doses) + 1
    specs = []
    for offset, window in enumerate(sorted(windows, key=lambda w: w.due_from)):
        low, high = rules.mg_per_kg_range(route=route, ga_days=window.ga_days)
        dose_g = dosing.plan_dose_g(
            weight_kg=weight_kg, mg_per_kg_min=low, mg_per_kg_max=high, vial_step_g=vial_step_g
        )
        specs.append(
            PlannedDoseSpec(
                sequence=sequence + offset,
                phase=window.phase,
                route=route,
                due_from=window.due_from,
                due_until=window.due_until,
                dose_g=dose_g,
            )
        )
    return specs


def plan_visits(
    rules: ProtocolRules,
    *,
    confirmed_on: dt.date,
    lmp_on: dt.date,
    ended_on: dt.date | None = None,
) -> list[VisitSpec]:
    """Antenatal visits every `visit_interval_days` after confirmation, then one postpartum.

    While the pregnancy goes on, antenatal visits are planned up to the due date; once it has
    ended, up to its end, followed by the postpartum visit `postpartum_visit_days` after it.
    """
    end_on = ended_on or gestation.date_at_ga(lmp_on, DUE_DATE_GA_DAYS)
    visits = []
    on = confirmed_on + _days(rules.visit_interval_days)
    while on < end_on:
        due_until = on + _days(VISIT_WINDOW_DAYS)
        if ended_on is not None:
            due_until = min(due_until, ended_on - _days(1))
        visits.append(VisitSpec(VISIT_ANTENATAL, on - _days(VISIT_WINDOW_DAYS), due_until))
        on += _days(rules.visit_interval_days)
    if ended_on is not None:
        on = ended_on + _days(rules.postpartum_visit_days)
        visits.append(
            VisitSpec(
                VISIT_POSTPARTUM,
                on - _days(POSTPARTUM_WINDOW_DAYS),
                on + _days(POSTPARTUM_WINDOW_DAYS),
            )
        )
    return visits


def replay_cycle(
    rules: ProtocolRules,
    *,
    route: str,
    plan: str,
    planned_event_on: dt.date,
    weight_kg: Decimal,
    vial_steps_g: Mapping[str, Decimal],
    pregnancy_lmp_on: dt.date | None = None,
    pregnancy_ended_on: dt.date | None = None,
    given: Iterable[tuple[dt.date, str, Decimal]] = (),
) -> list[PlannedDoseSpec]:
    """Every window of a cycle, past ones included, as if it had been re-planned after each dose.

    The plan before the first dose is made with nothing given; after each dose the windows that
    were over or held that dose are kept (as the re-planning caller keeps its stored rows) and
    the rest is planned again from the doses given so far. What a re-plan could not have known
    is hidden from it: the pregnancy's end is used only once the day it ended has come. The
    pregnancy itself is known throughout, as a positive test tells the clinic early.

    Which route each stretch was planned for is read from the doses: the plan in force when a
    dose was given is the plan for that dose's route (a patient switched from IVIg to SCIg had
    IVIg windows until her last IVIg dose); after the last dose, the cycle's route. The cycle's
    planned transfer or conception date is the one it has now: a replay cannot know that it
    moved. `vial_steps_g` maps each route to its product's vial step (a route missing from it
    raises DoseRefused when a dose by that route has to be planned). Sequences run 1, 2, 3...
    """
    doses = sorted((GivenDose(*dose) for dose in given), key=lambda dose: dose.given_on)
    routes = [dose.route for dose in doses] + [route]

    def plan_for(route_then: str, given_then: list[GivenDose], *, on: dt.date | None, last: bool):
        if route_then not in vial_steps_g:
            raise dosing.DoseRefused(
                f"no {ROUTE_NAMES.get(route_then, route_then)} product is registered, so its "
                "doses cannot be rounded to vials"
            )
        # The last plan is the one in force now, and knows how the pregnancy ended.
        ended_by_then = pregnancy_ended_on
        if not last and ended_by_then is not None and (on is None or ended_by_then > on):
            ended_by_then = None
        return plan_cycle(
            rules,
            route=route_then,
            plan=plan,
            planned_event_on=planned_event_on,
            weight_kg=weight_kg,
            vial_step_g=vial_steps_g[route_then],
            pregnancy_lmp_on=pregnancy_lmp_on,
            pregnancy_ended_on=ended_by_then,
            given=given_then,
            today=on,
        )

    # Before the first dose nothing is filtered by date: a window missed then is history too.
    pending = plan_for(routes[0], [], on=None, last=not doses)
    kept: list[PlannedDoseSpec] = []
    for index, dose in enumerate(doses):
        kept += [w for w in pending if w.due_until < dose.given_on or w.contains(dose.given_on)]
        pending = plan_for(
            routes[index + 1], doses[: index + 1], on=dose.given_on, last=index + 1 == len(doses)
        )
    windows = sorted(kept + pending, key=lambda window: window.due_from)
    return [replace(window, sequence=number) for number, window in enumerate(windows, start=1)]
