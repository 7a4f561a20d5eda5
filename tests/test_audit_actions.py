"""Every kind of audit entry is written by the service that performs the action, with
the actor, a readable summary and a target; and no entry ever holds key material
(API keys, their ciphertext, invitation tokens, secret env values)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import respx

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials import services as keys
from controlpanel.credentials.models import EndpointKind, ProviderAccount
from controlpanel.deployments import services as deployments
from controlpanel.deployments.states import State
from controlpanel.teams import services as teams
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Role
from providers.base import Action
from providers.together import TogetherProvider
from tests.factories import AccountFactory, DeploymentFactory, UserFactory, together_spec

SECRET_KEY = "sandbox-KEYMATERIAL-0123456789-abcd"
ROTATED_KEY = "sandbox-ROTATEDMATERIAL-987654-wxyz"
ENV_SECRET = "hf_ENVSECRET_never_in_the_log"


class World:
    def __init__(self, owner: Any, team: Team) -> None:
        self.owner, self.team = owner, team
        self.account = AccountFactory(team=team, label="Prod key", api_key=SECRET_KEY)
        self.tokens: list[str] = []

    def deployment(self, state: State, external_id: str = "dep-1", **kwargs: Any):
        return DeploymentFactory(account=self.account, state=state, external_id=external_id, **kwargs)

    def member(self, role: Role, username: str) -> Membership:
        user = UserFactory(username=username, email=f"{username}@example.com")
        return Membership.objects.create(team=self.team, user=user, role=role)

    def invite(self, email: str = "vic@example.com"):
        invitation, token = teams.invitation_create(team=self.team, actor=self.owner, email=email, role=Role.VIEWER)
        self.tokens.append(token)
        return invitation, token


def _key_verified(w: World) -> None:
    # The vendor echoes the key in its refusal; the entry must still not carry it.
    with respx.mock(base_url=w.account.base_url) as api:
        api.get("/deployments").respond(401, json={"error": {"message": f"Invalid API key: {SECRET_KEY}"}})
        keys.account_verify(account_id=w.account.pk, actor_id=w.owner.pk)


def _key_rotated(w: World) -> None:
    # The entry is written when the vendor has accepted the new key and it replaced the old.
    keys.account_rotate(account=w.account, actor=w.owner, api_key=ROTATED_KEY)
    with respx.mock(base_url=w.account.base_url) as api:
        api.get("/deployments").respond(200, json={"object": "list", "data": []})
        api.get("/deployments/secrets").respond(200, json={"object": "list", "data": []})
        api.get("/deployments/storage/volumes").respond(200, json={"object": "list", "data": []})
        keys.account_verify_rotation(account_id=w.account.pk, actor_id=w.owner.pk)


def _member_joined(w: World) -> None:
    _, token = w.invite()
    teams.invitation_signup(token=token, username="vic", password="violet-lantern-orbit-42")


def _invite_renewed(w: World) -> None:
    _, token = teams.invitation_renew_link(invitation=w.invite()[0], actor=w.owner)
    w.tokens.append(token)


def _restart(w: World) -> None:
    # Together has no restart; the vendors that do share this service path.
    TogetherProvider.actions = TogetherProvider.actions | {Action.RESTART}
    deployments.deployment_request_action(deployment=w.deployment(State.RUNNING), actor=w.owner, action=Action.RESTART)


def _update(w: World) -> None:
    spec = together_spec(name="flux-worker", environment_variables=[{"name": "HF_TOKEN", "value": ENV_SECRET}])
    deployments.deployment_request_action(
        deployment=w.deployment(State.RUNNING), actor=w.owner, action=Action.UPDATE, params={"spec": spec}
    )


def _channel(w: World):
    from controlpanel.notifications import services as notifications

    channel, _ = notifications.channel_create(
        team=w.team, actor=w.owner, kind="webhook", name="Ops", target="https://hooks.example.com/x", events=["state"]
    )
    return channel


def _template(w: World):
    from controlpanel.blueprints import services as templates

    spec = together_spec(environment_variables=[{"name": "HF_TOKEN", "value": ENV_SECRET}])
    return templates.template_create(team=w.team, actor=w.owner, name="Flux", vendor_slug="together", spec=spec)


def _template_changed(w: World) -> None:
    from controlpanel.blueprints import services as templates

    templates.template_update(template=_template(w), actor=w.owner, name="Flux on H100", description="demo")


def _template_deleted(w: World) -> None:
    from controlpanel.blueprints import services as templates

    templates.template_delete(template=_template(w), actor=w.owner)


def _channel_changed(w: World) -> None:
    from controlpanel.notifications import services as notifications

    notifications.channel_update(channel=_channel(w), actor=w.owner, events=["failure"], enabled=False)


def _channel_deleted(w: World) -> None:
    from controlpanel.notifications import services as notifications

    notifications.channel_delete(channel=_channel(w), actor=w.owner)


def _held(w: World):
    from controlpanel.limits.models import TeamPolicy

    TeamPolicy.objects.update_or_create(team=w.team, defaults={"approval_above_per_hour": 1})
    deployer = w.member(Role.DEPLOYER, "dev").user
    return deployments.deployment_create(team=w.team, actor=deployer, account=w.account, spec=together_spec())


def _approved(w: World) -> None:
    from controlpanel.limits import services as limits

    limits.deployment_approve(deployment=_held(w), actor=w.owner)


def _refused(w: World) -> None:
    from controlpanel.limits import services as limits

    limits.deployment_refuse(deployment=_held(w), actor=w.owner, reason="Too big")


def _time_limit(w: World) -> None:
    from controlpanel.limits import services as limits

    limits.deployment_set_time_limit(
        deployment=w.deployment(State.RUNNING), actor=w.owner, hours_from_now=2, action="stop"
    )


def _idle_rule(w: World) -> None:
    from controlpanel.credentials.models import ProviderAccount
    from controlpanel.limits import services as limits

    ProviderAccount.objects.filter(pk=w.account.pk).update(vendor="replicate")
    w.account.refresh_from_db()
    limits.deployment_set_idle_rule(deployment=w.deployment(State.RUNNING, "acme/sdxl"), actor=w.owner, minutes=30)


def _rolled_back(w: World) -> None:
    deployments.deployment_request_action(
        deployment=w.deployment(State.RUNNING), actor=w.owner, action=Action.UPDATE, params={"rollback": "1"}
    )


def _team_limits(w: World) -> None:
    from controlpanel.limits import services as limits

    limits.team_policy_update(
        team=w.team, actor=w.owner, approval_above_per_hour=None, default_ttl_hours=8, default_ttl_action="stop"
    )


def _unmanaged(w: World, *, ignored: bool = False):
    from django.utils import timezone

    from controlpanel.unmanaged.models import UnmanagedResource

    return UnmanagedResource.objects.create(
        team=w.team,
        account=w.account,
        vendor="together",
        external_id="dep_console01",
        name="console-made",
        ignored_at=timezone.now() if ignored else None,
    )


def _adopted(w: World) -> None:
    # A deployment made in Together's console, with a secret value in its env: adopted,
    # its spec keeps the value (the page masks it), the audit entry never does.
    from controlpanel.unmanaged import services as unmanaged

    resource = _unmanaged(w)
    unmanaged.unmanaged_request_adopt(resource=resource, actor=w.owner)
    item = {
        "id": "dep_console01",
        "object": "deployment",
        "name": "console-made",
        "image": "registry.together.xyz/proj/console:1",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 1,
        "desired_replicas": 1,
        "ready_replicas": 1,
        "status": "Ready",
        "environment_variables": [{"name": "HF_TOKEN", "value": ENV_SECRET}],
    }
    with respx.mock(base_url=w.account.base_url) as api:
        api.get("/deployments/dep_console01").respond(200, json=item)
        unmanaged.unmanaged_adopt(resource_id=resource.pk)


def _unmanaged_ignored(w: World) -> None:
    from controlpanel.unmanaged import services as unmanaged

    unmanaged.unmanaged_ignore(resource=_unmanaged(w), actor=w.owner)


def _unmanaged_restored(w: World) -> None:
    from controlpanel.unmanaged import services as unmanaged

    unmanaged.unmanaged_restore(resource=_unmanaged(w, ignored=True), actor=w.owner)


def _api_token(w: World):
    from controlpanel.api import services as api_tokens

    token, raw = api_tokens.api_token_create(user=w.owner, team=w.team, name="CI", actor=w.owner)
    w.tokens.append(raw)
    return token


def _api_token_revoked(w: World) -> None:
    from controlpanel.api import services as api_tokens

    api_tokens.api_token_revoke(token=_api_token(w), actor=w.owner)


def _budget(w: World, share: str) -> None:
    """A team that spent $share of a $1 budget this month: the sweep's check writes the entry."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from controlpanel.costs.services import team_budget_check
    from controlpanel.deployments.models import DeploymentEvent
    from controlpanel.limits.models import TeamPolicy

    now = timezone.now()
    began = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - dt.timedelta(hours=1))
    hours = Decimal(str((now - began).total_seconds() / 3600))
    d = w.deployment(State.RUNNING, estimated_price_per_hour=Decimal(share) / hours)
    type(d).objects.filter(pk=d.pk).update(created_at=began)
    DeploymentEvent.objects.create(
        deployment=d, kind="state", actor_label="worker", from_state="queued", to_state="running", created_at=began
    )
    policy = TeamPolicy.objects.create(team=w.team, monthly_budget=Decimal("1"))
    team_budget_check(team=w.team, policy=policy, now=now)


