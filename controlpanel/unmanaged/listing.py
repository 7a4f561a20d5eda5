"""Comparing an account's listing with the panel's rows: what the vendor holds that no
deployment of ours knows is recorded as an :class:`UnmanagedResource`.

Called by every account refresh (``deployments.services.refresh.account_refresh``) with
the listing it already read: no extra vendor call. Database only, so it imports no service.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.unmanaged.models import UnmanagedResource
from providers.base import Listing, Remote, RemoteState

logger = logging.getLogger(__name__)

# The vendor says these are gone or going: nothing to adopt, nothing billing for long.
_ENDING = (RemoteState.DELETED, RemoteState.DELETING)
# Rows whose create may be on its way to the vendor with no external id saved yet: a
# listed resource with one of their names is most likely theirs (the submission adopts
# it by name), so it is not called unmanaged.
_IN_FLIGHT = (State.QUEUED, State.SUBMITTING, State.DELETING)


def listing_is_complete(listing: Listing) -> bool:
    """Whether ``listing`` holds every resource of the account: the one place this is
    decided. ``Provider.listing()`` says so itself (false when paging stopped early, at its
    guard or on a page count that never settled); only a complete one records or removes
    anything, since what an incomplete one lacks may still exist."""
    return listing.complete


def _unmanaged(deployments: Iterable[Deployment], remotes: Iterable[Remote]) -> dict[str, Remote]:
    known, in_flight = set(), set()
    for d in deployments:
        if d.state == State.DELETED:
            continue
        if d.external_id:
            known.add(d.external_id)
        elif d.state in _IN_FLIGHT:
            in_flight.add(d.name)
    return {
        r.external_id: r
        for r in remotes
        if r.external_id and r.state not in _ENDING and r.external_id not in known and r.name not in in_flight
    }


def _fields(remote: Remote) -> dict[str, Any]:
    return {
        "name": remote.name[:200],
        "vendor_state": remote.vendor_state[:100],
        "remote_state": remote.state.value,
        "price_per_hour": remote.price_per_hour,
    }


def unmanaged_record_listing(
    *,
    account: ProviderAccount,
    remotes: Iterable[Remote],
    deployments: Iterable[Deployment],
    now: dt.datetime | None = None,
) -> int:
    """Record the resources of ``remotes`` (a complete listing of ``account``) that none
    of ``deployments`` (the account's rows, read before the listing) knows, refresh the
    ones seen before, and drop those the listing no longer has (gone from the vendor, or
    now known: adopted). Returns how many the account has now. Writes only what changed:
    a steady account with nothing unmanaged costs one query."""
    now = now or timezone.now()
    found = _unmanaged(deployments, remotes)
    existing = {r.external_id: r for r in UnmanagedResource.objects.filter(account=account)}
    gone = [r.pk for key, r in existing.items() if key not in found]
    if gone:
        UnmanagedResource.objects.filter(pk__in=gone).delete()
    new = []
    for key, remote in found.items():
        fields = _fields(remote)
        row = existing.get(key)
        if row is None:
            new.append(
                UnmanagedResource(
                    team_id=account.team_id,
                    account=account,
                    vendor=account.vendor,
                    external_id=key[:200],
                    first_seen_at=now,
                    last_seen_at=now,
                    **fields,
                )
            )
        elif any(getattr(row, name) != value for name, value in fields.items()):
            UnmanagedResource.objects.filter(pk=row.pk).update(last_seen_at=now, **fields)
    # ignore_conflicts: a concurrent refresh of the same account (a lease that
    # expired) may have inserted the same resource a moment ago.
    if new:
        UnmanagedResource.objects.bulk_create(new, ignore_conflicts=True)
    if new or gone:
        logger.info(
            "account_id=%s unmanaged resources: %s (%s new, %s gone)", account.pk, len(found), len(new), len(gone)
        )
    if found:  # "last seen" for the unchanged ones, in one statement
        UnmanagedResource.objects.filter(account=account, external_id__in=list(found)).update(last_seen_at=now)
    return len(found)
