"""The shared buckets: Redis (the real local server) and the SQLite file, the same sums
as providers/ratelimit.py, atomic across processes; each vendor's pace and its setting;
provider_for handing every adapter its account's limiter."""

from __future__ import annotations

import multiprocessing
import sqlite3
import uuid

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from controlpanel.core.ratelimit import (
    RedisBuckets,
    SQLiteBuckets,
    account_limiter,
    bucket_store,
    redis_client,
    vendor_rate,
)
from controlpanel.core.tests.ratelimit_child import take_many
from controlpanel.credentials.services import provider_for
from controlpanel.env import env_rate_limits
from providers.base import Transient
from providers.ratelimit import Rate
from providers.registry import SLUGS
from tests.factories import AccountFactory

RATE = Rate(per_minute=120, burst=3)  # 2 a second


def redis_url() -> str:
    """The configured Redis (CI), else the one the README says runs on this machine."""
    return settings.REDIS_URL or "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_store():
    client = redis.Redis.from_url(redis_url())
    prefix = f"test-ratelimit-{uuid.uuid4().hex}:"  # a prefix per test: nothing shared, nothing left
    yield RedisBuckets(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def sqlite_store(tmp_path):
    return SQLiteBuckets(tmp_path / "ratelimit.sqlite3", prefix="test:")


@pytest.fixture(params=["redis", "sqlite"])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")


def test_store_lets_the_burst_through_then_names_the_wait(store):
    waits = [store.take("together:1", rate=RATE, now=100.0) for _ in range(4)]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_store_refills_at_the_rate(store):
    for _ in range(3):
        store.take("together:1", rate=RATE, now=100.0)
    assert store.take("together:1", rate=RATE, now=100.5) == 0.0
    assert store.take("together:1", rate=RATE, now=100.75) == pytest.approx(0.25)


def test_store_keeps_accounts_apart(store):
    for _ in range(3):
        store.take("together:1", rate=RATE, now=100.0)
    assert store.take("together:2", rate=RATE, now=100.0) == 0.0


def test_store_penalty_empties_the_bucket_until_the_deadline_then_one_goes(store):
    store.penalize("replicate:5", rate=RATE, now=100.0, seconds=4.0)
    assert store.take("replicate:5", rate=RATE, now=101.0) == pytest.approx(3.0)
    assert store.take("replicate:5", rate=RATE, now=104.0) == 0.0
    assert store.take("replicate:5", rate=RATE, now=104.0) == pytest.approx(0.5)


def test_store_a_shorter_penalty_does_not_cut_a_longer_one(store):
    store.penalize("novita:1", rate=RATE, now=100.0, seconds=30.0)
    store.penalize("novita:1", rate=RATE, now=101.0, seconds=2.0)
    assert store.take("novita:1", rate=RATE, now=110.0) == pytest.approx(20.0)


def test_redis_bucket_expires_once_it_would_be_full_again(redis_store):
    import time

    now = time.time()
    redis_store.take("fluence:1", rate=RATE, now=now)
    ttl_ms = redis_store.client.pttl(f"{redis_store.prefix}fluence:1")
    assert 0 < ttl_ms <= 1500  # one token back at 2/s is 0.5 s, plus the 1 s margin
    redis_store.penalize("fluence:1", rate=RATE, now=now, seconds=60.0)
    assert redis_store.client.pttl(f"{redis_store.prefix}fluence:1") > 60_000


def test_sqlite_bucket_forgets_full_buckets(sqlite_store):
    sqlite_store.take("fluence:1", rate=RATE, now=100.0)
    sqlite_store.take("fluence:2", rate=RATE, now=200.0)  # fluence:1 has long refilled by then
    rows = sqlite3.connect(sqlite_store.path).execute("SELECT key FROM bucket").fetchall()
    assert rows == [("test:fluence:2",)]


def test_sqlite_bucket_is_transient_when_its_file_cannot_be_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store = SQLiteBuckets(blocker / "ratelimit.sqlite3", prefix="")
    with pytest.raises(Transient, match="rate limiter could not be reached"):
        store.take("together:1", rate=RATE, now=0.0)


def test_redis_bucket_is_transient_when_redis_does_not_answer():
    store = RedisBuckets(redis_client("redis://127.0.0.1:1/0"), prefix="")  # nothing listens on port 1
    with pytest.raises(Transient, match="rate limiter could not be reached"):
        store.take("together:1", rate=RATE, now=0.0)
    store.penalize("together:1", rate=RATE, now=0.0, seconds=5)  # logged; the 429 itself is raised by the caller


# --- across processes: every token handed out once -----------------------------------------


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_store_hands_each_token_out_once_across_two_processes(kind, tmp_path):
    where = redis_url() if kind == "redis" else str(tmp_path / "ratelimit.sqlite3")
    prefix = f"test-ratelimit-{uuid.uuid4().hex}:"
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing shared but the store
    start, results = context.Barrier(2), context.Queue()
    children = [context.Process(target=take_many, args=(kind, where, prefix, 40, start, results)) for _ in range(2)]
    for child in children:
        child.start()
    granted = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert sum(granted) == 25  # the burst, once, whichever process took which token
    if kind == "redis":
        client = redis.Redis.from_url(where)
        client.delete(f"{prefix}nosana:1")
        client.close()


# --- paces and settings ----------------------------------------------------------------------------


def test_vendor_rate_is_each_vendors_documented_pace(settings):
    settings.PANEL_RATE_LIMITS = {}
    assert vendor_rate("replicate") == Rate(per_minute=3000, burst=50)  # Replicate's docs
    for slug in ("nosana", "together", "fluence", "novita"):  # none published: the safe default
        assert vendor_rate(slug) == Rate(per_minute=300, burst=10)


def test_vendor_rate_follows_the_setting_for_one_vendor_or_all(settings):
    settings.PANEL_RATE_LIMITS = {"replicate": (600.0, None), "*": (60.0, 2)}
    assert vendor_rate("replicate") == Rate(per_minute=600, burst=50)
    assert vendor_rate("novita") == Rate(per_minute=60, burst=2)
    settings.PANEL_RATE_LIMITS = {"together": (0.0, None)}
    assert vendor_rate("together") is None
    assert account_limiter("together") is None


def test_bucket_store_is_redis_with_redis_url_and_the_file_without(settings, tmp_path):
    settings.REDIS_URL = redis_url()
    assert isinstance(bucket_store(), RedisBuckets)
    settings.REDIS_URL = ""
    settings.PANEL_RATE_LIMIT_FILE = tmp_path / "buckets.sqlite3"
    store = bucket_store()
    assert isinstance(store, SQLiteBuckets)
    assert store.path == tmp_path / "buckets.sqlite3"


def test_env_rate_limits_reads_vendor_pace_and_burst(monkeypatch):
    monkeypatch.setenv("PANEL_RATE_LIMITS", "replicate=3000/50, together=120,*=0")
    assert env_rate_limits("PANEL_RATE_LIMITS", vendors=SLUGS) == {
        "replicate": (3000.0, 50),
        "together": (120.0, None),
        "*": (0.0, None),
    }


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("acme=100", "not vendor=requests_per_minute"),
        ("replicate", "not vendor=requests_per_minute"),
        ("replicate=fast", "needs numbers"),
        ("replicate=100/0", "burst of at least 1"),
        ("replicate=-5", "pace of 0 or more"),
    ],
)
def test_env_rate_limits_refuses_what_it_cannot_read(monkeypatch, value, says):
    monkeypatch.setenv("PANEL_RATE_LIMITS", value)
    with pytest.raises(ImproperlyConfigured, match=says):
        env_rate_limits("PANEL_RATE_LIMITS", vendors=SLUGS)


