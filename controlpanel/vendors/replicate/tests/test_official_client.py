"""Replicate's own Python client (``replicate`` 1.0.7 from PyPI), pointed at the twin: the
outside judge of fidelity. Its pydantic models must parse every answer, its paging must
follow the twin's ``next`` links, and its ``ReplicateError`` must read the problem details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import replicate
from replicate.account import Account
from replicate.deployment import Deployment
from replicate.exceptions import ReplicateError
from replicate.hardware import Hardware
from replicate.pagination import paginate
from replicate.prediction import Prediction

from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault
from controlpanel.vendors.replicate import twin as twin

TOKEN = "sandbox-official-client"
OWNER = f"sandbox-{account_for_key(TOKEN)[:8]}"
SEED = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}


@pytest.fixture
def sdk(live_server, settings) -> Iterator[replicate.Client]:
    settings.SANDBOX_PROVISION_SECONDS = 0  # instances boot and predictions finish at once
    # The client's paths are "/v1/…", joined to base_url by httpx: the base stops at the
    # vendor root, like https://api.replicate.com.
    client = replicate.Client(api_token=TOKEN, base_url=f"{live_server.url}/sandbox/replicate")
    client.poll_interval = 0.05
    yield client
    client._client.close()


def test_replicate_sdk_creates_the_seed_deployment(sdk):
    deployment = sdk.deployments.create(**SEED)
    assert isinstance(deployment, Deployment)
    assert (deployment.owner, deployment.name, deployment.id) == (OWNER, SEED["name"], f"{OWNER}/{SEED['name']}")
    release = deployment.current_release
    assert (release.number, release.model, release.version) == (1, SEED["model"], SEED["version"])
    assert (
        release.configuration.hardware,
        release.configuration.min_instances,
        release.configuration.max_instances,
    ) == (
        "gpu-t4",
        1,
        5,
    )
    assert release.created_by.username == OWNER


def test_replicate_sdk_strips_an_owner_from_the_name_and_the_twin_takes_it(sdk):
    deployment = sdk.deployments.create(**{**SEED, "name": f"{OWNER}/stripped"})
    assert deployment.name == "stripped"


def test_replicate_sdk_gets_and_lists_every_page(sdk, monkeypatch):
    monkeypatch.setattr(twin, "DEPLOYMENTS_PAGE", 2)
    for i in range(3):
        sdk.deployments.create(**{**SEED, "name": f"sdk-{i}"})
    got = sdk.deployments.get(f"{OWNER}/sdk-1")
    assert (got.name, got.current_release.number) == ("sdk-1", 1)
    first = sdk.deployments.list()
    assert [d.name for d in first] == ["sdk-2", "sdk-1"]
    assert first.next is not None
    everything = [d.name for page in paginate(sdk.deployments.list) for d in page]
    assert everything == ["sdk-2", "sdk-1", "sdk-0"]


def test_replicate_sdk_updates_make_new_releases(sdk):
    sdk.deployments.create(**SEED)
    scaled = sdk.deployments.update(OWNER, SEED["name"], min_instances=0, max_instances=2)
    assert scaled.current_release.number == 2
    assert scaled.current_release.configuration.min_instances == 0
    moved = sdk.deployments.update(
        OWNER, SEED["name"], version="4d17c878d1071d9776e1dda94310607e0cc5a5eca545adba41f9612e2668733d"
    )
    assert (moved.current_release.number, moved.current_release.version[:8]) == (3, "4d17c878")


def test_replicate_sdk_delete_too_early_is_a_replicate_error(sdk):
    sdk.deployments.create(**SEED)
    with pytest.raises(ReplicateError) as caught:
        sdk.deployments.delete(OWNER, SEED["name"])
    assert caught.value.status == 409
    assert "offline and unused for at least 15 minutes" in caught.value.detail


def test_replicate_sdk_runs_a_prediction_through_the_deployment(sdk):
    deployment = sdk.deployments.create(**SEED)
    made = deployment.predictions.create(input={"prompt": "a red bicycle"})
    assert isinstance(made, Prediction)
    assert made.status in ("starting", "processing", "succeeded")
    made.wait()
    assert made.status == "succeeded"
    assert made.output == [f"https://replicate.delivery/sandbox/{made.id}/out-0.png"]
    again = sdk.predictions.get(made.id)
    assert (again.id, again.status, again.model) == (made.id, "succeeded", "some-org/some-model")
    listed = sdk.predictions.list()
    assert [p.id for p in listed] == [made.id]
    via_namespace = sdk.deployments.predictions.create(f"{OWNER}/{SEED['name']}", input={"prompt": "x"}, wait=5)
    assert via_namespace.status == "succeeded"


def test_replicate_sdk_cancels_a_waiting_prediction(sdk, settings):
    settings.SANDBOX_PROVISION_SECONDS = 3600
    deployment = sdk.deployments.create(**{**SEED, "min_instances": 0})
    made = deployment.predictions.create(input={"prompt": "never mind"})
    assert made.status == "starting"
    canceled = sdk.predictions.cancel(made.id)
    assert canceled.status == "canceled"


def test_replicate_sdk_reads_hardware_account_and_models(sdk):
    hardware = sdk.hardware.list()
    assert all(isinstance(h, Hardware) for h in hardware)
    assert "gpu-t4" in [h.sku for h in hardware]
    account = sdk.accounts.current()
    assert isinstance(account, Account)
    assert (account.type, account.username) == ("organization", OWNER)
    model = sdk.models.get("stability-ai/sdxl")
    assert model.latest_version.id == SEED["version"]
    assert SEED["version"] in [v.id for v in model.versions.list()]
    assert sdk.models.get("some-org/some-model").versions.get(SEED["version"]).cog_version


def test_replicate_sdk_sees_validation_as_422_problem_details(sdk):
    with pytest.raises(ReplicateError) as caught:
        sdk.deployments.create(**{**SEED, "version": "0" * 64})
    assert (caught.value.status, caught.value.title) == (422, "Invalid request")
    assert caught.value.detail.startswith("version ")


def test_replicate_sdk_sees_a_bad_token(live_server, db):
    client = replicate.Client(api_token="r8_not_sandbox", base_url=f"{live_server.url}/sandbox/replicate")
    with pytest.raises(ReplicateError) as caught:
        client.deployments.create(**SEED)
    assert caught.value.status == 401
    assert caught.value.detail == "You did not pass a valid authentication token"


def test_replicate_sdk_sees_the_rate_limit(sdk):
    SandboxFault.objects.create(vendor="replicate", rate_limit_rate=1.0, retry_after_seconds=9)
    with pytest.raises(ReplicateError) as caught:
        sdk.deployments.create(**SEED)  # POST: the client does not retry it
    assert caught.value.status == 429
    assert caught.value.detail == "Request was throttled. Your rate limit resets in ~9s."
