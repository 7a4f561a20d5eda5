from __future__ import annotations

from django.contrib import admin

from controlpanel.catalog.models import Offer


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "vendor",
        "kind",
        "gpu_model",
        "gpu_count",
        "price_per_hour",
        "available",
        "location",
        "synced_at",
    ]
    list_filter = ["vendor", "kind", "available"]
    search_fields = ["name", "sku", "gpu_model"]
