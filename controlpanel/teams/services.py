"""Every write to teams, memberships and invitations.

Each service checks the actor's role against the permission table itself (views check
too, but a service may be called from anywhere), changes what it changes inside one
transaction, and writes the audit entry beside the change. Changes to who holds which
role lock the team row first, so two owners demoting each other at the same moment
cannot leave the team with none, and the actor's own role is read after that lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.teams.models import Invitation, Membership, Team
from controlpanel.teams.permissions import Perm, Role, perm_to_assign

logger = logging.getLogger(__name__)

LAST_OWNER = (
    "A team always keeps at least one owner. Make someone else an owner first, or transfer ownership, "
    "or delete the team."
)


def require_perm(*, actor: AbstractBaseUser | None, team: Team, perm: Perm) -> Membership | None:
    """Refuse unless ``actor`` holds ``perm`` in ``team``. ``None`` is the system (workers)."""
    if actor is None:
        return None
    membership = Membership.objects.filter(team=team, user=actor, team__deleted_at__isnull=True).first()
    if membership is None or not membership.can(perm):
        raise PermissionDenied("Your role in this team cannot do this.")
    return membership


def _require_role_perm(membership: Membership | None, role: str, message: str) -> None:
    """Acting on the owner role (granting, removing, inviting) takes the team's own permission."""
    if membership is not None and not membership.can(perm_to_assign(role)):
        raise PermissionDenied(message)


def _lock_team(team: Team) -> Team:
    return Team.objects.select_for_update().get(pk=team.pk)


def _keep_an_owner(*, team: Team, without: Membership) -> None:
    if not Membership.objects.filter(team=team, role=Role.OWNER).exclude(pk=without.pk).exists():
        raise ValidationError(LAST_OWNER)


def _label(role: str) -> str:
    return Role(role).label


# --- teams ------------------------------------------------------------------------------------


@transaction.atomic
def team_create(*, name: str, owner: AbstractBaseUser) -> Team:
    team = Team.objects.create(name=name.strip())
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit_record(
        team=team, actor=owner, action=AuditAction.TEAM_CREATED, target=team, summary=f"Created team {team.name}"
    )
    return team


@transaction.atomic
def team_rename(*, team: Team, actor: AbstractBaseUser, name: str) -> Team:
    team = _lock_team(team)
    require_perm(actor=actor, team=team, perm=Perm.MANAGE_TEAM)
    old, new = team.name, name.strip()
    if not new:
        raise ValidationError("A team needs a name.")
    if new == old:
        return team
    team.name = new
    team.save(update_fields=["name"])
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.TEAM_SETTINGS,
        target=team,
        summary=f"Renamed the team from “{old}” to “{new}”",
        data={"field": "name", "from": old, "to": new},
    )
    return team


@transaction.atomic
def team_transfer_ownership(*, team: Team, actor: AbstractBaseUser, to: Membership) -> Membership:
    """Make ``to`` an owner and step down to admin: the hand-over of a team."""
    _lock_team(team)
    mine = require_perm(actor=actor, team=team, perm=Perm.MANAGE_TEAM)
    to = Membership.objects.select_related("user").select_for_update().filter(pk=to.pk, team=team).first()
    if to is None or mine is None:
        raise ValidationError("Choose a member of this team.")
    if to.pk == mine.pk:
        raise ValidationError("You are already an owner; choose someone else.")
    was = to.role
    Membership.objects.filter(pk=to.pk).update(role=Role.OWNER)
    Membership.objects.filter(pk=mine.pk).update(role=Role.ADMIN)
    to.role = Role.OWNER
    name = to.user.get_username()
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.OWNERSHIP_TRANSFERRED,
        target=to,
        summary=f"Transferred ownership to {name} (was {_label(was)}); {actor.get_username()} is now an admin",
        data={"to_user_id": to.user_id, "from_user_id": actor.pk, "to_previous_role": was},
    )
    return to


