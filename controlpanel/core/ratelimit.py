"""Where the per-account rate-limit buckets live, so every worker shares them.

``provider_for`` gives each adapter a limiter at its vendor's pace, keyed by account
(``providers/ratelimit.py`` has the sums and the waiting). The buckets live:

- in Redis when ``REDIS_URL`` is set (production, CI): one Lua script per take, so the
  refill and the take are one atomic step for every process and thread, with no
  WATCH/MULTI round trips; a bucket expires once it would be full again;
- otherwise in a SQLite file under ``var/`` (``PANEL_RATE_LIMIT_FILE``): ``BEGIN
  IMMEDIATE`` serialises the web, worker and beat processes of ``make run`` on one
  machine, which still needs nothing but Python.

The clock is each caller's ``time.time()``: the panel's processes share a machine or an
NTP-synced network, and a test can then drive Redis with a fake clock too.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from providers.base import Transient
from providers.ratelimit import Bucket, BucketLimiter, Rate, bucket_penalize, bucket_take, bucket_ttl
from providers.registry import get_provider_class

logger = logging.getLogger(__name__)

UNREACHABLE = "the panel's rate limiter could not be reached"

# bucket_take and bucket_ttl (providers/ratelimit.py), line for line. Numbers go in and
# out as strings: Redis would cut a Lua number returned as a reply to an integer.
TAKE = """
local per_second, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]), tonumber(state[2])
if tokens == nil or stamp == nil then tokens, stamp = burst, now end
local wait
if now < stamp then
  wait = stamp - now + math.max(0, 1 - tokens) / per_second
else
  tokens = math.min(burst, tokens + (now - stamp) * per_second)
  stamp = now
  if tokens >= 1 then
    tokens, wait = tokens - 1, 0
  else
    wait = (1 - tokens) / per_second
  end
end
local ttl = math.max(0, stamp - now) + math.max(0, burst - tokens) / per_second + 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'stamp', string.format('%.17g', stamp))
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return string.format('%.17g', wait)
"""

# bucket_penalize: one token at the later of the running penalty and now + seconds.
PENALIZE = """
local per_second, burst, now, seconds = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp')) or now
local untl = math.max(stamp, now + math.max(0, seconds))
redis.call('HSET', KEYS[1], 'tokens', '1', 'stamp', string.format('%.17g', untl))
redis.call('PEXPIRE', KEYS[1], math.ceil(((untl - now) + (burst - 1) / per_second + 1) * 1000))
return 1
"""


class RedisBuckets:
    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(TAKE)  # EVALSHA, loading the script when Redis lacks it
        self._penalize = client.register_script(PENALIZE)

    def take(self, key: str, *, rate: Rate, now: float) -> float:
        try:
            return float(self._take(keys=[self.prefix + key], args=[rate.per_second, rate.burst, repr(now)]))
        except redis.RedisError as exc:
            raise Transient(f"{UNREACHABLE} ({type(exc).__name__})") from None

    def penalize(self, key: str, *, rate: Rate, now: float, seconds: float) -> None:
        try:
            self._penalize(keys=[self.prefix + key], args=[rate.per_second, rate.burst, repr(now), seconds])
        except redis.RedisError as exc:  # the 429 itself still reaches the caller
            logger.warning("%s: the pause for %s is not shared (%s)", UNREACHABLE, key, type(exc).__name__)


class SQLiteBuckets:
    """One row per bucket in a small SQLite file; a connection per thread and process
    (a forked worker opens its own)."""

    def __init__(self, path: Path, *, prefix: str) -> None:
        self.path = path
        self.prefix = prefix
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS bucket (key TEXT PRIMARY KEY, tokens REAL, stamp REAL, expires REAL)"
            )
            local.conn, local.pid = conn, os.getpid()
        conn = local.conn
        assert isinstance(conn, sqlite3.Connection)
        return conn

    def _load(self, conn: sqlite3.Connection, key: str, now: float) -> Bucket | None:
        row = conn.execute("SELECT tokens, stamp, expires FROM bucket WHERE key = ?", (key,)).fetchone()
        return Bucket(tokens=row[0], stamp=row[1]) if row and row[2] > now else None

    def _store(self, conn: sqlite3.Connection, key: str, bucket: Bucket, *, rate: Rate, now: float) -> None:
        expires = now + bucket_ttl(bucket, rate=rate, now=now)
        conn.execute(
            "INSERT OR REPLACE INTO bucket (key, tokens, stamp, expires) VALUES (?, ?, ?, ?)",
            (key, bucket.tokens, bucket.stamp, expires),
        )
        conn.execute("DELETE FROM bucket WHERE expires < ?", (now,))  # forgotten once full again

    def _update(
        self, key: str, change: Callable[[Bucket | None], tuple[Bucket, float]], *, rate: Rate, now: float
    ) -> float:
        """Read, change and write one bucket as one transaction of the file."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")  # the write lock first: no two processes read the same tokens
        try:
            bucket, result = change(self._load(conn, self.prefix + key, now))
            self._store(conn, self.prefix + key, bucket, rate=rate, now=now)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def take(self, key: str, *, rate: Rate, now: float) -> float:
        try:
            return self._update(key, lambda bucket: bucket_take(bucket, rate=rate, now=now), rate=rate, now=now)
        except (sqlite3.Error, OSError) as exc:
            raise Transient(f"{UNREACHABLE} ({type(exc).__name__})") from None

    def penalize(self, key: str, *, rate: Rate, now: float, seconds: float) -> None:
        def change(bucket: Bucket | None) -> tuple[Bucket, float]:
            return bucket_penalize(bucket, now=now, seconds=seconds), 0.0

        try:
            self._update(key, change, rate=rate, now=now)
        except (sqlite3.Error, OSError) as exc:
            logger.warning("%s: the pause for %s is not shared (%s)", UNREACHABLE, key, type(exc).__name__)