def _over_budget(w: World) -> None:
    from decimal import Decimal

    from controlpanel.deployments.services.submission import deployment_submit
    from controlpanel.limits.models import TeamPolicy

    TeamPolicy.objects.create(team=w.team, price_ceiling_per_hour=Decimal("1"))
    d = w.deployment(State.QUEUED, external_id="", estimated_price_per_hour=Decimal("5"))
    deployment_submit(deployment_id=d.pk, task_id="audit-1")


# Written by the panel itself (a sweep or the submit task), with no person as the actor.
BY_THE_PANEL = {AuditAction.BUDGET_WARNED, AuditAction.BUDGET_REACHED, AuditAction.DEPLOYMENT_OVER_BUDGET}

PERFORM: dict[AuditAction, Callable[[World], Any]] = {
    AuditAction.BUDGET_WARNED: lambda w: _budget(w, "0.9"),
    AuditAction.BUDGET_REACHED: lambda w: _budget(w, "1.5"),
    AuditAction.DEPLOYMENT_OVER_BUDGET: _over_budget,
    AuditAction.KEY_ADDED: lambda w: keys.account_create(
        team=w.team,
        actor=w.owner,
        vendor="together",
        label="Second",
        api_key=SECRET_KEY + "2",
        endpoint=EndpointKind.SANDBOX,
    ),
    AuditAction.KEY_VERIFIED: _key_verified,
    AuditAction.KEY_RENAMED: lambda w: keys.account_rename(account=w.account, actor=w.owner, label="Renamed"),
    AuditAction.KEY_ROTATED: lambda w: _key_rotated(w),
    AuditAction.KEY_DELETED: lambda w: keys.account_delete(account=w.account, actor=w.owner),
    AuditAction.TEAM_CREATED: lambda w: teams.team_create(name="Second team", owner=w.owner),
    AuditAction.TEAM_SETTINGS: lambda w: teams.team_rename(team=w.team, actor=w.owner, name="Renamed team"),
    AuditAction.TEAM_DELETED: lambda w: teams.team_delete(team=w.team, actor=w.owner, confirm_name=w.team.name),
    AuditAction.MEMBER_INVITED: lambda w: w.invite(),
    AuditAction.MEMBER_INVITE_REVOKED: lambda w: teams.invitation_revoke(invitation=w.invite()[0], actor=w.owner),
    AuditAction.MEMBER_INVITE_RENEWED: _invite_renewed,
    AuditAction.MEMBER_JOINED: _member_joined,
    AuditAction.MEMBER_ROLE_CHANGED: lambda w: teams.member_change_role(
        membership=w.member(Role.VIEWER, "vic"), actor=w.owner, role=Role.DEPLOYER
    ),
    AuditAction.MEMBER_REMOVED: lambda w: teams.member_remove(membership=w.member(Role.VIEWER, "vic"), actor=w.owner),
    AuditAction.OWNERSHIP_TRANSFERRED: lambda w: teams.team_transfer_ownership(
        team=w.team, actor=w.owner, to=w.member(Role.ADMIN, "ada")
    ),
    AuditAction.DEPLOYMENT_CREATED: lambda w: deployments.deployment_create(
        team=w.team,
        actor=w.owner,
        account=w.account,
        spec=together_spec(environment_variables=[{"name": "HF_TOKEN", "value": ENV_SECRET}]),
    ),
    AuditAction.DEPLOYMENT_STARTED: lambda w: deployments.deployment_request_action(
        deployment=w.deployment(State.STOPPED), actor=w.owner, action=Action.START
    ),
    AuditAction.DEPLOYMENT_STOPPED: lambda w: deployments.deployment_request_action(
        deployment=w.deployment(State.RUNNING), actor=w.owner, action=Action.STOP
    ),
    AuditAction.DEPLOYMENT_RESTARTED: _restart,
    AuditAction.DEPLOYMENT_SCALED: lambda w: deployments.deployment_request_action(
        deployment=w.deployment(State.RUNNING),
        actor=w.owner,
        action=Action.SCALE,
        params={"min_replicas": 2, "max_replicas": 3},
    ),
    AuditAction.DEPLOYMENT_UPDATED: _update,
    AuditAction.DEPLOYMENT_DELETED: lambda w: deployments.deployment_request_action(
        deployment=w.deployment(State.RUNNING), actor=w.owner, action=Action.DELETE
    ),
    AuditAction.DEPLOYMENT_APPROVED: _approved,
    AuditAction.DEPLOYMENT_REFUSED: _refused,
    AuditAction.DEPLOYMENT_TTL: _time_limit,
    AuditAction.DEPLOYMENT_IDLE_RULE: _idle_rule,
    AuditAction.DEPLOYMENT_ROLLED_BACK: _rolled_back,
    AuditAction.TEAM_LIMITS: _team_limits,
    AuditAction.CHANNEL_ADDED: _channel,
    AuditAction.CHANNEL_CHANGED: _channel_changed,
    AuditAction.CHANNEL_DELETED: _channel_deleted,
    AuditAction.DEPLOYMENT_ADOPTED: _adopted,
    AuditAction.UNMANAGED_IGNORED: _unmanaged_ignored,
    AuditAction.UNMANAGED_RESTORED: _unmanaged_restored,
    AuditAction.TEMPLATE_CREATED: _template,
    AuditAction.TEMPLATE_CHANGED: _template_changed,
    AuditAction.TEMPLATE_DELETED: _template_deleted,
    AuditAction.API_TOKEN_CREATED: _api_token,
    AuditAction.API_TOKEN_REVOKED: _api_token_revoked,
    AuditAction.DEPLOYMENT_RETRIED: lambda w: deployments.deployment_resubmit(
        deployment=w.deployment(State.FAILED, external_id=""),
        actor=w.owner,
        spec=together_spec(environment_variables=[{"name": "HF_TOKEN", "value": ENV_SECRET}]),
    ),
}


