from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from controlpanel.teams.permissions import ROLE_PERMISSIONS, Perm, Role


class Team(models.Model):
    """The unit of sharing: everything a team owns is seen by all its members."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleting a team keeps the row (and so its audit log, which hangs off it) but drops
    # every membership, invitation and key: nobody can reach it through the app again.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="uniq_membership_team_user")]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"

    def can(self, perm: Perm) -> bool:
        return perm in ROLE_PERMISSIONS[Role(self.role)]


class Invitation(models.Model):
    """An email address asked to join a team with a role, through a single-use link.

    Only a SHA-256 of the link's token is stored: the token itself exists once, in the
    email (a database dump does not let anyone join).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One open invitation per address and team; a new one means revoking the old.
            models.UniqueConstraint(
                "team",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="uniq_open_invitation_team_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} as {self.role}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "pending"
