"""A team's limits: which deployments need an admin's approval, and default time limits."""

from __future__ import annotations

from django.db import models


class ExpiryAction(models.TextChoices):
    STOP = "stop", "Stop it"
    DELETE = "delete", "Delete it"


class TeamPolicy(models.Model):
    team = models.OneToOneField("teams.Team", on_delete=models.CASCADE, related_name="policy")
    # A deployer's create estimated above this (or with no estimate) waits for an admin.
    approval_above_per_hour = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Every new deployment stops (or is deleted) this many hours after it is created.
    default_ttl_hours = models.PositiveIntegerField(null=True, blank=True)
    default_ttl_action = models.CharField(max_length=10, choices=ExpiryAction.choices, default=ExpiryAction.STOP)
    # The idle rule, where the vendor reports use (Replicate): a deployment kept warm with no
    # work for this many minutes is scaled to zero. Empty: never.
    idle_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Money (controlpanel.costs): a monthly budget (UTC months) and a per-deployment ceiling.
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_ceiling_per_hour = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Once the budget is used up: stop what runs (True) or only refuse new deployments.
    budget_stops_running = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Limits of {self.team}"
