"""`manage.py send_monthly_report --period YYYY-MM [--dry-run [--out DIR]]`.

The beat task's job, by hand: the report of the month to every active subscriber who has not had
it (a subscriber who got it is skipped, a failed send is tried again). `--dry-run` writes the
emails as .eml files instead (default var/outbox/) and records no send.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics.mail import RETRYABLE
from analytics.reports import monthly_report_preview, monthly_report_send, report_period


class Command(BaseCommand):
    help = "Send the monthly report of a month to every subscriber who has not had it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", required=True, help="The month reported on, YYYY-MM (e.g. 2025-06)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Write the emails as .eml files instead of sending them; record no send.",
        )
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="Where --dry-run writes the emails (default: var/outbox/).",
        )

    def handle(self, *args, period, dry_run, out, **options):
        try:
            month = report_period(period)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if out is not None and not dry_run:
            raise CommandError("--out goes with --dry-run")
        if dry_run:
            written, skipped = monthly_report_preview(
                period=month, out_dir=out or Path(settings.VAR_DIR) / "outbox"
            )
            for path in written:
                self.stdout.write(f"wrote {path}")
            for name, reason in skipped.items():
                self.stdout.write(f"skipped {name}: {reason}")
            self.stdout.write(f"Dry run: {len(written)} email(s) written, nothing sent.")
            return
        try:
            run = monthly_report_send(period=month)
        except RETRYABLE as exc:
            raise CommandError(
                f"not every report could be sent ({type(exc).__name__}: {exc}); the failed "
                "sends are recorded: run the command again to retry them"
            ) from None
        for name in run.sent:
            self.stdout.write(f"sent to {name}")
        for name in run.already:
            self.stdout.write(f"{name}: already sent (or being sent); not sent again")
        for name, reason in run.failed.items():
            self.stderr.write(f"{name}: not sent: {reason}")
        self.stdout.write(
            f"{month:%Y-%m}: {len(run.sent)} sent, {len(run.already)} already sent, "
            f"{len(run.failed)} failed."
        )
        if run.failed:
            raise CommandError("some reports were not sent; see above and the admin's Report sends")
