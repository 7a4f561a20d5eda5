"""What a deployment costs: plain arithmetic over Decimal and datetime, no ORM.

A row keeps ``accrued`` (all cost folded in so far), the running ``price`` per hour
since ``since``, and this month's share (``month_accrued`` for the UTC month ``month``).
The model's properties, the transitions and the dashboard's spend all add it up here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

SECONDS_PER_HOUR = Decimal(3600)


def month_start_of(moment: dt.datetime) -> dt.datetime:
    """Midnight on the 1st of ``moment``'s month, in UTC."""
    return moment.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def running_cost(price: Decimal, start: dt.datetime, end: dt.datetime) -> Decimal:
    """``price`` per hour from ``start`` to ``end``."""
    return price * Decimal((end - start).total_seconds()) / SECONDS_PER_HOUR


def cost_so_far(*, accrued: Decimal, price: Decimal | None, since: dt.datetime | None, now: dt.datetime) -> Decimal:
    """Everything so far: the accrued cost plus the running rate since it last changed."""
    if price and since:
        return accrued + running_cost(price, since, now)
    return accrued


def cost_this_month(
    *,
    month: dt.date | None,
    month_accrued: Decimal,
    price: Decimal | None,
    since: dt.datetime | None,
    now: dt.datetime,
) -> Decimal:
    """This month so far (UTC): the share accrued this month plus the running rate since
    the later of its last change and the 1st. A share kept for an earlier month counts 0."""
    start = month_start_of(now)
    total = month_accrued if month == start.date() else Decimal("0")
    if price and since:
        since = max(since, start)
        if now > since:
            total += running_cost(price, since, now)
    return total


@dataclass(frozen=True)
class Accrual:
    accrued: Decimal
    month: dt.date
    month_accrued: Decimal
    since: dt.datetime


def accrue(
    *,
    accrued: Decimal,
    month: dt.date | None,
    month_accrued: Decimal,
    price: Decimal | None,
    since: dt.datetime | None,
    now: dt.datetime,
) -> Accrual:
    """Fold the running rate into the totals at ``now`` (before the rate or state changes):
    all of it into ``accrued``, the part since the 1st into this month's share; the
    running rate then starts again from ``now``."""
    return Accrual(
        accrued=cost_so_far(accrued=accrued, price=price, since=since, now=now),
        month=month_start_of(now).date(),
        month_accrued=cost_this_month(month=month, month_accrued=month_accrued, price=price, since=since, now=now),
        since=now,
    )
