"""With real parts: a deployment made straight on Together's twin (as in the vendor's own
console) shows up as not managed by the panel after the account's refresh by a real
worker, and Adopt (clicked twice) imports it once, which the worker then polls to running."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from controlpanel.unmanaged.models import UnmanagedResource
from providers.together import TogetherProvider
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONSOLE_SPEC = {
    "name": "made-in-the-console",
    "image": "registry.together.xyz/proj_it/console:1",
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "min_replicas": 1,
    "max_replicas": 1,
    "port": 8080,
}


def test_a_resource_made_on_the_twin_is_listed_and_adopted_once(client, panel_worker, live_server):
    team = TeamFactory(name="Orphans")
    user = UserFactory(username="oona")
    MembershipFactory(team=team, user=user, role=Role.DEPLOYER)
    key = f"sandbox-orphans-{team.pk}"
    with TogetherProvider(
        api_key=key, base_url=f"{live_server.url}/sandbox{TogetherProvider.sandbox_path}", timeout=10
    ) as vendor:
        made = vendor.create(dict(CONSOLE_SPEC))
    # A key with no deployment of the panel's: still listed, for what it holds.
    account = AccountFactory(team=team, label="Console key", api_key=key)

    wait_for(lambda: UnmanagedResource.objects.filter(account=account).exists(), what="the refresh to list it")
    resource = UnmanagedResource.objects.get(account=account)
    assert (resource.external_id, resource.name) == (made.external_id, "made-in-the-console")
    client.force_login(user)
    assert "made-in-the-console" in client.get(reverse("unmanaged:list")).content.decode()

    url = reverse("unmanaged:adopt", args=[resource.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302  # a second click adopts nothing more

    def adopted_running() -> bool:
        row = Deployment.objects.filter(account=account).first()
        return row is not None and row.state == State.RUNNING

    wait_for(adopted_running, what="the worker to adopt it and the poll to see it Ready")
    deployment = Deployment.objects.get(account=account)
    assert deployment.external_id == made.external_id
    assert deployment.spec == CONSOLE_SPEC
    assert deployment.created_by == user
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_ADOPTED, target_id=str(deployment.pk)).count() == 1
    assert deployment.events.filter(message__startswith="Adopted from Together AI").count() == 1
    # Polled like any other: the next refresh knows it, so it is no longer unmanaged.
    wait_for(lambda: not UnmanagedResource.objects.filter(account=account).exists(), what="the listing to know it")
    assert Deployment.objects.filter(account=account).count() == 1
