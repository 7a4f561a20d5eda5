"""What a Fluence plan costs, and what a deploy takes from the balance at once.

Money [V]: on create, ``upfront_hours`` (3) of rent move from the account to the
instance: 1 h charged now, the rest held as reserve and refunded on terminate; a
failed deploy is refunded in full. Prices are per hour for the whole plan (all its GPUs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from providers.base import Charge, Offer

UPFRONT_HOURS = 3
CURRENCY = "USDC"  # 1 USDC = 1 USD [V]


def plan_offer(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Offer | None:
    """The catalog's offer for the spec's plan (of the spec's kind, where both say one)."""
    plan_id, kind = spec.get("plan_id"), spec.get("kind")
    if not plan_id:
        return None
    return next(
        (o for o in offers if o.sku == plan_id and (not kind or not o.kind or o.kind == kind)),
        None,
    )


def price_text(value: Decimal) -> str:
    """``Decimal("1.2200")`` (as a database keeps it) → ``"1.22"``; finer prices stay whole."""
    value = Decimal(value)
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else format(value.normalize(), "f")


def upfront_hours(offer: Any | None) -> int:
    hours = (getattr(offer, "extra", None) or {}).get("upfront_hours")
    return hours if isinstance(hours, int) and not isinstance(hours, bool) and hours > 0 else UPFRONT_HOURS


def estimate_price(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Decimal | None:
    """The plan's price per hour (the whole plan: all its GPUs), from the catalog."""
    offer = plan_offer(spec, list(offers))
    return offer.price_per_hour if offer is not None else None


def upfront_charges(spec: Mapping[str, Any], offers: Iterable[Offer]) -> list[Charge]:
    """Fluence moves ``upfront_hours`` (3) of rent from the balance on create [V]."""
    offer = plan_offer(spec, list(offers))
    if offer is None or offer.price_per_hour is None:
        return []
    hours = upfront_hours(offer)
    currency = str((offer.extra or {}).get("currency") or CURRENCY)
    reserve = hours - 1
    held = f", {reserve} h held as reserve; the unused reserve is refunded on terminate" if reserve else ""
    return [
        Charge(
            amount=Decimal(offer.price_per_hour) * hours,
            description=(
                f"{hours} hours of rent at {price_text(offer.price_per_hour)} {currency}/hour move to the instance: "
                f"1 h charged now{held}. A failed deploy is refunded in full."
            ),
            currency=currency,
        )
    ]
