"""Reads for the clinic: a cycle's plan beside what was given, protocol deviations, the work list.

Deviations are judged against the cycle's stored plan when it has one: that is the plan staff
were shown, and it keeps the windows of an earlier transfer date after the transfer moved. A
cycle with no stored plan (imported or demo data) is judged against the plan rebuilt from its
protocol by registry.schedule.replay_cycle, which is what cycle_plan_schedule would store for
its past; so planning such a cycle changes none of its deviations. The weight a dose was
calculated on is the cycle's weight at planning (an infusion stores the kilograms used, not
when they were measured).

Each selector reads with a fixed number of queries, whatever the number of cycles, doses,
pregnancies or visits: the lists are joined and prefetched, never fetched row by row.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from outcomes import gestation
from outcomes.models import FollowUpVisit, Pregnancy, PregnancyOutcome
from outcomes.planning import (
    CycleFacts,
    ReferencePlan,
    cycle_facts,
    reference_plan,
    with_cycle_facts,
)
from registry import access
from registry.deviations import Deviation, InfusionFacts, Rule, VisitFacts, find_deviations
from registry.models import Consent, Infusion, Patient, PlannedDose, Product, TreatmentCycle
from registry.protocol_rules import SEED_000
from registry.schedule import PHASE_MAINTENANCE, ROUTE_NAMES, PlannedDoseSpec

RULE_NAMES = {
    Rule.DOSE_OUTSIDE_RANGE: "dose outside the mg/kg range",
    Rule.OUTSIDE_WINDOW: "dose outside its window",
    Rule.WITHOUT_CONSENT: "dose without a signed consent",
    Rule.AT_OR_AFTER_STOP: "dose at or after the stop",
    Rule.MISSED_MAINTENANCE: "maintenance dose missed",
    Rule.WEIGHT_OLDER_THAN_CYCLE: "weight older than the cycle",
    Rule.VISIT_OVERDUE: "visit overdue",
}
WORKLIST_DAYS = 14
# Patients who left the study are not on anyone's work list.
INACTIVE_STATUSES = (Patient.Status.WITHDRAWN, Patient.Status.LOST)


def ga_text(lmp_on: dt.date | None, on: dt.date, ended_on: dt.date | None = None) -> str:
    """Gestational age on a date as weeks+days; "" outside the pregnancy (or without one)."""
    if lmp_on is None or on < lmp_on or (ended_on is not None and on >= ended_on):
        return ""
    return gestation.format_ga(gestation.ga_days(lmp_on, on))


def window_text(
    due_from: dt.date,
    due_until: dt.date,
    lmp_on: dt.date | None,
    ended_on: dt.date | None = None,
) -> str:
    text = f"{due_from:%Y-%m-%d} to {due_until:%Y-%m-%d}"
    start, end = ga_text(lmp_on, due_from, ended_on), ga_text(lmp_on, due_until, ended_on)
    if start and end:
        text += f" (GA {start} to {end})"
    return text


@dataclass(frozen=True)
class GivenRow:
    infusion: Infusion
    ga: str

    @property
    def mg_per_kg(self) -> Decimal:
        return self.infusion.dose_mg_per_kg

    @property
    def route_name(self) -> str:
        return ROUTE_NAMES.get(self.infusion.route, self.infusion.route)


@dataclass(frozen=True)
class PlanRow:
    """One planned window and the infusions given in it; or (window None) an infusion no
    window held."""

    window: PlannedDoseSpec | None
    window_text: str
    given: list[GivenRow]
    status: str

    @property
    def what(self) -> str:
        if self.window is None:
            return ""
        return f"{ROUTE_NAMES.get(self.window.route, self.window.route)} {self.window.phase}"


@dataclass(frozen=True)
class CycleReport:
    cycle: TreatmentCycle
    plan: ReferencePlan
    rows: list[PlanRow]
    deviations: list[Deviation]


def _status(window: PlannedDoseSpec, given: list, today: dt.date, ended_on: dt.date | None) -> str:
    if given:
        return "given"
    if ended_on is not None and ended_on <= window.due_until:
        return "not needed: the pregnancy had ended"
    if window.due_until < today:
        return "missed" if window.phase == PHASE_MAINTENANCE else "not given"
    if window.due_from <= today:
        return "due now"
    return "to come"


def _report(
    facts: CycleFacts, consent_periods: list, visits: list[FollowUpVisit], today: dt.date
) -> CycleReport:
    plan = reference_plan(facts)
    lmp_on, ended_on = facts.lmp_on, facts.ended_on
    weighed_on = facts.cycle.weighed_on
    rows, held = [], set()
    for window in plan.windows:
        given = [i for i in facts.infusions if window.contains(i.given_on)]
        held.update(i.pk for i in given)
        rows.append(
            PlanRow(
                window=window,
                window_text=window_text(window.due_from, window.due_until, lmp_on, ended_on),
                given=[GivenRow(i, ga_text(lmp_on, i.given_on, ended_on)) for i in given],
                status=_status(window, given, today, ended_on),
            )
        )
    for infusion in facts.infusions:
        if infusion.pk not in held:
            rows.append(
                PlanRow(
                    window=None,
                    window_text="no planned window",
                    given=[GivenRow(infusion, ga_text(lmp_on, infusion.given_on, ended_on))],
                    status="outside any window",
                )
            )
    rows.sort(key=lambda row: row.window.due_from if row.window else row.given[0].infusion.given_on)
    deviations = find_deviations(
        facts.rules,
        infusions=[
            InfusionFacts(i.given_on, i.route, i.dose_g, i.weight_kg, weighed_on)
            for i in facts.infusions
        ],
        planned=plan.windows,
        consent_periods=consent_periods,
        cycle_planned_on=facts.cycle.planned_event_on,
        today=today,
        lmp_on=lmp_on,
        pregnancy_ended_on=ended_on,
        visits=[VisitFacts(v.due_until, v.done_on, v.status) for v in visits],
    )
    return CycleReport(cycle=facts.cycle, plan=plan, rows=rows, deviations=deviations)


def _with_visits(cycles: QuerySet[TreatmentCycle]) -> QuerySet[TreatmentCycle]:
    return with_cycle_facts(cycles).prefetch_related(
        Prefetch("pregnancies__visits", queryset=FollowUpVisit.objects.order_by("due_from"))
    )


def _cycle_visits(cycle: TreatmentCycle) -> list[FollowUpVisit]:
    return [visit for pregnancy in cycle.pregnancies.all() for visit in pregnancy.visits.all()]


def cycle_report(*, cycle: TreatmentCycle, today: dt.date) -> CycleReport:
    """The cycle's plan beside what was given, and its deviations. Eight queries."""
    loaded = _with_visits(TreatmentCycle.objects.filter(pk=cycle.pk)).get()
    periods = list(loaded.patient.consents.values_list("signed_on", "withdrawn_on"))
    facts = cycle_facts(loaded, list(Product.objects.all()))
    return _report(facts, periods, _cycle_visits(loaded), today)


