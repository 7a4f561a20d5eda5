"""Together's error bodies, one test per error class: the type comes from
``providers.http``, the message and the field from ``errors.error_detail``."""

from __future__ import annotations

import httpx
import pytest

from providers.base import AuthError, ErrorDetail, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient
from providers.together.errors import error_detail
from providers.together.tests.conftest import DEPLOYMENTS, MINIMAL, ONE, fixture


def test_together_error_401_is_an_auth_error(respx_mock, together):
    respx_mock.get(ONE).respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        together.get("dep_abc123")
    assert caught.value.status_code == 401
    assert caught.value.message.startswith("Invalid API key provided.")


def test_together_error_403_is_an_auth_error(respx_mock, together):
    respx_mock.get(DEPLOYMENTS).respond(403, json=fixture("error_forbidden"))
    with pytest.raises(AuthError) as caught:
        together.list_remotes()
    assert caught.value.message == "Dedicated Containers are not enabled for this organization."


def test_together_error_404_is_not_found(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/dep_missing").respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound) as caught:
        together.get("dep_missing")
    assert caught.value.message == "deployment 'dep_missing' not found"


@pytest.mark.parametrize("status", [400, 422, 409])
def test_together_error_with_param_is_a_spec_error_on_that_field(respx_mock, together, status):
    body = fixture("error_invalid_param")
    respx_mock.post(DEPLOYMENTS).respond(status, json=body)
    with pytest.raises(SpecError) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.fields == {"gpu_type": [body["error"]["message"]]}
    assert caught.value.status_code == status
    assert caught.value.body == body


def test_together_error_400_on_patch_names_a_nested_field(respx_mock, together):
    body = {"error": {"message": "volume 'x' not found", "type": "invalid_request_error", "param": "volumes.0.name"}}
    respx_mock.patch(ONE).respond(400, json=body)
    with pytest.raises(SpecError) as caught:
        together.update("dep_abc123", {**MINIMAL, "volumes": [{"name": "x", "mount_path": "/x"}]})
    assert caught.value.fields == {"volumes.0.name": ["volume 'x' not found"]}


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "Request body is not valid JSON", "type": "invalid_request_error", "param": None}},
        {"error": "Request body is not valid JSON"},
        {"message": "Request body is not valid JSON"},
    ],
    ids=["error-data", "error-string", "bare-message"],
)
def test_together_error_400_without_param_belongs_to_no_field(respx_mock, together, body):
    respx_mock.post(DEPLOYMENTS).respond(400, json=body)
    with pytest.raises(SpecError) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.fields == {"": ["Request body is not valid JSON"]}


def test_together_error_400_with_text_body_is_still_a_spec_error(respx_mock, together):
    respx_mock.post(DEPLOYMENTS).respond(400, text="bad request")
    with pytest.raises(SpecError) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.fields == {"": ["bad request"]}


def test_together_error_402_is_rejected(respx_mock, together):
    respx_mock.post(DEPLOYMENTS).respond(402, json=fixture("error_payment_required"))
    with pytest.raises(Rejected) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.message == "Your credit balance is exhausted. Add credits to continue."
    assert caught.value.retryable is False


def test_together_error_429_is_rate_limited_with_its_wait(respx_mock, together, sleeps):
    route = respx_mock.post(DEPLOYMENTS).respond(429, json=fixture("error_rate_limited"), headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.retry_after == 30.0
    assert caught.value.message == "Rate limit exceeded, please try again later."
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_together_error_5xx_is_transient(respx_mock, together, status):
    route = respx_mock.post(DEPLOYMENTS).respond(status, json=fixture("error_server"))
    with pytest.raises(Transient) as caught:
        together.create(dict(MINIMAL))
    assert type(caught.value) is Transient
    assert "The server is overloaded or not ready yet." in caught.value.message
    assert route.call_count == 1  # a create is never retried here


def test_together_error_5xx_on_a_read_is_retried(respx_mock, together, sleeps):
    route = respx_mock.get(ONE).mock(
        side_effect=[
            httpx.Response(503, json=fixture("error_server")),
            httpx.Response(200, json=fixture("deployment_ready")),
        ]
    )
    assert together.get("dep_abc123").state == RemoteState.RUNNING
    assert route.call_count == 2
    assert len(sleeps) == 1


def test_together_error_timeout_is_transient(respx_mock, together):
    respx_mock.post(DEPLOYMENTS).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(Transient) as caught:
        together.create(dict(MINIMAL))
    assert caught.value.status_code is None


def test_together_error_detail_reads_message_and_param_and_overrides_no_type():
    body = fixture("error_invalid_param")
    message = body["error"]["message"]
    assert error_detail(httpx.Response(400, json=body)) == ErrorDetail(message=message, fields={"gpu_type": [message]})
    assert error_detail(httpx.Response(402, json=fixture("error_payment_required"))) == ErrorDetail(
        message="Your credit balance is exhausted. Add credits to continue."
    )
    assert error_detail(httpx.Response(400, text="bad request")) is None
