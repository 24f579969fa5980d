"""A process that starts Django, serves the admin and the API, or runs a worker loads no
scientific library until it computes something (analytics.options says why)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib")

STARTUP = f"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()  # every app's models and admin modules (autodiscovery)
from django.urls import get_resolver
get_resolver().url_patterns  # the URLconf: admin pages, API views, export and import views
from config.celery import app
app.loader.import_default_modules()  # what a worker imports: every app's tasks
import analytics.management.commands.export_cohort
import outcomes.management.commands.import_cohort
print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
"""


def loaded_after(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_starting_the_registry_loads_no_scientific_library():
    assert loaded_after(STARTUP) == []


def test_computing_a_snapshot_does_load_them():
    # The check above can see a library when one is loaded.
    code = STARTUP.replace("print(", "import analytics.cohort, analytics.cohort_figures\nprint(", 1)
    assert set(loaded_after(code)) == set(HEAVY)