def cycle_deviations(*, cycle: TreatmentCycle, today: dt.date) -> list[Deviation]:
    return cycle_report(cycle=cycle, today=today).deviations


@dataclass(frozen=True)
class PatientDeviation:
    cycle_number: int | None  # None: a visit of a pregnancy recorded without a cycle
    deviation: Deviation


def patient_reports(*, patient: Patient, today: dt.date) -> list[CycleReport]:
    cycles = _with_visits(TreatmentCycle.objects.filter(patient=patient).order_by("number"))
    periods = list(patient.consents.values_list("signed_on", "withdrawn_on"))
    products = list(Product.objects.all())
    return [
        _report(cycle_facts(cycle, products), periods, _cycle_visits(cycle), today)
        for cycle in cycles
    ]


def patient_deviations(*, patient: Patient, today: dt.date) -> list[PatientDeviation]:
    """Every deviation of all her cycles, and overdue visits of pregnancies outside any cycle,
    in date order. Nine queries, however many cycles she has."""
    found = [
        PatientDeviation(report.cycle.number, deviation)
        for report in patient_reports(patient=patient, today=today)
        for deviation in report.deviations
    ]
    loose_visits = FollowUpVisit.objects.filter(
        pregnancy__patient=patient, pregnancy__cycle__isnull=True
    )
    if loose_visits := list(loose_visits):
        found += [
            PatientDeviation(None, deviation)
            for deviation in find_deviations(
                SEED_000,  # visits are judged by their own windows; no protocol value is read
                infusions=[],
                planned=[],
                consent_periods=[],
                cycle_planned_on=today,
                today=today,
                visits=[VisitFacts(v.due_until, v.done_on, v.status) for v in loose_visits],
            )
        ]
    return sorted(found, key=lambda item: (item.deviation.on, item.deviation.rule))


