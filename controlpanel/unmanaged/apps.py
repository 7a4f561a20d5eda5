from __future__ import annotations

from django.apps import AppConfig


class UnmanagedConfig(AppConfig):
    name = "controlpanel.unmanaged"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Not managed by the panel"
