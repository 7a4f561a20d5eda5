"""A vendor that does the work and loses the answer (a 502 after the create) must not
cost a second deployment: for each vendor the retry finds what the first attempt made
and adopts it. Fluence takes 3 hours of rent on every create and Novita a month on a
subscription, so a duplicate is money, not just clutter."""

from __future__ import annotations

import copy

import pytest

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import deployment_create
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors import demo_specs, vendor_module
from providers.registry import SLUGS
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def state_of(pk: int) -> str:
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


@pytest.mark.parametrize("vendor", SLUGS)
def test_a_lost_create_response_is_adopted_not_paid_for_twice(panel_worker, vendor):
    team = TeamFactory(name=f"Lost {vendor}")
    user = UserFactory(username=f"lost-{vendor}")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, vendor=vendor, label=f"{vendor} sandbox", api_key=f"sandbox-lost-{vendor}")
    spec = account.provider_class.validate(copy.deepcopy(demo_specs()[vendor]))
    made = SandboxObject.objects.filter(vendor=vendor, kind=vendor_module(vendor, "twin").CREATES, name=spec["name"])

    fault = SandboxFault.objects.create(vendor=vendor, lost_response_rate=1.0)
    deployment = deployment_create(team=team, actor=user, account=account, spec=spec)
    wait_for(made.exists, what=f"{vendor}'s twin to create it")
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).submit_attempts >= 1, what="the first attempt")
    assert state_of(deployment.pk) in (State.QUEUED, State.SUBMITTING)  # a 502 is worth retrying, not a failure
    fault.delete()

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, timeout=60, what="the retry to adopt it and run")
    assert made.count() == 1
    deployment.refresh_from_db()
    assert made.get().object_id in deployment.external_id
    timeline = list(deployment.events.values_list("message", flat=True))
    assert f"Adopted what an earlier attempt created ({deployment.external_id})" in timeline
