"""``bench_refresh --accounts N``: polling a whole fleet, with a vendor's latency, in a throwaway database.

    manage.py bench_refresh --deployments 2000 --accounts 10 --latency-ms 50

The database: a new one made the way Django's test runner makes one, of the configured
kind, so the figures are the configured engine's (SQLite or PostgreSQL). The connection's
``TEST["NAME"]`` is pointed at a fresh SQLite file in a temporary folder, or at a
PostgreSQL database named after the configured one with a random suffix (created through
the ``postgres`` maintenance database, as the test runner does), before anything opens a
connection; ``create_test_db`` migrates it and switches every connection to it, and
``destroy_test_db`` drops it at the end and switches back. No query reaches the configured
database, whatever happens in between.

The fleet: ``--accounts`` sandbox accounts, round-robin over the vendors (``--vendor``,
all five by default), the deployments spread evenly over them, each account seeded as the
per-vendor mode seeds one (through its twin's create route, or Together's stored shape).
The twins are served on a real socket by a pool of threads, and every request is held
back ``--latency-ms`` on a timer before a thread answers it, so waiting on latency never
queues behind the twins' own work. Vendor calls are the requests the server counts.

Measured in one run, at that latency:
(a) steady: every account refreshed once with ``account_refresh``, all accounts at once on
    their own threads (as several workers would), after untimed first polls made every
    row running and read every row's details once (more than one poll where an account
    holds more rows than ``PANEL_REFRESH_DETAIL_BUDGET``);
(b) changed: a tenth of each account's deployments stopped at the vendor (deleted where
    the vendor has no stop: Fluence) through the twin's own route, so its store holds what
    the vendor would say, then every account refreshed again the same way;
(c) per item: one ``get()`` per deployment, one after another, as a panel without a list
    would poll.
Each account's refresh is checked against the refresh task's soft time limit. "twin work"
is the time the twins spent answering (latency excluded), summed over the server's
threads: what of the wall time is the sandbox rather than the panel. The last line
printed is one JSON object (the keys in ``_summary``); a vendor's ``wall_s`` there is its
slowest account's refresh.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection, connections
from django.test.utils import override_settings

from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import provider_for
from controlpanel.deployments.management.commands.bench_refresh import (
    _Counted,
    _PooledServer,
    _QuietHandler,
    add_rows,
    bench_account,
    check_running,
    seed_fleet,
)
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import account_refresh
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import refresh_account_task
from providers.base import Action, NotFound
from providers.registry import vendor as vendor_info

CHANGED_SHARE = 10  # one deployment in ten changes state at the vendor between (a) and (b)
CALLS_GOAL_PER = 50  # issue 10: a steady poll makes at most one vendor call per 50 deployments
SPEEDUP_GOAL = 20
# Replicate's list has no page size (the twin pages at 20, its own guess): its goal is the
# list's pages plus at most one predictions page per poll (issue 10).
REPLICATE_PAGE = 20


class _FleetServer(_PooledServer):
    # Enough threads that ten accounts' concurrent calls find one free; each holds one
    # database connection for the run.
    workers = 8


@dataclass
class _Account:
    account: ProviderAccount
    seeded: list[tuple[str, str, dict[str, Any]]]

    @property
    def vendor(self) -> str:
        return self.account.vendor


@dataclass
class _Round:
    """One measured pass: its wall time, each account's, and the vendor calls it made."""

    wall_s: float
    account_s: dict[int, float] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    twin_s: float = 0.0  # the twins' own work answering (latency excluded), summed over their threads


def fleet_bench(
    stdout: OutputWrapper, *, vendors: list[str], deployments: int, accounts: int, latency_ms: int
) -> dict[str, Any]:
    if accounts < 1 or deployments < accounts:
        raise CommandError("--accounts must be at least 1 and at most --deployments")
    # The transitions' INFO line per row (thousands) would bury the figures and cost time.
    logging.disable(logging.INFO)
    try:
        with throwaway_database(stdout):
            summary = _Fleet(stdout, latency_ms).run(vendors, deployments, accounts)
    finally:
        logging.disable(logging.NOTSET)
    stdout.write(json.dumps(summary))
    return summary


