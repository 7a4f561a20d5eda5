"""A plan's price, and the rent a deploy moves before anything runs.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

from decimal import Decimal

from providers.base import (
    Offer,
)
from providers.fluence import FluenceProvider
from providers.fluence.tests.helpers import SEED_CONTAINER, SEED_VM, offers, spec

# --- prices and money before it is spent ------------------------------------------------------------------


def test_estimate_price_is_the_plans_hourly_price():
    assert FluenceProvider.estimate_price(SEED_CONTAINER, offers()) == Decimal("2.44")
    assert FluenceProvider.estimate_price(SEED_VM, offers()) == Decimal("1.25")
    assert FluenceProvider.estimate_price(spec(plan_id="unknown"), offers()) is None
    assert FluenceProvider.estimate_price(SEED_CONTAINER, []) is None


def test_upfront_charges_name_the_three_hours_of_rent():
    [charge] = FluenceProvider.upfront_charges(SEED_CONTAINER, offers())
    assert charge.amount == Decimal("7.32")
    assert charge.currency == "USDC"
    assert "3 hours of rent" in charge.description
    assert "1 h charged now, 2 h held as reserve" in charge.description
    assert "refunded on terminate" in charge.description


def test_upfront_charges_follow_the_plans_upfront_hours():
    plan = next(o for o in offers() if o.sku == SEED_VM["plan_id"])
    longer = Offer(**{**plan.__dict__, "extra": {**plan.extra, "upfront_hours": 5}})
    [charge] = FluenceProvider.upfront_charges(SEED_VM, [longer])
    assert charge.amount == Decimal("6.25")
    assert "5 hours" in charge.description
    assert "4 h held as reserve" in charge.description


def test_upfront_charges_write_a_stored_price_plainly():
    plan = next(o for o in offers() if o.sku == SEED_VM["plan_id"])
    stored = Offer(**{**plan.__dict__, "price_per_hour": Decimal("1.2500")})  # a DecimalField's 4 places
    [charge] = FluenceProvider.upfront_charges(SEED_VM, [stored])
    assert charge.description.startswith("3 hours of rent at 1.25 USDC/hour")
    finer = Offer(**{**plan.__dict__, "price_per_hour": Decimal("1.2375")})
    assert "at 1.2375 USDC/hour" in FluenceProvider.upfront_charges(SEED_VM, [finer])[0].description


def test_upfront_charges_are_unknown_without_the_plan():
    assert FluenceProvider.upfront_charges(SEED_CONTAINER, []) == []
