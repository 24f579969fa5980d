import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.evidence import EvidenceSynthesis, synthesise_evidence
from analytics.evidence_sources import source_name, studies_table
from analytics.forest import format_estimate, format_heterogeneity, format_p_value
from analytics.options import MEASURES, MODELS

MEASURE_NAMES = {"RR": "risk ratio", "OR": "odds ratio"}


class Command(BaseCommand):
    help = (
        "Pool two-arm binary studies from a CSV (study, events_treated, total_treated, "
        "events_control, total_control) or the PublishedStudy table: fixed and "
        "DerSimonian-Laird random effects, heterogeneity, leave-one-out, Egger, subgroups."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path, help="CSV of studies")
        parser.add_argument(
            "--from-db", action="store_true", help="pool the PublishedStudy table instead"
        )
        parser.add_argument("--measure", choices=MEASURES, default="RR")
        parser.add_argument(
            "--model",
            choices=MODELS,
            default="random",
            help="model for leave-one-out and subgroups (both are always reported overall)",
        )
        parser.add_argument("--subgroup", metavar="COLUMN", help="pool each value separately")
        parser.add_argument("--json", action="store_true", help="print JSON, not a table")

    def handle(self, *args, path, from_db, measure, model, subgroup, **options):
        if (path is None) == (not from_db):
            raise CommandError("give either a CSV path or --from-db (the PublishedStudy table)")
        try:
            studies = studies_table(csv_path=path, from_db=from_db)
            synthesis = synthesise_evidence(
                studies, measure=measure, model=model, subgroup_column=subgroup
            )
        except ValueError as exc:
            raise CommandError(f"{source_name(csv_path=path, from_db=from_db)}: {exc}") from None
        if options["json"]:
            self.stdout.write(_dumps(synthesis.as_json()))
        else:
            self.stdout.write(readable_report(synthesis))


def _dumps(report: dict) -> str:
    # allow_nan=False: a NaN that slipped past the null-and-note rule fails loudly here.
    return json.dumps(report, indent=2, allow_nan=False)


def readable_report(synthesis: EvidenceSynthesis) -> str:
    analysis = synthesis.analysis
    measure = analysis.measure
    lines = [
        f"Meta-analysis of {analysis.k} studies, {MEASURE_NAMES[measure]} ({measure}), "
        "inverse variance; random effects by DerSimonian-Laird; 95% CIs from z",
        "",
        f"{'Study':<22} {'Treated':>9} {'Control':>9}  {measure + ' [95% CI]':<22} "
        f"{'Weight % fixed':>14} {'random':>7}",
    ]
    for row in analysis.studies.itertuples(index=False):
        lines.append(
            f"{row.study[:22]:<22} {f'{row.events_treated}/{row.total_treated}':>9} "
            f"{f'{row.events_control}/{row.total_control}':>9}  "
            f"{format_estimate(estimate=row.estimate, ci_low=row.ci_low, ci_high=row.ci_high):<22}"
            f" {row.weight_fixed_percent:>14.1f} {row.weight_random_percent:>7.1f}"
        )
    lines.append("")
    for name, pooled in (
        ("Fixed effect", analysis.fixed),
        ("Random effects (DL)", analysis.random),
    ):
        lines.append(f"{name:<22} {format_estimate(pooled):<22} {format_p_value(pooled.p_value)}")
    lines.append(format_heterogeneity(analysis.heterogeneity))
    lines += ["", f"Leave-one-out ({synthesis.model} effects):"]
    for row in synthesis.leave_one_out.itertuples(index=False):
        i2 = "n/a" if row.i2_percent is None else f"{row.i2_percent:.1f}%"
        estimate = format_estimate(estimate=row.estimate, ci_low=row.ci_low, ci_high=row.ci_high)
        lines.append(f"  without {row.omitted:<20} {estimate:<22} I² {i2}")
    lines.append("")
    if synthesis.egger:
        lines.append(
            f"Egger's regression test: intercept {synthesis.egger.intercept:.2f}, "
            f"{format_p_value(synthesis.egger.p_value)}"
        )
    else:
        lines.append("Egger's regression test: not run (see notes)")
    if synthesis.subgroups:
        lines += ["", f"Subgroups by {synthesis.subgroups.column} ({synthesis.model} effects):"]
        for group in synthesis.subgroups.groups:
            pooled = group.analysis.pooled(synthesis.model)
            lines.append(
                f"  {group.value:<26} k={group.analysis.k:<3} {format_estimate(pooled):<22} "
                f"{format_p_value(pooled.p_value)}"
            )
            lines.append(f"    {format_heterogeneity(group.analysis.heterogeneity)}")
        difference = synthesis.subgroups.difference
        if difference:
            lines.append(
                f"  Test for subgroup differences: Q = {difference.q:.2f}, df = {difference.df}, "
                f"{format_p_value(difference.p_value)}"
            )
    if synthesis.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in synthesis.notes)]
    return "\n".join(lines)
