"""Benchmark the cohort export against psql's own COPY of the same rows, on the same database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exportbench \\
        .venv/bin/python benchmarks/export_cohort.py --patients 10000 100000 [--seed 1] \\
        [--profile deidentified] [--repeat 3] [--json results.json]

For each size N it uses the database "<name>_<N>" on the server DATABASE_URL names: created,
migrated and seeded with `manage.py generate_synthetic --patients N --seed S` if it has no
patients yet (kept afterwards, so a second run skips the seeding). Then, per table and in total:

- CSV production: `COPY (export query) TO STDOUT` through Django's connection, as the export
  runs it (blocks grouped into 64 KiB chunks), the chunks thrown away: seconds, rows per second;
- psql: `psql -c "COPY (the same query, the same rows) TO STDOUT WITH CSV"` to /dev/null, with
  the export's session settings, less psql's own start-up (measured with SELECT 1); the ratio
  of the two is the target (<= 1.5x);
- psql COPY of the bare table, for scale: what the de-identifying query itself costs;
- the whole export (zip, deflate): seconds, CSV and zip bytes; compression is reported apart as
  whole export minus CSV production;
- peak memory (max RSS) of `manage.py export_cohort` writing the zip, beside the RSS of the same
  process that only loads Django and connects: the export's own memory is the difference.

Best of --repeat runs for every timing, ours and psql's interleaved, after one warm-up run, so
both read from the same warm caches. Not a test: it prints figures for people to read.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = [PYTHON, str(BASE_DIR / "manage.py")]


def database_url(base_url: str, patients: int) -> str:
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/") or "exportbench"
    return urlunsplit(parts._replace(path=f"/{name}_{patients}"))


def psql(url: str, sql: str, *, quiet_output=True, settings: dict | None = None) -> str:
    """Run `sql` in psql, after the same session settings the export uses (if given)."""
    setup = []
    for name, value in (settings or {}).items():
        setup += ["-c", f"SET {name} = '{value}'"]
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, *setup, "-c", sql],
        stdout=subprocess.DEVNULL if quiet_output else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return result.stdout or ""


def run_manage(url: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MANAGE, *args],
        env={**os.environ, "DATABASE_URL": url},
        cwd=BASE_DIR,
        check=True,
        **kwargs,
    )


def database_prepare(url: str, patients: int, seed: int) -> float | None:
    """Create, migrate and seed the database unless it holds patients; seconds spent seeding."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    exists = psql(server, f"SELECT 1 FROM pg_database WHERE datname = '{name}'", quiet_output=False)
    if not exists.strip():
        psql(server, f'CREATE DATABASE "{name}"')
    run_manage(url, "migrate", "--no-input", "-v0", stderr=subprocess.DEVNULL)
    count = int(psql(url, "SELECT count(*) FROM registry_patient", quiet_output=False).strip())
    if count >= patients:
        return None
    if count:
        raise SystemExit(f"{name} holds {count} patients, not {patients}: drop it and rerun")
    started = time.perf_counter()
    run_manage(
        url,
        "generate_synthetic",
        "--patients",
        str(patients),
        "--seed",
        str(seed),
        "--no-progress",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Fresh statistics, as a live registry has them; the plans otherwise guess.
    psql(url, "VACUUM ANALYZE")
    return time.perf_counter() - started


def peak_rss_mb(command: list[str], url: str) -> tuple[float, float]:
    """(max RSS in MB, wall seconds) of one child process, from the kernel's own accounting."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env={**os.environ, "DATABASE_URL": url},
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return usage.ru_maxrss / 1024, time.perf_counter() - started  # ru_maxrss is KiB on Linux


def best(measure, repeat: int) -> float:
    return min(measure() for _ in range(repeat))


def worker(profile: str, repeat: int) -> dict:
    """Runs inside the benchmarked database's Django: the per-table and whole-export timings."""
    import django

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import psycopg
    from django.db import connection

    from analytics.classification import TABLES, ExportProfile
    from analytics.exports import (
        SESSION_SETTINGS,
        ZIP_COMPRESSLEVEL,
        ExportFilters,
        copy_chunks,
        copy_statement,
        export_chunks,
        export_record_start,
    )

    url = os.environ["DATABASE_URL"]
    chosen = ExportProfile(profile)

    def timed_psql(sql: str) -> float:
        started = time.perf_counter()
        psql(url, sql, settings=SESSION_SETTINGS)
        return time.perf_counter() - started

    psql_start_up = best(lambda: timed_psql("SELECT 1"), 5)
    tables = []
    with connection.cursor() as cursor:
        # The export sets these for its own transaction; here, for the session, on both sides.
        for name, value in SESSION_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
        mogrifier = psycopg.ClientCursor(connection.connection)
        for table in TABLES:
            statement, params = copy_statement(table, chosen, ExportFilters())
            inlined = mogrifier.mogrify(statement, params)
            produced = {}

            def ours(statement=statement, params=params, produced=produced):
                started = time.perf_counter()
                produced["bytes"] = sum(len(c) for c in copy_chunks(cursor, statement, params))
                produced["rows"] = cursor.rowcount
                return time.perf_counter() - started

            ours()  # warm-up: both sides then read warm caches
            timed_psql(inlined)
            ours_runs, psql_runs = [], []
            for _ in range(repeat):
                ours_runs.append(ours())
                psql_runs.append(max(timed_psql(inlined) - psql_start_up, 1e-6))
            # Compression timed directly: the zlib calls alone, at the export's level, on the
            # same chunks (in the export it overlaps with PostgreSQL working on the next rows).
            compressor = zlib.compressobj(ZIP_COMPRESSLEVEL, zlib.DEFLATED, -15)
            compress_s, compressed = 0.0, 0
            for chunk in copy_chunks(cursor, statement, params):
                started = time.perf_counter()
                compressed += len(compressor.compress(chunk))
                compress_s += time.perf_counter() - started
            started = time.perf_counter()
            compressed += len(compressor.flush())
            compress_s += time.perf_counter() - started
            bare = best(
                lambda table=table: (
                    timed_psql(
                        f"COPY {table.model._meta.db_table} TO STDOUT WITH (FORMAT csv, HEADER true)"
                    )
                    - psql_start_up
                ),
                repeat,
            )
            tables.append(
                {
                    "table": table.name,
                    "rows": produced["rows"],
                    "csv_bytes": produced["bytes"],
                    "ours_s": min(ours_runs),
                    "psql_s": min(psql_runs),
                    "bare_table_psql_s": max(bare, 1e-6),
                    "compress_s": compress_s,
                    "compressed_bytes": compressed,
                }
            )

    def whole_export() -> tuple[float, int]:
        record = export_record_start(
            user=None, profile=chosen, filters=ExportFilters(), source="command"
        )
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in export_chunks(record=record))
        return time.perf_counter() - started, size

    whole = [whole_export() for _ in range(repeat)]
    # Python's own allocations during one more export: what the export holds at its peak,
    # whatever the process had loaded before it.
    tracemalloc.start()
    whole_export()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "traced_peak_mb": traced_peak / 1e6,
        "psql_start_up_s": psql_start_up,
        "tables": tables,
        "whole_export_s": min(seconds for seconds, _ in whole),
        "zip_bytes": whole[0][1],
        "postgres": connection.cursor().connection.info.server_version,
    }


