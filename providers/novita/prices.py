"""Novita's money: product prices, balances, hourly estimates and upfront charges.

- Product prices are strings in 1/100 000 USD per GPU-hour [C], balances in 1/10 000
  USD [V]. ``Offer.price_per_hour`` is the on-demand USD price of *one* GPU
  (``gpu_count`` 1); ``Offer.extra`` carries ``spotPrice`` and ``monthlyPrice`` already in
  USD (strings, per GPU), the vendor's own numbers stay in ``Offer.raw``.
- A monthly subscription's hourly figure is its price spread over 720 hours a month [I]
  (the panel's forms use 720 too); its whole price is an upfront charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.base import Charge, Offer
from providers.coerce import decimal, whole
from providers.novita.fields import billing_mode, offer_for

PRICE_UNIT = Decimal(100_000)  # product prices: 1/100 000 USD [C]
BALANCE_UNIT = Decimal(10_000)  # balances: 1/10 000 USD [V]
HOURS_PER_MONTH = 720  # [I] a 30-day month, as the panel's estimates use
USD_PLACES = Decimal("0.00001")  # the vendor's own precision
# The panel keeps prices to 4 places: a figure with more would look changed on every poll.
PANEL_PLACES = Decimal("0.0001")
SPOT_NOTE = (
    "Nothing at creation: billed per second at the spot price from the image pull on. "
    "Novita can reclaim a spot instance at short notice."
)


def usd_from_price(value: Any) -> Decimal | None:
    """A product price (1/100 000 USD, string or number) in USD."""
    number = decimal(value)
    return None if number is None else (number / PRICE_UNIT).quantize(USD_PLACES, rounding=ROUND_HALF_UP)


def usd_from_balance(value: Any) -> Decimal | None:
    """A balance figure (1/10 000 USD) in USD."""
    number = decimal(value)
    return None if number is None else number / BALANCE_UNIT


def monthly_price(offer: Offer, month: int) -> tuple[Decimal, bool] | None:
    """USD per GPU for ``month`` months and whether Novita lists that term itself: the
    product's ``monthlyPrice`` entry for the term, else its 1-month price × months [I]."""
    terms = {}
    for entry in (offer.extra or {}).get("monthlyPrice") or []:
        term, price = whole(entry.get("month")), decimal(entry.get("price"))
        if term and price is not None:
            terms[term] = price
    if month in terms:
        return terms[month], True
    if 1 in terms and month > 0:
        return terms[1] * month, False
    return None


def unit_price(offer: Offer, mode: str, month: int = 0) -> Decimal | None:
    """USD per GPU-hour of ``offer`` billed ``mode``; a subscription spread over its hours."""
    if mode == "spot":
        return decimal((offer.extra or {}).get("spotPrice"))
    if mode == "monthly":
        term = max(month, 1)
        total = monthly_price(offer, term)
        return None if total is None else total[0] / (term * HOURS_PER_MONTH)
    return offer.price_per_hour


def gpu_count(spec: Mapping[str, Any]) -> int:
    number = whole(spec.get("gpuNum"))
    return number if number and number > 0 else 1


def estimate(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Decimal | None:
    offer = offer_for(spec, offers)
    if offer is None:
        return None
    price = unit_price(offer, billing_mode(spec), whole(spec.get("month")) or 0)
    return None if price is None else price * gpu_count(spec)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'s' if count != 1 else ''}"


def charges(spec: Mapping[str, Any], offers: Iterable[Offer]) -> list[Charge]:
    """What creating ``spec`` takes at once: a subscription's whole term × GPUs.
    On demand takes nothing upfront; spot neither, but says it can be reclaimed."""
    mode = billing_mode(spec)
    offer = offer_for(spec, offers)
    gpus = gpu_count(spec)
    if mode == "spot":
        return [Charge(amount=Decimal("0"), description=SPOT_NOTE)]
    if mode != "monthly" or offer is None:
        return []
    month = whole(spec.get("month")) or 0
    total = monthly_price(offer, month)
    if total is None:
        return []
    price, listed = total
    description = f"Charged at creation: {_plural(month, 'month')} of {offer.name} × {_plural(gpus, 'GPU')}, prepaid"
    if not listed:
        description += " (estimated from the 1-month price: Novita lists no price for this term)"
    if spec.get("autoRenew"):
        again = whole(spec.get("autoRenewMonth")) or 0
        description += f"; it renews automatically for {_plural(again, 'month')} at expiry"
    amount = (price * gpus).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return [Charge(amount=amount, description=description + ".")]
