"""Together AI's container deployments API, as a twin under ``/sandbox/together/v1/``.

Shapes follow the OpenAPI excerpt in ``providers/together/openapi.json`` (from the
seed) and ``shared/vendor-apis/together.md``. Request bodies are validated against
that schema, plus the rules the schema states in prose (name pattern, one of
``value``/``value_from_secret``, max ≥ min). Errors use ``ErrorData``
(``{"error": {message, type, param, code}}``), the shape Together's other routes
document; the deployment routes declare only "an object" (notes §4).

Simulated behaviour (not in any vendor document; chosen to exercise the panel):
- a new or changed deployment is ``Updating`` for ``SANDBOX_PROVISION_SECONDS``,
  then ``Ready``; replica changes go through ``Scaling``;
- an image whose name contains ``crashloop`` fails with ``CrashLoopBackOff``, one
  containing ``does-not-exist`` with ``ImagePullBackOff``; the ``no_capacity`` fault
  fails new rollouts as unschedulable.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import secrets
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from jsonschema import Draft202012Validator

import providers
from controlpanel.sandbox.core import Faults, VendorErrors, bearer_key, endpoint, json_body, json_response
from controlpanel.sandbox.models import SandboxObject

VENDOR = "together"
# The kind of SandboxObject a create makes (the lost-answer tests look for it by name).
CREATES = "deployment"
SCHEMA_FILE = Path(providers.__file__).parent / "together" / "openapi.json"
SPEC_FIELDS = (
    "image",
    "gpu_type",
    "gpu_count",
    "cpu",
    "memory",
    "storage",
    "port",
    "health_check_path",
    "command",
    "args",
    "environment_variables",
    "volumes",
    "termination_grace_period_seconds",
    "model_mounts",  # the SDK's (together 3.1.1, types/beta/jig_deploy_params.py ModelMount)
)
SEEDED_SECRETS = ("hf-token", "openai-api-key")
SEEDED_VOLUMES = ("demo-weights", "flux-weights")
# Illustrative /hardware rates (cents per minute) for the sandbox's catalog.
HARDWARE = (
    ("1x_nvidia_h100_80gb_sxm", "h100", 80, 1, 5.6),
    ("2x_nvidia_h100_80gb_sxm", "h100", 80, 2, 11.2),
    ("1x_nvidia_b200_192gb_sxm", "b200", 192, 1, 16.58),
    ("1x_nvidia_h100_40gb_mig", "h100", 40, 1, 2.8),
)


# --- errors in Together's words ------------------------------------------------------------


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_response(body, status=status, headers=headers)


ERRORS = VendorErrors(
    unauthorized=lambda: error(
        401,
        "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
        code="invalid_api_key",
    ),
    unavailable=lambda: error(503, "The server is overloaded or not ready yet.", type_="server_error"),
    rate_limited=lambda seconds: error(
        429,
        "Rate limit exceeded, please try again later.",
        type_="rate_limit_exceeded",
        headers={"Retry-After": str(seconds)},
    ),
    bad_json=lambda detail: error(400, f"Request body is not valid JSON: {detail}"),
)
api = endpoint(VENDOR, key=bearer_key, errors=ERRORS)


# --- schema validation ------------------------------------------------------------------------


NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # "alphanumeric ... (1-100 characters)" [V]
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # EnvironmentVariable.name's prose [V]
NULL = {"type": "null"}
EMPTY_OBJECT = {"type": "object", "maxProperties": 0}


def _with_sdk_enums(components: dict[str, Any]) -> dict[str, Any]:
    """The seed's schemas with what the official SDK's enums add: the status
    ``ScaledToZero`` (PyPI together 3.1.1, ``together/types/beta/container_deployment_status.py``;
    npm together-ai 0.52.0, ``resources/beta/jig/jig.d.ts``) and the GPU type
    ``h200-140gb`` (together 3.1.1, ``together/types/beta/jig_deploy_params.py`` and
    ``deployment.py``, both ``gpu_type``), which goes before ``b200-192gb`` as there; and
    the property ``capacity_type``, ``"stable"`` or ``"preemptible"`` (the same files and
    ``jig_update_params.py``)."""
    schemas = components["schemas"]
    for status_enum in (schemas["DeploymentStatus"], schemas["DeploymentResponseItem"]["properties"]["status"]):
        status_enum["enum"] = [*status_enum["enum"], "ScaledToZero"]
    for name in ("CreateDeploymentRequest", "DeploymentResponseItem"):
        gpu_enum = schemas[name]["properties"]["gpu_type"]
        gpu_enum["enum"] = [g for g in gpu_enum["enum"] if g != "b200-192gb"] + ["h200-140gb", "b200-192gb"]
        schemas[name]["properties"]["capacity_type"] = {"type": "string", "enum": ["stable", "preemptible"]}
        schemas[name]["properties"]["model_mounts"] = MODEL_MOUNTS
    return components


# ``model_mounts`` (together 3.1.1, types/beta/jig_deploy_params.py and jig_update_params.py,
# ``ModelMount``: model_id and mount_path required, revision_id optional; deployment.py has the
# same on the deployment): "Model weights to preload from Together's model registry into the
# container. At most one mount is supported, and it cannot be used with volumes."
MODEL_MOUNTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["model_id", "mount_path"],
        "properties": {
            "model_id": {"type": "string"},
            "mount_path": {"type": "string"},
            "revision_id": {"type": "string"},
        },
    },
}


@cache
def _validators() -> tuple[Draft202012Validator, Draft202012Validator, Draft202012Validator]:
    doc = json.loads(SCHEMA_FILE.read_text())
    components = _with_sdk_enums(doc["components"])
    # autoscaling is a oneOf of three open objects, so the schema alone refuses what its
    # own prose allows: null on create ("Omit or set to null to disable") and {} on
    # PATCH ("Set to {} to disable", notes §4 and the SDK's jig_update_params).
    create_schema = copy.deepcopy(components["schemas"]["CreateDeploymentRequest"])
    autoscaling = create_schema["properties"]["autoscaling"]
    create_schema["properties"]["autoscaling"] = {"anyOf": [NULL, autoscaling]}
    create = {"components": components, **create_schema}
    update_schema = copy.deepcopy(create_schema)
    update_schema.pop("required", None)
    update_schema["properties"]["autoscaling"] = {"anyOf": [NULL, EMPTY_OBJECT, autoscaling]}
    update = {"components": components, **update_schema}
    response = {"components": components, "$ref": "#/components/schemas/DeploymentResponseItem"}
    return Draft202012Validator(create), Draft202012Validator(update), Draft202012Validator(response)


def response_validator() -> Draft202012Validator:
    return _validators()[2]


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


def _check_body(body: Any, *, account: str, partial: bool, current: SandboxObject | None = None) -> HttpResponse | None:
    """The first problem with a create/update body, answered as Together would, or None."""
    if not isinstance(body, dict):
        return error(400, "Request body must be a JSON object.")
    validator = _validators()[1 if partial else 0]
    problems = sorted(validator.iter_errors(body), key=lambda e: (len(e.path), _path(e.path)))
    if problems:
        first = problems[0]
        if first.validator == "required":
            # The object missing the field may be nested (volumes.0 without mount_path).
            missing = next((f for f in first.validator_value if f not in first.instance), "")
            where = _path([*first.absolute_path, missing])
            return error(400, f"{where} is required", param=where)
        where = _path(first.absolute_path)
        return error(400, f"{where or 'body'}: {first.message}", param=where or None)
    name = body.get("name")
    if name is not None and not NAME_RE.match(name):
        return error(
            400,
            "name must contain only alphanumeric characters, underscores, or hyphens (1-100 characters)",
            param="name",
        )
    for i, env in enumerate(body.get("environment_variables") or []):
        if not ENV_NAME_RE.match(env["name"]):
            return error(
                400, f"invalid environment variable name {env.get('name')!r}", param=f"environment_variables.{i}.name"
            )
        if ("value" in env) == ("value_from_secret" in env):
            return error(
                400,
                "either value or value_from_secret must be set, but not both",
                param=f"environment_variables.{i}.value",
            )
        if "value_from_secret" in env and not _find(account, "secret", env["value_from_secret"]):
            return error(
                400,
                f"secret {env['value_from_secret']!r} not found",
                param=f"environment_variables.{i}.value_from_secret",
            )
    for i, volume in enumerate(body.get("volumes") or []):
        if not _find(account, "volume", volume["name"]):
            return error(400, f"volume {volume['name']!r} not found", param=f"volumes.{i}.name")
    mounts = body.get("model_mounts", current.data.get("model_mounts") if current else None) or []
    volumes = body.get("volumes", current.data.get("volumes") if current else None) or []
    if len(mounts) > 1:
        return error(400, "at most one model mount is supported", param="model_mounts")
    if mounts and volumes:
        return error(400, "model_mounts cannot be used with volumes", param="model_mounts")
    low = body.get("min_replicas", current.data.get("min_replicas", 1) if current else 1)
    high = body.get("max_replicas", current.data.get("max_replicas", low) if current else low)
    if high < low:
        return error(400, "max_replicas must be greater than or equal to min_replicas", param="max_replicas")
    if low < 0:
        return error(400, "min_replicas must be >= 0", param="min_replicas")
    return None


# --- the simulated account ---------------------------------------------------------------------------


def _seed(account: str) -> None:
    """Every new sandbox account starts with a couple of secrets and volumes to reference."""
    if SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="secret").exists():
        return
    now = timezone.now().isoformat().replace("+00:00", "Z")
    for name in SEEDED_SECRETS:
        SandboxObject.objects.get_or_create(
            vendor=VENDOR,
            account=account,
            kind="secret",
            object_id=f"sec_{secrets.token_hex(6)}",
            name=name,
            defaults={
                "data": {
                    "object": "secret",
                    "name": name,
                    "description": "sandbox secret",
                    "created_at": now,
                    "updated_at": now,
                    "created_by": "sandbox",
                    "last_updated_by": "sandbox",
                }
            },
        )
    for name in SEEDED_VOLUMES:
        SandboxObject.objects.get_or_create(
            vendor=VENDOR,
            account=account,
            kind="volume",
            object_id=f"vol_{secrets.token_hex(6)}",
            name=name,
            defaults={
                "data": {
                    "object": "volume",
                    "name": name,
                    "type": "readOnly",
                    "current_version": 1,
                    "content": {"type": "files", "source_prefix": f"models/{name}/", "files": []},
                    "mounted_by": [],
                    "created_at": now,
                    "updated_at": now,
                }
            },
        )


def _find(account: str, kind: str, ref: str) -> SandboxObject | None:
    objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind=kind)
    return objects.filter(object_id=ref).first() or objects.filter(name=ref).first()


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _replica_names(data: dict[str, Any], count: int) -> list[str]:
    stem = f"{data['name']}-{data['_revision_hash']}"
    return [f"{stem}-{secrets.token_hex(3)[:5]}" for _ in range(count)]


def _failure_for(data: dict[str, Any], faults: Faults) -> tuple[str, str] | None:
    image = data.get("image", "")
    if "crashloop" in image:
        return "CrashLoopBackOff", "back-off 40s restarting failed container"
    if "does-not-exist" in image:
        return "ImagePullBackOff", f'Back-off pulling image "{image}": manifest unknown'
    if faults.no_capacity:
        return "Unschedulable", "0/12 nodes are available: 12 Insufficient nvidia.com/gpu."
    return None


def _start_rollout(obj: SandboxObject, faults: Faults, *, status: str, seconds: float) -> None:
    data = obj.data
    data["status"] = status
    data["_revision_hash"] = secrets.token_hex(3)[:5]
    data["_failure"] = _failure_for(data, faults)
    waiting = _replica_names(data, max(data["desired_replicas"], 0))
    data["ready_replicas"] = 0 if status == "Updating" else min(data.get("ready_replicas", 0), data["desired_replicas"])
    data["replica_events"] = {
        name: {
            "replica_status": "Waiting",
            "replica_status_reason": "ContainerCreating",
            "replica_status_message": "",
            "revision_id": _active_revision_id(data),
            "image": data["image"],
        }
        for name in waiting
    }
    obj.due_at = timezone.now() + dt.timedelta(seconds=seconds)


def _advance(obj: SandboxObject) -> SandboxObject:
    """Finish a rollout whose time has come: Ready (or Failed, for the simulated faults)."""
    if obj.due_at is None or timezone.now() < obj.due_at:
        return obj
    data = obj.data
    ready_since = _iso(obj.due_at)
    failure = data.get("_failure")
    if failure:
        reason, message = failure
        data["status"] = "Failed"
        data["ready_replicas"] = 0
        for event in data["replica_events"].values():
            event.update(replica_status="Waiting", replica_status_reason=reason, replica_status_message=message)
    else:
        # A deployment stopped with min/max 0 settles as ScaledToZero, not Ready: the SDK's
        # status enum (together 3.1.1, together/types/beta/container_deployment_status.py)
        # and its CLI (lib/cli/api/beta/jig/jig.py, Jig.track: min 0, desired 0, ScaledToZero).
        parked = data.get("min_replicas") == 0 and data.get("max_replicas") == 0
        data["status"] = "ScaledToZero" if parked else "Ready"
        data["ready_replicas"] = data["desired_replicas"]
        data["replica_events"] = {
            name: {
                **event,
                "replica_status": "Running",
                "replica_status_reason": "",
                "replica_status_message": "",
                "replica_ready_since": ready_since,
                "volume_preload_status": "Completed" if data.get("volumes") else None,
            }
            for name, event in data["replica_events"].items()
        }
        for event in data["replica_events"].values():
            if event["volume_preload_status"] is None:
                del event["volume_preload_status"]
    data["updated_at"] = ready_since
    obj.due_at = None
    obj.save(update_fields=["data", "due_at", "updated_at"])
    return obj


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("_") and v is not None}


def _deployment(account: str, ref: str) -> SandboxObject | None:
    obj = _find(account, "deployment", ref)
    return _advance(obj) if obj else None


def _not_found(ref: str) -> HttpResponse:
    return error(404, f"deployment {ref!r} not found", type_="not_found_error", code="not_found")


# --- views ---------------------------------------------------------------------------------------


@api
def deployments(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    _seed(account)
    if request.method == "GET":
        objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="deployment").order_by("created_at")
        return json_response({"object": "list", "data": [_public(_advance(o).data) for o in objects]})
    if request.method != "POST":
        return error(405, "Method not allowed")
    body = json_body(request)
    problem = _check_body(body, account=account, partial=False)
    if problem:
        return problem
    now = timezone.now()
    low = body.get("min_replicas", 1)
    data = {
        "id": f"dep_{secrets.token_hex(8)}",
        "object": "deployment",
        "name": body["name"],
        "description": body.get("description", ""),
        "gpu_count": body.get("gpu_count", 0),  # API default 0 [V]
        "min_replicas": low,
        "max_replicas": body.get("max_replicas", low),
        "desired_replicas": low,
        "ready_replicas": 0,
        "created_at": _iso(now),
        "updated_at": _iso(now),
        "_revision": 1,
        # capacity_type: the SDK's (together 3.1.1, types/beta/jig_deploy_params.py). Like
        # autoscaling, a change of it is not taken to roll the replicas (not documented).
        **{k: body[k] for k in (*SPEC_FIELDS, "autoscaling", "capacity_type") if k in body},
    }
    obj = SandboxObject(
        vendor=VENDOR, account=account, kind="deployment", object_id=data["id"], name=data["name"], data=data
    )
    _record_revision(data, action="create", now=now)
    _start_rollout(obj, faults, status="Updating", seconds=settings.SANDBOX_PROVISION_SECONDS)
    try:
        with transaction.atomic():
            if SandboxObject.objects.filter(
                vendor=VENDOR, account=account, kind="deployment", name=data["name"]
            ).exists():
                raise IntegrityError
            obj.save()
    except IntegrityError:
        return error(400, f"a deployment named {data['name']!r} already exists", param="name", code="already_exists")
    return json_response(_public(obj.data))


@api
def deployment(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, ref)
    if obj is None:
        return _not_found(ref)
    if request.method == "GET":
        return json_response(_public(obj.data))
    if request.method == "DELETE":
        obj.delete()
        return json_response({})
    if request.method != "PATCH":
        return error(405, "Method not allowed")
    body = json_body(request)
    problem = _check_body(body, account=account, partial=True, current=obj)
    if problem:
        return problem
    data = obj.data
    new_name = body.get("name", data["name"])
    if new_name != data["name"] and _find(account, "deployment", new_name):
        return error(400, f"a deployment named {new_name!r} already exists", param="name", code="already_exists")
    spec_changed = any(k in body and body[k] != data.get(k) for k in SPEC_FIELDS)
    for key, value in body.items():
        if key == "autoscaling" and not value:
            data.pop("autoscaling", None)  # {} turns autoscaling off [V]
        elif key == "health_check_path" and value == "":
            data.pop("health_check_path", None)  # "" turns health checks off [V]
        else:
            data[key] = value
    data["max_replicas"] = body.get("max_replicas", max(data.get("max_replicas", 1), data.get("min_replicas", 1)))
    desired = min(max(data.get("min_replicas", 1), 0), data["max_replicas"])
    replicas_changed = desired != data["desired_replicas"]
    data["desired_replicas"] = desired
    data["updated_at"] = _iso(timezone.now())
    obj.name = data["name"]
    if spec_changed:
        data["_revision"] = data.get("_revision", 1) + 1
        _record_revision(data, action="update", now=timezone.now())
        _start_rollout(obj, faults, status="Updating", seconds=settings.SANDBOX_PROVISION_SECONDS)
    elif replicas_changed:
        _start_rollout(obj, faults, status="Scaling", seconds=settings.SANDBOX_PROVISION_SECONDS / 2)
    obj.save()
    return json_response(_public(obj.data))


@api
def logs(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, ref)
    if obj is None:
        return _not_found(ref)
    data = obj.data
    replica = request.GET.get("replica_id")
    if replica and replica not in data.get("replica_events", {}):
        return error(404, f"replica {replica!r} not found", type_="not_found_error")
    created = dt.datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
    lines = [
        f'{_iso(created)} Pulling image "{data["image"]}"',
        f"{_iso(created)} Successfully pulled image",
        f"{_iso(created)} Created container",
        f"{_iso(created)} Started container",
        "INFO Setup in progress... 0",
    ]
    if data["status"] == "Failed":
        reason = (data.get("_failure") or ["Error", ""])[0]
        lines.append(f"ERROR container exited: {reason}")
    elif data["status"] in ("Ready", "Scaling") and data.get("ready_replicas"):
        lines.append("INFO ready")
        since = max(
            (timezone.now() - dt.datetime.fromisoformat(data["updated_at"].replace("Z", "+00:00"))).total_seconds(), 0
        )
        # One request line every two seconds since ready, so "follow" has news to show.
        for i in range(min(int(since // 2), 200)):
            lines.append(f'INFO 10.0.0.{i % 250 + 2} "GET {data.get("health_check_path") or "/"} HTTP/1.1" 200')
    return json_response({"lines": lines})


@api
def secrets_list(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    _seed(account)
    if request.method == "POST":
        body = json_body(request) or {}
        if not isinstance(body, dict):
            return error(400, "the request body must be a JSON object")
        name, value = body.get("name"), body.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            return error(400, "name and value must be strings", param="name" if not isinstance(name, str) else "value")
        if not name or not value:
            return error(400, "name and value are required", param="name" if not name else "value")
        if _find(account, "secret", name):
            return error(400, f"a secret named {name!r} already exists", param="name")
        now = _iso(timezone.now())
        obj = SandboxObject.objects.create(
            vendor=VENDOR,
            account=account,
            kind="secret",
            object_id=f"sec_{secrets.token_hex(6)}",
            name=name,
            data={
                "object": "secret",
                "name": name,
                "description": body.get("description", ""),
                "created_at": now,
                "updated_at": now,
                "created_by": "api",
                "last_updated_by": "api",
            },
        )
        return json_response({"id": obj.object_id, **obj.data})
    objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="secret")
    return json_response({"object": "list", "data": [{"id": o.object_id, **o.data} for o in objects]})


@api
def volumes_list(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    _seed(account)
    objects = SandboxObject.objects.filter(vendor=VENDOR, account=account, kind="volume")
    return json_response({"object": "list", "data": [{"id": o.object_id, **o.data} for o in objects]})


@api
def hardware(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    now = _iso(timezone.now())
    data = [
        {
            "object": "hardware",
            "id": hw_id,
            "pricing": {"cents_per_minute": cents},
            "specs": {"gpu_type": gpu, "gpu_link": "sxm", "gpu_memory": memory, "gpu_count": count},
            "availability": {"status": "unavailable" if faults.no_capacity else "available"},
            "updated_at": now,
        }
        for hw_id, gpu, memory, count, cents in HARDWARE
    ]
    return json_response({"object": "list", "data": data})


@api
def deployment_request(request: HttpRequest, name: str, *, account: str, faults: Faults) -> HttpResponse:
    """The deployment's own HTTP endpoint: answers like a tiny app once Ready."""
    obj = _deployment(account, name)
    if obj is None or obj.data.get("status") != "Ready" or not obj.data.get("ready_replicas"):
        return error(503, f"deployment {name!r} has no ready replicas", type_="server_error")
    replica = next(iter(obj.data["replica_events"]), "")
    return json_response({"deployment": name, "replica": replica, "path": request.path, "method": request.method})


