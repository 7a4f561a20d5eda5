"""The cost arithmetic on a frozen clock: every function is given ``now``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from controlpanel.deployments.cost import accrue, cost_so_far, cost_this_month, month_start_of, running_cost
from controlpanel.deployments.models import Deployment

NOW = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)  # the frozen clock
MARCH = dt.date(2026, 3, 1)
FEBRUARY = dt.date(2026, 2, 1)
HOUR = dt.timedelta(hours=1)


def test_month_start_of_is_midnight_on_the_first_in_utc():
    assert month_start_of(NOW) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    # 00:30 on the 1st in UTC+2 is still the last day of the month before in UTC.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert month_start_of(dt.datetime(2026, 3, 1, 0, 30, tzinfo=plus_two)) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def test_running_cost_is_the_rate_times_the_hours():
    assert running_cost(Decimal("2.50"), NOW - 3 * HOUR, NOW) == Decimal("7.5")
    assert running_cost(Decimal("1"), NOW - dt.timedelta(minutes=90), NOW) == Decimal("1.5")


def test_cost_so_far_adds_the_running_rate_to_what_was_accrued():
    assert cost_so_far(accrued=Decimal("4"), price=Decimal("2"), since=NOW - 2 * HOUR, now=NOW) == Decimal("8")


def test_cost_so_far_without_a_rate_is_what_was_accrued():
    assert cost_so_far(accrued=Decimal("4"), price=None, since=NOW - 2 * HOUR, now=NOW) == Decimal("4")
    assert cost_so_far(accrued=Decimal("4"), price=Decimal("2"), since=None, now=NOW) == Decimal("4")


def test_accrue_folds_the_running_rate_and_restarts_it_from_now():
    folded = accrue(
        accrued=Decimal("1"), month=MARCH, month_accrued=Decimal("1"), price=Decimal("3"), since=NOW - HOUR, now=NOW
    )
    assert (folded.accrued, folded.month, folded.month_accrued, folded.since) == (
        Decimal("4"),
        MARCH,
        Decimal("4"),
        NOW,
    )


def test_accrue_over_a_start_stop_cycle_bills_only_the_running_hours():
    started = NOW - 10 * HOUR
    row = {"accrued": Decimal("0"), "month": None, "month_accrued": Decimal("0"), "price": None, "since": None}

    def fold(at: dt.datetime, price: Decimal | None) -> None:
        folded = accrue(**row, now=at)
        row.update(accrued=folded.accrued, month=folded.month, month_accrued=folded.month_accrued, since=folded.since)
        row["price"] = price

    fold(started, Decimal("2"))  # running at 2/h
    fold(started + 3 * HOUR, None)  # stopped: nothing bills
    fold(started + 7 * HOUR, Decimal("2"))  # started again
    assert row["accrued"] == Decimal("6")
    assert cost_so_far(accrued=row["accrued"], price=row["price"], since=row["since"], now=NOW) == Decimal("12")
    month = cost_this_month(
        month=row["month"], month_accrued=row["month_accrued"], price=row["price"], since=row["since"], now=NOW
    )
    assert month == Decimal("12")  # all of it in March


def test_cost_this_month_splits_at_the_first_of_the_month():
    first = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    since, now = first - 5 * HOUR, first + 2 * HOUR  # began on the last evening of February
    assert cost_this_month(month=FEBRUARY, month_accrued=Decimal("9"), price=Decimal("1"), since=since, now=now) == 2
    assert cost_so_far(accrued=Decimal("0"), price=Decimal("1"), since=since, now=now) == Decimal("7")
    folded = accrue(
        accrued=Decimal("0"), month=FEBRUARY, month_accrued=Decimal("9"), price=Decimal("1"), since=since, now=now
    )
    assert (folded.accrued, folded.month, folded.month_accrued) == (Decimal("7"), MARCH, Decimal("2"))


def test_cost_this_month_keeps_this_months_share_and_drops_an_earlier_ones():
    kept = cost_this_month(month=MARCH, month_accrued=Decimal("5"), price=None, since=None, now=NOW)
    dropped = cost_this_month(month=FEBRUARY, month_accrued=Decimal("5"), price=None, since=None, now=NOW)
    assert (kept, dropped) == (Decimal("5"), Decimal("0"))


def test_deployment_cost_properties_add_up_on_a_frozen_clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    deployment = Deployment(
        price_per_hour=Decimal("2"),
        cost_since=NOW - 3 * HOUR,
        cost_accrued=Decimal("10"),
        cost_month=MARCH,
        cost_month_accrued=Decimal("4"),
    )
    assert deployment.cost_so_far == Decimal("16")
    assert deployment.cost_this_month == Decimal("10")
