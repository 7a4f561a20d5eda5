"""Nosana's JSON in the panel's shapes: a deployment as a ``Remote``, a market as an
``Offer``, a job's result as log lines, events and job changes as ``VendorEvent``.

Shapes are the deployment-manager's (``shared/vendor-apis/nosana.md``) and the
generated schema of ``@nosana/api`` 2.1.8 [V]; nothing here makes a request.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from providers.base import Endpoint, Offer, Remote, RemoteState, VendorEvent, parse_time
from providers.coerce import whole
from providers.nosana.prices import market_price, price_now
from providers.nosana.statuses import JOB_ENDED, remote_state, running_jobs

# What ``current_spec`` reads back from a deployment for an update without ``previous``.
SPEC_KEYS = (
    "name",
    "market",
    "replicas",
    "timeout",
    "strategy",
    "schedule",
    "rotation_time",
    "confidential",
    "active_revision",
)
_DATACENTER = re.compile(r"\b(B200|H200|H100|GH200|A100|A40|A30|A10G?|L40S?|L4|V100|T4)\b", re.IGNORECASE)


def _number(value: Any) -> int | None:
    # Numbers only: the vendor's JSON has no digit strings for ports or counts.
    return whole(value, strings=False)


def pubkey_short(value: str) -> str:
    return f"{value[:4]}…{value[-4:]}" if isinstance(value, str) and len(value) > 10 else str(value or "")


def epoch(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    if value > 1e11:  # milliseconds (FlowState times)
        value = value / 1000
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


# --- deployments ------------------------------------------------------------------------------


def endpoints(item: dict[str, Any]) -> list[Endpoint]:
    """``endpoints[]`` of a deployment: ``{opId, port, url}``, each served over HTTPS."""
    return [
        Endpoint(
            url=str(e.get("url") or ""),
            port=_number(e.get("port")),
            protocol="https",
            label=f"{e.get('opId') or 'op'}:{e.get('port')}",
        )
        for e in item.get("endpoints") or []
        if isinstance(e, dict) and e.get("url")
    ]


def to_remote(
    item: dict[str, Any],
    jobs: list[dict[str, Any]] | None,
    unit_price: Callable[[str | None], Decimal | None],
) -> Remote:
    """A deployment (and, where read, its newest jobs) as a ``Remote``. ``unit_price``
    is asked for the market's price only when jobs are running, so it may fetch it.
    Endpoints are the deployment's own ``endpoints[]`` [V: ``Deployment`` in
    ``@nosana/api`` 2.1.8 ``schema.d.ts``], not the jobs': no jobs call is needed for them."""
    state, message = remote_state(item, jobs)
    running = running_jobs(item, jobs)
    unit = unit_price(item.get("market")) if state == RemoteState.RUNNING and running else None
    return Remote(
        external_id=item.get("id") or "",
        name=item.get("name") or "",
        state=state,
        vendor_state=item.get("status") or "",
        message=message,
        replicas_ready=running,
        replicas_desired=_number(item.get("replicas")),
        endpoints=endpoints(item),
        price_per_hour=price_now(state, running, unit),
        created_at=parse_time(item.get("created_at")),
        raw=item,
    )


def current_spec(item: dict[str, Any], revisions: Any) -> dict[str, Any]:
    """A deployment and its ``/revisions`` page as the spec it runs now."""
    current = {k: item[k] for k in SPEC_KEYS if k in item}
    listed = revisions.get("revisions") if isinstance(revisions, dict) else None
    active = next((r for r in listed or [] if r.get("revision") == item.get("active_revision")), None)
    if active is not None:
        current["job_definition"] = active.get("job_definition")
    return current


# --- markets ----------------------------------------------------------------------------------


def normalise_gpu(label: str) -> str:
    """``NVIDIA GeForce RTX 4090`` → ``RTX 4090``; ``NVIDIA H100 80GB HBM3`` → ``H100``."""
    text = re.sub(r"\b(NVIDIA|GeForce)\b", "", label or "", flags=re.IGNORECASE).strip()
    found = _DATACENTER.search(text)
    if found:
        return found.group(1).upper()
    workstation = re.search(r"\bRTX\s*A(\d{4})\b|\bA(\d{4})\b", text, re.IGNORECASE)
    if workstation:
        return f"RTX A{workstation.group(1) or workstation.group(2)}"
    consumer = re.search(r"(?:RTX|GTX)?\s*(\d{4})(\s*Ti)?\b", text, re.IGNORECASE)
    if consumer:
        return f"RTX {consumer.group(1)}{' Ti' if consumer.group(2) else ''}"
    return " ".join(text.split())


