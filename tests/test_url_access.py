"""Every URL of the project, walked for every role and for a member of another team.

``RULES`` says, for each URL name, which permission of the one table it needs; the
first test fails when the project has a URL that no table here mentions, so a new
view cannot ship without someone deciding who may use it. Then, with real object
ids substituted (a deployment, key, member or invitation of the right team):

- a role without the permission is refused (403/404; 405 for a method the view does
  not take) on GET, POST and both with ``HX-Request``, and the database and the task
  queue are exactly as before;
- every role, even the owner, gets 404 for another team's objects, and so does the
  other team's owner for ours, again changing nothing;
- a role with the permission is let through.

Skipped, with the reason: ``/admin/`` (Django's own, staff only), ``/static/``
(files), and the sandbox's vendor twins (stand-ins for vendor APIs with their own
key auth, not team-scoped: the last test shows a session cookie never replaces a key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.catalog.models import Offer
from controlpanel.deployments.states import State
from controlpanel.deployments.views import ACTION_NAMES
from controlpanel.notifications.models import Channel
from controlpanel.teams.models import Invitation, Membership
from controlpanel.teams.permissions import ROLE_PERMISSIONS, Perm, Role
from controlpanel.teams.services import hash_token
from controlpanel.unmanaged.models import UnmanagedResource
from tests.factories import AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

SKIPPED_PREFIXES = {
    "admin/": "Django's admin: staff accounts only, outside the team model",
    "static/": "static files",
    "sandbox/": "vendor API twins with their own key auth (test_sandbox_never_takes_a_session_for_a_key)",
    "api/": "the REST API: bearer tokens only, never a session; its rules are API_RULES below, walked for "
    "every role and another team by controlpanel/api/tests/test_permissions.py",
}

PUBLIC = {
    "healthz": "probed by load balancers and compose without a login; shows no settings",
    "vendor-css": "the vendors' colours, a stylesheet the log-in page loads too; public like static files",
    "login": "the log-in page itself",
    "logout": "ends a session; nothing to protect without one",
    "password_reset": "the reset flow is for people who cannot log in",
    "password_reset_done": "the reset flow is for people who cannot log in",
    "password_reset_confirm": "the reset flow is for people who cannot log in (the emailed token is the check)",
    "password_reset_complete": "the reset flow is for people who cannot log in",
    "teams:join": "the invitation link: its single-use token is the credential",
}

LOGIN_ONLY = {
    "teams:create": "anyone logged in may start a team, and becomes its owner",
    "teams:switch": "chooses among the person's own teams; a team they are not in is ignored",
    "parts-banner": "whether the worker and beat run: the same for everyone, no team's data",
    "password_change": "about the person, not a team",
    "password_change_done": "about the person, not a team",
    "api:tokens": "the person's own API tokens; each acts with their role in its one team, checked per request",
    "api:token_revoke": "revokes one of the person's own tokens (another person's id is a 404)",
}


@dataclass(frozen=True)
class Rule:
    perm: Perm
    obj: str = ""  # which object's id goes into ``pk``: deployment, account, member, invitation, channel, template
    variants: tuple[dict[str, str], ...] = ({},)  # other URL kwargs
    data: Callable[[Any], dict[str, Any]] = field(default=lambda w: {})  # a POST that would work if allowed


def _together_data(w: Any) -> dict[str, Any]:
    return {
        "account": w.deploy_account.pk,
        "name": "walker-made",
        "image": "registry.together.ai/p/walker:1",
        "gpu_type": "h100-80gb",
        "gpu_count": "1",
        "min_replicas": "1",
        "max_replicas": "1",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
        "volumes-TOTAL_FORMS": "0",
        "volumes-INITIAL_FORMS": "0",
    }


def _confirmed_create(w: Any) -> dict[str, Any]:
    """The form as it is posted after the cost confirmation, so a missing check would create."""
    from controlpanel.deployments.views import _build_form, _spec_digest

    data = _together_data(w)
    form = _build_form(SimpleNamespace(team=w.team), "together", data)
    assert form.is_valid(), form.errors
    return {**data, "confirmed": _spec_digest(form)}


VENDOR = ({"vendor": "together"},)


def _anywhere_data(w: Any) -> dict[str, Any]:
    return {"name": "walker", "image": "docker.io/library/nginx:1", "gpu_count": "1", "env": "A=1"}


RULES: dict[str, Rule] = {
    "deployments:dashboard": Rule(Perm.VIEW),
    "deployments:bulk": Rule(Perm.DEPLOY, data=lambda w: {"action": "stop", "ids": [w.deployment.pk]}),
    "deployments:new": Rule(Perm.DEPLOY),
    "deployments:create": Rule(Perm.DEPLOY, variants=VENDOR, data=_confirmed_create),
    "deployments:validate": Rule(Perm.DEPLOY, variants=VENDOR, data=_together_data),
    "deployments:detail": Rule(Perm.VIEW, obj="deployment"),
    "deployments:edit": Rule(Perm.DEPLOY, obj="deployment", data=_together_data),
    "deployments:scale": Rule(Perm.DEPLOY, obj="deployment", data=lambda w: {"min_replicas": 2, "max_replicas": 3}),
    "deployments:logs": Rule(Perm.VIEW, obj="deployment"),
    "deployments:action": Rule(Perm.DEPLOY, obj="deployment", variants=tuple({"name": n} for n in ACTION_NAMES)),
    "credentials:list": Rule(Perm.VIEW),
    "credentials:add": Rule(
        Perm.MANAGE_KEYS,
        data=lambda w: {
            "vendor": "together",
            "label": "Injected",
            "api_key": "sandbox-injected-0001",
            "endpoint": "sandbox",
        },
    ),
    "credentials:row": Rule(Perm.VIEW, obj="account"),
    "credentials:verify": Rule(Perm.MANAGE_KEYS, obj="account"),
    "credentials:rename": Rule(Perm.MANAGE_KEYS, obj="account", data=lambda w: {"label": "Renamed by walker"}),
    "credentials:rotate": Rule(Perm.MANAGE_KEYS, obj="account", data=lambda w: {"api_key": "sandbox-rotated-0002"}),
    "credentials:delete": Rule(Perm.MANAGE_KEYS, obj="account"),
    "credentials:refresh": Rule(Perm.VIEW, obj="account"),
    "catalog:prices": Rule(Perm.VIEW),
    "audit:log": Rule(Perm.VIEW_AUDIT),
    "audit:export": Rule(Perm.VIEW_AUDIT),
    "teams:detail": Rule(Perm.VIEW),
    "teams:leave": Rule(Perm.VIEW),
    "teams:invite": Rule(Perm.MANAGE_MEMBERS, data=lambda w: {"email": "newcomer@example.com", "role": "viewer"}),
    "teams:invitation_revoke": Rule(Perm.MANAGE_MEMBERS, obj="invitation"),
    "teams:invitation_link": Rule(Perm.MANAGE_MEMBERS, obj="invitation"),
    "teams:member_role": Rule(Perm.MANAGE_MEMBERS, obj="member", data=lambda w: {"role": "admin"}),
    "teams:member_remove": Rule(Perm.MANAGE_MEMBERS, obj="member"),
    "teams:settings": Rule(Perm.MANAGE_TEAM),
    "teams:rename": Rule(Perm.MANAGE_TEAM, data=lambda w: {"name": "Renamed by walker"}),
    "teams:transfer": Rule(Perm.MANAGE_TEAM, data=lambda w: {"member": w.target.pk}),
    "teams:delete": Rule(Perm.MANAGE_TEAM, data=lambda w: {"confirm": w.team.name}),
    "limits:team": Rule(
        Perm.VIEW,
        data=lambda w: {"approval_above_per_hour": "1", "default_ttl_hours": "2", "default_ttl_action": "stop"},
    ),
    "limits:approvals": Rule(Perm.VIEW),
    "costs:page": Rule(Perm.VIEW),
    "costs:export": Rule(Perm.VIEW),
    "limits:approve": Rule(Perm.APPROVE, obj="deployment"),
    "limits:refuse": Rule(Perm.APPROVE, obj="deployment", data=lambda w: {"reason": "walker"}),
    "limits:time_limit": Rule(Perm.DEPLOY, obj="deployment", data=lambda w: {"hours": "2", "action": "stop"}),
    "unmanaged:list": Rule(Perm.VIEW),
    "unmanaged:adopt": Rule(Perm.DEPLOY, obj="unmanaged"),
    "unmanaged:ignore": Rule(Perm.MANAGE_KEYS, obj="unmanaged"),
    "unmanaged:restore": Rule(Perm.MANAGE_KEYS, obj="unmanaged"),
    "deployments:anywhere": Rule(Perm.DEPLOY, data=lambda w: _anywhere_data(w)),
    "deployments:anywhere_choose": Rule(Perm.DEPLOY, data=lambda w: {**_anywhere_data(w), "offer": w.offer.pk}),
    "blueprints:list": Rule(Perm.VIEW),
    "blueprints:save": Rule(
        Perm.DEPLOY, variants=VENDOR, data=lambda w: {**_together_data(w), "template_name": "Walker's"}
    ),
    "blueprints:edit": Rule(Perm.DEPLOY, obj="template", data=lambda w: {"name": "Walked", "description": ""}),
    "blueprints:delete": Rule(Perm.DEPLOY, obj="template"),
    "limits:idle_rule": Rule(Perm.DEPLOY, obj="deployment", data=lambda w: {"rule": "never"}),
    "notifications:list": Rule(Perm.VIEW),
    "notifications:add": Rule(
        Perm.MANAGE_NOTIFICATIONS,
        data=lambda w: {"kind": "email", "name": "Walker", "target": "walker@example.com", "events": ["state"]},
    ),
    "notifications:detail": Rule(Perm.VIEW, obj="channel"),
    "notifications:settings": Rule(
        Perm.MANAGE_NOTIFICATIONS, obj="channel", data=lambda w: {"events": ["failure"], "enabled": ""}
    ),
    "notifications:test": Rule(Perm.MANAGE_NOTIFICATIONS, obj="channel"),
    "notifications:delete": Rule(Perm.MANAGE_NOTIFICATIONS, obj="channel", data=lambda w: {"confirm": w.channel.name}),
}


# --- the REST API (/api/v1/): every operation of its OpenAPI document -----------------------------


@dataclass(frozen=True)
class ApiRule:
    perm: Perm
    obj: bool = False  # the path takes an object's id: the world's ``kind``
    variants: tuple[dict[str, str], ...] = ({},)  # other path parameters
    body: Callable[[Any], Any] | None = None  # a JSON body that would work if allowed
    kind: str = "deployment"  # which object's id goes into {pk}: deployment or template
    query: str = ""  # a query string that would work if allowed


def _api_create(w: Any) -> dict[str, Any]:
    fields = {k: v for k, v in _together_data(w).items() if "-" not in k}
    return {"vendor": "together", "fields": fields}


API_RULES: dict[tuple[str, str], ApiRule] = {
    ("GET", "/me"): ApiRule(Perm.VIEW),
    ("GET", "/deployments"): ApiRule(Perm.VIEW),
    ("POST", "/deployments"): ApiRule(Perm.DEPLOY, body=_api_create),
    ("GET", "/deployments/{pk}"): ApiRule(Perm.VIEW, obj=True),
    ("POST", "/deployments/{pk}/scale"): ApiRule(
        Perm.DEPLOY, obj=True, body=lambda w: {"min_replicas": 2, "max_replicas": 3}
    ),
    ("POST", "/deployments/{pk}/update"): ApiRule(Perm.DEPLOY, obj=True, body=lambda w: {"fields": {"name": "x"}}),
    ("POST", "/deployments/{pk}/{name}"): ApiRule(
        Perm.DEPLOY, obj=True, variants=tuple({"name": n} for n in ACTION_NAMES), body=lambda w: {}
    ),
    ("GET", "/deployments/{pk}/events"): ApiRule(Perm.VIEW, obj=True),
    ("GET", "/deployments/{pk}/logs"): ApiRule(Perm.VIEW, obj=True),
    ("GET", "/keys"): ApiRule(Perm.VIEW),
    ("GET", "/offers"): ApiRule(Perm.VIEW),
    ("GET", "/costs"): ApiRule(Perm.VIEW),
    ("GET", "/offers/anywhere"): ApiRule(Perm.DEPLOY, query="?image=docker.io/library/nginx:1&gpu=H100&count=1"),
    ("GET", "/templates"): ApiRule(Perm.VIEW),
    ("POST", "/templates"): ApiRule(Perm.DEPLOY, body=lambda w: {**_api_create(w), "name": "Walker's"}),
    ("GET", "/templates/{pk}"): ApiRule(Perm.VIEW, obj=True, kind="template"),
    # The world's template is its deployer's: deployers change their own, admins and owners any.
    ("PATCH", "/templates/{pk}"): ApiRule(Perm.DEPLOY, obj=True, kind="template", body=lambda w: {"name": "Walked"}),
    ("DELETE", "/templates/{pk}"): ApiRule(Perm.DEPLOY, obj=True, kind="template"),
    ("POST", "/templates/{pk}/deploy"): ApiRule(
        Perm.DEPLOY, obj=True, kind="template", body=lambda w: {"fields": _api_create(w)["fields"]}
    ),
}


def api_operations() -> set[tuple[str, str]]:
    """(method, path) of every operation the OpenAPI document lists, paths without /api/v1."""
    from controlpanel.api.api import api

    paths = api.get_openapi_schema()["paths"]
    return {(method.upper(), path.removeprefix("/api/v1")) for path, ops in paths.items() for method in ops}


def api_paths(key: tuple[str, str], rule: ApiRule, world: Any) -> list[str]:
    """The rule's paths with the world's object (its deployment or template) as {pk}."""
    paths = []
    for variant in rule.variants:
        path = key[1].replace("{pk}", str(getattr(world, rule.kind).pk)) + rule.query
        for name, value in variant.items():
            path = path.replace("{" + name + "}", value)
        paths.append(path)
    return paths


def test_api_rules_cover_every_api_operation():
    assert api_operations() == set(API_RULES), "an API operation with no access rule: add it to API_RULES"


def test_the_api_never_takes_a_session(client, ours, django_capture_on_commit_callbacks):
    """A logged-in owner's session cookie, with the CSRF token or without, is not a token: 401."""
    client.force_login(ours.members[Role.OWNER].user)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for key, rule in API_RULES.items():
            for path in api_paths(key, rule, ours):
                body = rule.body(ours) if rule.body else None
                kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
                response = getattr(client, key[0].lower())("/api/v1" + path, **kwargs)
                assert response.status_code == 401, f"{key[0]} {path}: {response.status_code}"
    assert snapshot() == before
    assert queued == []


