"""The Together adapter against respx: what it sends, what it makes of the answers, its
rules and its status table, all held to the seed's OpenAPI excerpt."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from providers.base import AuthError, LogLines, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient
from providers.testing import load_fixture
from providers.tests.conftest import TOGETHER_BASE as BASE
from providers.tests.conftest import TOGETHER_KEY, load_together_schema
from providers.together import (
    ESTIMATED_GPU_HOURLY_USD,
    GPU_TYPES,
    STATUS_TABLE,
    check_spec,
    remote_state,
    replica_message,
)

IMAGE = "registry.together.xyz/proj_abc123/flux-worker@sha256:4f1c9e9"
DEPLOYMENTS = f"{BASE}/deployments"
ONE = f"{DEPLOYMENTS}/dep_abc123"

# The seed notes' create request (§6), which is also a spec this adapter accepts as is.
SEED_CREATE = {
    "name": "flux-worker",
    "description": "Flux image worker",
    "image": IMAGE,
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "cpu": 8,
    "memory": 64,
    "storage": 200,
    "min_replicas": 1,
    "max_replicas": 4,
    "port": 8000,
    "health_check_path": "/health",
    "termination_grace_period_seconds": 300,
    "autoscaling": {"metric": "QueueBacklogPerWorker", "target": 1.01},
    "environment_variables": [
        {"name": "MODEL_PATH", "value": "/models/weights"},
        {"name": "TOGETHER_API_KEY", "value_from_secret": "flux-worker-TOGETHER_API_KEY"},
    ],
    "volumes": [{"name": "flux-weights", "mount_path": "/models"}],
}
MINIMAL = {"name": "flux-worker", "image": IMAGE, "gpu_type": "h100-80gb"}


def fixture(name: str) -> Any:
    return load_fixture("together", name)


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {TOGETHER_KEY}"
    return request


# --- lifecycle calls: the request and the parsed Remote -----------------------------------------


def test_together_create_posts_the_spec_and_parses_the_first_rollout(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    remote = together.create(copy.deepcopy(SEED_CREATE))
    request = assert_sent(route, "POST", "/v1/deployments")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == SEED_CREATE
    assert remote.external_id == "dep_abc123"
    assert remote.name == "flux-worker"
    assert remote.state == RemoteState.UPDATING
    assert remote.vendor_state == "Updating"
    assert (remote.replicas_ready, remote.replicas_desired) == (0, 1)
    assert remote.primary_url == f"{BASE}/deployment-request/flux-worker"
    assert remote.price_per_hour == Decimal("0")  # nothing ready, nothing billed yet
    assert remote.created_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert remote.message == ""  # ContainerCreating is progress, not a problem
    assert remote.raw == fixture("deployment_updating")


def test_together_create_leaves_out_empty_optional_fields(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    together.create({**MINIMAL, "description": "", "command": [], "args": [], "health_check_path": "", "port": None})
    assert sent_json(route) == MINIMAL


def test_together_create_checks_the_spec_before_any_request(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    with pytest.raises(SpecError) as caught:
        together.create({**MINIMAL, "gpu_type": "a100-80gb"})
    assert set(caught.value.fields) == {"gpu_type"}
    assert route.call_count == 0


def test_together_get_parses_a_ready_deployment(respx_mock, together):
    route = respx_mock.get(ONE).respond(200, json=fixture("deployment_ready"))
    remote = together.get("dep_abc123")
    request = assert_sent(route, "GET", "/v1/deployments/dep_abc123")
    assert request.content == b""
    assert remote.external_id == "dep_abc123"
    assert remote.name == "flux-worker"
    assert remote.state == RemoteState.RUNNING
    assert remote.vendor_state == "Ready"
    assert (remote.replicas_ready, remote.replicas_desired) == (1, 1)
    assert remote.primary_url == f"{BASE}/deployment-request/flux-worker"
    assert remote.price_per_hour == ESTIMATED_GPU_HOURLY_USD["h100-80gb"]


def test_together_get_escapes_the_reference_in_the_path(respx_mock, together):
    route = respx_mock.get(f"{DEPLOYMENTS}/a%2Fb").respond(200, json=fixture("deployment_ready"))
    together.get("a/b")
    assert route.calls.last.request.url.raw_path == b"/v1/deployments/a%2Fb"


def test_together_get_prices_every_ready_replica_and_gpu(respx_mock, together):
    item = {**fixture("deployment_ready"), "gpu_type": "b200-192gb", "gpu_count": 2, "ready_replicas": 3}
    respx_mock.get(ONE).respond(200, json=item)
    assert together.get("dep_abc123").price_per_hour == ESTIMATED_GPU_HOURLY_USD["b200-192gb"] * 2 * 3


def test_together_get_of_a_failed_deployment_names_the_replica_problem(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/dep_def456").respond(200, json=fixture("deployment_failed"))
    remote = together.get("dep_def456")
    assert remote.state == RemoteState.FAILED
    assert remote.vendor_state == "Failed"
    assert remote.message == "broken-worker-5c2aa-q8wr1: CrashLoopBackOff: back-off 40s restarting failed container"


def test_together_list_parses_every_item_in_one_call(respx_mock, together):
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=fixture("deployment_list"))
    remotes = list(together.list_remotes())
    request = assert_sent(route, "GET", "/v1/deployments")
    assert request.url.query == b""  # the route has no pagination [V]
    assert route.call_count == 1
    assert [(r.external_id, r.name, r.state, r.vendor_state) for r in remotes] == [
        ("dep_abc123", "flux-worker", RemoteState.RUNNING, "Ready"),
        ("dep_def456", "broken-worker", RemoteState.FAILED, "Failed"),
    ]
    assert [(r.replicas_ready, r.replicas_desired) for r in remotes] == [(1, 1), (0, 1)]
    assert [r.primary_url for r in remotes] == [
        f"{BASE}/deployment-request/flux-worker",
        f"{BASE}/deployment-request/broken-worker",
    ]
    assert remotes[0].price_per_hour == Decimal("3.36")
    assert remotes[1].price_per_hour == Decimal("0")


def test_together_list_of_an_empty_project(respx_mock, together):
    respx_mock.get(DEPLOYMENTS).respond(200, json={"object": "list", "data": []})
    assert list(together.list_remotes()) == []


def test_together_update_sends_complete_lists_and_autoscaling_off(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    spec = {**MINIMAL, "image": f"{IMAGE}-v2", "min_replicas": 1, "max_replicas": 2}
    remote = together.update("dep_abc123", spec)
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    # PATCH replaces env and volumes wholesale, {} turns autoscaling off, "" health checks [V].
    assert sent_json(route) == {
        "name": "flux-worker",
        "image": f"{IMAGE}-v2",
        "gpu_type": "h100-80gb",
        "min_replicas": 1,
        "max_replicas": 2,
        "environment_variables": [],
        "volumes": [],
        "autoscaling": {},
        "health_check_path": "",
    }
    assert remote.state == RemoteState.UPDATING


def test_together_update_sends_the_full_env_and_volume_lists(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    remote = together.update("dep_abc123", copy.deepcopy(SEED_CREATE), previous=MINIMAL)
    body = sent_json(route)
    assert body == SEED_CREATE
    assert body["environment_variables"] == SEED_CREATE["environment_variables"]
    assert body["volumes"] == SEED_CREATE["volumes"]
    assert remote.external_id == "dep_abc123"


def test_together_update_treats_missing_lists_as_empty(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    together.update("dep_abc123", {**MINIMAL, "environment_variables": None, "volumes": None, "autoscaling": None})
    body = sent_json(route)
    assert (body["environment_variables"], body["volumes"], body["autoscaling"]) == ([], [], {})


def test_together_update_refuses_a_bad_spec_without_a_request(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    with pytest.raises(SpecError) as caught:
        together.update("dep_abc123", {**MINIMAL, "memory": 2000})
    assert set(caught.value.fields) == {"memory"}
    assert route.call_count == 0


def test_together_scale_patches_only_the_replica_bounds(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    remote = together.scale("dep_abc123", {"min_replicas": 2, "max_replicas": 4, "image": "ignored"})
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == {"min_replicas": 2, "max_replicas": 4}
    assert remote.state == RemoteState.UPDATING
    assert remote.vendor_state == "Scaling"
    assert (remote.replicas_ready, remote.replicas_desired) == (1, 2)


def test_together_scale_defaults_max_to_min(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    together.scale("dep_abc123", {"min_replicas": 3})
    assert sent_json(route) == {"min_replicas": 3, "max_replicas": 3}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_replicas": 2}, "min_replicas", "This field is required."),
        ({"min_replicas": 0, "max_replicas": 0}, "max_replicas", "At least 1; to stop it, use Stop."),
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas", "Must be at least the minimum replicas."),
        ({"min_replicas": -1, "max_replicas": 2}, "min_replicas", "Cannot be negative (0 scales to zero)."),
    ],
)
def test_together_scale_refuses_bad_bounds(respx_mock, together, changes, field, message):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    with pytest.raises(SpecError) as caught:
        together.scale("dep_abc123", changes)
    assert message in caught.value.fields[field]
    assert route.call_count == 0


def test_together_stop_patches_both_bounds_to_zero(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_stopping"))
    remote = together.stop("dep_abc123", copy.deepcopy(SEED_CREATE))
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == {"min_replicas": 0, "max_replicas": 0}
    assert remote.state == RemoteState.STOPPING
    assert remote.vendor_state == "Scaling"


def test_together_get_of_a_stopped_deployment_is_stopped(respx_mock, together):
    respx_mock.get(ONE).respond(200, json=fixture("deployment_stopped"))
    remote = together.get("dep_abc123")
    assert remote.state == RemoteState.STOPPED
    assert (remote.replicas_ready, remote.replicas_desired) == (0, 0)
    assert remote.price_per_hour == Decimal("0")


@pytest.mark.parametrize(
    ("spec", "bounds"),
    [
        ({"min_replicas": 2, "max_replicas": 5}, {"min_replicas": 2, "max_replicas": 5}),
        ({"min_replicas": 0, "max_replicas": 3}, {"min_replicas": 1, "max_replicas": 3}),
        ({"min_replicas": 4, "max_replicas": 1}, {"min_replicas": 4, "max_replicas": 4}),
        ({"min_replicas": None}, {"min_replicas": 1, "max_replicas": 1}),
        ({}, {"min_replicas": 1, "max_replicas": 1}),
    ],
)
def test_together_start_patches_the_specs_bounds_with_at_least_one(respx_mock, together, spec, bounds):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    remote = together.start("dep_abc123", spec)
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == bounds
    assert remote.state == RemoteState.UPDATING


def test_together_delete_sends_delete(respx_mock, together):
    route = respx_mock.delete(ONE).respond(200, json={})
    assert together.delete("dep_abc123") is None
    request = assert_sent(route, "DELETE", "/v1/deployments/dep_abc123")
    assert request.content == b""


def test_together_logs_reads_the_lines_of_one_replica(respx_mock, together):
    route = respx_mock.get(f"{ONE}/logs").respond(200, json=fixture("logs"))
    logs = together.logs("dep_abc123", replica_id="flux-worker-7d9f8-x2kqp")
    request = assert_sent(route, "GET", "/v1/deployments/dep_abc123/logs")
    assert dict(request.url.params) == {"replica_id": "flux-worker-7d9f8-x2kqp"}
    assert logs == LogLines(lines=["INFO Setup in progress... 0", "INFO ready"], source="flux-worker-7d9f8-x2kqp")


def test_together_logs_of_every_replica_send_no_query(respx_mock, together):
    route = respx_mock.get(f"{ONE}/logs").respond(200, json={"lines": None})
    logs = together.logs("dep_abc123")
    assert route.calls.last.request.url.query == b""
    assert logs.lines == []


@pytest.mark.parametrize(("count", "summary"), [(1, "1 container deployment "), (2, "2 container deployments ")])
def test_together_verify_lists_the_project(respx_mock, together, count, summary):
    listing = fixture("deployment_list")
    listing["data"] = listing["data"][:count]
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=listing)
    info = together.verify()
    assert_sent(route, "GET", "/v1/deployments")
    assert info.summary == f"Key accepted: {summary.strip()} in this project."


def test_together_find_by_name_gets_by_name(respx_mock, together):
    route = respx_mock.get(f"{DEPLOYMENTS}/flux-worker").respond(200, json=fixture("deployment_ready"))
    remote = together.find_by_name("flux-worker")
    assert_sent(route, "GET", "/v1/deployments/flux-worker")
    assert remote is not None
    assert (remote.external_id, remote.name, remote.state) == ("dep_abc123", "flux-worker", RemoteState.RUNNING)


def test_together_find_by_name_returns_none_when_absent(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/ghost").respond(404, json=fixture("error_not_found"))
    assert together.find_by_name("ghost") is None


def test_together_catalog_prices_single_gpus_from_hardware(respx_mock, together):
    route = respx_mock.get(f"{BASE}/hardware").respond(200, json=fixture("hardware"))
    offers = together.catalog()
    assert_sent(route, "GET", "/v1/hardware")
    assert [o.sku for o in offers] == list(GPU_TYPES)
    by_sku = {o.sku: o for o in offers}
    # cents per minute * 60 / 100 = USD per hour; 2x and unknown hardware are left out.
    assert by_sku["h100-80gb"].price_per_hour == Decimal("3.36")
    assert by_sku["h100-80gb"].available is True
    assert by_sku["h100-80gb"].gpu_memory_gb == 80
    assert by_sku["h100-80gb"].raw["id"] == "1x_nvidia_h100_80gb_sxm"
    assert by_sku["b200-192gb"].price_per_hour == Decimal("9.9")
    assert by_sku["b200-192gb"].available is False  # "insufficient"
    assert by_sku["h100-40gb-mig"].price_per_hour == ESTIMATED_GPU_HOURLY_USD["h100-40gb-mig"]
    assert by_sku["h100-40gb-mig"].raw == {}


@pytest.mark.parametrize(("status", "body"), [(404, "error_not_found"), (403, "error_forbidden")])
def test_together_catalog_falls_back_to_estimates(respx_mock, together, status, body):
    respx_mock.get(f"{BASE}/hardware").respond(status, json=fixture(body))
    offers = together.catalog()
    assert {o.sku: o.price_per_hour for o in offers} == ESTIMATED_GPU_HOURLY_USD


def test_together_catalog_with_a_refused_key_raises(respx_mock, together):
    respx_mock.get(f"{BASE}/hardware").respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError):
        together.catalog()


def test_together_account_metadata_names_secrets_and_volumes(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/secrets").respond(
        200, json={"object": "list", "data": [{"id": "sec_1", "object": "secret", "name": "hf-token"}]}
    )
    respx_mock.get(f"{DEPLOYMENTS}/storage/volumes").respond(
        200, json={"object": "list", "data": [{"id": "vol_2", "object": "volume", "name": "weights"}, {"id": "x"}]}
    )
    assert together.account_metadata() == {"secrets": ["hf-token"], "volumes": ["weights"]}


# --- errors, per class ---------------------------------------------------------------------------


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


# --- the status table: one case per row -------------------------------------------------------------


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()), ids=list(STATUS_TABLE))
def test_together_status_table_row(status, state, together):
    item = {**fixture("deployment_ready"), "status": status}
    assert remote_state(item) == state
    remote = together.to_remote(item)
    assert (remote.state, remote.vendor_state) == (state, status)


def test_together_status_table_covers_the_vendors_enum():
    schemas = load_together_schema()["components"]["schemas"]
    assert set(STATUS_TABLE) == set(schemas["DeploymentStatus"]["enum"])


def test_together_remote_state_ready_with_max_zero_is_stopped():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0, "ready_replicas": 0}
    assert remote_state(item) == RemoteState.STOPPED


def test_together_remote_state_ready_scaled_to_zero_is_stopped():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 3, "desired_replicas": 0, "ready_replicas": 0}
    assert remote_state(item) == RemoteState.STOPPED


def test_together_remote_state_ready_with_min_zero_but_traffic_is_running():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 3, "desired_replicas": 2, "ready_replicas": 2}
    assert remote_state(item) == RemoteState.RUNNING


def test_together_remote_state_scaling_with_max_zero_is_stopping():
    item = {"status": "Scaling", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0, "ready_replicas": 1}
    assert remote_state(item) == RemoteState.STOPPING


def test_together_remote_state_failed_with_max_zero_stays_failed():
    item = {"status": "Failed", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0}
    assert remote_state(item) == RemoteState.FAILED


@pytest.mark.parametrize("status", ["ScaledToZero", "Pending", "", None])
def test_together_remote_state_unknown_status_is_unknown_and_logged(caplog, status):
    item = {"id": "dep_zzz", "status": status, "max_replicas": 1}
    with caplog.at_level(logging.WARNING, logger="providers.together"):
        assert remote_state(item) == RemoteState.UNKNOWN
    assert [r.getMessage() for r in caplog.records] == [
        f"together: unknown deployment status {status or ''!r} for dep_zzz"
    ]


def test_together_replica_message_skips_progress_and_healthy_replicas():
    item = {
        "replica_events": {
            "a": {"replica_status": "Running", "replica_status_reason": ""},
            "b": {"replica_status": "Waiting", "replica_status_reason": "ContainerCreating"},
            "c": {"replica_status": "Waiting", "replica_status_reason": "ImagePullBackOff"},
            "d": "not an object",
        }
    }
    assert replica_message(item) == "c: ImagePullBackOff"
    assert replica_message({"replica_events": None}) == ""


# --- check_spec: one case per rule ----------------------------------------------------------------------

ENV_OK = {"name": "MODE", "value": "fast"}


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        pytest.param(
            {"name": "bad name!"}, "name", "Use 1–100 letters, digits, underscores or hyphens.", id="name-pattern"
        ),
        pytest.param(
            {"name": "a" * 101}, "name", "Use 1–100 letters, digits, underscores or hyphens.", id="name-length"
        ),
        pytest.param({"name": ""}, "name", "This field is required.", id="name-required"),
        pytest.param({"image": None}, "image", "This field is required.", id="image-required"),
        pytest.param({"gpu_type": ""}, "gpu_type", "This field is required.", id="gpu-type-required"),
        pytest.param({"image": "my image:1"}, "image", "An image reference has no spaces", id="image-spaces"),
        pytest.param(
            {"gpu_type": "a100-80gb"},
            "gpu_type",
            "Choose one of: h100-80gb, h100-40gb-mig, b200-192gb.",
            id="gpu-type-enum",
        ),
        pytest.param({"gpu_count": 0}, "gpu_count", "Between 1 and 8 GPUs per replica.", id="gpu-count-low"),
        pytest.param({"gpu_count": 9}, "gpu_count", "Between 1 and 8 GPUs per replica.", id="gpu-count-high"),
        pytest.param({"gpu_count": 1.5}, "gpu_count", "Must be a whole number.", id="gpu-count-whole"),
        pytest.param({"cpu": 0.05}, "cpu", "At least 0.1 cores (0.1 = 100 millicores).", id="cpu-min"),
        pytest.param({"cpu": "four"}, "cpu", "Must be a number.", id="cpu-number"),
        pytest.param({"memory": 1000.5}, "memory", "More than 0 and at most 1000 GiB.", id="memory-max"),
        pytest.param({"memory": 0}, "memory", "More than 0 and at most 1000 GiB.", id="memory-positive"),
        pytest.param({"storage": 401}, "storage", "Between 0 and 400 GiB.", id="storage-max"),
        pytest.param({"port": 0}, "port", "A port between 1 and 65535.", id="port-low"),
        pytest.param({"port": 65536}, "port", "A port between 1 and 65535.", id="port-high"),
        pytest.param({"health_check_path": "health"}, "health_check_path", "A path such as /health.", id="health-path"),
        pytest.param(
            {"min_replicas": 3, "max_replicas": 2},
            "max_replicas",
            "Must be at least the minimum replicas.",
            id="max-ge-min",
        ),
        pytest.param(
            {"min_replicas": 0, "max_replicas": 0},
            "max_replicas",
            "At least 1, or nothing will ever run.",
            id="max-zero",
        ),
        pytest.param({"min_replicas": -1}, "min_replicas", "Cannot be negative (0 scales to zero).", id="min-negative"),
        pytest.param(
            {"termination_grace_period_seconds": -5},
            "termination_grace_period_seconds",
            "Cannot be negative.",
            id="grace",
        ),
        pytest.param({"command": "python app.py"}, "command", "A list of strings.", id="command-list"),
        pytest.param({"args": ["--port", 8000]}, "args", "A list of strings.", id="args-strings"),
        pytest.param(
            {"environment_variables": [{"name": "1BAD", "value": "x"}]},
            "environment_variables.0.name",
            "Start with a letter or underscore; then letters, digits, underscores.",
            id="env-name-pattern",
        ),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN", "value": "x", "value_from_secret": "hf-token"}]},
            "environment_variables.0.value",
            "Give either a value or a secret, not both and not neither.",
            id="env-both",
        ),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN"}]},
            "environment_variables.0.value",
            "Give either a value or a secret, not both and not neither.",
            id="env-neither",
        ),
        pytest.param(
            {"environment_variables": [ENV_OK, {"name": "MODE", "value": "slow"}]},
            "environment_variables.1.name",
            "MODE is set twice.",
            id="env-duplicate",
        ),
        pytest.param(
            {"environment_variables": "MODE=fast"}, "environment_variables", "A list of variables.", id="env-list"
        ),
        pytest.param(
            {"volumes": [{"name": "weights", "mount_path": "models"}]},
            "volumes.0.mount_path",
            "An absolute path such as /models.",
            id="volume-absolute",
        ),
        pytest.param(
            {"volumes": [{"name": "a", "mount_path": "/m"}, {"name": "b", "mount_path": "/m"}]},
            "volumes.1.mount_path",
            "/m is mounted twice.",
            id="volume-unique",
        ),
        pytest.param(
            {"volumes": [{"mount_path": "/m"}]},
            "volumes.0.name",
            "Name an existing volume (name or id).",
            id="volume-name",
        ),
        pytest.param(
            {"volumes": [{"name": "a", "mount_path": "/m", "version": 0}]},
            "volumes.0.version",
            "A version number of 1 or more.",
            id="volume-version",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CPUUtilization"}},
            "autoscaling.metric",
            "Choose one of: HTTPTotalRequests, HTTPAvgRequestDuration, QueueBacklogPerWorker, CustomMetric.",
            id="autoscaling-metric",
        ),
        pytest.param(
            {"autoscaling": {"metric": "HTTPTotalRequests", "target": 0}},
            "autoscaling.target",
            "A number above 0.",
            id="autoscaling-target",
        ),
        pytest.param(
            {"autoscaling": {"metric": "QueueBacklogPerWorker", "target": "1.05"}},
            "autoscaling.target",
            "A number above 0.",
            id="autoscaling-target-number",
        ),
        pytest.param(
            {"autoscaling": {"metric": "HTTPAvgRequestDuration", "time_interval_minutes": 0}},
            "autoscaling.time_interval_minutes",
            "Whole minutes, 1 or more.",
            id="autoscaling-interval",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CustomMetric", "custom_metric_name": "9lives"}},
            "autoscaling.custom_metric_name",
            "A Prometheus metric name: letters, digits, _ and :, not starting with a digit.",
            id="custom-metric-name",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CustomMetric"}},
            "autoscaling.custom_metric_name",
            "A Prometheus metric name: letters, digits, _ and :, not starting with a digit.",
            id="custom-metric-required",
        ),
    ],
)
def test_together_check_spec_rule(changes, path, message):
    with pytest.raises(SpecError) as caught:
        check_spec({**MINIMAL, **changes})
    assert set(caught.value.fields) == {path}
    assert any(text.startswith(message) for text in caught.value.fields[path]), caught.value.fields


@pytest.mark.parametrize(
    "changes",
    [
        {"environment_variables": [{"name": 5, "value": "x"}]},
        {"volumes": [{"name": "a", "mount_path": 5}]},
        {"autoscaling": {"metric": "CustomMetric", "custom_metric_name": 5}},
    ],
    ids=["env-name", "mount-path", "custom-metric"],
)
def test_together_check_spec_refuses_wrong_types_without_crashing(changes):
    with pytest.raises(SpecError):
        check_spec({**MINIMAL, **changes})


def test_together_check_spec_collects_every_error_at_once():
    with pytest.raises(SpecError) as caught:
        check_spec({"gpu_count": 0, "memory": 5000})
    assert set(caught.value.fields) == {"name", "image", "gpu_type", "gpu_count", "memory"}


def test_together_check_spec_accepts_the_seed_request_unchanged():
    assert check_spec(copy.deepcopy(SEED_CREATE)) == SEED_CREATE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"metric": "HTTPTotalRequests"}, {"metric": "HTTPTotalRequests", "target": 100}),
        (
            {"metric": "HTTPAvgRequestDuration", "time_interval_minutes": 5},
            {"metric": "HTTPAvgRequestDuration", "target": 500, "time_interval_minutes": 5},
        ),
        (
            {"metric": "QueueBacklogPerWorker", "model": "m"},
            {"metric": "QueueBacklogPerWorker", "target": 1.01, "model": "m"},
        ),
        (
            {"metric": "CustomMetric", "custom_metric_name": "jobs:waiting"},
            {"metric": "CustomMetric", "target": 500, "custom_metric_name": "jobs:waiting"},
        ),
    ],
)
def test_together_check_spec_fills_autoscaling_defaults(given, expected):
    assert check_spec({**MINIMAL, "autoscaling": given})["autoscaling"] == expected


def test_together_check_spec_partial_keeps_the_off_switches():
    body = check_spec({"health_check_path": "", "autoscaling": {}, "max_replicas": 0}, partial=True)
    assert body == {"health_check_path": "", "autoscaling": {}, "max_replicas": 0}


def test_together_gpu_types_match_the_seed_enum():
    schemas = load_together_schema()["components"]["schemas"]
    assert list(GPU_TYPES) == schemas["CreateDeploymentRequest"]["properties"]["gpu_type"]["enum"]


# --- the seed's OpenAPI: every body the adapter sends, every fixture it reads ----------------------------


def _schemas() -> dict[str, Any]:
    return load_together_schema()["components"]


def create_validator() -> Draft202012Validator:
    components = _schemas()
    return Draft202012Validator({"components": components, "$ref": "#/components/schemas/CreateDeploymentRequest"})


def patch_validator(*, autoscaling_off: bool = False) -> Draft202012Validator:
    """CreateDeploymentRequest minus ``required``: UpdateDeploymentRequest is "the create
    fields, all optional" (notes §2). With ``autoscaling_off`` it also takes ``{}``, which
    the notes (§4) and the SDK (jig_update_params: "Set to {} to disable") document but
    the seed's oneOf of three open objects cannot express."""
    components = _schemas()
    schema = copy.deepcopy(components["schemas"]["CreateDeploymentRequest"])
    del schema["required"]
    if autoscaling_off:
        original = schema["properties"]["autoscaling"]
        schema["properties"]["autoscaling"] = {"anyOf": [{"type": "object", "maxProperties": 0}, original]}
    return Draft202012Validator({"components": components, **schema})


