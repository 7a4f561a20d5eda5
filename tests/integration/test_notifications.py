"""A state change reaches a team's webhook through the real beat sweep and worker, signed."""

from __future__ import annotations

import pytest

from controlpanel.deployments.services.transitions import deployment_transition
from controlpanel.deployments.states import State
from controlpanel.notifications import services
from controlpanel.notifications.models import Delivery, DeliveryStatus
from controlpanel.notifications.tests.receiver import Receiver
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_state_change_is_delivered_signed_after_a_failed_try(panel_worker, settings):
    team = TeamFactory(name="Notified")
    owner = UserFactory(username="nora")
    MembershipFactory(team=team, user=owner, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-notified")
    with Receiver(answers=[503, 200]) as receiver:
        channel, receiver.secret = services.channel_create(
            team=team, actor=owner, kind="webhook", name="hook", target=receiver.url, events=["state"]
        )
        deployment = DeploymentFactory(account=account, team=team, name="told-1", state=State.PROVISIONING)
        deployment_transition(deployment=deployment, to=State.RUNNING, message="ready")
        # The worker's first try gets 503; the retry (10 s later by default) gets 200.
        wait_for(
            lambda: Delivery.objects.filter(channel=channel, status=DeliveryStatus.DELIVERED).exists(),
            timeout=60,
            what="the beat sweep to dispatch it and the worker to deliver it",
        )
    assert len(receiver.received) == 2
    assert all(r["signature_ok"] for r in receiver.received)
    payload = receiver.payloads()[-1]
    assert payload["subject"] == "told-1 on Together AI is running"
    assert payload["data"]["deployment"]["id"] == deployment.pk
