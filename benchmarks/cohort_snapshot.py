"""Benchmark: computing a cohort snapshot of a large synthetic cohort.

Run against a database of your own (it writes a synthetic cohort there if the seed's patients
are not there yet), e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/statsbench \\
        .venv/bin/python benchmarks/cohort_snapshot.py --patients 100000 --seed 1

It reports, for the snapshot (`analytics.snapshots.cohort_snapshot_compute`, what the task, the
command and the dashboard run): seconds (best and median of --repeat runs, and the split
between reading the frames and computing the metrics), the number of queries, the peak memory
Python allocated while computing it (tracemalloc, a separate run, as tracing slows it down) and
the process's peak resident memory. Targets on a 2-core machine: under 5 s and 1 GB at
100,000 patients. Not a test: timings depend on the machine and on what else runs on it.
"""

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from tqdm import tqdm  # noqa: E402

from analytics import cohort, queries, synthetic  # noqa: E402
from analytics.options import CohortFilters  # noqa: E402
from analytics.snapshots import cohort_snapshot_compute  # noqa: E402
from registry.models import Patient  # noqa: E402


def ensure_cohort(*, patients: int, seed: int) -> str:
    existing = Patient.objects.filter(mrn__startswith=f"{synthetic.MRN_PREFIX}{seed}-").count()
    if existing == patients:
        return f"reusing the {existing} synthetic patients of seed {seed}"
    if existing:
        raise SystemExit(
            f"this database has {existing} synthetic patients of seed {seed}, not {patients}: "
            "use another seed or a fresh database"
        )
    started = time.perf_counter()
    with tqdm(total=patients, unit="patient") as bar:
        summary = synthetic.synthetic_cohort_generate(
            patients=patients, seed=seed, progress=bar.update
        )
    seconds = time.perf_counter() - started
    return (
        f"generated {summary.patients} patients, {sum(summary.rows.values())} rows "
        f"in {seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--site", help="snapshot of one site only")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a database of your own")

    print(ensure_cohort(patients=args.patients, seed=args.seed))
    total_patients = Patient.objects.count()
    filters = CohortFilters(sites=(args.site,) if args.site else ())
    site_codes = filters.sites or None

    runs, reads, metrics = [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        frames = queries.cohort_frames(site_codes=site_codes)
        read = time.perf_counter()
        cohort.cohort_snapshot(frames, filters=filters)
        done = time.perf_counter()
        reads.append(read - started)
        metrics.append(done - read)
        runs.append(done - started)
    with CaptureQueriesContext(connection) as captured:
        snapshot = cohort_snapshot_compute(filters=filters)
    tracemalloc.start()
    cohort_snapshot_compute(filters=filters)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # ru_maxrss is in kilobytes on Linux.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    payload = snapshot.payload
    births = payload["live_birth_per_treated_patient"]
    print(
        f"cohort: {payload['cohort']['patients']} patients of {total_patients} in the database, "
        f"{payload['cohort']['transfers']} transfers, {payload['cohort']['pregnancies']} "
        f"pregnancies, {payload['cohort']['infusions']} infusions"
    )
    print(
        f"live birth per treated patient: {births['events']}/{births['total']} "
        f"({births['rate']:.1%}), {births['pending']} pending"
    )
    print(
        f"snapshot seconds: best {min(runs):.2f}, median {statistics.median(runs):.2f} "
        f"of {args.repeat} (reading frames {statistics.median(reads):.2f}, "
        f"metrics {statistics.median(metrics):.2f})"
    )
    print(f"queries: {len(captured)}")
    print(f"peak Python allocations while computing: {peak_bytes / 2**20:.0f} MB")
    print(f"peak resident memory of the process: {peak_rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
