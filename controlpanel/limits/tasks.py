from __future__ import annotations

from celery import shared_task

from controlpanel.limits import services


@shared_task(name="controlpanel.limits.tasks.limits_sweep_task")
def limits_sweep_task() -> None:
    services.limits_sweep()
