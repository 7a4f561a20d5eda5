"""Notification tasks: an id in, a service call; retries are scheduled by the service."""

from __future__ import annotations

from celery import shared_task

from controlpanel.notifications import services


@shared_task(name="controlpanel.notifications.tasks.deliver_notification_task")
def deliver_notification_task(delivery_id: int) -> None:
    services.delivery_send(delivery_id=delivery_id)


@shared_task(name="controlpanel.notifications.tasks.notifications_sweep_task")
def notifications_sweep_task() -> None:
    services.notifications_sweep()
