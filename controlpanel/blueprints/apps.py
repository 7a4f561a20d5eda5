from __future__ import annotations

from django.apps import AppConfig


class BlueprintsConfig(AppConfig):
    """Team templates: saved deployment forms, and the built-in ones every team sees."""

    name = "controlpanel.blueprints"
    verbose_name = "Templates"
    default_auto_field = "django.db.models.BigAutoField"
