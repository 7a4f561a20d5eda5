"""Channels a team is told through, what it was told, and every attempt to tell it.

A ``Notification`` is written once per thing that happened; a ``Delivery`` ties it to
one channel and is what a worker claims and sends; each try leaves a ``DeliveryAttempt``
with the receiver's answer (the delivery log a person reads when a channel fails).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (JSON, signed)"
    SLACK = "slack", "Slack incoming webhook"
    EMAIL = "email", "Email"


class NotificationKind(models.TextChoices):
    STATE = "state", "State changes"
    FAILURE = "failure", "Failures"
    BUDGET = "budget", "Budget thresholds"
    TTL = "ttl", "Time limits expiring"
    KEY_REFUSED = "key_refused", "Key refused by a vendor"
    WORKER = "worker", "Worker down and back"


class Channel(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    name = models.CharField(max_length=100)
    # The URL or addresses, encrypted: a Slack webhook URL is itself a credential.
    target_encrypted = models.TextField()
    target_hint = models.CharField(max_length=120)  # what the page shows instead
    # The webhook's signing secret (encrypted); made by the panel and shown once.
    secret_encrypted = models.TextField(blank=True)
    events = models.JSONField(default=list)  # NotificationKind values
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="channel_unique_name_per_team")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_failing(self) -> bool:
        return self.failing_since is not None

    def event_labels(self) -> list[str]:
        labels = dict(NotificationKind.choices)
        return [labels[kind] for kind in self.events if kind in labels]


class Notification(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The timeline line it came from, or a key naming a one-off ("worker down since …"):
    # either makes a second publish of the same thing a no-op.
    source_event = models.OneToOneField(
        "deployments.DeploymentEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "dedupe_key"], condition=~models.Q(dedupe_key=""), name="notification_dedupe"
            )
        ]

    def __str__(self) -> str:
        return self.subject


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent (channel failing or off)"


class Delivery(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A claimed delivery whose worker died is claimable again after this.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["channel", "notification"], name="delivery_once_per_channel")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.notification} → {self.channel}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response = models.CharField(max_length=500, blank=True)  # the receiver's answer, cut short
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%H:%M:%S}"


class Watch(models.Model):
    """What beat remembers about the worker between ticks, so "worker down" is sent once
    per outage and "worker back" once after it (claimed by update, not by memory)."""

    name = models.CharField(max_length=40, unique=True)
    down_since = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class DispatchCursor(models.Model):
    """How far the dispatcher has read the deployments' event table."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"
