"""Nosana's deployments API, as a twin under ``/sandbox/nosana/api/``.

Routes, request rules, JSON shapes, status codes and error bodies follow
``shared/vendor-apis/nosana.md`` (the deployment-manager source and the generated
schema of ``@nosana/api`` 2.1.8) and the seed (``shared/seeds/000_…``), whose create
request is accepted as written and whose plain ``GET …/start`` works beside the
schema's ``POST``. Errors: 401 is the bare JSON string ``"Unauthorized"``, the rest
``{"error": "..."}``; a 400 lists ``path: message`` pairs joined by ``", "``; a
wrong-state action is HTTP 500 ``{"error": "Deployment is in the incorrect state."}``.

Simulated behaviour (not in any vendor document; chosen to exercise the panel):
- time: ``start`` → STARTING; after a third of ``SANDBOX_PROVISION_SECONDS`` the LIST
  task runs (RUNNING, one QUEUED job per replica); at ``SANDBOX_PROVISION_SECONDS``
  a node picks each job up (job RUNNING). A job then runs for the deployment's
  timeout with each "minute" lasting ``SANDBOX_NOSANA_SECONDS_PER_MINUTE`` seconds
  (1.0 by default: a 60-minute job ends after a minute). Everything is computed
  lazily when an account's deployments are read, from stored timestamps;
- SIMPLE jobs complete at their timeout and the deployment turns STOPPED by itself;
  SIMPLE-EXTEND jobs are extended by the timeout while the account's credits cover
  another period, then complete, and the deployment turns STOPPED by itself;
  INFINITE lists a replacement ``rotation_time`` minutes before each job's timeout;
  SCHEDULED lists the replicas at every tick of its cron (real time, not scaled);
- credits: each sandbox account starts with ``SANDBOX_CREDITS`` USD assigned; a job
  reserves price × timeout/60 when listed (and again per extension) and the whole
  reservation is settled when it ends, even early: whether Nosana refunds the
  unused part is not confirmed (notes §4), so the sandbox takes the cautious view.
  A LIST that the credits cannot cover makes the deployment INSUFFICIENT_FUNDS,
  retried every few seconds;
- the ``no_capacity`` fault leaves new jobs QUEUED (no node takes them); an image
  whose name contains ``does-not-exist`` fails to pull, so its jobs end at once
  with exit code 1; a STOP takes half of ``SANDBOX_PROVISION_SECONDS``;
- market prices are illustrative, and ``nodes`` (idle hosts) is invented per market;
- endpoint URLs point at ``/sandbox/nosana/node/…`` (which answers while a job runs)
  instead of ``https://<hash>.node.k8s.prd.nos.ci``; event ``type`` names are ours, and
  ``/events`` carries deployment changes and extensions while job state changes are
  left to ``/jobs`` (which of the two the real server records them in is not documented).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from croniter import croniter
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from jsonschema import Draft202012Validator

from controlpanel.core.text import plain_int
from controlpanel.sandbox.core import Faults, VendorErrors, bearer_key, endpoint, json_body, json_response
from controlpanel.sandbox.models import SandboxObject
from providers.nosana import CRON_RE, JOB_DEFINITION_SCHEMA, STRATEGIES

VENDOR = "nosana"
# The kind of SandboxObject a create makes (the lost-answer tests look for it by name).
CREATES = "deployment"
SANDBOX_CREDITS = 100.0  # USD of credits a new sandbox account is assigned
# Lifted by bench_refresh while it seeds a fleet: every job listed reserves price × timeout / 60.
BENCH_LIFTED = {"SANDBOX_CREDITS": float(10**9)}
FUNDS_RETRY_SECONDS = 5.0  # the server retries with growing cooldowns [V]; the sandbox, every 5 s
MAX_EVENTS = 500
MAX_ENDED_JOBS = 200
UNASSIGNED_NODE = "11111111111111111111111111111111"  # Solana's default key: a job no node has taken
PAGE_LIMITS = ("10", "20", "50", "100")  # numbers or strings [V]

# (address, slug, name, type, usd_reward_per_hour, network_fee_percentage, gpu_types, lowest_vram, idle nodes)
# Premium addresses are the real ones (the seed's 3060 market, the notes' 4090, and
# Nosana's other public premium markets); prices are illustrative. The two community
# markets are invented to show the type.
# One market a row, in the columns named above: the formatter leaves this table alone
# because formatted it becomes 16 blocks of nine lines that no one can compare.
MARKETS: tuple[tuple[str, str, str, str, float, float, tuple[str, ...], int, int], ...] = (
    ("7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq", "nvidia-3060", "NVIDIA 3060", "PREMIUM", 0.04, 10,
     ("NVIDIA GeForce RTX 3060",), 12, 14),
    ("RXP7JK8MTY4uPJng4UjC9ZJdDDSG6wGr8pvVf3mwgXF", "nvidia-3070", "NVIDIA 3070", "PREMIUM", 0.06, 10,
     ("NVIDIA GeForce RTX 3070",), 8, 6),
    ("7RepDm4Xt9k6qV5oiSHvi8oBoty4Q2tfBGnCYjFLj6vA", "nvidia-3080", "NVIDIA 3080", "PREMIUM", 0.09, 10,
     ("NVIDIA GeForce RTX 3080",), 10, 5),
    ("CA5pMpqkYFKtme7K31pNB1s62X2SdhEv1nN9RdxKCpuQ", "nvidia-3090", "NVIDIA 3090", "PREMIUM", 0.16, 10,
     ("NVIDIA GeForce RTX 3090",), 24, 9),
    ("47LQHZwT7gfVoBDYnRYhsYv6vKk8a1oW3Y3SdHAp1gTr", "nvidia-4060", "NVIDIA 4060", "PREMIUM", 0.07, 10,
     ("NVIDIA GeForce RTX 4060",), 8, 4),
    ("EzuHhkrhmV98HWzREsgLenKj2iHdJgrKmzfL8psP8Aso", "nvidia-4070", "NVIDIA 4070", "PREMIUM", 0.11, 10,
     ("NVIDIA GeForce RTX 4070",), 12, 5),
    ("77wdaAuYVxBW5u2QiqddkAzoBZ5cuKxH9ZCbx5HfFUb2", "nvidia-4080", "NVIDIA 4080", "PREMIUM", 0.19, 10,
     ("NVIDIA GeForce RTX 4080",), 16, 3),
    ("97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf", "nvidia-4090", "NVIDIA 4090", "PREMIUM", 0.40, 10,
     ("NVIDIA GeForce RTX 4090",), 24, 11),
    ("7fnuvPYzfd961iRDPRgMSKLrUf1QjTGnn7viu3P12Zuc", "nvidia-a4000", "NVIDIA A4000", "PREMIUM", 0.10, 10,
     ("NVIDIA RTX A4000",), 16, 3),
    ("4uBye3vJ1FAYukDdrvqQ36MZZZxqW3o8utWu8fyomRuN", "nvidia-a5000", "NVIDIA A5000", "PREMIUM", 0.17, 10,
     ("NVIDIA RTX A5000",), 24, 2),
    ("EjryZ6XEthz3z7nnLfjXBYafyn7VyHgChfbfM47LfAao", "nvidia-a6000", "NVIDIA A6000", "PREMIUM", 0.38, 10,
     ("NVIDIA RTX A6000",), 48, 2),
    ("BLqSzPzcXMX5gseNXE4Ma45f31Eo6tNFVYoRmPG7kxP2", "nvidia-a40", "NVIDIA A40", "PREMIUM", 0.36, 10,
     ("NVIDIA A40",), 48, 2),
    ("GLJHzqRN9fKGBsvsFzmGnaQGknUtLN1dqaFR8n3YdM22", "nvidia-a100-80gb", "NVIDIA A100 80GB", "PREMIUM", 0.95, 10,
     ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"), 80, 3),
    ("Crop49jpc7prcgAcS82WbWyGHwbN5GgDym3uFbxxCTZg", "nvidia-h100", "NVIDIA H100", "PREMIUM", 1.70, 10,
     ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe"), 80, 2),
    ("4RX5mWD8gqJEyvBb3sGSmEc4wDRHAp9EJNh6nRwnZ7tR", "nvidia-3090-community", "NVIDIA 3090 Community", "COMMUNITY",
     0.12, 10, ("NVIDIA GeForce RTX 3090",), 24, 7),
    ("9Qj6VzYtGEWr3eNnKhAX2SuBdPLbT8m5pCwFHo4xRa1c", "nvidia-4090-community", "NVIDIA 4090 Community", "COMMUNITY",
     0.30, 10, ("NVIDIA GeForce RTX 4090",), 24, 8),
)  # fmt: skip
COMMUNITY_OF = {"nvidia-3090-community": "nvidia-3090", "nvidia-4090-community": "nvidia-4090"}

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def pubkey(seed: str | None = None) -> str:
    """A Solana-style public key: random, or derived from ``seed`` (stable)."""
    raw = hashlib.sha256(seed.encode()).digest() if seed is not None else secrets.token_bytes(32)
    return b58(raw)


# --- errors in Nosana's words ---------------------------------------------------------------------


def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response({"error": message}, status=status, headers=headers)


INCORRECT_STATE = "Deployment is in the incorrect state."
ARCHIVED = "Cannot modify an archived deployment."
NOT_FOUND = "Deployment not found."
ERRORS = VendorErrors(
    unauthorized=lambda: json_response("Unauthorized", status=401),  # the bare JSON string [V]
    # No 429 or Retry-After is documented (notes §4): these two shapes are the sandbox's.
    unavailable=lambda: error(503, "Service Unavailable"),
    rate_limited=lambda seconds: error(429, "Too Many Requests", headers={"Retry-After": str(seconds)}),
    bad_json=lambda detail: error(400, "Invalid request body."),
)
api = endpoint(VENDOR, key=bearer_key, errors=ERRORS)
public = endpoint(VENDOR, key=bearer_key, errors=ERRORS, public=True)


def route_not_found(request: HttpRequest) -> HttpResponse:
    """Fastify's answer for a method a route does not have."""
    return json_response(
        {"message": f"Route {request.method}:{request.path} not found", "error": "Not Found", "statusCode": 404},
        status=404,
    )


