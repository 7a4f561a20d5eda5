from __future__ import annotations

from django.conf import settings
from django.db import models

from controlpanel.teams.permissions import ROLE_PERMISSIONS, Perm, Role


class Team(models.Model):
    """The unit of sharing: everything a team owns is seen by all its members."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

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
