from __future__ import annotations

from django.contrib import admin

from controlpanel.deployments.models import Deployment, DeploymentEvent


class EventInline(admin.TabularInline):
    model = DeploymentEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "kind", "actor_label", "from_state", "to_state", "message"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Read-only: state changes only through the panel's services (events, audit)."""

    list_display = ["name", "vendor", "team", "state", "vendor_state", "price_per_hour", "created_at"]
    list_filter = ["vendor", "state"]
    search_fields = ["name", "external_id", "team__name"]
    inlines = [EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
