"""A create the broker refused is saved once, said so, and sent later by the sweep:
never an error that invites a second submit, never a second deployment."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import submit_deployment_task
from controlpanel.deployments.tests.test_views import valid_post
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors import vendor_module
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_create_the_broker_refused_is_saved_once_and_sent_by_the_sweep(panel_worker, client):
    team = TeamFactory(name="Broker down")
    user = UserFactory(username="brenda")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-broker-down")
    client.force_login(user)

    refusing = mock.patch.object(submit_deployment_task, "apply_async", side_effect=OperationalError("refused"))
    with refusing:
        response = post_confirmed(client, reverse("deployments:create", args=["together"]), valid_post(account))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Saved; it will be sent to Together AI when the worker is back." in page.content.decode()
    deployment = Deployment.objects.get(team=team)
    assert deployment.state == State.QUEUED

    # As if the sweep's interval had passed since it was queued: the beat sweep re-sends it.
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=timezone.now() - dt.timedelta(minutes=5))
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).state == State.RUNNING,
        timeout=60,
        what="the sweep to send it and the vendor to run it",
    )
    assert Deployment.objects.filter(team=team).count() == 1
    made = SandboxObject.objects.filter(vendor="together", kind=vendor_module("together", "twin").CREATES)
    assert made.filter(name=deployment.spec["name"]).count() == 1
