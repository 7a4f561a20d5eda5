"""The Together twin, driven two ways: through Django's test client (its routes, shapes,
status codes and progression) and through the real adapter over HTTP against
``live_server`` (what the panel's workers actually do). Every deployment body it
returns must be a ``DeploymentResponseItem`` of the seed's schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.vendors.together.twin import SEEDED_SECRETS, SEEDED_VOLUMES, response_validator
from providers.base import AuthError, NotFound, RateLimited, RemoteState, SpecError, Transient
from providers.together import TogetherProvider

ROOT = "/sandbox/together/v1"
KEY = "sandbox-alpha"
IMAGE = "registry.together.ai/proj_sandbox/worker:1"
CREATE = {
    "name": "sb-worker",
    "description": "sandbox worker",
    "image": IMAGE,
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "cpu": 4,
    "memory": 32,
    "storage": 100,
    "min_replicas": 1,
    "max_replicas": 2,
    "port": 8000,
    "health_check_path": "/health",
    "environment_variables": [
        {"name": "HF_TOKEN", "value_from_secret": "hf-token"},
        {"name": "MODE", "value": "fast"},
    ],
    "volumes": [{"name": "demo-weights", "mount_path": "/models"}],
}


def call(client, method: str, path: str, body: Any = None, *, key: str | None = KEY, raw: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None or raw is not None:
        kwargs.update(data=raw if raw is not None else json.dumps(body), content_type="application/json")
    return getattr(client, method.lower())(f"{ROOT}{path}", **kwargs)


def deployment_body(response, status: int = 200) -> dict[str, Any]:
    """The body of a deployment route, held to the seed's DeploymentResponseItem."""
    assert response.status_code == status, response.content
    body = response.json()
    assert [e.message for e in response_validator().iter_errors(body)] == []
    return body


