"""Protocol deviations of one cycle, computed from what was planned and what happened.

Nothing is stored: the patient page and the monthly report call find_deviations with the
cycle's facts and list what it returns. Each deviation names its rule, the value found and the
limit it broke, in words; gestational ages are written weeks+days (33+6).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from outcomes import gestation
from registry import consents, dosing
from registry.protocol_rules import ROUTE_SCIG, ProtocolRules
from registry.schedule import PHASE_MAINTENANCE, PlannedDoseSpec, pregnancy_ga_days

# A dose is calculated on the weight at planning; a weight measured longer than this before the
# cycle's planned transfer or conception may no longer be hers.
WEIGHT_MAX_AGE_DAYS = 30

# The stored value of FollowUpVisit.Status.DONE.
VISIT_DONE = "done"


class Rule(StrEnum):
    DOSE_OUTSIDE_RANGE = "dose_outside_range"
    OUTSIDE_WINDOW = "outside_window"
    WITHOUT_CONSENT = "without_consent"
    AT_OR_AFTER_STOP = "at_or_after_stop"
    MISSED_MAINTENANCE = "missed_maintenance"
    WEIGHT_OLDER_THAN_CYCLE = "weight_older_than_cycle"
    VISIT_OVERDUE = "visit_overdue"


class InfusionFacts(NamedTuple):
    given_on: dt.date
    route: str
    dose_g: Decimal
    weight_kg: Decimal
    weighed_on: dt.date  # when the weight the dose was calculated on was measured


class VisitFacts(NamedTuple):
    due_until: dt.date
    done_on: dt.date | None
    status: str


@dataclass(frozen=True)
class Deviation:
    rule: Rule
    value: str
    limit: str
    message: str
    on: dt.date  # the day it happened (or, for something not done, the day it fell due)


def _date(on: dt.date) -> str:
    return f"{on:%Y-%m-%d}"


def _days(number: int) -> str:
    return "1 day" if number == 1 else f"{number} days"


def _span(due_from: dt.date, due_until: dt.date, lmp_on: dt.date | None) -> str:
    text = f"{_date(due_from)} to {_date(due_until)}"
    if lmp_on is not None and due_from >= lmp_on:
        text += (
            f" (GA {gestation.format_ga(gestation.ga_days(lmp_on, due_from))}"
            f" to {gestation.format_ga(gestation.ga_days(lmp_on, due_until))})"
        )
    return text


def _dose_range(
    rules: ProtocolRules, infusion: InfusionFacts, ga_days: int | None
) -> Deviation | None:
    low, high = rules.mg_per_kg_range(route=infusion.route, ga_days=ga_days)
    dose_g, weight_kg = Decimal(infusion.dose_g), Decimal(infusion.weight_kg)
    # Compared unrounded: 599.96 mg/kg is below 600 even though it prints as 600.0.
    if low * weight_kg <= dose_g * 1000 <= high * weight_kg:
        return None
    mg_per_kg = dosing.dose_mg_per_kg(dose_g, weight_kg)
    side = "below" if dose_g * 1000 < low * weight_kg else "above"
    limit = dosing.plain_mg_per_kg_range(low, high)
    per = " per SCIg dose" if infusion.route == ROUTE_SCIG else ""
    return Deviation(
        Rule.DOSE_OUTSIDE_RANGE,
        f"{dosing.plain_g(mg_per_kg)} mg/kg",
        limit + per,
        f"{dosing.plain_number(dose_g)} g on {_date(infusion.given_on)} for "
        f"{dosing.plain_number(weight_kg)} kg is {dosing.plain_g(mg_per_kg)} mg/kg, {side} the "
        f"protocol's {limit}{per}",
        infusion.given_on,
    )


def _outside_window(
    infusion: InfusionFacts, planned: Sequence[PlannedDoseSpec], lmp_on: dt.date | None
) -> Deviation | None:
    if any(window.due_from <= infusion.given_on <= window.due_until for window in planned):
        return None
    given_on = infusion.given_on
    if not planned:
        return Deviation(
            Rule.OUTSIDE_WINDOW,
            _date(given_on),
            "no planned dose",
            f"dose given on {_date(given_on)} when no dose was planned",
            given_on,
        )

    def distance(window: PlannedDoseSpec) -> int:
        return max((window.due_from - given_on).days, (given_on - window.due_until).days)

    nearest = min(planned, key=distance)
    span = _span(nearest.due_from, nearest.due_until, lmp_on)
    return Deviation(
        Rule.OUTSIDE_WINDOW,
        _date(given_on),
        span,
        f"dose given on {_date(given_on)}, {_days(distance(nearest))} outside its nearest "
        f"window, {span}",
        given_on,
    )


def _without_consent(
    infusion: InfusionFacts, periods: Sequence[consents.ConsentPeriod]
) -> Deviation | None:
    given_on = infusion.given_on
    if consents.covers(periods, given_on):
        return None
    signed_before = [p for p in periods if p[0] <= given_on]
    if signed_before:
        withdrawn_on = max(p[1] for p in signed_before if p[1] is not None)
        limit = f"before {_date(withdrawn_on)}"
        why = f"after consent was withdrawn on {_date(withdrawn_on)}"
    elif periods:
        signed_on = min(p[0] for p in periods)
        limit = f"on or after {_date(signed_on)}"
        why = f"before consent was signed on {_date(signed_on)}"
    else:
        limit = "a signed consent"
        why = "with no signed consent"
    return Deviation(
        Rule.WITHOUT_CONSENT,
        _date(given_on),
        limit,
        f"dose given on {_date(given_on)} {why}",
        given_on,
    )


def find_deviations(
    rules: ProtocolRules,
    *,
    infusions: Iterable[InfusionFacts],
    planned: Sequence[PlannedDoseSpec],
    consent_periods: Sequence[consents.ConsentPeriod],
    cycle_planned_on: dt.date,
    today: dt.date,
    lmp_on: dt.date | None = None,
    pregnancy_ended_on: dt.date | None = None,
    visits: Iterable[VisitFacts] = (),
) -> list[Deviation]:
    """Every deviation of one cycle, in date order.

    `planned` is every planned dose the cycle has stored, past ones included (a missed dose is
    a past window with no infusion in it); `cycle_planned_on` its planned transfer or
    conception date; `consent_periods` the patient's (signed_on, withdrawn_on) pairs.
    """
    infusions = [InfusionFacts(*infusion) for infusion in infusions]
    consent_periods = list(consent_periods)
    found: list[Deviation] = []
    oldest_weighed_on = cycle_planned_on - dt.timedelta(days=WEIGHT_MAX_AGE_DAYS)

    for infusion in infusions:
        given_on = infusion.given_on
        pregnant = lmp_on is not None and (
            pregnancy_ended_on is None or given_on < pregnancy_ended_on
        )
        ga_days = pregnancy_ga_days(lmp_on, given_on) if pregnant else None
        found += [
            deviation
            for deviation in (
                _dose_range(rules, infusion, ga_days),
                _outside_window(infusion, planned, lmp_on),
                _without_consent(infusion, consent_periods),
            )
            if deviation is not None
        ]
        if ga_days is not None and ga_days >= rules.stop_ga_days:
            stop = gestation.format_ga(rules.stop_ga_days)
            found.append(
                Deviation(
                    Rule.AT_OR_AFTER_STOP,
                    gestation.format_ga(ga_days),
                    f"before {stop}",
                    f"dose given on {_date(given_on)} at {gestation.format_ga(ga_days)} weeks, "
                    f"at or after the protocol's stop at {stop}",
                    given_on,
                )
            )
        if infusion.weighed_on < oldest_weighed_on:
            age_days = (cycle_planned_on - infusion.weighed_on).days
            found.append(
                Deviation(
                    Rule.WEIGHT_OLDER_THAN_CYCLE,
                    f"{_days(age_days)}",
                    f"{WEIGHT_MAX_AGE_DAYS} days",
                    f"dose given on {_date(given_on)} used a weight of "
                    f"{dosing.plain_number(infusion.weight_kg)} kg measured on "
                    f"{_date(infusion.weighed_on)}, {_days(age_days)} before the cycle's planned "
                    f"date {_date(cycle_planned_on)}; the limit is {WEIGHT_MAX_AGE_DAYS} days",
                    given_on,
                )
            )

    for window in planned:
        if window.phase != PHASE_MAINTENANCE or window.due_until >= today:
            continue
        if pregnancy_ended_on is not None and pregnancy_ended_on <= window.due_until:
            continue  # the pregnancy ended before the dose was late: nothing was missed
        if any(window.due_from <= infusion.given_on <= window.due_until for infusion in infusions):
            continue
        span = _span(window.due_from, window.due_until, lmp_on)
        found.append(
            Deviation(
                Rule.MISSED_MAINTENANCE,
                "not given",
                span,
                f"maintenance dose due {span} was not given",
                window.due_until,
            )
        )

    for visit in (VisitFacts(*visit) for visit in visits):
        if visit.done_on is not None or visit.status == VISIT_DONE or visit.due_until >= today:
            continue
        late_days = (today - visit.due_until).days
        marked = f" (marked {visit.status})" if visit.status not in ("", "due") else ""
        found.append(
            Deviation(
                Rule.VISIT_OVERDUE,
                f"{_days(late_days)} overdue",
                f"due by {_date(visit.due_until)}",
                f"follow-up visit due by {_date(visit.due_until)} is {_days(late_days)} overdue"
                f"{marked}",
                visit.due_until,
            )
        )

    return sorted(found, key=lambda deviation: (deviation.on, deviation.rule))
