"""Work is found from the database, not from messages: an action whose message never
reaches the broker is re-sent by the beat sweep and carried out by the real worker."""

from __future__ import annotations

import copy
import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services import deployment_create, deployment_request_action
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors import demo_specs
from providers.base import Action
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_action_whose_message_was_lost_is_resent_by_the_sweep_and_done(panel_worker):
    team = TeamFactory(name="Sweeps")
    user = UserFactory(username="sweeper")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, vendor="together", label="Together sandbox", api_key="sandbox-sweeps")
    spec = account.provider_class.validate(copy.deepcopy(demo_specs()["together"]))
    deployment = deployment_create(team=team, actor=user, account=account, spec=spec)
    state = lambda: Deployment.objects.values_list("state", flat=True).get(pk=deployment.pk)  # noqa: E731
    wait_for(lambda: state() == State.RUNNING, timeout=60, what="it to run")

    # The stop is recorded, but its message never reaches the broker (a dropped retry, a
    # broker outage at the click): nothing in memory remembers it.
    with mock.patch.object(deployment_action_task, "delay_on_commit") as enqueue:
        deployment_request_action(deployment=deployment, actor=user, action=Action.STOP)
    enqueue.assert_called_once()
    # As if asked for ten minutes ago: well past the sweep's threshold.
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Deployment.objects.filter(pk=deployment.pk).update(pending_since=long_ago, next_attempt_at=long_ago)

    wait_for(lambda: state() == State.STOPPED, timeout=60, what="the sweep to re-send the stop and the worker to do it")
    deployment.refresh_from_db()
    assert deployment.pending_action == ""
    assert deployment.attempt_id == ""  # the attempt let go of the row
    assert deployment.events.filter(kind=EventKind.ACTION, message__contains="accepted by Together AI").exists()
    made = SandboxObject.objects.get(vendor="together", name=spec["name"])
    assert made.object_id in deployment.external_id


def test_a_delete_while_the_create_is_in_doubt_deletes_what_the_vendor_made(panel_worker):
    """The vendor creates it and the answer is lost, so the row has no id yet; the person
    deletes it then. What the vendor made is found by name and deleted, not left billing."""
    from controlpanel.sandbox.models import SandboxFault

    team = TeamFactory(name="Sweeps delete")
    user = UserFactory(username="deleter")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, vendor="together", label="Together sandbox", api_key="sandbox-sweeps-del")
    spec = account.provider_class.validate(copy.deepcopy(demo_specs()["together"]))
    made = SandboxObject.objects.filter(vendor="together", name=spec["name"])
    fault = SandboxFault.objects.create(vendor="together", lost_response_rate=1.0)
    deployment = deployment_create(team=team, actor=user, account=account, spec=spec)
    wait_for(made.exists, what="the vendor to create it")
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).submit_attempts >= 1, what="the first attempt")
    assert not Deployment.objects.get(pk=deployment.pk).external_id

    deployment_request_action(deployment=Deployment.objects.get(pk=deployment.pk), actor=user, action=Action.DELETE)
    fault.delete()
    wait_for(
        lambda: Deployment.objects.values_list("state", flat=True).get(pk=deployment.pk) == State.DELETED,
        timeout=60,
        what="the delete to find it, delete it and be confirmed",
    )
    assert not made.exists()
