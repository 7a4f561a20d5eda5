"""Accrual as each vendor bills it, on fixed clocks: the pure arithmetic of controlpanel.costs.billing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from controlpanel.costs.billing import History, Terms, buckets, cost_between, rate_at, series

T0 = dt.datetime(2026, 12, 3, 14, 42, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def same(a: Decimal, b: Decimal) -> bool:
    """Equal to far below a cent (Decimal division rounds in the 28th digit)."""
    return abs(a - b) < Decimal("1e-12")


def history(vendor: str, states: list[tuple[float, str]], price: str = "2.00", **kw) -> History:
    return History(
        vendor=vendor,
        states=[(at(m), s) for m, s in states],
        prices=kw.pop("prices", [(at(0), Decimal(price))]),
        **kw,
    )


CYCLE = [(0, "queued"), (1, "submitting"), (2, "provisioning"), (5, "running"), (65, "stopping"), (66, "stopped")]
RESTART = [(126, "queued"), (127, "submitting"), (128, "running"), (158, "stopped")]


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        # provisioning 2→5, running 5→66, again 128→158: 64 + 30 minutes at $2/h.
        ("replicate", Decimal("2") * 94 / 60),
        ("novita", Decimal("2") * 94 / 60),
        # Nosana bills the jobs' run time only: 61 + 30 minutes.
        ("nosana", Decimal("2") * 91 / 60),
    ],
)
def test_cost_between_per_second_vendors_accrue_only_while_billed_across_stop_start(vendor, expected):
    h = history(vendor, CYCLE + RESTART)
    assert same(cost_between(h, at(0), at(300)), expected)
    # Any split of the range adds up to the whole.
    assert same(cost_between(h, at(0), at(40)) + cost_between(h, at(40), at(300)), expected)
    # Nothing accrues while stopped.
    assert cost_between(h, at(70), at(125)) == 0


def test_cost_between_together_counts_every_started_minute():
    h = history("together", [(0, "submitting"), (0, "running"), (10.5, "stopped"), (20, "running"), (20.25, "stopped")])
    # 10.5 minutes → 11 billed; 15 seconds → 1 billed.
    assert cost_between(h, at(0), at(60)) == Decimal("2") * 12 / 60
    assert cost_between(h, at(0), at(5)) == Decimal("2") * 5 / 60
    assert cost_between(h, at(5), at(60)) == Decimal("2") * 7 / 60


def test_cost_between_follows_the_vendors_price_changes():
    h = history(
        "replicate",
        [(0, "running")],
        prices=[(at(0), Decimal("1.00")), (at(30), Decimal("3.00"))],
    )
    assert cost_between(h, at(0), at(60)) == Decimal("0.5") + Decimal("1.5")
    assert rate_at(h, at(10)) == Decimal("1.00")
    assert rate_at(h, at(45)) == Decimal("3.00")


def test_cost_between_fluence_charges_an_hour_at_create_and_each_utc_hour_until_terminated():
    # Created 14:44 (provisioning), active 14:46, terminated 17:10.
    h = history(
        "fluence", [(0, "submitting"), (2, "provisioning"), (4, "running"), (146, "deleting"), (148, "deleted")]
    )
    # 14:44 one hour; 15:00, 16:00, 17:00 one each; the 2 h reserve is refunded, never spent.
    assert cost_between(h, at(0), at(600)) == Decimal("8.00")
    assert cost_between(h, at(0), at(10)) == Decimal("2.00")  # the first hour, at once
    assert cost_between(h, at(10), at(18)) == Decimal("0")  # 14:52–15:00: nothing new
    assert cost_between(h, at(18), at(19)) == Decimal("2.00")  # 15:00
    assert rate_at(h, at(60)) == Decimal("2.00")
    assert rate_at(h, at(200)) == Decimal("0")


def test_cost_between_fluence_refunds_everything_when_it_never_started():
    h = history("fluence", [(0, "submitting"), (2, "provisioning"), (30, "failed")])
    assert cost_between(h, at(0), at(10)) == Decimal("2.00")  # the first hour, until it fails
    assert cost_between(h, at(0), at(60)) == Decimal("0")  # 15:00's hour, then all refunded


def test_cost_between_novita_subscription_is_charged_at_once_and_stops_do_not_matter():
    spec = {"billingMode": "monthly", "month": 2}
    price = Decimal("950") * 2 / (2 * 720)  # $950 a month, spread over 720 h
    h = history(
        "novita",
        [(0, "submitting"), (1, "provisioning"), (3, "running"), (100, "stopped"), (200, "running")],
        prices=[(at(0), price)],
        terms=Terms.from_spec("novita", spec),
    )
    assert same(cost_between(h, at(0), at(2)), Decimal("1900"))
    assert cost_between(h, at(2), at(60 * 24 * 40)) == 0
    assert rate_at(h, at(50)) == 0


def test_cost_between_novita_subscription_renews_itself_when_asked():
    spec = {"billingMode": "monthly", "month": 1, "autoRenew": True, "autoRenewMonth": 1}
    h = history("novita", [(0, "provisioning"), (1, "running")], price="1", terms=Terms.from_spec("novita", spec))
    day = 60 * 24
    assert same(cost_between(h, at(0), at(29 * day)), Decimal("720"))
    assert same(cost_between(h, at(0), at(31 * day)), Decimal("1440"))


def test_terms_from_spec_on_demand_and_other_vendors_have_none():
    assert Terms.from_spec("novita", {"billingMode": "onDemand", "month": 0}).monthly_months == 0
    assert Terms.from_spec("together", {"billingMode": "monthly", "month": 3}).monthly_months == 0
    assert Terms.from_spec("novita", {"month": 3}).monthly_months == 3


def test_series_sums_the_same_as_cost_between_over_each_piece():
    histories = [
        history("replicate", CYCLE + RESTART),
        history("fluence", [(0, "provisioning"), (4, "running")]),
        history("together", [(0, "running"), (30, "stopped")]),
    ]
    cuts = buckets(at(0), at(240), dt.timedelta(hours=1))
    assert len(cuts) == 4
    values = series(histories, cuts)
    expected = [sum((cost_between(h, a, b) for h in histories), Decimal("0")) for a, b in cuts]
    assert all(same(v, e) for v, e in zip(values, expected, strict=True))
    assert same(sum(values), sum((cost_between(h, at(0), at(240)) for h in histories), Decimal("0")))
    assert values[0] > 0


@pytest.mark.parametrize("vendor", ["fluence", "replicate", "novita", "nosana"])
def test_cost_between_one_price_sums_match_the_general_reckoning(vendor):
    """The one-price shortcuts (no hour or cut listed) give what the general path gives."""
    from controlpanel.costs import billing

    moves = [
        (0, "provisioning"),
        (4, "running"),
        (200, "stopped" if vendor != "fluence" else "running"),
        (260, "running"),
    ]
    h = history(vendor, moves)
    for a, b in [(0, 1000), (3, 61), (18, 19), (100, 181), (250, 3000), (-50, 0)]:
        if vendor == "fluence":
            general = sum((c.amount for c in billing.charges(h, at(b)) if at(a) <= c.at < at(b)), Decimal("0"))
        else:
            general = billing._metered(h, at(a), at(b), per_minute=False)
        assert same(cost_between(h, at(a), at(b)), general), (a, b)
