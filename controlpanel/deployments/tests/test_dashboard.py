from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.core.parts import live_version
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.deployments.models import Deployment, DeploymentEvent
from controlpanel.deployments.selectors import dashboard_spend, dashboard_version
from controlpanel.deployments.services import deployment_transition
from controlpanel.deployments.services.transitions import _accrue_cost
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, DeploymentFactory

HX = {"HTTP_HX_REQUEST": "true"}
URL = "/"


def names(response) -> list[str]:
    body = response.content.decode().split("<tbody>", 2)[-1]
    return re.findall(r'<td class="name"><a href="/deployments/\d+/"[^>]*>([^<]+)</a>', body)


@pytest.fixture
def fleet(team, owner, make_member, account):
    other_user = make_member(Role.DEPLOYER, username="dora")
    second = AccountFactory(team=team, vendor="nosana", label="Nosana key")
    now = timezone.now()
    rows = {
        "alpha": DeploymentFactory(
            account=account,
            name="alpha",
            state=State.RUNNING,
            created_by=owner,
            price_per_hour=Decimal("3.36"),
            replicas_ready=2,
            checked_at=now,
        ),
        "bravo": DeploymentFactory(
            account=account,
            name="bravo",
            state=State.STOPPED,
            created_by=other_user,
            checked_at=now - dt.timedelta(minutes=5),
        ),
        "charlie": DeploymentFactory(
            account=second,
            name="charlie",
            state=State.PROVISIONING,
            created_by=owner,
            price_per_hour=Decimal("0.44"),
            replicas_ready=0,
        ),
        "delta": DeploymentFactory(account=second, name="delta", state=State.FAILED, created_by=other_user),
    }
    for i, row in enumerate(rows.values()):  # distinct ages: alpha oldest
        Deployment.objects.filter(pk=row.pk).update(created_at=now - dt.timedelta(hours=10 - i))
    DeploymentFactory(account=account, name="gone", state=State.DELETED)
    return {"rows": rows, "other": other_user, "second": second}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["delta", "charlie", "bravo", "alpha"]),  # newest first
        ({"vendor": "nosana"}, ["delta", "charlie"]),
        ({"state": "running"}, ["alpha"]),
        ({"state": "active"}, ["charlie", "alpha"]),  # not stopped, failed or lost
        ({"q": "RAV"}, ["bravo"]),  # case-insensitive search by name
        ({"mine": "on"}, ["charlie", "alpha"]),
    ],
)
def test_dashboard_filters(logged_in, fleet, params, expected):
    assert names(logged_in.get(URL, params, **HX)) == expected


def test_dashboard_filter_by_key_and_creator(logged_in, fleet):
    assert names(logged_in.get(URL, {"account": fleet["second"].pk}, **HX)) == ["delta", "charlie"]
    assert names(logged_in.get(URL, {"creator": fleet["other"].pk}, **HX)) == ["delta", "bravo"]


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("name", "asc", ["alpha", "bravo", "charlie", "delta"]),
        ("name", "desc", ["delta", "charlie", "bravo", "alpha"]),
        ("vendor", "asc", ["delta", "charlie", "bravo", "alpha"]),  # nosana before together, then newest
        ("state", "asc", ["delta", "charlie", "alpha", "bravo"]),
        ("price", "desc", ["alpha", "charlie", "delta", "bravo"]),  # unpriced last
        ("price", "asc", ["charlie", "alpha", "delta", "bravo"]),  # unpriced last either way
        ("replicas", "desc", ["alpha", "charlie", "delta", "bravo"]),
        ("age", "asc", ["alpha", "bravo", "charlie", "delta"]),
        ("checked", "desc", ["alpha", "bravo", "delta", "charlie"]),
    ],
)
def test_dashboard_sorts(logged_in, fleet, sort, direction, expected):
    assert names(logged_in.get(URL, {"sort": sort, "dir": direction}, **HX)) == expected


def test_dashboard_bad_parameters_fall_back_to_defaults(logged_in, fleet):
    response = logged_in.get(URL, {"sort": "password", "dir": "sideways", "state": "exploded", "page": "-3"}, **HX)
    assert response.status_code == 200
    assert names(response) == ["delta", "charlie", "bravo", "alpha"]


def test_dashboard_paginates_and_links_keep_the_filters(logged_in, account):
    for i in range(120):
        DeploymentFactory(account=account, name=f"n{i:03d}")
    first = logged_in.get(URL, {"vendor": "together", "sort": "name", "dir": "asc"}, **HX)
    assert names(first)[0] == "n000"
    assert len(names(first)) == 50
    assert "page=2" in first.content.decode()
    assert "vendor=together" in first.content.decode().split('rel="next"')[1].split(">")[0]
    third = logged_in.get(URL, {"vendor": "together", "sort": "name", "dir": "asc", "page": 3}, **HX)
    assert names(third) == [f"n{i:03d}" for i in range(100, 120)]
    assert "101–120 of 120" in third.content.decode()


def test_dashboard_counts_by_state_and_vendor(logged_in, fleet):
    content = logged_in.get(URL, **HX).content.decode()
    assert re.search(r"Running <strong>1</strong>", content)
    assert re.search(r"Failed <strong>1</strong>", content)
    assert "Nosana" in content
    assert "Together AI" in content


def test_unchanged_poll_is_204_with_filters_and_200_after_a_change(logged_in, team, fleet):
    version = live_version(dashboard_version(team=team))  # the poll's version names a down worker too
    response = logged_in.get(URL, {"vendor": "nosana", "sort": "name", "v": version}, **HX)
    assert response.status_code == 204
    assert response.content == b""
    deployment_transition(deployment=fleet["rows"]["charlie"], to=State.RUNNING)
    changed = logged_in.get(URL, {"vendor": "nosana", "sort": "name", "v": version}, **HX)
    assert changed.status_code == 200
    assert names(changed) == ["charlie", "delta"]  # the poll answer keeps the filters and sort
    assert f"v={live_version(dashboard_version(team=team))}" in changed.content.decode()


