from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    KEY_ADDED = "key.added", "Key added"
    KEY_VERIFIED = "key.verified", "Key verified"
    KEY_RENAMED = "key.renamed", "Key renamed"
    KEY_ROTATED = "key.rotated", "Key rotated"
    KEY_DELETED = "key.deleted", "Key deleted"
    TEAM_CREATED = "team.created", "Team created"
    TEAM_SETTINGS = "team.settings", "Team settings changed"
    TEAM_DELETED = "team.deleted", "Team deleted"
    MEMBER_INVITED = "member.invited", "Member invited"
    MEMBER_INVITE_REVOKED = "member.invite_revoked", "Invitation revoked"
    MEMBER_INVITE_RENEWED = "member.invite_renewed", "Invitation link renewed"
    MEMBER_JOINED = "member.joined", "Member joined"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member re-roled"
    MEMBER_REMOVED = "member.removed", "Member removed"
    OWNERSHIP_TRANSFERRED = "team.ownership_transferred", "Ownership transferred"
    DEPLOYMENT_CREATED = "deployment.created", "Deployment created"
    DEPLOYMENT_STARTED = "deployment.started", "Deployment started"
    DEPLOYMENT_STOPPED = "deployment.stopped", "Deployment stopped"
    DEPLOYMENT_RESTARTED = "deployment.restarted", "Deployment restarted"
    DEPLOYMENT_SCALED = "deployment.scaled", "Deployment scaled"
    DEPLOYMENT_UPDATED = "deployment.updated", "Deployment updated"
    DEPLOYMENT_DELETED = "deployment.deleted", "Deployment deleted"
    DEPLOYMENT_RETRIED = "deployment.retried", "Deployment retried"
    DEPLOYMENT_APPROVED = "deployment.approved", "Deployment approved"
    DEPLOYMENT_REFUSED = "deployment.refused", "Deployment refused"
    DEPLOYMENT_TTL = "deployment.ttl", "Deployment time limit changed"
    DEPLOYMENT_IDLE_RULE = "deployment.idle_rule", "Deployment idle rule changed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back", "Deployment rolled back"
    TEAM_LIMITS = "team.limits", "Team limits changed"
    BUDGET_WARNED = "team.budget_warned", "Budget 80 % used"
    BUDGET_REACHED = "team.budget_reached", "Budget used up"
    DEPLOYMENT_OVER_BUDGET = "deployment.over_budget", "Deployment refused by the budget"
    CHANNEL_ADDED = "channel.added", "Notification channel added"
    CHANNEL_CHANGED = "channel.changed", "Notification channel changed"
    CHANNEL_DELETED = "channel.deleted", "Notification channel deleted"
    DEPLOYMENT_ADOPTED = "deployment.adopted", "Deployment adopted"
    UNMANAGED_IGNORED = "unmanaged.ignored", "Unmanaged resource ignored"
    UNMANAGED_RESTORED = "unmanaged.restored", "Unmanaged resource shown again"
    TEMPLATE_CREATED = "template.created", "Template saved"
    TEMPLATE_CHANGED = "template.changed", "Template changed"
    TEMPLATE_DELETED = "template.deleted", "Template deleted"
    API_TOKEN_CREATED = "api_token.created", "API token created"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"


class AppendOnlyError(Exception):
    """Audit entries are written once and never changed or removed through the app."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self):  # type: ignore[override]
        raise AppendOnlyError("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One action that changed something, with who, when, from where and on what.

    ``summary`` and ``data`` are written by services, which never put secrets in
    them (a key appears only as its last four characters).
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the log still reads right after a user is deleted or renamed.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    summary = models.TextField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "-created_at"], name="audit_team_created")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label}: {self.summary}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("audit entries cannot be deleted")