# --- request validation, answered the way the server does --------------------------------------------

CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "market", "replicas", "timeout", "strategy", "job_definition"],
    "properties": {
        "name": {"type": "string"},
        "market": {"type": "string"},
        "replicas": {"type": "number", "minimum": 1},
        "timeout": {"type": "number", "minimum": 1},
        "strategy": {"enum": list(STRATEGIES)},
        "schedule": {"type": "string", "pattern": CRON_RE.pattern},
        "rotation_time": {"type": "number"},
        "confidential": {"type": "boolean"},
        "vault": {"type": "string"},
        "new_vault": {"type": "boolean"},
        "job_definition": {"type": "object"},
    },
    "allOf": [{"if": {"properties": {"strategy": {"const": "SCHEDULED"}}}, "then": {"required": ["schedule"]}}],
}
UPDATE_SCHEMAS: dict[str, dict[str, Any]] = {
    "update-replica-count": {  # the update schema allows 0 [V]
        "type": "object",
        "required": ["replicas"],
        "properties": {"replicas": {"type": "number", "minimum": 0}},
    },
    "update-timeout": {
        "type": "object",
        "required": ["timeout"],
        "properties": {"timeout": {"type": "number", "minimum": 60}},
    },
    "update-schedule": {
        "type": "object",
        "required": ["schedule"],
        "properties": {"schedule": {"type": "string", "pattern": CRON_RE.pattern}},
    },
    "update-active-revision": {
        "type": "object",
        "required": ["active_revision"],
        "properties": {"active_revision": {"type": "number", "minimum": 1}},
    },
}


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = JOB_DEFINITION_SCHEMA if name == "job_definition" else CREATE_SCHEMA
    return Draft202012Validator(UPDATE_SCHEMAS.get(name, schema))


def _ajv_message(error: Any) -> str:
    """ajv's wording, which the server's 400s carry."""
    value = error.validator_value
    return {
        "required": lambda: f"must have required property '{next((f for f in value if f not in error.instance), '')}'",
        "type": lambda: f"must be {value if isinstance(value, str) else ','.join(value)}",
        "minimum": lambda: f"must be >= {value}",
        "maximum": lambda: f"must be <= {value}",
        "minItems": lambda: f"must NOT have fewer than {value} items",
        "minLength": lambda: f"must NOT have fewer than {value} characters",
        "pattern": lambda: f'must match pattern "{value}"',
        "enum": lambda: "must be equal to one of the allowed values",
        "const": lambda: "must be equal to constant",
        "anyOf": lambda: "must match a schema in anyOf",
    }.get(error.validator, lambda: error.message)()