# --- revisions and rollback -----------------------------------------------------------------------
# Shapes: together 3.1.1 types/beta/deployment_revision.py (DeploymentRevision),
# deployment_revision_event.py and deployment_revision_event_list.py (the history, newest first),
# jig_list_revisions_params.py (before, limit: default 10, max 100), jig_rollback_params.py
# (revision_identifier: "Revision number or revision ID"); resources/beta/jig/jig.py: "Only the
# 200 most recent events are retained", "Only the 50 most recent revisions per deployment retain
# their configuration; older revisions return 404", rollback "Re-applies the spec of a previous
# revision" and answers the Deployment. Ours [I]: a revision is made by a change of the spec
# fields (a scale or a stop is not one), and a rollback keeps today's replica bounds.

EVENTS_KEPT = 200
REVISIONS_KEPT = 50
REVISION_FIELDS = (*SPEC_FIELDS, "autoscaling", "capacity_type")


def _active_revision_id(data: dict[str, Any]) -> str:
    events = data.get("_revision_events") or []
    return events[0]["revision_id"] if events else f"rev-{data.get('_revision', 1)}"


def _record_revision(data: dict[str, Any], *, action: str, now: dt.datetime) -> None:
    """A new revision of the current spec (create, update), and its history event."""
    number = data.get("_revision", 1)
    revision = {
        "object": "revision",
        "revision_id": str(uuid.uuid4()),  # a UUID, as the logs route's ``revision`` filter says
        "created_at": _iso(now),
        "args": data.get("args") or [],
        "command": data.get("command") or [],
        "capacity_type": data.get("capacity_type") or "stable",  # required in the shape; no default named
        "cpu": data.get("cpu", 0),
        "memory": data.get("memory", 0),
        "storage": data.get("storage", 0),
        "gpu_count": data.get("gpu_count", 0),
        "gpu_type": data.get("gpu_type", ""),
        "health_check_path": data.get("health_check_path", ""),
        "image": data.get("image", ""),
        "port": data.get("port", 8080),
        "protocol": "http",
        "min_replicas": data.get("min_replicas", 1),
        "max_replicas": data.get("max_replicas", 1),
        "environment_variables": data.get("environment_variables") or [],
        "volumes": data.get("volumes") or [],
        **{k: data[k] for k in ("autoscaling", "termination_grace_period_seconds", "model_mounts") if k in data},
        "_number": number,
    }
    data["_revisions"] = [revision, *(data.get("_revisions") or [])][:REVISIONS_KEPT]
    _record_event(data, revision, action=action, now=now)


