"""Planning a cycle and the 14-day work list at a site of 10,000 patients: queries and seconds.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/plan_worklist.py [--patients 10000]

Builds the site in a throwaway database (bench_plan_worklist on the same server, dropped at the
end; never the database DATABASE_URL names) with the test suite's bulk builder, then prints the
number of queries and the time each step takes at 10 patients and at the full size. The test
suite pins the query counts at small sizes (tests/registry/test_worklist.py,
tests/outcomes/test_planning_queries.py); this shows they hold, and how long it takes, at the
size of a real site.
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

TODAY = dt.date(2025, 6, 2)
BENCH_DATABASE = "bench_plan_worklist"


def measure(label: str, run) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
    print(f"  {label:<44} {len(queries):>4} queries {seconds:>8.3f} s  {result}")


def bench(patients: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from outcomes.planning import cycle_plan_schedule
    from outcomes.selectors import worklist
    from registry import roles
    from registry.models import TreatmentCycle
    from tests.factories import SiteFactory, make_user
    from tests.registry.treatment import bulk_treated_patients

    roles.sync_groups()
    site = SiteFactory(code="MTL", name="Montreal")
    nurse = make_user("nurse", role=roles.CLINIC_STAFF, sites=[site])
    client = Client()
    built = 0
    for size in (10, patients):
        started = time.perf_counter()
        bulk_treated_patients(site, size - built, today=TODAY, start=built)
        built = size
        print(f"{size} patients at the site (built in {time.perf_counter() - started:.1f} s):")
        user = get_user_model().objects.get(pk=nurse.pk)  # no permission cached
        measure("worklist selector", lambda u=user: worklist(user=u, today=TODAY).doses.__len__())
        cycle = TreatmentCycle.objects.filter(patient__site=site).order_by("-pk").first()
        measure(
            "cycle_plan_schedule (stored plan re-planned)",
            lambda c=cycle: cycle_plan_schedule(cycle=c, today=TODAY),
        )
        cycle.weight_kg += 10
        cycle.save()
        measure(
            "cycle_plan_schedule (weight changed)",
            lambda c=cycle: cycle_plan_schedule(cycle=c, today=TODAY),
        )
        client.force_login(nurse)
        url = reverse("admin:registry_treatmentcycle_worklist")
        measure("work list page (admin, HTML)", lambda u=url: client.get(u).status_code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()
    if args.patients < 10:
        parser.error("--patients must be at least 10")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import time_machine
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = BENCH_DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        # The admin serves a fixed day: the clinic's "today" is read from the clock.
        with time_machine.travel(dt.datetime.combine(TODAY, dt.time(15), tzinfo=dt.UTC)):
            bench(args.patients)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