@contextmanager
def throwaway_database(stdout: OutputWrapper, label: str = "bench") -> Iterator[None]:
    """A new database of the configured kind for the run, dropped after it (see the module's docstring)."""
    settings_dict = connection.settings_dict
    old_name, old_test = settings_dict["NAME"], dict(settings_dict.get("TEST") or {})
    folder = None
    if connection.vendor == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-"))
        name = str(folder / f"{label}.sqlite3")
    else:
        name = f"{str(old_name)[:40]}_{label}_{uuid.uuid4().hex[:8]}"
    settings_dict["TEST"] = {**old_test, "NAME": name}
    try:
        started = time.perf_counter()
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        stdout.write(
            f"throwaway {connection.vendor} database {name} (migrated in {time.perf_counter() - started:.1f} s); "
            "the configured one is never opened"
        )
        yield
    finally:
        # Also when the migration itself failed: create_test_db had switched over by then.
        if settings_dict["NAME"] != old_name:
            connection.creation.destroy_test_db(old_name, verbosity=0)
            stdout.write(f"throwaway database {name} dropped")
        settings_dict["TEST"] = old_test
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _timed_refresh(account_id: int) -> float:
    started = time.perf_counter()
    try:
        account_refresh(account_id=account_id)
        return time.perf_counter() - started
    finally:
        connections.close_all()  # this thread's connections; the thread ends with the pool


