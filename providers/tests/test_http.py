"""VendorHTTP: the one place HTTP turns into typed errors, and where safe GETs retry."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Iterator

import httpx
import pytest
import respx

from providers.base import (
    AuthError,
    ErrorDetail,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    SpecError,
    Transient,
)
from providers.http import MAX_MESSAGE, VendorHTTP, backoff_seconds, error_type_for, parse_retry_after
from providers.together import TogetherProvider

BASE = "https://vendor.test/v1"
KEY = "vendor-key-abcdef123456"


@pytest.fixture
def http() -> Iterator[VendorHTTP]:
    client = VendorHTTP(base_url=BASE, headers={"Authorization": f"Bearer {KEY}"})
    yield client
    client.close()


# --- status codes to error types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (400, SpecError),
        (422, SpecError),
        (409, Rejected),
        (500, Transient),
        (502, Transient),
        (503, Transient),
    ],
)
def test_vendor_http_maps_status_to_error_type(respx_mock, http, status, error_class):
    route = respx_mock.post(f"{BASE}/things").respond(status, json={"message": "the vendor's words"})
    with pytest.raises(error_class) as caught:
        http.post("/things", json={"a": 1})
    assert type(caught.value) is error_class
    assert caught.value.status_code == status
    assert "the vendor's words" in caught.value.message
    assert route.call_count == 1


def test_vendor_http_spec_error_without_field_keeps_the_message_under_blank_key(respx_mock, http):
    respx_mock.post(f"{BASE}/things").respond(422, json={"detail": "image is required"})
    with pytest.raises(SpecError) as caught:
        http.post("/things", json={})
    assert caught.value.fields == {"": ["image is required"]}


def test_vendor_http_rate_limited_reads_a_numeric_retry_after(respx_mock, http):
    respx_mock.post(f"{BASE}/things").respond(429, headers={"Retry-After": "7"}, json={"message": "slow down"})
    with pytest.raises(RateLimited) as caught:
        http.post("/things", json={})
    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 429
    assert caught.value.retryable is True


def test_vendor_http_rate_limited_reads_an_http_date_retry_after(respx_mock, http):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    header = email.utils.format_datetime(when, usegmt=True)
    respx_mock.post(f"{BASE}/things").respond(429, headers={"Retry-After": header})
    with pytest.raises(RateLimited) as caught:
        http.post("/things", json={})
    # An HTTP date has whole seconds and the clock moves on: a window, not a timing test.
    assert 100 <= caught.value.retry_after <= 121


def test_vendor_http_rate_limited_without_retry_after_has_none(respx_mock, http):
    respx_mock.post(f"{BASE}/things").respond(429, text="Too Many Requests")
    with pytest.raises(RateLimited) as caught:
        http.post("/things", json={})
    assert caught.value.retry_after is None
    assert caught.value.message == "Too Many Requests"


def test_parse_retry_after_reads_numbers_dates_and_nonsense():
    past = email.utils.format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), usegmt=True)
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(past) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_vendor_http_timeout_is_transient(respx_mock, http):
    respx_mock.post(f"{BASE}/things").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(Transient) as caught:
        http.post("/things", json={})
    assert type(caught.value) is Transient
    assert "did not answer in time" in caught.value.message


def test_vendor_http_connect_error_is_transient(respx_mock, http):
    respx_mock.post(f"{BASE}/things").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(Transient) as caught:
        http.post("/things", json={})
    assert type(caught.value) is Transient
    assert "could not reach the vendor" in caught.value.message


def test_vendor_http_error_messages_are_bounded(respx_mock, http):
    respx_mock.post(f"{BASE}/things").respond(400, json={"message": "x" * (MAX_MESSAGE * 3)})
    with pytest.raises(SpecError) as caught:
        http.post("/things", json={})
    assert len(caught.value.fields[""][0]) == MAX_MESSAGE


def test_vendor_http_takes_the_adapters_message_and_fields_from_its_detail(respx_mock):
    detail = ErrorDetail(message="GPU count too high", fields={"gpu_count": ["At most 8."]})
    client = VendorHTTP(base_url=BASE, headers={}, error_detail=lambda response: detail)
    respx_mock.post(f"{BASE}/things").respond(409, json={"message": "generic"})
    with pytest.raises(SpecError) as caught:  # a body that names fields is a SpecError whatever the 4xx
        client.post("/things", json={})
    assert caught.value.fields == {"gpu_count": ["At most 8."]}
    assert caught.value.status_code == 409


def test_vendor_http_types_the_adapters_message_by_status(respx_mock):
    client = VendorHTTP(base_url=BASE, headers={}, error_detail=lambda response: ErrorDetail("out of credits"))
    respx_mock.post(f"{BASE}/things").respond(402, json={"message": "generic"})
    with pytest.raises(Rejected, match="out of credits"):
        client.post("/things", json={})


def test_vendor_http_lets_the_adapter_call_a_5xx_a_refusal(respx_mock):
    # Some vendors (Nosana) answer refusals with 500; the adapter's override wins.
    client = VendorHTTP(
        base_url=BASE, headers={}, error_detail=lambda response: ErrorDetail("no such market", error=Rejected)
    )
    respx_mock.post(f"{BASE}/things").respond(500, json={"message": "no such market"})
    with pytest.raises(Rejected, match="no such market"):
        client.post("/things", json={})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, SpecError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Rejected),
        (422, SpecError),
        (429, RateLimited),
        (408, Transient),
        (500, Transient),
        (503, Transient),
    ],
)
def test_error_type_for_is_the_one_status_table(status, expected):
    assert error_type_for(status) is expected


# --- retries ------------------------------------------------------------------------------------


def test_vendor_http_get_is_retried_on_503_then_succeeds(respx_mock, http, sleeps):
    route = respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json={"ok": True})]
    )
    response = http.get("/things")
    assert response.json() == {"ok": True}
    assert route.call_count == 3
    assert len(sleeps) == 2


def test_vendor_http_get_gives_up_after_max_retries(respx_mock, http, sleeps):
    route = respx_mock.get(f"{BASE}/things").respond(503)
    with pytest.raises(Transient):
        http.get("/things")
    assert route.call_count == http.max_retries + 1
    assert len(sleeps) == http.max_retries


def test_vendor_http_post_is_never_retried(respx_mock, http, sleeps):
    route = respx_mock.post(f"{BASE}/things").respond(503)
    with pytest.raises(Transient):
        http.post("/things", json={"a": 1})
    assert route.call_count == 1
    assert sleeps == []


def test_vendor_http_timeout_on_post_is_not_retried(respx_mock, http, sleeps):
    route = respx_mock.post(f"{BASE}/things").mock(side_effect=httpx.ConnectTimeout("connect timed out"))
    with pytest.raises(Transient):
        http.post("/things", json={})
    assert route.call_count == 1
    assert sleeps == []


def test_vendor_http_get_honours_a_short_retry_after(respx_mock, http, sleeps):
    route = respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})]
    )
    http.get("/things")
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert sleeps[0] >= 3


def test_vendor_http_long_retry_after_raises_at_once_without_sleeping(respx_mock, http, sleeps):
    route = respx_mock.get(f"{BASE}/things").respond(429, headers={"Retry-After": str(http.max_inline_wait + 55)})
    with pytest.raises(RateLimited) as caught:
        http.get("/things")
    assert caught.value.retry_after == http.max_inline_wait + 55
    assert route.call_count == 1
    assert sleeps == []


def test_vendor_http_4xx_on_get_is_not_retried(respx_mock, http, sleeps):
    route = respx_mock.get(f"{BASE}/things").respond(404)
    with pytest.raises(NotFound):
        http.get("/things")
    assert route.call_count == 1
    assert sleeps == []


def test_backoff_seconds_is_never_below_retry_after():
    rng_state = random.getstate()
    random.seed(1234)
    try:
        for attempt in range(12):
            for retry_after in (0.0, 0.1, 1.0, 7.5, 45.0, 300.0):
                assert backoff_seconds(attempt, retry_after) >= retry_after
    finally:
        random.setstate(rng_state)


def test_backoff_seconds_without_retry_after_stays_within_the_cap():
    delays = [backoff_seconds(attempt, cap=4.0) for attempt in range(20) for _ in range(5)]
    assert all(0 <= delay <= 4.0 for delay in delays)


# --- requests ---------------------------------------------------------------------------------


def test_vendor_http_sends_auth_accept_and_json_content_type(respx_mock, http):
    route = respx_mock.post(f"{BASE}/things").respond(200, json={})
    http.post("/things", json={"a": 1})
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Content-Type"] == "application/json"


def test_vendor_http_get_has_no_content_type(respx_mock, http):
    route = respx_mock.get(f"{BASE}/things").respond(200, json={})
    http.get("/things")
    assert "Content-Type" not in route.calls.last.request.headers


def test_vendor_http_url_joins_paths_and_keeps_absolute_urls(http):
    assert http.url("/things") == f"{BASE}/things"
    assert http.url("things") == f"{BASE}/things"
    assert http.url("https://other.test/page?2") == "https://other.test/page?2"


def test_vendor_http_closes_only_the_client_it_made():
    given = httpx.Client()
    VendorHTTP(base_url=BASE, headers={}, client=given).close()
    assert not given.is_closed
    given.close()
    owned = VendorHTTP(base_url=BASE, headers={})
    owned.close()
    assert owned._client.is_closed


# --- keys never leak ----------------------------------------------------------------------------

SECRET_KEY = "sandbox-SECRET-123456"


@pytest.mark.parametrize(
    "body",
    [
        # Together's own 401 (ErrorData).
        {"error": {"message": "Invalid API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}},
        # A vendor that echoes what it refused.
        {"error": {"message": f"Incorrect API key provided: {SECRET_KEY}", "type": "invalid_request_error"}},
        {"message": f"bad token Bearer {SECRET_KEY}"},
    ],
    ids=["together-401", "echoed-in-error", "echoed-with-scheme"],
)
def test_vendor_http_auth_error_never_contains_the_key(respx_mock, body):
    provider = TogetherProvider(api_key=SECRET_KEY)
    respx_mock.get("https://api.together.ai/v1/deployments").respond(401, json=body)
    with pytest.raises(AuthError) as caught:
        provider.list_remotes()
    exc = caught.value
    assert "SECRET" not in str(exc)
    assert "SECRET" not in repr(exc)
    assert "SECRET" not in exc.message
    assert "SECRET" not in repr(exc.body)
    assert "SECRET" not in repr(provider)
    assert "Invalid API key" in str(exc) or "[redacted]" in str(exc)


def test_vendor_http_spec_error_fields_never_contain_the_key(respx_mock):
    provider = TogetherProvider(api_key=SECRET_KEY)
    body = {"error": {"message": f"value {SECRET_KEY} is not allowed", "param": "environment_variables.0.value"}}
    respx_mock.post("https://api.together.ai/v1/deployments").respond(400, json=body)
    spec = {"name": "leaky", "image": "registry.together.ai/p/i:1", "gpu_type": "h100-80gb"}
    with pytest.raises(SpecError) as caught:
        provider.create(spec)
    assert caught.value.fields == {"environment_variables.0.value": ["value [redacted] is not allowed"]}
    assert "SECRET" not in str(caught.value)


def test_vendor_http_transport_errors_never_contain_the_key(respx_mock):
    provider = TogetherProvider(api_key=SECRET_KEY)
    respx_mock.post("https://api.together.ai/v1/deployments").mock(side_effect=httpx.ConnectError(SECRET_KEY))
    with pytest.raises(ProviderError) as caught:
        provider.create({"name": "x", "image": "registry.together.ai/p/i:1", "gpu_type": "h100-80gb"})
    assert "SECRET" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_503_retry_after_is_kept_for_the_caller():
    """A 503 may say when to come back; the task's countdown honours it like a 429's."""
    with respx.mock(base_url="https://vendor.example") as api:
        api.post("/x").respond(503, headers={"Retry-After": "11"}, json={"error": "maintenance"})
        client = VendorHTTP(base_url="https://vendor.example", headers={})
        with pytest.raises(Transient) as excinfo:
            client.post("/x", json={})
    assert excinfo.value.retry_after == 11
