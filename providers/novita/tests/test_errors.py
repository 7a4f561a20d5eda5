"""Novita's error bodies: each error class, from Novita's own bodies and names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers.base import (
    AuthError,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    SpecError,
    Transient,
)
from providers.novita.errors import ERRORS, error_detail, field_named_in
from providers.novita.tests.helpers import BALANCE, GPU, ID, KEY, ONE, error, fixture

# --- errors: each class, from Novita's bodies ----------------------------------------------------------------


def test_novita_every_error_name_of_the_contract_has_a_class():
    names = {
        "UNAUTHORIZED",
        "FORBIDDEN",
        "RATE_LIMIT_EXCEEDED",
        "UNKNOWN",
        "VALIDATOR_PARAM",
        "REQUEST",
        "RESOURCE_NOT_FOUND",
        "CONFLICT",
        "OPERATION_LIMIT",
        "INSUFFICIENT_RESOURCE",
        "CLUSTER_STATUS",
        "NODE_STATUS",
        "DEPENDENT_RESOURCE_STATE",
        "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE",
        "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL",
        "INVALID_COMMAND_PARAM",
        "GPU_SPEC_USED",
        "MIGRATE_INSUFFICIENT_RESOURCE",
        "BALANCE_NOT_ENOUGH",
        "EXPIRED_OR_BALANCE_NOT_ENOUGH",
        "UNSUPPORTED_BILLING_MODE",
        "CREATE_INSTANCE_LIMIT",
        "NETWORK_STORAGE_TOO_LARGE",
        "NETWORK_STORAGE_IN_USE",
        "NETWORK_STORAGE_UNAVAILABLE",
        "NETWORK_STORAGE_NOT_FOUND",
        "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT",
        "IMAGE_NOT_FOUND",
        "IMAGE_AUTH_IN_USE",
        "NETWORK_NOT_FOUND",
        "NETWORK_IN_USE",
        "NETWORK_MAX_LIMIT",
        "JOB_NOT_FOUND",
        "TEMPLATE_NOT_FOUND",
        "TEMPLATE_IS_PRIVATE",
    }
    assert set(ERRORS) == names


REJECTED = [n for n, kind in ERRORS.items() if kind is Rejected]


SPEC_FIELDS = {
    "INVALID_COMMAND_PARAM": "command",
    "UNSUPPORTED_BILLING_MODE": "billingMode",
    "IMAGE_NOT_FOUND": "imageUrl",
    "NETWORK_STORAGE_NOT_FOUND": "networkStorages",
    "NETWORK_STORAGE_UNAVAILABLE": "networkStorages",
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": "clusterId",
    "NETWORK_NOT_FOUND": "networkId",
    "REQUEST": "",
}


def _fail(respx_mock, novita, status: int, body: Any, **kwargs: Any):
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(status, **({"json": body} if body is not None else kwargs))
    with pytest.raises(ProviderError) as caught:
        novita._action(ID, "stop", ())
    return caught.value


@pytest.mark.parametrize("name", REJECTED)
def test_novita_refusals_are_rejected(respx_mock, novita, name):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))  # CONFLICT looks at the state
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": name, "message": "refused", "metadata": {}})
    assert type(exc) is Rejected
    assert exc.message == f"refused ({name})"
    assert exc.status_code == 400


@pytest.mark.parametrize(("name", "field"), SPEC_FIELDS.items())
def test_novita_field_errors_are_spec_errors_on_their_field(respx_mock, novita, name, field):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": name, "message": "bad value", "metadata": {}})
    assert type(exc) is SpecError
    assert exc.fields == {field: [f"bad value ({name})"]}


@pytest.mark.parametrize("status", [401, 403])
def test_novita_auth_errors(respx_mock, novita, status):
    body = fixture("error_unauthorized" if status == 401 else "error_forbidden")
    exc = _fail(respx_mock, novita, status, body)
    assert type(exc) is AuthError
    assert KEY not in exc.message


def test_novita_auth_error_without_a_body(respx_mock, novita):
    exc = _fail(respx_mock, novita, 401, None, text="")
    assert type(exc) is AuthError


def test_novita_rate_limit_honours_retry_after(respx_mock, novita):
    status, body = error("error_rate_limited")
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(status, json=body, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        novita._action(ID, "stop", ())
    assert caught.value.retry_after == 7.0


def test_novita_reads_are_retried_after_a_rate_limit(respx_mock, novita, sleeps):
    status, body = error("error_rate_limited")
    route = respx_mock.get(BALANCE).mock(
        side_effect=[
            httpx.Response(status, json=body, headers={"Retry-After": "1"}),
            httpx.Response(200, json=fixture("balance")),
        ]
    )
    assert novita.verify().balance == Decimal("125.34")
    assert route.call_count == 2
    assert sleeps
    assert sleeps[0] >= 1


def test_novita_unknown_server_error_is_transient(respx_mock, novita):
    exc = _fail(respx_mock, novita, *error("error_unknown"))
    assert type(exc) is Transient
    assert "internal error" in exc.message


def test_novita_unknown_on_a_4xx_is_still_transient(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": "UNKNOWN", "message": "try again", "metadata": {}})
    assert type(exc) is Transient


def test_novita_timeout_is_transient(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/stop").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(Transient):
        novita._action(ID, "stop", ())


def test_novita_resource_not_found_is_a_400_not_found(respx_mock, novita):
    exc = _fail(respx_mock, novita, *error("error_not_found"))
    assert type(exc) is NotFound
    assert exc.status_code == 400


def test_novita_404_of_an_unknown_path_is_not_found(respx_mock, novita):
    exc = _fail(respx_mock, novita, 404, None, text="404 page not found")
    assert type(exc) is NotFound
    assert exc.message == "404 page not found"


def test_novita_unnamed_400_is_a_spec_error_on_the_field_it_names(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"message": "rootfsSize exceeds the node's free disk"})
    assert exc.fields == {"rootfsSize": ["rootfsSize exceeds the node's free disk"]}


def test_novita_unnamed_409_is_rejected(respx_mock, novita):
    exc = _fail(respx_mock, novita, 409, {"code": 409, "message": "busy"})
    assert type(exc) is Rejected


def test_novita_error_name_may_come_as_a_string_code(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": "BALANCE_NOT_ENOUGH", "message": "recharge"})
    assert (type(exc), exc.message) == (Rejected, "recharge (BALANCE_NOT_ENOUGH)")


def test_novita_error_without_a_message_uses_its_name(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": "CREATE_INSTANCE_LIMIT"})
    assert exc.message == "CREATE_INSTANCE_LIMIT"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("gpuNum must be between 1 and 8", "gpuNum"),
        ("envs[3].value too long", "envs.3.value"),
        ("tools.0.port is reserved", "tools.0.port"),
        ("networkStorages[1].mountPoint is empty", "networkStorages.1.mountPoint"),
        ("expandRootDisk must be >= 0", "rootfsSize"),
        ("invalid port 2222", "ports"),
        ("Tool name must be Jupyter, productId unknown", "productId"),
        ("name too long", "name"),
        ("something went wrong", ""),
    ],
)
def test_novita_field_named_in_a_message(message, field):
    assert field_named_in(message) == field


@pytest.mark.parametrize(
    ("status", "body", "override"),
    [
        (400, {"reason": "CONFLICT", "message": "busy"}, Rejected),  # a 400 that is a refusal
        (409, {"reason": "CONFLICT", "message": "busy"}, None),  # the status says it already
        (400, {"reason": "RESOURCE_NOT_FOUND", "message": "gone"}, NotFound),
        (401, {"reason": "UNAUTHORIZED", "message": "bad key"}, None),
        (400, {"reason": "UNKNOWN", "message": "try again"}, Transient),
        (500, {"reason": "UNKNOWN", "message": "try again"}, None),
        (400, {"reason": "VALIDATOR_PARAM", "message": "gpuNum too big"}, None),  # its field makes it a SpecError
    ],
)
def test_novita_error_detail_overrides_the_status_only_where_the_name_disagrees(status, body, override):
    detail = error_detail(httpx.Response(status, json=body))
    assert detail is not None
    assert detail.error is override


def test_novita_error_detail_names_the_field_of_a_spec_error():
    detail = error_detail(httpx.Response(400, json={"reason": "VALIDATOR_PARAM", "message": "envs[0].key empty"}))
    assert detail is not None
    assert (detail.message, detail.fields) == (
        "envs[0].key empty (VALIDATOR_PARAM)",
        {"envs.0.key": ["envs[0].key empty (VALIDATOR_PARAM)"]},
    )


def test_novita_error_detail_of_an_empty_body_is_left_to_the_shared_reading():
    assert error_detail(httpx.Response(502, text="")) is None


def test_novita_nested_error_body_is_read_like_the_flat_one(respx_mock, novita):
    # {"error": {"code", "message"}}: the shape cnovita's client parses (cnovita/core/client.py).
    exc = _fail(respx_mock, novita, 400, {"error": {"code": "BALANCE_NOT_ENOUGH", "message": "recharge"}})
    assert (type(exc), exc.message) == (Rejected, "recharge (BALANCE_NOT_ENOUGH)")


def test_novita_nested_error_with_a_numeric_code_keeps_the_status_meaning(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"error": {"code": 400, "message": "gpuNum must be between 1 and 8"}})
    assert type(exc) is SpecError
    assert exc.fields == {"gpuNum": ["gpuNum must be between 1 and 8"]}


def test_novita_nested_error_resource_not_found_is_not_found(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"error": {"code": "RESOURCE_NOT_FOUND", "message": "no such instance"}})
    assert (type(exc), exc.message) == (NotFound, "no such instance (RESOURCE_NOT_FOUND)")
