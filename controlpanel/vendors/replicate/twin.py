"""Replicate's deployments, predictions, hardware, models and account API, as a twin
under ``/sandbox/replicate/v1/``.

Shapes follow ``shared/vendor-apis/replicate.md`` (§2 objects, §6 examples) and the seed
``shared/seeds/002_0d69ab0831111b63.txt``; the official ``replicate`` Python client
reads every answer (``tests/test_official_client.py`` here). Errors are RFC 7807
problem details ``{title, detail, status}``; a 429 is exactly the documented
``{"detail": "Request was throttled. Your rate limit resets in ~Ns."}`` with ``Retry-After``.
Auth is ``Authorization: Bearer <key>``, and the older ``Token <key>`` too [D].

Choices where the notes leave things open, the strict reading each time:
- create answers 200, as Replicate's published OpenAPI (``deployments.create``,
  ``responses: {"200": …}``) says; a duplicate name is 409 (as for duplicate model
  names, issue #323); invalid fields and unknown models or versions 422, with a
  ``detail`` that names the field first;
- PATCH refuses ``model`` and ``name`` (neither can change [V]) and makes a new release
  for every accepted call [V];
- ``max_instances`` may be 0 (the published OpenAPI's ``"minimum": 0``), and at most 20,
  ``min_instances`` at most 5 (its ``"maximum"``s). A deployment at ``max_instances`` 0
  runs no instance and refuses predictions with 409 (what Replicate answers is not
  published [I]);
- DELETE is refused with 409 until ``min_instances`` has been 0 and no prediction has
  run for 15 minutes (docs: "offline and unused for at least 15 minutes");
- the deployments list is paged by 20 [I: the size is not documented]; predictions
  by 100 [V]; both newest first with full-URL ``next``/``previous`` cursors [V].

Simulated behaviour (not in any vendor document; it exercises the panel):
- instances: a deployment with min_instances ≥ 1 boots ("setting up") for
  ``SANDBOX_PROVISION_SECONDS`` after create or a new version/hardware, then is online;
  with min_instances 0 a prediction cold-boots an instance, which stays up
  ``IDLE_SECONDS`` after its last prediction, then goes offline. None of this is in the
  API (Replicate exposes no instance state): it shows only in prediction timing;
- a prediction starts once an instance is online, processes for a third of the
  provisioning time, then succeeds; every prediction of ``sandbox/broken-model`` fails;
  the ``no_capacity`` fault leaves new instances booting for ever (predictions wait in
  ``starting``);
- webhooks are accepted and checked but never sent; no ``stream`` URL is offered.

There is no balance route: Replicate's API has none (prepaid credit is only on the web).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone

from controlpanel.core.text import plain_int
from controlpanel.sandbox.core import Faults, VendorErrors, endpoint, json_body, json_response
from controlpanel.sandbox.models import SandboxObject

VENDOR = "replicate"
# The kind of SandboxObject a create makes (the lost-answer tests look for it by name).
CREATES = "deployment"
DEPLOYMENTS_PAGE = 20  # [I] not documented
PREDICTIONS_PAGE = 100  # [V]
VERSIONS_PAGE = 100  # [I]
DELETE_AFTER = dt.timedelta(minutes=15)
MIN_INSTANCES_LIMIT, MAX_INSTANCES_LIMIT = 5, 20  # the published OpenAPI's "maximum"s [V]
IDLE_SECONDS = 300  # simulated: "stays warm for a few minutes" (billing docs)
DATA_KEPT = dt.timedelta(hours=1)  # API predictions' input, output and logs [V]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
VERSION_RE = re.compile(r"^[0-9a-f]{64}$")
WEBHOOK_EVENTS = ("start", "output", "logs", "completed")
FAR_FUTURE = dt.timedelta(days=365)

# GET /hardware answers a bare array of {name, sku} [V]; names and skus as on /pricing.
HARDWARE = (
    ("CPU", "cpu"),
    ("Nvidia T4 GPU", "gpu-t4"),
    ("Nvidia A40 GPU", "gpu-a40-small"),
    ("Nvidia A40 (Large) GPU", "gpu-a40-large"),
    ("Nvidia L40S GPU", "gpu-l40s"),
    ("2x Nvidia L40S GPU", "gpu-2x-l40s"),
    ("Nvidia A100 (80GB) GPU", "gpu-a100-large"),
    ("2x Nvidia A100 (80GB) GPU", "gpu-a100-large-2x"),
    ("Nvidia H100 GPU", "gpu-h100"),
)
HARDWARE_SKUS = frozenset(sku for _, sku in HARDWARE)

# The models the seed and the notes deploy, with their version ids, plus a model whose
# predictions always fail. The seed and the notes both use da77bc59… (for some-org/
# some-model and for stability-ai/sdxl): both are accepted, as written.
SEED_VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"
BROKEN_MODEL = "sandbox/broken-model"
BROKEN_ERROR = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.75 GiB total capacity)"
MODELS: dict[str, dict[str, Any]] = {
    "some-org/some-model": {
        "description": "The model in Replicate's create-a-deployment guide.",
        "versions": (
            ("4d17c878d1071d9776e1dda94310607e0cc5a5eca545adba41f9612e2668733d", "2024-03-01T09:00:00.000000Z"),
            (SEED_VERSION, "2024-02-15T16:00:00.000000Z"),
        ),
    },
    "stability-ai/sdxl": {
        "description": "A text-to-image generative AI model that creates beautiful images",
        "versions": (
            (SEED_VERSION, "2024-06-01T12:00:00.000000Z"),
            ("39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b", "2023-11-06T10:00:00.000000Z"),
        ),
    },
    BROKEN_MODEL: {
        "description": "Sandbox only: every prediction fails, to show an unhealthy deployment.",
        "versions": (
            ("7eca302c5eed5fa7556a02eb939c46115a155eb679c45bca9377450152f9f57c", "2025-01-01T00:00:00.000000Z"),
        ),
    },
}
INPUT_SCHEMA = {
    "openapi": "3.0.2",
    "info": {"title": "Cog", "version": "0.1.0"},
    "components": {
        "schemas": {
            "Input": {"type": "object", "properties": {"prompt": {"type": "string", "title": "Prompt"}}},
            "Output": {"type": "array", "items": {"type": "string", "format": "uri"}},
        }
    },
}


def _now() -> dt.datetime:
    return timezone.now()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- errors in Replicate's words: RFC 7807 problem details ----------------------------------------


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response({"title": title, "detail": detail, "status": status}, status=status, headers=headers)


def invalid(detail: str) -> HttpResponse:
    return problem(422, "Invalid request", detail)


def not_found(detail: str = "Not found") -> HttpResponse:
    return problem(404, "Not found", detail)


ERRORS = VendorErrors(
    # Replicate's answer to a missing or bad token.
    unauthorized=lambda: problem(401, "Unauthenticated", "You did not pass a valid authentication token"),
    unavailable=lambda: problem(503, "Service Unavailable", "The service is temporarily unavailable. Try again later."),
    # Exactly the documented body (rate-limits docs); the header as the clients read it.
    rate_limited=lambda seconds: json_response(
        {"detail": f"Request was throttled. Your rate limit resets in ~{seconds}s."},
        status=429,
        headers={"Retry-After": str(seconds)},
    ),
    bad_json=lambda detail: problem(400, "Bad request", f"The request body is not valid JSON: {detail}"),
)


def replicate_key(request: HttpRequest) -> str | None:
    """``Bearer <key>`` [V], or the older ``Token <key>`` of the 2024 changelog [D]."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None


