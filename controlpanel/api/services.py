"""API tokens: made (shown once), revoked, and checked on every request."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from controlpanel.api.models import ApiToken
from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.teams.models import Membership, Team

TOKEN_PREFIX = "gpc_"  # GPU control panel: easy to spot in a leaked config, easy to grep for
PREFIX_SHOWN = 12  # "gpc_" and eight random characters, for telling tokens apart
LAST_USED_EVERY = dt.timedelta(seconds=60)  # rewrite last_used_at at most this often


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, team: Team, name: str, actor: AbstractBaseUser) -> tuple[ApiToken, str]:
    """A new token for ``user`` in ``team``: the row and the token itself, which exists
    only in this return value (the row keeps its SHA-256 and first characters)."""
    if actor.pk != user.pk:
        raise ValidationError("A token is made by the person it belongs to.")
    if not Membership.objects.filter(user=user, team=team, team__deleted_at__isnull=True).exists():
        raise ValidationError("You are not a member of that team.")
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, team=team, name=name[:100], token_hash=hash_token(raw), prefix=raw[:PREFIX_SHOWN]
    )
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.API_TOKEN_CREATED,
        target=token,
        summary=f"Created API token “{token.name}” ({token.prefix}…) for {user.get_username()}",
        data={"token_id": token.pk, "prefix": token.prefix},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: AbstractBaseUser) -> ApiToken:
    """Stop ``token`` working, from its next request. Revoking twice changes nothing."""
    if actor.pk != token.user_id:
        raise ValidationError("Only the person a token belongs to revokes it.")
    token = ApiToken.objects.select_for_update(of=("self",)).select_related("team", "user").get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        team=token.team,
        actor=actor,
        action=AuditAction.API_TOKEN_REVOKED,
        target=token,
        summary=f"Revoked API token “{token.name}” ({token.prefix}…) of {token.user.get_username()}",
        data={"token_id": token.pk, "prefix": token.prefix},
    )
    return token


def api_token_authenticate(*, raw: str) -> tuple[ApiToken, Membership] | None:
    """The token and its owner's membership now, or ``None``: an unknown or revoked token,
    an inactive user, a deleted team, or a person no longer in the team (removed members'
    tokens stop at once, with no clean-up needed)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = ApiToken.objects.select_related("user", "team").filter(token_hash=hash_token(raw)).first()
    if token is None or token.revoked_at is not None or not token.user.is_active or token.team.deleted_at:
        return None
    membership = Membership.objects.select_related("team").filter(user=token.user, team=token.team).first()
    if membership is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token, membership
