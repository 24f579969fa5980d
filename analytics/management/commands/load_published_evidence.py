from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics.evidence import read_studies_csv
from analytics.services import published_studies_load


def default_fixture_path() -> Path:
    return Path(settings.BASE_DIR) / "fixtures" / "published_ivig_rpl_immune.csv"


class Command(BaseCommand):
    help = (
        "Load the published controlled studies (seed 003) into PublishedStudy, creating or "
        "updating each by study and year; safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--path",
            type=Path,
            default=None,
            help="CSV to load (default: fixtures/published_ivig_rpl_immune.csv)",
        )

    def handle(self, *args, path, **options):
        path = path or default_fixture_path()
        try:
            created, updated = published_studies_load(studies=read_studies_csv(path))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stdout.write(
            f"Published evidence: {created + updated} studies ({created} created, "
            f"{updated} updated) from {path}"
        )
