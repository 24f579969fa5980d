"""`manage.py alert_serious_events`: the every-minute sweep, by hand.

Alerts the site's investigators of every serious adverse event that has no alert yet, here and
now (without a worker); each event is alerted once, as through the task.
"""

from django.core.management.base import BaseCommand, CommandError

from analytics.alerts import serious_event_alert_send, serious_events_unalerted


class Command(BaseCommand):
    help = "Email the investigators about serious adverse events not alerted yet."

    def handle(self, *args, **options):
        failed = 0
        for adverse_event_id in serious_events_unalerted():
            try:
                alert = serious_event_alert_send(adverse_event_id=adverse_event_id)
            except Exception as exc:
                failed += 1
                self.stderr.write(f"adverse event {adverse_event_id}: not sent: {exc}")
                continue
            if alert is not None:
                self.stdout.write(
                    f"{alert.study_id}: alert {alert.status} to {', '.join(alert.recipients)}"
                )
        if failed:
            raise CommandError(f"{failed} alert(s) not sent; they are recorded as failed")
