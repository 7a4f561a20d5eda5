"""Nosana with real parts: the catalog synced from the sandbox, a form post, a real
worker that creates and starts the deployment over HTTP, beat-driven polling until
jobs run, then Nosana's own lifecycle: stop, then archive (its read-only end)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from controlpanel.catalog.models import Offer
from controlpanel.catalog.services import catalog_sync
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.services import deployment_fetch_logs
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

M3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
M4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"


@pytest.fixture
def people(panel_worker, live_server, settings):
    # This process syncs the catalog and fetches logs itself: point it at the same sandbox.
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Integration Nosana")
    user = UserFactory(username="nadia")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, vendor="nosana", label="Nosana sandbox", api_key=f"sandbox-it-nosana-{team.pk}")
    assert catalog_sync(account_id=account.pk) >= 14
    return team, user, account


def form_data(account, name: str, **fields) -> dict:
    data = {
        "account": account.pk,
        "name": name,
        "market": M4090,
        "strategy": "SIMPLE",
        "replicas": "1",
        "timeout": "60",
        "image": "docker.io/vllm/vllm-openai:v0.5.4",
        "cmd_mode": "shell",
        "cmd": "echo ready",
        "gpu": "on",
        "required_vram": "16",
        "confidential": "on",
        "env-TOTAL_FORMS": "1",
        "env-INITIAL_FORMS": "0",
        "env-0-name": "MODE",
        "env-0-value": "fast",
        "ports-TOTAL_FORMS": "1",
        "ports-INITIAL_FORMS": "0",
        "ports-0-port": "8000",
        "ports-0-type": "api",
    }
    data.update(fields)
    return data


def state_of(pk: int) -> str:
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def remote_status(external_id: str) -> str:
    return SandboxObject.objects.get(vendor="nosana", kind="deployment", object_id=external_id).data["status"]


def test_nosana_form_to_running_then_stop_and_archive(client, people):
    team, user, account = people
    account.refresh_from_db()
    assert account.balance == 100  # the sync's verify() read the credits
    assert Offer.objects.filter(account=account, sku=M4090, vendor="nosana").exists()
    client.force_login(user)
    response = post_confirmed(client, reverse("deployments:create", args=["nosana"]), form_data(account, "it-llm"))
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec["job_definition"]["ops"][0]["args"]["expose"] == [{"port": 8000, "type": "api"}]

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="create, start, and a job running on a node")
    deployment.refresh_from_db()
    assert remote_status(deployment.external_id) == "RUNNING"
    assert (deployment.vendor_state, deployment.replicas_ready, deployment.replicas_desired) == ("RUNNING", 1, 1)
    assert deployment.price_per_hour == Decimal("0.44")
    assert deployment.endpoint_url.endswith(f"/sandbox/nosana/node/{deployment.external_id}-it-llm-8000/")
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "it-llm" in dashboard
    assert "Running" in dashboard
    states = list(deployment.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert states == [State.QUEUED, State.SUBMITTING, State.PROVISIONING, State.RUNNING]

    # Nosana's signature: stop (STOPPING → STOPPED), then archive, its read-only end.
    client.post(reverse("deployments:action", args=[deployment.pk, "stop"]))
    wait_for(lambda: state_of(deployment.pk) == State.STOPPED, what="the stop to land")
    assert remote_status(deployment.external_id) == "STOPPED"
    client.post(reverse("deployments:action", args=[deployment.pk, "archive"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="the archive to be seen by the poll")
    assert remote_status(deployment.external_id) == "ARCHIVED"
    deployment.refresh_from_db()
    states = list(deployment.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert states[-4:] == [State.STOPPING, State.STOPPED, State.DELETING, State.DELETED]


def test_nosana_simple_job_ends_by_itself_and_its_logs_and_events_show(client, people):
    team, user, account = people
    client.force_login(user)
    data = form_data(account, "it-hello", market=M3060, timeout="1", cmd="echo hello world", **{"ports-0-port": ""})
    post_confirmed(client, reverse("deployments:create", args=["nosana"]), data)
    deployment = Deployment.objects.get(team=team)
    wait_for(lambda: state_of(deployment.pk) == State.STOPPED, what="the job to finish and Nosana to stop it")
    deployment.refresh_from_db()
    assert deployment.vendor_state == "STOPPED"
    deployment_fetch_logs(deployment_id=deployment.pk)
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert snapshot.error == ""
    assert "[it-hello] stdout: hello world" in snapshot.lines
    kinds = [e["kind"] for e in snapshot.events]
    assert "DEPLOYMENT_STOPPED" in kinds
    assert any(e["message"].endswith("completed") for e in snapshot.events)
