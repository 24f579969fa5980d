"""The embedded PostgreSQL: started on demand, and recovered after its postmaster is killed."""

import os
import signal
import time

import pytest

from config import embedded_db


@pytest.fixture
def pgdata(tmp_path):
    path = tmp_path / "pgdata"
    yield path
    embedded_db.stop(path)


def test_it_starts_answers_and_recovers_from_a_killed_postmaster(pgdata):
    url = embedded_db.ensure_running(pgdata)
    assert embedded_db.answers(url)

    os.kill(embedded_db._postmaster_pid(pgdata), signal.SIGKILL)
    time.sleep(0.5)
    assert not embedded_db.answers(url)

    # The stale pid file, socket and lock are left behind; the next start clears them.
    assert (pgdata / "postmaster.pid").exists()
    url = embedded_db.ensure_running(pgdata)
    assert embedded_db.answers(url)


def test_stop_is_clean_and_a_no_op_when_not_running(pgdata):
    embedded_db.ensure_running(pgdata)
    embedded_db.stop(pgdata)
    assert not (pgdata / "postmaster.pid").exists()
    embedded_db.stop(pgdata)