class _Fleet:
    def __init__(self, stdout: OutputWrapper, latency_ms: int) -> None:
        self.stdout = stdout
        self.latency_ms = latency_ms
        self.twin = _Counted(WSGIHandler())
        self.soft_limit = refresh_account_task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT

    def run(self, vendors: list[str], deployments: int, accounts: int) -> dict[str, Any]:
        server = make_server("127.0.0.1", 0, self.twin, server_class=_FleetServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/sandbox"
        try:
            with override_settings(PANEL_SANDBOX_URL=url, ALLOWED_HOSTS=["*"]):
                fleet = self._seed(vendors, deployments, accounts)
                self._settle(fleet)
                self.stdout.write(
                    f"sandbox at {url} on {server.workers} threads, {self.latency_ms} ms added to every request"
                )
                server.latency_s = self.latency_ms / 1000
                steady = self._refresh_all(fleet)
                server.latency_s = 0.0
                self._change_some(fleet)
                server.latency_s = self.latency_ms / 1000
                changed = self._refresh_all(fleet)
                self._report_changes_seen(fleet)
                per_item = self._get_each(fleet)
        finally:
            server.shutdown()
            server.server_close()
        return self._report(fleet, steady, changed, per_item)

    # --- the fleet ----------------------------------------------------------------------

    def _seed(self, vendors: list[str], deployments: int, accounts: int) -> list[_Account]:
        started = time.perf_counter()
        fleet = []
        for index in range(accounts):
            vendor = vendors[index % len(vendors)]
            count = deployments // accounts + (1 if index < deployments % accounts else 0)
            account, sandbox_account = bench_account(vendor, f"bench fleet {index}")
            names = [f"bench-{index:02d}-{i:05d}" for i in range(count)]
            seeded = seed_fleet(account, sandbox_account, names)
            check_running(account, count)
            add_rows(account, seeded)
            fleet.append(_Account(account, seeded))
        by_vendor = Counter[str]()
        for item in fleet:
            by_vendor[item.vendor] += len(item.seeded)
        spread = ", ".join(f"{_name(v)} {n}" for v, n in by_vendor.items())
        self.stdout.write(
            f"seeded {deployments} deployments in {accounts} accounts ({spread}) in {time.perf_counter() - started:.1f} s"
        )
        return fleet

    def _settle(self, fleet: list[_Account]) -> None:
        """The untimed first polls: every row provisioning -> running, as after a fleet's first
        minute, and every row's detail read once (more than one poll where an account holds
        more rows than the detail budget)."""
        self._refresh_all(fleet)
        polls = 1
        while Deployment.objects.filter(detail_checked_at__isnull=True).exists() and polls < 100:
            self._refresh_all(fleet)
            polls += 1
        if polls > 1:
            self.stdout.write(f"{polls} untimed first polls read every row's details once")
        states = Counter(Deployment.objects.values_list("state", flat=True))
        if states != {State.RUNNING.value: sum(len(item.seeded) for item in fleet)}:
            raise CommandError(f"after the first poll the panel's rows read as {dict(states)}")

    def _change_some(self, fleet: list[_Account]) -> None:
        """A tenth of each account's fleet stopped at the vendor (deleted where it has no stop)
        through the twin's own route, given the twins' provisioning time to finish stopping,
        then what each vendor says now, untimed."""
        for item in fleet:
            with provider_for(item.account) as provider:
                for _, external_id, spec in item.seeded[::CHANGED_SHARE]:
                    if Action.STOP in provider.actions:
                        provider.stop(external_id, spec)
                    else:
                        provider.delete(external_id)
        time.sleep(settings.SANDBOX_PROVISION_SECONDS + 1)
        said: Counter[str] = Counter()
        for item in fleet:
            with provider_for(item.account) as provider:
                listed = Counter(remote.state.value for remote in provider.list_remotes())
            said.update({f"{item.vendor} {state}": n for state, n in listed.items() if state != "running"})
        self.stdout.write(
            f"stopped or deleted at the vendor: {sum(len(item.seeded[::CHANGED_SHARE]) for item in fleet)}; "
            f"the vendors' lists now say: {', '.join(f'{k} {n}' for k, n in sorted(said.items())) or 'all running'}"
        )

    # --- the three measurements ---------------------------------------------------------

    def _refresh_all(self, fleet: list[_Account]) -> _Round:
        ids = [item.account.pk for item in fleet]
        before, twin_before = Counter(self.twin.by_vendor), self.twin.seconds
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(ids)) as pool:
            walls = list(pool.map(_timed_refresh, ids))
        result = _Round(time.perf_counter() - started, dict(zip(ids, walls, strict=True)))
        result.calls, result.twin_s = Counter(self.twin.by_vendor) - before, self.twin.seconds - twin_before
        failed = ProviderAccount.objects.filter(pk__in=ids).exclude(last_refresh_error="").first()
        if failed is not None:
            raise CommandError(f"{failed.vendor}: the refresh failed: {failed.last_refresh_error}")
        return result

    def _get_each(self, fleet: list[_Account]) -> _Round:
        """The naive poll: one ``get()`` per deployment, in sequence (a deleted one answers not found)."""
        before, twin_before = Counter(self.twin.by_vendor), self.twin.seconds
        started = time.perf_counter()
        result = _Round(0.0)
        for item in fleet:
            account_started = time.perf_counter()
            with provider_for(item.account) as provider:
                for _, external_id, _ in item.seeded:
                    with suppress(NotFound):
                        provider.get(external_id)
            result.account_s[item.account.pk] = time.perf_counter() - account_started
        result.wall_s = time.perf_counter() - started
        result.calls, result.twin_s = Counter(self.twin.by_vendor) - before, self.twin.seconds - twin_before
        return result

    def _report_changes_seen(self, fleet: list[_Account]) -> None:
        states = Counter(Deployment.objects.exclude(state=State.RUNNING).values_list("state", flat=True))
        self.stdout.write(
            f"after the changed refresh the panel shows {sum(states.values())} rows not running "
            f"({', '.join(f'{s} {n}' for s, n in sorted(states.items())) or 'none'})"
        )

    # --- the report ---------------------------------------------------------------------

    def _report(self, fleet: list[_Account], steady: _Round, changed: _Round, per_item: _Round) -> dict[str, Any]:
        accounts_of: dict[str, list[_Account]] = defaultdict(list)
        for item in fleet:
            accounts_of[item.vendor].append(item)
        self.stdout.write(
            f"{'vendor':<11} {'accts':>5} {'rows':>6} {'steady':>7} {'s':>6} {'changed':>8} {'s':>6} "
            f"{'per item':>9} {'s':>7} {'goal':>5}  steady calls within the goal?"
        )
        by_vendor = {}
        for vendor, items in accounts_of.items():
            rows = sum(len(item.seeded) for item in items)
            goal = _calls_goal(vendor, [len(item.seeded) for item in items])
            slowest = max(steady.account_s[item.account.pk] for item in items)
            changed_s = max(changed.account_s[item.account.pk] for item in items)
            per_item_s = sum(per_item.account_s[item.account.pk] for item in items)
            calls = steady.calls[vendor]
            self.stdout.write(
                f"{_name(vendor):<11} {len(items):>5} {rows:>6} {calls:>7} {slowest:>6.2f} "
                f"{changed.calls[vendor]:>8} {changed_s:>6.2f} {per_item.calls[vendor]:>9} {per_item_s:>7.1f} "
                f"{goal:>5}  {'yes' if calls <= goal else 'no'}"
            )
            by_vendor[vendor] = {"deployments": rows, "vendor_calls": calls, "wall_s": round(slowest, 3)}
        within = self._report_soft_limit(fleet, steady, changed)
        speedup = per_item.wall_s / steady.wall_s if steady.wall_s else 0.0
        self.stdout.write(
            f"all accounts at once: steady {steady.wall_s:.2f} s (twin work {steady.twin_s:.2f} s), "
            f"changed {changed.wall_s:.2f} s (twin work {changed.twin_s:.2f} s); one get() per deployment "
            f"{per_item.wall_s:.1f} s (twin work {per_item.twin_s:.1f} s); speedup {speedup:.1f} "
            f"(goal {SPEEDUP_GOAL}: {'met' if speedup >= SPEEDUP_GOAL else 'not met'})"
        )
        return _summary(fleet, self.latency_ms, steady, changed, per_item, speedup, by_vendor, within)

    def _report_soft_limit(self, fleet: list[_Account], steady: _Round, changed: _Round) -> bool:
        slowest_s, slowest_pk = max((max(steady.account_s[pk], changed.account_s[pk]), pk) for pk in steady.account_s)
        vendor = next(item.vendor for item in fleet if item.account.pk == slowest_pk)
        over = [pk for pk in steady.account_s if max(steady.account_s[pk], changed.account_s[pk]) > self.soft_limit]
        self.stdout.write(
            f"task soft limit {self.soft_limit} s: slowest account refresh {slowest_s:.2f} s ({_name(vendor)}); "
            + (f"{len(over)} of {len(fleet)} accounts over it" if over else "every account within it")
        )
        return not over