def response_validator() -> Draft202012Validator:
    components = _schemas()
    return Draft202012Validator({"components": components, "$ref": "#/components/schemas/DeploymentResponseItem"})


def errors_of(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


FULL_CREATE = {
    **SEED_CREATE,
    "command": ["/bin/sh", "-c"],
    "args": ["python", "app.py"],
    "environment_variables": [
        {"name": "MODEL_PATH", "value": "/models/weights"},
        {"name": "HF_TOKEN", "value_from_secret": "hf-token"},
    ],
    "volumes": [{"name": "flux-weights", "mount_path": "/models", "version": 2}, {"name": "vae", "mount_path": "/vae"}],
}
AUTOSCALING_KINDS = {
    "http-total": {"metric": "HTTPTotalRequests", "target": 120, "time_interval_minutes": 5},
    "http-duration": {"metric": "HTTPAvgRequestDuration", "target": 250.5},
    "queue": {"metric": "QueueBacklogPerWorker", "target": 1.01, "model": "flux-queue"},
    "custom": {"metric": "CustomMetric", "target": 500, "custom_metric_name": "jobs:waiting_total"},
}


def test_together_openapi_every_create_body_is_a_create_deployment_request(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    validator = create_validator()
    bodies = []
    for autoscaling in AUTOSCALING_KINDS.values():
        together.create({**copy.deepcopy(FULL_CREATE), "autoscaling": autoscaling})
        bodies.append(sent_json(route))
    together.create(dict(MINIMAL))
    bodies.append(sent_json(route))
    for body in bodies:
        assert errors_of(validator, body) == []
    # Between them the bodies use every field the schema defines, and nothing else.
    properties = set(_schemas()["schemas"]["CreateDeploymentRequest"]["properties"])
    assert set().union(*bodies) == properties
    assert {b["autoscaling"]["metric"] for b in bodies if "autoscaling" in b} == {
        k["metric"] for k in AUTOSCALING_KINDS.values()
    }
    env = bodies[0]["environment_variables"]
    assert {"value", "value_from_secret"} <= {key for item in env for key in item}
    assert bodies[0]["volumes"][0]["version"] == 2


def test_together_openapi_every_patch_body_is_an_update(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    strict = patch_validator()
    bodies = {}
    for kind, autoscaling in AUTOSCALING_KINDS.items():
        together.update("dep_abc123", {**copy.deepcopy(FULL_CREATE), "autoscaling": autoscaling})
        bodies[f"update-{kind}"] = sent_json(route)
    together.scale("dep_abc123", {"min_replicas": 2, "max_replicas": 4})
    bodies["scale"] = sent_json(route)
    together.stop("dep_abc123", FULL_CREATE)
    bodies["stop"] = sent_json(route)
    together.start("dep_abc123", FULL_CREATE)
    bodies["start"] = sent_json(route)
    for name, body in bodies.items():
        assert errors_of(strict, body) == [], name


def test_together_openapi_update_with_autoscaling_off_differs_from_the_seed_only_there(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    together.update("dep_abc123", {**copy.deepcopy(FULL_CREATE), "autoscaling": None})
    body = sent_json(route)
    assert body["autoscaling"] == {}
    assert errors_of(patch_validator(autoscaling_off=True), body) == []
    # The seed's oneOf cannot say "{} means off"; that one field is the only complaint.
    assert [error.split(":")[0] for error in errors_of(patch_validator(), body)] == ["autoscaling"]


def test_together_openapi_validators_are_not_vacuous():
    assert errors_of(create_validator(), {**MINIMAL, "gpu_type": "a100-80gb"})
    assert errors_of(create_validator(), {"image": IMAGE, "gpu_type": "h100-80gb"})
    assert errors_of(patch_validator(), {"memory": 2000})
    assert errors_of(patch_validator(), {"autoscaling": {"metric": "HTTPTotalRequests", "target": "1.05"}})
    assert errors_of(response_validator(), {"status": "Running"})


@pytest.mark.parametrize(
    "name",
    [
        "deployment_ready",
        "deployment_updating",
        "deployment_scaling",
        "deployment_stopping",
        "deployment_stopped",
        "deployment_failed",
    ],
)
def test_together_openapi_fixture_is_a_deployment_response_item(name):
    assert errors_of(response_validator(), fixture(name)) == []


def test_together_openapi_list_fixture_holds_deployment_response_items():
    listing = fixture("deployment_list")
    assert listing["object"] == "list"
    validator = response_validator()
    assert [errors_of(validator, item) for item in listing["data"]] == [[], []]
