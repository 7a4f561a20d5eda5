from __future__ import annotations

from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "controlpanel.limits"
    default_auto_field = "django.db.models.BigAutoField"
