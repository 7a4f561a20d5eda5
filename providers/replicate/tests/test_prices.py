"""Replicate's maintained price table and the estimate (providers/replicate/prices.py)."""

from __future__ import annotations

from decimal import Decimal

from providers.base import Offer
from providers.replicate import HARDWARE_PRICES, ReplicateProvider
from providers.replicate.tests.samples import NOTES_CREATE


def test_replicate_price_table_has_every_multi_gpu_variant():
    for stem in ("gpu-a100-large-{n}x", "gpu-a40-large-{n}x", "gpu-{n}x-l40s", "gpu-h100-{n}x"):
        for n in (2, 4, 8):
            hardware = HARDWARE_PRICES[stem.format(n=n)]
            assert hardware.gpu_count == n
            assert hardware.per_hour == (hardware.per_second * 3600).quantize(Decimal("0.01"))


# --- prices ------------------------------------------------------------------------------------------------


def test_replicate_estimate_prefers_the_synced_catalog():

    assert ReplicateProvider.estimate_price({"hardware": "gpu-t4"}) == Decimal("0.81")
    offers = [Offer(sku="gpu-t4", name="T4", price_per_hour=Decimal("0.90"))]
    assert ReplicateProvider.estimate_price({"hardware": "gpu-t4"}, offers) == Decimal("0.90")
    assert ReplicateProvider.estimate_price({"hardware": "gpu-b200"}) is None
    assert ReplicateProvider.upfront_charges(dict(NOTES_CREATE)) == []  # nothing charged at create