def _record_event(data: dict[str, Any], revision: dict[str, Any], *, action: str, now: dt.datetime) -> None:
    events = data.get("_revision_events") or []
    event = {
        "object": "revision_event",
        "event_number": (events[0]["event_number"] + 1) if events else 1,
        "action": action,
        "activated_at": _iso(now),
        "image": revision["image"],
        "revision_id": revision["revision_id"],
        "revision_number": revision["_number"],
    }
    data["_revision_events"] = [event, *events][:EVENTS_KEPT]


def _revision(data: dict[str, Any], identifier: str) -> dict[str, Any] | None:
    """A retained revision by number or id; the active one is always retained."""
    for revision in data.get("_revisions") or []:
        if identifier in (revision["revision_id"], str(revision["_number"])):
            return revision
    return None


def _whole(value: str | None, *, default: int) -> int | None:
    if value is None or value == "":
        return default
    return int(value) if value.isdigit() else None


@api
def revisions(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, ref)
    if obj is None:
        return _not_found(ref)
    if request.method != "GET":
        return error(405, "Method not allowed")
    limit = _whole(request.GET.get("limit"), default=10)
    before = _whole(request.GET.get("before"), default=0)
    if limit is None or not 1 <= limit <= 100:
        return error(400, "limit must be between 1 and 100", param="limit")
    if before is None:
        return error(400, "before must be an integer", param="before")
    events = [e for e in obj.data.get("_revision_events") or [] if not before or e["event_number"] < before]
    return json_response({"object": "list", "data": events[:limit]})