def to_offer(market: dict[str, Any]) -> Offer:
    """A market (the public list [V]) with Nosana's own price per hour."""
    gpu_types = [str(g) for g in market.get("gpu_types") or []]
    gpu = normalise_gpu(gpu_types[0] if gpu_types else str(market.get("name") or ""))
    nodes = market.get("nodes")
    idle = len(nodes) if isinstance(nodes, list) else None
    return Offer(
        sku=market["address"],
        name=str(market.get("name") or market.get("slug") or market["address"]),
        kind="market",
        gpu_model=gpu,
        gpu_count=1,
        gpu_memory_gb=_number(market.get("lowest_vram")),
        price_per_hour=market_price(market),
        # ``nodes`` is the market's queue of idle hosts when present [I]: none
        # idle means a new job waits in the queue.
        available=idle is None or idle > 0,
        extra={
            "type": market.get("type") or "",
            "slug": market.get("slug") or "",
            "gpu_types": gpu_types,
            "idle_nodes": idle,
            "usd_reward_per_hour": market.get("usd_reward_per_hour"),
            "network_fee_percentage": market.get("network_fee_percentage"),
            "lowest_vram": market.get("lowest_vram"),
        },
        raw={k: v for k, v in market.items() if k != "nodes"},
    )


# --- monitoring -------------------------------------------------------------------------------


def job_log_lines(job: dict[str, Any], detail: Any) -> list[str]:
    """One finished job's container logs, from ``jobResult.opStates[].logs`` [V]."""
    result = detail.get("jobResult") if isinstance(detail, dict) else None
    tag = pubkey_short(str(job.get("job") or ""))
    lines = [f"── job {tag} ({job.get('state', '').lower()}) ──"]
    for op in (result or {}).get("opStates") or []:
        op_id = op.get("operationId") or "op"
        for entry in op.get("logs") or []:
            text = str(entry.get("log") or "").rstrip("\n")
            stream = entry.get("type") or "stdout"
            for line in text.splitlines() or [""]:
                lines.append(f"[{op_id}] {stream}: {line}")
        if op.get("exitCode") is not None:
            lines.append(f"[{op_id}] exited with code {op.get('exitCode')} ({op.get('status') or 'done'})")
    return lines


def deployment_events(data: Any) -> list[VendorEvent]:
    """A page of the deployment's own ``/events``."""
    items = data.get("events") or [] if isinstance(data, dict) else []
    return [
        VendorEvent(
            message=str(e.get("message") or e.get("type") or ""),
            at=parse_time(e.get("created_at")),
            kind=str(e.get("type") or e.get("category") or ""),
        )
        for e in items
        if isinstance(e, dict)
    ]


def job_events(jobs: Iterable[dict[str, Any]]) -> list[VendorEvent]:
    """Each job's state changes: listed, running on a node, ended."""
    out = []
    for job in jobs:
        tag = pubkey_short(str(job.get("job") or ""))
        out.append(VendorEvent(f"Job {tag} listed on the market", parse_time(job.get("created_at")), "job"))
        started = epoch(job.get("time_start"))
        if started and job.get("state") != "QUEUED":
            node = f" on node {pubkey_short(job['node'])}" if job.get("node") else ""
            out.append(VendorEvent(f"Job {tag} running{node}", started, "job"))
        if job.get("state") in JOB_ENDED:
            # A listed job has no end time (``JobSchema`` in the deployment-manager's
            # src/router/schema/components/job.schema.ts; ``Job`` in @nosana/api 2.1.8):
            # an ended job was last updated when it ended.
            ended = parse_time(job.get("updated_at"))
            out.append(VendorEvent(f"Job {tag} {job['state'].lower()}", ended, "job"))
    return out


def in_time_order(events: Iterable[VendorEvent]) -> list[VendorEvent]:
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(events, key=lambda e: e.at or earliest)
