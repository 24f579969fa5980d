import re
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.synthetic import AS_OF, synthetic_cohort_generate
from registry.models import SITE_CODE_REGEX


class Command(BaseCommand):
    help = (
        "Write a synthetic multi-site cohort (no real people) with plausible histories, "
        f"transfers, pregnancies, visits, outcomes and adverse events up to {AS_OF}. "
        "Same seed, same data. Bulk inserts; every constraint, trigger and audit event applies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, required=True, help="how many patients")
        parser.add_argument("--seed", type=int, required=True, help="random seed")
        parser.add_argument(
            "--site", metavar="CODE", help="put every patient at this site (created if missing)"
        )
        parser.add_argument(
            "--batch", type=int, default=2000, help="patients per transaction (default 2000)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, patients, seed, site, batch, no_progress, **options):
        if site and not re.match(SITE_CODE_REGEX, site):
            raise CommandError(f"--site {site!r}: 2 to 6 capital letters, e.g. MTL")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        started = time.perf_counter()
        with tqdm(
            total=patients, unit="patient", disable=no_progress, file=self.stderr._out
        ) as bar:
            try:
                summary = synthetic_cohort_generate(
                    patients=patients,
                    seed=seed,
                    site_code=site,
                    batch_patients=batch,
                    progress=bar.update,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - started
        rows = sum(summary.rows.values())
        self.stdout.write(
            f"{summary.patients} synthetic patients, {rows} rows in {seconds:.1f} s "
            f"(seed {seed}, data as of {AS_OF})"
        )
        for name, count in summary.rows.items():
            self.stdout.write(f"  {name:<18} {count:>10}")