# --- provider_for: every adapter gets its account's limiter --------------------------------------


@pytest.mark.django_db
def test_provider_for_puts_every_call_through_the_accounts_bucket(settings, tmp_path, respx_mock):
    settings.REDIS_URL = ""
    settings.PANEL_RATE_LIMIT_FILE = tmp_path / "buckets.sqlite3"
    settings.PANEL_RATE_LIMITS = {"together": (60.0, 1)}  # one now, the next a second later
    settings.PANEL_RATE_LIMIT_MAX_WAIT = 0.2  # shorter than that second: the panel refuses
    account = AccountFactory(vendor="together")
    other = AccountFactory(vendor="together")
    route = respx_mock.get(url__regex=r".*/deployments$").respond(200, json={"object": "list", "data": []})

    with provider_for(account) as provider:
        assert list(provider.list_remotes()) == []
        with pytest.raises(Transient, match="rate limited by the panel"):
            provider.list_remotes()
    with provider_for(other) as provider:  # another key, another bucket
        assert list(provider.list_remotes()) == []
    assert route.call_count == 2

    keys = {row[0] for row in sqlite3.connect(tmp_path / "buckets.sqlite3").execute("SELECT key FROM bucket")}
    prefix = settings.PANEL_RATE_LIMIT_KEY_PREFIX
    assert keys == {f"{prefix}together:{account.pk}", f"{prefix}together:{other.pk}"}
