"""`manage.py export_cohort --profile deidentified [--site CODE] --out PATH.zip`.

Whoever runs manage.py holds the database already, so every profile and site is open here; the
export is recorded all the same (ExportRecord, source "command line", the operating-system user).
"""

import datetime as dt
import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.classification import TABLES, ExportProfile
from analytics.exports import (
    ExportFilters,
    export_authorise,
    export_chunks,
    export_record_start,
)
from analytics.models import ExportRecord


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date written YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Export the cohort as a zip of tidy CSVs with a data dictionary and a manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--profile",
            choices=[profile.value for profile in ExportProfile],
            default=ExportProfile.DEIDENTIFIED.value,
        )
        parser.add_argument(
            "--site", action="append", default=[], help="Site code; repeat for more sites."
        )
        parser.add_argument("--enrolled-from", type=_date, help="YYYY-MM-DD, included.")
        parser.add_argument("--enrolled-until", type=_date, help="YYYY-MM-DD, included.")
        parser.add_argument("--out", required=True, type=Path, help="Where to write the zip.")
        progress = parser.add_mutually_exclusive_group()
        progress.add_argument("--progress", dest="progress", action="store_true", default=None)
        progress.add_argument("--no-progress", dest="progress", action="store_false")

    def handle(self, *args, profile, site, enrolled_from, enrolled_until, out, progress, **options):
        profile = ExportProfile(profile)
        filters = ExportFilters(tuple(site), enrolled_from, enrolled_until)
        try:
            filters = export_authorise(user=None, profile=profile, filters=filters)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        record = export_record_start(
            user=None, profile=profile, filters=filters, source=ExportRecord.Source.COMMAND
        )
        bars = {}

        def on_progress(table: str, size: int):
            if table not in bars:
                for bar in bars.values():
                    bar.close()
                bars[table] = tqdm(
                    desc=f"{table}.csv",
                    unit="B",
                    unit_scale=True,
                    disable=None if progress is None else not progress,
                    file=sys.stderr,
                )
            bars[table].update(size)

        # Written beside the target and renamed at the end, so a failed export leaves no zip
        # that looks whole.
        partial = out.with_name(out.name + ".partial")
        try:
            with partial.open("wb") as target:
                for chunk in export_chunks(record=record, on_progress=on_progress):
                    target.write(chunk)
            os.replace(partial, out)
        finally:
            for bar in bars.values():
                bar.close()
            partial.unlink(missing_ok=True)
        record.refresh_from_db()
        counts = ", ".join(f"{table.name} {record.row_counts[table.name]}" for table in TABLES)
        self.stdout.write(f"Wrote {out} ({profile.value}): {counts}.")
