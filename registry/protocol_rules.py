"""A protocol's parameters as plain values, so every clinical rule is a pure function.

`ProtocolRules` mirrors the Protocol model field for field (and its maintenance phases), so the
rules in eligibility, dosing, schedule and deviations never touch the database: the admin, the
API, the importer and the tasks read a Protocol row once and pass its rules along, and tests
write protocols by hand. Nothing here imports Django.
"""

from dataclasses import dataclass
from decimal import Decimal

from registry import dosing

# The stored values of registry.models.Route and Protocol.Anchor (TextChoices compare equal to
# these strings), repeated here so the rules can be used without Django.
ROUTE_IVIG = "ivig"
ROUTE_SCIG = "scig"
ANCHOR_TRANSFER = "transfer"
ANCHOR_CONCEPTION = "conception"
ANCHOR_POSITIVE_TEST = "positive_test"


@dataclass(frozen=True)
class PhaseRules:
    """A stretch of pregnancy, from_ga_days up to (not including) until_ga_days, with its dose."""

    from_ga_days: int
    until_ga_days: int
    dose_mg_per_kg_min: int
    dose_mg_per_kg_max: int
    interval_days: int = 28

    def covers(self, ga_days: int) -> bool:
        return self.from_ga_days <= ga_days < self.until_ga_days


@dataclass(frozen=True)
class ProtocolRules:
    min_age_years: int
    max_age_years: int
    miscarriages_more_than: int
    failed_transfers_more_than: int
    requires_conventional_failure: bool
    induction_anchor: str
    induction_days_before_min: int
    induction_days_before_max: int
    conception_lead_days: int
    scig_lead_days: int
    dose_mg_per_kg_min: int
    dose_mg_per_kg_max: int
    ivig_interval_days: int
    scig_interval_days: int
    maintenance_until_ga_days: int
    stop_ga_days: int
    scig_conversion_factor: Decimal
    visit_interval_days: int
    postpartum_visit_days: int
    # Sorted by from_ga_days. Empty: maintenance uses the protocol's own mg/kg and intervals.
    maintenance_phases: tuple[PhaseRules, ...] = ()

    def __post_init__(self):
        # A zero interval would plan the same day for ever; the table does not forbid it.
        intervals = {
            "ivig_interval_days": self.ivig_interval_days,
            "scig_interval_days": self.scig_interval_days,
            "visit_interval_days": self.visit_interval_days,
        } | {
            f"maintenance phase from {phase.from_ga_days} days: interval_days": phase.interval_days
            for phase in self.maintenance_phases
        }
        for name, days in intervals.items():
            if days <= 0:
                raise ValueError(f"{name} must be at least 1 day, not {days}")

    @classmethod
    def from_protocol(cls, protocol) -> "ProtocolRules":
        """Read a Protocol row (and its maintenance phases); writes nothing.

        Prefetch `maintenance_phases` when reading many protocols, or this costs one query each.
        An unsaved protocol has no phases yet, and asking Django for them would raise.
        """
        phase_rows = protocol.maintenance_phases.all() if protocol.pk is not None else ()
        phases = tuple(
            sorted(
                (
                    PhaseRules(
                        from_ga_days=row.from_ga_days,
                        until_ga_days=row.until_ga_days,
                        dose_mg_per_kg_min=row.dose_mg_per_kg_min,
                        dose_mg_per_kg_max=row.dose_mg_per_kg_max,
                        interval_days=row.interval_days,
                    )
                    for row in phase_rows
                ),
                key=lambda phase: phase.from_ga_days,
            )
        )
        return cls(
            min_age_years=protocol.min_age_years,
            max_age_years=protocol.max_age_years,
            miscarriages_more_than=protocol.miscarriages_more_than,
            failed_transfers_more_than=protocol.failed_transfers_more_than,
            requires_conventional_failure=protocol.requires_conventional_failure,
            induction_anchor=str(protocol.induction_anchor),
            induction_days_before_min=protocol.induction_days_before_min,
            induction_days_before_max=protocol.induction_days_before_max,
            conception_lead_days=protocol.conception_lead_days,
            scig_lead_days=protocol.scig_lead_days,
            dose_mg_per_kg_min=protocol.dose_mg_per_kg_min,
            dose_mg_per_kg_max=protocol.dose_mg_per_kg_max,
            ivig_interval_days=protocol.ivig_interval_days,
            scig_interval_days=protocol.scig_interval_days,
            maintenance_until_ga_days=protocol.maintenance_until_ga_days,
            stop_ga_days=protocol.stop_ga_days,
            scig_conversion_factor=Decimal(protocol.scig_conversion_factor),
            visit_interval_days=protocol.visit_interval_days,
            postpartum_visit_days=protocol.postpartum_visit_days,
            maintenance_phases=phases,
        )

    def phase_at(self, ga_days: int) -> PhaseRules | None:
        return next((p for p in self.maintenance_phases if p.covers(ga_days)), None)

    def next_phase_after(self, ga_days: int) -> PhaseRules | None:
        return next((p for p in self.maintenance_phases if p.from_ga_days > ga_days), None)

    def ivig_interval_at(self, ga_days: int | None) -> int:
        """Days between IVIg doses at a gestational age (None: before pregnancy).

        Before the first phase starts, the coming phase's interval applies, so the dose that
        opens a phase is spaced by that phase's rhythm.
        """
        if ga_days is not None:
            phase = self.phase_at(ga_days) or self.next_phase_after(ga_days)
        else:
            phase = self.maintenance_phases[0] if self.maintenance_phases else None
        return phase.interval_days if phase else self.ivig_interval_days

    def mg_per_kg_range(self, *, route: str, ga_days: int | None = None) -> tuple[Decimal, Decimal]:
        """The mg/kg range of ONE dose by this route, at a gestational age (None: induction).

        A maintenance phase covering `ga_days` sets the range; otherwise the protocol's own. An
        SCIg dose replaces a share of the IVIg dose (dosing.scig_share), so its range is the IVIg
        range times that share: 600-800 mg/kg every 28 days is 150-200 mg/kg a week.
        """
        phase = self.phase_at(ga_days) if ga_days is not None else None
        if phase is not None:
            low, high = Decimal(phase.dose_mg_per_kg_min), Decimal(phase.dose_mg_per_kg_max)
            ivig_interval_days = phase.interval_days
        else:
            low, high = Decimal(self.dose_mg_per_kg_min), Decimal(self.dose_mg_per_kg_max)
            ivig_interval_days = self.ivig_interval_days
        if route == ROUTE_SCIG:
            share = dosing.scig_share(
                conversion_factor=self.scig_conversion_factor,
                interval_days_ivig=ivig_interval_days,
                scig_interval_days=self.scig_interval_days,
            )
            return low * share, high * share
        return low, high


# The protocol of seed 000 (McGill, 2014-2016): the defaults of the Protocol model.
SEED_000 = ProtocolRules(
    min_age_years=18,
    max_age_years=42,
    miscarriages_more_than=4,
    failed_transfers_more_than=3,
    requires_conventional_failure=True,
    induction_anchor=ANCHOR_TRANSFER,
    induction_days_before_min=5,
    induction_days_before_max=10,
    conception_lead_days=30,
    scig_lead_days=28,
    dose_mg_per_kg_min=600,
    dose_mg_per_kg_max=800,
    ivig_interval_days=28,
    scig_interval_days=7,
    maintenance_until_ga_days=32 * 7,
    stop_ga_days=34 * 7,
    scig_conversion_factor=Decimal("1.00"),
    visit_interval_days=91,
    postpartum_visit_days=30,
)
