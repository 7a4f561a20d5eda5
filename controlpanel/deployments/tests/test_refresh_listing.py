"""List-first polling (services/refresh.py, services/details.py): detail reads only for rows
that are new, changed in the list or in motion, plus a rotation that re-reads every row
within the stated period; lost only when a complete list lacks a row and a read by id says
it is gone; a list that drops many rows at once is suspect; a refresh that runs out of time
stops between rows and a follow-up finishes it.

Novita stands in for the vendors whose list says less than a read by id, served by respx
from a small world of instances (its list pages and ``GET /gpu/instance``), shaped as
the adapter's fixtures (Novita's documented examples)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx
import pytest
import respx
from celery.exceptions import SoftTimeLimitExceeded
from django.urls import reverse
from django.utils import timezone

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import refresh as refresh_module
from controlpanel.deployments.services.details import Listed, list_digest, plan_details
from controlpanel.deployments.states import State
from providers.base import Remote, RemoteState
from providers.novita.provider import GPU_API
from providers.testing import load_fixture
from tests.factories import AccountFactory, DeploymentFactory

pytestmark = pytest.mark.django_db

LIST = f"{GPU_API}/gpu/instances"
ONE = f"{GPU_API}/gpu/instance"


class World:
    """Novita's side: instances by id; the list pages them from 0 with ``total``."""

    def __init__(self, mock: respx.MockRouter, count: int) -> None:
        base = load_fixture("novita", "instance_running")
        self.instances = {
            f"i{n:04d}": {**copy.deepcopy(base), "id": f"i{n:04d}", "name": f"box-{n}"} for n in range(count)
        }
        self.hidden: set[str] = set()  # listed by nobody, still readable by id
        self.total_offset = 0
        self.list_route = mock.get(LIST).mock(side_effect=self._list)
        self.detail_route = mock.get(ONE).mock(side_effect=self._detail)
        mock.get(f"{GPU_API}/products").respond(200, json=load_fixture("novita", "products"))
        self.fail_detail_after: int | None = None
        self.served = 0

    def _list(self, request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["pageNum"]), int(request.url.params["pageSize"])
        listed = [self._listed(i) for k, i in self.instances.items() if k not in self.hidden]
        body = {"instances": listed[page * size : (page + 1) * size], "total": len(listed) + self.total_offset}
        return httpx.Response(200, json=body)

    @staticmethod
    def _listed(item: dict[str, Any]) -> dict[str, Any]:
        # The list has no connection details [V: Novita's docs, "List Instances"].
        return {k: v for k, v in item.items() if not k.startswith("connectComponent")}

    def _detail(self, request: httpx.Request) -> httpx.Response:
        if self.fail_detail_after is not None and self.served >= self.fail_detail_after:
            raise SoftTimeLimitExceeded()
        self.served += 1
        item = self.instances.get(request.url.params["instanceId"])
        if item is None:
            return httpx.Response(400, json=load_fixture("novita", "error_not_found"))
        return httpx.Response(200, json=item)

    def read_ids(self, since: int = 0) -> list[str]:
        return [c.request.url.params["instanceId"] for c in self.detail_route.calls[since:]]


@pytest.fixture
def account(team):
    return AccountFactory(team=team, vendor="novita", api_key="sandbox-novita-refresh")


