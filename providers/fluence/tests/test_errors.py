"""Fluence's error bodies read through ``providers.http``: one test per error class.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import httpx
import pytest

from providers.base import (
    AuthError,
    NotFound,
    RateLimited,
    Rejected,
    SpecError,
    Transient,
)
from providers.fluence.tests.helpers import (
    BASE,
    CONTAINER_ID,
    CONTAINERS,
    SEED_CONTAINER,
    SEED_VM,
    VMS,
    error_for,
    fixture,
)

# --- errors: each class ---------------------------------------------------------------------------------------


def test_422_detail_lands_on_spec_paths_in_fluences_words(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(422, json=fixture("error_validation"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_CONTAINER)
    assert caught.value.fields == {
        "container_settings.expose.0.port": ["Port must be between 1 and 65535"],
        "name": ["String should match pattern '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'"],
    }
    assert caught.value.status_code == 422


def test_400_insufficient_balance_is_a_refusal(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(400, json=fixture("error_insufficient_balance"))
    with pytest.raises(Rejected) as caught:
        fluence.create(SEED_CONTAINER)
    assert caught.value.message == "Insufficient balance to deploy instance"


def test_400_os_image_lands_on_os_image(respx_mock, fluence):
    respx_mock.post(VMS).respond(400, json=fixture("error_os_image"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_VM)
    assert list(caught.value.fields) == ["os_image"]
    assert "Available OS images: Ubuntu Server 22.04" in caught.value.fields["os_image"][0]


def test_400_plan_gone_lands_on_plan_id(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(400, json=fixture("error_plan_gone"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_CONTAINER)
    assert list(caught.value.fields) == ["plan_id"]


def test_400_ssh_pubkey_lands_on_the_row_that_defined_it(fluence):
    # Our check refuses SSH_PUBKEY first; this is Fluence's answer if it ever got through.
    body = {"container_settings": {"environment": [{"name": "A", "value": "1"}, {"name": "SSH_PUBKEY", "value": "x"}]}}
    request = httpx.Request("POST", CONTAINERS, json=body)
    response = httpx.Response(400, json=fixture("error_ssh_pubkey"), request=request)
    error = error_for(fluence, response)
    assert isinstance(error, SpecError)
    assert list(error.fields) == ["container_settings.environment.1.name"]


def test_400_location_lands_on_the_location(fluence):
    message = "Location FI is not available for the selected plan. Available locations: US, DE"
    error = error_for(fluence, httpx.Response(400, json={"detail": message}))
    assert isinstance(error, SpecError)
    assert error.fields == {"constraints.location": [message]}


def test_400_without_a_field_is_a_refusal(fluence):
    response = httpx.Response(400, json={"detail": "Something is not possible right now"})
    error = error_for(fluence, response)
    assert isinstance(error, Rejected)


@pytest.mark.parametrize(
    ("status", "name"), [(401, "error_unauthorized"), (403, "error_forbidden"), (400, "error_missing_key")]
)
def test_key_problems_are_auth_errors(respx_mock, fluence, status, name):
    respx_mock.get(CONTAINERS).respond(status, json=fixture(name))
    with pytest.raises(AuthError) as caught:
        fluence.list_remotes()
    assert caught.value.message == fixture(name)["detail"]


# fluencelabs/docs docs/build/api/overview.md: an omitted or invalid key is a 403, with
# the body {"error": "Auth failed. No such API Key"}; the GPU routes answer FastAPI's
# {"detail": ...}; a 401 is the key's fault as well.
KEY_REFUSALS = [{"detail": "Invalid API key"}, {"error": "Auth failed. No such API Key"}]


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("body", KEY_REFUSALS, ids=["gpu-route", "documented-example"])
def test_key_refused_with_401_or_403_is_an_auth_error(respx_mock, fluence, status, body):
    respx_mock.get(CONTAINERS).respond(status, json=body)
    with pytest.raises(AuthError) as caught:
        fluence.list_remotes()
    assert caught.value.status_code == status
    assert caught.value.message == next(iter(body.values()))


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "Missing X-API-KEY header"},
        {"detail": "Invalid API key"},
        {"detail": "Not authenticated"},
        {"error": "Auth failed. No such API Key"},
    ],
)
def test_400_about_the_key_is_an_auth_error(respx_mock, fluence, body):
    respx_mock.post(CONTAINERS).respond(400, json=body)
    with pytest.raises(AuthError) as caught:
        fluence.create(SEED_CONTAINER)
    assert caught.value.status_code == 400
    assert caught.value.message == next(iter(body.values()))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Invalid SSH key: expected one OpenSSH public key line", "ssh_key"),
        ("Provided OS image Windows 11 is not supported for the selected offer", "os_image"),
    ],
)
def test_400_about_a_field_is_still_a_spec_error_on_that_field(respx_mock, fluence, message, field):
    respx_mock.post(VMS).respond(400, json={"detail": message})
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_VM)
    assert caught.value.fields == {field: [message]}


def test_verify_of_a_key_refused_with_403_everywhere_is_an_auth_error(respx_mock, fluence):
    # A 403 on the balance may be a key without that scope: the instance list decides.
    respx_mock.get(f"{BASE}/v2/users/balances").respond(403, json={"code": "forbidden", "error": "Invalid API key"})
    instances = respx_mock.get(CONTAINERS).respond(403, json={"detail": "Invalid API key"})
    with pytest.raises(AuthError) as caught:
        fluence.verify()
    assert instances.called
    assert caught.value.status_code == 403


def test_account_route_errors_keep_their_words(respx_mock, fluence):
    # /v1 and /v2 answer {"code", "error"}, not FastAPI's {"detail"}.
    respx_mock.get(f"{BASE}/v2/users/balances").respond(401, json={"code": "unauthorized", "error": "Invalid API key"})
    with pytest.raises(AuthError, match="Invalid API key"):
        fluence.verify()


def test_404_is_not_found(respx_mock, fluence):
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound, match="Instance not found"):
        fluence.get(CONTAINER_ID)


def test_409_is_a_refusal(respx_mock, fluence):
    respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(409, json={"detail": "Update in flight"})
    with pytest.raises(Rejected, match="Update in flight"):
        fluence.restart(CONTAINER_ID, SEED_CONTAINER)


def test_429_is_rate_limited_with_retry_after(respx_mock, fluence, sleeps):
    respx_mock.get(CONTAINERS).respond(429, json={"detail": "Too many requests"}, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        fluence.list_remotes()
    assert caught.value.retry_after == 30
    assert sleeps == []  # longer than an inline wait: the task reschedules


def test_5xx_is_transient_after_the_get_is_retried(respx_mock, fluence, sleeps):
    route = respx_mock.get(CONTAINERS).respond(502, json=fixture("error_server"))
    with pytest.raises(Transient):
        fluence.list_remotes()
    assert route.call_count == 3
    assert len(sleeps) == 2


def test_a_timeout_is_transient(respx_mock, fluence):
    respx_mock.get(CONTAINERS).mock(side_effect=httpx.ConnectTimeout("no answer"))
    with pytest.raises(Transient, match="did not answer in time"):
        fluence.list_remotes()
