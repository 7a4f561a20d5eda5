"""A per-account rate limit in front of every vendor call, and the bucket maths behind it.

``VendorHTTP`` asks its :class:`Limiter` for a token before every try (retries
included) and, on a 429, penalizes the account for the vendor's ``Retry-After``, so
every caller sharing that account's bucket waits, not only the one that was refused:
other threads of a refresh and other worker processes alike.

The bucket is a token bucket per account: ``rate.burst`` tokens at most, refilled at
``rate.per_second``; a request takes one. A penalty empties it until the vendor's
deadline, then lets one request through and refills at the steady rate, so an account
that was told to slow down does not answer with a burst the moment the wait is over.

The panel keeps the buckets where every worker sees them (Redis, or a file on one
machine: ``controlpanel/core/ratelimit.py``); the sums are here, plain Python, so every
store runs the same ones and tests can drive them with a fake clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from providers.base import Transient


class Limiter(Protocol):
    def acquire(self, key: str) -> None:
        """Return once a request for ``key`` may be sent; raise :class:`Transient` when
        that would mean waiting longer than the limiter allows."""

    def penalize(self, key: str, seconds: float) -> None:
        """Nobody sends for ``key`` during the next ``seconds`` (the vendor said so)."""


@dataclass(frozen=True)
class Rate:
    per_minute: float
    burst: int  # tokens the bucket holds: requests that may go at once after a quiet spell

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs a positive pace and a burst of at least 1, not {self}")

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class Bucket:
    tokens: float
    stamp: float  # when ``tokens`` was counted; in the future while the account is penalized


def bucket_take(bucket: Bucket | None, *, rate: Rate, now: float) -> tuple[Bucket, float]:
    """Refill ``bucket`` (``None``: never used, or forgotten once full) up to ``now`` and
    take a token if there is one. Returns the new state and the wait: 0 when the token
    was taken, else the seconds until one will be there (nothing is taken then, so a
    caller that gives up holds nothing back from the others)."""
    if bucket is None:
        bucket = Bucket(tokens=float(rate.burst), stamp=now)
    if now < bucket.stamp:  # penalized: nothing refills before the vendor's deadline
        return bucket, bucket.stamp - now + max(0.0, 1.0 - bucket.tokens) / rate.per_second
    tokens = min(float(rate.burst), bucket.tokens + (now - bucket.stamp) * rate.per_second)
    if tokens >= 1.0:
        return Bucket(tokens=tokens - 1.0, stamp=now), 0.0
    return Bucket(tokens=tokens, stamp=now), (1.0 - tokens) / rate.per_second


def bucket_penalize(bucket: Bucket | None, *, now: float, seconds: float) -> Bucket:
    """After a 429: nothing leaves before ``now + seconds`` (or a longer penalty already
    running), then one request, then the steady rate."""
    until = max(bucket.stamp if bucket is not None else now, now + max(0.0, seconds))
    return Bucket(tokens=1.0, stamp=until)


def bucket_ttl(bucket: Bucket, *, rate: Rate, now: float) -> float:
    """Seconds after which the bucket would be full again: a store may forget it then,
    since a missing bucket reads as a full one."""
    return max(0.0, bucket.stamp - now) + max(0.0, rate.burst - bucket.tokens) / rate.per_second + 1.0


class BucketStore(Protocol):
    """Where the buckets live; each call is one atomic read-modify-write of one bucket."""

    def take(self, key: str, *, rate: Rate, now: float) -> float: ...

    def penalize(self, key: str, *, rate: Rate, now: float, seconds: float) -> None: ...


class BucketLimiter:
    """A :class:`Limiter` over a :class:`BucketStore`: waits for a token, but never for
    longer than ``max_wait`` in all, so a call cannot hang on a busy or penalized
    account; past it the call fails as ``Transient`` and its task retries later.

    Waiters sleep until the next token is due (with a little jitter, so callers woken
    together do not collide again) and ask again: one store round trip per try, and a
    penalty set meanwhile by someone else is seen before anything is sent."""

    def __init__(
        self,
        store: BucketStore,
        *,
        rate: Rate,
        max_wait: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.rate = rate
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep

    def acquire(self, key: str) -> None:
        started = self._clock()
        while True:
            now = self._clock()
            wait = self.store.take(key, rate=self.rate, now=now)
            if wait <= 0:
                return
            if (now - started) + wait > self.max_wait:
                raise Transient("rate limited by the panel", retry_after=wait)
            self._sleep(wait * random.uniform(1.0, 1.1))

    def penalize(self, key: str, seconds: float) -> None:
        self.store.penalize(key, rate=self.rate, now=self._clock(), seconds=seconds)


class MemoryStore:
    """Buckets in this process only (one lock): for a program without a shared store,
    and for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str, *, rate: Rate, now: float) -> float:
        with self._lock:
            self.buckets[key], wait = bucket_take(self.buckets.get(key), rate=rate, now=now)
            return wait

    def penalize(self, key: str, *, rate: Rate, now: float, seconds: float) -> None:
        with self._lock:
            self.buckets[key] = bucket_penalize(self.buckets.get(key), now=now, seconds=seconds)
