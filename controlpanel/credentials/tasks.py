from __future__ import annotations

from celery import shared_task


@shared_task(name="controlpanel.credentials.tasks.verify_account_task")
def verify_account_task(account_id: int, actor_id: int | None = None) -> None:
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.credentials.services import account_verify

    account_verify(account_id=account_id, actor_id=actor_id)


@shared_task(name="controlpanel.credentials.tasks.verify_rotation_task")
def verify_rotation_task(account_id: int, actor_id: int | None = None) -> None:
    from controlpanel.credentials.services import account_verify_rotation

    account_verify_rotation(account_id=account_id, actor_id=actor_id)
