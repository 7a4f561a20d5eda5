from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.registry import VENDORS, get_provider_class, vendor_choices

# ``Vendor.NOVITA`` and friends, derived from the registry (providers/registry.py): the
# one table of vendors. Fields take ``choices=vendor_choices`` (a callable), so adding a
# vendor needs no migration.
Vendor = models.TextChoices("Vendor", [(v.slug.upper(), (v.slug, v.display_name)) for v in VENDORS])


class EndpointKind(models.TextChoices):
    LIVE = "live", "The vendor's API"
    SANDBOX = "sandbox", "The panel's built-in sandbox"
    CUSTOM = "custom", "Another base URL"


class KeyStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Not checked yet"
    VERIFYING = "verifying", "Checking…"
    OK = "ok", "Working"
    INVALID = "invalid", "Refused by the vendor"
    ERROR = "error", "Could not check"


class ProviderAccount(models.Model):
    """A team's API key for one vendor account.

    The key is stored Fernet-encrypted in ``encrypted_key`` and decrypted only by
    ``credentials.services.account_provider``; templates get ``masked_key``.
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="accounts")
    vendor = models.CharField(max_length=20, choices=vendor_choices)
    label = models.CharField(max_length=80)
    encrypted_key = models.TextField(editable=False)
    key_last4 = models.CharField(max_length=4, editable=False)
    endpoint = models.CharField(max_length=10, choices=EndpointKind.choices, default=EndpointKind.LIVE)
    custom_base_url = models.URLField(blank=True)

    # What the vendor lists for the account (e.g. Together's secret and volume names),
    # refreshed on verify, for the forms' suggestions. Names only, never values.
    metadata = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=12, choices=KeyStatus.choices, default=KeyStatus.UNVERIFIED)
    status_message = models.CharField(max_length=500, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    # A rotation under way: the new key, Fernet-encrypted like ``encrypted_key``, waits here
    # until a worker has proven it with the vendor; only then does it replace the old one.
    pending_key = models.TextField(blank=True, editable=False)
    pending_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    # How the last rotation ended when it did not (the vendor's words, never the key).
    rotation_message = models.CharField(max_length=500, blank=True)

    # What the vendor says the account holds (where it says), and when the catalog was synced.
    balance = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    balance_currency = models.CharField(max_length=10, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    catalog_synced_at = models.DateTimeField(null=True, blank=True)
    # When the next catalog sync is due; claimed by the sweep with a conditional update.
    catalog_due_at = models.DateTimeField(null=True, blank=True)
    catalog_error = models.CharField(max_length=500, blank=True)

    # Polling: a lease so at most one refresh per account is in flight, and its outcome.
    refresh_lease_until = models.DateTimeField(null=True, blank=True)
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_refresh_error = models.CharField(max_length=500, blank=True)
    # A list that dropped a large share of the account's live rows at once: not written
    # through (rows kept), said here and on the key's row until a list looks whole again.
    refresh_suspect = models.CharField(max_length=500, blank=True)
    refresh_suspect_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor", "label", "pk"]
        constraints = [models.UniqueConstraint(fields=["team", "label"], name="uniq_account_team_label")]

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} · {self.label}"

    def __repr__(self) -> str:
        return f"<ProviderAccount {self.pk} {self.vendor} {self.label!r} {self.masked_key}>"

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_last4}"

    @property
    def pending_masked_key(self) -> str:
        return f"••••{self.pending_key_last4}" if self.pending_key else ""

    @property
    def is_rotating(self) -> bool:
        return bool(self.pending_key)

    @property
    def provider_class(self):
        return get_provider_class(self.vendor)

    @property
    def base_url(self) -> str:
        if self.endpoint == EndpointKind.SANDBOX:
            return settings.PANEL_SANDBOX_URL + self.provider_class.sandbox_path
        if self.endpoint == EndpointKind.CUSTOM and self.custom_base_url:
            return self.custom_base_url.rstrip("/")
        return self.provider_class.default_base_url

    @property
    def unmanaged_count(self) -> int:
        """Resources the vendor lists for this key that no deployment here knows (not
        ignored), for the key's row: the list's annotation (``with_dependents``), else a count."""
        if "unmanaged_open_count" in self.__dict__:
            return self.__dict__["unmanaged_open_count"]
        return self.unmanaged.filter(deployment__isnull=True, ignored_at__isnull=True).count()

    @property
    def is_sandbox(self) -> bool:
        return self.endpoint == EndpointKind.SANDBOX
