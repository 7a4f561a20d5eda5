"""One account's rate limit, shared by two processes calling the sandbox through
``provider_for`` as two workers would: in real Redis (production, CI), and in the SQLite
file that ``make run`` uses without Redis. Together of the five, at a pace set for the
test (2 a second, a burst of 2) so a window is short; every vendor takes the same path."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import uuid

import pytest
import redis
from django.conf import settings

from controlpanel.sandbox.models import SandboxFault
from tests.conftest import ROOT, _test_database_url
from tests.factories import AccountFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PER_SECOND, BURST = 2, 2
RETRY_AFTER = 6  # longer than VendorHTTP waits inline (5 s): the refused call raises at once
ANSWER_TIMEOUT = 60  # a generous ceiling for one command, not a timing assertion


def redis_url() -> str:
    return settings.REDIS_URL or "redis://127.0.0.1:6379/0"


class Caller:
    """One process of ``tests.integration.ratelimit_caller``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.ratelimit_caller"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def line(self) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_TIMEOUT)
        if not ready:
            raise AssertionError("the caller process gave no answer")
        text = self.process.stdout.readline()
        if not text:
            raise AssertionError(f"the caller process ended (exit code {self.process.wait()})")
        return text.strip()

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict:
        text = self.line()
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError(f"the caller process said: {text}") from None

    def ask(self, command: str) -> dict:
        self.send(command)
        return self.answer()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module", params=["redis", "file"])
def callers(request, django_db_setup, live_server, tmp_path_factory):
    prefix = f"paneltest-ratelimit-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings_test",
        "DATABASE_URL": _test_database_url(),
        "PANEL_SANDBOX_URL": f"{live_server.url}/sandbox",
        "CACHE_KEY_PREFIX": prefix,  # the buckets' keys start with it: this module's own
        "PANEL_RATE_LIMITS": f"together={PER_SECOND * 60}/{BURST}",
        "PANEL_RATE_LIMIT_MAX_WAIT": "15",
        "PANEL_HTTP_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }
    if request.param == "redis":
        env["REDIS_URL"] = redis_url()
    else:  # make run's case: no Redis, one machine
        env["REDIS_URL"] = ""
        env["PANEL_RATE_LIMIT_FILE"] = str(tmp_path_factory.mktemp("ratelimit") / "buckets.sqlite3")
    pair = (Caller(env), Caller(env))
    try:
        for caller in pair:
            assert caller.line() == "ready"
        yield pair
    finally:
        for caller in pair:
            caller.close()
        if request.param == "redis":
            client = redis.Redis.from_url(redis_url())
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            client.close()


def busiest(times: list[float], window: float) -> int:
    """The most requests sent within any ``window`` seconds."""
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


def test_two_processes_keep_one_account_within_its_rate(callers):
    account = AccountFactory(vendor="together", api_key=f"sandbox-shared-{uuid.uuid4().hex[:6]}")
    one, other = callers
    for caller in callers:  # both at once, each as fast as the limiter lets it
        caller.send(f"hammer {account.pk} 4")
    answers = [caller.answer() for caller in callers]

    assert [a["errors"] for a in answers] == [[], []]
    assert all(a["calls"] >= 1 for a in answers)  # one bucket between them, neither shut out
    times = sorted(t for a in answers for t in a["requests"])
    # Unlimited, one process lists the sandbox hundreds of times in 4 s. Limited: the
    # burst plus the pace over any window (one request of slack for where the clock is read).
    assert len(times) <= BURST + PER_SECOND * (times[-1] - times[0]) + 1
    assert busiest(times, 2.0) <= BURST + PER_SECOND * 2 + 1
    assert len(times) >= PER_SECOND * 3  # and it kept going at the pace, not stalled


def test_a_429_in_one_process_pauses_the_account_in_the_other(callers):
    account = AccountFactory(vendor="together", api_key=f"sandbox-paused-{uuid.uuid4().hex[:6]}")
    elsewhere = AccountFactory(vendor="together", api_key=f"sandbox-elsewhere-{uuid.uuid4().hex[:6]}")
    refused_by, waits = callers

    fault = SandboxFault.objects.create(vendor="together", rate_limit_rate=1.0, retry_after_seconds=RETRY_AFTER)
    refused = refused_by.ask(f"once {account.pk}")
    fault.delete()
    assert refused["errors"] == ["RateLimited: Rate limit exceeded, please try again later."]
    assert len(refused["requests"]) == 1
    told_at = refused["requests"][0]

    other_key = waits.ask(f"once {elsewhere.pk}")  # another account is not held up
    assert other_key["errors"] == []
    assert other_key["requests"][0] < told_at + RETRY_AFTER - 1

    paused = waits.ask(f"once {account.pk}")
    assert paused["errors"] == []
    assert paused["calls"] == 1
    assert paused["started"] < told_at + RETRY_AFTER - 1  # asked while the pause ran...
    assert paused["requests"][0] >= told_at + RETRY_AFTER  # ...it sent nothing before the vendor's time
