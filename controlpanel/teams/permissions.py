"""Who may do what: the one permission table.

Every view, HTMX endpoint and state-changing service asks this table (through
``Membership.can`` / ``require_perm``); templates use the same answers to hide
buttons a role may not press. Hiding is courtesy; the check is the guard.
"""

from __future__ import annotations

import enum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEPLOYER = "deployer", "Deployer"
    VIEWER = "viewer", "Viewer"


class Perm(enum.StrEnum):
    VIEW = "view"  # deployments, keys (masked), history
    DEPLOY = "deploy"  # create deployments and act on them
    MANAGE_KEYS = "manage_keys"  # add, verify, rename, rotate, delete vendor keys
    MANAGE_MEMBERS = "manage_members"  # invite, re-role, remove members
    VIEW_AUDIT = "view_audit"
    MANAGE_TEAM = "manage_team"  # rename or delete the team, transfer ownership
    MANAGE_NOTIFICATIONS = "manage_notifications"  # add, change and remove notification channels
    APPROVE = "approve"  # approve or refuse deployments held for approval; set the team's limits
    MANAGE_TEMPLATES = "manage_templates"  # rename, describe and delete templates other members saved


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.ADMIN: frozenset(
        {
            Perm.VIEW,
            Perm.DEPLOY,
            Perm.MANAGE_KEYS,
            Perm.MANAGE_MEMBERS,
            Perm.VIEW_AUDIT,
            Perm.MANAGE_NOTIFICATIONS,
            Perm.APPROVE,
            Perm.MANAGE_TEMPLATES,
        }
    ),
    Role.DEPLOYER: frozenset({Perm.VIEW, Perm.DEPLOY}),
    Role.VIEWER: frozenset({Perm.VIEW}),
}


# What each role means for the person given it, in words for the confirmation asked
# before a role changes.
ROLE_EFFECTS: dict[str, str] = {
    Role.OWNER: (
        "Owners can do everything, for good: rename, transfer or delete the team (and with it its keys), "
        "manage keys and members, and make or remove other owners. Only an owner can take the role away again."
    ),
    Role.ADMIN: (
        "Admins manage the vendor keys and the members (except owners), deploy, and read the audit log. "
        "They cannot rename or delete the team."
    ),
    Role.DEPLOYER: "Deployers create, change, stop and delete deployments. They cannot manage keys or members.",
    Role.VIEWER: "Viewers see deployments, keys (masked) and history, and change nothing.",
}


def perm_to_assign(role: Role | str) -> Perm:
    """What it takes to give someone ``role``, or to take it away from them.

    The owner role is the team's: only those who may manage the team grant it, remove
    it, or act on its holders (an admin can neither invite an owner nor remove one).
    """
    return Perm.MANAGE_TEAM if role == Role.OWNER else Perm.MANAGE_MEMBERS


def assignable_roles(role: Role | str) -> list[Role]:
    """The roles someone holding ``role`` may hand out, for forms and menus."""
    perms = ROLE_PERMISSIONS[Role(role)]
    return [r for r in Role if perm_to_assign(r) in perms]
