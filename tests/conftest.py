"""Real parts for integration and browser tests: a Celery worker process (with beat)
on the configured broker (Redis in CI, the file broker on a bare machine) and the
test database (PostgreSQL in CI), calling the sandbox served by ``live_server``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60  # seconds for a cold worker to start and write its first heartbeat


def _flush_retrying_deadlocks() -> None:
    """A transactional test ends with a TRUNCATE while the session worker may be writing
    (heartbeats, a poll): PostgreSQL can pick the TRUNCATE as a deadlock's victim. The
    flush runs in one transaction, so trying it again is safe; anything else still fails."""
    from django.core.management.base import CommandError
    from django.test import TransactionTestCase

    teardown = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self):
        for attempt in range(5):
            try:
                return teardown(self)
            except CommandError as exc:
                if "deadlock" not in str(exc.__cause__) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = _fixture_teardown


_flush_retrying_deadlocks()


def _test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def panel_worker(django_db_setup, django_db_blocker, live_server):
    """Start ``celery worker -B`` for the whole session; yield its hostname."""
    from controlpanel.celery import app
    from controlpanel.core.models import Heartbeat

    with django_db_blocker.unblock():
        app.control.purge()  # nothing left over from an earlier, interrupted run
        Heartbeat.objects.all().delete()
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log_path = Path(settings.VAR_DIR) / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings_test",
        "DATABASE_URL": _test_database_url(),
        "PANEL_SANDBOX_URL": f"{live_server.url}/sandbox",
        "PANEL_SWEEP_SECONDS": "1",
        "PANEL_COSTS_SWEEP_SECONDS": "1",
        "PANEL_REFRESH_FAST_SECONDS": "1",
        "PANEL_REFRESH_SLOW_SECONDS": "3",
        "PANEL_HTTP_TIMEOUT": "5",
        # Panel minutes (the idle rule, time-limit warnings) pass in seconds in the worker.
        "PANEL_TIME_SCALE": "60",
        "PYTHONUNBUFFERED": "1",
    }
    schedule = Path(settings.VAR_DIR) / f"beat-{uuid.uuid4().hex[:6]}"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "controlpanel",
        "worker",
        "-B",
        "-s",
        str(schedule),
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--loglevel",
        "INFO",
        "-n",
        hostname,
        "--without-gossip",
        "--without-mingle",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        with django_db_blocker.unblock():
            while not Heartbeat.objects.filter(kind="worker", hostname=hostname).exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the Celery worker did not start; see {log_path}:\n{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.2)
        yield hostname
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        schedule.unlink(missing_ok=True)


def wait_for(predicate, *, timeout: float = 45, interval: float = 0.25, what: str = "condition"):
    """Poll until ``predicate()`` is truthy. A generous ceiling, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)
