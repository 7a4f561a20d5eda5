"""What a vendor account holds that no deployment of ours knows: made in the vendor's
console, by another tool, or left behind. Recorded by every account refresh whose list
was complete (``controlpanel.unmanaged.listing``), removed once the vendor's complete list
no longer has it, adopted (imported as a Deployment) or ignored by people."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from providers.registry import vendor_choices


class UnmanagedResource(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="unmanaged_resources")
    account = models.ForeignKey("credentials.ProviderAccount", on_delete=models.CASCADE, related_name="unmanaged")
    vendor = models.CharField(max_length=20, choices=vendor_choices)
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    # The vendor's own status word, and the panel's reading of it (a RemoteState value).
    vendor_state = models.CharField(max_length=100, blank=True)
    remote_state = models.CharField(max_length=20, blank=True)
    price_per_hour = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    # Dismissed by an owner or admin: still recorded, no longer in the banner or the list.
    ignored_at = models.DateTimeField(null=True, blank=True)
    ignored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Adopt: asked for once (claimed by a conditional UPDATE), carried out by a worker.
    adopt_requested_at = models.DateTimeField(null=True, blank=True)
    adopt_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopt_error = models.CharField(max_length=500, blank=True)
    deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["account__label", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="uniq_unmanaged_per_account"),
        ]
        indexes = [
            models.Index(
                fields=["team"],
                name="unmanaged_team_open",
                condition=Q(ignored_at__isnull=True, deployment__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def is_adopting(self) -> bool:
        return self.adopt_requested_at is not None and self.deployment_id is None
