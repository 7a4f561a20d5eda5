from __future__ import annotations

from decimal import Decimal

from django.db import models

from providers.base import Offer as OfferData
from providers.registry import vendor_choices


class Offer(models.Model):
    """What one vendor account can rent, with its price, as last synced from the vendor.

    Per account, not per vendor: availability, prices and even the catalog itself
    (sandbox vs live) can differ between two keys of the same vendor.
    """

    account = models.ForeignKey("credentials.ProviderAccount", on_delete=models.CASCADE, related_name="offers")
    vendor = models.CharField(max_length=20, choices=vendor_choices)
    kind = models.CharField(max_length=30, blank=True)
    sku = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    gpu_model = models.CharField(max_length=100, blank=True, db_index=True)
    gpu_count = models.PositiveIntegerField(default=1)
    gpu_memory_gb = models.PositiveIntegerField(null=True, blank=True)
    price_per_hour = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    available = models.BooleanField(default=True)
    location = models.CharField(max_length=100, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["vendor", "price_per_hour", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "sku", "location"], name="uniq_offer_per_account")
        ]
        indexes = [models.Index(fields=["vendor", "gpu_model", "gpu_count"], name="offer_gpu")]

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} {self.name}"

    @property
    def price_per_gpu_hour(self) -> Decimal | None:
        if self.price_per_hour is None or not self.gpu_count:
            return self.price_per_hour
        return self.price_per_hour / self.gpu_count

    def as_offer(self) -> OfferData:
        """The plain ``providers`` form, for adapters' price and rule checks."""
        return OfferData(
            sku=self.sku,
            name=self.name,
            kind=self.kind,
            gpu_model=self.gpu_model,
            gpu_count=self.gpu_count,
            gpu_memory_gb=self.gpu_memory_gb,
            price_per_hour=self.price_per_hour,
            available=self.available,
            location=self.location,
            extra=self.extra,
            raw=self.raw,
        )
