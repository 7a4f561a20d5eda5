"""What Nosana charges: a market's price per hour, what a start reserves, what a
deployment costs while its jobs run.

A market's price is its host reward plus the network fee [V: learn.nosana.com]; each
job runs on one GPU of the market; a start reserves the credits of one run of every
replica, and Nosana settles what the jobs use.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.base import Charge, Offer, RemoteState
from providers.coerce import decimal, whole

CENT = Decimal("0.0001")
# What each strategy reserves beyond the first run, for the confirmation step.
AGAIN = {
    "SIMPLE-EXTEND": " It reserves as much again at every extension until stopped or out of credits.",
    "INFINITE": " It reserves as much again for every rotated job until stopped.",
    "SCHEDULED": " It reserves as much again at every scheduled run.",
}


def market_price(market: dict[str, Any]) -> Decimal | None:
    """USD per hour as Nosana shows it: reward × (1 + network fee %) [V: learn.nosana.com]."""
    reward = decimal(market.get("usd_reward_per_hour"))
    fee = decimal(market.get("network_fee_percentage") or 0)
    if reward is None or fee is None:
        return None
    return (reward * (1 + fee / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def offer_price(spec: dict[str, Any], offers: Iterable[Offer]) -> Decimal | None:
    """The price per hour of the market ``spec`` names, from the synced catalog."""
    market = spec.get("market")
    return next((o.price_per_hour for o in offers if o.sku == market and o.price_per_hour is not None), None)


def run_cost(spec: dict[str, Any], unit: Decimal | None) -> Decimal | None:
    """Credits one run reserves: replicas × price × timeout/60 (a job's timeout is the
    deployment's × 60 seconds [V])."""
    # Numbers only, as the rules take them (providers.nosana.rules).
    replicas, timeout = whole(spec.get("replicas"), strings=False), whole(spec.get("timeout"), strings=False)
    if unit is None or not replicas or not timeout:
        return None
    return (unit * replicas * Decimal(timeout) / 60).quantize(CENT, rounding=ROUND_HALF_UP)


def upfront_charges(spec: dict[str, Any], offers: Iterable[Offer]) -> list[Charge]:
    """The credits a start reserves, named in the confirmation step."""
    amount = run_cost(spec, offer_price(spec, list(offers)))
    if amount is None:
        return []
    replicas, timeout = spec.get("replicas"), spec.get("timeout")
    again = AGAIN.get(spec.get("strategy") or "", "")
    noun = "replica" if replicas == 1 else "replicas"
    return [
        Charge(
            amount=amount,
            description=(
                f"Credits reserved when it starts: {replicas} {noun} × {timeout} minutes at the market price; "
                f"Nosana settles what the jobs use.{again}"
            ),
        )
    ]


def price_now(state: RemoteState, running: int | None, unit: Decimal | None) -> Decimal | None:
    """Billing follows the jobs running on nodes, each on one GPU of the market."""
    if state == RemoteState.UNKNOWN or (state == RemoteState.RUNNING and running is None):
        return None  # not known: keep what the panel had
    if not running or state != RemoteState.RUNNING:
        return Decimal("0")
    return unit * running if unit is not None else None
