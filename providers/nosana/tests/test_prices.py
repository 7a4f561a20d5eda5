"""Prices (``providers.nosana.prices``): a market's price with its fee, what a start
reserves, and what a deployment costs while it runs."""

from __future__ import annotations

from decimal import Decimal

from providers.base import RemoteState
from providers.nosana import NosanaProvider
from providers.nosana.prices import market_price
from providers.nosana.tests.samples import NOTES, fixture, mock_markets


def test_nosana_market_price_is_reward_plus_fee():
    assert market_price({"usd_reward_per_hour": 0.15, "network_fee_percentage": 20}) == Decimal("0.1800")
    assert market_price({"usd_reward_per_hour": None}) is None


def test_nosana_estimate_and_upfront_charges_from_the_market_offer(respx_mock, nosana):
    mock_markets(respx_mock)
    offers = nosana.catalog()
    spec = {**NOTES, "replicas": 2, "timeout": 90}
    assert NosanaProvider.estimate_price(spec, offers) == Decimal("0.4400")
    [charge] = NosanaProvider.upfront_charges(spec, offers)
    assert charge.amount == Decimal("1.3200")  # 2 × 0.44 × 90/60
    assert charge.description.startswith("Credits reserved when it starts: 2 replicas × 90 minutes")
    extend = NosanaProvider.upfront_charges({**spec, "strategy": "SIMPLE-EXTEND"}, offers)[0]
    assert "at every extension" in extend.description
    assert NosanaProvider.upfront_charges({**spec, "market": "UnknownMarket11111111111111111111"}, offers) == []


def test_nosana_price_is_nothing_while_scheduled_waits_and_unknown_without_jobs(nosana):
    waiting = nosana.to_remote({**fixture("deployment_running"), "strategy": "SCHEDULED"}, jobs=[])
    assert (waiting.state, waiting.price_per_hour) == (RemoteState.RUNNING, Decimal("0"))
    # Neither jobs read nor the server's active_jobs (an older server): not known.
    unlooked = nosana.to_remote({k: v for k, v in fixture("deployment_running").items() if k != "active_jobs"})
    assert (unlooked.state, unlooked.price_per_hour) == (RemoteState.RUNNING, None)
