"""VendorHTTP and its account's limiter: a token before every try, the whole account
paused on a 429, and retries that wait in the limiter rather than sleeping on their own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.base import NotFound, RateLimited, Transient
from providers.http import DEFAULT_PENALTY, VendorHTTP
from providers.registry import SLUGS, get_provider_class

BASE = "https://vendor.test/v1"
KEY = "together:42"


class RecordingLimiter:
    """Says yes at once and writes down what it was asked, in order."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[str, str, float | None]] = []
        self.refuse = refuse

    def acquire(self, key: str) -> None:
        self.calls.append(("acquire", key, None))
        if self.refuse:
            raise Transient("rate limited by the panel", retry_after=12.0)

    def penalize(self, key: str, seconds: float) -> None:
        self.calls.append(("penalize", key, seconds))


@pytest.fixture
def limiter() -> RecordingLimiter:
    return RecordingLimiter()


@pytest.fixture
def http(limiter: RecordingLimiter) -> Iterator[VendorHTTP]:
    client = VendorHTTP(base_url=BASE, headers={"Authorization": "Bearer k"}, limiter=limiter, limit_key=KEY)
    yield client
    client.close()


def test_vendor_http_takes_a_token_before_the_request(respx_mock, http, limiter):
    route = respx_mock.get(f"{BASE}/things").respond(200, json={})
    http.get("/things")
    assert route.call_count == 1
    assert limiter.calls == [("acquire", KEY, None)]


def test_vendor_http_takes_a_token_before_every_retry(respx_mock, http, limiter, sleeps):
    route = respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={})]
    )
    http.get("/things")
    assert route.call_count == 3
    assert limiter.calls == [("acquire", KEY, None)] * 3
    assert len(sleeps) == 2  # a 5xx is not the account's pace: its backoff stays


def test_vendor_http_429_pauses_the_account_for_retry_after_and_waits_in_the_limiter(respx_mock, http, limiter, sleeps):
    route = respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"ok": 1})]
    )
    assert http.get("/things").json() == {"ok": 1}
    assert route.call_count == 2
    assert limiter.calls == [("acquire", KEY, None), ("penalize", KEY, 3.0), ("acquire", KEY, None)]
    assert sleeps == []  # no sleep of its own on top of the limiter's


def test_vendor_http_429_without_retry_after_pauses_by_a_doubling_default(respx_mock, http, limiter, sleeps):
    respx_mock.get(f"{BASE}/things").mock(side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200)])
    http.get("/things")
    penalties = [seconds for kind, _, seconds in limiter.calls if kind == "penalize"]
    assert penalties == [DEFAULT_PENALTY, DEFAULT_PENALTY * 2]
    assert sleeps == []


def test_vendor_http_long_retry_after_pauses_the_account_and_raises_at_once(respx_mock, http, limiter, sleeps):
    route = respx_mock.get(f"{BASE}/things").respond(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        http.get("/things")
    assert caught.value.retry_after == 120
    assert route.call_count == 1
    assert limiter.calls == [("acquire", KEY, None), ("penalize", KEY, 120.0)]
    assert sleeps == []


def test_vendor_http_429_on_a_write_pauses_the_account_without_retrying(respx_mock, http, limiter):
    route = respx_mock.post(f"{BASE}/things").respond(429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimited):
        http.post("/things", json={"a": 1})
    assert route.call_count == 1
    assert limiter.calls == [("acquire", KEY, None), ("penalize", KEY, 2.0)]


def test_vendor_http_other_errors_never_pause_the_account(respx_mock, http, limiter):
    respx_mock.get(f"{BASE}/things").respond(404)
    with pytest.raises(NotFound):
        http.get("/things")
    assert limiter.calls == [("acquire", KEY, None)]


def test_vendor_http_sends_nothing_and_retries_nothing_when_the_limiter_refuses(respx_mock, sleeps):
    refusing = RecordingLimiter(refuse=True)
    route = respx_mock.get(f"{BASE}/things").respond(200)
    http = VendorHTTP(base_url=BASE, headers={}, limiter=refusing, limit_key=KEY)
    with pytest.raises(Transient, match="rate limited by the panel") as caught:
        http.get("/things")
    http.close()
    assert caught.value.retry_after == 12.0  # the task's retry countdown honours it
    assert route.call_count == 0
    assert refusing.calls == [("acquire", KEY, None)]
    assert sleeps == []


@pytest.mark.parametrize("slug", SLUGS)
def test_every_adapter_sends_every_request_through_its_accounts_limiter(respx_mock, slug, sleeps):
    limiter = RecordingLimiter()
    route = respx_mock.route().respond(503)  # every request of a list, whatever the vendor's paths
    provider = get_provider_class(slug)("key-0123456789", limiter=limiter, limit_key=f"{slug}:9")
    with provider, pytest.raises(Transient):
        list(provider.list_remotes())
    assert route.call_count >= 1
    acquired = [key for kind, key, _ in limiter.calls if kind == "acquire"]
    assert acquired == [f"{slug}:9"] * route.call_count
