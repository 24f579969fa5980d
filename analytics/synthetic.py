"""A synthetic multi-site cohort for benchmarks, load tests and demos at scale: no real people.

Analytics otherwise never writes clinical data. This is the one exception, and it writes only
made-up patients, through the registry's and outcomes' models with `bulk_create`, so every check
constraint and trigger (consent before the first dose; a pregnancy confirmed after its transfer;
an outcome after conception and after its transfer) checks each row, and the audit trail records
each insert like any other.

Same seed, same data: every patient draws from her own random stream, seeded by (seed, her
index), so the cohort does not depend on the batch size, and study IDs are drawn from the
registry's alphabet by that stream too (random-looking, never derived from anything about her,
and reproducible). Dates are fixed against `AS_OF`, the cohort's data cut-off, not today, so
the same seed gives the same pending cases every year: pregnancies still going on `AS_OF`,
transfers whose result is not back yet, patients still in treatment.

The distributions are plausible, not fitted: ages 18-42 around 36; RPL, RIF or both; one to
five transfers with about 45% clinical pregnancies per transfer; about a fifth of pregnancies
miscarried; live births at a median near 39 weeks with about one in ten preterm; headaches after
about 8% of IVIg infusions; and a few protocol deviations (doses outside the mg/kg range,
induction outside its window, a dose after 34+0, weights older than the cycle, missed and
overdue visits). Planned doses are not written: deviations that need them are the schedule's
business, not this cohort's.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pghistory
from django.db import connection, transaction

from outcomes import gestation
from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from registry import study_ids
from registry.models import (
    Consent,
    ImmuneTest,
    Infusion,
    Patient,
    Product,
    Protocol,
    Site,
    TreatmentCycle,
)

# The cohort's data cut-off: nothing happens after it, and what was under way then is pending.
AS_OF = dt.date(2025, 6, 30)
SCREENED_FROM = dt.date(2012, 1, 2)
SCREENED_UNTIL = dt.date(2025, 4, 30)
MAX_TRANSFERS = 5
MRN_PREFIX = "SYN"

# Sites of the default multi-site cohort: code, name, share of patients, main protocol.
SITES = (
    ("TOR", "Toronto fertility clinic (synthetic)", 0.30, "seed-000"),
    ("LYO", "Lyon reproductive immunology (synthetic)", 0.20, "seed-000"),
    ("OSL", "Oslo RPL unit (synthetic)", 0.20, "seed-002"),
    ("SEO", "Seoul women's hospital (synthetic)", 0.15, "syn-kr-400"),
    ("MEL", "Melbourne IVF (synthetic)", 0.15, "seed-000"),
)
# A site's main protocol treats this share of its patients; the rest are spread over the others.
MAIN_PROTOCOL_SHARE = 0.85

# Written with get_or_create by code, so an installation's own rows (seed 000 comes with a
# migration; load_demo writes seed 002) are used as they are.
PROTOCOLS = {
    "seed-000": {
        "name": "IVIg 600-800 mg/kg before ET, monthly to 32-34 weeks (MUHC)",
        "source": "Seed 000: McGill case series, MUHC REB 15-408",
    },
    "seed-002": {
        "name": "IVIg plus prednisone from before ET through the first trimester",
        "source": "Seed 002: Nyborg et al., Fertil Steril 2014;102:1650. "
        "Dose and interval here are illustrative; the abstract does not give them.",
        "miscarriages_more_than": 2,
        "failed_transfers_more_than": 2,
        "induction_days_before_min": 1,
        "induction_days_before_max": 7,
        "dose_mg_per_kg_min": 300,
        "dose_mg_per_kg_max": 500,
        "ivig_interval_days": 14,
        "maintenance_until_ga_days": 84,
        "stop_ga_days": 98,
    },
    "syn-kr-400": {
        "name": "IVIg 400 mg/kg every 4 weeks from a positive pregnancy test to 30 weeks",
        "source": "Korean Society for Reproductive Immunology guideline (seed 000, discussion); "
        "synthetic cohort only.",
        "induction_anchor": "positive_test",
        "miscarriages_more_than": 2,
        "failed_transfers_more_than": 2,
        "dose_mg_per_kg_min": 400,
        "dose_mg_per_kg_max": 400,
        "maintenance_until_ga_days": 210,
        "stop_ga_days": 224,
    },
}
PRODUCTS = {
    "ivig": {"name": "Privigen 10% (IVIg)", "route": "ivig", "vial_step_g": Decimal("5")},
    "scig": {"name": "Hizentra 20% (SCIg)", "route": "scig", "vial_step_g": Decimal("1")},
}

GIVEN_NAMES = ("Ada", "Bea", "Cora", "Dina", "Eva", "Fay", "Gia", "Hana", "Iris", "Jun", "Kim")
FAMILY_NAMES = ("Synthetic", "Fictive", "Madeup", "Notreal", "Sampleby", "Testwell")


@dataclass(frozen=True)
class _CycleResult:
    # The day the patient could start again, or None when the cycle was still under way on
    # AS_OF (or she was lost): then nothing more is drawn for her.
    after: dt.date | None
    live_birth: bool = False


@dataclass
class PatientRows:
    """One patient and everything about her, as unsaved model instances."""

    patient: Patient
    consents: list[Consent] = field(default_factory=list)
    immune_tests: list[ImmuneTest] = field(default_factory=list)
    cycles: list[TreatmentCycle] = field(default_factory=list)
    infusions: list[Infusion] = field(default_factory=list)
    transfers: list[EmbryoTransfer] = field(default_factory=list)
    pregnancies: list[Pregnancy] = field(default_factory=list)
    visits: list[FollowUpVisit] = field(default_factory=list)
    outcomes: list[PregnancyOutcome] = field(default_factory=list)
    infants: list[Infant] = field(default_factory=list)
    adverse_events: list[AdverseEvent] = field(default_factory=list)


# The order rows are written in: each list's foreign keys point to lists written before it.
WRITE_ORDER = (
    ("patient", Patient),
    ("consents", Consent),
    ("immune_tests", ImmuneTest),
    ("cycles", TreatmentCycle),
    ("infusions", Infusion),
    ("transfers", EmbryoTransfer),
    ("pregnancies", Pregnancy),
    ("visits", FollowUpVisit),
    ("outcomes", PregnancyOutcome),
    ("infants", Infant),
    ("adverse_events", AdverseEvent),
)


@dataclass(frozen=True)
class References:
    """The reference rows patients point to: sites with their main protocol, protocols, products."""

    sites: Sequence[tuple[Site, float, str]]
    protocols: dict[str, Protocol]
    products: dict[str, Product]


@dataclass
class SyntheticSummary:
    patients: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def _days(number: int) -> dt.timedelta:
    return dt.timedelta(days=number)


def _round_to_step(grams: Decimal, step: Decimal) -> Decimal:
    return (grams / step).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def patient_random(seed: int, index: int) -> random.Random:
    """Patient `index`'s own stream: independent of batch size and of every other patient."""
    return random.Random(f"ivig-synthetic:{seed}:{index}")


