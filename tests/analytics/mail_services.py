"""Real services for the report and alert tests: an SMTP server on loopback (aiosmtpd), a Celery
worker in its own process (`celery -A config worker --pool=solo`) and Redis as its broker.

Nothing here is a mock: the SMTP server speaks SMTP on a port of 127.0.0.1, the worker is the
command the README tells production to run, against the test database.
"""

import email
import email.policy
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, urlencode

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from config.celery import app

BASE_DIR = Path(settings.BASE_DIR)
BROKER_URL = os.environ.get("CELERY_REPORT_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
# A queue of this test run's own: another run of these tests on the same machine (and Redis)
# starts workers of its own, which must not take this run's tasks, nor this run theirs.
QUEUE = f"reports-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
WORKER_READY_S = 90


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return self.message["Subject"]

    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    def images(self) -> dict[str, bytes]:
        """Inline images by Content-ID (without the angle brackets)."""
        return {
            part["Content-ID"].strip("<>"): part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "image" and part["Content-ID"]
        }

    def attachments(self) -> dict[str, bytes]:
        return {
            part.get_filename(): part.get_content()
            for part in self.message.walk()
            if part.get_content_disposition() == "attachment"
        }


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, or refuses every recipient with
    `refuse` (e.g. "550 5.1.1 mailbox unavailable")."""

    def __init__(self, refuse: str | None = None):
        self.refuse = refuse
        self.messages: list[Received] = []
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            self.refused += 1
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, *, timeout_s: float) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(inbox: Inbox) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 delivering to `inbox`; yields its port."""
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def use_smtp(settings, port: int) -> None:
    """Point Django's mail at the loopback server (pytest-django's `settings` fixture)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10


def redis_reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as broker:
            broker.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


def redis_forget_queue(url: str = BROKER_URL, queue: str = QUEUE) -> None:
    """Remove what this run's queue left in Redis (the queue's list and its binding)."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete(queue, *client.keys(f"_kombu.binding*.{queue}"))


def worker_database_url() -> str:
    """The URL of the database this test runs against (the test database), for a worker: a
    server by host and port, or the embedded one by its socket directory (OPTIONS host)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k in ("host", "port")}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}{query}"


@contextmanager
def celery_worker(*, log_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`celery -A config worker --pool=solo` in its own process, against the test database and
    BROKER_URL; waits until it is ready, stops it (warm shutdown, then kill) at the end."""
    celery = Path(sys.executable).with_name("celery")
    command = [
        str(celery),
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname=reports-test-{os.getpid()}@%h",
    ]
    # An in-process worker run earlier in this session (celery.contrib.testing) leaves its log
    # settings in os.environ, where a worker started from here would take them for its own.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CELERY_LOG_", "_MP_FORK_"))
    }
    worker_env = {
        **inherited,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_QUEUE": QUEUE,
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=worker_env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + WORKER_READY_S
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"the worker did not start:\n{log_path.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        redis_forget_queue()


@contextmanager
def tasks_sent_to_broker(url: str = BROKER_URL) -> Iterator[None]:
    """This process's tasks go to the broker instead of running eagerly, for the block."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_routes")}
    _forget_connections()
    # Routed rather than by changing the default queue: the app's list of queues is made once,
    # from the default queue of that moment, and a worker started in this process later (as
    # test_cohort_snapshot_task does) would take only this run's queue.
    app.conf.update(
        broker_url=url, task_always_eager=False, task_routes={"analytics.*": {"queue": QUEUE}}
    )
    app.amqp.flush_routes()
    try:
        yield
    finally:
        _forget_connections()
        app.conf.update(saved)
        app.amqp.flush_routes()


def _forget_connections() -> None:
    """Connections and producers are pooled, made on first use for the broker of that moment
    (an eager task acquires a producer too, for the default broker): after the broker changes,
    they must be made again, or tasks are published to the old one without a word. Celery has
    no public way to drop them."""
    app._pool = None
    app.amqp._producer_pool = None


def wait_until(predicate, *, timeout_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
