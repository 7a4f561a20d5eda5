from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class SandboxFull(Exception):
    """A sandbox account holds ``SANDBOX_MAX_OBJECTS_PER_ACCOUNT`` objects already, or a new
    account would pass ``SANDBOX_MAX_ACCOUNTS``."""


class SandboxObject(models.Model):
    """One object in a simulated vendor account: a deployment, a secret, a volume...

    Kept in the database so the web process (which serves the sandbox) and every
    worker see the same thing. ``account`` is a digest of the API key: each key is its
    own isolated vendor account, and the key itself is never stored.
    """

    vendor = models.CharField(max_length=20)
    account = models.CharField(max_length=64)
    kind = models.CharField(max_length=30)
    object_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)
    # When the object's next automatic step is due (e.g. Updating -> Ready).
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "account", "kind", "object_id"], name="uniq_sandbox_object")
        ]
        indexes = [models.Index(fields=["vendor", "account", "kind", "name"], name="sandbox_lookup")]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.vendor}:{self.kind}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Every twin adds objects through here, so no key can fill the database: the
        sandbox answers anyone who can reach it."""
        if self._state.adding:
            limit = settings.SANDBOX_MAX_OBJECTS_PER_ACCOUNT
            mine = SandboxObject.objects.filter(vendor=self.vendor, account=self.account)
            if mine[limit - 1 : limit].exists():
                raise SandboxFull(f"this sandbox account already holds {limit} objects; delete some first")
            if not mine.exists():  # a new account: is there room for one more?
                most = settings.SANDBOX_MAX_ACCOUNTS
                accounts = SandboxObject.objects.filter(vendor=self.vendor).values("account").distinct()
                if accounts[most - 1 : most].exists():
                    raise SandboxFull(f"the {self.vendor} sandbox already holds {most} accounts; use an existing key")
        super().save(*args, **kwargs)


class SandboxFault(models.Model):
    """How badly a vendor's sandbox should behave. ``vendor="*"`` applies to all five.

    Rates are shares of requests (0.0–1.0), drawn independently per request.
    """

    vendor = models.CharField(max_length=20, unique=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0, help_text="share of requests answered 503")
    rate_limit_rate = models.FloatField(default=0.0, help_text="share of requests answered 429")
    retry_after_seconds = models.PositiveIntegerField(default=2)
    timeout_rate = models.FloatField(default=0.0, help_text="share of requests that hang past the client's timeout")
    timeout_seconds = models.FloatField(default=35.0)
    lost_response_rate = models.FloatField(
        default=0.0, help_text="share of requests carried out and then answered 502, as when a gateway drops the reply"
    )
    no_capacity = models.BooleanField(default=False, help_text="new deployments find no GPUs")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"faults for {self.vendor}"
