from __future__ import annotations

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "controlpanel.catalog"
    label = "catalog"
    verbose_name = "GPU catalog"