def _problems(validator: Draft202012Validator, body: Any, prefix: str = "") -> list[str]:
    out = []
    for problem in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        parts = [str(p) for p in problem.absolute_path]
        if problem.validator == "required":
            parts.append(next((f for f in problem.validator_value if f not in problem.instance), ""))
        where = "/".join(p for p in [prefix, *parts] if p) or "body"
        out.append(f"{where}: {_ajv_message(problem)}")
    return out


def _job_definition_problems(job_definition: Any, prefix: str) -> list[str]:
    """The kit's job-definition check: the schema, then unique op ids."""
    problems = _problems(_validator("job_definition"), job_definition, prefix)
    seen: set[str] = set()
    for i, op in enumerate(job_definition.get("ops") or [] if isinstance(job_definition, dict) else []):
        op_id = op.get("id") if isinstance(op, dict) else None
        if isinstance(op_id, str) and op_id in seen:
            problems.append(f"{prefix + '/' if prefix else ''}ops/{i}/id: must be unique")
        seen.add(op_id)
    return problems


def _bad_request(problems: list[str]) -> HttpResponse:
    return error(400, ", ".join(problems))


# --- the simulated account ---------------------------------------------------------------------------


def _now() -> float:
    return time.time()


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds_per_minute() -> float:
    return float(getattr(settings, "SANDBOX_NOSANA_SECONDS_PER_MINUTE", 1.0))


def _provision() -> float:
    return float(settings.SANDBOX_PROVISION_SECONDS)


def _market(address: str) -> dict[str, Any] | None:
    return next((m for m in _markets(Faults()) if m["address"] == address), None)


def _price(address: str) -> float:
    market = _market(address) or {}
    return float(market.get("usd_reward_per_hour") or 0) * (1 + float(market.get("network_fee_percentage") or 0) / 100)


def _markets(faults: Faults) -> list[dict[str, Any]]:
    by_slug = {row[1]: row[0] for row in MARKETS}
    out = []
    for address, slug, name, kind, reward, fee, gpu_types, vram, idle in MARKETS:
        out.append(
            {
                "address": address,
                "slug": slug,
                "name": name,
                "sft": pubkey(f"sft:{address}"),
                "type": kind,
                "usd_reward_per_hour": reward,
                # The NOS figures follow the USD ones at an illustrative NOS price of $0.60.
                "nos_reward_per_second": round(reward / 3600 / 0.60, 8),
                "nos_job_price_per_second": round(reward * (1 + fee / 100) / 3600 / 0.60, 8),
                "network_fee_percentage": fee,
                "premium_community_relation": by_slug.get(COMMUNITY_OF.get(slug, "")),
                "gpu_types": list(gpu_types),
                "required_images": ["docker.io/nosana/nvidia-smi:latest"] if kind == "PREMIUM" else [],
                "required_remote_resources": [],
                "nodes": [] if faults.no_capacity else [pubkey(f"node:{address}:{i}") for i in range(idle)],
                "client": False,
                "lowest_vram": vram,
                "max_usd_uptime_reward_per_day": round(reward * 24 * 0.05, 4) if kind == "PREMIUM" else None,
            }
        )
    return out


def _credits(account: str, *, lock: bool = False) -> SandboxObject:
    objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="credits")
    obj = (objects.select_for_update() if lock else objects).first()
    if obj is None:
        obj, _ = SandboxObject.objects.get_or_create(
            vendor=VENDOR,
            account=account,
            kind="credits",
            object_id="balance",
            defaults={"data": {"assignedCredits": SANDBOX_CREDITS, "reservedCredits": 0.0, "settledCredits": 0.0}},
        )
    return obj


def _available(credits: dict[str, Any]) -> float:
    return credits["assignedCredits"] - credits["reservedCredits"] - credits["settledCredits"]