def redis_client(url: str) -> redis.Redis:
    """Short timeouts and two quick retries: a limiter that cannot answer soon fails the
    call as transient rather than holding a worker."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2)
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, retry=retry)


@cache
def _redis_buckets(url: str, prefix: str) -> RedisBuckets:
    return RedisBuckets(redis_client(url), prefix=prefix)


@cache
def _sqlite_buckets(path: Path, prefix: str) -> SQLiteBuckets:
    return SQLiteBuckets(path, prefix=prefix)


def bucket_store() -> RedisBuckets | SQLiteBuckets:
    """The store every process of this installation shares (one per process, cached)."""
    if settings.REDIS_URL:
        return _redis_buckets(settings.REDIS_URL, settings.PANEL_RATE_LIMIT_KEY_PREFIX)
    return _sqlite_buckets(Path(settings.PANEL_RATE_LIMIT_FILE), settings.PANEL_RATE_LIMIT_KEY_PREFIX)


def vendor_rate(vendor: str) -> Rate | None:
    """The pace for ``vendor``'s accounts: PANEL_RATE_LIMITS, else what the adapter says
    the vendor documents. ``None``: no limit (a pace of 0 in the setting)."""
    adapter = get_provider_class(vendor)
    overrides = settings.PANEL_RATE_LIMITS
    per_minute, burst = overrides.get(vendor) or overrides.get("*") or (adapter.rate_limit_per_minute, None)
    if per_minute == 0:
        return None
    return Rate(per_minute=per_minute, burst=burst or adapter.rate_limit_burst)


def account_limiter(vendor: str) -> BucketLimiter | None:
    rate = vendor_rate(vendor)
    if rate is None:
        return None
    return BucketLimiter(bucket_store(), rate=rate, max_wait=settings.PANEL_RATE_LIMIT_MAX_WAIT)


def account_limit_key(*, vendor: str, account_id: int) -> str:
    """One bucket per stored key: the vendors count requests per key (account)."""
    return f"{vendor}:{account_id}"