def _name(slug: str) -> str:
    return vendor_info(slug).display_name


def _calls_goal(vendor: str, counts: list[int]) -> int:
    """The most vendor calls a steady poll of these accounts may make (issue 10's goals)."""
    if vendor == "replicate":
        return sum(math.ceil(count / REPLICATE_PAGE) + 1 for count in counts)
    # At least the one list call every account needs, however small its fleet.
    return sum(max(1, count // CALLS_GOAL_PER) for count in counts)


def _summary(
    fleet: list[_Account],
    latency_ms: int,
    steady: _Round,
    changed: _Round,
    per_item: _Round,
    speedup: float,
    by_vendor: dict[str, dict[str, Any]],
    within: bool,
) -> dict[str, Any]:
    return {
        "deployments": sum(len(item.seeded) for item in fleet),
        "accounts": len(fleet),
        "latency_ms": latency_ms,
        "vendor_calls": sum(steady.calls.values()),
        "wall_s": round(steady.wall_s, 3),
        "changed_vendor_calls": sum(changed.calls.values()),
        "changed_wall_s": round(changed.wall_s, 3),
        "per_item_calls": sum(per_item.calls.values()),
        "per_item_wall_s": round(per_item.wall_s, 3),
        "speedup": round(speedup, 1),
        "by_vendor": by_vendor,
        "within_soft_limit": within,
    }
