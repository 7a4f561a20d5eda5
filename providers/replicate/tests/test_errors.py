"""Replicate's errors, one test per class: what ``error_detail`` reads from the body and
what the shared mapping in providers/http.py makes of the status (providers/replicate/errors.py)."""

from __future__ import annotations

import httpx
import pytest

from providers.base import AuthError, ErrorDetail, NotFound, RateLimited, Rejected, SpecError, Transient
from providers.replicate import ReplicateProvider
from providers.replicate.errors import field_named_in
from providers.replicate.tests.samples import BASE, DEPLOYMENTS, KEY, NOTES_CREATE, ONE, fixture

# --- errors, per class ---------------------------------------------------------------------------------


def test_replicate_error_401_is_an_auth_error(respx_mock, replicate):
    respx_mock.get(f"{BASE}/account").respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        replicate.verify()
    assert caught.value.status_code == 401
    assert caught.value.message == "You did not pass a valid authentication token"


def test_replicate_error_404_is_not_found(respx_mock, replicate):
    respx_mock.get(ONE).respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound) as caught:
        replicate.get("acme/team-sdxl")
    assert caught.value.message == "Deployment not found"


def test_replicate_error_422_naming_a_field_lands_on_it(respx_mock, replicate):
    body = fixture("error_invalid_version")
    respx_mock.post(DEPLOYMENTS).respond(422, json=body)
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"version": [body["detail"]]}
    assert (caught.value.status_code, caught.value.body) == (422, body)


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ("hardware 'gpu-x' is not a valid hardware SKU", "hardware"),
        ("max_instances must be greater than or equal to min_instances", "max_instances"),
        ("min_instances must be greater than or equal to 0", "min_instances"),
        ("model acme/nope does not exist", "model"),
        ("name may contain only lowercase letters", "name"),
        ("Something about the request was wrong", ""),
    ],
)
def test_replicate_error_422_field_is_the_first_one_named(detail, field):
    assert field_named_in(detail) == field


def test_replicate_error_400_without_a_field_belongs_to_no_field(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(400, json={"title": "Bad request", "detail": "Malformed JSON", "status": 400})
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"": ["Malformed JSON"]}


def test_replicate_error_409_on_create_is_a_duplicate_name(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(409, json=fixture("error_conflict"))
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"name": ["A deployment named team-sdxl already exists for acme"]}


def test_replicate_error_402_is_rejected(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(402, json=fixture("error_payment_required"))
    with pytest.raises(Rejected) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.message.startswith("You have insufficient credit")


def test_replicate_error_429_is_rate_limited_with_its_wait(respx_mock, replicate, sleeps):
    route = respx_mock.post(DEPLOYMENTS).respond(429, json=fixture("error_throttled"), headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.retry_after == 30.0
    assert caught.value.message == "Request was throttled. Your rate limit resets in ~30s."
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_replicate_error_5xx_is_transient(respx_mock, replicate, status):
    route = respx_mock.post(DEPLOYMENTS).respond(status, json=fixture("error_server"))
    with pytest.raises(Transient) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert type(caught.value) is Transient
    assert "Something went wrong on our end." in caught.value.message
    assert route.call_count == 1  # a create is never retried here


def test_replicate_error_5xx_on_a_read_is_retried(respx_mock, replicate, sleeps, no_predictions):
    route = respx_mock.get(ONE).mock(
        side_effect=[httpx.Response(503, json=fixture("error_server")), httpx.Response(200, json=fixture("deployment"))]
    )
    assert replicate.get("acme/team-sdxl").external_id == "acme/team-sdxl"
    assert route.call_count == 2
    assert len(sleeps) == 1


def test_replicate_error_timeout_is_transient(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(Transient) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.status_code is None


def test_replicate_error_never_contains_the_key(respx_mock, replicate):
    respx_mock.get(f"{BASE}/account").respond(401, json={"detail": f"Invalid token {KEY}", "status": 401})
    with pytest.raises(AuthError) as caught:
        replicate.verify()
    assert KEY not in str(caught.value)


def test_replicate_error_detail_reads_the_problem_and_never_overrides_the_type():
    request = httpx.Request("POST", DEPLOYMENTS)
    conflict = httpx.Response(409, json=fixture("error_conflict"), request=request)
    detail = ReplicateProvider(api_key=KEY).error_detail(conflict)
    assert detail == ErrorDetail(
        "A deployment named team-sdxl already exists for acme",
        fields={"name": ["A deployment named team-sdxl already exists for acme"]},
    )
    assert "parse_error" not in vars(ReplicateProvider)  # the deprecated hook is gone


def test_replicate_error_detail_leaves_a_body_without_a_problem_to_the_shared_reading():
    assert ReplicateProvider(api_key=KEY).error_detail(httpx.Response(502, text="<html>Bad gateway</html>")) is None
