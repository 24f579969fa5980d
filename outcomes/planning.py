"""Storing the protocol's calendar: a cycle's planned doses and a pregnancy's follow-up visits.

The calendar itself is computed by registry/schedule.py (pure); these services read the facts it
needs with a fixed number of queries, and write what it returns. They live in outcomes/ because a
cycle's maintenance depends on its pregnancy: they read both apps (as the demo loader does).

Re-planning (the transfer moves, the route changes, a pregnancy or its end is recorded, a dose is
given, or someone presses "Plan schedule") is calling cycle_plan_schedule again. It keeps every
stored planned dose that holds an infusion or whose window is over, and replaces the others; it
never changes an infusion. A cycle planned for the first time after doses were given (imported or
demo data) gets the history registry.schedule.replay_cycle rebuilds, so the windows those doses
fell in, and the ones missed, are stored too.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from outcomes.models import FollowUpVisit, Pregnancy
from registry import dosing, schedule
from registry.models import Infusion, PlannedDose, Product, TreatmentCycle
from registry.protocol_rules import SEED_000, ProtocolRules
from registry.schedule import GivenDose, PlannedDoseSpec
from registry.selectors import patient_protocol

# The finest step a dose is stored in (PlannedDose.dose_g has two decimals). Windows do not
# depend on vials, so a plan whose doses cannot be rounded to any product is still computed
# to this step, to find deviations against it.
FINEST_STEP_G = Decimal("0.01")


@dataclass(frozen=True)
class CycleFacts:
    """What planning one cycle needs, read once: the cycle, its protocol, doses and pregnancy."""

    cycle: TreatmentCycle
    rules: ProtocolRules
    infusions: list[Infusion]  # in date order
    stored: list[PlannedDose]  # in date order
    pregnancy: Pregnancy | None  # the latest pregnancy of the cycle
    vial_steps_g: dict[str, Decimal]

    @property
    def lmp_on(self) -> dt.date | None:
        return self.pregnancy.lmp_on if self.pregnancy else None

    @property
    def ended_on(self) -> dt.date | None:
        outcome = getattr(self.pregnancy, "outcome", None) if self.pregnancy else None
        return outcome.ended_on if outcome else None

    @property
    def given(self) -> list[GivenDose]:
        return [GivenDose(i.given_on, i.route, i.dose_g) for i in self.infusions]

    def holds_infusion(self, due_from: dt.date, due_until: dt.date, planned_id=None) -> bool:
        """An infusion is linked to the planned dose, or was given inside its window."""
        return any(
            (planned_id is not None and infusion.planned_dose_id == planned_id)
            or due_from <= infusion.given_on <= due_until
            for infusion in self.infusions
        )


def with_cycle_facts(cycles: QuerySet[TreatmentCycle]) -> QuerySet[TreatmentCycle]:
    """The joins cycle_facts reads: five queries for any number of cycles."""
    return cycles.select_related("protocol", "patient").prefetch_related(
        "protocol__maintenance_phases",
        Prefetch(
            "infusions",
            queryset=Infusion.objects.select_related("product").order_by("given_on", "pk"),
        ),
        Prefetch("planned", queryset=PlannedDose.objects.order_by("due_from", "sequence")),
        Prefetch(
            "pregnancies",
            queryset=Pregnancy.objects.select_related("outcome").order_by("confirmed_on", "pk"),
        ),
    )


def product_vial_steps_g(
    products: Iterable[Product], infusions: Sequence[Infusion]
) -> dict[str, Decimal]:
    """The vial step to plan each route in: the product last given by it in this cycle, else the
    finest product registered for it (a plan is as exact as the shelf allows)."""
    steps: dict[str, Decimal] = {}
    for product in sorted(products, key=lambda p: p.vial_step_g, reverse=True):
        steps[product.route] = product.vial_step_g
    for infusion in infusions:
        if infusion.product is not None:
            steps[infusion.product.route] = infusion.product.vial_step_g
    return steps


def cycle_facts(cycle: TreatmentCycle, products: Sequence[Product]) -> CycleFacts:
    """Facts of a cycle fetched through with_cycle_facts; no query."""
    infusions = list(cycle.infusions.all())
    pregnancies = list(cycle.pregnancies.all())
    return CycleFacts(
        cycle=cycle,
        rules=ProtocolRules.from_protocol(cycle.protocol),
        infusions=infusions,
        stored=list(cycle.planned.all()),
        pregnancy=pregnancies[-1] if pregnancies else None,
        vial_steps_g=product_vial_steps_g(products, infusions),
    )


def replay(
    facts: CycleFacts, vial_steps_g: dict[str, Decimal] | None = None
) -> list[PlannedDoseSpec]:
    """The cycle's windows rebuilt from its protocol and doses (registry.schedule.replay_cycle)."""
    cycle = facts.cycle
    return schedule.replay_cycle(
        facts.rules,
        route=cycle.route,
        plan=cycle.plan,
        planned_event_on=cycle.planned_event_on,
        weight_kg=cycle.weight_kg,
        vial_steps_g=facts.vial_steps_g if vial_steps_g is None else vial_steps_g,
        pregnancy_lmp_on=facts.lmp_on,
        pregnancy_ended_on=facts.ended_on,
        given=facts.given,
    )