@pytest.fixture
def mock(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as router:
        yield router


def fleet(account, world: World, state: State = State.PROVISIONING) -> list[Deployment]:
    return [
        DeploymentFactory(account=account, name=item["name"], spec={}, state=state, external_id=key)
        for key, item in world.instances.items()
    ]


def refresh(account) -> bool:
    return services.account_refresh(account_id=account.pk)


# --- which rows get a detail read ---------------------------------------------------------------


def test_refresh_reads_details_of_new_rows_then_only_one_steady_row(account, mock):
    world = World(mock, 12)
    rows = fleet(account, world)
    refresh(account)
    assert sorted(world.read_ids()) == sorted(world.instances)  # every row new: all read
    row = Deployment.objects.get(pk=rows[0].pk)
    assert (row.state, row.detail_checked_at is not None) == (State.RUNNING, True)
    assert row.connection["SSH"] == "ssh root@203.0.113.10 -p 31522"  # only the detail has it

    before = world.detail_route.call_count
    refresh(account)
    assert len(world.read_ids(before)) == 1  # steady: one row in the rotation, the list for the rest
    assert world.list_route.call_count == 2
    row.refresh_from_db()
    assert row.connection["SSH"] == "ssh root@203.0.113.10 -p 31522"  # the list's rows never wipe it


def test_refresh_reads_the_detail_of_a_row_the_list_shows_changed(account, mock):
    world = World(mock, 8)
    rows = fleet(account, world)
    refresh(account)
    world.instances["i0003"]["status"] = "exited"
    before = world.detail_route.call_count
    refresh(account)
    read = world.read_ids(before)
    assert "i0003" in read
    assert len(read) == 2
    stopped = Deployment.objects.get(pk=rows[3].pk)
    assert (stopped.state, stopped.vendor_state) == (State.STOPPED, "exited")


def test_refresh_past_its_detail_budget_takes_the_lists_state_and_reads_the_rest_next_time(account, mock, settings):
    settings.PANEL_REFRESH_DETAIL_BUDGET = 3
    world = World(mock, 8)
    fleet(account, world)
    refresh(account)
    assert world.detail_route.call_count == 3  # the budget
    # The five others took the list's state (running) without their connection details,
    # and keep no digest, so they are read first next time.
    assert Deployment.objects.filter(state=State.RUNNING).count() == 8
    assert Deployment.objects.filter(detail_checked_at__isnull=True).count() == 5
    refresh(account)
    refresh(account)
    assert not Deployment.objects.filter(detail_checked_at__isnull=True).exists()
    assert all(d.connection.get("SSH") for d in Deployment.objects.all())


def _steady(n: int, now: dt.datetime) -> list[Listed]:
    out = []
    for i in range(n):
        remote = Remote(
            external_id=f"r{i}", name=f"r{i}", state=RemoteState.RUNNING, vendor_state="running", raw={"i": i}
        )
        row = Deployment(pk=i + 1, state=State.RUNNING, external_id=f"r{i}", detail_checked_at=now, list_digest="")
        row.list_digest = list_digest(remote)
        out.append(Listed(row, remote, row.list_digest))
    return out


@pytest.mark.parametrize(("rows", "poll_every", "period"), [(200, 30, 3600), (5000, 30, 3600), (7, 3, 60)])
def test_plan_rereads_every_steady_row_within_the_stated_period(rows, poll_every, period):
    # Polls every `poll_every` seconds for three periods, on a clock of our own: the longest
    # any row goes between two detail reads is within the period, at about rows/period a second.
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    listed = _steady(rows, start)
    last_read = {item.deployment.pk: start for item in listed}
    longest = dt.timedelta(0)
    reads = 0
    now, last_poll = start, start
    while now < start + dt.timedelta(seconds=3 * period):
        now += dt.timedelta(seconds=poll_every)
        plan = plan_details(listed, now=now, last_poll=last_poll, period=period, budget=200)
        assert not plan.from_list
        for item in plan.detail:
            longest = max(longest, now - last_read[item.deployment.pk])
            last_read[item.deployment.pk] = item.deployment.detail_checked_at = now
        reads += len(plan.detail)
        last_poll = now
    longest = max([longest, *(now - t for t in last_read.values())])
    assert longest <= dt.timedelta(seconds=period)
    assert reads <= 3 * rows + 3 * period // poll_every  # about one read per row per period, not one per poll


def test_plan_reads_new_changed_and_moving_rows_first_within_the_budget():
    now = timezone.now()
    listed = _steady(10, now - dt.timedelta(seconds=10))
    listed[0].deployment.detail_checked_at = None  # new
    listed[1].digest = "changed"  # its list row differs from the one read last
    listed[2].deployment.state = State.UPDATING  # in motion at the panel
    listed[3].remote.state = RemoteState.STOPPING  # in motion at the vendor
    listed[4].remote.state = RemoteState.DELETED  # the list says it ended: no detail needed
    plan = plan_details(listed, now=now, last_poll=now - dt.timedelta(seconds=10), period=3600, budget=3)
    assert [i.remote.external_id for i in plan.detail] == ["r0", "r1", "r2"]
    assert [i.remote.external_id for i in plan.from_list] == ["r4", "r3"]  # ended; then past the budget
    assert len(plan.steady) == 5  # nothing left in the budget for the rotation


# --- lost only when confirmed -------------------------------------------------------------------


def test_refresh_marks_lost_only_a_row_a_complete_list_lacks_and_a_read_by_id_calls_gone(account, mock):
    world = World(mock, 4)
    rows = fleet(account, world)
    refresh(account)
    gone, hidden = world.instances.pop("i0001"), "i0002"
    world.hidden.add(hidden)  # not listed, but Novita still answers for it by id
    before = world.detail_route.call_count
    refresh(account)
    assert {"i0001", hidden} <= set(world.read_ids(before))  # asked by id before any verdict
    states = dict(Deployment.objects.values_list("external_id", "state"))
    assert states[gone["id"]] == State.LOST
    assert states[hidden] == State.RUNNING
    assert rows[1].events.filter(to_state=State.LOST).exists()


def test_refresh_calls_nothing_lost_from_an_incomplete_list(account, mock):
    world = World(mock, 4)
    fleet(account, world)
    refresh(account)
    world.instances.pop("i0001")
    world.total_offset = 5  # total promises more rows than the pages hold: paging never completes
    before = world.detail_route.call_count
    refresh(account)
    assert "i0001" not in world.read_ids(before)
    assert Deployment.objects.get(external_id="i0001").state == State.RUNNING


def test_refresh_keeps_rows_a_suspect_list_dropped_and_says_so_on_the_key(account, mock, logged_in, caplog):
    world = World(mock, 20)
    fleet(account, world)
    refresh(account)
    world.hidden.update(list(world.instances)[:8])  # 8 of 20 (40 %) missing at once
    before = world.detail_route.call_count
    refresh(account)
    assert not set(world.read_ids(before)) & world.hidden  # not read one by one either
    assert not Deployment.objects.exclude(state=State.RUNNING).exists()
    account.refresh_from_db()
    assert account.refresh_suspect.startswith("Novita AI's list left out 8 of 20 deployments at once")
    assert "suspect list" in caplog.text
    page = logged_in.get("/keys/").content.decode()
    assert "left out 8 of 20 deployments" in page

    world.hidden.clear()
    refresh(account)
    account.refresh_from_db()
    assert account.refresh_suspect == ""


def test_refresh_of_a_few_missing_rows_is_not_suspect(account, mock):
    world = World(mock, 20)
    fleet(account, world)
    refresh(account)
    for key in list(world.instances)[:3]:
        world.instances.pop(key)
    refresh(account)
    assert Deployment.objects.filter(state=State.LOST).count() == 3
    assert ProviderAccount.objects.get(pk=account.pk).refresh_suspect == ""


# --- a refresh that runs out of time ------------------------------------------------------------


@pytest.fixture
def follow_ups(monkeypatch) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(refresh_module.refresh_account_task, "delay", queued.append)
    return queued


def test_refresh_out_of_time_stops_between_rows_and_a_follow_up_finishes(account, mock, settings, follow_ups):
    settings.PANEL_REFRESH_TIME_BUDGET_SECONDS = 0  # spent at once: one row's detail per run
    settings.PANEL_REFRESH_DETAIL_CONCURRENCY = 1
    world = World(mock, 5)
    fleet(account, world)
    runs = 0
    while not refresh(account):
        runs += 1
        account.refresh_from_db()
        assert account.refresh_lease_until is not None  # the follow-up holds the lease
        assert follow_ups[-1] == account.pk
        assert runs < 10
        ProviderAccount.objects.filter(pk=account.pk).update(refresh_lease_until=None)
    assert runs >= 2
    assert len(follow_ups) == runs
    assert not Deployment.objects.exclude(state=State.RUNNING).exists()
    assert not Deployment.objects.filter(detail_checked_at__isnull=True).exists()


def test_refresh_struck_by_the_soft_limit_half_way_is_finished_by_the_next_one(account, mock, settings, follow_ups):
    settings.PANEL_REFRESH_DETAIL_CONCURRENCY = 1
    world = World(mock, 6)
    fleet(account, world)
    world.fail_detail_after = 3  # the soft limit strikes during the fourth detail read
    assert refresh(account) is False
    assert Deployment.objects.filter(state=State.RUNNING).count() == 3  # each written row is whole
    assert follow_ups == [account.pk]
    world.fail_detail_after = None
    ProviderAccount.objects.filter(pk=account.pk).update(refresh_lease_until=None)
    assert refresh(account) is True
    assert Deployment.objects.filter(state=State.RUNNING, detail_checked_at__isnull=False).count() == 6


def test_deployment_page_says_when_its_details_were_last_read(account, mock, logged_in):
    world = World(mock, 3)
    rows = fleet(account, world)
    refresh(account)
    earlier = timezone.now() - dt.timedelta(minutes=7)
    Deployment.objects.filter(pk=rows[0].pk).update(detail_checked_at=earlier, checked_at=timezone.now())
    page = logged_in.get(reverse("deployments:detail", args=[rows[0].pk])).content.decode()
    assert "details read" in page
    assert "7 min ago" in page
    dashboard = logged_in.get(reverse("deployments:dashboard")).content.decode()
    assert "details read 7 min ago" in dashboard


def test_a_row_that_moved_while_it_was_polled_keeps_what_happened_after_the_read():
    # The poll loads the row and asks the vendor; a person's Stop lands meanwhile. The
    # vendor's answer predates the stop, so writing it would put "Stopping" back to "Running".
    loaded = DeploymentFactory(account=AccountFactory(vendor="nosana"), state=State.RUNNING, external_id="dep-moved")
    Deployment.objects.filter(pk=loaded.pk).update(state=State.STOPPING, state_changed_at=timezone.now())
    before = Remote(external_id="dep-moved", name=loaded.name, state=RemoteState.RUNNING, vendor_state="RUNNING")
    refresh_module._refresh_one(None, loaded, before)
    assert Deployment.objects.get(pk=loaded.pk).state == State.STOPPING
    # A poll that loads the row after the stop writes what the vendor says.
    fresh = Deployment.objects.get(pk=loaded.pk)
    after = Remote(external_id="dep-moved", name=loaded.name, state=RemoteState.STOPPED, vendor_state="STOPPED")
    refresh_module._refresh_one(None, fresh, after)
    assert Deployment.objects.get(pk=loaded.pk).state == State.STOPPED
