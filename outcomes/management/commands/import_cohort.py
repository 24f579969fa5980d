"""`manage.py import_cohort PATH.zip [--dry-run]`: the identified export format, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from outcomes.imports import cohort_import


class Command(BaseCommand):
    help = (
        "Import patients and their records from a zip in the identified export format. "
        "Every row is checked first; one problem means nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything, write nothing."
        )
        progress = parser.add_mutually_exclusive_group()
        progress.add_argument("--progress", dest="progress", action="store_true", default=None)
        progress.add_argument("--no-progress", dest="progress", action="store_false")

    def handle(self, *args, path, dry_run, progress, **options):
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        report = cohort_import(archive=path, dry_run=dry_run, progress=progress)
        for line in report.lines():
            self.stdout.write(line)
        if report.problems:
            count = len(report.problems)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} in {path.name}; nothing was written."
            )
