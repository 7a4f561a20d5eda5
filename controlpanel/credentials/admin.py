from __future__ import annotations

from django.contrib import admin

from controlpanel.credentials.models import ProviderAccount


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["label", "vendor", "team", "masked_key", "endpoint", "status", "last_refreshed_at"]
    list_filter = ["vendor", "status", "endpoint"]
    search_fields = ["label", "team__name"]
    # The ciphertext is not shown either: keys are changed through the panel's rotate.
    exclude = ["encrypted_key", "pending_key"]
    readonly_fields = [
        "key_last4",
        "status",
        "status_message",
        "verified_at",
        "metadata",
        "refresh_lease_until",
        "next_refresh_at",
        "last_refreshed_at",
        "last_refresh_error",
        "created_by",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # a key is added through the panel, which encrypts and audits it