# --- the walk -------------------------------------------------------------------------------------


def walk(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every named URL pattern: (route prefix, namespaced name, pattern), recursing into includes."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from walk(entry.url_patterns, route, inner or "")
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or f"<unnamed {route}>"
            yield route, name, entry


def skipped(route: str) -> bool:
    return any(route.startswith(p) for p in SKIPPED_PREFIXES)


def unlisted_urls() -> set[str]:
    """URL names no table here decides about: must be empty."""
    listed = set(RULES) | set(PUBLIC) | set(LOGIN_ONLY)
    return {name for route, name, _ in walk() if not skipped(route)} - listed


def _team_world(name: str, prefix: str) -> SimpleNamespace:
    team = TeamFactory(name=name)
    members = {}
    for role in Role:
        user = UserFactory(username=f"{prefix}-{role.value}")
        members[role] = MembershipFactory(team=team, user=user, role=role)
    target = MembershipFactory(team=team, user=UserFactory(username=f"{prefix}-target"), role=Role.VIEWER)
    deploy_account = AccountFactory(team=team, label=f"{prefix} deploy key")
    deployment = DeploymentFactory(
        account=deploy_account, name=f"{prefix}-running", state=State.RUNNING, external_id=f"{prefix}-ext-1"
    )
    spare_account = AccountFactory(team=team, label=f"{prefix} spare key")  # unused: deletable if allowed
    channel = Channel.objects.create(
        team=team, kind="email", name=f"{prefix} mail", target_encrypted="x", target_hint="x", events=["state"]
    )
    unmanaged = UnmanagedResource.objects.create(
        team=team,
        account=deploy_account,
        vendor=deploy_account.vendor,
        external_id=f"{prefix}-console-made",
        name=f"{prefix}-unmanaged",
        ignored_at=team.created_at,  # ignored: "restore" has work to do
    )
    template = DeploymentTemplate.objects.create(
        team=team, name=f"{prefix} template", vendor="together", spec={}, created_by=members[Role.DEPLOYER].user
    )
    offer = Offer.objects.create(
        account=deploy_account,
        vendor="together",
        sku="h100-80gb",
        name="H100",
        gpu_model="NVIDIA H100 80GB",
        price_per_hour=Decimal("3.36"),
        synced_at=timezone.now(),
    )
    invitation = Invitation.objects.create(
        team=team,
        email=f"{prefix}-invitee@example.com",
        role=Role.VIEWER,
        token_hash=hash_token(f"{prefix}-token"),
        invited_by=members[Role.OWNER].user,
        expires_at=team.created_at + dt.timedelta(days=7),
    )
    return SimpleNamespace(
        team=team,
        members=members,
        target=target,
        deploy_account=deploy_account,
        deployment=deployment,
        account=spare_account,
        invitation=invitation,
        channel=channel,
        template=template,
        offer=offer,
        objects={
            "deployment": deployment.pk,
            "account": spare_account.pk,
            "member": target.pk,
            "invitation": invitation.pk,
            "channel": channel.pk,
            "unmanaged": unmanaged.pk,
            "template": template.pk,
        },
    )


@pytest.fixture
def ours(db):
    return _team_world("Ours", "ours")


@pytest.fixture
def theirs(db):
    return _team_world("Theirs", "theirs")


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Views that enqueue directly (log fetches) must not reach the test broker."""
    from controlpanel.deployments import tasks

    sent: list[Any] = []
    monkeypatch.setattr(tasks.fetch_logs_task, "delay", lambda *a, **k: sent.append(a))
    return sent


PROJECT_APPS = {
    "api",
    "teams",
    "audit",
    "credentials",
    "deployments",
    "catalog",
    "core",
    "sandbox",
    "notifications",
    "limits",
    "unmanaged",
    "blueprints",
}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every panel table (and the users), to compare before and after."""
    models = [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS or m._meta.label == "auth.User"]
    return {m._meta.label: list(m._base_manager.order_by("pk").values()) for m in models}


def urls_for(name: str, rule: Rule, objects: dict[str, int]) -> list[str]:
    return [
        reverse(name, kwargs={**variant, **({"pk": objects[rule.obj]} if rule.obj else {})})
        for variant in rule.variants
    ]


def hit(client: Client, url: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
    """GET, GET with HX-Request, POST, POST with HX-Request: (what, response) for each."""
    hx = {"HTTP_HX_REQUEST": "true"}
    return [
        ("GET", client.get(url)),
        ("GET hx", client.get(url, **hx)),
        ("POST", client.post(url, data)),
        ("POST hx", client.post(url, data, **hx)),
    ]


def assert_refused(results: list[tuple[str, Any]], allowed: set[int], url: str) -> None:
    statuses = {response.status_code for _, response in results}
    shown = [(what, response.status_code) for what, response in results]
    assert statuses <= allowed | {405}, f"{url}: {shown}"
    assert statuses & allowed, f"{url}: only 405s, the check itself was never reached: {shown}"


def _pairs(*, allowed: bool) -> list[Any]:
    return [
        pytest.param(name, role, id=f"{name}-{role.value}")
        for name, rule in RULES.items()
        for role in Role
        if (rule.perm in ROLE_PERMISSIONS[role]) is allowed
    ]


# --- the tests ------------------------------------------------------------------------------------


def test_url_rules_cover_every_url_pattern():
    assert unlisted_urls() == set(), "a URL with no access rule: add it to RULES, PUBLIC or LOGIN_ONLY"
    assert not set(RULES) & set(PUBLIC) & set(LOGIN_ONLY)
    listed = {name for route, name, _ in walk()}
    assert set(RULES) | set(PUBLIC) | set(LOGIN_ONLY) <= listed, "a rule for a URL that no longer exists"


def test_url_rules_fail_for_a_url_added_without_a_rule(settings):
    settings.ROOT_URLCONF = "tests.urlconf_with_unlisted"
    assert unlisted_urls() == {"unlisted-extra"}


def test_views_check_the_permission_their_rule_names():
    for _route, name, pattern in walk():
        if name in RULES:
            assert getattr(pattern.callback, "required_perm", None) == RULES[name].perm, name
        elif name in LOGIN_ONLY or name in PUBLIC:
            assert not hasattr(pattern.callback, "required_perm"), f"{name} is team-scoped; give it a RULE"


@pytest.mark.parametrize("name", sorted([*RULES, *LOGIN_ONLY]))
def test_anonymous_is_sent_to_log_in_and_changes_nothing(client, ours, name, django_capture_on_commit_callbacks):
    rule = RULES.get(name, Rule(Perm.VIEW))
    kwargs = {"uidb64": "x", "token": "y"} if name.startswith("password_reset_") else {}
    urls = urls_for(name, rule, ours.objects) if not kwargs else [reverse(name, kwargs=kwargs)]
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for url in urls:
            for what, response in hit(client, url, rule.data(ours)):
                assert response.status_code in (302, 405), f"{what} {url}: {response.status_code}"
                if response.status_code == 302:
                    assert response["Location"].startswith(reverse("login")), f"{what} {url}"
    assert snapshot() == before
    assert queued == []


@pytest.mark.parametrize(("name", "role"), _pairs(allowed=False))
def test_forbidden_role_is_refused_and_changes_nothing(client, ours, name, role, django_capture_on_commit_callbacks):
    rule = RULES[name]
    client.force_login(ours.members[role].user)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for url in urls_for(name, rule, ours.objects):
            assert_refused(hit(client, url, rule.data(ours)), {403, 404}, url)
    assert snapshot() == before
    assert queued == []


@pytest.mark.parametrize(("name", "role"), _pairs(allowed=True))
def test_allowed_role_is_let_through(client, ours, name, role):
    rule = RULES[name]
    client.force_login(ours.members[role].user)
    for url in urls_for(name, rule, ours.objects)[:1]:
        status = client.get(url).status_code
        if status == 405:  # a POST-only endpoint: try it the way its form does
            status = client.post(url, rule.data(ours), HTTP_HX_REQUEST="true").status_code
        assert status not in (403, 404), f"{role.value} refused at {url}: {status}"


OBJECT_RULES = sorted(name for name, rule in RULES.items() if rule.obj)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("name", OBJECT_RULES)
def test_another_teams_objects_are_404_for_every_role(
    client, ours, theirs, name, role, django_capture_on_commit_callbacks
):
    rule = RULES[name]
    client.force_login(ours.members[role].user)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for url in urls_for(name, rule, theirs.objects):
            results = hit(client, url, rule.data(ours))
            # A role without the permission may be told 403 before the lookup; any 200 would be a leak.
            assert_refused(results, {404} if rule.perm in ROLE_PERMISSIONS[role] else {403, 404}, url)
    assert snapshot() == before
    assert queued == []


@pytest.mark.parametrize("name", OBJECT_RULES)
def test_member_of_another_team_gets_404_for_our_objects(
    client, ours, theirs, name, django_capture_on_commit_callbacks
):
    """The other team's owner, who may do everything in their own team, finds nothing of ours."""
    rule = RULES[name]
    client.force_login(theirs.members[Role.OWNER].user)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for url in urls_for(name, rule, ours.objects):
            assert_refused(hit(client, url, rule.data(theirs)), {404}, url)
    assert snapshot() == before
    assert queued == []


def test_member_of_another_team_sees_only_their_own_team_on_team_wide_pages(client, ours, theirs):
    client.force_login(theirs.members[Role.OWNER].user)
    for name, rule in RULES.items():
        if rule.obj or rule.perm is not Perm.VIEW:
            continue
        for url in urls_for(name, rule, {}):
            response = client.get(url)
            if response.status_code == 200:
                page = response.content.decode()
                for ours_only in ("ours-running", "ours deploy key", "ours-target", "ours-unmanaged"):
                    assert ours_only not in page, url


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_pages_need_no_login(client, db, name):
    kwargs = {"password_reset_confirm": {"uidb64": "x", "token": "y"}, "teams:join": {"token": "nope"}}.get(name, {})
    response = client.get(reverse(name, kwargs=kwargs))
    assert not response.get("Location", "").startswith(reverse("login")), name
    assert response.status_code < 500 or name == "healthz"  # healthz says 503 while no worker reports


def test_sandbox_never_takes_a_session_for_a_key(client, ours):
    """The vendor twins answer only to the vendor's own key header: a logged-in panel
    session gets exactly what an anonymous caller gets, the vendor's 401."""
    routes = [(route, pattern) for route, _, pattern in walk() if route.startswith("sandbox/")]
    assert routes, "the sandbox has no routes?"
    anonymous = Client()
    client.force_login(ours.members[Role.OWNER].user)
    for route, pattern in routes:
        kwargs = dict.fromkeys(pattern.pattern.converters, "x")
        prefix = "/" + route[: len(route) - len(str(pattern.pattern))]
        url = prefix + str(pattern.pattern)
        for key, value in kwargs.items():
            url = url.replace(f"<str:{key}>", value).replace(f"<{key}>", value)
        for method in ("get", "post"):
            with_session = getattr(client, method)(url).status_code
            without = getattr(anonymous, method)(url).status_code
            assert with_session == without, f"{method.upper()} {url}: {with_session} with a session, {without} without"
            if getattr(pattern.callback, "vendor_public", False):
                continue  # documented as public by the vendor (Nosana's markets): same answer for everyone
            assert with_session in (401, 403), f"{method.upper()} {url} answered {with_session} without a key"
    # And a sandbox key does open them, so the 401s above are the key check, not a broken route.
    assert anonymous.get("/sandbox/together/v1/hardware", HTTP_AUTHORIZATION="Bearer sandbox-walker").status_code == 200


def test_walker_world_has_every_role_and_object(ours, theirs):
    assert {m.role for m in Membership.objects.filter(team=ours.team)} == set(Role)
    assert set(ours.objects) == {rule.obj for rule in RULES.values() if rule.obj}
    for world in (ours, theirs):
        owners = {world.deployment.team, world.account.team, world.target.team, world.invitation.team}
        assert owners == {world.team}


def test_every_post_without_the_csrf_token_is_refused(ours, django_capture_on_commit_callbacks):
    """CSRF on every state-changing request, HTMX ones included (they send the token
    from ``hx-headers``; without it they are refused like any form post)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(ours.members[Role.OWNER].user)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for route, name, pattern in walk():
            if skipped(route):
                continue
            rule = RULES.get(name, Rule(Perm.VIEW))
            kwargs = dict.fromkeys(pattern.pattern.converters, "x")
            urls = urls_for(name, rule, ours.objects) if name in RULES else [reverse(name, kwargs=kwargs)]
            for url in urls:
                assert client.post(url, rule.data(ours)).status_code == 403, url
                assert client.post(url, rule.data(ours), HTTP_HX_REQUEST="true").status_code == 403, url
    assert snapshot() == before
    assert queued == []
