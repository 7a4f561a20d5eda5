from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "controlpanel.sandbox"
    label = "sandbox"
    verbose_name = "Vendor sandbox"