def error_body(response, status: int) -> dict[str, Any]:
    """Together's ErrorData: {"error": {message, type, param, code}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def instant(settings, db):
    """Rollouts finish at the next read: no test waits for the simulated provisioning."""
    settings.SANDBOX_PROVISION_SECONDS = 0
    return settings


def create(client, body: dict[str, Any] | None = None, *, key: str = KEY) -> dict[str, Any]:
    return deployment_body(call(client, "POST", "/deployments", body or CREATE, key=key))


# --- auth and accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tg-live-0123456789", "Basic sandbox-alpha", "Bearer ", "sandbox-alpha"],
    ids=["missing", "not-a-sandbox-key", "wrong-scheme", "empty-token", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/deployments", "/deployments/sb-worker", "/hardware"])
def test_together_sandbox_refuses_a_bad_key_like_together(client, db, authorization, path):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get(f"{ROOT}{path}", headers=headers)
    error = error_body(response, 401)
    assert error["message"].startswith("Invalid API key provided.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")


def test_together_sandbox_keys_are_isolated_accounts(client, instant):
    mine = create(client, key="sandbox-alpha")
    create(client, {**CREATE, "image": f"{IMAGE}-b"}, key="sandbox-beta")  # same name, other account
    alpha = call(client, "GET", "/deployments", key="sandbox-alpha").json()
    beta = call(client, "GET", "/deployments", key="sandbox-beta").json()
    assert [d["image"] for d in alpha["data"]] == [IMAGE]
    assert [d["image"] for d in beta["data"]] == [f"{IMAGE}-b"]
    error_body(call(client, "GET", f"/deployments/{mine['id']}", key="sandbox-beta"), 404)
    error_body(call(client, "DELETE", f"/deployments/{mine['id']}", key="sandbox-beta"), 404)
    assert call(client, "GET", f"/deployments/{mine['id']}", key="sandbox-alpha").status_code == 200
    # Accounts are digests of the key: the key itself is never stored.
    assert not SandboxObject.objects.filter(account__contains="sandbox").exists()
    assert set(SandboxObject.objects.values_list("account", flat=True)) == {
        account_for_key("sandbox-alpha"),
        account_for_key("sandbox-beta"),
    }


# --- lifecycle ----------------------------------------------------------------------------------------------


def test_together_sandbox_create_is_updating_then_ready(client, instant):
    created = create(client)
    assert created["id"].startswith("dep_")
    assert created["object"] == "deployment"
    assert (created["status"], created["ready_replicas"], created["desired_replicas"]) == ("Updating", 0, 1)
    assert (created["min_replicas"], created["max_replicas"]) == (1, 2)
    assert created["environment_variables"] == CREATE["environment_variables"]
    assert created["volumes"] == CREATE["volumes"]
    [waiting] = created["replica_events"].values()
    assert (waiting["replica_status"], waiting["replica_status_reason"]) == ("Waiting", "ContainerCreating")

    ready = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (ready["status"], ready["ready_replicas"], ready["desired_replicas"]) == ("Ready", 1, 1)
    [running] = ready["replica_events"].values()
    assert running["replica_status"] == "Running"
    assert running["replica_ready_since"]
    assert running["volume_preload_status"] == "Completed"


def test_together_sandbox_create_stays_updating_while_provisioning(client, db, settings):
    settings.SANDBOX_PROVISION_SECONDS = 3600
    created = create(client)
    again = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (again["status"], again["ready_replicas"]) == ("Updating", 0)


def test_together_sandbox_create_defaults_follow_the_spec(client, instant):
    created = create(client, {"name": "bare", "image": IMAGE, "gpu_type": "b200-192gb"})
    # gpu_count defaults to 0, min to 1 and max to min [V].
    assert (created["gpu_count"], created["min_replicas"], created["max_replicas"]) == (0, 1, 1)


def test_together_sandbox_keeps_the_capacity_type(client, instant):
    # capacity_type: together 3.1.1, types/beta/jig_deploy_params.py, jig_update_params.py, deployment.py.
    created = create(client, {**CREATE, "capacity_type": "preemptible"})
    assert created["capacity_type"] == "preemptible"
    patched = deployment_body(call(client, "PATCH", f"/deployments/{created['id']}", {"capacity_type": "stable"}))
    assert patched["capacity_type"] == "stable"
    refused = error_body(
        call(client, "POST", "/deployments", {**CREATE, "name": "sb-spot", "capacity_type": "spot"}), 400
    )
    assert refused["param"] == "capacity_type"


def test_together_sandbox_takes_the_sdks_h200(client, instant):
    # gpu_type h200-140gb: together 3.1.1, types/beta/jig_deploy_params.py and deployment.py.
    created = create(client, {**CREATE, "gpu_type": "h200-140gb"})
    ready = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (ready["gpu_type"], ready["status"]) == ("h200-140gb", "Ready")


def test_together_sandbox_gets_by_id_and_by_name_and_lists(client, instant):
    created = create(client)
    second = create(client, {**CREATE, "name": "sb-other"})
    by_id = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    by_name = deployment_body(call(client, "GET", "/deployments/sb-worker"))
    assert by_id["id"] == by_name["id"] == created["id"]
    listing = call(client, "GET", "/deployments")
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    assert [d["id"] for d in body["data"]] == [created["id"], second["id"]]
    for item in body["data"]:
        assert [e.message for e in response_validator().iter_errors(item)] == []
    error_body(call(client, "GET", "/deployments/nope"), 404)


def test_together_sandbox_patch_scale_goes_through_scaling_to_ready(client, instant):
    created = create(client)
    deployment_body(call(client, "GET", f"/deployments/{created['id']}"))  # Ready
    scaling = deployment_body(
        call(client, "PATCH", f"/deployments/{created['id']}", {"min_replicas": 2, "max_replicas": 3})
    )
    assert (scaling["status"], scaling["desired_replicas"]) == ("Scaling", 2)
    assert scaling["ready_replicas"] <= 1
    ready = deployment_body(call(client, "GET", "/deployments/sb-worker"))
    assert (ready["status"], ready["ready_replicas"], ready["desired_replicas"]) == ("Ready", 2, 2)
    assert len(ready["replica_events"]) == 2


def test_together_sandbox_patch_to_zero_parks_the_deployment(client, instant):
    created = create(client)
    deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    stopping = deployment_body(
        call(client, "PATCH", f"/deployments/{created['id']}", {"min_replicas": 0, "max_replicas": 0})
    )
    assert (stopping["status"], stopping["desired_replicas"], stopping["max_replicas"]) == ("Scaling", 0, 0)
    parked = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    # Settled, a stop reads ScaledToZero (together 3.1.1, types/beta/container_deployment_status.py).
    assert (parked["status"], parked["ready_replicas"], parked["desired_replicas"]) == ("ScaledToZero", 0, 0)
    assert parked["replica_events"] == {}


def test_together_sandbox_min_zero_with_room_to_scale_settles_ready(client, instant):
    # Only a stop (min = max = 0) is known to read ScaledToZero; an idle min 0 stays Ready.
    created = create(client, {**CREATE, "min_replicas": 0, "max_replicas": 2})
    idle = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (idle["status"], idle["ready_replicas"], idle["desired_replicas"]) == ("Ready", 0, 0)


def test_together_sandbox_patch_of_the_image_rolls_out_a_new_revision(client, instant):
    created = create(client)
    before = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    updating = deployment_body(call(client, "PATCH", f"/deployments/{created['id']}", {"image": f"{IMAGE}-v2"}))
    assert (updating["status"], updating["ready_replicas"]) == ("Updating", 0)
    after = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    [old] = before["replica_events"].values()
    [new] = after["replica_events"].values()
    history = call(client, "GET", f"/deployments/{created['id']}/revisions").json()["data"]
    assert [(e["revision_number"], e["action"]) for e in history] == [(2, "update"), (1, "create")]
    assert (old["revision_id"], new["revision_id"]) == (history[1]["revision_id"], history[0]["revision_id"])
    assert new["image"] == f"{IMAGE}-v2"


# --- revisions and rollback (together 3.1.1: types/beta/deployment_revision*.py, jig.py) ---------


def test_together_sandbox_lists_revisions_newest_first_in_the_sdk_shape(client, instant):
    created = create(client)
    ref = created["id"]
    call(client, "PATCH", f"/deployments/{ref}", {"image": f"{IMAGE}-v2"})
    call(client, "PATCH", f"/deployments/{ref}", {"min_replicas": 2, "max_replicas": 2})  # a scale: no revision
    answer = call(client, "GET", f"/deployments/{ref}/revisions")
    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "list"
    newest, first = body["data"]
    fields = {"object", "event_number", "action", "activated_at", "image", "revision_id", "revision_number"}
    assert set(newest) == fields
    assert (newest["object"], newest["event_number"], newest["image"]) == ("revision_event", 2, f"{IMAGE}-v2")
    paged = call(client, "GET", f"/deployments/{ref}/revisions?before=2&limit=1").json()["data"]
    assert [e["event_number"] for e in paged] == [1]
    assert call(client, "GET", f"/deployments/{ref}/revisions?limit=101").status_code == 400
    # Each revision keeps its configuration (DeploymentRevision), by number or id.
    one = call(client, "GET", f"/deployments/{ref}/revisions/1").json()
    assert (one["object"], one["image"], one["revision_id"]) == ("revision", IMAGE, first["revision_id"])
    assert call(client, "GET", f"/deployments/{ref}/revisions/{first['revision_id']}").json() == one
    assert call(client, "GET", f"/deployments/{ref}/revisions/9").status_code == 404


def test_together_sandbox_rollback_reapplies_an_older_revision(client, instant):
    ref = create(client)["id"]
    call(client, "PATCH", f"/deployments/{ref}", {"image": f"{IMAGE}-v2", "min_replicas": 2, "max_replicas": 2})
    rolled = deployment_body(call(client, "POST", f"/deployments/{ref}/rollback", {"revision_identifier": "1"}))
    assert (rolled["status"], rolled["image"]) == ("Updating", IMAGE)
    assert (rolled["min_replicas"], rolled["max_replicas"]) == (2, 2)  # the bounds stay (ours)
    newest = call(client, "GET", f"/deployments/{ref}/revisions").json()["data"][0]
    assert (newest["action"], newest["revision_number"], newest["event_number"]) == ("rollback", 1, 3)
    assert call(client, "POST", f"/deployments/{ref}/rollback", {}).status_code == 400
    missing = call(client, "POST", f"/deployments/{ref}/rollback", {"revision_identifier": "7"})
    assert missing.status_code == 404


def test_together_sandbox_takes_one_model_mount_and_not_with_volumes(client, instant):
    mount = {"model_id": "ml_abc123", "mount_path": "/weights", "revision_id": "rv_1"}
    body = {**CREATE, "model_mounts": [mount]}
    refused = call(client, "POST", "/deployments", body)
    assert refused.status_code == 400
    assert "cannot be used with volumes" in refused.json()["error"]["message"]
    two = call(client, "POST", "/deployments", {**body, "volumes": [], "model_mounts": [mount, mount]})
    assert two.status_code == 400
    created = create(client, {**CREATE, "volumes": [], "model_mounts": [mount]})
    assert created["model_mounts"] == [mount]
    assert (
        call(
            client, "POST", "/deployments", {**CREATE, "name": "x", "model_mounts": [{"mount_path": "/m"}]}
        ).status_code
        == 400
    )


def test_together_sandbox_patch_turns_autoscaling_and_health_checks_off(client, instant):
    autoscaled = {**CREATE, "autoscaling": {"metric": "HTTPTotalRequests", "target": 100}}
    created = create(client, autoscaled)
    assert created["autoscaling"] == {"metric": "HTTPTotalRequests", "target": 100}
    # {} disables autoscaling and "" health checks on PATCH [V, notes §4; SDK jig_update_params].
    off = deployment_body(
        call(client, "PATCH", f"/deployments/{created['id']}", {"autoscaling": {}, "health_check_path": ""})
    )
    assert "autoscaling" not in off
    assert "health_check_path" not in off


def test_together_sandbox_create_takes_null_autoscaling_as_off(client, instant):
    # "Omit or set to null to disable autoscaling" (CreateDeploymentRequest.autoscaling).
    created = create(client, {**CREATE, "autoscaling": None})
    assert "autoscaling" not in created


def test_together_sandbox_patch_renames(client, instant):
    created = create(client)
    renamed = deployment_body(call(client, "PATCH", f"/deployments/{created['id']}", {"name": "sb-renamed"}))
    assert renamed["name"] == "sb-renamed"
    assert deployment_body(call(client, "GET", "/deployments/sb-renamed"))["id"] == created["id"]
    error_body(call(client, "GET", "/deployments/sb-worker"), 404)


def test_together_sandbox_delete_answers_empty_then_404(client, instant):
    created = create(client)
    deleted = call(client, "DELETE", f"/deployments/{created['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    error = error_body(call(client, "GET", f"/deployments/{created['id']}"), 404)
    assert (error["type"], error["code"]) == ("not_found_error", "not_found")
    error_body(call(client, "DELETE", f"/deployments/{created['id']}"), 404)
    error_body(call(client, "PATCH", f"/deployments/{created['id']}", {"min_replicas": 1}), 404)
    assert call(client, "GET", "/deployments").json()["data"] == []


def test_together_sandbox_logs_are_lines(client, instant):
    created = create(client)
    ready = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    response = call(client, "GET", f"/deployments/{created['id']}/logs")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lines"}
    assert all(isinstance(line, str) for line in body["lines"])
    assert f'Pulling image "{IMAGE}"' in body["lines"][0]
    assert "INFO ready" in body["lines"]
    [replica] = ready["replica_events"]
    one = client.get(
        f"{ROOT}/deployments/sb-worker/logs", {"replica_id": replica}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert one.status_code == 200
    unknown = client.get(
        f"{ROOT}/deployments/sb-worker/logs", {"replica_id": "ghost"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    error_body(unknown, 404)
    error_body(call(client, "GET", "/deployments/ghost/logs"), 404)


# --- validation ---------------------------------------------------------------------------------------


def test_together_sandbox_duplicate_name_is_a_400_on_name(client, instant):
    create(client)
    error = error_body(call(client, "POST", "/deployments", {**CREATE, "image": f"{IMAGE}-again"}), 400)
    assert (error["param"], error["code"]) == ("name", "already_exists")
    other = create(client, {**CREATE, "name": "sb-other"})
    rename = error_body(call(client, "PATCH", f"/deployments/{other['id']}", {"name": "sb-worker"}), 400)
    assert rename["param"] == "name"
    assert SandboxObject.objects.filter(kind="deployment").count() == 2


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        pytest.param({"gpu_type": "a100-80gb"}, "gpu_type", id="gpu-type-enum"),
        pytest.param({"memory": 2000}, "memory", id="memory-max"),
        pytest.param({"storage": 500}, "storage", id="storage-max"),
        pytest.param({"cpu": 0.01}, "cpu", id="cpu-min"),
        pytest.param({"port": 70000}, "port", id="port-range"),
        pytest.param({"gpu_count": "one"}, "gpu_count", id="gpu-count-type"),
        pytest.param({"name": "bad name!"}, "name", id="name-pattern"),
        pytest.param({"name": "café"}, "name", id="name-ascii"),
        pytest.param({"name": "x" * 101}, "name", id="name-length"),
        pytest.param({"image": None}, "image", id="image-type"),
        pytest.param({"min_replicas": 3, "max_replicas": 2}, "max_replicas", id="max-below-min"),
        pytest.param({"min_replicas": -1, "max_replicas": 2}, "min_replicas", id="min-negative"),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN", "value": "x", "value_from_secret": "hf-token"}]},
            "environment_variables.0.value",
            id="env-both",
        ),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN"}]}, "environment_variables.0.value", id="env-neither"
        ),
        pytest.param(
            {"environment_variables": [{"name": "1BAD", "value": "x"}]}, "environment_variables.0.name", id="env-name"
        ),
        pytest.param(
            {"environment_variables": [{"name": "TOKEN", "value_from_secret": "no-such-secret"}]},
            "environment_variables.0.value_from_secret",
            id="unknown-secret",
        ),
        pytest.param(
            {"volumes": [{"name": "no-such-volume", "mount_path": "/m"}]}, "volumes.0.name", id="unknown-volume"
        ),
        pytest.param({"volumes": [{"name": "demo-weights"}]}, "volumes.0.mount_path", id="volume-mount-path-required"),
        pytest.param(
            {"environment_variables": [{"value": "x"}]}, "environment_variables.0.name", id="env-name-required"
        ),
        pytest.param({"autoscaling": {"metric": "CPU", "target": 1}}, "autoscaling", id="autoscaling-metric"),
    ],
)
def test_together_sandbox_refuses_a_schema_violation_on_its_param(client, instant, changes, param):
    error = error_body(call(client, "POST", "/deployments", {**CREATE, **changes}), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert not SandboxObject.objects.filter(kind="deployment").exists()


@pytest.mark.parametrize("missing", ["name", "image", "gpu_type"])
def test_together_sandbox_requires_the_schemas_required_fields(client, instant, missing):
    body = {k: v for k, v in CREATE.items() if k != missing}
    error = error_body(call(client, "POST", "/deployments", body), 400)
    assert error["param"] == missing
    assert error["message"] == f"{missing} is required"


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"memory": 2000}, "memory"),
        ({"min_replicas": 3}, "max_replicas"),  # above the current max of 2
        ({"volumes": [{"name": "no-such-volume", "mount_path": "/m"}]}, "volumes.0.name"),
        ({"autoscaling": {"metric": "HTTPTotalRequests", "target": "lots"}}, "autoscaling"),
    ],
)
def test_together_sandbox_patch_is_validated_too(client, instant, changes, param):
    created = create(client)
    error = error_body(call(client, "PATCH", f"/deployments/{created['id']}", changes), 400)
    assert error["param"] == param
    unchanged = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (unchanged["memory"], unchanged["min_replicas"], unchanged["volumes"]) == (32, 1, CREATE["volumes"])


def test_together_sandbox_refuses_bodies_that_are_not_json_objects(client, instant):
    assert error_body(call(client, "POST", "/deployments", raw="{not json"), 400)["message"].startswith(
        "Request body is not valid JSON"
    )
    assert (
        error_body(call(client, "POST", "/deployments", [CREATE]), 400)["message"]
        == "Request body must be a JSON object."
    )


def test_together_sandbox_refuses_other_methods(client, instant):
    created = create(client)
    error_body(call(client, "PUT", "/deployments", CREATE), 405)
    error_body(call(client, "POST", f"/deployments/{created['id']}", CREATE), 405)


# --- simulated failures -------------------------------------------------------------------------------


def test_together_sandbox_crashloop_image_fails_with_crashloopbackoff(client, instant):
    created = create(client, {**CREATE, "image": "registry.together.ai/proj_sandbox/crashloop:1"})
    failed = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    assert (failed["status"], failed["ready_replicas"]) == ("Failed", 0)
    [event] = failed["replica_events"].values()
    assert (event["replica_status"], event["replica_status_reason"]) == ("Waiting", "CrashLoopBackOff")
    assert (
        "ERROR container exited: CrashLoopBackOff"
        in call(client, "GET", f"/deployments/{created['id']}/logs").json()["lines"]
    )


def test_together_sandbox_missing_image_fails_to_pull(client, instant):
    created = create(client, {**CREATE, "image": "registry.together.ai/proj_sandbox/does-not-exist:1"})
    failed = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    [event] = failed["replica_events"].values()
    assert (failed["status"], event["replica_status_reason"]) == ("Failed", "ImagePullBackOff")


def test_together_sandbox_fault_rate_limit_answers_429_with_retry_after(client, db):
    SandboxFault.objects.create(vendor="together", rate_limit_rate=1.0, retry_after_seconds=17)
    response = call(client, "GET", "/deployments")
    error = error_body(response, 429)
    assert response.headers["Retry-After"] == "17"
    assert error["type"] == "rate_limit_exceeded"


def test_together_sandbox_fault_error_rate_answers_503(client, db):
    SandboxFault.objects.create(vendor="together", error_rate=1.0)
    error = error_body(call(client, "POST", "/deployments", CREATE), 503)
    assert error["type"] == "server_error"
    assert not SandboxObject.objects.filter(kind="deployment").exists()


def test_together_sandbox_fault_for_every_vendor_applies(client, db):
    SandboxFault.objects.create(vendor="*", error_rate=1.0)
    error_body(call(client, "GET", "/deployments"), 503)


def test_together_sandbox_fault_for_another_vendor_does_not_apply(client, db):
    SandboxFault.objects.create(vendor="replicate", error_rate=1.0)
    assert call(client, "GET", "/deployments").status_code == 200


def test_together_sandbox_fault_no_capacity_fails_the_rollout_unschedulable(client, instant):
    SandboxFault.objects.create(vendor="together", no_capacity=True)
    created = create(client)
    assert created["status"] == "Updating"  # accepted first, like a real scheduler
    failed = deployment_body(call(client, "GET", f"/deployments/{created['id']}"))
    [event] = failed["replica_events"].values()
    assert (failed["status"], event["replica_status_reason"]) == ("Failed", "Unschedulable")
    assert "Insufficient nvidia.com/gpu" in event["replica_status_message"]
    hardware = call(client, "GET", "/hardware").json()["data"]
    assert {h["availability"]["status"] for h in hardware} == {"unavailable"}


def test_together_sandbox_every_deployment_response_matches_the_schema(client, instant):
    """One walk through every deployment route with all optional parts in play."""
    body = {
        **CREATE,
        "command": ["/bin/sh", "-c"],
        "args": ["python", "serve.py"],
        "termination_grace_period_seconds": 60,
        "autoscaling": {"metric": "CustomMetric", "target": 5, "custom_metric_name": "jobs:waiting"},
        "volumes": [{"name": "flux-weights", "mount_path": "/models", "version": 1}],
    }
    created = create(client, body)
    ref = f"/deployments/{created['id']}"
    seen = [created, deployment_body(call(client, "GET", ref))]
    for change in (
        {"min_replicas": 2, "max_replicas": 2},
        {"image": f"{IMAGE}-v2", "autoscaling": {}},
        {"autoscaling": {"metric": "QueueBacklogPerWorker", "target": 1.5, "model": "q"}},
        {"min_replicas": 0, "max_replicas": 0},
    ):
        seen.append(deployment_body(call(client, "PATCH", ref, change)))
        seen.append(deployment_body(call(client, "GET", ref)))
    crashed = create(client, {**CREATE, "name": "sb-crash", "image": "registry.together.ai/p/crashloop:1"})
    seen += [crashed, deployment_body(call(client, "GET", f"/deployments/{crashed['id']}"))]
    for item in call(client, "GET", "/deployments").json()["data"]:
        assert [e.message for e in response_validator().iter_errors(item)] == []
    assert {item["status"] for item in seen} == {"Updating", "Scaling", "Ready", "Failed", "ScaledToZero"}


# --- the rest of the account ---------------------------------------------------------------------------------


def test_together_sandbox_seeds_secrets_and_volumes_per_account(client, db):
    secrets = call(client, "GET", "/deployments/secrets").json()
    volumes = call(client, "GET", "/deployments/storage/volumes").json()
    assert secrets["object"] == volumes["object"] == "list"
    assert sorted(s["name"] for s in secrets["data"]) == sorted(SEEDED_SECRETS)
    assert all(s["object"] == "secret" and s["id"].startswith("sec_") and "value" not in s for s in secrets["data"])
    assert sorted(v["name"] for v in volumes["data"]) == sorted(SEEDED_VOLUMES)
    assert all(v["type"] == "readOnly" and v["id"].startswith("vol_") for v in volumes["data"])


def test_together_sandbox_creates_a_secret_that_env_can_reference(client, instant):
    made = call(client, "POST", "/deployments/secrets", {"name": "db-password", "value": "hunter22"})
    assert made.status_code == 200
    assert made.json()["name"] == "db-password"
    assert "hunter22" not in made.content.decode()
    error_body(call(client, "POST", "/deployments/secrets", {"name": "db-password", "value": "x"}), 400)
    env = [{"name": "DB_PASSWORD", "value_from_secret": "db-password"}]
    assert create(client, {**CREATE, "environment_variables": env})["environment_variables"] == env


def test_together_sandbox_hardware_is_a_priced_list(client, db):
    body = call(client, "GET", "/hardware").json()
    assert body["object"] == "list"
    first = body["data"][0]
    assert first["object"] == "hardware"
    assert set(first) >= {"id", "pricing", "specs", "availability", "updated_at"}
    assert first["pricing"]["cents_per_minute"] > 0
    assert set(first["specs"]) == {"gpu_type", "gpu_link", "gpu_memory", "gpu_count"}


def test_together_sandbox_deployment_request_answers_once_ready(client, db, settings):
    settings.SANDBOX_PROVISION_SECONDS = 3600
    create(client)
    error_body(call(client, "GET", "/deployment-request/sb-worker"), 503)
    settings.SANDBOX_PROVISION_SECONDS = 0
    call(client, "PATCH", "/deployments/sb-worker", {"image": f"{IMAGE}-v2"})
    response = call(client, "GET", "/deployment-request/sb-worker")
    assert response.status_code == 200
    assert response.json()["deployment"] == "sb-worker"


# --- the real adapter over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def adapter(live_server, instant) -> Iterator[TogetherProvider]:
    provider = TogetherProvider(api_key="sandbox-live-adapter", base_url=f"{live_server.url}{ROOT}", timeout=10)
    yield provider
    provider.close()


def assert_schema(remote) -> None:
    assert [e.message for e in response_validator().iter_errors(remote.raw)] == []


def test_together_adapter_runs_the_whole_lifecycle_against_the_sandbox(adapter):
    created = adapter.create(dict(CREATE))
    assert created.external_id.startswith("dep_")
    assert (created.name, created.state, created.vendor_state) == ("sb-worker", RemoteState.UPDATING, "Updating")
    assert created.primary_url == f"{adapter._http.base_url}/deployment-request/sb-worker"
    ref = created.external_id

    running = adapter.get(ref)
    assert (running.state, running.replicas_ready, running.replicas_desired) == (RemoteState.RUNNING, 1, 1)
    assert running.price_per_hour is not None
    assert running.price_per_hour > 0
    assert [r.external_id for r in adapter.list_remotes()] == [ref]
    found = adapter.find_by_name("sb-worker")
    assert found is not None
    assert found.external_id == ref
    assert adapter.find_by_name("nobody") is None

    scaling = adapter.scale(ref, {"min_replicas": 2, "max_replicas": 3})
    assert (scaling.state, scaling.vendor_state, scaling.replicas_desired) == (RemoteState.UPDATING, "Scaling", 2)
    assert adapter.get(ref).replicas_ready == 2

    spec = {**CREATE, "image": f"{IMAGE}-v2", "min_replicas": 1, "max_replicas": 1}
    spec.pop("health_check_path")
    updating = adapter.update(ref, spec, previous=CREATE)
    assert (updating.state, updating.vendor_state) == (RemoteState.UPDATING, "Updating")
    updated = adapter.get(ref)
    assert updated.state == RemoteState.RUNNING
    assert updated.raw["image"] == f"{IMAGE}-v2"
    assert "autoscaling" not in updated.raw
    assert "health_check_path" not in updated.raw

    stopping = adapter.stop(ref, spec)
    assert stopping.state == RemoteState.STOPPING
    stopped = adapter.get(ref)
    assert (stopped.state, stopped.vendor_state, stopped.replicas_ready) == (RemoteState.STOPPED, "ScaledToZero", 0)
    assert stopped.price_per_hour == 0

    adapter.start(ref, spec)
    assert adapter.get(ref).state == RemoteState.RUNNING
    logs = adapter.logs(ref)
    assert "INFO ready" in logs.lines
    for remote in (created, running, scaling, updating, updated, stopping, stopped):
        assert_schema(remote)

    history = adapter.revisions(ref)
    assert [(e["revision_number"], e["action"]) for e in history] == [(2, "update"), (1, "create")]
    rolled, kept = adapter.rollback(ref, "1", spec)
    assert (rolled.state, rolled.raw["image"]) == (RemoteState.UPDATING, IMAGE)
    assert (kept["image"], kept["health_check_path"], kept["min_replicas"]) == (IMAGE, "/health", 1)
    assert adapter.revisions(ref)[0]["action"] == "rollback"

    adapter.delete(ref)
    with pytest.raises(NotFound):
        adapter.get(ref)
    assert adapter.find_by_name("sb-worker") is None
    assert list(adapter.list_remotes()) == []


def test_together_adapter_endpoint_url_reaches_the_deployment(adapter):
    created = adapter.create(dict(CREATE))
    remote = adapter.get(created.external_id)
    response = httpx.get(remote.primary_url, headers={"Authorization": "Bearer sandbox-live-adapter"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["deployment"] == "sb-worker"


def test_together_adapter_bad_key_is_an_auth_error(live_server):
    provider = TogetherProvider(api_key="tg-not-a-sandbox-key", base_url=f"{live_server.url}{ROOT}")
    with provider, pytest.raises(AuthError) as caught:
        provider.verify()
    assert caught.value.status_code == 401
    assert caught.value.message.startswith("Invalid API key provided.")
    assert "tg-not-a-sandbox-key" not in str(caught.value)


def test_together_adapter_two_keys_are_two_projects(live_server, instant):
    base = f"{live_server.url}{ROOT}"
    with (
        TogetherProvider(api_key="sandbox-one", base_url=base) as one,
        TogetherProvider(api_key="sandbox-two", base_url=base) as two,
    ):
        made = one.create(dict(CREATE))
        assert [r.external_id for r in one.list_remotes()] == [made.external_id]
        assert list(two.list_remotes()) == []
        with pytest.raises(NotFound):
            two.get(made.external_id)
        assert two.verify().summary == "Key accepted: 0 container deployments in this project."


def test_together_adapter_duplicate_name_is_a_spec_error_on_name(adapter):
    adapter.create(dict(CREATE))
    with pytest.raises(SpecError) as caught:
        adapter.create(dict(CREATE))
    assert list(caught.value.fields) == ["name"]
    assert caught.value.fields["name"] == ["a deployment named 'sb-worker' already exists"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"environment_variables": [{"name": "T", "value_from_secret": "nope"}]},
            "environment_variables.0.value_from_secret",
        ),
        ({"volumes": [{"name": "nope", "mount_path": "/m"}]}, "volumes.0.name"),
    ],
)
def test_together_adapter_sandbox_refusal_lands_on_the_field(adapter, changes, field):
    with pytest.raises(SpecError) as caught:
        adapter.create({**CREATE, **changes})
    assert list(caught.value.fields) == [field]


def test_together_adapter_rate_limit_is_raised_with_its_wait(adapter):
    SandboxFault.objects.create(vendor="together", rate_limit_rate=1.0, retry_after_seconds=60)
    # Longer than the client's inline wait: raised at once for the task to reschedule.
    with pytest.raises(RateLimited) as caught:
        adapter.list_remotes()
    assert caught.value.retry_after == 60.0


def test_together_adapter_server_error_is_transient(adapter):
    SandboxFault.objects.create(vendor="together", error_rate=1.0)
    with pytest.raises(Transient) as caught:
        adapter.create(dict(CREATE))
    assert caught.value.status_code == 503


def test_together_adapter_no_capacity_fails_with_the_reason(adapter):
    SandboxFault.objects.create(vendor="together", no_capacity=True)
    created = adapter.create(dict(CREATE))
    failed = adapter.get(created.external_id)
    assert failed.state == RemoteState.FAILED
    assert "Unschedulable" in failed.message
    assert_schema(failed)


def test_together_no_capacity_reads_as_a_capacity_refusal_and_a_crashloop_does_not(adapter):
    from providers.neutral import refused_for_capacity

    SandboxFault.objects.create(vendor="together", no_capacity=True)
    assert refused_for_capacity(adapter.get(adapter.create(dict(CREATE)).external_id).message)
    SandboxFault.objects.filter(vendor="together").update(no_capacity=False)
    crashing = adapter.create({**CREATE, "name": "crash", "image": "registry.together.ai/proj_sandbox/crashloop:2"})
    assert not refused_for_capacity(adapter.get(crashing.external_id).message)


def test_together_adapter_crashloop_fails_with_the_reason(adapter):
    created = adapter.create({**CREATE, "image": "registry.together.ai/proj_sandbox/crashloop:2"})
    failed = adapter.get(created.external_id)
    assert failed.state == RemoteState.FAILED
    assert "CrashLoopBackOff" in failed.message


def test_together_adapter_reads_catalog_and_account_metadata(adapter):
    offers = {o.sku: o for o in adapter.catalog()}
    assert offers["h100-80gb"].price_per_hour == Decimal("3.36")
    assert offers["h100-80gb"].raw["id"] == "1x_nvidia_h100_80gb_sxm"
    assert offers["b200-192gb"].available is True
    assert adapter.account_metadata() == {"secrets": sorted(SEEDED_SECRETS), "volumes": sorted(SEEDED_VOLUMES)}