def draw_study_id(rng: random.Random, site_code: str) -> str:
    suffix = "".join(rng.choice(study_ids.ALPHABET) for _ in range(study_ids.LENGTH))
    return f"{site_code}-{suffix}"


class _PatientDraw:
    """Draws one patient's history, event by event, up to AS_OF."""

    def __init__(self, rng: random.Random, index: int, seed: int, refs: References):
        self.rng = rng
        self.refs = refs
        self.rows: PatientRows
        self._draw(index, seed)

    # -- the patient -------------------------------------------------------------------------

    def _pick_site(self) -> tuple[Site, str]:
        weights = [share for _, share, _ in self.refs.sites]
        site, _, main_protocol = self.rng.choices(self.refs.sites, weights=weights)[0]
        if self.rng.random() < MAIN_PROTOCOL_SHARE:
            return site, main_protocol
        return site, self.rng.choice(sorted(self.refs.protocols))

    def _draw(self, index: int, seed: int) -> None:
        rng = self.rng
        site, protocol_code = self._pick_site()
        self.protocol = self.refs.protocols[protocol_code]
        span = (SCREENED_UNTIL - SCREENED_FROM).days
        screened_on = SCREENED_FROM + _days(rng.randrange(span))
        age = round(_clamp(rng.gauss(36, 4), 18, 42))
        born_on = screened_on - _days(age * 365 + rng.randrange(5, 360))
        indication = rng.choices(["rpl", "rif", "both"], weights=[55, 30, 15])[0]
        rpl, rif = indication in ("rpl", "both"), indication in ("rif", "both")
        misc_floor = self.protocol.miscarriages_more_than + 1
        fail_floor = self.protocol.failed_transfers_more_than + 1
        given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
        mrn = f"{MRN_PREFIX}{seed}-{index:08d}"
        patient = Patient(
            study_id=draw_study_id(rng, site.code),
            site=site,
            given_name=given,
            family_name=family,
            mrn=mrn,
            date_of_birth=born_on,
            email=f"{given.lower()}.{family.lower()}.{index}@example.org",
            phone=f"+1-555-{rng.randrange(100, 1000)}-{rng.randrange(1000, 10000)}",
            indication=indication,
            unexplained_miscarriages=rng.randrange(misc_floor, misc_floor + 5) if rpl else 0,
            failed_good_blastocyst_transfers=rng.randrange(fail_floor, fail_floor + 6)
            if rif
            else rng.randrange(0, 2),
            prior_live_births=rng.choices([0, 1], weights=[80, 20])[0],
            prior_stillbirths=1 if rng.random() < 0.03 else 0,
            prior_late_losses=rng.choice([1, 2]) if rng.random() < 0.05 else 0,
            conventional_treatment_failed=True,
            status=Patient.Status.SCREENING,
            screened_on=screened_on,
        )
        self.rows = PatientRows(patient=patient)
        self.age = age
        self.weight_kg = Decimal(round(_clamp(rng.gauss(68, 12), 45, 120) * 10)) / 10
        nk = round(_clamp(rng.lognormvariate(2.35, 0.38), 2, 45), 1)
        self.rows.immune_tests.append(
            ImmuneTest(
                patient=patient,
                analyte=ImmuneTest.Analyte.NK_PERCENT,
                value=Decimal(str(nk)),
                unit="%",
                tested_on=screened_on,
                abnormal=nk >= 12,
            )
        )
        if rng.random() < 0.2:
            self.rows.immune_tests.append(
                ImmuneTest(
                    patient=patient,
                    analyte=ImmuneTest.Analyte.ANA,
                    value=None,
                    unit="",
                    tested_on=screened_on,
                    abnormal=rng.random() < 0.1,
                )
            )
        # About 3% are screened and never enrolled.
        if rng.random() < 0.03:
            return
        enrolled_on = screened_on + _days(rng.randrange(3, 30))
        if enrolled_on > AS_OF:
            return
        patient.status = Patient.Status.ENROLLED
        patient.enrolled_on = enrolled_on
        self.consent = Consent(patient=patient, version="SYN v1", signed_on=enrolled_on)
        self.rows.consents.append(self.consent)
        self.ivf = rif or rng.random() < 0.6
        route_draw = rng.random()
        self.route_plan = "scig" if route_draw < 0.10 else "switch" if route_draw < 0.14 else "ivig"
        self.ivig_doses_before_switch = rng.choice([1, 2])
        self.ivig_given = 0
        self._treat(enrolled_on)

    # -- treatment ---------------------------------------------------------------------------

    def _finish(self, status: str, on: dt.date, reason: str = "") -> None:
        patient = self.rows.patient
        patient.status = status
        patient.status_changed_on = min(on, AS_OF)
        patient.status_reason = reason

    def _treat(self, enrolled_on: dt.date) -> None:
        rng = self.rng
        # About 2% withdraw before the first dose: enrolled (intention to treat), never treated.
        if rng.random() < 0.02:
            self._finish(
                Patient.Status.WITHDRAWN, enrolled_on + _days(rng.randrange(5, 30)), "declined"
            )
            return
        event_on = enrolled_on + _days(rng.randrange(35, 90))
        attempts = MAX_TRANSFERS if self.ivf else 3
        for number in range(1, attempts + 1):
            if event_on > AS_OF:
                return  # still enrolled, next cycle planned after the cut-off
            outcome = self._cycle(number, event_on)
            if outcome.after is None:
                return  # still under way on AS_OF, or lost to follow-up
            if outcome.live_birth:
                self._finish(Patient.Status.COMPLETED, outcome.after)
                return
            if rng.random() < 0.03:
                self._finish(Patient.Status.LOST, outcome.after, "lost to follow-up: no contact")
                return
            stop = rng.random()
            if stop < 0.05:
                self._finish(Patient.Status.WITHDRAWN, outcome.after, "withdrew: personal reasons")
                self.consent.withdrawn_on = max(outcome.after, self._last_dose_on() + _days(1))
                return
            if stop < 0.25 or number == attempts:
                self._finish(Patient.Status.COMPLETED, outcome.after)
                return
            event_on = outcome.after + _days(rng.randrange(45, 150))

    def _last_dose_on(self) -> dt.date:
        return max((i.given_on for i in self.rows.infusions), default=self.consent.signed_on)

    def _cycle(self, number: int, event_on: dt.date) -> _CycleResult:
        rng = self.rng
        plan = (
            rng.choice([TreatmentCycle.Plan.FRESH_ET, TreatmentCycle.Plan.FROZEN_ET])
            if self.ivf
            else TreatmentCycle.Plan.NATURAL
        )
        # 2% of cycles dose on a weight older than a month: a deviation worth finding.
        weighed_on = event_on - _days(rng.randrange(40, 70) if rng.random() < 0.02 else 5)
        cycle = TreatmentCycle(
            patient=self.rows.patient,
            protocol=self.protocol,
            number=number,
            route=self._route_now(),
            plan=plan,
            planned_event_on=event_on,
            weight_kg=self.weight_kg,
            weighed_on=weighed_on,
        )
        self.rows.cycles.append(cycle)
        self.cycle = cycle
        self._induction(event_on, plan)
        if self.ivf:
            return self._transfer(event_on)
        return self._natural(event_on)

    def _dose(self, route: str, on: dt.date) -> Infusion | None:
        """One infusion on `on` (if by AS_OF), at the protocol's dose; 2% outside its range."""
        if on > AS_OF:
            return None
        rng = self.rng
        protocol = self.protocol
        if rng.random() < 0.02:
            mg_per_kg = protocol.dose_mg_per_kg_min * 0.85
        else:
            mg_per_kg = rng.uniform(protocol.dose_mg_per_kg_min, protocol.dose_mg_per_kg_max)
        grams = self.weight_kg * Decimal(str(round(mg_per_kg))) / 1000
        if route == "scig":
            # Equivalent weekly SCIg: a quarter of the monthly IVIg grams (seed 000).
            grams = max(_round_to_step(grams / 4, PRODUCTS["scig"]["vial_step_g"]), Decimal(1))
        else:
            grams = max(_round_to_step(grams, PRODUCTS["ivig"]["vial_step_g"]), Decimal(5))
            self.ivig_given += 1
        infusion = Infusion(
            cycle=self.cycle,
            given_on=on,
            route=route,
            product=self.refs.products[route],
            lot_number=f"S{rng.randrange(10000, 100000)}",
            dose_g=grams,
            weight_kg=self.weight_kg,
        )
        self.rows.infusions.append(infusion)
        self._infusion_events(infusion)
        return infusion

    def _route_now(self) -> str:
        if self.route_plan == "scig":
            return "scig"
        if self.route_plan == "switch" and self.ivig_given >= self.ivig_doses_before_switch:
            return "scig"
        return "ivig"

    def _induction(self, event_on: dt.date, plan: str) -> None:
        rng, protocol = self.rng, self.protocol
        if protocol.induction_anchor == Protocol.Anchor.POSITIVE_TEST:
            return  # this regimen starts once the pregnancy test is positive
        if self._route_now() == "scig":
            on = event_on - _days(protocol.scig_lead_days)
            while on < event_on:
                self._dose("scig", on)
                on += _days(protocol.scig_interval_days)
            return
        if plan == TreatmentCycle.Plan.NATURAL:
            days_before = protocol.conception_lead_days + rng.randrange(-2, 3)
        elif rng.random() < 0.02:
            days_before = protocol.induction_days_before_max + rng.randrange(2, 5)  # too early
        else:
            days_before = rng.randrange(
                protocol.induction_days_before_min, protocol.induction_days_before_max + 1
            )
        self._dose("ivig", event_on - _days(days_before))

    # -- transfers and pregnancies -----------------------------------------------------------

    def _transfer(self, event_on: dt.date) -> _CycleResult:
        rng = self.rng
        embryos = 2 if rng.random() < 0.15 else 1
        transfer = EmbryoTransfer(
            cycle=self.cycle,
            transferred_on=event_on,
            kind=EmbryoTransfer.Kind.FRESH
            if self.cycle.plan == TreatmentCycle.Plan.FRESH_ET
            else EmbryoTransfer.Kind.FROZEN,
            embryo_day=rng.choices([3, 5, 6], weights=[10, 75, 15])[0],
            embryo_quality=rng.choice(["3BB", "4AA", "4AB", "4BB", "5AA"]),
            good_quality=rng.random() < 0.85,
            embryos_transferred=embryos,
        )
        self.rows.transfers.append(transfer)
        # A result takes about two weeks; a transfer that recent on AS_OF is still pending.
        if event_on + _days(14) > AS_OF:
            return _CycleResult(after=None)
        p_clinical = 0.45 if self.age < 38 else 0.33
        draw = rng.random()
        if draw < 0.015:
            transfer.result = EmbryoTransfer.Result.ECTOPIC
            return _CycleResult(after=event_on + _days(rng.randrange(35, 60)))
        if draw < 0.015 + p_clinical:
            transfer.result = EmbryoTransfer.Result.CLINICAL
            lmp_on = gestation.lmp_from_transfer(event_on, transfer.embryo_day)
            fetuses = 2 if embryos == 2 and rng.random() < 0.3 else 1
            return self._pregnancy(lmp_on, fetuses, transfer=transfer)
        transfer.result = (
            EmbryoTransfer.Result.BIOCHEMICAL
            if rng.random() < 0.15
            else EmbryoTransfer.Result.NEGATIVE
        )
        return _CycleResult(after=event_on + _days(14))

    def _natural(self, event_on: dt.date) -> _CycleResult:
        rng = self.rng
        if rng.random() > 0.55:
            return _CycleResult(after=event_on + _days(rng.randrange(30, 60)))
        conceived_on = event_on + _days(rng.randrange(0, 10))
        lmp_on = conceived_on - _days(gestation.DAYS_FROM_LMP_TO_CONCEPTION)
        if lmp_on + _days(49) > AS_OF:
            return _CycleResult(after=None)  # not yet confirmed on AS_OF
        return self._pregnancy(lmp_on, 1 if rng.random() < 0.98 else 2, transfer=None)

    def _pregnancy(
        self, lmp_on: dt.date, fetuses: int, *, transfer: EmbryoTransfer | None
    ) -> _CycleResult:
        rng = self.rng
        confirmed_on = lmp_on + _days(rng.randrange(42, 57))
        if transfer is not None:
            confirmed_on = max(confirmed_on, transfer.transferred_on + _days(14))
        if confirmed_on > AS_OF:
            return _CycleResult(after=None)
        pregnancy = Pregnancy(
            patient=self.rows.patient,
            cycle=self.cycle,
            transfer=transfer,
            conception=Pregnancy.Conception.IVF if transfer else Pregnancy.Conception.NATURAL,
            dating=Pregnancy.Dating.TRANSFER if transfer else Pregnancy.Dating.LMP,
            lmp_on=lmp_on,
            fetuses=fetuses,
            confirmed_on=confirmed_on,
        )
        self.rows.pregnancies.append(pregnancy)
        confirmed_ga = (confirmed_on - lmp_on).days
        kind, end_ga_days = self._pregnancy_course(fetuses, confirmed_ga=confirmed_ga)
        ended_on = gestation.date_at_ga(lmp_on, end_ga_days)
        # About 1% are lost to follow-up during the pregnancy: a month of doses, then silence.
        lost = rng.random() < 0.01
        self._maintenance(pregnancy, confirmed_ga + 28 if lost else end_ga_days)
        ongoing = ended_on > AS_OF or lost
        self._visits(pregnancy, confirmed_on, None if ongoing else ended_on, lost=lost)
        if lost:
            self._finish(Patient.Status.LOST, confirmed_on, "lost to follow-up: moved away")
        if ongoing:
            return _CycleResult(after=None)
        outcome = PregnancyOutcome(
            pregnancy=pregnancy,
            kind=kind,
            ended_on=ended_on,
            delivery_mode=(
                rng.choices(["vaginal", "caesarean"], weights=[65, 35])[0]
                if kind in ("live_birth", "stillbirth")
                else "na"
            ),
            preterm_labour=kind == "live_birth" and end_ga_days < gestation.ga_from_weeks(37),
        )
        self.rows.outcomes.append(outcome)
        if kind in ("live_birth", "stillbirth"):
            self._infants(pregnancy, kind, fetuses, end_ga_days, ended_on)
        self._pregnancy_events(pregnancy, kind, end_ga_days, lmp_on, ended_on)
        after = ended_on + _days(30)
        return _CycleResult(after=after, live_birth=kind == "live_birth")

    def _pregnancy_course(self, fetuses: int, *, confirmed_ga: int) -> tuple[str, int]:
        rng = self.rng
        draw = rng.random()
        if draw < 0.20:
            return "miscarriage", rng.randrange(max(confirmed_ga + 1, 49), 134)
        if draw < 0.21:
            return "stillbirth", rng.randrange(140, 266)
        if draw < 0.215:
            return "termination", rng.randrange(max(confirmed_ga + 1, 70), 160)
        if fetuses > 1:
            return "live_birth", round(_clamp(rng.gauss(252, 14), 168, 270))
        if rng.random() < 0.08:
            return "live_birth", rng.randrange(168, 259)  # preterm, below 37+0
        return "live_birth", round(_clamp(rng.gauss(276, 8), 259, 295))

    def _maintenance(self, pregnancy: Pregnancy, end_ga_days: int) -> None:
        rng, protocol, lmp_on = self.rng, self.protocol, pregnancy.lmp_on
        last_ga = min(end_ga_days, protocol.maintenance_until_ga_days + rng.randrange(0, 14))
        if protocol.induction_anchor == Protocol.Anchor.POSITIVE_TEST:
            ga = (pregnancy.confirmed_on - lmp_on).days
        elif pregnancy.transfer is not None:
            ga = (pregnancy.transfer.transferred_on - lmp_on).days + 28
        else:
            ga = 28 + 14
        while ga < min(last_ga, protocol.stop_ga_days):
            route = self._route_now()
            self._dose(route, gestation.date_at_ga(lmp_on, ga))
            ga += protocol.scig_interval_days if route == "scig" else protocol.ivig_interval_days
        # A dose at or after 34+0 weeks in about 1% of long pregnancies.
        over = protocol.stop_ga_days + rng.randrange(1, 6)
        if end_ga_days > over and rng.random() < 0.01:
            self._dose(self._route_now(), gestation.date_at_ga(lmp_on, over))

    def _visits(
        self, pregnancy: Pregnancy, confirmed_on: dt.date, ended_on: dt.date | None, *, lost: bool
    ) -> None:
        rng = self.rng
        due = confirmed_on + _days(91)
        last_due = ended_on or max(AS_OF, gestation.date_at_ga(pregnancy.lmp_on, 280))
        dues = []
        while due < last_due:
            dues.append((FollowUpVisit.Kind.ANTENATAL, due, 14))
            due += _days(91)
        if ended_on is not None:
            dues.append((FollowUpVisit.Kind.POSTPARTUM, ended_on + _days(30), 7))
        for kind, due_on, slack in dues:
            due_from, due_until = due_on - _days(slack), due_on + _days(slack)
            if due_from > AS_OF + _days(120):
                break
            status, done_on = FollowUpVisit.Status.DUE, None
            if due_until < AS_OF:
                draw = rng.random()
                if lost or draw < 0.02:
                    status = FollowUpVisit.Status.MISSED
                elif draw < 0.03:
                    status = FollowUpVisit.Status.DUE  # overdue: nobody recorded it
                else:
                    status = FollowUpVisit.Status.DONE
                    done_on = due_on + _days(rng.randrange(-slack, slack + 1))
            self.rows.visits.append(
                FollowUpVisit(
                    pregnancy=pregnancy,
                    kind=kind,
                    due_from=due_from,
                    due_until=due_until,
                    status=status,
                    done_on=done_on,
                )
            )

    def _infants(self, pregnancy, kind: str, fetuses: int, ga_days: int, ended_on: dt.date):
        rng = self.rng
        for order in range(1, fetuses + 1):
            # About 25 g a day around term; twins lighter.
            mean_g = 3450 + (ga_days - 280) * 25 - (450 if fetuses > 1 else 0)
            weight_g = round(_clamp(rng.gauss(mean_g, 420), 300, 5400))
            preterm = ga_days < gestation.ga_from_weeks(37)
            assessed = kind == "live_birth" and ended_on + _days(400) <= AS_OF
            self.rows.infants.append(
                Infant(
                    pregnancy=pregnancy,
                    birth_order=order,
                    sex=rng.choice([Infant.Sex.FEMALE, Infant.Sex.MALE]),
                    birth_weight_g=weight_g,
                    live_born=kind == "live_birth",
                    nicu_admission=kind == "live_birth" and (preterm or rng.random() < 0.05),
                    development_12m=(
                        rng.choices(["normal", "delay"], weights=[96, 4])[0]
                        if assessed
                        else "not_assessed"
                    ),
                )
            )

    # -- adverse events ----------------------------------------------------------------------

    def _event(self, **values) -> None:
        onset_on = values["onset_on"]
        resolved_on = onset_on + _days(self.rng.randrange(0, 4))
        if resolved_on > AS_OF:
            values.update(resolved_on=None, resolution=AdverseEvent.Resolution.RECOVERING)
        else:
            values.setdefault("resolved_on", resolved_on)
        self.rows.adverse_events.append(AdverseEvent(patient=self.rows.patient, **values))

    def _infusion_events(self, infusion: Infusion) -> None:
        rng = self.rng
        draw = rng.random()
        on = infusion.given_on
        if infusion.route == "scig":
            if draw < 0.03:
                self._event(
                    infusion=infusion,
                    term=AdverseEvent.Term.OTHER,
                    term_other="injection-site reaction",
                    grade=1,
                    relatedness=AdverseEvent.Relatedness.DEFINITE,
                    onset_on=on,
                )
            elif draw < 0.05:
                self._event(
                    infusion=infusion,
                    term=AdverseEvent.Term.HEADACHE,
                    grade=1,
                    relatedness=AdverseEvent.Relatedness.PROBABLE,
                    onset_on=on,
                    action_taken=AdverseEvent.Action.TREATED,
                )
            return
        # IVIg: (upper bound of the draw, term, grade range, serious, relatedness, action)
        table = (
            (0.080, "headache", (1, 1, 1, 1, 2, 2, 3), False, "probable", "treated"),
            (0.095, "infusion_reaction", (1, 2), False, "probable", "rate_slowed"),
            (0.096, "aseptic_meningitis", (3,), True, "probable", "hospitalised"),
            (0.0968, "haemolysis", (2, 3), False, "possible", "treated"),
            (0.0973, "thrombosis", (3, 4), True, "possible", "hospitalised"),
            (0.0978, "renal", (2, 3), False, "possible", "treated"),
            (0.0980, "anaphylaxis", (4,), True, "definite", "stopped"),
        )
        for upper, term, grades, serious, relatedness, action in table:
            if draw < upper:
                grade = rng.choice(grades)
                self._event(
                    infusion=infusion,
                    term=term,
                    grade=grade,
                    serious=serious or grade >= 4,
                    relatedness=relatedness,
                    onset_on=on,
                    action_taken=action,
                )
                return

    def _pregnancy_events(self, pregnancy, kind, end_ga_days, lmp_on, ended_on) -> None:
        rng = self.rng
        if kind == "live_birth" and end_ga_days < gestation.ga_from_weeks(37):
            self._event(
                pregnancy=pregnancy,
                term=AdverseEvent.Term.PRETERM_LABOUR,
                grade=3,
                serious=True,
                relatedness=AdverseEvent.Relatedness.UNRELATED,
                onset_on=ended_on - _days(1),
                resolved_on=ended_on,
                action_taken=AdverseEvent.Action.HOSPITALISED,
            )
        if kind == "live_birth" and rng.random() < 0.01 and end_ga_days > 150:
            self._event(
                pregnancy=pregnancy,
                subject=AdverseEvent.Subject.FETAL,
                term=AdverseEvent.Term.FETAL_ANOMALY,
                grade=rng.choice([1, 2]),
                relatedness=AdverseEvent.Relatedness.UNLIKELY,
                onset_on=gestation.date_at_ga(lmp_on, 140),
                resolved_on=None,
                resolution=AdverseEvent.Resolution.ONGOING,
            )


