"""Fixtures shared by every test: people, teams and keys in each role."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(name="Acme GPU")


@pytest.fixture
def make_member(team) -> Callable:
    def make(role: Role = Role.OWNER, *, in_team=None, username: str | None = None):
        user = UserFactory(**({"username": username} if username else {}))
        MembershipFactory(team=in_team or team, user=user, role=role)
        return user

    return make


@pytest.fixture
def owner(make_member):
    return make_member(Role.OWNER, username="olivia")


@pytest.fixture
def account(team):
    return AccountFactory(team=team, label="Together sandbox")


@pytest.fixture
def other_team(db):
    """A second team with its own owner, key and deployment: must stay invisible."""
    from tests.factories import DeploymentFactory

    other = TeamFactory(name="Other Co")
    user = UserFactory(username="mallory")
    MembershipFactory(team=other, user=user, role=Role.OWNER)
    account = AccountFactory(team=other, label="Other key")
    deployment = DeploymentFactory(account=account, name="theirs")
    return {"team": other, "user": user, "account": account, "deployment": deployment}


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client
