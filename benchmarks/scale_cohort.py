"""Benchmark set-up: multiply a synthetic cohort in SQL, to measure at a national registry's size.

`generate_synthetic` writes through the models, triggers and audit trail: about 80-190 patients
a second here, so a million patients would take hours. For a read benchmark at that size this
script copies the cohort already in the database `--times` times over, in one INSERT ... SELECT
per table, e.g. 100,000 patients x 10 = 1,000,000:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench1m \\
        .venv/bin/python benchmarks/scale_cohort.py --times 10

Each copy k goes to copies of the sites (site code + a letter: TOR -> TORB, TORC, ...), so study
IDs keep their format and stay unique (the site prefix differs) and MRNs stay unique per site;
every other key is shifted by k times the table's largest id. What differs from a registry
grown by hand, and why it does not matter for reading: the copies are written with triggers off
(`session_replication_role = replica`, which needs a superuser: the benchmark's own database
only), so they have no audit rows and their cross-table rules were checked once, on the rows
they copy; the distributions are the original cohort's, repeated.
Never run this on a registry with real patients: it refuses unless every patient is synthetic.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection, models, transaction  # noqa: E402

from analytics import synthetic  # noqa: E402
from analytics.classification import TABLES  # noqa: E402
from registry.models import Patient, Site  # noqa: E402

COPY_LETTERS = "BCDEFGHJKLMNPQRSTVWXYZ"


def copy_sql(model, copied: set, offsets: dict) -> str:
    """INSERT ... SELECT of every copy of `model`'s original rows."""
    table = model._meta.db_table
    columns, values, joins = [], [], []
    for field in model._meta.concrete_fields:
        column = connection.ops.quote_name(field.column)
        columns.append(column)
        source = f"t.{column}"
        if field.primary_key:
            values.append(f"{source} + copy.k * {offsets[model]}")
        elif isinstance(field, models.ForeignKey) and field.related_model in copied:
            values.append(f"{source} + copy.k * {offsets[field.related_model]}")
        elif isinstance(field, models.ForeignKey) and field.related_model is Site:
            alias = f"site_{field.column}"
            joins.append(
                f"JOIN site_copy {alias} ON {alias}.k = copy.k AND {alias}.old_id = {source}"
            )
            values.append(f"{alias}.new_id")
        elif model is Patient and field.name == "study_id":
            values.append(f"regexp_replace({source}, '^[A-Z]+', site_site_id.new_code)")
        else:
            values.append(source)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {table} t "
        f"CROSS JOIN site_copy_k copy {' '.join(joins)} "
        f"WHERE t.id <= {offsets[model]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, required=True, help="cohort size multiplier, 2-23")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a database of your own")
    if not 2 <= args.times <= len(COPY_LETTERS) + 1:
        raise SystemExit(f"--times must be 2 to {len(COPY_LETTERS) + 1}")
    real = Patient.objects.exclude(mrn__startswith=synthetic.MRN_PREFIX).count()
    if real or not Patient.objects.exists():
        raise SystemExit("this database holds patients that are not synthetic, or none at all")

    ordered = [table.model for table in TABLES]
    copied = set(ordered)
    offsets = {
        model: model.objects.aggregate(top=models.Max("id"))["top"] or 0 for model in ordered
    }
    copies = range(1, args.times)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        sites = list(Site.objects.order_by("id"))
        if any(len(site.code) > 5 for site in sites):
            raise SystemExit("site codes of 6 letters leave no room for a copy's letter")
        cursor.execute("CREATE TEMPORARY TABLE site_copy_k (k int) ON COMMIT DROP")
        cursor.execute("INSERT INTO site_copy_k SELECT generate_series(1, %s)", [args.times - 1])
        cursor.execute(
            "CREATE TEMPORARY TABLE site_copy (k int, old_id bigint, new_id bigint, "
            "new_code text) ON COMMIT DROP"
        )
        for k in copies:
            for site in sites:
                copy = Site.objects.create(
                    code=f"{site.code}{COPY_LETTERS[k - 1]}",
                    name=f"{site.name} (copy {k})",
                    time_zone=site.time_zone,
                )
                cursor.execute(
                    "INSERT INTO site_copy VALUES (%s, %s, %s, %s)",
                    [k, site.id, copy.id, copy.code],
                )
        cursor.execute("SET LOCAL session_replication_role = replica")
        for model in ordered:
            table_started = time.perf_counter()
            cursor.execute(copy_sql(model, copied, offsets))
            print(
                f"{model._meta.db_table:<28} {cursor.rowcount:>10} rows "
                f"{time.perf_counter() - table_started:6.1f} s"
            )
        for model in ordered:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"{Patient.objects.count()} patients at {Site.objects.count()} sites "
        f"in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
