"""Prices: the estimated rates, and the synced catalog's where it has one."""

from __future__ import annotations

from decimal import Decimal

from providers.base import Offer
from providers.together import GPU_TYPES, TogetherProvider
from providers.together.prices import ESTIMATED_GPU_HOURLY_USD, hourly_rate


def test_together_estimate_price_prefers_the_catalogs_rate():
    offers = [Offer(sku="h100-80gb", name="H100", price_per_hour=Decimal("4.00"))]
    assert TogetherProvider.estimate_price({"gpu_type": "h100-80gb", "gpu_count": 2}, offers) == Decimal("8.00")
    assert TogetherProvider.estimate_price({"gpu_type": "b200-192gb"}, offers) == ESTIMATED_GPU_HOURLY_USD["b200-192gb"]
    assert TogetherProvider.estimate_price({"gpu_type": "a100-80gb"}) is None


def test_together_every_gpu_type_has_an_estimate():
    # h200-140gb's is marked an estimate in prices.py: no source here states it.
    assert set(ESTIMATED_GPU_HOURLY_USD) == set(GPU_TYPES)
    assert TogetherProvider.estimate_price({"gpu_type": "h200-140gb", "gpu_count": 2}) == Decimal("9.98")


def test_together_hourly_rate_counts_at_least_one_gpu():
    assert hourly_rate("h100-40gb-mig", 0) == ESTIMATED_GPU_HOURLY_USD["h100-40gb-mig"]
    assert hourly_rate("h100-80gb", 3) == ESTIMATED_GPU_HOURLY_USD["h100-80gb"] * 3
    assert hourly_rate(None, 1) is None
