from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.evidence import synthesise_evidence
from analytics.evidence_sources import source_name, studies_table
from analytics.forest import write_evidence_plots
from analytics.options import MEASURES, MODELS


class Command(BaseCommand):
    help = (
        "Write forest.png, forest.svg, leave_one_out.png and funnel.png for the PublishedStudy "
        "table (default) or a CSV of studies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="directory to write into")
        parser.add_argument("--csv", type=Path, help="CSV of studies instead of the database")
        parser.add_argument("--measure", choices=MEASURES, default="RR")
        parser.add_argument("--model", choices=MODELS, default="random")
        parser.add_argument("--subgroup", metavar="COLUMN", help="draw one block per value")
        parser.add_argument("--title", default="", help="forest plot title")

    def handle(self, *args, out, csv, measure, model, subgroup, title, **options):
        try:
            studies = studies_table(csv_path=csv, from_db=csv is None)
            synthesis = synthesise_evidence(
                studies, measure=measure, model=model, subgroup_column=subgroup
            )
        except ValueError as exc:
            raise CommandError(f"{source_name(csv_path=csv, from_db=csv is None)}: {exc}") from None
        if not title and csv is None:
            # PublishedStudy counts live births by definition; a CSV's events could be anything.
            title = f"Live birth, immunoglobulin versus control ({measure})"
        for path in write_evidence_plots(synthesis, out_dir=out, title=title):
            self.stdout.write(str(path))
