"""The token bucket's sums and the limiter's waiting, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from providers.base import Transient
from providers.ratelimit import (
    Bucket,
    BucketLimiter,
    MemoryStore,
    Rate,
    bucket_penalize,
    bucket_take,
    bucket_ttl,
)

RATE = Rate(per_minute=120, burst=3)  # 2 a second


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def take_all(bucket: Bucket | None, *, now: float, count: int) -> tuple[Bucket, list[float]]:
    waits = []
    for _ in range(count):
        bucket, wait = bucket_take(bucket, rate=RATE, now=now)
        waits.append(wait)
    return bucket, waits


def test_rate_refuses_a_pace_or_burst_that_cannot_work():
    with pytest.raises(ValueError, match="positive pace"):
        Rate(per_minute=0, burst=1)
    with pytest.raises(ValueError, match="burst of at least 1"):
        Rate(per_minute=60, burst=0)
    assert Rate(per_minute=3000, burst=50).per_second == 50


def test_bucket_take_lets_a_full_burst_through_then_names_the_wait():
    bucket, waits = take_all(None, now=0.0, count=4)
    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5)]  # the fourth waits one token's refill
    assert bucket.tokens == pytest.approx(0.0)


def test_bucket_take_refills_at_the_rate_and_never_past_the_burst():
    bucket, _ = take_all(None, now=0.0, count=3)
    bucket, wait = bucket_take(bucket, rate=RATE, now=0.5)
    assert wait == 0.0
    assert bucket.tokens == pytest.approx(0.0)
    bucket, wait = bucket_take(bucket, rate=RATE, now=0.75)
    assert wait == pytest.approx(0.25)  # half a token there, half to come
    bucket, waits = take_all(bucket, now=100.0, count=4)  # a long quiet spell refills only to the burst
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] > 0


def test_bucket_take_without_a_token_takes_nothing():
    bucket, _ = take_all(None, now=0.0, count=3)
    waiting, wait = bucket_take(bucket, rate=RATE, now=0.25)
    again, same = bucket_take(waiting, rate=RATE, now=0.25)
    assert wait == same == pytest.approx(0.25)
    assert again.tokens == waiting.tokens == pytest.approx(0.5)


def test_bucket_penalize_empties_the_bucket_until_the_vendors_deadline():
    bucket = bucket_penalize(None, now=10.0, seconds=4.0)
    bucket, wait = bucket_take(bucket, rate=RATE, now=11.0)
    assert wait == pytest.approx(3.0)
    bucket, wait = bucket_take(bucket, rate=RATE, now=14.0)  # one request at the deadline...
    assert wait == 0.0
    bucket, wait = bucket_take(bucket, rate=RATE, now=14.0)  # ...then the steady rate, no burst
    assert wait == pytest.approx(0.5)


def test_bucket_penalize_keeps_the_longer_of_two_penalties():
    long = bucket_penalize(None, now=0.0, seconds=30.0)
    kept = bucket_penalize(long, now=1.0, seconds=2.0)
    assert kept.stamp == 30.0
    longer = bucket_penalize(kept, now=2.0, seconds=60.0)
    assert longer.stamp == 62.0


def test_bucket_ttl_is_the_time_until_the_bucket_is_full_again():
    bucket, _ = take_all(None, now=0.0, count=3)
    assert bucket_ttl(bucket, rate=RATE, now=0.0) == pytest.approx(1.5 + 1.0)  # 3 tokens at 2/s, plus a margin
    penalized = bucket_penalize(bucket, now=0.0, seconds=5.0)
    assert bucket_ttl(penalized, rate=RATE, now=0.0) == pytest.approx(5.0 + 1.0 + 1.0)


def test_limiter_waits_for_the_next_token_then_takes_it():
    clock = FakeClock()
    limiter = BucketLimiter(MemoryStore(), rate=RATE, max_wait=10, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire("together:1")
    assert clock.slept == []
    limiter.acquire("together:1")
    assert len(clock.slept) == 1
    assert 0.5 <= clock.slept[0] <= 0.55  # the refill time, with at most 10 % jitter


def test_limiter_keeps_each_account_to_its_own_bucket():
    clock = FakeClock()
    limiter = BucketLimiter(MemoryStore(), rate=RATE, max_wait=10, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire("together:1")
        limiter.acquire("together:2")
    assert clock.slept == []


def test_limiter_penalty_holds_every_caller_of_the_account():
    clock = FakeClock()
    store = MemoryStore()
    one = BucketLimiter(store, rate=RATE, max_wait=10, clock=clock, sleep=clock.sleep)
    other = BucketLimiter(store, rate=RATE, max_wait=10, clock=clock, sleep=clock.sleep)
    one.penalize("replicate:7", 4.0)
    started = clock.now
    other.acquire("replicate:7")
    assert clock.now - started >= 4.0
    assert clock.now - started <= 4.4


def test_limiter_past_its_max_wait_raises_transient_without_sleeping():
    clock = FakeClock()
    limiter = BucketLimiter(MemoryStore(), rate=RATE, max_wait=5, clock=clock, sleep=clock.sleep)
    limiter.penalize("novita:3", 30.0)
    with pytest.raises(Transient, match="rate limited by the panel") as caught:
        limiter.acquire("novita:3")
    assert caught.value.retry_after == pytest.approx(30.0)
    assert clock.slept == []


def test_limiter_gives_up_once_its_waits_add_up_past_max_wait():
    class Busy:
        """Another caller always takes the token first."""

        def take(self, key: str, *, rate: Rate, now: float) -> float:
            return 0.4

        def penalize(self, key: str, *, rate: Rate, now: float, seconds: float) -> None:
            raise AssertionError("not called")

    clock = FakeClock()
    limiter = BucketLimiter(Busy(), rate=RATE, max_wait=2, clock=clock, sleep=clock.sleep)
    with pytest.raises(Transient):
        limiter.acquire("fluence:1")
    assert 2 <= len(clock.slept) <= 5
    assert sum(clock.slept) <= 2


def test_memory_store_hands_out_each_token_once_across_threads():
    store = MemoryStore()
    rate = Rate(per_minute=60, burst=50)
    granted: list[float] = []

    def grab() -> None:
        for _ in range(20):
            granted.append(store.take("nosana:1", rate=rate, now=0.0))

    threads = [threading.Thread(target=grab) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(0.0) == 50  # the burst, not one more, on a clock that never moves
