"""API tokens: made on the page or by manage.py (shown once, stored hashed), used, revoked,
and stopping at once when their person leaves the team; the per-token rate limit."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from controlpanel.api.auth import rate_check
from controlpanel.api.errors import ApiError
from controlpanel.api.models import ApiToken
from controlpanel.api.tests.helpers import call, token_for
from controlpanel.teams import services as teams
from controlpanel.teams.models import Membership
from controlpanel.teams.permissions import Role
from tests.factories import TeamFactory

TOKEN_RE = re.compile(r'id="token-value" type="text" readonly value="(gpc_[A-Za-z0-9_-]+)"')


def test_token_page_makes_a_token_shown_once_and_stored_hashed(logged_in, owner, team):
    page = logged_in.post(reverse("api:tokens"), {"name": "CI deploys", "team": team.pk})
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    raw = TOKEN_RE.search(page.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.team, token.name) == (owner, team, "CI deploys")
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(token.prefix)
    assert len(token.prefix) == 12
    assert raw not in str(ApiToken.objects.values())
    again = logged_in.get(reverse("api:tokens")).content.decode()
    assert raw not in again
    assert f"{token.prefix}…" in again
    assert "never" in again


def test_token_page_names_field_errors(logged_in, team, other_team):
    page = logged_in.post(reverse("api:tokens"), {"name": "  ", "team": other_team["team"].pk})
    form = page.context["form"]
    assert form.errors["name"] == ["This field is required."] or form.errors["name"] == ["Give the token a name."]
    assert "team" in form.errors  # not one of the person's teams
    assert not ApiToken.objects.exists()


def test_token_works_records_last_use_and_stops_when_revoked(logged_in, owner, team):
    raw = token_for(owner, team)
    answer = call("GET", "/me", raw)
    assert answer.status_code == 200
    assert answer.json() == {"user": "olivia", "team_id": team.pk, "team": "Acme GPU", "role": "owner", "token": "test"}
    token = ApiToken.objects.get()
    assert token.last_used_at is not None
    response = logged_in.post(reverse("api:token_revoke"), {"token": token.pk})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = call("GET", "/me", raw)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    assert refused["WWW-Authenticate"] == "Bearer"


def test_nobody_revokes_another_persons_token(client, owner, team, make_member):
    raw = token_for(owner, team)
    client.force_login(make_member(Role.ADMIN))
    assert client.post(reverse("api:token_revoke"), {"token": ApiToken.objects.get().pk}).status_code == 404
    assert client.post(reverse("api:token_revoke"), {"token": "x"}).status_code == 404
    assert call("GET", "/me", raw).status_code == 200


def test_a_removed_members_token_stops_and_a_role_change_counts_at_once(owner, team, make_member, account):
    user = make_member(Role.VIEWER, username="vic")
    raw = token_for(user, team)
    body = {"vendor": "together", "dry_run": True, "fields": {"account": account.pk}}
    assert call("POST", "/deployments", raw, body).status_code == 403
    membership = Membership.objects.get(user=user, team=team)
    teams.member_change_role(membership=membership, actor=owner, role=Role.DEPLOYER)
    assert call("POST", "/deployments", raw, body).status_code == 422  # allowed now: the form's errors
    teams.member_remove(membership=Membership.objects.get(user=user, team=team), actor=owner)
    assert call("GET", "/me", raw).status_code == 401


def test_a_token_works_in_its_own_team_only(owner, team):
    second = TeamFactory(name="Second")
    Membership.objects.create(team=second, user=owner, role=Role.VIEWER)
    raw = token_for(owner, second)
    assert call("GET", "/me", raw).json()["team"] == "Second"
    assert call("GET", "/me", raw).json()["role"] == "viewer"


def test_unknown_malformed_or_missing_tokens_get_401_in_the_one_shape(db):
    for token in (None, "gpc_nope", "not-even-prefixed", "x" * 500):
        response = call("GET", "/deployments", token)
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_a_deleted_teams_token_stops(owner, team):
    raw = token_for(owner, team)
    teams.team_delete(team=team, actor=owner, confirm_name=team.name)
    assert call("GET", "/me", raw).status_code == 401


def test_manage_py_api_token_prints_the_token_last(owner, team):
    for which in (str(team.pk), team.name):
        out = io.StringIO()
        call_command("api_token", "olivia", "--team", which, "--name", "ci", stdout=out, stderr=io.StringIO())
        raw = out.getvalue().strip().splitlines()[-1]
        assert call("GET", "/me", raw).json()["token"] == "ci"
    assert ApiToken.objects.count() == 2


def test_manage_py_api_token_refuses_unknown_people_and_teams(owner, team, make_member):
    with pytest.raises(CommandError, match="No user"):
        call_command("api_token", "nobody", "--team", team.name)
    with pytest.raises(CommandError, match="No team"):
        call_command("api_token", "olivia", "--team", "Nope")
    outsider = TeamFactory(name="Outside")
    with pytest.raises(CommandError, match="not a member"):
        call_command("api_token", "olivia", "--team", str(outsider.pk))
    TeamFactory(name="Acme GPU")
    with pytest.raises(CommandError, match="More than one"):
        call_command("api_token", "olivia", "--team", "Acme GPU")
    assert not ApiToken.objects.exists()


def test_rate_limit_counts_per_token_per_minute(owner, team, settings, monkeypatch):
    from controlpanel.api import auth

    settings.PANEL_API_RATE_PER_MINUTE = 3
    # 20 s into a minute, held there: the count and the wait are exact.
    monkeypatch.setattr(auth.time, "time", lambda: 6_000_003_620.0)
    raw = token_for(owner, team, "one")
    other = token_for(owner, team, "two")
    assert [call("GET", "/me", raw).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = call("GET", "/me", raw)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["Retry-After"] == "40"
    assert call("GET", "/me", other).status_code == 200  # another token has its own count


def test_rate_check_says_when_the_minute_ends(owner, team, settings):
    settings.PANEL_API_RATE_PER_MINUTE = 1
    token_for(owner, team)
    token = ApiToken.objects.get()
    rate_check(token, now=6_000_000_010.0)
    with pytest.raises(ApiError) as refused:
        rate_check(token, now=6_000_000_015.0)
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "45"}
    rate_check(token, now=6_000_000_061.0)  # a new minute


def test_errors_are_one_json_shape_for_unknown_paths_and_objects(owner, team):
    raw = token_for(owner, team)
    for path in ("/deployments/999999", "/no-such-thing", "/deployments/999999/events"):
        response = call("GET", path, raw)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    bad = call("GET", "/deployments?page=0", raw)
    assert bad.status_code == 422
    assert list(bad.json()["error"]["fields"]) == ["page"]


def test_a_server_error_is_json_too(owner, team, monkeypatch):
    from controlpanel.deployments import selectors

    raw = token_for(owner, team)

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "dashboard_spend", broken)
    response = call("GET", "/costs", raw)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "boom" not in response.content.decode()


def test_openapi_document_and_docs_page_need_no_cdn(client, db):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_a_wrong_method_is_405_in_the_one_shape(owner, team, settings):
    raw = token_for(owner, team)
    response = call("DELETE", "/deployments", raw)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    settings.PANEL_FRIENDLY_ERRORS = True  # make run's own error pages stay off the API
    settings.DEBUG = True
    assert call("GET", "/nothing/here", raw).json()["error"]["code"] == "not_found"


def test_the_token_page_works_for_someone_with_no_team(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="loner"))
    page = client.get(reverse("api:tokens"))
    assert page.status_code == 200
    refused = client.post(reverse("api:tokens"), {"name": "x"})
    assert "team" in refused.context["form"].errors
    assert not ApiToken.objects.exists()