api = endpoint(VENDOR, key=replicate_key, errors=ERRORS)


# --- the simulated account -------------------------------------------------------------------------


def _username(account: str) -> str:
    """Each sandbox key is its own organization, named from the key's digest (never the key)."""
    return f"sandbox-{account[:8]}"


def _account_json(account: str) -> dict[str, Any]:
    return {
        "type": "organization",
        "username": _username(account),
        "name": f"Sandbox org {account[:8]}",
        "github_url": None,
    }


def _objects(account: str, kind: str):
    return SandboxObject.objects.filter(vendor=VENDOR, account=account, kind=kind)


def _provision_seconds() -> float:
    return float(settings.SANDBOX_PROVISION_SECONDS)


# --- cursor paging: full URLs, newest first ------------------------------------------------------------


def _cursor(**values: Any) -> str:
    # Opaque base64 like the notes' example ("cD0yMDI2…" is base64 of "p=2026…").
    return base64.urlsafe_b64encode(urlencode(values).encode()).decode()


def _read_cursor(value: str) -> dict[str, str]:
    try:
        text = base64.urlsafe_b64decode(value.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return {}
    return dict(part.split("=", 1) for part in text.split("&") if "=" in part)


def _page(request: HttpRequest, queryset, size: int, render) -> dict[str, Any]:
    """One page of ``queryset`` (newest first by pk) as ``{next, previous, results}``."""
    cursor = _read_cursor(request.GET.get("cursor", ""))
    position = plain_int(cursor.get("p", ""))
    if position is not None and cursor.get("r") == "1":
        rows = list(queryset.filter(pk__gt=position).order_by("pk")[: size + 1])
        has_more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        has_more_after = True
    else:
        base = queryset.filter(pk__lt=position) if position is not None else queryset
        rows = list(base.order_by("-pk")[: size + 1])
        has_more_after = len(rows) > size
        rows = rows[:size]
        has_more_before = position is not None
    params = {k: v for k, v in request.GET.items() if k != "cursor"}

    def link(**values: Any) -> str:
        return request.build_absolute_uri(f"{request.path}?{urlencode({**params, 'cursor': _cursor(**values)})}")

    return {
        "next": link(p=rows[-1].pk) if rows and has_more_after else None,
        "previous": link(r=1, p=rows[0].pk) if rows and has_more_before else None,
        "results": [render(row) for row in rows],
    }


# --- deployments --------------------------------------------------------------------------------


def _config(data: dict[str, Any]) -> dict[str, Any]:
    return data["current_release"]["configuration"]


def _release(account: str, *, number: int, model: str, version: str, config: dict[str, Any], now: dt.datetime) -> dict:
    return {
        "number": number,
        "model": model,
        "version": version,
        "created_at": _iso(now),
        "created_by": _account_json(account),
        "configuration": dict(config),
    }


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _instance(data: dict[str, Any], now: dt.datetime) -> str:
    """Simulated: "setting up", "online" or "offline" (never shown by the API)."""
    boot = _time(data.get("_boot_done_at"))
    if boot is None or _config(data)["max_instances"] == 0:
        return "offline"
    if now < boot:
        return "setting up"
    if _config(data)["min_instances"] >= 1:
        return "online"
    last = max(boot, _time(data.get("_last_active")) or boot)
    return "online" if (now - last).total_seconds() < IDLE_SECONDS else "offline"


def _boot(data: dict[str, Any], now: dt.datetime, faults: Faults) -> dt.datetime:
    done = now + (FAR_FUTURE if faults.no_capacity else dt.timedelta(seconds=_provision_seconds()))
    data["_boot_done_at"] = _iso(done)
    return done


def _check_config(body: dict[str, Any], merged: dict[str, Any]) -> HttpResponse | None:
    hardware = body.get("hardware")
    if "hardware" in body and (not isinstance(hardware, str) or hardware not in HARDWARE_SKUS):
        return invalid(f"hardware {hardware!r} is not a valid hardware SKU; see GET /v1/hardware")
    for key in ("min_instances", "max_instances"):
        value = body.get(key)
        if key in body and (isinstance(value, bool) or not isinstance(value, int)):
            return invalid(f"{key} must be an integer")
    if merged["min_instances"] < 0:
        return invalid("min_instances must be greater than or equal to 0")
    # The published OpenAPI (deployments.create and deployments.update request schemas)
    # caps min_instances at 5 and max_instances at 20; the twin grants no account more.
    if merged["min_instances"] > MIN_INSTANCES_LIMIT:
        return invalid(f"min_instances must be less than or equal to {MIN_INSTANCES_LIMIT}")
    if merged["max_instances"] > MAX_INSTANCES_LIMIT:
        return invalid(f"max_instances must be less than or equal to {MAX_INSTANCES_LIMIT}")
    # 0 is allowed: the published OpenAPI's deployments.create and deployments.update
    # request schemas give max_instances "minimum": 0 (a deployment that serves nothing).
    if merged["max_instances"] < 0:
        return invalid("max_instances must be greater than or equal to 0")
    if merged["max_instances"] < merged["min_instances"]:
        return invalid("max_instances must be greater than or equal to min_instances")
    return None


def _check_version(model: str, version: Any) -> HttpResponse | None:
    if not isinstance(version, str) or not VERSION_RE.match(version):
        return invalid("version must be a 64-character model version ID")
    if version not in {v for v, _ in MODELS[model]["versions"]}:
        return invalid(f"version {version} does not exist for model {model}")
    return None


def _deployment(account: str, owner: str, name: str) -> SandboxObject | None:
    if owner != _username(account):
        return None  # another owner's deployments are not visible to this key
    return _objects(account, "deployment").filter(name=name).first()


@api
def deployments(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method == "GET":
        return json_response(
            _page(request, _objects(account, "deployment"), DEPLOYMENTS_PAGE, lambda o: _public(o.data))
        )
    if request.method != "POST":
        return problem(405, "Method not allowed", f"{request.method} is not allowed here")
    body = json_body(request)
    if not isinstance(body, dict):
        return problem(400, "Bad request", "The request body must be a JSON object")
    for key in ("name", "model", "version", "hardware", "min_instances", "max_instances"):  # all required [V]
        if body.get(key) is None or body.get(key) == "":
            return invalid(f"{key} is required")
    name, model = body["name"], body["model"]
    if not isinstance(name, str) or len(name) > 100 or not NAME_RE.match(name):
        return invalid("name may contain only lowercase letters, numbers, dashes, underscores and periods")
    if not isinstance(model, str) or model.count("/") != 1:
        return invalid("model must be in the form owner/name")
    if model not in MODELS:
        return invalid(f"model {model} does not exist or you do not have access to it")
    problem_ = _check_version(model, body["version"])
    config = {k: body[k] for k in ("hardware", "min_instances", "max_instances")}
    problem_ = problem_ or _check_config(body, config)
    if problem_:
        return problem_
    now = _now()
    owner = _username(account)
    data = {
        "owner": owner,
        "name": name,
        "current_release": _release(account, number=1, model=model, version=body["version"], config=config, now=now),
        "_zero_since": _iso(now) if config["min_instances"] == 0 else None,
        "_boot_done_at": None,
        "_last_active": None,
    }
    if config["min_instances"] >= 1:
        _boot(data, now, faults)
    obj = SandboxObject(
        vendor=VENDOR, account=account, kind="deployment", object_id=f"{owner}/{name}", name=name, data=data
    )
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        return problem(409, "Conflict", f"A deployment named {name} already exists for {owner}")
    # 200, not 201: the published OpenAPI's deployments.create answers only "200".
    return json_response(_public(data))


@api
def deployment(request: HttpRequest, owner: str, name: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, owner, name)
    if obj is None:
        return not_found("Deployment not found")
    if request.method == "GET":
        return json_response(_public(obj.data))
    if request.method == "DELETE":
        return _delete(obj)
    if request.method != "PATCH":
        return problem(405, "Method not allowed", f"{request.method} is not allowed here")
    body = json_body(request)
    if not isinstance(body, dict):
        return problem(400, "Bad request", "The request body must be a JSON object")
    for fixed in ("model", "name"):
        if fixed in body:
            return invalid(f"{fixed} cannot be changed; update the version, hardware or instances instead")
    for key in ("min_instances", "max_instances"):
        if key in body and (isinstance(body[key], bool) or not isinstance(body[key], int)):
            return invalid(f"{key} must be an integer")
    data = obj.data
    release = data["current_release"]
    old = dict(release["configuration"])
    config = {**old, **{k: body[k] for k in ("hardware", "min_instances", "max_instances") if k in body}}
    version = body.get("version", release["version"])
    problem_ = _check_config(body, config)
    if problem_ is None and "version" in body:
        problem_ = _check_version(release["model"], version)
    if problem_:
        return problem_
    now = _now()
    state = _instance(data, now)
    data["current_release"] = _release(
        account, number=release["number"] + 1, model=release["model"], version=version, config=config, now=now
    )
    new_code = version != release["version"] or config["hardware"] != old["hardware"]
    if config["min_instances"] == 0:
        if old["min_instances"] > 0:
            data["_zero_since"] = _iso(now)
            data["_last_active"] = _iso(now)  # the warm instance idles down from now
        if new_code:
            data["_boot_done_at"] = None  # the old release's idle instance is replaced on demand
    else:
        data["_zero_since"] = None
        if new_code or state == "offline":
            _boot(data, now, faults)
    if config["max_instances"] == 0:
        data["_boot_done_at"] = None  # [I] no instance may run: the ones up stop at once
    obj.save(update_fields=["data", "updated_at"])
    return json_response(_public(data))


def _delete(obj: SandboxObject) -> HttpResponse:
    data, now = obj.data, _now()
    zero_since = _time(data.get("_zero_since"))
    ref = f"{data['owner']}/{data['name']}"
    # When each of its predictions was last busy: now, for one still waiting or running.
    used = [_progress(p.data, now)[2] or now for p in _objects(obj.account, "prediction").filter(name=ref)]
    last_used = max(used, default=None)
    ready = zero_since is not None and now - zero_since >= DELETE_AFTER
    if ready and last_used is not None:
        ready = now - last_used >= DELETE_AFTER
    if not ready:
        return problem(
            409,
            "Deployment in use",
            "You can only delete deployments that have been offline and unused for at least 15 minutes. "
            "Set min_instances to 0 and try again once it has had no predictions for 15 minutes.",
        )
    obj.delete()
    return HttpResponse(status=204)


# --- predictions ------------------------------------------------------------------------------------


def _prediction_id() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()[:26]


def _duration(value: str) -> dt.timedelta | None:
    """``Cancel-After`` durations such as ``30s``, ``1m``, ``1h30m`` (2025-10 changelog)."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value.strip())
    if not value.strip() or parts is None or not any(parts.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    return dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _prefer_wait(request: HttpRequest) -> float | None:
    match = re.fullmatch(r"\s*wait(?:\s*=\s*(\d+))?\s*", request.headers.get("Prefer", ""))
    if match is None:
        return None
    return float(min(max(int(match.group(1) or 60), 1), 60))  # sync mode waits up to 60 s [V]


def _check_prediction_body(body: Any) -> HttpResponse | None:
    if not isinstance(body, dict):
        return problem(400, "Bad request", "The request body must be a JSON object")
    if not isinstance(body.get("input"), dict):
        return invalid("input is required and must be an object")
    webhook = body.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or not webhook.startswith("https://")):
        return invalid("webhook must be an HTTPS URL")
    events = body.get("webhook_events_filter")
    if events is not None and (not isinstance(events, list) or any(e not in WEBHOOK_EVENTS for e in events)):
        return invalid(f"webhook_events_filter may contain only {', '.join(WEBHOOK_EVENTS)}")
    return None


def _new_prediction(
    request: HttpRequest,
    account: str,
    *,
    model: str,
    version: str,
    body: dict[str, Any],
    host: SandboxObject | None,
    faults: Faults,
) -> HttpResponse:
    deadline = None
    if request.headers.get("Cancel-After"):
        after = _duration(request.headers["Cancel-After"])
        if after is None:
            return invalid("Cancel-After must be a duration such as 30s, 5m or 1h")
        deadline = after
    now = _now()
    if host is not None:
        state = _instance(host.data, now)
        if state == "online":
            start = now
        elif state == "setting up":
            start = _time(host.data["_boot_done_at"])
        else:
            start = _boot(host.data, now, faults)  # a cold boot
    else:
        start = now  # the shared pool of a public model (not simulated further)
    done = start + dt.timedelta(seconds=_provision_seconds() / 3)
    ref = f"{host.data['owner']}/{host.data['name']}" if host else ""
    data = {
        "id": _prediction_id(),
        "model": model,
        "version": version,
        "input": body["input"],
        "created_at": _iso(now),
        "source": "api",
        "_start_at": _iso(start),
        "_done_at": _iso(done),
        "_outcome": "failed" if model == BROKEN_MODEL else "succeeded",
        "_deadline": _iso(now + deadline) if deadline is not None else None,
    }
    if ref:
        data["deployment"] = ref
    for key in ("webhook", "webhook_events_filter"):
        if key in body:
            data[key] = body[key]
    obj = SandboxObject.objects.create(
        vendor=VENDOR, account=account, kind="prediction", object_id=data["id"], name=ref, data=data
    )
    if host is not None:
        last = _time(host.data.get("_last_active"))
        host.data["_last_active"] = _iso(max(done, last) if last else done)
        host.save(update_fields=["data", "updated_at"])
    wait = _prefer_wait(request)
    if wait is not None:
        # Sync mode: hold the answer until the prediction is done or the wait runs out [V].
        time.sleep(max(0.0, min(wait, (done - _now()).total_seconds() + 0.05)))
    return json_response(_prediction_json(request, obj), status=201)


def _progress(data: dict[str, Any], now: dt.datetime) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """A prediction's status, started_at and completed_at at ``now``, from its simulated
    schedule: waiting for an instance, then processing, then its outcome; a cancel or a
    ``Cancel-After`` deadline before it starts aborts it (2025-10 changelog), while it
    runs cancels it."""
    start, done = _time(data["_start_at"]), _time(data["_done_at"])
    canceled, deadline = _time(data.get("_canceled_at")), _time(data.get("_deadline"))
    stops = [t for t in (canceled, deadline) if t is not None and t <= now]
    stop = min(stops) if stops else None
    if stop is not None and stop < start:
        by_deadline = stop == deadline and (canceled is None or deadline < canceled)
        return ("aborted" if by_deadline else "canceled"), None, stop
    if now < start:
        return "starting", None, None
    if stop is not None and stop < done:
        return "canceled", start, stop
    if now < done:
        return "processing", start, None
    return data["_outcome"], start, done


def _prediction_json(request: HttpRequest, obj: SandboxObject, *, listing: bool = False) -> dict[str, Any]:
    data, now = obj.data, _now()
    created = _time(data["created_at"])
    status, started_at, completed_at = _progress(data, now)
    error = BROKEN_ERROR if status == "failed" else None
    removed = status in ("succeeded", "failed", "canceled", "aborted") and now - created >= DATA_KEPT
    output = None
    if status == "succeeded" and not removed:
        output = [f"https://replicate.delivery/sandbox/{data['id']}/out-0.png"]
    logs = ""
    if started_at is not None:
        logs = "Starting prediction\n" + ("" if status == "processing" else f"Prediction {status}\n")
    url = request.build_absolute_uri(reverse("sandbox:replicate-prediction", args=[data["id"]]))
    out: dict[str, Any] = {
        "id": data["id"],
        "model": data["model"],
        "version": data["version"],
        "input": None if removed else data["input"],
        "output": output,
        "error": error,
        "status": status,
        "source": data.get("source", "api"),
        "data_removed": removed,
        "created_at": data["created_at"],
        "started_at": _iso(started_at) if started_at else None,
        "completed_at": _iso(completed_at) if completed_at else None,
        "urls": {"get": url, "cancel": f"{url}/cancel", "web": f"https://replicate.com/p/{data['id']}"},
    }
    if not listing:
        out["logs"] = None if removed else logs  # the full object; list items leave logs out
    if data.get("deployment"):
        out["deployment"] = data["deployment"]
    if data.get("_deadline"):
        out["deadline"] = data["_deadline"]
    if completed_at is not None and started_at is not None:
        out["metrics"] = {
            "predict_time": round((completed_at - started_at).total_seconds(), 3),
            "total_time": round((completed_at - created).total_seconds(), 3),
        }
    return out


@api
def deployment_predictions(
    request: HttpRequest, owner: str, name: str, *, account: str, faults: Faults
) -> HttpResponse:
    if request.method != "POST":
        return problem(405, "Method not allowed", f"{request.method} is not allowed here")
    host = _deployment(account, owner, name)
    if host is None:
        return not_found("Deployment not found")
    body = json_body(request)
    problem_ = _check_prediction_body(body)
    if problem_:
        return problem_
    if _config(host.data)["max_instances"] == 0:
        # [I] What Replicate answers here is not published; the twin refuses, so a stopped
        # deployment serves no predictions and none counts as use against the delete rule.
        return problem(
            409,
            "Deployment stopped",
            "max_instances is 0, so this deployment serves no predictions; set max_instances to 1 or more to start it.",
        )
    release = host.data["current_release"]
    return _new_prediction(
        request, account, model=release["model"], version=release["version"], body=body, host=host, faults=faults
    )


def _parse_version_ref(ref: Any) -> tuple[str, str] | None:
    """``owner/name:<id>`` or ``<id>`` [V] (``owner/name`` alone is for official models, none here)."""
    if not isinstance(ref, str):
        return None
    model, _, version = ref.rpartition(":")
    for known, info in MODELS.items():
        versions = {v for v, _ in info["versions"]}
        if version in versions and model in ("", known):
            return known, version
    return None


@api
def predictions(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method == "POST":
        body = json_body(request)
        problem_ = _check_prediction_body(body)
        if problem_:
            return problem_
        found = _parse_version_ref(body.get("version"))
        if found is None:
            return invalid("version is required and must be a model version you have access to")
        return _new_prediction(request, account, model=found[0], version=found[1], body=body, host=None, faults=faults)
    if request.method != "GET":
        return problem(405, "Method not allowed", f"{request.method} is not allowed here")
    bounds = {}
    for key in ("created_after", "created_before"):
        if request.GET.get(key):
            try:
                moment = _time(request.GET[key])
            except ValueError:
                return invalid(f"{key} must be an ISO 8601 date-time")
            bounds[key] = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    objects = _objects(account, "prediction")
    if bounds:
        after, before = bounds.get("created_after"), bounds.get("created_before")
        keep = [
            o.pk
            for o in objects
            if (after is None or _time(o.data["created_at"]) > after)
            and (before is None or _time(o.data["created_at"]) < before)
        ]
        objects = objects.filter(pk__in=keep)
    return json_response(
        _page(request, objects, PREDICTIONS_PAGE, lambda o: _prediction_json(request, o, listing=True))
    )


@api
def prediction(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _objects(account, "prediction").filter(object_id=ref).first()
    if obj is None:
        return not_found("Prediction not found")
    return json_response(_prediction_json(request, obj))


@api
def prediction_cancel(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method != "POST":
        return problem(405, "Method not allowed", f"{request.method} is not allowed here")
    obj = _objects(account, "prediction").filter(object_id=ref).first()
    if obj is None:
        return not_found("Prediction not found")
    if _progress(obj.data, _now())[0] in ("starting", "processing"):
        obj.data["_canceled_at"] = _iso(_now())
        obj.save(update_fields=["data", "updated_at"])
    return json_response(_prediction_json(request, obj))


# --- catalog and account ---------------------------------------------------------------------------


@api
def hardware(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return json_response([{"name": name, "sku": sku} for name, sku in HARDWARE])


@api
def account_view(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return json_response(_account_json(account))


def _version_json(version: str, created_at: str) -> dict[str, Any]:
    return {"id": version, "created_at": created_at, "cog_version": "0.9.4", "openapi_schema": INPUT_SCHEMA}


def _model_json(ref: str) -> dict[str, Any]:
    owner, name = ref.split("/")
    info = MODELS[ref]
    latest = info["versions"][0]
    return {
        "url": f"https://replicate.com/{ref}",
        "owner": owner,
        "name": name,
        "description": info["description"],
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": 0,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": _version_json(*latest),
    }


@api
def model(request: HttpRequest, owner: str, name: str, *, account: str, faults: Faults) -> HttpResponse:
    ref = f"{owner}/{name}"
    if ref not in MODELS:
        return not_found("Model not found")
    return json_response(_model_json(ref))


@api
def model_versions(request: HttpRequest, owner: str, name: str, *, account: str, faults: Faults) -> HttpResponse:
    ref = f"{owner}/{name}"
    if ref not in MODELS:
        return not_found("Model not found")
    # A handful per model: one page, newest first, with the cursor fields [V].
    results = [_version_json(v, at) for v, at in MODELS[ref]["versions"]][:VERSIONS_PAGE]
    return json_response({"next": None, "previous": None, "results": results})


@api
def model_version(
    request: HttpRequest, owner: str, name: str, version: str, *, account: str, faults: Faults
) -> HttpResponse:
    ref = f"{owner}/{name}"
    found = next((v for v in MODELS.get(ref, {}).get("versions", ()) if v[0] == version), None)
    if found is None:
        return not_found("Version not found")
    return json_response(_version_json(*found))


urlpatterns = [
    path("v1/account", account_view, name="replicate-account"),
    path("v1/hardware", hardware, name="replicate-hardware"),
    path("v1/deployments", deployments, name="replicate-deployments"),
    path("v1/deployments/<str:owner>/<str:name>", deployment, name="replicate-deployment"),
    path(
        "v1/deployments/<str:owner>/<str:name>/predictions",
        deployment_predictions,
        name="replicate-deployment-predictions",
    ),
    path("v1/predictions", predictions, name="replicate-predictions"),
    path("v1/predictions/<str:ref>", prediction, name="replicate-prediction"),
    # Fidelity only, on purpose: the adapter neither cancels predictions nor reads models;
    # Replicate's official client calls these (test_official_client.py points it at the twin).
    path("v1/predictions/<str:ref>/cancel", prediction_cancel, name="replicate-prediction-cancel"),
    path("v1/models/<str:owner>/<str:name>", model, name="replicate-model"),
    path("v1/models/<str:owner>/<str:name>/versions", model_versions, name="replicate-model-versions"),
    path("v1/models/<str:owner>/<str:name>/versions/<str:version>", model_version, name="replicate-model-version"),
]
