"""Fixtures shared by every test: people, teams and keys in each role."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings

from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

# Fuzzing (tests/test_fuzz.py): "ci", the default, keeps each URL to 25 repeatable examples
# so the suite stays within its time; HYPOTHESIS_PROFILE=dev explores 300 at random.
_FUZZ = {
    "deadline": None,  # a request's time is not what these tests judge
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
hypothesis_settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_FUZZ)
hypothesis_settings.register_profile("dev", max_examples=300, **_FUZZ)
# Finding every failing URL fast: no shrinking, the first failure of each shown as drawn.
hypothesis_settings.register_profile(
    "triage", max_examples=25, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate], **_FUZZ
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