@api
def revision(request: HttpRequest, ref: str, identifier: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, ref)
    if obj is None:
        return _not_found(ref)
    found = _revision(obj.data, identifier)
    if found is None:
        return error(404, f"revision {identifier!r} not found", type_="not_found_error", code="not_found")
    return json_response({k: v for k, v in found.items() if not k.startswith("_")})


@api
def rollback(request: HttpRequest, ref: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _deployment(account, ref)
    if obj is None:
        return _not_found(ref)
    if request.method != "POST":
        return error(405, "Method not allowed")
    body = json_body(request)
    identifier = body.get("revision_identifier") if isinstance(body, dict) else None
    if not isinstance(identifier, str) or not identifier:
        return error(400, "revision_identifier is required", param="revision_identifier")
    data = obj.data
    target = _revision(data, identifier)
    if target is None:
        return error(404, f"revision {identifier!r} not found", type_="not_found_error", code="not_found")
    for key in REVISION_FIELDS:
        if key in target:
            data[key] = target[key]
        else:
            data.pop(key, None)
    now = timezone.now()
    data["updated_at"] = _iso(now)
    _record_event(data, target, action="rollback", now=now)
    _start_rollout(obj, faults, status="Updating", seconds=settings.SANDBOX_PROVISION_SECONDS)
    obj.save()
    return json_response(_public(obj.data))


urlpatterns = [
    path("v1/deployments", deployments, name="together-deployments"),
    path("v1/deployments/secrets", secrets_list, name="together-secrets"),
    path("v1/deployments/storage/volumes", volumes_list, name="together-volumes"),
    path("v1/deployments/<str:ref>", deployment, name="together-deployment"),
    path("v1/deployments/<str:ref>/logs", logs, name="together-logs"),
    path("v1/deployments/<str:ref>/revisions", revisions, name="together-revisions"),
    path("v1/deployments/<str:ref>/revisions/<str:identifier>", revision, name="together-revision"),
    path("v1/deployments/<str:ref>/rollback", rollback, name="together-rollback"),
    path("v1/hardware", hardware, name="together-hardware"),
    path("v1/deployment-request/<str:name>", deployment_request, name="together-request"),
]


# --- the benchmark's fleet (manage.py bench_refresh) ------------------------------------------


def bench_seed(account: str, names: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """A Ready fleet written straight into the twin: Together's create is answered at once
    and the list is one call, so creating 1,000 through the API would only time the seed."""
    now = timezone.now().isoformat(timespec="seconds").replace("+00:00", "Z")
    SandboxObject.objects.bulk_create(
        SandboxObject(
            vendor=VENDOR,
            account=account,
            kind="deployment",
            object_id=f"dep_{name}",
            name=name,
            data={
                "id": f"dep_{name}",
                "object": "deployment",
                "name": name,
                "image": "registry.together.ai/bench/x:1",
                "status": "Ready",
                "gpu_type": "h100-80gb",
                "gpu_count": 1,
                "min_replicas": 1,
                "max_replicas": 1,
                "desired_replicas": 1,
                "ready_replicas": 1,
                "replica_events": {},
                "created_at": now,
                "updated_at": now,
                "_revision": 1,
            },
        )
        for name in names
    )
    return [(name, f"dep_{name}", {"name": name}) for name in names]
