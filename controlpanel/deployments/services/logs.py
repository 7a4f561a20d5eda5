"""The deployment page's logs card: a fetch a worker makes, never the view."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from controlpanel.credentials.services import provider_for
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.services.transitions import MAX_MESSAGE
from controlpanel.deployments.tasks import fetch_logs_task
from providers.base import (
    Action,
    ProviderError,
    Unsupported,
)

logger = logging.getLogger(__name__)

LOG_LINES_KEPT = 500
EVENTS_KEPT = 200
LOG_REFETCH = dt.timedelta(seconds=2)


def deployment_request_logs(*, deployment: Deployment) -> LogSnapshot:
    """Make sure a fresh fetch is on its way; return what we have now."""
    snapshot, _ = LogSnapshot.objects.get_or_create(deployment=deployment)
    now = timezone.now()
    if deployment.is_deleted:
        return snapshot  # gone at the vendor: what was fetched last stays, nothing more comes
    if deployment.external_id and (snapshot.requested_at is None or now - snapshot.requested_at > LOG_REFETCH):
        LogSnapshot.objects.filter(pk=snapshot.pk).update(requested_at=now)
        fetch_logs_task.delay_on_commit(deployment.pk)
    return snapshot


def _vendor_events(provider: Any, deployment: Deployment) -> dict[str, Any]:
    """The vendor's own history (Nosana's events and job changes) for the logs card.
    Its failure keeps the events shown last time and does not cost the logs."""
    try:
        events = provider.events(deployment.external_id)
    except ProviderError as exc:
        logger.info("deployment_id=%s vendor events unavailable: %s", deployment.pk, exc.message)
        return {}
    return {"events": _event_rows(events)}


def _revisions(provider: Any, deployment: Deployment) -> dict[str, Any]:
    """The vendor's revision history (Together's), for the page's Roll back."""
    try:
        return {"revisions": provider.revisions(deployment.external_id)}
    except ProviderError as exc:
        logger.info("deployment_id=%s revisions unavailable: %s", deployment.pk, exc.message)
        return {}


def _event_rows(events: list[Any]) -> list[dict[str, str]]:
    return [
        {"message": e.message[:MAX_MESSAGE], "at": e.at.isoformat() if e.at else "", "kind": e.kind}
        for e in events[-EVENTS_KEPT:]
    ]


def deployment_fetch_logs(*, deployment_id: int) -> None:
    """Fetch the vendor's log lines and, where it keeps one, its event history (Nosana's
    jobs, Replicate's recent predictions) for the deployment page."""
    deployment = Deployment.objects.select_related("account").filter(pk=deployment_id).first()
    if deployment is None or deployment.account is None or not deployment.external_id:
        return
    actions = deployment.account.provider_class.actions
    values: dict[str, Any] = {"error": "", "fetched_at": timezone.now()}
    try:
        with provider_for(deployment.account) as provider:
            if Action.LOGS in actions:
                values["lines"] = provider.logs(deployment.external_id).lines[-LOG_LINES_KEPT:]
                if Action.EVENTS in actions:
                    values.update(_vendor_events(provider, deployment))  # extra: its failure keeps the logs
            elif Action.EVENTS in actions:
                values["events"] = _event_rows(provider.events(deployment.external_id))  # the only source: errors show
            else:
                raise Unsupported("no logs")
            if deployment.account.provider_class.rolls_back:
                values.update(_revisions(provider, deployment))  # extra too: its failure keeps the logs
    except Unsupported:
        values["error"] = f"{deployment.get_vendor_display()} offers no logs for this deployment."
    except ProviderError as exc:
        values["error"] = exc.message[:500]
    LogSnapshot.objects.update_or_create(deployment=deployment, defaults=values)