def spec_of(row: PlannedDose) -> PlannedDoseSpec:
    return PlannedDoseSpec(
        sequence=row.sequence,
        phase=row.phase,
        route=row.route,
        due_from=row.due_from,
        due_until=row.due_until,
        dose_g=row.dose_g,
    )


@dataclass(frozen=True)
class ReferencePlan:
    windows: list[PlannedDoseSpec]
    stored: bool  # the cycle's stored plan; else computed from its protocol (replay)
    note: str = ""  # why the grams are not in whole vials, or why there is no plan at all


def reference_plan(facts: CycleFacts) -> ReferencePlan:
    """The plan a cycle is judged against: its stored plan; or, when it has none, the plan
    cycle_plan_schedule would store for its history (so storing it changes no deviation)."""
    if facts.stored:
        return ReferencePlan([spec_of(row) for row in facts.stored], stored=True)
    try:
        return ReferencePlan(replay(facts), stored=False)
    except dosing.DoseRefused as refused:
        why = f"doses cannot be planned in whole vials ({refused}); grams are shown unrounded"
    try:
        finest = dict.fromkeys(schedule.ROUTE_NAMES, FINEST_STEP_G)
        return ReferencePlan(replay(facts, finest), stored=False, note=why)
    except dosing.DoseRefused as refused:
        return ReferencePlan([], stored=False, note=f"no plan can be computed: {refused}")


@dataclass(frozen=True)
class ScheduleChange:
    kept: int
    removed: int
    added: int

    def __str__(self):
        if not (self.removed or self.added):
            return f"unchanged, {self.kept} kept"
        return f"{self.added} new, {self.removed} replaced, {self.kept} kept"


