"""The cohort snapshot task: thin (plain values in, one function called), eager without a broker,
and run by a real worker through Redis when CI provides one."""

import os
import time

import pytest
from django.conf import settings

from analytics.models import CohortSnapshot
from analytics.tasks import cohort_snapshot
from config.celery import app
from tests.conftest import require_service
from tests.factories import OutcomeFactory, PatientFactory, SiteFactory

TEST_BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def one_live_birth_at(code: str):
    patient = PatientFactory(site=SiteFactory(code=code), status="completed")
    OutcomeFactory(pregnancy__transfer__cycle__patient=patient)
    return patient


def test_without_a_broker_tasks_run_eagerly_in_process():
    assert (not settings.CELERY_BROKER_URL) == settings.CELERY_TASK_ALWAYS_EAGER
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0


@pytest.mark.django_db
def test_the_task_stores_a_snapshot_of_the_filtered_cohort_and_returns_its_id():
    one_live_birth_at("MTL")
    one_live_birth_at("CPH")
    snapshot_id = cohort_snapshot.delay({"sites": ["MTL"], "enrolled_from": "2020-01-01"}).get()
    stored = CohortSnapshot.objects.get(pk=snapshot_id)
    assert stored.filters["sites"] == ["MTL"] and stored.filters["enrolled_from"] == "2020-01-01"
    assert stored.payload["cohort"]["sites"] == ["MTL"]
    assert stored.payload["live_birth_per_transfer"]["events"] == 1
    assert stored.code_version.startswith("ivig-registry") and stored.seconds >= 0


@pytest.mark.django_db
def test_the_task_refuses_a_filter_it_does_not_know():
    with pytest.raises(ValueError, match="unknown filter"):
        cohort_snapshot.delay({"colour": "red"})
    assert not CohortSnapshot.objects.exists()


def _redis_reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_computes_and_stores_the_snapshot_through_redis():
    if not _redis_reachable(TEST_BROKER_URL):
        require_service("Redis", f"nothing answers at {TEST_BROKER_URL}")
    from celery.contrib.testing.worker import start_worker

    one_live_birth_at("MTL")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=TEST_BROKER_URL, task_always_eager=False)
    try:
        # Messages left on the test broker by an earlier, interrupted run would be consumed too.
        with app.connection_for_write(TEST_BROKER_URL) as connection:
            app.control.purge(connection=connection)
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            # Its own connection: the app's producer pool may date from before the broker was set.
            with app.connection_for_write(TEST_BROKER_URL) as connection:
                cohort_snapshot.apply_async(args=[{"sites": ["MTL"]}], connection=connection)
            deadline = time.monotonic() + 30
            while not CohortSnapshot.objects.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        app.conf.update(saved)
    stored = CohortSnapshot.objects.get()
    assert stored.payload["live_birth_per_treated_patient"]["total"] == 0  # no infusion yet
    assert stored.payload["live_birth_per_enrolled_patient"]["events"] == 1
