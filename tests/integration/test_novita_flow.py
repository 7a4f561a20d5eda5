"""Novita with real parts: the notes' example request (contract §2.3) posted through the
form -> a real worker creates the instance on the twin over HTTP -> polling shows it
running, with its connection details and log streams; then Novita's own lifecycle:
stop (exited), start (running again), delete (released). And an image Novita cannot
find comes back on the image field, in Novita's words."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from django.urls import reverse

from controlpanel.catalog.models import Offer as CatalogOffer
from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import account_verify
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VOLUME = "d4e82677-3f80-4020-a731-d15b1c589aa8"  # the notes' volume: every twin account has it
# The notes' example create request, as the form posts it.
SEED_FORM = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "gpuNum": "1",
    "rootfsSize": "100",
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "imageAuthId": "",
    "command": "",
    "entrypoint": "",
    "clusterId": "",
    "minCudaVersion": "12.4",
    "billingMode": "onDemand",
    "jupyter": "on",
    "jupyter_port": "8888",
    "jupyter_type": "http",
    "ports-TOTAL_FORMS": "2",
    "ports-INITIAL_FORMS": "0",
    "ports-0-port": "8000",
    "ports-0-type": "http",
    "ports-1-port": "22",
    "ports-1-type": "tcp",
    "env-TOTAL_FORMS": "1",
    "env-INITIAL_FORMS": "0",
    "env-0-key": "HF_TOKEN",
    "env-0-value": "hf_xxx",
    "volumes-TOTAL_FORMS": "1",
    "volumes-INITIAL_FORMS": "0",
    "volumes-0-Id": VOLUME,
    "volumes-0-mountPoint": "/network",
}
SEED_SPEC = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "networkStorages": [{"Id": VOLUME, "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "minCudaVersion": "12.4",
}


@pytest.fixture
def people(panel_worker, live_server, settings):
    team = TeamFactory(name="Integration Novita")
    user = UserFactory(username="nova")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    key = f"sandbox-it-novita-{team.pk}"
    account = AccountFactory(team=team, vendor="novita", label="Novita sandbox", api_key=key)
    # As when a key is added: verified (balance, clusters, credentials, volumes) and its
    # products synced, here in this process against the twin the live server serves.
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    account = account_verify(account_id=account.pk)
    assert catalog_sync(account_id=account.pk) > 0
    return team, user, account, key


def state_of(pk):
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def fresh(pk) -> Deployment:
    return Deployment.objects.select_related("account").get(pk=pk)


def test_seed_instance_runs_stops_starts_and_is_released(client, people, live_server):
    team, user, account, key = people
    assert account.balance > 0
    assert {v["id"] for v in account.metadata["network_storages"]} >= {VOLUME}
    assert CatalogOffer.objects.filter(account=account, sku="A100-80GB.14c240g").exists()
    client.force_login(user)
    url = reverse("deployments:create", args=["novita"])
    response = post_confirmed(client, url, {"account": account.pk, **SEED_FORM})
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec == SEED_SPEC

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the worker to create it and Novita to run it")
    running = fresh(deployment.pk)
    instance_id = running.external_id
    assert running.vendor_state == "running"
    assert running.price_per_hour == Decimal("1.6")
    assert running.endpoint_url.startswith(f"{live_server.url}/sandbox/novita/proxy/{instance_id}-8000")
    assert running.connection["SSH"].startswith("ssh root@")
    assert running.raw["connectComponentSSH"]["password"] == "******"
    assert [m["id"] for m in running.raw["volumeMounts"] if m["type"] == "network"] == [VOLUME]
    states = list(running.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert states[:3] == [State.QUEUED, State.SUBMITTING, State.PROVISIONING]
    assert states[-1] == State.RUNNING
    assert httpx.get(running.endpoint_url).status_code == 200  # its http port answers while it runs
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "llama-serve-01" in dashboard

    # Logs come from the stream addresses the instance names (which refuse a key).
    def logs_seen():
        client.get(reverse("deployments:logs", args=[deployment.pk]))  # asks the worker for a fresh fetch
        snapshot = LogSnapshot.objects.filter(deployment=deployment).first()
        return snapshot and snapshot.lines and not snapshot.error

    wait_for(logs_seen, what="the instance's log lines")
    assert "── system log ──" in LogSnapshot.objects.get(deployment=deployment).lines

    client.post(reverse("deployments:action", args=[deployment.pk, "stop"]))
    wait_for(lambda: state_of(deployment.pk) == State.STOPPED, what="the stop to reach exited")
    stopped = fresh(deployment.pk)
    assert (stopped.vendor_state, stopped.price_per_hour) == ("exited", None)  # the GPU is not billed while stopped

    client.post(reverse("deployments:action", args=[deployment.pk, "start"]))
    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the start to run it again")
    assert fresh(deployment.pk).external_id == instance_id  # the same instance, not a new one

    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="Novita to release it")

    def forgotten():  # Novita lists a released instance as removed a while, then forgets it [C]
        answer = httpx.get(
            f"{account.base_url}/gpu-instance/openapi/v1/gpu/instance",
            params={"instanceId": instance_id},
            headers={"Authorization": f"Bearer {key}"},
        )
        return answer.status_code == 400 and answer.json()["reason"] == "RESOURCE_NOT_FOUND"

    wait_for(forgotten, what="the released instance to be gone at Novita")
    assert state_of(deployment.pk) == State.DELETED  # and the panel's record stays deleted, not lost


def test_image_novita_cannot_find_is_refused_on_its_field(client, people):
    team, user, account, _key = people
    client.force_login(user)
    data = {"account": account.pk, **SEED_FORM, "name": "missing-image", "imageUrl": "docker.io/acme/does-not-exist:1"}
    post_confirmed(client, reverse("deployments:create", args=["novita"]), data)
    deployment = Deployment.objects.get(team=team)
    wait_for(lambda: state_of(deployment.pk) == State.FAILED, what="Novita's IMAGE_NOT_FOUND")
    deployment.refresh_from_db()
    assert list(deployment.error_fields) == ["imageUrl"]
    assert "IMAGE_NOT_FOUND" in deployment.error_fields["imageUrl"][0]
    page = client.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert page.index("IMAGE_NOT_FOUND") > page.index('id="err-imageUrl"')
