from __future__ import annotations

from django.contrib import admin

from controlpanel.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: visible, never editable or deletable, not even here."""

    list_display = ["created_at", "team", "actor_label", "action", "summary", "ip"]
    list_filter = ["action"]
    search_fields = ["summary", "actor_label", "target_label"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