class Sim:
    """One deployment's simulated life, advanced to ``now`` step by step (lazily, on read)."""

    def __init__(self, obj: SandboxObject, credits: SandboxObject, faults: Faults) -> None:
        self.obj, self.data, self.credits, self.faults = obj, obj.data, credits, faults
        self.changed = False

    # --- helpers ---
    def event(self, t: float, category: str, type_: str, message: str, tx: str | None = None) -> None:
        item = {
            "category": category,
            "deploymentId": self.data["id"],
            "type": type_,
            "message": message,
            "created_at": _iso(t),
        }
        if tx:
            item["tx"] = tx
        self.data["_events"] = [*self.data.get("_events", []), item][-MAX_EVENTS:]
        self.changed = True

    def status(self, t: float, status: str, message: str) -> None:
        if self.data["status"] != status:
            self.data["status"] = status
            self.data["updated_at"] = _iso(t)
            self.event(t, "Deployment", f"DEPLOYMENT_{status}", message)

    def jobs(self, *states: str) -> list[dict[str, Any]]:
        return [j for j in self.data["_jobs"] if not states or j["state"] in states]

    def revision(self) -> dict[str, Any]:
        return next(r for r in self.data["_revisions"] if r["revision"] == self.data["active_revision"])

    def period_cost(self) -> float:
        return round(_price(self.data["market"]) * self.data["timeout"] / 60, 6)

    def reserve(self, amount: float) -> bool:
        c = self.credits.data
        if _available(c) + 1e-9 < amount:
            return False
        c["reservedCredits"] = round(c["reservedCredits"] + amount, 6)
        return True

    def settle(self, amount: float) -> None:
        c = self.credits.data
        c["reservedCredits"] = round(max(c["reservedCredits"] - amount, 0.0), 6)
        c["settledCredits"] = round(c["settledCredits"] + amount, 6)

    def fails(self) -> bool:
        return any(
            "does-not-exist" in str((op.get("args") or {}).get("image", ""))
            for op in self.revision()["job_definition"].get("ops", [])
        )

    # --- steps ---
    def list_jobs(self, t: float, count: int) -> bool:
        """The LIST task: post ``count`` jobs to the market, each reserving a period's credits."""
        cost = self.period_cost()
        if count <= 0:
            return True
        if _available(self.credits.data) + 1e-9 < cost * count:
            self.status(t, "INSUFFICIENT_FUNDS", f"Insufficient credits to list {count} job(s) at ${cost:.4f} each.")
            self.data["_list_at"] = max(t, _now()) + FUNDS_RETRY_SECONDS
            return False
        for _ in range(count):
            self.reserve(cost)
            job = {
                "tx": b58(secrets.token_bytes(64)),
                "job": pubkey(),
                "deployment": self.data["id"],
                "market": self.data["market"],
                "node": None,
                "revision": self.data["active_revision"],
                "state": "QUEUED",
                "time_start": 0,
                "created_at": _iso(t),
                "updated_at": _iso(t),
                "_run_at": None if self.faults.no_capacity else t + _provision() * 2 / 3,
                "_end_at": None,
                "_reserved": cost,
                "_rotated": False,
            }
            self.data["_jobs"].append(job)
        return True

    def do_list(self, t: float) -> None:
        self.data["_list_at"] = None
        if self.data["strategy"] == "SCHEDULED":
            self.status(t, "RUNNING", "Waiting for the first scheduled run.")
            self.data["_next_tick"] = self.next_tick(t)
            return
        shortfall = self.data["replicas"] - len(self.jobs("QUEUED", "RUNNING"))
        if self.list_jobs(t, shortfall):
            self.status(t, "RUNNING", "Jobs listed on the market.")

    def next_tick(self, t: float) -> float:
        return float(croniter(self.data["schedule"], dt.datetime.fromtimestamp(t, tz=dt.UTC)).get_next(float))

    def do_tick(self, t: float) -> None:
        self.data["_next_tick"] = self.next_tick(t)
        self.list_jobs(t, self.data["replicas"])

    def do_run(self, job: dict[str, Any], t: float) -> None:
        job.update(state="RUNNING", node=pubkey(), time_start=int(t), updated_at=_iso(t))
        job["_end_at"] = t if self.fails() else t + self.data["timeout"] * _seconds_per_minute()

    def end_job(self, job: dict[str, Any], t: float, state: str) -> None:
        failed = state == "COMPLETED" and self.fails()
        # A listed job has no end time: ``JobSchema`` (src/router/schema/components/job.schema.ts)
        # is tx, deployment, job, market, node, revision, state, time_start, created_at,
        # updated_at. Only the job's own page says ``timeEnd`` (buildDeploymentJobResponse.ts).
        job.update(state=state, updated_at=_iso(t), _time_end=int(t))
        job["_result"] = self.flow_state(job, t, "failed" if failed else "stopped" if state == "STOPPED" else "success")
        self.settle(job.pop("_reserved", 0.0))
        job["_reserved"] = 0.0

    def do_period_end(self, job: dict[str, Any], t: float) -> None:
        strategy = self.data["strategy"]
        if strategy == "SIMPLE-EXTEND" and self.data["status"] == "RUNNING" and not self.fails():
            cost = self.period_cost()
            if self.reserve(cost):
                job["_reserved"] = round(job.get("_reserved", 0.0) + cost, 6)
                job["_end_at"] = t + self.data["timeout"] * _seconds_per_minute()
                self.event(t, "Event", "JOB_EXTENDED", f"Job {job['job']} extended by {self.data['timeout']} minutes")
                return
            self.event(t, "Event", "JOB_NOT_EXTENDED", f"Not enough credits to extend job {job['job']}")
        self.end_job(job, t, "COMPLETED")
        active = self.jobs("QUEUED", "RUNNING")
        if self.data["status"] == "RUNNING" and strategy in ("SIMPLE", "SIMPLE-EXTEND") and not active:
            self.status(t, "STOPPED", "Every job has finished.")
        elif self.data["status"] == "RUNNING" and strategy == "INFINITE" and len(active) < self.data["replicas"]:
            self.list_jobs(t, self.data["replicas"] - len(active))

    def do_rotate(self, job: dict[str, Any], t: float) -> None:
        job["_rotated"] = True
        self.list_jobs(t, 1)

    def do_stop(self, t: float) -> None:
        self.data["_stop_at"] = self.data["_next_tick"] = self.data["_list_at"] = None
        for job in self.jobs("QUEUED", "RUNNING"):
            self.end_job(job, t, "STOPPED")
        self.status(t, "STOPPED", "Every job is stopped or delisted.")

    def flow_state(self, job: dict[str, Any], t: float, status: str) -> dict[str, Any]:
        """``jobResult``: the FlowState a node reports, with each op's logs [V shape]."""
        start_ms = int((job.get("time_start") or t) * 1000)
        end_ms = int(t * 1000)
        op_states = []
        for op in self.revision()["job_definition"].get("ops", []):
            args = op.get("args") or {}
            image = str(args.get("image", ""))
            logs = [{"type": "stdout", "log": f"Pulling image {image}\n", "timestamp": start_ms}]
            if status == "failed":
                logs.append(
                    {
                        "type": "nodeerr",
                        "log": f"pull access denied for {image}, repository does not exist\n",
                        "timestamp": start_ms,
                    }
                )
            elif job.get("time_start"):
                logs.append({"type": "stdout", "log": "Container started\n", "timestamp": start_ms})
                echoed = _echo(args.get("cmd"))
                if echoed is not None:
                    logs.append({"type": "stdout", "log": f"{echoed}\n", "timestamp": start_ms + 10})
                ending = "Container stopped\n" if status == "stopped" else "Timeout reached, container stopped\n"
                logs.append({"type": "stdout", "log": ending, "timestamp": end_ms})
            exit_code = 1 if status == "failed" else 0
            op_states.append(
                {
                    "operationId": op.get("id"),
                    "providerId": "docker",
                    "status": status,
                    "startTime": start_ms,
                    "endTime": end_ms,
                    "exitCode": exit_code,
                    "logs": logs,
                    "diagnostics": {"ExitCode": exit_code, "OOMKilled": False},
                }
            )
        return {"status": status, "startTime": start_ms, "endTime": end_ms, "errors": [], "opStates": op_states}

    # --- the clock ---
    def steps(self) -> list[tuple[float, Callable[[float], None]]]:
        data, out = self.data, []
        status = data["status"]
        if status in ("STARTING", "INSUFFICIENT_FUNDS") and data.get("_list_at") is not None:
            out.append((data["_list_at"], self.do_list))
        if status == "STOPPING" and data.get("_stop_at") is not None:
            out.append((data["_stop_at"], self.do_stop))
        if status == "RUNNING" and data["strategy"] == "SCHEDULED" and data.get("_next_tick") is not None:
            out.append((data["_next_tick"], self.do_tick))
        for job in self.jobs("QUEUED"):
            if job.get("_run_at") is not None:
                out.append((job["_run_at"], lambda t, j=job: self.do_run(j, t)))
        for job in self.jobs("RUNNING"):
            out.append((job["_end_at"], lambda t, j=job: self.do_period_end(j, t)))
            if status == "RUNNING" and data["strategy"] == "INFINITE" and not job.get("_rotated"):
                rotate_at = job["_end_at"] - data.get("rotation_time", 20) * _seconds_per_minute()
                out.append((rotate_at, lambda t, j=job: self.do_rotate(j, t)))
        return out

    def advance(self, now: float) -> None:
        for job in self.jobs("QUEUED"):  # capacity came back: a node takes the waiting jobs
            if job.get("_run_at") is None and not self.faults.no_capacity:
                job["_run_at"] = now + _provision() * 2 / 3
                self.changed = True
        for _ in range(2000):
            due = [step for step in self.steps() if step[0] <= now]
            if not due:
                break
            moment, step = min(due, key=lambda s: s[0])
            step(moment)
            self.changed = True
        self.finish()

    def finish(self) -> None:
        data = self.data
        # RUNNING jobs only, queued ones not counted: the deployment-manager's
        # src/router/routes/get/deployments/list.ts and [id]/getDeploymentById.ts
        # (``count({deployment, state: JobState.RUNNING})``).
        data["active_jobs"] = len(self.jobs("RUNNING"))
        ended = [j for j in data["_jobs"] if j["state"] in ("COMPLETED", "STOPPED")]
        if len(ended) > MAX_ENDED_JOBS:
            drop = {id(j) for j in ended[: len(ended) - MAX_ENDED_JOBS]}
            data["_jobs"] = [j for j in data["_jobs"] if id(j) not in drop]


