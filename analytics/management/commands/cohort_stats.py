import json

from django.core.management.base import BaseCommand, CommandError

from analytics.options import CohortFilters
from analytics.snapshots import cohort_snapshot_compute
from analytics.stats import NO_DATA
from registry.models import Site

HEADLINES = (
    ("live_birth_per_treated_patient", "Live birth per treated patient (>= 1 infusion)"),
    ("live_birth_per_enrolled_patient", "Live birth per enrolled patient (intention to treat)"),
    ("live_birth_after_first_transfer", "Live birth after the first transfer"),
    ("live_birth_per_transfer", "Live birth per transfer"),
    ("failed_transfer_per_ivf_patient", "IVF patients whose transfers all failed"),
    ("clinical_pregnancy_per_transfer", "Clinical pregnancy per transfer"),
    ("miscarriage_per_clinical_pregnancy", "Miscarriage per clinical pregnancy"),
    ("stillbirth_per_clinical_pregnancy", "Stillbirth per clinical pregnancy"),
    ("preterm_birth_per_live_birth_delivery", "Preterm birth per live-birth delivery"),
    ("multiple_birth_per_live_birth_delivery", "Multiple birth per live-birth delivery"),
)


def format_rate(metric: dict) -> str:
    """13/15 86.7% (95% CI 59.5-98.3%), 0 pending"""
    if metric["rate"] is None:
        text = f"{metric['events']}/{metric['total']} {metric.get('note') or NO_DATA}"
    else:
        text = (
            f"{metric['events']}/{metric['total']} {metric['rate']:.1%} "
            f"(95% CI {metric['ci_low'] * 100:.1f}-{metric['ci_high'] * 100:.1f}%)"
        )
    if metric.get("pending"):
        text += f", {metric['pending']} pending"
    return text


def readable_report(snapshot: dict) -> str:
    cohort = snapshot["cohort"]
    lines = [
        f"Cohort: {cohort['patients']} patients ({cohort['enrolled']} enrolled, "
        f"{cohort['treated']} treated) at {', '.join(cohort['sites']) or 'no site'}; "
        f"{cohort['transfers']} transfers, {cohort['pregnancies']} pregnancies, "
        f"{cohort['infusions']} infusions",
        "",
    ]
    for key, label in HEADLINES:
        lines.append(f"{label:<56} {format_rate(snapshot[key])}")
    lines += ["", "Cumulative live birth after up to k transfers:"]
    for k, metric in snapshot["cumulative_live_birth"].items():
        lines.append(f"  k = {k}  {format_rate(metric)}")
    ga, weight = snapshot["gestational_age_at_live_birth_days"], snapshot["birth_weight_g"]
    if ga["n"]:
        weeks = ga["weeks"]
        lines.append(
            f"\nGestational age at live birth: median {weeks['median']} "
            f"(IQR {weeks['q1']} to {weeks['q3']}), n = {ga['n']}"
        )
    if weight["n"]:
        lines.append(
            f"Birth weight: median {weight['median']:.0f} g "
            f"(IQR {weight['q1']:.0f}-{weight['q3']:.0f} g), n = {weight['n']}"
        )
    events = snapshot["adverse_events"]
    lines += ["", f"Patients with an adverse event: {format_rate(events['patients_with_any'])}"]
    for term, metric in events["by_term"].items():
        lines.append(f"  {term:<22} {format_rate(metric)} ({metric['event_count']} events)")
    per_100 = events["per_100_infusions"]
    if per_100["rate"] is not None:
        lines.append(
            f"Infusion-linked events per 100 infusions: {per_100['rate']:.2f} "
            f"(95% CI {per_100['ci_low']:.2f}-{per_100['ci_high']:.2f})"
        )
    historical = snapshot["historical_comparison"]
    if historical["p_value"] is not None:
        lines.append(
            f"\nLive birth per treated patient against {historical['reference_rate']:.0%} "
            f"(exact binomial, one-sided): P = {historical['p_value']:.2g}"
        )
    if snapshot["notes"]:
        lines += ["", "Notes:", *(f"  - {note}" for note in snapshot["notes"])]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Live-birth rates, pregnancy outcomes, adverse events and subgroup comparisons of the "
        "cohort (DESIGN.md section 6), each with numerator, denominator, exact 95% CI and "
        "pending cases counted apart."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--site", action="append", metavar="CODE", help="only this site (repeatable)"
        )
        parser.add_argument("--protocol", metavar="CODE")
        parser.add_argument("--route", choices=["ivig", "scig"])
        parser.add_argument("--indication", choices=["rpl", "rif", "both"])
        parser.add_argument("--nk", choices=["high", "normal", "unknown"])
        parser.add_argument("--start", choices=["before_conception", "after_conception"])
        parser.add_argument("--dose-band", metavar="BAND", help="e.g. 600-800, below_600")
        parser.add_argument("--enrolled-from", metavar="YYYY-MM-DD")
        parser.add_argument("--enrolled-until", metavar="YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")
        parser.add_argument(
            "--store", action="store_true", help="also keep the snapshot (as the task does)"
        )

    def handle(self, *args, **options):
        sites = sorted(set(options["site"] or ()))
        unknown = set(sites) - set(
            Site.objects.filter(code__in=sites).values_list("code", flat=True)
        )
        if unknown:
            raise CommandError(f"no site with code {', '.join(sorted(unknown))}")
        try:
            filters = CohortFilters.from_json(
                {
                    "sites": sites,
                    "protocol": options["protocol"],
                    "route": options["route"],
                    "indication": options["indication"],
                    "nk": options["nk"],
                    "start": options["start"],
                    "dose_band": options["dose_band"],
                    "enrolled_from": options["enrolled_from"],
                    "enrolled_until": options["enrolled_until"],
                }
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        snapshot = cohort_snapshot_compute(filters=filters)
        if options["store"]:
            snapshot.save()
        if options["json"]:
            # allow_nan=False: a NaN that slipped past the "no data" rule fails loudly here.
            self.stdout.write(json.dumps(snapshot.as_json(), indent=2, allow_nan=False))
        else:
            self.stdout.write(readable_report(snapshot.payload))
        if options["store"]:
            self.stderr.write(f"stored cohort snapshot {snapshot.pk}")
