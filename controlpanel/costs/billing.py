"""What a deployment costs over time, as each vendor bills it: plain arithmetic, no ORM.

A deployment's :class:`History` is its state timeline (from ``DeploymentEvent``), the prices
it ran at (as submitted, then as the vendor reported them) and its billing terms. Cost is a
cumulative function of time, so the cost over any ``[start, end)`` is ``total(end) - total(start)``
and every range, day or month adds up with every other.

How each vendor bills (the vendor notes under ``shared/vendor-apis/`` cite the pages):

- **Together AI**: per replica-minute while replicas run (``together.md`` "Billing": "Dedicated
  endpoints bill per replica-minute"); a started minute counts whole.
- **Replicate**: per second of every online instance, setup and idle included (``replicate.md``
  "Billing", from replicate.com/docs/topics/billing).
- **Nosana**: per second of job time while jobs run on a node (``nosana.md``: credits settle for
  the jobs' run time); nothing while the jobs wait for a node.
- **Novita AI**: on demand and spot per second from ``pulling`` (provisioning) on, nothing while
  stopped (``novita.md`` §5, novitalabs/novita-skills ``gpu-guide.md``); a **monthly** subscription
  is charged whole at creation (price × months, the hourly figure being the term's price spread
  over 720 h as ``providers/novita/prices.py`` has it) and again at each automatic renewal.
- **Fluence**: prepaid hourly in fixed UTC periods (``fluence.md`` §4 "Billing"): at create
  ``upfront_hours`` (3) of rent leave the balance, 1 h charged at once and 2 h held as reserve;
  one more hour is charged at every UTC hour while the instance lives; terminating refunds the
  reserve, which was never spent (so it is no cost here); a provisioning failure refunds it all.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
SECONDS_PER_HOUR = Decimal(3600)
NOVITA_HOURS_PER_MONTH = 720  # providers/novita/prices.py HOURS_PER_MONTH
NOVITA_DAYS_PER_MONTH = 30

# States (``deployments.states.State`` values) in which the vendor's meter runs.
RUNNING_STATES = frozenset({"running", "updating", "stopping"})
WITH_PROVISIONING = RUNNING_STATES | {"provisioning"}
BILLED_STATES: dict[str, frozenset[str]] = {
    "together": WITH_PROVISIONING,  # replicas are allocated (and billed) while they start
    "replicate": WITH_PROVISIONING,  # setup time is billed
    "novita": WITH_PROVISIONING,  # billing starts at `pulling`
    "nosana": RUNNING_STATES,  # jobs bill once a node runs them
    # Fluence bills every hour from create to terminate, whatever the container does.
    "fluence": WITH_PROVISIONING | {"deleting"},
}
# Where a Fluence deployment that never ran ends with a full refund.
FLUENCE_REFUNDED_ON = frozenset({"failed"})


def billed_states(vendor: str) -> frozenset[str]:
    return BILLED_STATES.get(vendor, WITH_PROVISIONING)


@dataclass(frozen=True)
class Terms:
    """What the spec says about how it is paid (Novita's ``billingMode``/``month``/``autoRenew``)."""

    monthly_months: int = 0  # > 0: a prepaid subscription of this many months
    renew_months: int = 0  # > 0: it renews itself for this many months at expiry

    @classmethod
    def from_spec(cls, vendor: str, spec: dict) -> Terms:
        if vendor != "novita":
            return cls()
        try:
            months = int(spec.get("month") or 0)
        except (TypeError, ValueError):
            months = 0
        if spec.get("billingMode") != "monthly" and months <= 0:
            return cls()
        months = max(months, 1)
        renew = 0
        if spec.get("autoRenew"):
            try:
                renew = int(spec.get("autoRenewMonth") or 0) or months
            except (TypeError, ValueError):
                renew = months
        return cls(monthly_months=months, renew_months=renew)


@dataclass(frozen=True)
class History:
    """One deployment's billing facts. ``states`` is ``[(at, state)]`` in time order, the first
    being the state it was created in; ``prices`` is ``[(at, usd_per_hour)]`` in time order."""

    vendor: str
    states: list[tuple[dt.datetime, str]]
    prices: list[tuple[dt.datetime, Decimal]] = field(default_factory=list)
    terms: Terms = Terms()

    def price_at(self, moment: dt.datetime) -> Decimal:
        """The price in force at ``moment``: the latest one set by then, else the first known."""
        if not self.prices:
            return Decimal("0")
        current = self.prices[0][1]
        for at, price in self.prices:
            if at > moment:
                break
            current = price
        return current

    def intervals(self, until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The billed stretches ``[from, to)`` up to ``until``."""
        billed = billed_states(self.vendor)
        out: list[tuple[dt.datetime, dt.datetime]] = []
        begun: dt.datetime | None = None
        for at, state in self.states:
            if at >= until:
                break
            if state in billed and begun is None:
                begun = at
            elif state not in billed and begun is not None:
                out.append((begun, at))
                begun = None
        if begun is not None:
            out.append((begun, until))
        return [(a, b) for a, b in out if b > a]

    def state_at(self, moment: dt.datetime) -> str | None:
        current = None
        for at, state in self.states:
            if at > moment:
                break
            current = state
        return current


@dataclass(frozen=True)
class Charge:
    """One amount the vendor takes at one moment (a negative one gives money back)."""

    at: dt.datetime
    amount: Decimal
    what: str


def _ceil_minutes(seconds: float) -> int:
    return math.ceil(seconds / 60 - 1e-9) if seconds > 0 else 0


def _metered(history: History, start: dt.datetime, end: dt.datetime, *, per_minute: bool) -> Decimal:
    """Price × billed time, split where the price changed. Per minute: each started minute of
    a billed stretch counts whole, at the price in force when it started."""
    total = Decimal("0")
    for begun, ended in history.intervals(end):
        if per_minute:  # the stretch's minutes run on past its end up to the next whole minute
            ended = begun + _ceil_minutes((ended - begun).total_seconds()) * MINUTE
        cuts = sorted({begun, ended, *(at for at, _ in history.prices if begun < at < ended)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            lo, hi = max(a, start), min(b, end)
            if hi <= lo:
                continue
            price = history.price_at(lo)
            if per_minute:  # minutes that start in [lo, hi)
                started = _ceil_minutes((hi - begun).total_seconds()) - _ceil_minutes((lo - begun).total_seconds())
                total += price * started / 60
            else:
                total += price * Decimal((hi - lo).total_seconds()) / SECONDS_PER_HOUR
    return total


def fluence_charges(history: History, until: dt.datetime) -> list[Charge]:
    """One hour at create, one at every UTC hour while it lives; a refund if it never ran."""
    stretches = history.intervals(until)
    if not stretches:
        return []
    created = stretches[0][0]
    charges = [Charge(created, history.price_at(created), "first hour, charged at create")]
    for begun, ended in stretches:
        hour = begun.replace(minute=0, second=0, microsecond=0) + HOUR
        while hour < ended:
            charges.append(Charge(hour, history.price_at(hour), "hourly charge"))
            hour += HOUR
    ran = any(state in RUNNING_STATES for at, state in history.states if at < until)
    ended_in = history.state_at(until - dt.timedelta(microseconds=1))
    if not ran and ended_in in FLUENCE_REFUNDED_ON:
        failed_at = next(at for at, state in history.states if at < until and state in FLUENCE_REFUNDED_ON)
        paid = sum((c.amount for c in charges), Decimal("0"))
        charges.append(Charge(failed_at, -paid, "refunded: it never started"))
    return charges


def novita_subscription_charges(history: History, until: dt.datetime) -> list[Charge]:
    """The whole term at once when it is created, and each renewal while it still exists."""
    months = history.terms.monthly_months
    created = next((at for at, state in history.states if state in WITH_PROVISIONING and at < until), None)
    if not months or created is None:
        return []
    charges = [
        Charge(created, history.price_at(created) * NOVITA_HOURS_PER_MONTH * months, f"{months} month(s) prepaid")
    ]
    renew = history.terms.renew_months
    due = created + dt.timedelta(days=NOVITA_DAYS_PER_MONTH * months)
    while renew and due < until and history.state_at(due) not in (None, "deleted", "deleting", "lost", "failed"):
        charges.append(Charge(due, history.price_at(due) * NOVITA_HOURS_PER_MONTH * renew, "renewed"))
        due += dt.timedelta(days=NOVITA_DAYS_PER_MONTH * renew)
    return charges


def charges(history: History, until: dt.datetime) -> list[Charge]:
    """The one-off amounts up to ``until`` (Fluence's hours, a Novita subscription)."""
    if history.vendor == "fluence":
        return fluence_charges(history, until)
    if history.terms.monthly_months:
        return novita_subscription_charges(history, until)
    return []


def cost_between(history: History, start: dt.datetime, end: dt.datetime) -> Decimal:
    """What the deployment cost in ``[start, end)``, as its vendor bills it."""
    if end <= start:
        return Decimal("0")
    if history.vendor == "fluence" and len(history.prices) <= 1:
        return _fluence_one_price(history, start, end)
    if history.vendor == "fluence" or history.terms.monthly_months:
        return sum((c.amount for c in charges(history, end) if start <= c.at < end), Decimal("0"))
    if len(history.prices) <= 1 and history.vendor != "together":
        price = history.price_at(start)
        seconds = sum(
            (min(b, end) - max(a, start)).total_seconds()
            for a, b in history.intervals(end)
            if min(b, end) > max(a, start)
        )
        return price * Decimal(seconds) / SECONDS_PER_HOUR
    return _metered(history, start, end, per_minute=history.vendor == "together")


def _hours_in(lo: dt.datetime, hi: dt.datetime) -> int:
    """How many whole UTC hours (xx:00:00) fall in ``[lo, hi)``."""
    if hi <= lo:
        return 0
    first = lo.replace(minute=0, second=0, microsecond=0)
    if first < lo:
        first += HOUR
    return 0 if first >= hi else int((hi - first - dt.timedelta(microseconds=1)) // HOUR) + 1


def _fluence_one_price(history: History, start: dt.datetime, end: dt.datetime) -> Decimal:
    """:func:`fluence_charges` in sums, for a deployment that kept one price (the usual case):
    the same charges, without listing each hour."""
    stretches = history.intervals(end)
    if not stretches:
        return Decimal("0")
    price = history.price_at(start)
    created = stretches[0][0]
    count = 1 if start <= created < end else 0
    for begun, ended in stretches:
        # Hourly charges fall on the whole hours strictly after the stretch began, before it ended.
        lo = max(begun + dt.timedelta(microseconds=1), start)
        count += _hours_in(lo, min(ended, end))
    total = price * count
    refund = (
        [c for c in fluence_charges(history, end) if c.what.startswith("refunded")]
        if not any(state in RUNNING_STATES for _, state in history.states)
        else []
    )
    return total + sum((c.amount for c in refund if start <= c.at < end), Decimal("0"))


def rate_at(history: History, moment: dt.datetime) -> Decimal:
    """USD per hour it burns at ``moment``: its price while billed (a prepaid subscription
    burns nothing more once paid)."""
    if history.terms.monthly_months:
        return Decimal("0")
    state = history.state_at(moment)
    if state is None or state not in billed_states(history.vendor):
        return Decimal("0")
    return history.price_at(moment)


def buckets(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` cut into ``step``-long pieces (the last may be shorter)."""
    out = []
    at = start
    while at < end:
        out.append((at, min(at + step, end)))
        at += step
    return out


def series(histories: Iterable[History], cuts: list[tuple[dt.datetime, dt.datetime]]) -> list[Decimal]:
    """Cost per piece of ``cuts`` (in time order, touching), summed over ``histories``."""
    totals = [Decimal("0")] * len(cuts)
    if not cuts:
        return totals
    end = cuts[-1][1]
    for history in histories:
        if history.vendor == "fluence" or history.terms.monthly_months:
            for charge in charges(history, end):
                for i, (a, b) in enumerate(cuts):
                    if a <= charge.at < b:
                        totals[i] += charge.amount
                        break
            continue
        for i, (a, b) in enumerate(cuts):
            totals[i] += cost_between(history, a, b)
    return totals
