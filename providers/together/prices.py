"""What a Together replica costs per hour.

Together publishes no container price list (notes §2, "Catalog / pricing"). The table
here follows its dedicated-endpoint hardware rates, so every figure is an estimate; a
live ``GET /hardware`` answer (``TogetherProvider.catalog()``) replaces it wherever it
has the GPU. Using endpoint rates for containers at all is the notes' assumption [I].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from providers.base import Offer

# Estimated USD per GPU-hour.
ESTIMATED_GPU_HOURLY_USD: dict[str, Decimal] = {
    "h100-80gb": Decimal("3.36"),
    "h100-40gb-mig": Decimal("1.68"),
    # An estimate twice over: recalled from Together's dedicated-endpoint price list, not
    # checked against it from here (no page or SDK file states it). Until a live
    # /hardware answer carries an H200 item, this figure is all the panel shows.
    "h200-140gb": Decimal("4.99"),
    "b200-192gb": Decimal("9.95"),
}


def hourly_rate(
    gpu_type: str | None, gpu_count: int | None, rates: Mapping[str, Decimal] | None = None
) -> Decimal | None:
    """Estimated price of one replica per hour."""
    rate = (rates or ESTIMATED_GPU_HOURLY_USD).get(gpu_type or "")
    if rate is None:
        return None
    return rate * max(gpu_count or 1, 1)


def rates_from(offers: Iterable[Offer]) -> dict[str, Decimal]:
    """The estimates, overridden by the synced catalog's prices where it has one."""
    return {**ESTIMATED_GPU_HOURLY_USD, **{o.sku: o.price_per_hour for o in offers if o.price_per_hour}}
