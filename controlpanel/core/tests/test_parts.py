from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.core.heartbeat import beat
from controlpanel.core.models import Heartbeat
from controlpanel.core.parts import for_people, parts_status
from controlpanel.deployments.states import State
from tests.factories import DeploymentFactory

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.PANEL_PARTS_CACHE_SECONDS = 0


def _seen(kind: str, seconds_ago: float) -> None:
    Heartbeat.objects.update_or_create(
        kind=kind, hostname="h1", defaults={"seen_at": timezone.now() - dt.timedelta(seconds=seconds_ago)}
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (130, "2 minutes"),
        (7200, "2 hours"),
        (3 * 86400, "3 days"),
    ],
)
def test_for_people_says_a_silence_in_words(seconds, words):
    assert for_people(seconds) == words


def test_parts_status_ok_when_worker_and_beat_report(db):
    beat("worker", "w1")
    beat("beat", "w1")
    status = parts_status()
    assert not status.worker_down
    assert not status.beat_down
    assert status.message == ""


def test_parts_status_names_a_quiet_worker_in_minutes(db):
    _seen("worker", 130)
    _seen("beat", 130)
    status = parts_status()
    assert status.worker_down
    assert status.message == (
        "The worker has not been seen for 2 minutes: new deployments and actions wait until it is back."
    )


def test_parts_status_names_a_quiet_beat_when_the_worker_runs(db, settings):
    settings.PANEL_SWEEP_SECONDS = 2
    beat("worker", "w1")
    _seen("beat", 600)
    status = parts_status()
    assert not status.worker_down
    assert status.beat_down
    assert status.message.startswith("The scheduler (beat) has not run for 10 minutes")


def test_parts_status_reads_the_heartbeats_once_per_cache_interval(db, settings, django_assert_num_queries):
    from django.core.cache import cache

    from controlpanel.core.parts import _cache_key

    settings.PANEL_PARTS_CACHE_SECONDS = 30
    cache.delete(_cache_key())
    _seen("worker", 130)
    with django_assert_num_queries(1):
        first = parts_status()
        second = parts_status()
    assert first.worker_down
    assert second.worker_down
    cache.delete(_cache_key())


def test_every_logged_in_page_shows_the_worker_banner(logged_in, account):
    _seen("worker", 130)
    for url in (reverse("deployments:dashboard"), reverse("credentials:list"), reverse("teams:detail")):
        content = logged_in.get(url).content.decode()
        assert 'id="parts-message"' in content, url
        assert "The worker has not been seen for 2 minutes" in content


def test_no_banner_while_worker_and_beat_run(logged_in, account):
    beat("worker", "w1")
    beat("beat", "w1")
    content = logged_in.get(reverse("deployments:dashboard")).content.decode()
    assert 'id="parts-banner"' in content  # the slot stays, polling
    assert 'id="parts-message"' not in content


def test_no_banner_before_login(client, db):
    content = client.get(reverse("login")).content.decode()
    assert 'id="parts-banner"' not in content
    assert "worker" not in content


def test_dashboard_row_says_queued_work_waits_for_the_worker(logged_in, account):
    _seen("worker", 130)
    DeploymentFactory(account=account, name="waiting", state=State.QUEUED)
    DeploymentFactory(account=account, name="stopping", state=State.RUNNING, pending_action="stop")
    DeploymentFactory(account=account, name="fine", state=State.RUNNING)
    fragment = logged_in.get(reverse("deployments:dashboard"), **HX).content.decode()
    assert "<html" not in fragment
    assert fragment.count("waits-for-worker") == 2
    assert "Stop waits for the worker" in fragment
    assert ">Waits for the worker<" in fragment


def test_dashboard_row_has_no_hint_while_the_worker_runs(logged_in, account):
    beat("worker", "w1")
    DeploymentFactory(account=account, name="waiting", state=State.QUEUED)
    fragment = logged_in.get(reverse("deployments:dashboard"), **HX).content.decode()
    assert "waits-for-worker" not in fragment


def test_deployment_page_says_queued_work_waits_for_the_worker(logged_in, account):
    _seen("worker", 130)
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    fragment = logged_in.get(reverse("deployments:detail", args=[deployment.pk]), {"part": "live"}, **HX)
    content = fragment.content.decode()
    assert "<html" not in content
    assert "Queued: it waits for the worker, which has not been seen for 2 minutes." in content
    assert "Nothing is sent to Together AI until it is back." in content


def test_deployment_page_says_a_requested_action_waits_for_the_worker(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="x1", pending_action="stop")
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'id="waits-for-worker"' in content
    assert "Stop requested: it waits for the worker, which has not reported yet." in content
    beat("worker", "w1")
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'id="waits-for-worker"' not in content


def test_dashboard_poll_answers_when_the_worker_goes_quiet_though_no_row_changed(logged_in, team, account):
    from controlpanel.core.parts import live_version
    from controlpanel.deployments.selectors import dashboard_version

    _seen("worker", 0)
    DeploymentFactory(account=account, name="waiting", state=State.QUEUED)
    url = reverse("deployments:dashboard")
    version = live_version(dashboard_version(team=team))
    assert logged_in.get(url, {"v": version}, **HX).status_code == 204
    _seen("worker", 130)
    response = logged_in.get(url, {"v": version}, **HX)
    assert response.status_code == 200
    assert "Waits for the worker" in response.content.decode()


def test_deployment_page_poll_answers_when_the_worker_goes_quiet(logged_in, account):
    from controlpanel.core.parts import live_version

    _seen("worker", 0)
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    url = reverse("deployments:detail", args=[deployment.pk])
    version = live_version(f"{deployment.updated_at.timestamp():.6f}")
    assert logged_in.get(url, {"part": "live", "v": version}, **HX).status_code == 204
    _seen("worker", 130)
    response = logged_in.get(url, {"part": "live", "v": version}, **HX)
    assert response.status_code == 200
    assert 'id="waits-for-worker"' in response.content.decode()


def test_banner_poll_is_204_while_unchanged_and_the_banner_once_the_worker_stops(logged_in):
    _seen("worker", 0)
    _seen("beat", 0)
    url = reverse("parts-banner")
    assert logged_in.get(url, {"k": "ok"}, **HX).status_code == 204
    _seen("worker", 130)
    response = logged_in.get(url, {"k": "ok"}, **HX)
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert "The worker has not been seen for 2 minutes" in content
    assert "k=worker" in content  # the next poll asks about this state
    assert logged_in.get(url, {"k": "worker"}, **HX).status_code == 204
    _seen("worker", 0)
    back = logged_in.get(url, {"k": "worker"}, **HX).content.decode()
    assert 'id="parts-message"' not in back
    assert "k=ok" in back


def test_parts_status_with_the_cache_down_reads_the_database(db, settings):
    settings.PANEL_PARTS_CACHE_SECONDS = 30
    _seen("worker", 130)
    down = ConnectionError("Error 111 connecting to redis")
    with (
        mock.patch("controlpanel.core.parts.cache.get", side_effect=down),
        mock.patch("controlpanel.core.parts.cache.set", side_effect=down),
    ):
        status = parts_status()
    assert status.worker_down
    assert status.message.startswith("The worker has not been seen for 2 minutes")
