"""The "Not managed by the panel" page, its buttons by role, the dashboard's banner and the
key row's link; Adopt answers without calling a vendor (a worker does)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.teams.permissions import Role
from controlpanel.unmanaged.models import UnmanagedResource
from controlpanel.unmanaged.tasks import adopt_unmanaged_task

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def resource(account):
    return UnmanagedResource.objects.create(
        team=account.team,
        account=account,
        vendor="together",
        external_id="dep_console",
        name="console-made",
        vendor_state="Ready",
        price_per_hour="3.36",
    )


def test_list_shows_the_resource_with_adopt_and_ignore_for_an_owner(logged_in, resource):
    page = logged_in.get(reverse("unmanaged:list")).content.decode()
    assert "console-made" in page
    assert "$3.36/h" in page
    assert reverse("unmanaged:adopt", args=[resource.pk]) in page
    assert reverse("unmanaged:ignore", args=[resource.pk]) in page


@pytest.mark.parametrize(("role", "adopt", "ignore"), [(Role.DEPLOYER, True, False), (Role.VIEWER, False, False)])
def test_list_draws_only_the_buttons_a_role_may_use(client, make_member, resource, role, adopt, ignore):
    client.force_login(make_member(role))
    page = client.get(reverse("unmanaged:list")).content.decode()
    assert "console-made" in page
    assert (reverse("unmanaged:adopt", args=[resource.pk]) in page) is adopt
    assert (reverse("unmanaged:ignore", args=[resource.pk]) in page) is ignore


def test_list_is_a_fragment_for_htmx_and_filters_by_key(logged_in, resource, team):
    from tests.factories import AccountFactory

    other_key = AccountFactory(team=team, label="Second key")
    fragment = logged_in.get(reverse("unmanaged:list"), **HX).content.decode()
    assert "<html" not in fragment
    assert "console-made" in fragment
    filtered = logged_in.get(reverse("unmanaged:list"), {"key": other_key.pk}).content.decode()
    assert "console-made" not in filtered
    assert logged_in.get(reverse("unmanaged:list"), {"key": "nope<script>"}).status_code == 200


def test_adopt_post_queues_one_worker_task_and_says_what_happens(
    logged_in, resource, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(adopt_unmanaged_task, "delay", lambda pk: sent.append(pk))
    url = reverse("unmanaged:adopt", args=[resource.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = logged_in.post(url, follow=True)
        second = logged_in.post(url, **HX)
    assert sent == [resource.pk]
    assert "Adopt requested: a worker reads console-made" in first.content.decode()
    assert second["HX-Redirect"] == reverse("unmanaged:list")
    assert "Adopting…" in logged_in.get(reverse("unmanaged:list")).content.decode()


def test_another_teams_resource_is_404(client, other_team, resource):
    client.force_login(other_team["user"])
    assert client.post(reverse("unmanaged:adopt", args=[resource.pk])).status_code == 404
    assert "console-made" not in client.get(reverse("unmanaged:list")).content.decode()


def test_ignored_resource_leaves_the_list_and_can_be_shown_again(logged_in, resource):
    logged_in.post(reverse("unmanaged:ignore", args=[resource.pk]))
    page = logged_in.get(reverse("unmanaged:list")).content.decode()
    assert "Ignored (1)" in page
    assert reverse("unmanaged:restore", args=[resource.pk]) in page
    assert "Everything is managed" in page
    assert "not managed by the panel" not in logged_in.get(reverse("deployments:dashboard")).content.decode()


def test_dashboard_banner_and_key_row_link(logged_in, resource):
    dashboard = logged_in.get(reverse("deployments:dashboard")).content.decode()
    assert "1 resource on your vendor accounts is not managed by the panel" in dashboard
    assert reverse("unmanaged:list") in dashboard
    keys = logged_in.get(reverse("credentials:list")).content.decode()
    assert f"{reverse('unmanaged:list')}?key={resource.account_id}" in keys
    assert "1 not managed by the panel" in keys
