from __future__ import annotations

from celery import shared_task


@shared_task(name="controlpanel.catalog.tasks.sync_catalog_task")
def sync_catalog_task(account_id: int) -> None:
    # At call time: credentials.services queues this task and catalog.services imports it (a cycle).
    from controlpanel.catalog.services import catalog_sync

    catalog_sync(account_id=account_id)
