"""Fluence with real parts: the key verified and the catalog synced from the twin, the
seed's container posted through the form (the 3-hour charge confirmed), a real worker
deploying it over HTTP, beat-driven polling to running on the dashboard, an update (a
full replacement that redeploys the container) and a terminate that ends it. Then a VM:
deployed from an option with its OS image, renamed, terminated."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from controlpanel.catalog.models import Offer
from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import account_verify
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED_PLAN = "075e40d4-2766-4347-833b-205245fe3629"  # the seed's container plan: A100, $1.22/h in the twin
SEED_VM = "e5f00ba8-268e-4279-9672-eabca860f19e"  # the seed's VM option
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"  # the seed's key, as written
# The seed's container request, as the form posts it.
SEED_FORM = {
    "kind": "container",
    "name": "my-gpu-container",
    "plan_id": SEED_PLAN,
    "location": "US",
    "image": "docker.io/fluencelabs/debian-ssh-root:11",
    "startup_command": "python3 serve.py --port 8000",
    "ssh_key": KEY,
    "ports-TOTAL_FORMS": "4",
    "ports-INITIAL_FORMS": "0",
    "ports-0-port": "22",
    "ports-0-protocol": "tcp",
    "ports-1-port": "80",
    "ports-1-protocol": "http",
    "ports-2-port": "443",
    "ports-2-protocol": "tcp",
    "ports-3-port": "8000",
    "ports-3-protocol": "tcp",
    "env-TOTAL_FORMS": "1",
    "env-INITIAL_FORMS": "0",
    "env-0-name": "MODEL_PATH",
    "env-0-value": "/models/llama",
}


@pytest.fixture
def people(panel_worker, live_server, settings):
    # This process verifies the key and syncs the catalog itself: point it at the same twin.
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Integration Fluence")
    user = UserFactory(username="flora")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(
        team=team, vendor="fluence", label="Fluence sandbox", api_key=f"sandbox-it-fluence-{team.pk}"
    )
    account_verify(account_id=account.pk)  # the default images, for the form's picker
    assert catalog_sync(account_id=account.pk) > 10
    account.refresh_from_db()
    return team, user, account


def state_of(pk: int) -> str:
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def fresh(pk: int) -> Deployment:
    return Deployment.objects.select_related("account").get(pk=pk)


def twin_status(deployment: Deployment) -> str:
    """What the twin itself says now, read through the panel's own adapter."""
    from controlpanel.credentials.services import provider_for

    with provider_for(deployment.account) as provider:
        return provider.get(deployment.external_id).vendor_state


def test_seed_container_runs_is_updated_and_terminated(client, people):
    team, user, account = people
    assert account.balance == Decimal("1000.00")
    assert "debian-ssh-11" in {i["slug"] for i in account.metadata["default_images"]}
    assert Offer.objects.filter(account=account, kind="container", sku=SEED_PLAN).exists()
    client.force_login(user)
    url = reverse("deployments:create", args=["fluence"])
    confirm = client.post(url, {"account": account.pk, **SEED_FORM}).content.decode()
    assert "<strong>$3.66</strong>" in confirm  # 3 hours of $1.22 move to the instance
    response = post_confirmed(client, url, {"account": account.pk, **SEED_FORM})
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec["kind"] == "container"
    assert deployment.spec["container_settings"]["expose"][1] == {"port": "80", "protocol": "http"}

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="deploy, provisioning, the container started")
    deployment = fresh(deployment.pk)
    assert deployment.vendor_state == "ACTIVE"
    assert deployment.price_per_hour == Decimal("1.22")
    assert re.fullmatch(r"ssh -p \d+ root@\S+", deployment.connection["SSH"]), deployment.connection
    assert deployment.endpoint_url.startswith("http")  # port 80 is http: Fluence gives it a URL
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "my-gpu-container" in dashboard
    assert "Running" in dashboard
    states = list(deployment.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert states[:3] == [State.QUEUED, State.SUBMITTING, State.PROVISIONING]
    assert states[-1] == State.RUNNING

    # Update: a full replacement that redeploys; the ports stay as deployed.
    edit = reverse("deployments:edit", args=[deployment.pk])
    assert "22/tcp, 80/http, 443/tcp, 8000/tcp" in client.get(edit).content.decode()
    client.post(
        edit,
        {
            "name": "my-gpu-container",
            "image": "docker.io/fluencelabs/debian-ssh-root:11",
            "startup_command": "python3 serve.py --port 8000 --workers 2",
            "ssh_key": KEY,
            "env-TOTAL_FORMS": "2",
            "env-INITIAL_FORMS": "0",
            "env-0-name": "MODEL_PATH",
            "env-0-value": "/models/qwen",
            "env-1-name": "WORKERS",
            "env-1-value": "2",
        },
    )
    wait_for(lambda: fresh(deployment.pk).pending_action == "", what="the update to be taken")
    updated = fresh(deployment.pk)
    assert updated.last_error == ""
    assert updated.spec["container_settings"]["startup_command"] == "python3 serve.py --port 8000 --workers 2"
    assert updated.spec["container_settings"]["expose"] == deployment.spec["container_settings"]["expose"]
    assert updated.events.filter(message="Update the spec: accepted by Fluence").exists()
    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the redeployed container to start")

    # Terminate: Fluence ends it; the panel follows to deleted.
    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="the terminate to be confirmed")
    assert twin_status(fresh(deployment.pk)) == "ENDED"
    assert SandboxObject.objects.filter(vendor="fluence", object_id=deployment.external_id).exists()  # Fluence keeps it


def test_vm_from_an_option_runs_is_renamed_and_terminated(client, people):
    team, user, account = people
    client.force_login(user)
    url = reverse("deployments:create", args=["fluence"])
    form = {
        "account": account.pk,
        "kind": "vm",
        "name": "my-gpu-vm",
        "machine_plan_id": SEED_VM,
        "os_image": "Ubuntu Server 22.04",
        "ssh_key": KEY,
        "ports-TOTAL_FORMS": "0",
        "ports-INITIAL_FORMS": "0",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
    }
    assert post_confirmed(client, url, form).status_code == 302
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec == {
        "kind": "vm",
        "plan_id": SEED_VM,
        "name": "my-gpu-vm",
        "ssh_key": KEY,
        "os_image": "Ubuntu Server 22.04",
    }

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the VM to be provisioned")
    deployment = fresh(deployment.pk)
    assert deployment.external_id.startswith("vms/")
    assert deployment.connection["SSH"].startswith("ssh ubuntu@")

    client.post(reverse("deployments:edit", args=[deployment.pk]), {"name": "my-gpu-vm-2"})
    wait_for(lambda: fresh(deployment.pk).name == "my-gpu-vm-2", what="the rename")
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Fluence cannot restart a virtual machine through its API" in page

    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="the VM to be terminated")
    assert twin_status(fresh(deployment.pk)) == "ENDED"
