"""Every write to vendor keys, and the one place a key is decrypted."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.catalog.tasks import sync_catalog_task
from controlpanel.core.ratelimit import account_limit_key, account_limiter
from controlpanel.credentials import crypto
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.credentials.tasks import verify_account_task, verify_rotation_task
from controlpanel.deployments.selectors import live_deployment_count
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import AuthError, Provider, ProviderError

logger = logging.getLogger(__name__)


def provider_for(account: ProviderAccount, *, timeout: float | None = None, pending: bool = False) -> Provider:
    """Build the adapter for ``account`` with its decrypted key (``pending``: the key a
    rotation is checking). Close it after use. Every call it makes passes the account's
    rate limit, shared by every worker (controlpanel/core/ratelimit.py)."""
    return account.provider_class(
        crypto.decrypt(account.pending_key if pending else account.encrypted_key),
        base_url=account.base_url,
        timeout=timeout or settings.PANEL_HTTP_TIMEOUT,
        limiter=account_limiter(account.vendor),
        limit_key=account_limit_key(vendor=account.vendor, account_id=account.pk),
    )


def _store_key(account: ProviderAccount, api_key: str) -> None:
    account.encrypted_key = crypto.encrypt(api_key)
    account.key_last4 = api_key[-4:]


def _queue_verify(account: ProviderAccount, actor: AbstractBaseUser | None) -> None:
    verify_account_task.delay_on_commit(account.pk, actor.pk if actor is not None else None)


@transaction.atomic
def account_create(
    *,
    team: Team,
    actor: AbstractBaseUser,
    vendor: str,
    label: str,
    api_key: str,
    endpoint: str = EndpointKind.LIVE,
    custom_base_url: str = "",
) -> ProviderAccount:
    require_perm(actor=actor, team=team, perm=Perm.MANAGE_KEYS)
    account = ProviderAccount(
        team=team,
        vendor=vendor,
        label=label.strip(),
        endpoint=endpoint,
        custom_base_url=custom_base_url if endpoint == EndpointKind.CUSTOM else "",
        status=KeyStatus.VERIFYING,
        created_by=actor,
    )
    _store_key(account, api_key.strip())
    account.save()
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.KEY_ADDED,
        target=account,
        summary=f"Added {account.get_vendor_display()} key “{account.label}” ({account.masked_key})",
    )
    _queue_verify(account, actor)
    return account


@transaction.atomic
def account_rename(*, account: ProviderAccount, actor: AbstractBaseUser, label: str) -> ProviderAccount:
    require_perm(actor=actor, team=account.team, perm=Perm.MANAGE_KEYS)
    old, account.label = account.label, label.strip()
    account.save(update_fields=["label", "updated_at"])
    audit_record(
        team=account.team,
        actor=actor,
        action=AuditAction.KEY_RENAMED,
        target=account,
        summary=f"Renamed key “{old}” to “{account.label}”",
    )
    return account


@transaction.atomic
def account_rotate(*, account: ProviderAccount, actor: AbstractBaseUser, api_key: str) -> ProviderAccount:
    """Offer a new key. The old one stays in use until a worker has proven the new one
    with the vendor (``account_verify_rotation``); a refused one never replaces it."""
    require_perm(actor=actor, team=account.team, perm=Perm.MANAGE_KEYS)
    api_key = api_key.strip()
    account.pending_key = crypto.encrypt(api_key)
    account.pending_key_last4 = api_key[-4:]
    account.rotation_message = ""
    account.save(update_fields=["pending_key", "pending_key_last4", "rotation_message", "updated_at"])
    verify_rotation_task.delay_on_commit(account.pk, actor.pk)
    return account


def _rotation_outcome(account: ProviderAccount) -> tuple[str, str, Any, Any]:
    """Ask the vendor about the candidate key: (status, message, info, metadata)."""
    try:
        with provider_for(account, pending=True) as provider:
            info = provider.verify()
            metadata = provider.account_metadata()
        return KeyStatus.OK, info.summary, info, metadata
    except AuthError as exc:
        vendor = account.get_vendor_display()
        return (
            KeyStatus.INVALID,
            f"{vendor} refused the new key: {exc.message.rstrip('. ')}; the old key is still in use.",
            None,
            None,
        )
    except ProviderError as exc:
        vendor = account.get_vendor_display()
        message = f"Could not check the new key with {vendor}: {exc.message.rstrip('. ')}; the old key is still in use. Try again."
        return KeyStatus.ERROR, message, None, None
    except crypto.DecryptionError as exc:
        return KeyStatus.ERROR, f"{exc}; the old key is still in use.", None, None


def account_verify_rotation(*, account_id: int, actor_id: int | None = None) -> ProviderAccount | None:
    """Worker side of "rotate": prove the candidate key with the vendor, then swap it in.

    The vendor is called with no lock held; the swap re-reads the row and happens only if
    the candidate is still the one checked (a second rotation meanwhile wins)."""
    account = ProviderAccount.objects.select_related("team").filter(pk=account_id).first()
    if account is None or not account.pending_key:
        return account
    candidate = account.pending_key
    status, message, info, metadata = _rotation_outcome(account)
    logger.info("rotation checked account_id=%s vendor=%s status=%s", account.pk, account.vendor, status)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().filter(pk=account.pk, pending_key=candidate).first()
        if locked is None:
            return ProviderAccount.objects.filter(pk=account.pk).first()  # deleted, or a newer candidate
        old_mask, new_last4 = locked.masked_key, locked.pending_key_last4
        values: dict[str, Any] = {"pending_key": "", "pending_key_last4": "", "updated_at": timezone.now()}
        if status == KeyStatus.OK:
            values.update(
                encrypted_key=candidate,
                key_last4=new_last4,
                status=KeyStatus.OK,
                status_message=message[:500],
                rotation_message="",
                verified_at=timezone.now(),
                metadata=metadata,
            )
            if info.balance is not None:
                values.update(balance=info.balance, balance_currency=info.currency, balance_checked_at=timezone.now())
            vendor = locked.get_vendor_display()
            summary = f"Rotated key “{locked.label}” from {old_mask} to ••••{new_last4} once {vendor} accepted it"
            audit_action = AuditAction.KEY_ROTATED
        else:
            values["rotation_message"] = message[:500]
            summary = f"New key ••••{new_last4} for “{locked.label}” not used: {message}"
            audit_action = AuditAction.KEY_VERIFIED
        ProviderAccount.objects.filter(pk=locked.pk).update(**values)
        audit_record(
            team=locked.team,
            actor=actor,
            action=audit_action,
            target=locked,
            summary=summary[:2000],
            data={"status": status, "rotation": True},
        )
        if status == KeyStatus.OK:
            sync_catalog_task.delay_on_commit(locked.pk)
    account.refresh_from_db()
    return account


@transaction.atomic
def account_request_verify(*, account: ProviderAccount, actor: AbstractBaseUser) -> ProviderAccount:
    require_perm(actor=actor, team=account.team, perm=Perm.MANAGE_KEYS)
    account.status = KeyStatus.VERIFYING
    account.save(update_fields=["status", "updated_at"])
    _queue_verify(account, actor)
    return account


@transaction.atomic
def account_delete(*, account: ProviderAccount, actor: AbstractBaseUser) -> None:
    require_perm(actor=actor, team=account.team, perm=Perm.MANAGE_KEYS)
    live = live_deployment_count(account=account)
    if live:
        noun = "deployment still uses" if live == 1 else "deployments still use"
        raise ValidationError(f"{live} {noun} this key. Delete them first, or rotate the key instead.")
    audit_record(
        team=account.team,
        actor=actor,
        action=AuditAction.KEY_DELETED,
        target=account,
        summary=f"Deleted {account.get_vendor_display()} key “{account.label}” ({account.masked_key})",
    )
    account.delete()


def account_verify(*, account_id: int, actor_id: int | None = None) -> ProviderAccount | None:
    """Worker side of "verify": one cheap authenticated call, its answer on the account."""
    account = ProviderAccount.objects.select_related("team").filter(pk=account_id).first()
    if account is None:
        return None
    try:
        with provider_for(account) as provider:
            info = provider.verify()
            metadata = provider.account_metadata()
        status, message = KeyStatus.OK, info.summary
    except AuthError as exc:
        status, message = KeyStatus.INVALID, f"{account.get_vendor_display()} refused the key: {exc.message}"
    except ProviderError as exc:
        status, message = KeyStatus.ERROR, f"Could not check the key: {exc.message}"
    except crypto.DecryptionError as exc:
        status, message = KeyStatus.ERROR, str(exc)
    logger.info("verified account_id=%s vendor=%s status=%s", account.pk, account.vendor, status)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        values = {
            "status": status,
            "status_message": message[:500],
            "verified_at": timezone.now(),
            "updated_at": timezone.now(),
        }
        if status == KeyStatus.OK:
            values["metadata"] = metadata
            if info.balance is not None:
                values.update(balance=info.balance, balance_currency=info.currency, balance_checked_at=timezone.now())
        ProviderAccount.objects.filter(pk=account.pk).update(**values)
        audit_record(
            team=account.team,
            actor=actor,
            action=AuditAction.KEY_VERIFIED,
            target=account,
            summary=f"Verified “{account.label}”: {message}"[:2000],
            data={"status": status},
        )
    account.refresh_from_db()
    if status == KeyStatus.OK:
        sync_catalog_task.delay_on_commit(account.pk)  # a key that works brings its catalog with it
    return account


def key_refused_message(*, account: ProviderAccount, words: str) -> str:
    """What a deployment says when the vendor refused its key: who refused which key, in
    the vendor's words, and the way out (no field is wrong, so never "fix the fields")."""
    return f"{account.get_vendor_display()} refused the key “{account.label}”: {words.rstrip('. ')}. Rotate it on the keys page."


def account_mark_refused(*, account: ProviderAccount, message: str) -> None:
    """A vendor call with this key got 401/403: show it on the keys page and dashboard,
    and tell the team's channels the first time (not on every poll that meets it again)."""
    rows = ProviderAccount.objects.filter(pk=account.pk)
    newly = rows.exclude(status=KeyStatus.INVALID).update(
        status=KeyStatus.INVALID, status_message=message[:500], updated_at=timezone.now()
    )
    if not newly:
        rows.update(status_message=message[:500])
        return
    from controlpanel.notifications.models import NotificationKind  # notifications builds on credentials
    from controlpanel.notifications.services import notification_publish

    notification_publish(
        team=account.team,
        kind=NotificationKind.KEY_REFUSED,
        subject=f"{account.get_vendor_display()} refused the key “{account.label}”",
        body=f"{message}\nRotate or replace it on {settings.PANEL_BASE_URL}/keys/",
        data={"key": {"id": account.pk, "label": account.label, "vendor": account.vendor}},
    )
