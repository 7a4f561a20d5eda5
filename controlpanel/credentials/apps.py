from __future__ import annotations

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "controlpanel.credentials"
    label = "credentials"
    verbose_name = "Vendor keys"
