from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from controlpanel.core.queueing import send_or_note, watch_enqueues
from controlpanel.deployments.tasks import fetch_logs_task


def _refusing(task):
    return mock.patch.object(task, "apply_async", side_effect=OperationalError("Connection refused"))


@pytest.mark.django_db(transaction=True)
def test_delay_on_commit_with_the_broker_down_commits_and_does_not_raise(caplog):
    from controlpanel.teams.models import Team

    # The atomic block is innermost: it commits (and runs the callback) inside the watch.
    with (
        _refusing(fetch_logs_task) as refused,
        watch_enqueues() as watch,
        caplog.at_level(logging.WARNING),
        transaction.atomic(),
    ):
        Team.objects.create(name="Kept")
        fetch_logs_task.delay_on_commit(7)
    assert refused.call_count == 1
    assert watch.failed == ["controlpanel.deployments.tasks.fetch_logs_task"]
    assert Team.objects.filter(name="Kept").count() == 1
    assert "task=controlpanel.deployments.tasks.fetch_logs_task args=(7,) not queued" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_apply_async_on_commit_with_the_broker_down_does_not_raise():
    with _refusing(fetch_logs_task) as refused, watch_enqueues() as watch, transaction.atomic():
        fetch_logs_task.apply_async_on_commit((8,), countdown=5)
    assert refused.call_args == mock.call((8,), {}, countdown=5)
    assert watch.failed == ["controlpanel.deployments.tasks.fetch_logs_task"]


def test_send_or_note_queues_when_the_broker_takes_it():
    with mock.patch.object(fetch_logs_task, "apply_async") as sent, watch_enqueues() as watch:
        assert send_or_note(fetch_logs_task, (9,), {}) is True
    assert sent.call_count == 1
    assert watch.failed == []


def test_send_or_note_outside_a_watch_only_logs(caplog):
    with _refusing(fetch_logs_task), caplog.at_level(logging.WARNING):
        assert send_or_note(fetch_logs_task, (10,), {}) is False
    assert "broker unreachable (OperationalError" in caplog.text


def test_an_error_that_is_not_the_brokers_still_raises():
    bug = mock.patch.object(fetch_logs_task, "apply_async", side_effect=ValueError("a bug"))
    with bug, pytest.raises(ValueError, match="a bug"):
        send_or_note(fetch_logs_task, (11,), {})