def _echo(cmd: Any) -> str | None:
    """What an ``echo`` command prints, so the seed's "hello world" shows in the logs."""
    words = cmd if isinstance(cmd, list) else [cmd] if isinstance(cmd, str) else []
    text = " ".join(str(w) for w in words)
    match = re.match(r"^\s*echo\s+(.*)$", text)
    return match.group(1).strip("'\"") if match else None


def _load(account: str, ref: str, faults: Faults, *, lock: bool = False) -> tuple[SandboxObject, Sim] | None:
    """The deployment ``ref`` advanced to now (saved if anything happened), or None."""
    objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="deployment", object_id=ref)
    obj = (objects.select_for_update() if lock else objects).first()
    if obj is None:
        return None
    credits = _credits(account, lock=lock)
    sim = Sim(obj, credits, faults)
    sim.advance(_now())
    _save(sim)
    return obj, sim


def _save(sim: Sim) -> None:
    if sim.changed:
        sim.obj.save(update_fields=["data", "updated_at"])
        sim.credits.save(update_fields=["data", "updated_at"])
        sim.changed = False


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _public_job(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _endpoints(request: HttpRequest, deployment_id: str, job_definition: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for op in job_definition.get("ops", []):
        expose = (op.get("args") or {}).get("expose")
        ports = [expose] if isinstance(expose, int) else [p.get("port") for p in expose or [] if isinstance(p, dict)]
        for port in ports:
            ref = f"{deployment_id}-{op.get('id')}-{port}"
            out.append(
                {"opId": op.get("id"), "port": port, "url": request.build_absolute_uri(f"/sandbox/nosana/node/{ref}/")}
            )
    return out


def _revision(deployment_id: str, number: int, job_definition: dict[str, Any], t: float) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(job_definition, sort_keys=True).encode()).digest()
    return {
        "revision": number,
        "deployment": deployment_id,
        "ipfs_definition_hash": "Qm" + b58(digest)[:44],
        "job_definition": job_definition,
        "created_at": _iso(t),
    }


# --- pagination and filters ------------------------------------------------------------------------------


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(cursor: str) -> int | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(value["o"]) if int(value["o"]) >= 0 else None
    except (ValueError, KeyError, TypeError):
        return None


def _page(request: HttpRequest, items: list[dict[str, Any]], key: str, *, sort: str = "created_at") -> HttpResponse:
    """Cursor pagination (notes §2): ``limit`` ∈ {10, 20, 50, 100}, default 10;
    ``sort_order`` desc by default; ``cursor_next``/``cursor_prev``/``total_items``. The
    real cursor is a keyset; this one is an opaque offset."""
    limit = request.GET.get("limit", "10")
    if limit not in PAGE_LIMITS:
        return _bad_request(["querystring/limit: must be equal to one of the allowed values"])
    order = request.GET.get("sort_order", "desc")
    if order not in ("asc", "desc"):
        return _bad_request(["querystring/sort_order: must be equal to one of the allowed values"])
    offset = 0
    if request.GET.get("cursor"):
        offset = _offset(request.GET["cursor"])
        if offset is None:
            return _bad_request(["querystring/cursor: invalid cursor"])
    ordered = sorted(items, key=lambda i: str(i.get(sort) or ""), reverse=order == "desc")
    size = int(limit)
    page = ordered[offset : offset + size]
    return json_response(
        {
            key: page,
            "pagination": {
                "cursor_next": _cursor(offset + size) if offset + size < len(ordered) else None,
                "cursor_prev": _cursor(max(offset - size, 0)) if offset > 0 else None,
                "total_items": len(ordered),
            },
        }
    )


def _in_range(request: HttpRequest, value: str) -> bool:
    after, before = request.GET.get("created_after"), request.GET.get("created_before")
    return (not after or value > after) and (not before or value < before)


def _listed(request: HttpRequest, name: str) -> set[str] | None:
    raw = request.GET.get(name)
    return {v.strip() for v in raw.split(",") if v.strip()} if raw else None


# --- views: deployments -------------------------------------------------------------------------------------


@api
def deployments(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "GET":
        return route_not_found(request)
    items = []
    with transaction.atomic():
        # Every deployment advanced to now against one credits record, read once: a
        # lookup per deployment made a 1,000-deployment list crawl.
        credits, now = _credits(account), _now()
        for obj in SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="deployment"):
            sim = Sim(obj, credits, faults)
            sim.advance(now)
            _save(sim)
            items.append(_public(obj.data))
    statuses, strategies = _listed(request, "status"), _listed(request, "strategy")
    name, search = request.GET.get("name"), (request.GET.get("search") or "").lower()
    items = [
        d
        for d in items
        if (statuses is None or d["status"] in statuses)
        and (strategies is None or d["strategy"] in strategies)
        and (not request.GET.get("id") or d["id"] == request.GET["id"])
        and (not request.GET.get("vault") or d["vault"] == request.GET["vault"])
        # ``name`` (exact) and ``search`` (substring) are the notes' reading of the filters [I].
        and (name is None or d["name"] == name)
        and (not search or search in d["name"].lower())
        and _in_range(request, d["created_at"])
    ]
    return _page(request, items, "deployments")


@api
def create(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "POST":
        return route_not_found(request)
    body = json_body(request)
    if not isinstance(body, dict):
        return _bad_request(["body: must be object"])
    problems = _problems(_validator("create"), body)
    if isinstance(body.get("job_definition"), dict):
        problems += _job_definition_problems(body["job_definition"], "job_definition")
    if body.get("vault") is not None and body.get("new_vault") is not None:
        problems.append("body: vault and new_vault cannot both be set")
    if problems:
        return _bad_request(problems)
    market = body["market"].strip()  # the server trims it [V]
    if _market(market) is None:
        return _bad_request(["market: market not found"])  # [I] the server's wording is unknown
    strategy, timeout = body["strategy"], body["timeout"]
    if strategy == "INFINITE":
        if timeout < 60:
            return error(400, "Timeout for infinite deployments must be at least 1 hour.")
        if not body.get("rotation_time", 20) < timeout - 10:
            return error(400, "Rotation time must be at least 10 minutes less than timeout.")
    if strategy == "SCHEDULED" and not croniter.is_valid(body["schedule"].strip()):
        return _bad_request([f"schedule: {body['schedule']!r} is not a valid cron expression"])  # [I]
    now = _now()
    deployment_id = pubkey()
    owner = pubkey(f"owner:{account}")
    data: dict[str, Any] = {
        "id": deployment_id,
        "name": body["name"],
        "vault": body.get("vault") or pubkey(f"vault:{account}"),  # the key's credits vault [V]
        "market": market,
        "owner": owner,
        "status": "DRAFT",
        "replicas": body["replicas"],
        "timeout": timeout,
        "endpoints": _endpoints(request, deployment_id, body["job_definition"]),
        # The default comes from server config [V]; the sandbox's config says true.
        "confidential": body.get("confidential", True),
        "active_revision": 1,
        "active_jobs": 0,
        "strategy": strategy,
        "created_at": _iso(now),
        "updated_at": _iso(now),
        "_revisions": [_revision(deployment_id, 1, body["job_definition"], now)],
        "_jobs": [],
        "_events": [],
    }
    if strategy == "SCHEDULED":
        data["schedule"] = body["schedule"].strip()
    if strategy == "INFINITE":
        data["rotation_time"] = body.get("rotation_time", 20)
    data["_events"].append(
        {
            "category": "Deployment",
            "deploymentId": deployment_id,
            "type": "DEPLOYMENT_CREATED",
            "message": "Deployment created as a draft.",
            "created_at": _iso(now),
        }
    )
    obj = SandboxObject.objects.create(
        vendor=VENDOR, account=account, kind="deployment", object_id=deployment_id, name=body["name"][:200], data=data
    )
    return json_response(_public(obj.data))  # 200, not 201 [V]


@api
def deployment(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method not in ("GET", "DELETE"):
        return route_not_found(request)
    with transaction.atomic():
        loaded = _load(account, ref, faults, lock=request.method == "DELETE")
        if loaded is None:
            return error(404, NOT_FOUND)
        obj, sim = loaded
        if request.method == "GET":
            return json_response(_public(obj.data))
        if obj.data["status"] != "STOPPED":  # delete needs STOPPED [V]
            return error(500, INCORRECT_STATE)
        obj.delete()
    return HttpResponse(status=204)


def _action(
    request: HttpRequest,
    ref: str,
    account: str,
    faults: Faults,
    *,
    active: bool,
    apply: Callable[[Sim, float], HttpResponse],
) -> HttpResponse:
    """Load, advance and lock one deployment, refuse an archived one where the route
    is behind validateActiveDeployment [V], then let ``apply`` change it."""
    with transaction.atomic():
        loaded = _load(account, ref, faults, lock=True)
        if loaded is None:
            return error(404, NOT_FOUND)
        _obj, sim = loaded
        if active and sim.data["status"] == "ARCHIVED":
            return error(500, ARCHIVED)
        response = apply(sim, _now())
        sim.finish()
        _save(sim)
        return response


@api
def start(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    # POST per the schema; the seed's plain GET is accepted too (DESIGN: "accepts both").
    if request.method not in ("POST", "GET"):
        return route_not_found(request)

    def apply(sim: Sim, now: float) -> HttpResponse:
        if sim.data["status"] not in ("DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"):
            return error(500, INCORRECT_STATE)
        sim.data["_list_at"] = now + _provision() / 3
        sim.status(now, "STARTING", "Deployment started.")
        return json_response({"status": "STARTING", "updated_at": sim.data["updated_at"]})

    return _action(request, ref, account, faults, active=False, apply=apply)


@api
def stop(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "POST":
        return route_not_found(request)

    def apply(sim: Sim, now: float) -> HttpResponse:
        if sim.data["status"] not in ("RUNNING", "ERROR", "INSUFFICIENT_FUNDS"):
            return error(500, INCORRECT_STATE)
        sim.data["_stop_at"] = now + _provision() / 2
        sim.data["_list_at"] = None
        sim.status(now, "STOPPING", "Stop requested: delisting and stopping jobs.")
        return json_response({"status": "STOPPING", "updated_at": sim.data["updated_at"]})

    return _action(request, ref, account, faults, active=True, apply=apply)


@api
def archive(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "POST":
        return route_not_found(request)

    def apply(sim: Sim, now: float) -> HttpResponse:
        if sim.data["status"] != "STOPPED":
            return error(500, INCORRECT_STATE)
        sim.status(now, "ARCHIVED", "Deployment archived.")
        return json_response({"status": "ARCHIVED", "updated_at": sim.data["updated_at"]})

    return _action(request, ref, account, faults, active=True, apply=apply)


def _update(
    request: HttpRequest,
    ref: str,
    account: str,
    faults: Faults,
    route: str,
    apply: Callable[[Sim, dict[str, Any], float], HttpResponse],
) -> HttpResponse:
    if request.method != "PATCH":
        return route_not_found(request)
    body = json_body(request)
    problems = _problems(_validator(route), body) if isinstance(body, dict) else ["body: must be object"]
    if problems:
        return _bad_request(problems)

    def changed(sim: Sim, now: float) -> HttpResponse:
        response = apply(sim, body, now)
        if response.status_code == 200:
            sim.data["updated_at"] = _iso(now)
            sim.changed = True
        return response

    return _action(request, ref, account, faults, active=True, apply=changed)


@api
def update_replica_count(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    def apply(sim: Sim, body: dict[str, Any], now: float) -> HttpResponse:
        replicas = int(body["replicas"])
        if replicas != sim.data["replicas"]:  # an unchanged value is a no-op [V]
            sim.data["replicas"] = replicas
            sim.event(now, "Deployment", "REPLICA_COUNT_UPDATED", f"Replica count set to {replicas}.")
            if sim.data["status"] == "RUNNING" and sim.data["strategy"] != "SCHEDULED":
                # List the shortfall, or stop the excess: queued jobs first, then the oldest running [V].
                active = sim.jobs("QUEUED", "RUNNING")
                if len(active) < replicas:
                    sim.list_jobs(now, replicas - len(active))
                excess = sorted(active, key=lambda j: (j["state"] != "QUEUED", j["created_at"]))
                for job in excess[: max(len(active) - replicas, 0)]:
                    sim.end_job(job, now, "STOPPED")
        return json_response({"replicas": replicas, "updated_at": _iso(now)})

    return _update(request, ref, account, faults, "update-replica-count", apply)


@api
def update_timeout(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    def apply(sim: Sim, body: dict[str, Any], now: float) -> HttpResponse:
        timeout = int(body["timeout"])
        if timeout != sim.data["timeout"]:
            sim.data["timeout"] = timeout
            sim.event(now, "Deployment", "TIMEOUT_UPDATED", f"Timeout set to {timeout} minutes.")
            for job in sim.jobs("RUNNING"):  # running jobs are re-extended to the new target [V]
                job["_end_at"] = max(job["time_start"] + timeout * _seconds_per_minute(), now)
        return json_response({"timeout": timeout, "updated_at": _iso(now)})

    return _update(request, ref, account, faults, "update-timeout", apply)


@api
def update_schedule(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    def apply(sim: Sim, body: dict[str, Any], now: float) -> HttpResponse:
        if sim.data["strategy"] != "SCHEDULED":
            return _bad_request(["schedule: only a SCHEDULED deployment has a schedule"])  # [I] wording
        schedule = body["schedule"].strip()
        if not croniter.is_valid(schedule):
            return _bad_request([f"schedule: {schedule!r} is not a valid cron expression"])
        sim.data["schedule"] = schedule
        if sim.data.get("_next_tick") is not None:
            sim.data["_next_tick"] = sim.next_tick(now)
        sim.event(now, "Deployment", "SCHEDULE_UPDATED", f"Schedule set to {schedule}.")
        return json_response({"schedule": schedule, "updated_at": _iso(now)})

    return _update(request, ref, account, faults, "update-schedule", apply)


@api
def update_active_revision(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    def apply(sim: Sim, body: dict[str, Any], now: float) -> HttpResponse:
        number = int(body["active_revision"])
        revision = next((r for r in sim.data["_revisions"] if r["revision"] == number), None)
        if revision is None:
            return _bad_request([f"active_revision: revision {number} not found"])  # [I] wording
        sim.data["active_revision"] = number
        sim.data["endpoints"] = _endpoints(request, sim.data["id"], revision["job_definition"])
        sim.event(now, "Deployment", "ACTIVE_REVISION_UPDATED", f"Revision {number} is now active.")
        return json_response({"active_revision": number, "endpoints": sim.data["endpoints"], "updated_at": _iso(now)})

    return _update(request, ref, account, faults, "update-active-revision", apply)


@api
def create_revision(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "POST":
        return route_not_found(request)
    body = json_body(request)
    if not isinstance(body, dict):
        return _bad_request(["body: must be object"])
    problems = _job_definition_problems(body, "")  # the body is the bare job definition [V]
    if problems:
        return _bad_request(problems)

    def apply(sim: Sim, now: float) -> HttpResponse:
        number = max(r["revision"] for r in sim.data["_revisions"]) + 1
        sim.data["_revisions"].append(_revision(sim.data["id"], number, body, now))
        sim.data["active_revision"] = number
        sim.data["endpoints"] = _endpoints(request, sim.data["id"], body)
        sim.data["updated_at"] = _iso(now)
        sim.event(now, "Deployment", "REVISION_CREATED", f"Revision {number} created and made active.")
        return json_response(
            {
                "active_revision": number,
                "endpoints": sim.data["endpoints"],
                "revisions": [dict(r) for r in sim.data["_revisions"]],
                "updated_at": sim.data["updated_at"],
            }
        )

    return _action(request, ref, account, faults, active=True, apply=apply)


# --- views: monitoring ------------------------------------------------------------------------------------


def _read(request: HttpRequest, ref: str, account: str, faults: Faults) -> tuple[SandboxObject, Sim] | HttpResponse:
    if request.method != "GET":
        return route_not_found(request)
    with transaction.atomic():
        loaded = _load(account, ref, faults)
    return loaded if loaded is not None else error(404, NOT_FOUND)


@api
def jobs(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    states = _listed(request, "state")
    revision = request.GET.get("revision")
    items = [
        _public_job(j)
        for j in loaded[1].data["_jobs"]
        if (states is None or j["state"] in states)
        and (not request.GET.get("job") or j["job"] == request.GET["job"])
        and (not revision or str(j["revision"]) == revision)
        and _in_range(request, j["created_at"])
    ]
    return _page(request, items, "jobs")


@api
def job(request: HttpRequest, ref: str, job_id: str, *, account: str, faults: Faults) -> HttpResponse:
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    sim = loaded[1]
    found = next((j for j in sim.data["_jobs"] if j["job"] == job_id), None)
    if found is None:
        return error(404, "Job not found.")
    revision = next((r for r in sim.data["_revisions"] if r["revision"] == found["revision"]), sim.revision())
    result = found.get("_result")
    return json_response(
        {
            "confidential": sim.data["confidential"],
            "revision": found["revision"],
            "market": found["market"],
            "node": found["node"] or UNASSIGNED_NODE,
            "state": found["state"],
            "jobStatus": result["status"] if result else None,
            "jobDefinition": revision["job_definition"],
            "jobResult": result,
            "timeStart": found.get("time_start") or 0,
            "timeEnd": found.get("_time_end") or 0,
            "listedAt": int(dt.datetime.fromisoformat(found["created_at"].replace("Z", "+00:00")).timestamp()),
        }
    )


@api
def events(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    categories, types = _listed(request, "category"), _listed(request, "type")
    items = [
        e
        for e in loaded[1].data["_events"]
        if (categories is None or e["category"] in categories)
        and (types is None or e["type"] in types)
        and _in_range(request, e["created_at"])
    ]
    return _page(request, items, "events")


@api
def revisions(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    wanted = request.GET.get("revision")
    items = [r for r in loaded[1].data["_revisions"] if not wanted or str(r["revision"]) == wanted]
    return _page(request, items, "revisions")


@api
def tasks(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    """The worker's scheduled tasks, derived from the simulation's next steps [I shape]."""
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    data = loaded[1].data
    due: list[tuple[str, float]] = []
    if data.get("_list_at") is not None:
        due.append(("LIST", data["_list_at"]))
    if data.get("_next_tick") is not None:
        due.append(("LIST", data["_next_tick"]))
    if data.get("_stop_at") is not None:
        due.append(("STOP", data["_stop_at"]))
    if data["strategy"] == "SIMPLE-EXTEND":
        due += [("EXTEND", j["_end_at"]) for j in loaded[1].jobs("RUNNING")]
    wanted = _listed(request, "task")
    items = [
        {"task": task, "deploymentId": data["id"], "status": "PENDING", "due_at": _iso(at), "created_at": _iso(at)}
        for task, at in due
        if wanted is None or task in wanted
    ]
    return _page(request, items, "tasks", sort="due_at")


@api
def header(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    loaded = _read(request, ref, account, faults)
    if isinstance(loaded, HttpResponse):
        return loaded
    token = base64.b64encode(hashlib.sha256(f"header:{account}:{ref}".encode()).digest()).decode()
    return json_response({"header": f"NosanaApiAuthentication:{token}"})


# --- views: catalog and money ------------------------------------------------------------------------------


@public
def markets(request: HttpRequest, *, account: str | None, faults: Faults) -> HttpResponse:
    if request.method != "GET":
        return route_not_found(request)
    items = _markets(faults)
    kind = request.GET.get("type")
    if kind:
        if kind not in ("PREMIUM", "COMMUNITY", "OTHER"):
            return _bad_request(["querystring/type: must be equal to one of the allowed values"])
        items = [m for m in items if m["type"] == kind]
    key, value = request.GET.get("filterKey"), request.GET.get("filterValue")
    if key and value is not None:
        items = [m for m in items if str(m.get(key)) == value]
    if plain_int(request.GET.get("limit", "")) is not None:
        items = items[: int(request.GET["limit"])]
    return json_response(items)


@public
def market(request: HttpRequest, address: str, *, account: str | None, faults: Faults) -> HttpResponse:
    if request.method != "GET":
        return route_not_found(request)
    found = next((m for m in _markets(faults) if m["address"] == address), None)
    return json_response(found) if found else error(404, "Market not found.")


@public
def market_resources(request: HttpRequest, address: str, *, account: str | None, faults: Faults) -> HttpResponse:
    found = next((m for m in _markets(faults) if m["address"] == address), None)
    if found is None:
        return error(404, "Market not found.")
    return json_response(
        {"required_images": found["required_images"], "required_remote_resources": found["required_remote_resources"]}
    )


@api
def balance(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "GET":
        return route_not_found(request)
    with transaction.atomic():
        for obj in SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="deployment"):
            _load(account, obj.object_id, faults)  # reservations and settlements up to now
        credits = _credits(account).data
    return json_response({k: credits[k] for k in ("assignedCredits", "reservedCredits", "settledCredits")})


def node(request: HttpRequest, ref: str, rest: str = "") -> HttpResponse:
    """A deployment's endpoint: answers while one of its jobs runs (public, like the real URL)."""
    deployment_id, _, op_port = ref.partition("-")
    obj = SandboxObject.objects.filter(vendor=VENDOR, kind="deployment", object_id=deployment_id).first()
    if obj is None:
        return error(404, "Not found")
    sim = Sim(obj, _credits(obj.account), Faults())
    with transaction.atomic():
        sim.advance(_now())
        _save(sim)
    running = sim.jobs("RUNNING")
    if not running:
        return error(503, "Service Unavailable")
    return json_response(
        {
            "deployment": deployment_id,
            "endpoint": op_port,
            "job": running[0]["job"],
            "node": running[0]["node"],
            "path": "/" + rest,
            "method": request.method,
        }
    )


# A running job's own service URL: public on the internet like the real node endpoint, no key.
node.vendor_public = True  # type: ignore[attr-defined]

urlpatterns = [
    path("api/deployments", deployments, name="nosana-deployments"),
    path("api/deployments/create", create, name="nosana-create"),
    path("api/deployments/<str:ref>", deployment, name="nosana-deployment"),
    path("api/deployments/<str:ref>/start", start, name="nosana-start"),
    path("api/deployments/<str:ref>/stop", stop, name="nosana-stop"),
    path("api/deployments/<str:ref>/archive", archive, name="nosana-archive"),
    path("api/deployments/<str:ref>/update-replica-count", update_replica_count, name="nosana-replicas"),
    path("api/deployments/<str:ref>/update-timeout", update_timeout, name="nosana-timeout"),
    path("api/deployments/<str:ref>/update-schedule", update_schedule, name="nosana-schedule"),
    path("api/deployments/<str:ref>/update-active-revision", update_active_revision, name="nosana-active-revision"),
    path("api/deployments/<str:ref>/create-revision", create_revision, name="nosana-create-revision"),
    path("api/deployments/<str:ref>/jobs", jobs, name="nosana-jobs"),
    path("api/deployments/<str:ref>/jobs/<str:job_id>", job, name="nosana-job"),
    path("api/deployments/<str:ref>/events", events, name="nosana-events"),
    path("api/deployments/<str:ref>/revisions", revisions, name="nosana-revisions"),
    # Fidelity only, on purpose: the adapter does not call these two, but @nosana/api's
    # clients do, so the twin answers them as the dashboard API would (its tests read them).
    path("api/deployments/<str:ref>/tasks", tasks, name="nosana-tasks"),
    path("api/deployments/<str:ref>/header", header, name="nosana-header"),
    path("api/markets/", markets, name="nosana-markets"),
    path("api/markets", markets),
    # Fidelity only, on purpose (the adapter reads the market list): one market and its
    # required resources, as @nosana/api's clients read them.
    path("api/markets/<str:address>/", market, name="nosana-market"),
    path("api/markets/<str:address>/required-resources", market_resources, name="nosana-market-resources"),
    path("api/credits/balance", balance, name="nosana-balance"),
    path("node/<str:ref>/", node, name="nosana-node"),
    path("node/<str:ref>/<path:rest>", node),
]