@transaction.atomic
def cycle_plan_schedule(*, cycle: TreatmentCycle, today: dt.date) -> ScheduleChange:
    """Store the cycle's planned doses from its protocol; raises DoseRefused with the reason.

    Keeps every stored planned dose that holds an infusion or whose window closed before today
    (history, and the evidence of a missed dose) and replaces the others with the doses still to
    come. Writes nothing when the plan is unchanged, so re-planning twice leaves the audit trail
    as it was. A fixed number of queries however many doses the cycle or patients the site
    has (pinned in tests/outcomes/test_planning_queries.py).
    """
    # The lock keeps two re-plans of one cycle from interleaving their deletes and inserts.
    locked = with_cycle_facts(
        TreatmentCycle.objects.filter(pk=cycle.pk).select_for_update(of=("self",))
    ).get()
    facts = cycle_facts(locked, list(Product.objects.all()))

    if facts.stored:
        kept = [
            row
            for row in facts.stored
            if row.due_until < today or facts.holds_infusion(row.due_from, row.due_until, row.pk)
        ]
        history = []
    else:
        kept = []
        history = [
            spec
            for spec in replay(facts)
            if spec.due_until < today or facts.holds_infusion(spec.due_from, spec.due_until)
        ]
    route = locked.route
    if route not in facts.vial_steps_g:
        raise dosing.DoseRefused(
            f"no {schedule.ROUTE_NAMES.get(route, route)} product is registered, so doses "
            "cannot be rounded to vials"
        )
    taken = [row.sequence for row in kept] + [spec.sequence for spec in history]
    to_come = schedule.plan_cycle(
        facts.rules,
        route=route,
        plan=locked.plan,
        planned_event_on=locked.planned_event_on,
        weight_kg=locked.weight_kg,
        vial_step_g=facts.vial_steps_g[route],
        pregnancy_lmp_on=facts.lmp_on,
        pregnancy_ended_on=facts.ended_on,
        given=facts.given,
        today=today,
        first_sequence=max(taken, default=0) + 1,
    )
    kept_ids = {row.pk for row in kept}
    replaced = [row for row in facts.stored if row.pk not in kept_ids]
    wanted = history + to_come
    if sorted(map(spec_of, replaced), key=lambda s: s.sequence) == wanted:
        return ScheduleChange(kept=len(facts.stored), removed=0, added=0)
    if replaced:
        PlannedDose.objects.filter(pk__in=[row.pk for row in replaced]).delete()
    PlannedDose.objects.bulk_create(
        [
            PlannedDose(
                cycle=locked,
                sequence=spec.sequence,
                phase=spec.phase,
                route=spec.route,
                due_from=spec.due_from,
                due_until=spec.due_until,
                dose_g=spec.dose_g,
            )
            for spec in wanted
        ]
    )
    return ScheduleChange(kept=len(kept), removed=len(replaced), added=len(wanted))


def _overlaps(visit: FollowUpVisit, spec: schedule.VisitSpec) -> bool:
    return visit.kind == spec.kind and (
        visit.due_from <= spec.due_until and spec.due_from <= visit.due_until
    )


@transaction.atomic
def pregnancy_plan_visits(*, pregnancy: Pregnancy) -> ScheduleChange:
    """Store the pregnancy's follow-up visits from its protocol.

    Visits done or missed are never touched, and a planned visit whose window one of them
    already covers is not added again. Visits still due are replaced by the plan (one that is
    exactly as planned stays as it is, so re-planning twice writes nothing).
    """
    locked = (
        Pregnancy.objects.filter(pk=pregnancy.pk)
        .select_for_update(of=("self",))
        .select_related("outcome", "cycle__protocol", "patient")
        .prefetch_related(
            "cycle__protocol__maintenance_phases",
            Prefetch("visits", queryset=FollowUpVisit.objects.order_by("due_from", "pk")),
        )
        .get()
    )
    protocol = locked.cycle.protocol if locked.cycle else patient_protocol(patient=locked.patient)
    rules = ProtocolRules.from_protocol(protocol) if protocol else SEED_000
    outcome = getattr(locked, "outcome", None)
    specs = schedule.plan_visits(
        rules,
        confirmed_on=locked.confirmed_on,
        lmp_on=locked.lmp_on,
        ended_on=outcome.ended_on if outcome else None,
    )
    visits = list(locked.visits.all())
    settled = [v for v in visits if v.status != FollowUpVisit.Status.DUE]
    wanted = [spec for spec in specs if not any(_overlaps(v, spec) for v in settled)]
    unchanged, to_add = [], []
    due = [v for v in visits if v.status == FollowUpVisit.Status.DUE]
    for spec in wanted:
        same = next(
            (
                v
                for v in due
                if (v.kind, v.due_from, v.due_until) == (spec.kind, spec.due_from, spec.due_until)
                and v not in unchanged
            ),
            None,
        )
        if same is not None:
            unchanged.append(same)
        else:
            to_add.append(spec)
    to_remove = [v for v in due if v not in unchanged]
    if to_remove:
        FollowUpVisit.objects.filter(pk__in=[v.pk for v in to_remove]).delete()
    if to_add:
        FollowUpVisit.objects.bulk_create(
            FollowUpVisit(
                pregnancy=locked, kind=spec.kind, due_from=spec.due_from, due_until=spec.due_until
            )
            for spec in to_add
        )
    return ScheduleChange(
        kept=len(settled) + len(unchanged), removed=len(to_remove), added=len(to_add)
    )
