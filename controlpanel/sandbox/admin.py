from __future__ import annotations

from django.contrib import admin

from controlpanel.sandbox.models import SandboxFault, SandboxObject


@admin.register(SandboxFault)
class SandboxFaultAdmin(admin.ModelAdmin):
    list_display = [
        "vendor",
        "latency_ms",
        "error_rate",
        "rate_limit_rate",
        "timeout_rate",
        "no_capacity",
        "updated_at",
    ]


@admin.register(SandboxObject)
class SandboxObjectAdmin(admin.ModelAdmin):
    list_display = ["vendor", "kind", "object_id", "name", "due_at", "updated_at"]
    list_filter = ["vendor", "kind"]
