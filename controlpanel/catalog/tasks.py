from __future__ import annotations

from celery import shared_task


@shared_task(name="controlpanel.catalog.tasks.sync_catalogs_task")
def sync_catalogs_task() -> None:
    """Beat: refresh every usable account's catalog, one task each."""
    from controlpanel.catalog.services import accounts_due_catalog_sync

    for account_id in accounts_due_catalog_sync():
        sync_catalog_task.delay(account_id)


@shared_task(name="controlpanel.catalog.tasks.sync_catalog_task")
def sync_catalog_task(account_id: int) -> None:
    from controlpanel.catalog.services import catalog_sync

    catalog_sync(account_id=account_id)
