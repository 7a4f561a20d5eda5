"""The permission matrix over the API: every operation (``API_RULES`` in
tests/test_url_access.py, which must name every operation of the OpenAPI document) for
every role, and for a member of another team.

- a role without the permission gets 403 and nothing changes (rows or queued tasks);
- a role with it is let through (no 401/403/404);
- every role gets 404 for another team's deployment (403 first where the role lacks the
  permission), and the other team's owner gets 404 for ours, changing nothing;
- the team-wide lists show only the token's own team.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlpanel.api.tests.helpers import call, token_for
from controlpanel.teams.permissions import ROLE_PERMISSIONS, Role
from tests.test_url_access import API_RULES, _team_world, api_paths, snapshot


def _with_tokens(world: Any) -> Any:
    world.tokens = {role: token_for(m.user, world.team, f"{role.value} token") for role, m in world.members.items()}
    for token in world.tokens.values():
        call("GET", "/me", token)  # its first use is recorded now, not inside a snapshot
    return world


@pytest.fixture
def ours(db):
    return _with_tokens(_team_world("Ours", "ours"))


@pytest.fixture
def theirs(db):
    return _with_tokens(_team_world("Theirs", "theirs"))


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    from controlpanel.deployments import tasks

    monkeypatch.setattr(tasks.fetch_logs_task, "delay", lambda *a, **k: None)


def _send(key: tuple[str, str], path: str, token: str, body: Any) -> Any:
    return call(key[0], path, token, body if key[0] in ("POST", "PATCH") else None)


def _pairs(*, allowed: bool) -> list[Any]:
    return [
        pytest.param(key, role, id=f"{key[0]} {key[1]}-{role.value}")
        for key, rule in API_RULES.items()
        for role in Role
        if (rule.perm in ROLE_PERMISSIONS[role]) is allowed
    ]


@pytest.mark.parametrize(("key", "role"), _pairs(allowed=False))
def test_api_forbidden_role_gets_403_and_changes_nothing(ours, key, role, django_capture_on_commit_callbacks):
    rule = API_RULES[key]
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for path in api_paths(key, rule, ours):
            response = _send(key, path, ours.tokens[role], rule.body(ours) if rule.body else None)
            assert response.status_code == 403, f"{path}: {response.status_code}"
            assert response.json()["error"]["code"] == "forbidden"
    assert snapshot() == before
    assert queued == []


@pytest.mark.parametrize(("key", "role"), _pairs(allowed=True))
def test_api_allowed_role_is_let_through(ours, key, role, django_capture_on_commit_callbacks):
    rule = API_RULES[key]
    with django_capture_on_commit_callbacks():
        path = api_paths(key, rule, ours)[0]
        response = _send(key, path, ours.tokens[role], rule.body(ours) if rule.body else None)
    assert response.status_code not in (401, 403, 404), f"{role.value} refused at {path}: {response.content!r}"
    assert response.status_code < 500


OBJECT_KEYS = [key for key, rule in API_RULES.items() if rule.obj]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("key", OBJECT_KEYS, ids=lambda k: f"{k[0]} {k[1]}")
def test_api_another_teams_object_is_404_for_every_role(ours, theirs, key, role, django_capture_on_commit_callbacks):
    rule = API_RULES[key]
    expected = {404} if rule.perm in ROLE_PERMISSIONS[role] else {403}
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for path in api_paths(key, rule, theirs):
            response = _send(key, path, ours.tokens[role], rule.body(ours) if rule.body else None)
            assert response.status_code in expected, f"{path}: {response.status_code}"
    assert snapshot() == before
    assert queued == []


@pytest.mark.parametrize("key", OBJECT_KEYS, ids=lambda k: f"{k[0]} {k[1]}")
def test_api_other_teams_owner_gets_404_for_our_object(ours, theirs, key, django_capture_on_commit_callbacks):
    rule = API_RULES[key]
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for path in api_paths(key, rule, ours):
            response = _send(key, path, theirs.tokens[Role.OWNER], rule.body(theirs) if rule.body else None)
            assert response.status_code == 404, f"{path}: {response.status_code}"
    assert snapshot() == before
    assert queued == []


def test_api_lists_show_only_the_tokens_team(ours, theirs):
    for key, rule in API_RULES.items():
        if key[0] != "GET" or rule.obj:
            continue
        text = json.dumps(call("GET", key[1] + rule.query, theirs.tokens[Role.OWNER]).json())
        for ours_only in ("ours-running", "ours deploy key", "ours spare key", "ours template"):
            assert ours_only not in text, key
    listed = call("GET", "/deployments", theirs.tokens[Role.VIEWER]).json()["results"]
    assert [d["name"] for d in listed] == ["theirs-running"]
