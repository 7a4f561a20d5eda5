"""Fluence's JSON in the panel's terms: events and the balance.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from providers.fluence.mapping import parse_balance, parse_event


def test_parse_event_reads_a_leading_timestamp():
    event = parse_event("2026-02-07T14:42:31Z [pod]: [Normal] [Pulling] Pulling image")
    assert event.at == dt.datetime(2026, 2, 7, 14, 42, 31, tzinfo=dt.UTC)
    assert event.message == "[pod]: [Normal] [Pulling] Pulling image"
    assert event.kind == "pulling"
    assert parse_event("free text").kind == ""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (12.5, (Decimal("12.5"), "USDC")),
        ({"balance": "7.10", "currency": "usd"}, (Decimal("7.10"), "USD")),
        ({"available": 3, "reserved": 9}, (Decimal("3"), "USDC")),
        ([{"currency": "ETH", "amount": 1}, {"currency": "USDC", "amount": 40}], (Decimal("40"), "USDC")),
        ({"balances": [{"asset": "USDC", "balance": {"available": "8.5"}}]}, (Decimal("8.5"), "USDC")),
        ({"USDC": "99.99"}, (Decimal("99.99"), "USDC")),
        (
            [
                {"balance": "1.00", "usage": "0.00", "featureKey": "storage"},
                {"balance": "987.50", "usage": "12.50", "featureKey": "gpu_cloud", "usageDaysLeft": 13},
            ],
            (Decimal("987.50"), "USDC"),
        ),
        ({"data": {"amount": 5}}, (Decimal("5"), "USDC")),
        ({"something": "else"}, (None, "USDC")),
        ([], (None, "USDC")),
        (None, (None, "USDC")),
    ],
)
def test_parse_balance_tolerates_the_shapes_it_may_have(data, expected):
    assert parse_balance(data) == expected