def draw_patient(seed: int, index: int, refs: References) -> PatientRows:
    """Patient `index` of the cohort of `seed`, as unsaved model instances (no database)."""
    return _PatientDraw(patient_random(seed, index), index, seed, refs).rows


def references_ensure(*, site_code: str | None = None) -> References:
    """Get or create the sites, protocols and products the synthetic patients point to."""
    protocols = {
        code: Protocol.objects.get_or_create(code=code, defaults=values)[0]
        for code, values in PROTOCOLS.items()
    }
    products = {
        route: Product.objects.get_or_create(name=values["name"], defaults=values)[0]
        for route, values in PRODUCTS.items()
    }
    if site_code:
        site, _ = Site.objects.get_or_create(
            code=site_code, defaults={"name": f"{site_code} (synthetic)"}
        )
        # One site: the protocol mix of the whole cohort, seed 000 first.
        sites = [(site, 1.0, "seed-000")]
    else:
        sites = [
            (Site.objects.get_or_create(code=code, defaults={"name": name})[0], share, protocol)
            for code, name, share, protocol in SITES
        ]
    return References(sites=sites, protocols=protocols, products=products)


def _unique_study_ids(batch: list[PatientRows], seed: int, taken: set[str]) -> None:
    """Redraw any study ID already taken (in the database or earlier in this cohort).

    The redraw comes from a stream of its own per patient, so the result is the same on every
    run against the same database.
    """
    for rows in batch:
        patient = rows.patient
        attempt = 0
        while patient.study_id in taken:
            attempt += 1
            rng = random.Random(f"ivig-synthetic-redraw:{seed}:{patient.mrn}:{attempt}")
            patient.study_id = draw_study_id(rng, patient.site.code)
        taken.add(patient.study_id)