# The 14-day work list


@dataclass(frozen=True)
class WorkItem:
    study_id: str
    site_code: str
    what: str
    due_from: dt.date
    due_until: dt.date
    window_text: str
    dose_g: Decimal | None = None
    cycle_id: int | None = None
    pregnancy_id: int | None = None
    # Read only for users who may see identifiers; None for everyone else.
    name: str | None = None
    mrn: str | None = None


@dataclass(frozen=True)
class WorkList:
    today: dt.date
    until: dt.date
    doses: list[WorkItem] = field(default_factory=list)
    visits: list[WorkItem] = field(default_factory=list)


def _doses_due(user, today: dt.date, until: dt.date) -> QuerySet[PlannedDose]:
    # Two lookups rather than one with OR, so each uses its index at any size.
    linked = Infusion.objects.filter(planned_dose=OuterRef("pk"))
    in_window = Infusion.objects.filter(
        cycle=OuterRef("cycle"),
        given_on__gte=OuterRef("due_from"),
        given_on__lte=OuterRef("due_until"),
    )
    # A plan not yet re-planned after the pregnancy ended must not send anyone to dose her.
    ended = PregnancyOutcome.objects.filter(
        pregnancy__cycle=OuterRef("cycle"), ended_on__lte=OuterRef("due_until")
    )
    lmp_on = Pregnancy.objects.filter(cycle=OuterRef("cycle")).order_by("-confirmed_on")
    planned = access.scope(PlannedDose.objects.all(), user, "cycle__patient__site")
    return (
        planned.filter(due_from__lte=until, due_until__gte=today)
        .exclude(cycle__patient__status__in=INACTIVE_STATUSES)
        .exclude(Exists(linked))
        .exclude(Exists(in_window))
        .exclude(Exists(ended))
        .annotate(lmp_on=Subquery(lmp_on.values("lmp_on")[:1]))
        .order_by("due_from", "cycle__patient__study_id", "sequence")
    )


def _visits_due(user, today: dt.date, until: dt.date) -> QuerySet[FollowUpVisit]:
    visits = access.scope(FollowUpVisit.objects.all(), user, "pregnancy__patient__site")
    return (
        visits.filter(status=FollowUpVisit.Status.DUE, due_from__lte=until, due_until__gte=today)
        .exclude(pregnancy__patient__status__in=INACTIVE_STATUSES)
        .order_by("due_from", "pregnancy__patient__study_id")
    )


def _who(row: dict, patient: str, identifiers: bool) -> dict:
    found = {"study_id": row[f"{patient}__study_id"], "site_code": row[f"{patient}__site__code"]}
    if identifiers:
        found["name"] = f"{row[f'{patient}__family_name']}, {row[f'{patient}__given_name']}"
        found["mrn"] = row[f"{patient}__mrn"]
    return found


def _patient_columns(patient: str, identifiers: bool) -> list[str]:
    columns = [f"{patient}__study_id", f"{patient}__site__code"]
    if identifiers:
        columns += [f"{patient}__family_name", f"{patient}__given_name", f"{patient}__mrn"]
    return columns


