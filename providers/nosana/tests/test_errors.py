"""Nosana's error bodies (``providers.nosana.errors``) through ``providers.http``: one
test per error class, each from the shape the notes give (401 a bare string, the rest
``{"error": ...}``)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from providers.base import AuthError, ErrorDetail, NotFound, RateLimited, Rejected, SpecError, Transient
from providers.nosana.errors import error_detail, parse_field_errors
from providers.nosana.tests.samples import DEP_ID, DEPLOYMENTS, KEY, NOTES, ONE, SEED, fixture


def test_nosana_error_401_is_an_auth_error_with_the_bare_string(respx_mock, nosana):
    respx_mock.get(ONE).respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        nosana.get(DEP_ID)
    assert (caught.value.status_code, caught.value.message) == (401, "Unauthorized")


def test_nosana_error_404_is_not_found(respx_mock, nosana):
    respx_mock.get(ONE).respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound) as caught:
        nosana.get(DEP_ID)
    assert caught.value.message == "Deployment not found."


def test_nosana_error_400_names_each_field_by_its_path(respx_mock, nosana):
    respx_mock.post(f"{DEPLOYMENTS}/create").respond(400, json=fixture("error_validation"))
    with pytest.raises(SpecError) as caught:
        nosana.create(copy.deepcopy(SEED))
    assert caught.value.fields == {
        "replicas": ["Expected number to be greater or equal to 1"],
        "job_definition.ops.0.args.image": ["Expected required property"],
    }
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        (
            "Rotation time must be at least 10 minutes less than timeout.",
            {"rotation_time": ["Rotation time must be at least 10 minutes less than timeout."]},
        ),
        (
            "Timeout for infinite deployments must be at least 1 hour.",
            {"timeout": ["Timeout for infinite deployments must be at least 1 hour."]},
        ),
        ("Invalid request body.", {"": ["Invalid request body."]}),
        ("/replicas: must be >= 1", {"replicas": ["must be >= 1"]}),
        (
            "body/strategy: must be equal to one of the allowed values: SIMPLE, SCHEDULED",
            {"strategy": ["must be equal to one of the allowed values: SIMPLE, SCHEDULED"]},
        ),
    ],
)
def test_nosana_error_400_messages_map_to_fields(message, fields):
    assert parse_field_errors(message) == fields


def test_nosana_error_500_with_a_rule_message_is_a_spec_error_on_its_field(respx_mock, nosana):
    body = {"error": "Rotation time must be at least 10 minutes less than timeout."}
    route = respx_mock.post(f"{DEPLOYMENTS}/create").respond(500, json=body)
    with pytest.raises(SpecError) as caught:
        nosana.create({**NOTES, "strategy": "INFINITE", "timeout": 120, "rotation_time": 30})
    assert set(caught.value.fields) == {"rotation_time"}
    assert route.call_count == 1


@pytest.mark.parametrize("body", ["error_incorrect_state", "error_archived"])
def test_nosana_error_500_refusal_is_rejected_not_retried(respx_mock, nosana, sleeps, body):
    route = respx_mock.patch(f"{ONE}/update-replica-count").respond(500, json=fixture(body))
    with pytest.raises(Rejected) as caught:
        nosana.scale(DEP_ID, {"replicas": 2})
    assert caught.value.status_code == 500
    assert route.call_count == 1
    assert sleeps == []


def test_nosana_error_500_other_is_transient_and_safe_reads_are_retried(respx_mock, nosana, sleeps):
    route = respx_mock.get(ONE).respond(500, json=fixture("error_server"))
    with pytest.raises(Transient) as caught:
        nosana.get(DEP_ID)
    assert caught.value.status_code == 500
    assert "Internal server error." in caught.value.message
    assert route.call_count == 3  # the first try and two retries of a GET
    assert len(sleeps) == 2


def test_nosana_error_429_is_rate_limited_with_retry_after(respx_mock, nosana, sleeps):
    respx_mock.get(ONE).mock(
        side_effect=[
            httpx.Response(429, json={"error": "Too Many Requests"}, headers={"Retry-After": "2"}),
            httpx.Response(200, json={**fixture("deployment_running"), "status": "STOPPED"}),
        ]
    )
    assert nosana.get(DEP_ID).vendor_state == "STOPPED"
    assert sleeps[0] >= 2


def test_nosana_error_429_on_a_write_is_raised_with_its_wait(respx_mock, nosana):
    respx_mock.post(f"{ONE}/stop").respond(429, json={"error": "Too Many Requests"}, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        nosana.stop(DEP_ID, NOTES)
    assert caught.value.retry_after == 7


def test_nosana_timeout_is_transient(respx_mock, nosana):
    respx_mock.post(f"{ONE}/stop").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Transient) as caught:
        nosana.stop(DEP_ID, NOTES)
    assert "did not answer in time" in caught.value.message


def test_nosana_error_never_shows_the_key(respx_mock, nosana):
    respx_mock.get(ONE).respond(401, json={"error": f"bad key {KEY}"})
    with pytest.raises(AuthError) as caught:
        nosana.get(DEP_ID)
    assert KEY not in caught.value.message
    assert KEY not in repr(nosana)


def test_nosana_error_408_is_transient_not_a_refusal(respx_mock, nosana):
    respx_mock.post(f"{ONE}/stop").respond(408, json={"error": "Request Timeout"})
    with pytest.raises(Transient) as caught:
        nosana.stop(DEP_ID, NOTES)
    assert caught.value.status_code == 408


def _response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", ONE))


def test_nosana_error_detail_overrides_only_a_500_that_is_a_refusal_or_a_rule():
    refusal = error_detail(_response(500, fixture("error_incorrect_state")))
    message = "Timeout for infinite deployments must be at least 1 hour."
    rule = error_detail(_response(500, {"error": message}))
    assert refusal == ErrorDetail("Deployment is in the incorrect state.", error=Rejected)
    assert rule == ErrorDetail(message, {"timeout": [message]}, SpecError)
    assert error_detail(_response(500, fixture("error_server"))) is None  # an outage: the shared reading
    assert error_detail(_response(409, fixture("error_incorrect_state"))) == ErrorDetail(
        "Deployment is in the incorrect state."
    )  # a 4xx is a refusal by its status already: no override


def test_nosana_error_401_with_no_body_still_says_unauthorized(respx_mock, nosana):
    respx_mock.get(ONE).respond(401)
    with pytest.raises(AuthError) as caught:
        nosana.get(DEP_ID)
    assert caught.value.message == "Unauthorized"
