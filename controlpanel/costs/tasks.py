from __future__ import annotations

from celery import shared_task

from controlpanel.costs import services


@shared_task(name="controlpanel.costs.tasks.costs_sweep_task")
def costs_sweep_task() -> None:
    services.costs_sweep()