def test_poll_url_carries_the_current_filters(logged_in, fleet):
    content = logged_in.get(URL, {"vendor": "nosana", "q": "ch"}, **HX).content.decode()
    poll = re.search(r'hx-get="(/\?[^"]*v=[^"]+)"', content).group(1)
    assert "vendor=nosana" in poll
    assert "q=ch" in poll


def _ran(deployment, *moves):
    """Give ``deployment`` a timeline: created at the first moment, then each (moment, state)."""
    first = moves[0][0]
    Deployment.objects.filter(pk=deployment.pk).update(created_at=first)
    before = State.QUEUED
    for moment, state in moves:
        DeploymentEvent.objects.create(
            deployment=deployment,
            kind="state",
            actor_label="worker",
            from_state=before,
            to_state=state,
            created_at=moment,
        )
        before = state


def test_spend_now_and_this_month_per_vendor(team, account):
    """From each deployment's timeline (controlpanel.costs): the one running for 3 h at $2/h,
    the one that ran 2.5 h this month, and none of what ran last month."""
    now = timezone.now()
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    running = DeploymentFactory(
        account=account, state=State.RUNNING, estimated_price_per_hour=Decimal("2.00"), state_changed_at=now
    )
    _ran(running, (now - dt.timedelta(hours=3), State.RUNNING))
    stopped = DeploymentFactory(account=account, state=State.STOPPED, estimated_price_per_hour=Decimal("2.00"))
    began = max(month, now - dt.timedelta(hours=3))
    _ran(stopped, (began, State.RUNNING), (began + (now - began) / 2, State.STOPPED))
    last_month = DeploymentFactory(account=account, state=State.STOPPED, estimated_price_per_hour=Decimal("9"))
    _ran(last_month, (month - dt.timedelta(hours=20), State.RUNNING), (month - dt.timedelta(hours=9), State.STOPPED))
    spend = dashboard_spend(team=team)
    assert spend["per_hour"] == {"together": Decimal("2.00")}
    since_start = min(3.0, (now - month).total_seconds() / 3600)
    expected = Decimal(str(2 * since_start)) + Decimal(str(since_start))
    # Together bills per started replica-minute: the running one's current minute counts whole.
    assert Decimal("0") <= spend["month"]["together"] - expected < Decimal("0.07")


def test_monthly_cost_splits_at_the_first_of_the_month(account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, price_per_hour=Decimal("1.00"))
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0, tzinfo=dt.UTC)
    deployment.cost_since = start - dt.timedelta(hours=5)  # began last month
    deployment.save()
    _accrue_cost(deployment, start + dt.timedelta(hours=2))
    assert round(deployment.cost_accrued, 4) == Decimal("7")  # all of it
    assert round(deployment.cost_month_accrued, 4) == Decimal("2")  # only since the 1st
    assert deployment.cost_month == start.date()


def test_bulk_stop_queues_what_it_can_and_explains_the_rest(logged_in, fleet, django_capture_on_commit_callbacks):
    rows = fleet["rows"]
    Deployment.objects.filter(pk=rows["alpha"].pk).update(external_id="dep_alpha")
    ids = [rows["alpha"].pk, rows["bravo"].pk]
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in.post(reverse("deployments:bulk"), {"action": "stop", "ids": ids}, **HX)
    assert response.status_code == 200
    assert len(callbacks) == 1
    # The outcome stays above the table (out of band), in one sentence with one full stop each.
    body = response.content.decode()
    assert 'id="bulk-outcome" hx-swap-oob="true"' in body
    assert "Stop requested for 1 (alpha)" in body
    assert "Not possible for bravo (Not possible while stopped)." in body
    assert ".)." not in body
    assert Deployment.objects.get(pk=rows["alpha"].pk).pending_action == "stop"


def test_bulk_ignores_another_teams_ids(logged_in, fleet, other_team):
    theirs = other_team["deployment"]
    response = logged_in.post(reverse("deployments:bulk"), {"action": "delete", "ids": [theirs.pk]}, **HX)
    assert "None of the selected deployments exist any more." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.state == State.QUEUED


def test_bulk_is_refused_to_viewers(client, make_member, fleet):
    client.force_login(make_member(Role.VIEWER))
    response = client.post(reverse("deployments:bulk"), {"action": "stop", "ids": [fleet["rows"]["alpha"].pk]})
    assert response.status_code == 403
    assert Deployment.objects.get(pk=fleet["rows"]["alpha"].pk).pending_action == ""


def test_refresh_now_makes_the_account_due(logged_in, account):
    ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now() + dt.timedelta(hours=1))
    response = logged_in.post(reverse("credentials:refresh", args=[account.pk]), **HX)
    assert response.status_code == 204
    assert "Asking Together AI" in response["HX-Trigger"]
    account.refresh_from_db()
    assert account.next_refresh_at <= timezone.now()


def test_refresh_now_for_another_teams_key_is_404(logged_in, other_team):
    assert logged_in.post(reverse("credentials:refresh", args=[other_team["account"].pk])).status_code == 404


def test_a_refused_keys_banner_ends_with_one_full_stop(logged_in, account):
    message = "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys."
    ProviderAccount.objects.filter(pk=account.pk).update(
        status=KeyStatus.INVALID, status_message=message, last_refresh_error=""
    )
    body = logged_in.get(reverse("deployments:dashboard")).content.decode()
    assert "settings/api-keys." in body
    assert "api-keys.." not in body
