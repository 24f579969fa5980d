"""Production settings pass Django's deployment check; logins lock out, idle sessions end,
responses carry the security headers, the API throttles, and logs hold no identifiers."""

import datetime as dt
import io
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from config.log_redaction import REDACTED, IdentifierRedactingReporterFilter, RedactIdentifiers
from tests.api_cohort import SENTINELS, token_client
from tests.factories import PatientFactory

BASE_DIR = Path(django_settings.BASE_DIR)
PASSWORD = "pw-for-tests-only"  # tests.factories.make_user's


def production_env() -> dict[str, str]:
    # DATABASE_URL passes through when set; unset, the embedded PostgreSQL already running for
    # the tests is found again. Nothing is asked of the database by these commands.
    return {
        **os.environ,
        "REGISTRY_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
    }


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def production_settings() -> dict:
    """The security settings as production computes them, read from a fresh process."""
    names = [
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_AGE",
        "SESSION_SAVE_EVERY_REQUEST",
        "X_FRAME_OPTIONS",
    ]
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_pass_the_deployment_check_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**production_env(), "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_runs_without_debug_over_https_only_with_secure_cookies(production_settings):
    assert production_settings["DEBUG"] is False
    assert production_settings["SECURE_SSL_REDIRECT"] is True
    assert production_settings["SECURE_HSTS_SECONDS"] >= 31536000
    assert production_settings["SESSION_COOKIE_SECURE"] is True
    assert production_settings["SESSION_COOKIE_HTTPONLY"] is True
    assert production_settings["CSRF_COOKIE_SECURE"] is True
    assert production_settings["SESSION_COOKIE_AGE"] == 15 * 60
    assert production_settings["SESSION_SAVE_EVERY_REQUEST"] is True


@pytest.mark.django_db
def test_production_answers_with_hsts_and_redirects_plain_http(client, cast, production_settings):
    https_only = {
        name: production_settings[name]
        for name in (
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
        )
    }
    with override_settings(**https_only):
        assert client.get("/api/v1/patients/").status_code == 301
        response = client.get("/api/v1/patients/", secure=True)
    assert response.status_code == 401
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


@pytest.mark.django_db
def test_every_response_carries_csp_nosniff_and_frame_denial(client, cast):
    client.force_login(cast["alice"])
    for url in ("/api/v1/patients/", "/admin/", "/api/schema/"):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp, url
        assert "script-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["Referrer-Policy"] == "same-origin", url


@pytest.mark.django_db
def test_the_api_docs_load_only_their_own_scripts(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "<script>" not in html  # the set-up script is a separate file, allowed by 'self'
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self' 'unsafe-inline'" in csp
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


@pytest.fixture
def fresh_lockouts():
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()
    yield


def log_in(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@pytest.mark.django_db
def test_after_the_failure_limit_even_the_right_password_is_refused(client, cast, fresh_lockouts):
    assert django_settings.AXES_FAILURE_LIMIT == 5
    for _ in range(5):
        assert log_in(client, "alice", "wrong").status_code in (200, 429)
    refused = log_in(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out with her.
    assert log_in(client, "bob", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_right_password_works_again_after_the_cool_off(client, cast, fresh_lockouts):
    start = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            log_in(client, "alice", "wrong")
        assert log_in(client, "alice", PASSWORD).status_code == 429
        traveller.shift(django_settings.AXES_COOLOFF_TIME + dt.timedelta(minutes=1))
        assert log_in(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_session_idle_past_the_limit_is_logged_out_and_activity_keeps_it(client, cast):
    idle_limit = dt.timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    assert idle_limit == dt.timedelta(minutes=15)
    start = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(cast["alice"])
        traveller.shift(dt.timedelta(minutes=14))
        assert client.get("/api/v1/patients/").status_code == 200
        traveller.shift(dt.timedelta(minutes=14))  # 28 minutes in, but only 14 idle
        assert client.get("/api/v1/patients/").status_code == 200
        traveller.shift(idle_limit + dt.timedelta(seconds=1))
        assert client.get("/api/v1/patients/").status_code == 401
        assert client.get("/admin/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_api_throttles_a_busy_user_with_429_and_retry_after(settings, cast):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }
    client = token_client(cast["alice"])
    codes = [client.get("/api/v1/sites/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/sites/")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()
    cache.clear()


@pytest.mark.django_db
def test_anonymous_calls_are_throttled_too(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }
    client = token_client(None)
    codes = [client.get("/api/schema/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    cache.clear()


def console_output(*records: tuple[str, tuple]) -> str:
    """What the configured console handler writes for these (message, args) records."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactIdentifiers) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        for message, args in records:
            logging.getLogger("registry.test").error(message, *args)
    finally:
        handler.setStream(previous)
    return stream.getvalue()


def test_identifier_values_never_reach_the_log():
    output = console_output(
        ("saving %s", ({"mrn": SENTINELS["mrn"], "given_name": SENTINELS["given_name"]},)),
        ("family_name=%s email=%s", (SENTINELS["family_name"], SENTINELS["email"])),
        (
            'duplicate key value violates unique constraint "one_patient_per_site_mrn"\n'
            "DETAIL:  Key (site_id, mrn)=(1, %s) already exists.",
            (SENTINELS["mrn"],),
        ),
    )
    for value in ("mrn", "given_name", "family_name", "email"):
        assert SENTINELS[value] not in output
    assert output.count(REDACTED) >= 5
    assert "one_patient_per_site_mrn" in output  # the rest of the message is kept


def test_a_logged_exception_is_redacted_too():
    handler_output = io.StringIO()
    handler = logging.StreamHandler(handler_output)
    handler.addFilter(RedactIdentifiers())
    logger = logging.getLogger("registry.test.exc")
    logger.addHandler(handler)
    try:
        raise ValueError(f"bad row: email={SENTINELS['email']}")
    except ValueError:
        logger.exception("import failed")
    finally:
        logger.removeHandler(handler)
    assert SENTINELS["email"] not in handler_output.getvalue()
    assert "ValueError" in handler_output.getvalue()


@pytest.mark.django_db
def test_error_reports_hide_identifier_fields_of_the_request_body(site_a):
    request = RequestFactory().post(
        "/admin/registry/patient/add/", {"mrn": SENTINELS["mrn"], "indication": "rpl"}
    )
    report_filter = IdentifierRedactingReporterFilter()
    parameters = report_filter.get_post_parameters(request)
    assert parameters["mrn"] != SENTINELS["mrn"]
    assert parameters["indication"] == "rpl"
    frame = a_frame_holding(PatientFactory(site=site_a))
    frame_variables = dict(report_filter.get_traceback_frame_variables(request, frame))
    assert frame_variables == {"patient": REDACTED, "data": REDACTED, "n": 3}


def a_frame_holding(patient):
    """A real frame whose locals hold a patient, her fields, and something harmless."""
    data = {"mrn": patient.mrn}
    n = 3
    return sys._getframe() if data and n else None