def _write_batch(batch: list[PatientRows], *, insert_rows: int) -> dict[str, int]:
    counts = {}
    for attribute, model in WRITE_ORDER:
        objects = []
        for rows in batch:
            value = getattr(rows, attribute)
            objects.extend(value if isinstance(value, list) else [value])
        if objects:
            model.objects.bulk_create(objects, batch_size=insert_rows)
        counts[model.__name__] = len(objects)
    return counts


def synthetic_cohort_generate(
    *,
    patients: int,
    seed: int,
    site_code: str | None = None,
    batch_patients: int = 2000,
    insert_rows: int = 5000,
    progress: Callable[[int], object] | None = None,
) -> SyntheticSummary:
    """Draw and write `patients` synthetic patients; each batch in its own transaction.

    Refuses (ValueError) when this seed was already written here: running it twice would try
    to insert the same MRNs, and a half-written second copy helps nobody.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if Patient.objects.filter(mrn__startswith=f"{MRN_PREFIX}{seed}-").exists():
        raise ValueError(
            f"a synthetic cohort with seed {seed} is already in this database; "
            "use another seed or a fresh database"
        )
    refs = references_ensure(site_code=site_code)
    summary = SyntheticSummary()
    taken: set[str] = set()
    for start in range(0, patients, batch_patients):
        stop = min(start + batch_patients, patients)
        batch = [draw_patient(seed, index, refs) for index in range(start, stop)]
        wanted = [rows.patient.study_id for rows in batch]
        taken |= set(Patient.objects.filter(study_id__in=wanted).values_list("study_id", flat=True))
        _unique_study_ids(batch, seed, taken)
        with transaction.atomic(), pghistory.context(source="generate_synthetic", seed=seed):
            counts = _write_batch(batch, insert_rows=insert_rows)
        for name, count in counts.items():
            summary.rows[name] = summary.rows.get(name, 0) + count
        summary.patients += len(batch)
        if progress is not None:
            progress(len(batch))
    # Fresh statistics: a planner that still thinks the tables are empty picks nested loops
    # over hundreds of thousands of rows, and the first snapshot after a load takes minutes.
    with connection.cursor() as cursor:
        for _, model in WRITE_ORDER:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return summary