@transaction.atomic
def team_delete(*, team: Team, actor: AbstractBaseUser, confirm_name: str) -> None:
    """Close a team for good: members, invitations and keys go; the audit log stays.

    Refused while any deployment may still exist at a vendor: once the team is gone
    nobody could stop it from the panel, and it would go on billing.
    """
    team = _lock_team(team)
    require_perm(actor=actor, team=team, perm=Perm.MANAGE_TEAM)
    if confirm_name.strip() != team.name:
        raise ValidationError(f"Type the team's name, “{team.name}”, exactly to delete it.")
    live = Deployment.objects.filter(team=team).exclude(state__in=[State.DELETED, State.FAILED, State.LOST]).count()
    if live:
        noun = "deployment still exists" if live == 1 else "deployments still exist"
        raise ValidationError(f"{live} {noun} at the vendors. Delete them first, then the team.")
    accounts = list(ProviderAccount.objects.filter(team=team))
    members = list(Membership.objects.filter(team=team).select_related("user"))
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.TEAM_DELETED,
        target=team,
        summary=f"Deleted the team “{team.name}” with {len(members)} member(s) and {len(accounts)} key(s)",
        data={
            "members": [m.user.get_username() for m in members],
            "keys": [f"{a.get_vendor_display()} · {a.label} ({a.masked_key})" for a in accounts],
        },
    )
    now = timezone.now()
    Invitation.objects.filter(team=team, accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    for account in accounts:
        account.delete()  # the encrypted keys go with the team; deployments keep their history
    Membership.objects.filter(team=team).delete()
    team.deleted_at = now
    team.save(update_fields=["deleted_at"])
    logger.info("team_id=%s deleted by user_id=%s", team.pk, actor.pk)


# --- members ----------------------------------------------------------------------------------


@transaction.atomic
def member_change_role(*, membership: Membership, actor: AbstractBaseUser, role: str) -> Membership:
    team = _lock_team(membership.team)
    mine = require_perm(actor=actor, team=team, perm=Perm.MANAGE_MEMBERS)
    membership = Membership.objects.select_related("user").get(pk=membership.pk, team=team)
    role = Role(role)
    old = Role(membership.role)
    if old == role:
        return membership
    _require_role_perm(mine, old, "Only an owner can change an owner's role.")
    _require_role_perm(mine, role, "Only an owner can make someone an owner.")
    if old == Role.OWNER:
        _keep_an_owner(team=team, without=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    name = membership.user.get_username()
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        target=membership,
        summary=f"Changed {name}'s role from {old.label} to {role.label}",
        data={"user_id": membership.user_id, "from": old.value, "to": role.value},
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: AbstractBaseUser) -> None:
    """Take someone out of the team. Their next request no longer sees it (the
    middleware re-reads the membership on every request)."""
    team = _lock_team(membership.team)
    mine = require_perm(actor=actor, team=team, perm=Perm.MANAGE_MEMBERS)
    membership = Membership.objects.select_related("user").get(pk=membership.pk, team=team)
    _require_role_perm(mine, membership.role, "Only an owner can remove an owner.")
    if membership.role == Role.OWNER:
        _keep_an_owner(team=team, without=membership)
    name = membership.user.get_username()
    own = membership.user_id == actor.pk
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.MEMBER_REMOVED,
        target=membership,
        summary=f"{name} left the team" if own else f"Removed {name} ({_label(membership.role)}) from the team",
        data={"user_id": membership.user_id, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def member_leave(*, team: Team, actor: AbstractBaseUser) -> None:
    team = _lock_team(team)
    mine = require_perm(actor=actor, team=team, perm=Perm.VIEW)
    if mine.role == Role.OWNER:
        _keep_an_owner(team=team, without=mine)
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.MEMBER_REMOVED,
        target=mine,
        summary=f"{actor.get_username()} left the team",
        data={"user_id": actor.pk, "role": mine.role},
    )
    mine.delete()


# --- invitations ------------------------------------------------------------------------------


class InvitationError(Exception):
    """Why an invitation link cannot be used, in words for the page that says so."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # unknown, expired, used, revoked, wrong_account
        self.message = message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, team: Team, actor: AbstractBaseUser, email: str, role: str) -> tuple[Invitation, str]:
    """Record an invitation; returns it with the link's token, which is stored only hashed.

    The caller sends the email (``invitation_send``) after this commits, so no mail
    server is waited on while the database is locked.
    """
    mine = require_perm(actor=actor, team=team, perm=Perm.MANAGE_MEMBERS)
    role = Role(role)
    _require_role_perm(mine, role, "Only an owner can invite an owner.")
    email = email.strip()
    if not email:
        raise ValidationError("Give the address to send the invitation to.")
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of this team.")
    now = timezone.now()
    for open_invite in Invitation.objects.select_for_update().filter(
        team=team, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ):
        if open_invite.expires_at > now:
            raise ValidationError(
                f"{email} already has a pending invitation. Use its “New link” below for a fresh link, or revoke it."
            )
        # An expired one is closed so the new one can take its place.
        Invitation.objects.filter(pk=open_invite.pk).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor,
        expires_at=now + dt.timedelta(days=settings.PANEL_INVITE_DAYS),
    )
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.MEMBER_INVITED,
        target=invitation,
        summary=f"Invited {email} as {role.label}",
        data={"email": email, "role": role.value, "expires_at": invitation.expires_at.isoformat()},
    )
    return invitation, token


def invitation_send(*, invitation: Invitation, token: str, accept_url: str) -> None:
    """Email the link through Django's email backend (console, SMTP...). Raises on failure."""
    context = {
        "invitation": invitation,
        "team": invitation.team,
        "inviter": invitation.invited_by.get_username() if invitation.invited_by else "Someone",
        "role": Role(invitation.role).label,
        "url": accept_url,
        "days": settings.PANEL_INVITE_DAYS,
    }
    subject = render_to_string("teams/email/invitation_subject.txt", context).strip()
    body = render_to_string("teams/email/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email], fail_silently=False)
    logger.info("invitation_id=%s sent for team_id=%s", invitation.pk, invitation.team_id)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: AbstractBaseUser) -> Invitation:
    mine = require_perm(actor=actor, team=invitation.team, perm=Perm.MANAGE_MEMBERS)
    _require_role_perm(mine, invitation.role, "Only an owner can revoke an owner's invitation.")
    now = timezone.now()
    closed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    if not closed:
        raise ValidationError("This invitation was already accepted or revoked.")
    invitation.revoked_at = now
    audit_record(
        team=invitation.team,
        actor=actor,
        action=AuditAction.MEMBER_INVITE_REVOKED,
        target=invitation,
        summary=f"Revoked the invitation of {invitation.email} ({_label(invitation.role)})",
        data={"email": invitation.email, "role": invitation.role},
    )
    return invitation


@transaction.atomic
def invitation_renew_link(*, invitation: Invitation, actor: AbstractBaseUser) -> tuple[Invitation, str]:
    """A fresh link for a pending invitation (its email never arrived, or its link was
    lost): a new token replaces the stored hash, so the old link stops working, and the
    invitation runs for the full period again. Returns it with the new token."""
    mine = require_perm(actor=actor, team=invitation.team, perm=Perm.MANAGE_MEMBERS)
    _require_role_perm(mine, invitation.role, "Only an owner can renew an owner's invitation.")
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=settings.PANEL_INVITE_DAYS)
    renewed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        token_hash=hash_token(token), expires_at=expires_at
    )
    if not renewed:
        raise ValidationError("This invitation was already accepted or revoked.")
    invitation.token_hash, invitation.expires_at = hash_token(token), expires_at
    audit_record(
        team=invitation.team,
        actor=actor,
        action=AuditAction.MEMBER_INVITE_RENEWED,
        target=invitation,
        summary=f"Made a new invitation link for {invitation.email} ({_label(invitation.role)}); the old one no longer works",
        data={"email": invitation.email, "role": invitation.role, "expires_at": expires_at.isoformat()},
    )
    return invitation, token