def bench_size(base_url: str, patients: int, seed: int, profile: str, repeat: int) -> dict:
    url = database_url(base_url, patients)
    seeded_s = database_prepare(url, patients, seed)
    result = subprocess.run(
        [PYTHON, __file__, "--worker", "--profile", profile, "--repeat", str(repeat)],
        env={**os.environ, "DATABASE_URL": url},
        cwd=BASE_DIR,
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "cohort.zip"
        export_rss, export_wall = peak_rss_mb(
            [*MANAGE, "export_cohort", "--profile", profile, "--out", str(out), "--no-progress"],
            url,
        )
        baseline_rss, _ = peak_rss_mb(
            [
                *MANAGE,
                "shell",
                "-c",
                "from analytics import exports; from django.db import connection; "
                "connection.ensure_connection()",
            ],
            url,
        )
    figures.update(
        patients=patients,
        seed=seed,
        profile=profile,
        seeded_s=seeded_s,
        command_wall_s=export_wall,
        command_peak_rss_mb=export_rss,
        django_baseline_rss_mb=baseline_rss,
    )
    return figures


def report(figures: dict) -> str:
    tables = figures["tables"]
    lines = [
        f"\n{figures['patients']:,} patients (seed {figures['seed']}), profile "
        f"{figures['profile']}, PostgreSQL {figures['postgres']}"
        + (f"; seeded in {figures['seeded_s']:.0f} s" if figures["seeded_s"] else ""),
        f"{'table':<15}{'rows':>10}{'MB':>8}{'ours s':>9}{'ours rows/s':>13}"
        f"{'psql s':>9}{'psql rows/s':>13}{'ratio':>7}{'bare table s':>14}",
    ]

    def per_second(rows, seconds):
        # An empty table's time is start-up alone: no rate, no ratio ("-").
        return f"{rows / seconds:>13,.0f}" if rows and seconds > 0.001 else f"{'-':>13}"

    def line(name, rows, size, ours, theirs, bare):
        ratio = f"{ours / theirs:>7.2f}" if rows and theirs > 0.001 else f"{'-':>7}"
        return (
            f"{name:<15}{rows:>10,}{size / 1e6:>8.1f}{ours:>9.3f}{per_second(rows, ours)}"
            f"{max(theirs, 0):>9.3f}{per_second(rows, theirs)}{ratio}{max(bare, 0):>14.3f}"
        )

    for row in tables:
        lines.append(
            line(
                row["table"],
                row["rows"],
                row["csv_bytes"],
                row["ours_s"],
                row["psql_s"],
                row["bare_table_psql_s"],
            )
        )
    total = {key: sum(row[key] for row in tables) for key in tables[0] if key != "table"}
    lines.append(
        line(
            "total",
            total["rows"],
            total["csv_bytes"],
            total["ours_s"],
            total["psql_s"],
            total["bare_table_psql_s"],
        )
    )
    overlapped = figures["whole_export_s"] - total["ours_s"]
    lines += [
        f"compression (deflate level 1, zlib calls timed alone): {total['compress_s']:.2f} s "
        f"CPU, {total['csv_bytes'] / 1e6:.1f} MB of CSV -> {total['compressed_bytes'] / 1e6:.1f} MB",
        f"whole export to a zip: {figures['whole_export_s']:.2f} s, "
        f"{figures['zip_bytes'] / 1e6:.1f} MB zip; {overlapped:+.2f} s beside CSV production "
        "alone (Python compresses while PostgreSQL works on the next rows)",
        f"manage.py export_cohort: {figures['command_wall_s']:.2f} s wall, peak RSS "
        f"{figures['command_peak_rss_mb']:.0f} MB; the same process only loading Django and "
        f"connecting: {figures['django_baseline_rss_mb']:.0f} MB; the export's own: "
        f"{figures['command_peak_rss_mb'] - figures['django_baseline_rss_mb']:.0f} MB",
        f"Python allocations at the export's peak (tracemalloc): {figures['traced_peak_mb']:.1f} MB",
        f"(psql times are less psql's start-up, {figures['psql_start_up_s'] * 1000:.0f} ms)",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="deidentified")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.profile, args.repeat)))
        return
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        raise SystemExit(
            "set DATABASE_URL to a PostgreSQL server (the benchmark makes its own DBs)"
        )
    results = []
    for patients in args.patients:
        figures = bench_size(base_url, patients, args.seed, args.profile, args.repeat)
        print(report(figures), flush=True)
        results.append(figures)
    if len(results) > 1:
        smallest, largest = results[0], results[-1]
        print(
            f"\npeak RSS {smallest['command_peak_rss_mb']:.0f} MB at {smallest['patients']:,} "
            f"patients, {largest['command_peak_rss_mb']:.0f} MB at {largest['patients']:,}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
