"""What the panel keeps to say what things cost: the prices a deployment ran at, and the
warnings it gave (budget thresholds, low balances), each once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PriceSource(models.TextChoices):
    SUBMITTED = "submitted", "As submitted"
    VENDOR = "vendor", "As the vendor reports it"


class PriceChange(models.Model):
    """From ``at`` on, the deployment costs ``price_per_hour`` while it is billed."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="price_changes")
    at = models.DateTimeField(default=timezone.now)
    price_per_hour = models.DecimalField(max_digits=12, decimal_places=4)
    source = models.CharField(max_length=10, choices=PriceSource.choices)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["deployment", "at"], name="pricechange_deployment_at")]

    def __str__(self) -> str:
        return f"{self.deployment_id}: ${self.price_per_hour}/h from {self.at:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    BUDGET_WARN = "budget_warn", "Budget 80 % used"
    BUDGET_OVER = "budget_over", "Budget used up"
    BALANCE_LOW = "balance_low", "Balance running out"


class CostAlert(models.Model):
    """A warning given once: a budget threshold crossed in a month, a balance about to run out.
    The unique constraint is the "once": two sweeps racing insert one row."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="cost_alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    # What it is about: the month ("2026-12") for budgets, "<account id>:<month>" for balances.
    key = models.CharField(max_length=100)
    message = models.CharField(max_length=300)
    account = models.ForeignKey(
        "credentials.ProviderAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A balance topped up again clears its warning (a later shortfall warns again).
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["team", "kind", "key"], name="uniq_cost_alert")]

    def __str__(self) -> str:
        return self.message
