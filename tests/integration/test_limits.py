"""Approvals and time limits through the real worker and the sandbox."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.deployments.tests.test_views import valid_post
from controlpanel.limits import services
from controlpanel.limits.models import TeamPolicy
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors import vendor_module
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def made_at_the_vendor(name: str) -> int:
    kind = vendor_module("together", "twin").CREATES
    return SandboxObject.objects.filter(vendor="together", kind=kind, name=name).count()


def test_nothing_is_sent_until_an_admin_approves(panel_worker, client):
    team = TeamFactory(name="Approvals")
    admin, deployer = UserFactory(username="ada"), UserFactory(username="dev")
    MembershipFactory(team=team, user=admin, role=Role.OWNER)
    MembershipFactory(team=team, user=deployer, role=Role.DEPLOYER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-approvals")
    TeamPolicy.objects.create(team=team, approval_above_per_hour=Decimal("0.50"))

    client.force_login(deployer)
    post_confirmed(client, reverse("deployments:create", args=["together"]), valid_post(account, name="held-1"))
    deployment = Deployment.objects.get(team=team)
    assert deployment.state == State.AWAITING_APPROVAL
    time.sleep(3)  # three beat sweeps: time enough for anything queued to reach the twin
    assert made_at_the_vendor("held-1") == 0

    services.deployment_approve(deployment=deployment, actor=admin)
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).state == State.RUNNING,
        timeout=60,
        what="the approved deployment to be sent and run",
    )
    assert made_at_the_vendor("held-1") == 1


def test_a_time_limit_stops_it_through_the_worker(panel_worker, settings):
    settings.PANEL_TIME_SCALE = 3600  # an hour a second, here where the limit is set
    team = TeamFactory(name="Time limits")
    owner = UserFactory(username="tim")
    MembershipFactory(team=team, user=owner, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-ttl")
    from controlpanel.deployments import services as deployment_services
    from tests.factories import together_spec

    deployment = deployment_services.deployment_create(
        team=team, actor=owner, account=account, spec=together_spec(name="ttl-1"), estimated_price_per_hour=None
    )
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).state == State.RUNNING, timeout=60, what="it to run")
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=3, action="stop")
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).state == State.STOPPED,
        timeout=60,
        what="the time limit to stop it",
    )
    deployment.refresh_from_db()
    messages = list(deployment.events.values_list("message", flat=True))
    assert "Stop requested: its time limit was reached" in messages


def test_an_idle_replicate_deployment_is_scaled_to_zero_through_the_worker(panel_worker):
    # The worker runs at PANEL_TIME_SCALE 60 (tests/conftest.py): the team's 3 minutes pass in 3 s.
    from controlpanel.deployments import services as deployment_services

    team = TeamFactory(name="Idle rule")
    owner = UserFactory(username="ida")
    MembershipFactory(team=team, user=owner, role=Role.OWNER)
    account = AccountFactory(team=team, vendor="replicate", label="Replicate sandbox", api_key="sandbox-idle")
    TeamPolicy.objects.create(team=team, idle_minutes=3)
    spec = {
        "name": "idle-1",
        "model": "some-org/some-model",
        "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
        "hardware": "gpu-t4",
        "min_instances": 1,
        "max_instances": 4,
    }
    deployment = deployment_services.deployment_create(
        team=team, actor=owner, account=account, spec=spec, estimated_price_per_hour=None
    )
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).state == State.RUNNING, timeout=60, what="it to run")
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).spec.get("min_instances") == 0,
        timeout=60,
        what="the idle rule to scale it to zero",
    )
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).vendor_state == "offline",
        timeout=60,
        what="Replicate to read it as scaled to zero",
    )
    deployment.refresh_from_db()
    assert (deployment.spec["min_instances"], deployment.spec["max_instances"]) == (0, 4)  # the maximum kept
    at_vendor = SandboxObject.objects.get(
        vendor="replicate", kind=vendor_module("replicate", "twin").CREATES, name="idle-1"
    )
    release = at_vendor.data["current_release"]["configuration"]
    assert (release["min_instances"], release["max_instances"]) == (0, 4)
    messages = list(deployment.events.values_list("message", flat=True))
    assert any(m.startswith("Scale to zero requested (min 0, max 4): no work for 3 minutes") for m in messages)
    assert deployment.price_per_hour in (None, 0)  # asleep: nothing bills