def worklist(*, user, today: dt.date, days: int = WORKLIST_DAYS) -> WorkList:
    """Doses and visits whose window is open on some day from today to `days` days ahead, at
    the user's sites, not yet given or done. Two queries, whatever the size of the sites: the
    columns shown are read as values, not as model instances, and identifiers only for those
    who may see them."""
    until = today + dt.timedelta(days=days)
    identifiers = access.can_view_identifiers(user)
    cycle_patient, pregnancy_patient = "cycle__patient", "pregnancy__patient"
    doses = [
        WorkItem(
            **_who(row, cycle_patient, identifiers),
            what=f"{ROUTE_NAMES[row['route']]} {row['phase']} dose (cycle {row['cycle__number']})",
            due_from=row["due_from"],
            due_until=row["due_until"],
            window_text=window_text(row["due_from"], row["due_until"], row["lmp_on"]),
            dose_g=row["dose_g"],
            cycle_id=row["cycle_id"],
        )
        for row in _doses_due(user, today, until).values(
            "due_from",
            "due_until",
            "dose_g",
            "route",
            "phase",
            "cycle_id",
            "cycle__number",
            "lmp_on",
            *_patient_columns(cycle_patient, identifiers),
        )
    ]
    kinds = dict(FollowUpVisit.Kind.choices)
    visits = [
        WorkItem(
            **_who(row, pregnancy_patient, identifiers),
            what=f"{kinds[row['kind']]} visit",
            due_from=row["due_from"],
            due_until=row["due_until"],
            # After the pregnancy (the postpartum visit) a gestational age means nothing.
            window_text=window_text(
                row["due_from"],
                row["due_until"],
                row["pregnancy__lmp_on"] if row["kind"] == FollowUpVisit.Kind.ANTENATAL else None,
            ),
            pregnancy_id=row["pregnancy_id"],
        )
        for row in _visits_due(user, today, until).values(
            "due_from",
            "due_until",
            "kind",
            "pregnancy_id",
            "pregnancy__lmp_on",
            *_patient_columns(pregnancy_patient, identifiers),
        )
    ]
    return WorkList(today=today, until=until, doses=doses, visits=visits)


# Deviations of whole sites, for the monthly report

# A cycle's deviations fall between its first dose (about a month before the transfer or the
# planned conception) and the visit a month after the pregnancy ends (up to 42 weeks after
# conception): a cycle planned longer ago than this has none left to find.
CYCLE_REACH_DAYS = 400


@dataclass(frozen=True)
class SiteDeviation:
    study_id: str
    site_code: str
    patient_id: int
    cycle_number: int | None  # None: a visit of a pregnancy recorded without a cycle
    deviation: Deviation


def site_deviations(
    *, site_codes: list[str], since: dt.date, until: dt.date, today: dt.date
) -> list[SiteDeviation]:
    """Deviations dated from `since` to `until` (both included) of the sites' patients who have
    not left the study, judged as of `today` exactly as patient_deviations judges them. Ten
    queries, whatever the number of patients and cycles."""
    active = Patient.objects.filter(site__code__in=site_codes).exclude(status__in=INACTIVE_STATUSES)
    cycles = _with_visits(
        TreatmentCycle.objects.filter(
            patient__in=active,
            planned_event_on__gte=since - dt.timedelta(days=CYCLE_REACH_DAYS),
            planned_event_on__lte=until + dt.timedelta(days=CYCLE_REACH_DAYS),
        ).order_by("patient__study_id", "number")
    ).select_related("patient__site")
    cycles = list(cycles)
    periods: dict[int, list] = {}
    for patient_id, signed_on, withdrawn_on in Consent.objects.filter(
        patient_id__in={cycle.patient_id for cycle in cycles}
    ).values_list("patient_id", "signed_on", "withdrawn_on"):
        periods.setdefault(patient_id, []).append((signed_on, withdrawn_on))
    products = list(Product.objects.all())
    found = []
    for cycle in cycles:
        report = _report(
            cycle_facts(cycle, products),
            periods.get(cycle.patient_id, []),
            _cycle_visits(cycle),
            today,
        )
        patient = cycle.patient
        found += [
            SiteDeviation(patient.study_id, patient.site.code, patient.pk, cycle.number, deviation)
            for deviation in report.deviations
            if since <= deviation.on <= until
        ]
    loose_visits = FollowUpVisit.objects.filter(
        pregnancy__patient__in=active,
        pregnancy__cycle__isnull=True,
        due_until__gte=since,
        due_until__lte=until,
    ).values(
        "due_until",
        "done_on",
        "status",
        "pregnancy__patient_id",
        "pregnancy__patient__study_id",
        "pregnancy__patient__site__code",
    )
    for visit in loose_visits:
        found += [
            SiteDeviation(
                visit["pregnancy__patient__study_id"],
                visit["pregnancy__patient__site__code"],
                visit["pregnancy__patient_id"],
                None,
                deviation,
            )
            for deviation in find_deviations(
                SEED_000,  # visits are judged by their own windows; no protocol value is read
                infusions=[],
                planned=[],
                consent_periods=[],
                cycle_planned_on=today,
                today=today,
                visits=[VisitFacts(visit["due_until"], visit["done_on"], visit["status"])],
            )
            if since <= deviation.on <= until
        ]
    return sorted(found, key=lambda item: (item.deviation.on, item.study_id, item.deviation.rule))
