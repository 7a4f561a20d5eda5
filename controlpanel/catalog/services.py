"""Keeping each account's catalog (and balance) in step with its vendor."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlpanel.catalog.models import Offer
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.credentials.services import account_mark_refused, provider_for
from providers.base import AuthError, ProviderError, Unsupported

logger = logging.getLogger(__name__)


def catalog_sync(*, account_id: int) -> int:
    """Replace the account's offers with what the vendor lists now; also note its balance.

    A failed sync keeps the previous offers: a stale price list beats none, and the
    Prices page says when each was synced.
    """
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None or account.status == KeyStatus.INVALID:
        return 0
    try:
        with provider_for(account) as provider:
            offers = provider.catalog()
            try:
                info = provider.verify()
            except Unsupported:
                info = None
    except AuthError as exc:
        account_mark_refused(account=account, message=f"{account.get_vendor_display()} refused the key: {exc.message}")
        return 0
    except (ProviderError, DecryptionError) as exc:
        logger.warning("catalog sync failed account_id=%s vendor=%s: %s", account.pk, account.vendor, exc)
        ProviderAccount.objects.filter(pk=account.pk).update(catalog_error=str(exc)[:500])
        return 0
    now = timezone.now()
    with transaction.atomic():
        kept = []
        for offer in offers:
            row, _ = Offer.objects.update_or_create(
                account=account,
                kind=offer.kind,
                sku=offer.sku,
                location=offer.location,
                defaults={
                    "vendor": account.vendor,
                    "name": offer.name[:200],
                    "gpu_model": offer.gpu_model[:100],
                    "gpu_count": offer.gpu_count,
                    "gpu_memory_gb": offer.gpu_memory_gb,
                    "price_per_hour": offer.price_per_hour,
                    "available": offer.available,
                    "extra": offer.extra,
                    "raw": offer.raw,
                    "synced_at": now,
                },
            )
            kept.append(row.pk)
        Offer.objects.filter(account=account).exclude(pk__in=kept).delete()
        values = {"catalog_synced_at": now, "catalog_error": ""}
        if info is not None and info.balance is not None:
            values.update(balance=info.balance, balance_currency=info.currency, balance_checked_at=now)
        ProviderAccount.objects.filter(pk=account.pk).update(**values)
    logger.info("catalog synced account_id=%s vendor=%s offers=%s", account.pk, account.vendor, len(kept))
    return len(kept)


def accounts_claim_catalog_sync(*, now: dt.datetime | None = None) -> list[int]:
    """Accounts whose catalog was never synced or is older than the interval, each
    claimed once (the claim moves its due time on), so a sweep every few seconds
    hands each sync out exactly once."""
    now = now or timezone.now()
    due = Q(catalog_due_at__isnull=True) | Q(catalog_due_at__lte=now)
    next_due = now + dt.timedelta(seconds=settings.PANEL_CATALOG_SYNC_SECONDS)
    claimed = []
    for pk in list(ProviderAccount.objects.filter(due).exclude(status=KeyStatus.INVALID).values_list("pk", flat=True)):
        if ProviderAccount.objects.filter(due, pk=pk).update(catalog_due_at=next_due):
            claimed.append(pk)
    return claimed