def invitation_check(*, token: str) -> Invitation:
    """The invitation behind a link if it can still be used; else ``InvitationError``."""
    invitation = (
        Invitation.objects.select_related("team", "invited_by").filter(token_hash=hash_token(token or "")).first()
    )
    if invitation is None or invitation.team.deleted_at is not None:
        raise InvitationError("unknown", "This invitation link is not valid. Check that it was copied whole.")
    if invitation.accepted_at is not None:
        raise InvitationError("used", "This invitation has already been used. Each link works once.")
    if invitation.revoked_at is not None:
        raise InvitationError("revoked", "This invitation was withdrawn by the team.")
    if invitation.is_expired:
        raise InvitationError("expired", "This invitation has expired. Ask the team for a new one.")
    return invitation


def email_matches(user: AbstractBaseUser, invitation: Invitation) -> bool:
    return bool(user.email) and user.email.strip().lower() == invitation.email.strip().lower()


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> tuple[Membership, bool]:
    """Join the team the link is for; returns the membership and whether it is new.

    The link is bound to the address it was sent to: the account accepting it must
    have that email. Single use is a conditional update: of two clicks, one wins.
    """
    invitation = invitation_check(token=token)
    if not email_matches(user, invitation):
        raise InvitationError(
            "wrong_account",
            f"This invitation was sent to {invitation.email}, and you are logged in as "
            f"{user.get_username()}{f' ({user.email})' if user.email else ''}.",
        )
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now, accepted_by=user)
    if not claimed:
        raise InvitationError("used", "This invitation has already been used. Each link works once.")
    membership, created = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    if created:
        inviter = invitation.invited_by.get_username() if invitation.invited_by else "someone"
        audit_record(
            team=invitation.team,
            actor=user,
            action=AuditAction.MEMBER_JOINED,
            target=membership,
            summary=f"{user.get_username()} joined as {_label(invitation.role)} (invited by {inviter})",
            data={"user_id": user.pk, "role": invitation.role, "invitation_id": invitation.pk},
        )
    return membership, created


@transaction.atomic
def invitation_signup(*, token: str, username: str, password: str) -> AbstractBaseUser:
    """Create an account for the invited address and join with it, in one step."""
    invitation = invitation_check(token=token)
    user = get_user_model().objects.create_user(username=username, email=invitation.email, password=password)
    invitation_accept(token=token, user=user)
    return user
