from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from controlpanel.deployments.models import DeploymentEvent
from controlpanel.deployments.services import deployment_transition
from controlpanel.deployments.states import TRANSITIONS, InvalidTransition, State, can_transition, state_for_remote
from providers.base import RemoteState
from tests.factories import DeploymentFactory

ALLOWED = [(source, target) for source, targets in TRANSITIONS.items() for target in sorted(targets)]
FORBIDDEN = [(s, t) for s in State for t in State if s != t and t not in TRANSITIONS[s]]


def test_transitions_every_state_has_a_row():
    assert set(TRANSITIONS) == set(State)


def test_transitions_deleted_is_terminal():
    assert TRANSITIONS[State.DELETED] == frozenset()


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_transition_allowed_moves_are_recorded(db, source, target):
    deployment = DeploymentFactory(state=source)
    assert deployment_transition(deployment=deployment, to=target, message="test") is True
    deployment.refresh_from_db()
    assert deployment.state == target
    event = DeploymentEvent.objects.get(deployment=deployment)
    assert (event.from_state, event.to_state, event.actor_label) == (source, target, "worker")


@pytest.mark.parametrize(("source", "target"), FORBIDDEN[:40] + FORBIDDEN[-20:])
def test_transition_forbidden_moves_raise_and_write_nothing(db, source, target):
    deployment = DeploymentFactory(state=source)
    with pytest.raises(InvalidTransition):
        deployment_transition(deployment=deployment, to=target)
    deployment.refresh_from_db()
    assert deployment.state == source
    assert not DeploymentEvent.objects.filter(deployment=deployment).exists()


def test_can_transition_matches_the_table_for_every_pair():
    for source in State:
        for target in State:
            assert can_transition(source, target) == (target in TRANSITIONS[source])


def test_transition_to_same_state_is_a_no_op(db):
    deployment = DeploymentFactory(state=State.RUNNING)
    assert deployment_transition(deployment=deployment, to=State.RUNNING) is False
    assert not DeploymentEvent.objects.exists()


@pytest.mark.parametrize(
    ("current", "remote", "expected"),
    [
        (State.SUBMITTING, RemoteState.UPDATING, State.PROVISIONING),  # first rollout
        (State.PROVISIONING, RemoteState.UPDATING, State.PROVISIONING),
        (State.RUNNING, RemoteState.UPDATING, State.UPDATING),  # a later rollout
        (State.PROVISIONING, RemoteState.RUNNING, State.RUNNING),
        (State.DELETING, RemoteState.DELETED, State.DELETED),
        (State.RUNNING, RemoteState.DELETED, State.LOST),
        (State.DELETING, RemoteState.STOPPED, None),
        (State.RUNNING, RemoteState.UNKNOWN, None),
        (State.RUNNING, RemoteState.STOPPED, State.STOPPED),
        (State.RUNNING, RemoteState.FAILED, State.FAILED),
    ],
)
def test_state_for_remote(current, remote, expected):
    assert state_for_remote(current, remote) == expected


def test_cost_accrues_at_each_transition(db):
    deployment = DeploymentFactory(state=State.RUNNING, price_per_hour=Decimal("3.60"))
    deployment.cost_since = timezone.now() - timedelta(hours=2)
    deployment.save()
    deployment_transition(deployment=deployment, to=State.STOPPING)
    deployment_transition(deployment=deployment, to=State.STOPPED)
    deployment.refresh_from_db()
    assert Decimal("7.19") < deployment.cost_accrued < Decimal("7.21")
    assert deployment.price_per_hour is None  # nothing bills while stopped
