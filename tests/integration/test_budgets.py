"""Budgets and price ceilings through the real worker, beat and the sandbox: a used-up
budget stops what runs and refuses what is queued, a ceiling refuses a dear one, and
nothing refused reaches the vendor."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments import services as deployment_services
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.deployments.tests.test_views import valid_post
from controlpanel.limits.models import TeamPolicy
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors import vendor_module
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed, together_spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def made_at_the_vendor(name: str) -> int:
    kind = vendor_module("together", "twin").CREATES
    return SandboxObject.objects.filter(vendor="together", kind=kind, name=name).count()


def state_of(pk: int) -> str:
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def test_a_used_up_budget_stops_running_ones_and_refuses_new_and_a_ceiling_refuses_dear_ones(panel_worker, client):
    team = TeamFactory(name="Budgets")
    owner = UserFactory(username="bea")
    MembershipFactory(team=team, user=owner, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-budgets")
    client.force_login(owner)
    post_confirmed(client, reverse("deployments:create", args=["together"]), valid_post(account, name="spender"))
    running = Deployment.objects.get(team=team, name="spender")
    wait_for(lambda: state_of(running.pk) == State.RUNNING, timeout=60, what="the first deployment to run")

    # A $0 budget: whatever it has cost so far (its first Together minute) uses it up.
    TeamPolicy.objects.create(team=team, monthly_budget=Decimal("0"), budget_stops_running=True)
    # The costs sweep sees the spend within about a minute (observed: ~58 s after Running on
    # a quiet machine), then the stop goes through the worker and the twin.
    wait_for(lambda: state_of(running.pk) == State.STOPPED, timeout=150, what="the budget stop to land")
    messages = list(running.events.values_list("message", flat=True))
    assert "Stop requested: the team's monthly budget is used up" in messages
    assert AuditEntry.objects.filter(team=team, action=AuditAction.BUDGET_REACHED).count() == 1
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_STOPPED, actor=None).exists()
    assert "is used up" in client.get(reverse("costs:page")).content.decode()  # the banner

    # Queued behind the form's back (the form refuses it): the worker refuses it too.
    late = deployment_services.deployment_create(
        team=team,
        actor=owner,
        account=account,
        spec=together_spec(name="too-late"),
        estimated_price_per_hour=Decimal("1"),
    )
    wait_for(lambda: state_of(late.pk) == State.FAILED, timeout=60, what="the worker to refuse it")
    assert "monthly budget of $0.00 is used up" in Deployment.objects.get(pk=late.pk).last_error

    TeamPolicy.objects.filter(team=team).update(monthly_budget=None, price_ceiling_per_hour=Decimal("0.50"))
    dear = deployment_services.deployment_create(
        team=team,
        actor=owner,
        account=account,
        spec=together_spec(name="too-dear"),
        estimated_price_per_hour=Decimal("3"),
    )
    wait_for(lambda: state_of(dear.pk) == State.FAILED, timeout=60, what="the worker to refuse the dear one")
    assert "above the team's ceiling of $0.50/h" in Deployment.objects.get(pk=dear.pk).last_error
    assert made_at_the_vendor("too-late") == 0
    assert made_at_the_vendor("too-dear") == 0
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_OVER_BUDGET).count() == 2
