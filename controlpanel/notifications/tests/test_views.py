from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.notifications import services
from controlpanel.notifications.models import Channel, DeliveryAttempt, Notification
from controlpanel.teams.permissions import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    from controlpanel.notifications import tasks

    monkeypatch.setattr(tasks.deliver_notification_task, "delay_on_commit", lambda pk: None)


def add(client, **data):
    post = {"kind": "webhook", "name": "Ops hook", "target": "https://hooks.example.com/panel", "events": ["state"]}
    return client.post(reverse("notifications:add"), {**post, **data})


def test_a_webhook_secret_is_shown_once(logged_in, team):
    response = add(logged_in)
    assert response.status_code == 200
    channel = Channel.objects.get(team=team)
    secret = response.context["secret"]
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()
    assert secret not in logged_in.get(reverse("notifications:list")).content.decode()
    assert secret not in logged_in.get(reverse("notifications:detail", args=[channel.pk])).content.decode()
    entry = AuditEntry.objects.get(team=team, action=AuditAction.CHANNEL_ADDED)
    assert "Ops hook" in entry.summary
    assert secret not in str(entry.data)


def test_an_email_channel_opens_its_page(logged_in, team):
    response = add(logged_in, kind="email", target="ops@example.com,  oncall@example.com")
    channel = Channel.objects.get(team=team)
    assert response["Location"] == reverse("notifications:detail", args=[channel.pk])
    assert channel.target_hint == "ops@example.com, oncall@example.com"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target": "ftp://x"}, "target", "Give a full URL"),
        ({"kind": "slack", "target": "https://example.com/x"}, "target", "https://hooks.slack.com/"),
        ({"kind": "email", "target": "ops@, x"}, "target", "is not an email address"),
        ({"kind": "email", "target": ",".join(f"a{i}@example.com" for i in range(11))}, "target", "between one and"),
        ({"events": []}, "events", "Pick at least one"),
        ({"name": "   "}, "name", "This field is required"),
        ({"kind": "pigeon"}, "kind", "Select a valid choice"),
    ],
)
def test_bad_input_is_said_on_its_field(logged_in, team, data, field, message):
    response = add(logged_in, **data)
    assert response.status_code == 422
    assert any(message in e for e in response.context["form"].errors[field])
    assert not Channel.objects.exists()


def test_a_second_channel_of_the_same_name_is_refused_on_the_name(logged_in, team):
    add(logged_in)
    response = add(logged_in)
    assert response.status_code == 422
    assert "already has a channel with that name" in response.context["form"].errors["name"][0]


def test_a_viewer_sees_channels_but_cannot_change_them(client, team, make_member, owner):
    channel, _ = services.channel_create(
        team=team, actor=owner, kind="email", name="ops", target="ops@example.com", events=["state"]
    )
    client.force_login(make_member(Role.VIEWER, username="vera"))
    page = client.get(reverse("notifications:list")).content.decode()
    assert "ops" in page
    assert "Add a channel" not in page
    assert add(client).status_code == 403
    assert client.post(reverse("notifications:test", args=[channel.pk])).status_code == 403
    assert client.post(reverse("notifications:delete", args=[channel.pk]), {"confirm": "ops"}).status_code == 403


def test_another_teams_channel_is_not_found(logged_in, other_team):
    theirs = Channel.objects.create(
        team=other_team["team"], kind="email", name="x", target_encrypted="x", target_hint="x", events=["state"]
    )
    assert logged_in.get(reverse("notifications:detail", args=[theirs.pk])).status_code == 404
    assert logged_in.post(reverse("notifications:delete", args=[theirs.pk]), {"confirm": "x"}).status_code == 404


def test_delete_asks_for_the_name(logged_in, team, owner):
    channel, _ = services.channel_create(
        team=team, actor=owner, kind="email", name="ops", target="ops@example.com", events=["state"]
    )
    logged_in.post(reverse("notifications:delete", args=[channel.pk]), {"confirm": "nope"})
    assert Channel.objects.filter(pk=channel.pk).exists()
    logged_in.post(reverse("notifications:delete", args=[channel.pk]), {"confirm": "ops"})
    assert not Channel.objects.filter(pk=channel.pk).exists()
    assert AuditEntry.objects.filter(team=team, action=AuditAction.CHANNEL_DELETED).exists()


def test_the_delivery_log_shows_each_try_and_its_answer(logged_in, team, owner):
    channel, _ = services.channel_create(
        team=team, actor=owner, kind="email", name="ops", target="ops@example.com", events=["state"]
    )
    delivery = services.channel_send_test(channel=channel, actor=owner)
    DeliveryAttempt.objects.create(delivery=delivery, ok=False, status_code=502, response="<b>bad gateway</b>")
    page = logged_in.get(reverse("notifications:detail", args=[channel.pk])).content.decode()
    assert "Test message from the GPU control panel" in page
    assert "502" in page
    assert "&lt;b&gt;bad gateway&lt;/b&gt;" in page
    assert Notification.objects.get().data == {"test": True}


def test_switching_a_failing_channel_on_again(logged_in, team, owner):
    from django.utils import timezone

    channel, _ = services.channel_create(
        team=team, actor=owner, kind="email", name="ops", target="ops@example.com", events=["state"]
    )
    Channel.objects.filter(pk=channel.pk).update(failing_since=timezone.now(), consecutive_failures=10)
    page = logged_in.get(reverse("notifications:detail", args=[channel.pk])).content.decode()
    assert "marked failing" in page
    logged_in.post(reverse("notifications:settings", args=[channel.pk]), {"events": ["state"], "enabled": "on"})
    channel.refresh_from_db()
    assert not channel.is_failing
    assert channel.consecutive_failures == 0
