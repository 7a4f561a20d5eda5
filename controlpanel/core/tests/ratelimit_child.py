"""What a child process of the rate-limit tests runs: plain imports only, since a spawned
interpreter has no Django set up (the stores need none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from controlpanel.core.ratelimit import RedisBuckets, SQLiteBuckets
from providers.ratelimit import Rate

RATE = Rate(per_minute=60, burst=25)


def take_many(kind: str, where: str, prefix: str, count: int, start: Any, results: Any) -> None:
    """Its own store object and connection, as a worker process would have; ``start``
    (a barrier) lines the processes up so their takes interleave. A clock that does not
    move means no refill: exactly the burst can be granted, in all."""
    if kind == "redis":
        store: RedisBuckets | SQLiteBuckets = RedisBuckets(redis.Redis.from_url(where), prefix=prefix)
    else:
        store = SQLiteBuckets(Path(where), prefix=prefix)
    start.wait(timeout=30)
    results.put(sum(1 for _ in range(count) if store.take("nosana:1", rate=RATE, now=1_000.0) == 0.0))
