"""Replicate's JSON in the panel's words: a deployment (with its recent predictions)
as a :class:`Remote`, a prediction as a timeline event, a ``/hardware`` row as an
:class:`Offer` and ``/account`` as :class:`AccountInfo`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from providers.base import AccountInfo, Endpoint, Offer, Remote, VendorEvent, parse_time
from providers.replicate.prices import HARDWARE_PRICES, PRICES_SOURCE, hourly_rate
from providers.replicate.statuses import (
    DERIVED,
    billed_instances,
    configuration,
    created,
    derive_status,
    remote_state,
)

RAW_PREDICTIONS = 20  # how many of a deployment's recent predictions are kept in ``raw``


def external_id_of(item: Mapping[str, Any]) -> str:
    """A deployment's id here: ``owner/name``, the path of its URL [V]."""
    return f"{item.get('owner')}/{item.get('name')}"


def _connection(release: Mapping[str, Any], url: str) -> dict[str, str]:
    connection: dict[str, str] = {}
    if release.get("model") and release.get("version"):
        connection["Model version"] = f"{release['model']}:{release['version']}"
    if url:
        connection["Run a prediction"] = (
            f'curl -s -X POST -H "Authorization: Bearer $REPLICATE_API_TOKEN" -H "Content-Type: application/json" '
            f"-d '{{\"input\": {{}}}}' {url}"
        )
    return connection


def to_remote(
    item: dict[str, Any],
    predictions: Sequence[Mapping[str, Any]] | None,
    *,
    predictions_url: str,
    now: dt.datetime,
) -> Remote:
    """``item`` as Replicate sent it; ``predictions`` its recent ones (``None``: they could
    not be read); ``predictions_url`` where it takes new ones (``""`` when unknown)."""
    owner, name = str(item.get("owner") or ""), str(item.get("name") or "")
    release = item.get("current_release") or {}
    status, why = derive_status(item, predictions or [], now=now)
    message = DERIVED + why
    if predictions is None:
        message += " (recent predictions could not be read)"
    rate = hourly_rate(configuration(item)["hardware"])
    recent = sorted(predictions or [], key=created, reverse=True)[:RAW_PREDICTIONS]
    return Remote(
        external_id=f"{owner}/{name}",
        name=name,
        state=remote_state(status, item),
        vendor_state=status,
        message=message,
        endpoints=[Endpoint(url=predictions_url, protocol="https", label="Predictions (POST)")]
        if predictions_url
        else [],
        price_per_hour=rate * billed_instances(status, item) if rate is not None else None,
        created_at=parse_time(release.get("created_at")),
        connection=_connection(release, predictions_url),
        # The deployment as Replicate sent it, plus (our addition) a summary of its
        # recent predictions from GET /predictions: the delete rule reads their times.
        raw={**item, "recent_predictions": [summary(p) for p in recent]},
    )


def summary(prediction: Mapping[str, Any]) -> dict[str, Any]:
    """What ``raw`` keeps of a prediction: no input, output or logs (they may hold data
    the user would not want copied; Replicate deletes them after an hour anyway [V])."""
    keys = ("id", "status", "created_at", "started_at", "completed_at", "error", "source")
    out = {k: prediction.get(k) for k in keys if prediction.get(k) is not None}
    metrics = prediction.get("metrics") or {}
    if isinstance(metrics, dict) and metrics.get("predict_time") is not None:
        out["predict_time"] = metrics["predict_time"]
    elif prediction.get("predict_time") is not None:  # a summary read back from ``raw``
        out["predict_time"] = prediction["predict_time"]
    return out


def prediction_event(prediction: Mapping[str, Any]) -> VendorEvent:
    status = str(prediction.get("status") or "")
    message = f"Prediction {prediction.get('id', '?')} {status or 'in an unknown state'}"
    metrics = prediction.get("metrics") or {}
    predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
    if isinstance(predict_time, (int, float)) and status == "succeeded":
        message += f" in {predict_time:.1f} s"
    if prediction.get("error"):
        message += f": {str(prediction['error'])[:300]}"
    return VendorEvent(message=message, at=parse_time(prediction.get("created_at")), kind=status)


def hardware_offer(item: Mapping[str, Any]) -> Offer | None:
    """A ``GET /hardware`` row (``{name, sku}`` [V]) priced from the maintained table; a
    sku the table does not know is listed without a price, a row without one not at all."""
    sku = str(item.get("sku") or "")
    if not sku:
        return None
    known = HARDWARE_PRICES.get(sku)
    extra: dict[str, Any] = {"price_source": PRICES_SOURCE if known else "not in the price table"}
    if known:
        extra.update(price_per_second=str(known.per_second), cpus=known.cpus, ram_gb=known.ram_gb)
        if known.note:
            extra["note"] = known.note
    return Offer(
        sku=sku,
        name=str(item.get("name") or (known.name if known else sku)),
        gpu_model=known.gpu_model if known else "",
        gpu_count=known.gpu_count if known else (0 if sku.startswith("cpu") else 1),
        gpu_memory_gb=known.gpu_memory_gb if known else None,
        price_per_hour=known.per_hour if known else None,
        extra=extra,
        raw=dict(item),
    )


def account_info(account: Mapping[str, Any]) -> AccountInfo:
    kind = account.get("type") or "account"
    label = f" ({account['name']})" if account.get("name") else ""
    # Replicate publishes no balance endpoint: prepaid credit is only on the web.
    return AccountInfo(
        summary=f"Key accepted: {kind} {account.get('username', '?')}{label}.",
        username=str(account.get("username") or ""),
    )


def spec_from_detail(item: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment (``GET /deployments/{owner}/{name}``) as the create body: its name and
    its current release's model, version and configuration (hardware, min and max
    instances) [V], which are every field of the create request."""
    release = item.get("current_release") or {}
    config = release.get("configuration") or {}
    spec: dict[str, Any] = {"name": item.get("name") or ""}
    for key in ("model", "version"):
        if release.get(key):
            spec[key] = release[key]
    for key in ("hardware", "min_instances", "max_instances"):
        if config.get(key) is not None:
            spec[key] = config[key]
    return spec
