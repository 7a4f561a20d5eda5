"""Together's own Python SDK (``together`` on PyPI), pointed at the twin: the outside
judge of fidelity. Its generated pydantic models must parse every answer, and its
error classes must see Together's status codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from together import AuthenticationError, BadRequestError, NotFoundError, RateLimitError, Together
from together.types.beta.deployment import Deployment
from together.types.beta.deployment_logs import DeploymentLogs
from together.types.beta.jig_list_response import JigListResponse

from controlpanel.sandbox.models import SandboxFault

IMAGE = "registry.together.ai/proj_sdk/worker:1"


@pytest.fixture
def sdk(live_server, settings) -> Iterator[Together]:
    settings.SANDBOX_PROVISION_SECONDS = 0  # rollouts finish at the next read
    # The SDK appends /v1/... itself (resources/beta/jig/jig.py), so the base stops
    # at the vendor root. No retries: a fault must surface, not be papered over.
    client = Together(api_key="sandbox-official", base_url=f"{live_server.url}/sandbox/together", max_retries=0)
    yield client
    client.close()


def deploy(sdk: Together, name: str = "sdk-worker", **changes) -> Deployment:
    fields = {
        "name": name,
        "gpu_type": "h100-80gb",
        "image": IMAGE,
        "gpu_count": 1,
        "cpu": 2,
        "memory": 16,
        "min_replicas": 1,
        "max_replicas": 2,
        "port": 8000,
        "health_check_path": "/health",
        "environment_variables": [
            {"name": "HF_TOKEN", "value_from_secret": "hf-token"},
            {"name": "MODE", "value": "fast"},
        ],
        "volumes": [{"name": "demo-weights", "mount_path": "/models"}],
        "autoscaling": {"metric": "HTTPTotalRequests", "target": 100, "time_interval_minutes": 5},
    }
    return sdk.beta.jig.deploy(**{**fields, **changes})


def test_together_sdk_deploy_parses_the_new_deployment(sdk):
    deployment = deploy(sdk)
    assert isinstance(deployment, Deployment)
    assert deployment.id.startswith("dep_")
    assert deployment.object == "deployment"
    assert (deployment.name, deployment.status, deployment.ready_replicas) == ("sdk-worker", "Updating", 0)
    assert (deployment.min_replicas, deployment.max_replicas, deployment.desired_replicas) == (1, 2, 1)
    assert deployment.gpu_type == "h100-80gb"
    assert deployment.environment_variables[0].value_from_secret == "hf-token"
    assert deployment.environment_variables[1].value == "fast"
    assert deployment.volumes[0].mount_path == "/models"
    assert deployment.autoscaling.metric == "HTTPTotalRequests"
    assert deployment.autoscaling.time_interval_minutes == 5
    assert deployment.created_at is not None
    [event] = deployment.replica_events.values()
    assert (event.replica_status, event.replica_status_reason) == ("Waiting", "ContainerCreating")


def test_together_sdk_retrieve_by_id_and_by_name(sdk):
    made = deploy(sdk)
    by_id = sdk.beta.jig.retrieve(made.id)
    by_name = sdk.beta.jig.retrieve("sdk-worker")
    assert by_id.id == by_name.id == made.id
    assert (by_id.status, by_id.ready_replicas, by_id.desired_replicas) == ("Ready", 1, 1)
    [event] = by_id.replica_events.values()
    assert event.replica_status == "Running"
    assert event.replica_ready_since
    assert event.volume_preload_status == "Completed"


def test_together_sdk_list_parses_every_deployment(sdk):
    first = deploy(sdk)
    second = deploy(sdk, "sdk-other", image=f"{IMAGE}-b")
    listing = sdk.beta.jig.list()
    assert isinstance(listing, JigListResponse)
    assert listing.object == "list"
    assert [d.id for d in listing.data] == [first.id, second.id]
    assert all(isinstance(d, Deployment) for d in listing.data)


def test_together_sdk_update_scales_then_turns_autoscaling_off(sdk):
    made = deploy(sdk)
    scaling = sdk.beta.jig.update(made.id, min_replicas=2, max_replicas=3)
    assert (scaling.status, scaling.desired_replicas, scaling.max_replicas) == ("Scaling", 2, 3)
    assert sdk.beta.jig.retrieve(made.id).ready_replicas == 2
    # "Set to {} to disable autoscaling" (the SDK's own update docstring).
    updated = sdk.beta.jig.update("sdk-worker", autoscaling={}, image=f"{IMAGE}-v2", health_check_path="")
    assert updated.status == "Updating"
    assert updated.autoscaling is None
    assert updated.health_check_path is None
    assert updated.image == f"{IMAGE}-v2"


def test_together_sdk_retrieve_logs_parses_lines(sdk):
    made = deploy(sdk)
    ready = sdk.beta.jig.retrieve(made.id)
    logs = sdk.beta.jig.retrieve_logs(made.id)
    assert isinstance(logs, DeploymentLogs)
    assert "INFO ready" in logs.lines
    [replica] = ready.replica_events
    one = sdk.beta.jig.retrieve_logs(made.id, replica_id=replica)
    assert one.lines


def test_together_sdk_destroy_then_retrieve_is_not_found(sdk):
    made = deploy(sdk)
    assert sdk.beta.jig.destroy(made.id) == {}
    with pytest.raises(NotFoundError) as caught:
        sdk.beta.jig.retrieve(made.id)
    assert caught.value.status_code == 404
    assert sdk.beta.jig.list().data == []


def test_together_sdk_sees_a_bad_key_as_authentication_error(live_server):
    client = Together(api_key="tg-not-sandbox", base_url=f"{live_server.url}/sandbox/together", max_retries=0)
    with client, pytest.raises(AuthenticationError) as caught:
        client.beta.jig.list()
    assert caught.value.status_code == 401
    assert "Invalid API key provided" in str(caught.value)


def test_together_sdk_sees_refusals_as_bad_request_with_param(sdk):
    deploy(sdk)
    with pytest.raises(BadRequestError) as duplicate:
        deploy(sdk)
    with pytest.raises(BadRequestError) as memory:
        deploy(sdk, "sdk-big", memory=2000)
    # ``body`` is the decoded ErrorData: {"error": {message, type, param, code}}.
    assert [error.value.body["error"]["param"] for error in (duplicate, memory)] == ["name", "memory"]
    assert duplicate.value.body["error"]["code"] == "already_exists"


def test_together_sdk_sees_the_rate_limit_fault(sdk):
    SandboxFault.objects.create(vendor="together", rate_limit_rate=1.0, retry_after_seconds=9)
    with pytest.raises(RateLimitError) as caught:
        sdk.beta.jig.list()
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "9"
