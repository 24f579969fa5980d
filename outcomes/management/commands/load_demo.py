import json

from django.core.management.base import BaseCommand

from outcomes import demo


class Command(BaseCommand):
    help = "Load the synthetic demo cohort (sites MTL and CPH) and the demo users. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help="Password for newly created demo users (default: drawn once, kept in var/).",
        )

    def handle(self, *args, password=None, **options):
        password = demo.demo_password(password)
        summary = demo.load_demo(password=password)
        self.stdout.write(
            f"Demo cohort: {summary.patients_created} patients loaded, "
            f"{summary.patients_existing} already present."
        )
        users = json.loads(demo.DEMO_COHORT.read_text())["users"]
        self.stdout.write("Demo logins (http://127.0.0.1:8000/admin/):")
        for user in users:
            sites = ", ".join(user["sites"]) or "all sites"
            self.stdout.write(f"  {user['username']:<14} {user['role']:<13} {sites}")
        self.stdout.write(f"  password for all: {password}")
