"""The whole loop with real parts: form post -> real worker submits to the sandbox over
HTTP -> beat-driven polling -> the dashboard shows it running. Then stop and delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(panel_worker):
    team = TeamFactory(name="Integration")
    user = UserFactory(username="ines")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key=f"sandbox-it-{team.pk}")
    return team, user, account


def form_data(account, name):
    return {
        "account": account.pk,
        "name": name,
        "image": "registry.together.ai/proj_it/echo:1",
        "gpu_type": "h100-80gb",
        "gpu_count": "1",
        "min_replicas": "1",
        "max_replicas": "1",
        "env-TOTAL_FORMS": "1",
        "env-INITIAL_FORMS": "0",
        "env-0-name": "HF_TOKEN",
        "env-0-source": "secret",
        "env-0-secret": "hf-token",
        "volumes-TOTAL_FORMS": "1",
        "volumes-INITIAL_FORMS": "0",
        "volumes-0-name": "demo-weights",
        "volumes-0-mount_path": "/models",
    }


def state_of(pk):
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def test_form_to_running_on_the_dashboard_then_stop_and_delete(client, people):
    team, user, account = people
    client.force_login(user)
    response = post_confirmed(client, reverse("deployments:create", args=["together"]), form_data(account, "it-echo"))
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=team)

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the worker to submit and the poll to see Ready")
    deployment.refresh_from_db()
    assert deployment.external_id.startswith("dep_")
    assert deployment.endpoint_url.endswith("/deployment-request/it-echo")
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "it-echo" in dashboard
    assert "Running" in dashboard
    events = list(deployment.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert events == [State.QUEUED, State.SUBMITTING, State.PROVISIONING, State.RUNNING]

    client.post(reverse("deployments:action", args=[deployment.pk, "stop"]))
    wait_for(lambda: state_of(deployment.pk) == State.STOPPED, what="the stop to land")
    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="the delete to be confirmed")
    assert not SandboxObject.objects.filter(kind="deployment", name="it-echo").exists()


def test_vendor_outage_neither_loses_nor_duplicates(client, people):
    """Every call to the vendor fails for a while; the deployment waits, then lands once."""
    team, user, account = people
    client.force_login(user)
    fault = SandboxFault.objects.create(vendor="together", error_rate=1.0)
    post_confirmed(client, reverse("deployments:create", args=["together"]), form_data(account, "it-outage"))
    deployment = Deployment.objects.get(team=team)
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).submit_attempts >= 1, what="a first attempt")
    wait_for(lambda: state_of(deployment.pk) == State.SUBMITTING, what="the attempt to be retried, not failed")
    fault.delete()
    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="recovery after the outage")
    assert SandboxObject.objects.filter(kind="deployment", name="it-outage").count() == 1


def test_lost_response_after_create_is_adopted_not_duplicated(client, people):
    """The vendor creates the deployment but its answer is lost (502): the retry must find
    and adopt it by name instead of creating, and paying for, a second one."""
    team, user, account = people
    client.force_login(user)
    fault = SandboxFault.objects.create(vendor="together", lost_response_rate=1.0)
    post_confirmed(client, reverse("deployments:create", args=["together"]), form_data(account, "it-lost"))
    deployment = Deployment.objects.get(team=team)
    wait_for(
        lambda: SandboxObject.objects.filter(kind="deployment", name="it-lost").exists(), what="the vendor to create it"
    )
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).submit_attempts >= 1, what="the attempt")
    assert state_of(deployment.pk) in (State.SUBMITTING, State.QUEUED)  # not failed: a 502 is worth retrying
    fault.delete()
    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the retry to adopt it")
    assert SandboxObject.objects.filter(kind="deployment", name="it-lost").count() == 1
    events = " ".join(deployment.events.values_list("message", flat=True))
    assert "Adopted what an earlier attempt created (dep_" in events
    assert "Created on Together AI" not in events


def test_vendor_refusal_lands_on_the_form_field(client, people):
    team, user, account = people
    client.force_login(user)
    data = form_data(account, "it-refused")
    data["volumes-0-name"] = "no-such-volume"
    post_confirmed(client, reverse("deployments:create", args=["together"]), data)
    deployment = Deployment.objects.get(team=team)
    wait_for(lambda: state_of(deployment.pk) == State.FAILED, what="the vendor's 400")
    deployment.refresh_from_db()
    assert deployment.error_fields == {"volumes.0.name": ["volume 'no-such-volume' not found"]}
    page = client.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert page.index("volume &#x27;no-such-volume&#x27; not found") > page.index('id="err-volumes-0-name"')
