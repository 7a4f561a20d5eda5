"""Idempotency keys beyond the create form's: the REST API's ``Idempotency-Key`` header.

Creates go through ``deployment_create(idempotency_key=...)`` exactly as the form's hidden
token does (``submission._idempotency_claim``). Actions (stop, scale, delete...) claim a key
in the same table, with the same unique (team, key) constraint as the lock, inside the
transaction that records the action; the first answer is stored with the key, and a retry
with the key gets that answer back instead of asking the vendor a second time.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel.deployments.models import Deployment, IdempotencyKey
from controlpanel.deployments.services.submission import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_TTL
from controlpanel.teams.models import Team


def idempotency_action_claim(*, team: Team, key: str, deployment: Deployment, action: str) -> IdempotencyKey | None:
    """Take ``key`` for ``action`` on ``deployment``, or return the earlier request's row.

    Call inside the transaction that records the action: if the action is refused, the
    claim is undone with it, and a retry is judged afresh. A row without a stored answer
    is a request still under way (or a create's key): refused, never run twice.
    """
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError(f"An idempotency key is at most {IDEMPOTENCY_KEY_MAX} characters.")
    now = timezone.now()
    IdempotencyKey.objects.filter(team=team, created_at__lt=now - IDEMPOTENCY_TTL).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(team=team, key=key, deployment=deployment, action=action, created_at=now)
    except IntegrityError:
        earlier = IdempotencyKey.objects.filter(team=team, key=key).first()
        if earlier is None or earlier.response is None:
            raise ValidationError(
                "A request with this idempotency key is still under way, or was not an action."
            ) from None
        return earlier
    return None


def idempotency_earlier(*, team: Team, key: str) -> IdempotencyKey | None:
    """The row an earlier request with ``key`` left, if any (a create's or an action's)."""
    if not key:
        return None
    return IdempotencyKey.objects.select_related("deployment").filter(team=team, key=key).first()


def idempotency_remember(*, team: Team, key: str, response: dict[str, Any]) -> None:
    """Keep the first answer to the request that carried ``key``, for its retries."""
    IdempotencyKey.objects.filter(team=team, key=key).update(response=response)