def test_every_audit_action_has_a_service_that_writes_it():
    assert set(PERFORM) == set(AuditAction)


@pytest.fixture
def world(team, owner, monkeypatch):
    monkeypatch.setattr(TogetherProvider, "actions", TogetherProvider.actions)  # restored after _restart
    return World(owner, team)


def _forbidden(w: World) -> list[str]:
    ciphertexts = list(ProviderAccount.objects.values_list("encrypted_key", flat=True))
    return [
        SECRET_KEY,
        SECRET_KEY + "2",
        ROTATED_KEY,
        ENV_SECRET,
        "KEYMATERIAL",
        "ROTATEDMATERIAL",
        *w.tokens,
        *[teams.hash_token(t) for t in w.tokens],
        *ciphertexts,
    ]


@pytest.mark.parametrize("action", list(AuditAction), ids=lambda a: a.value)
def test_the_service_writes_the_entry_with_no_key_material(world, action, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # queued tasks are not this test's business
        PERFORM[action](world)
    entry = AuditEntry.objects.filter(action=action).latest("pk")
    if action in BY_THE_PANEL:
        assert entry.actor is None
    else:
        assert entry.actor == world.owner or (action == AuditAction.MEMBER_JOINED and entry.actor_label == "vic")
    assert entry.summary
    assert entry.target_type
    assert entry.target_id
    every_entry = json.dumps(list(AuditEntry.objects.values()), default=str)
    for material in _forbidden(world):
        assert material not in every_entry, f"{action}: key material in the audit log"


def test_key_entries_name_keys_by_their_last_four_only(world):
    _key_rotated(world)
    entry = AuditEntry.objects.get(action=AuditAction.KEY_ROTATED)
    assert entry.summary == "Rotated key “Prod key” from ••••abcd to ••••wxyz once Together AI accepted it"
