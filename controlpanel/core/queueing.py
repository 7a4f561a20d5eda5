"""Queueing a task after commit never raises to the person who clicked.

The row is committed first, so it is the record of what was asked: when the broker
refuses the message (Redis down, the broker folder unwritable), raising would only
answer "error" for something already saved and invite a second submit. Instead the
failure is logged, noted for the view that asked (``watch_enqueues``), and left to
the beat sweeps, which find the row and send it again (``deployments_requeue_stale``
for submissions).

The Celery app uses ``PanelTask`` for every task, so ``task.delay_on_commit(...)``
everywhere behaves like this.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# kombu.exceptions.OperationalError (what Celery raises for a broker it cannot reach) is a
# KombuError; a socket or file error that escapes kombu's wrapping is an OSError.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError)


@dataclass
class EnqueueWatch:
    """What could not be queued while the watch was open (task names, in order)."""

    failed: list[str] = field(default_factory=list)


_current: ContextVar[EnqueueWatch | None] = ContextVar("panel_enqueue_watch", default=None)


@contextmanager
def watch_enqueues() -> Iterator[EnqueueWatch]:
    """Around a service call in a view: afterwards, ``watch.failed`` names what the broker refused."""
    watch = EnqueueWatch()
    token = _current.set(watch)
    try:
        yield watch
    finally:
        _current.reset(token)


def send_or_note(
    task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any] | None = None
) -> bool:
    """Queue ``task`` now; on a broker error log it, note it and return False.

    Once the broker has refused within a watch (one request), later sends in it are
    noted without trying again: a bulk action does not wait on a dead broker per row.
    """
    watch = _current.get()
    if watch is not None and watch.failed:
        logger.warning("task=%s args=%s not queued: the broker refused earlier in this request", task.name, args)
        watch.failed.append(task.name)
        return False
    try:
        if options:
            task.apply_async(args, kwargs, **options)
        else:
            task.delay(*args, **kwargs)
    except BROKER_ERRORS as exc:
        logger.warning(
            "task=%s args=%s not queued: broker unreachable (%s: %s); the saved row stays, a sweep re-sends it",
            task.name,
            args,
            type(exc).__name__,
            exc,
        )
        if watch is not None:
            watch.failed.append(task.name)
        return False
    return True


class PanelTask(DjangoTask):
    """``delay_on_commit`` that logs a broker error instead of raising it after the commit."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        transaction.on_commit(functools.partial(send_or_note, self, args, kwargs))

    def apply_async_on_commit(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **options: Any
    ) -> None:
        transaction.on_commit(functools.partial(send_or_note, self, tuple(args or ()), dict(kwargs or {}), options))
