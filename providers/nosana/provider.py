"""Nosana deployments, paid from credits with an API key.

Contract: ``shared/vendor-apis/nosana.md`` (the deployment-manager source and the
generated schema of ``@nosana/api`` 2.1.8) and the seed
``shared/seeds/000_cd5f2f8cf4f11fc3.txt``. The spec this adapter takes *is* a
``DeploymentCreateBody`` (name, market, replicas, timeout, strategy, schedule,
rotation_time, confidential, job_definition); ``active_revision`` may be added on
update to switch revisions. [V] = read in source or schema, [D] = docs prose,
[I] = inferred; where the notes leave a fact open the safest reading is taken and
named in a comment.

Lifecycle: create makes a DRAFT, so ``create()`` creates and then starts it (what
the dashboard's "deploy" does) and ``adopt()`` starts a DRAFT an interrupted
attempt left behind. Wrong-state actions come back as HTTP 500
``{"error": "Deployment is in the incorrect state."}`` [V]: ``parse_error`` turns
those into non-retryable ``Rejected`` errors, and start/stop/archive treat one as
success when a GET shows the target state already reached (they are not
repeat-safe, notes §4).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from croniter import croniter
from jsonschema import Draft202012Validator

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    Charge,
    Endpoint,
    LogLines,
    NotFound,
    Offer,
    Provider,
    ProviderError,
    Rejected,
    Remote,
    RemoteState,
    SpecError,
    VendorEvent,
    parse_time,
)
from providers.http import json_or_none

logger = logging.getLogger(__name__)

# --- the vendor's rules (the form reads these too) -----------------------------------------
STRATEGIES: tuple[str, ...] = ("SIMPLE", "SIMPLE-EXTEND", "SCHEDULED", "INFINITE")  # [V]
STRATEGY_LABELS = {
    "SIMPLE": "Simple: run once, for the timeout",
    "SIMPLE-EXTEND": "Simple-extend: extend each job until stopped or out of credits",
    "SCHEDULED": "Scheduled: run at every tick of a cron schedule",
    "INFINITE": "Infinite: keep running, rotating jobs before their timeout",
}
# Strategies that end by themselves: STOPPED once no job is queued or running [V].
SELF_ENDING = frozenset({"SIMPLE", "SIMPLE-EXTEND"})
# No server limit on the name (notes §5); ours, so it fits the panel and the dashboard [I].
NAME_MAX = 100
# A market address is a Solana public key: base58, 32–44 characters [I].
MARKET_RE = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")
REPLICAS_MIN = 1  # create schema minimum 1 [V]; update allows 0 but the SDK refuses it: 1 [I]
TIMEOUT_MIN = 1  # minutes [V]
UPDATE_TIMEOUT_MIN = 60  # update-timeout's schema minimum [V]
INFINITE_TIMEOUT_MIN = 60  # [V]
ROTATION_DEFAULT = 20  # minutes, server default [V]
ROTATION_GAP = 10  # rotation_time < timeout - 10 [V]
CRON_RE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")  # the schema's pattern [V]
OP_TYPES: tuple[str, ...] = ("container/run", "container/create-volume")
EXPOSE_TYPES: tuple[str, ...] = ("api", "web", "websocket", "webapi", "none")
RESOURCE_TYPES: tuple[str, ...] = ("S3", "HF", "Ollama")
JOB_DEFINITION_VERSION = "0.1"
PORT_RANGE = (1, 65535)
ENV_NAME_RE = re.compile(r"^[^=\s]+$")  # docker takes any name without "=" or spaces [I]
PAGE_LIMITS = (10, 20, 50, 100)  # [V]
PAGE_LIMIT = 100
MAX_PAGES = 200  # a loop guard: 20,000 deployments is far past any real account
LOG_JOBS = 3  # logs come from the few most recent finished jobs: one call each
# Messages the server sends without a field path, and the field each is about [V: src/errors].
MESSAGE_FIELDS = {
    "Rotation time must be at least 10 minutes less than timeout.": "rotation_time",
    "Timeout for infinite deployments must be at least 1 hour.": "timeout",
}
# 500s that are refusals, not outages: retrying cannot help [V: src/errors].
REFUSALS = (
    "Deployment is in the incorrect state.",
    "Cannot modify an archived deployment.",
    "Vault not found.",
)

# --- the job definition: a JSON Schema written from the notes (§5) and the docs' schema page ---------
_STR_OR_LIST = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "x-message": "A string, or a list of strings.",
}
_PORT = {"type": "integer", "minimum": PORT_RANGE[0], "maximum": PORT_RANGE[1]}
_ENV = {"type": "object", "additionalProperties": {"type": "string"}, "x-message": "An object of string values."}
JOB_DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Nosana job definition",
    "type": "object",
    "required": ["version", "type", "ops"],
    "properties": {
        "version": {"const": JOB_DEFINITION_VERSION},
        "type": {"const": "container"},
        "meta": {
            "type": "object",
            "properties": {
                "trigger": {"type": "string"},  # free text: the docs say cli|dashboard, the seed "api"
                # The schema calls it system_resources, the docs and the dashboard use
                # system_requirements.required_vram (notes §5): both are accepted.
                "system_requirements": {
                    "type": "object",
                    "properties": {"required_vram": {"type": "number", "minimum": 0}},
                },
                "system_resources": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
            },
        },
        "global": {
            "type": "object",
            "properties": {
                "image": {"type": "string"},
                "gpu": {"type": "boolean"},
                "entrypoint": _STR_OR_LIST,
                "env": _ENV,
                "work_dir": {"type": "string"},
            },
        },
        "ops": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/op"}},
    },
    "$defs": {
        "op": {
            "type": "object",
            "required": ["id", "type", "args"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "type": {"enum": list(OP_TYPES)},
                "args": {"type": "object"},
                "execution": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string"},
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "results": {"type": "object"},
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "container/run"}}, "required": ["type"]},
                    "then": {"properties": {"args": {"$ref": "#/$defs/run_args"}}},
                },
                {
                    "if": {"properties": {"type": {"const": "container/create-volume"}}, "required": ["type"]},
                    "then": {"properties": {"args": {"$ref": "#/$defs/volume_args"}}},
                },
            ],
        },
        "run_args": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {
                    "type": "string",
                    "minLength": 1,
                    "allOf": [{"pattern": r"^\S*$", "x-message": "An image reference, no spaces."}],
                },
                "cmd": _STR_OR_LIST,
                "entrypoint": _STR_OR_LIST,
                "gpu": {"type": "boolean"},
                "expose": {
                    "anyOf": [_PORT, {"type": "array", "items": {"$ref": "#/$defs/exposed_port"}}],
                    "x-message": "A port number (1–65535), or a list of {port, type}.",
                },
                "env": _ENV,
                "work_dir": {"type": "string"},
                "volumes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "dest"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "dest": {"type": "string", "minLength": 1},
                        },
                    },
                },
                "resources": {"type": "array", "items": {"$ref": "#/$defs/resource"}},
                "authentication": {
                    "type": "object",
                    "properties": {
                        "docker": {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                                "email": {"type": "string"},
                                "server": {"type": "string"},
                            },
                        }
                    },
                },
                "restart_policy": {"type": "string"},
                "private": {"type": "boolean"},
                "required_vram": {"type": "number", "minimum": 0},
            },
        },
        "volume_args": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
        },
        "exposed_port": {
            "type": "object",
            "required": ["port"],
            "properties": {
                "port": _PORT,
                "type": {"enum": list(EXPOSE_TYPES)},
                "health_checks": {"type": "array", "items": {"type": "object"}},
            },
        },
        "resource": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(RESOURCE_TYPES)}, "target": {"type": "string"}},
            "allOf": [
                {"if": {"properties": {"type": {"const": "HF"}}}, "then": {"required": ["repo"]}},
                {"if": {"properties": {"type": {"const": "Ollama"}}}, "then": {"required": ["model"]}},
            ],
        },
    },
}


@cache
def _job_definition_validator() -> Draft202012Validator:
    return Draft202012Validator(JOB_DEFINITION_SCHEMA)


TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
              "object": "an object", "array": "a list"}  # fmt: skip


def _schema_message(error: Any) -> str:
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom:
        return custom
    value, kind = error.validator_value, error.validator
    if kind == "required":
        return "This field is required."
    if kind == "const":
        return f"Must be {value!r}."
    if kind == "enum":
        return f"Choose one of: {', '.join(str(v) for v in value)}."
    if kind == "minItems":
        return f"Needs at least {value}."
    if kind in ("minimum", "maximum"):
        return f"{'At least' if kind == 'minimum' else 'At most'} {value}."
    if kind == "minLength":
        return "Cannot be empty."
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return f"Must be {' or '.join(TYPE_WORDS.get(n, n) for n in names)}."
    return error.message


def _leaf_errors(error: Any) -> Iterable[Any]:
    """For an anyOf (a port or a list of ports), the problems inside the branch the value
    was meant for, rather than "matches none of them"."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        deeper = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        if deeper:
            for sub in deeper:
                yield from _leaf_errors(sub)
            return
    yield error


def job_definition_errors(job_definition: Any) -> dict[str, list[str]]:
    """Problems with a job definition, keyed by its own dotted path (``ops.0.args.image``)."""
    if not isinstance(job_definition, dict):
        return {"": ["A job definition is a JSON object."]}
    errors: dict[str, list[str]] = {}
    for error in (e for top in _job_definition_validator().iter_errors(job_definition) for e in _leaf_errors(top)):
        parts = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            missing = next((f for f in error.validator_value if f not in error.instance), "")
            parts.append(missing)
        errors.setdefault(".".join(parts), []).append(_schema_message(error))
    ops = job_definition.get("ops")
    if isinstance(ops, list):
        ids = [op.get("id") for op in ops if isinstance(op, dict)]
        seen: set[str] = set()
        for i, op in enumerate(ops):
            if not isinstance(op, dict) or not isinstance(op.get("id"), str):
                continue
            if op["id"] in seen:
                errors.setdefault(f"ops.{i}.id", []).append(f"The id {op['id']!r} is used by another op.")
            seen.add(op["id"])
            args = op.get("args") if isinstance(op.get("args"), dict) else {}
            for name in (args.get("env") or {}) if isinstance(args.get("env"), dict) else ():
                if not ENV_NAME_RE.match(name):
                    errors.setdefault(f"ops.{i}.args.env.{name}", []).append(
                        "A variable name has no spaces and no “=”."
                    )
            execution = op.get("execution") if isinstance(op.get("execution"), dict) else {}
            for j, dependency in enumerate(execution.get("depends_on") or []):
                if isinstance(dependency, str) and dependency not in ids:
                    errors.setdefault(f"ops.{i}.execution.depends_on.{j}", []).append(
                        f"No op has the id {dependency!r}."
                    )
    return errors


# --- status: one table, one test per row ------------------------------------------------------
# DeploymentStatus enum [V]; meanings from the deployment-manager's code (notes §3).
STATUS_TABLE: dict[str, RemoteState] = {
    "DRAFT": RemoteState.STOPPED,  # created, never started: nothing runs or bills; start is allowed
    "STARTING": RemoteState.PROVISIONING,  # start called; the first LIST task is being scheduled
    "RUNNING": RemoteState.RUNNING,  # LIST scheduled; refined below: it does not mean containers are up
    "STOPPING": RemoteState.STOPPING,  # a STOP task delists or stops the jobs
    "STOPPED": RemoteState.STOPPED,  # every job finished or stopped
    "ERROR": RemoteState.FAILED,  # a task was abandoned after too many attempts
    "INSUFFICIENT_FUNDS": RemoteState.FAILED,  # retried by the server, back to RUNNING when funded
    "ARCHIVED": RemoteState.DELETED,  # terminal and read-only: gone, as far as the panel goes
}
STATUS_MESSAGES = {
    "DRAFT": "Draft: created but never started.",
    "ERROR": "Nosana gave up on a task after repeated failures. Stop it, then start it again.",
    "INSUFFICIENT_FUNDS": "Out of credits: Nosana keeps retrying and resumes by itself once the account is funded.",
    "ARCHIVED": "Archived at Nosana: kept read-only for the record.",
}
JOB_ACTIVE = ("QUEUED", "RUNNING")
JOB_ENDED = ("COMPLETED", "STOPPED")


def job_counts(jobs: Iterable[dict[str, Any]] | None) -> dict[str, int]:
    counts = {"QUEUED": 0, "RUNNING": 0, "COMPLETED": 0, "STOPPED": 0}
    for job in jobs or ():
        state = job.get("state") if isinstance(job, dict) else None
        if state in counts:
            counts[state] += 1
    return counts


def remote_state(item: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> tuple[RemoteState, str]:
    """The table, then what the deployment's jobs add, with a message for people.

    RUNNING only means the LIST task was scheduled [V]: until a job is RUNNING on a
    node, it is still provisioning. ``jobs=None`` means the caller did not look.
    """
    status = item.get("status") or ""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("nosana: unknown deployment status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Nosana reports an unknown status {status!r}."
    message = STATUS_MESSAGES.get(status, "")
    if status != "RUNNING" or jobs is None:
        return state, message
    counts = job_counts(jobs)
    if counts["RUNNING"]:
        queued = f"; {counts['QUEUED']} more queued" if counts["QUEUED"] else ""
        return RemoteState.RUNNING, f"{counts['RUNNING']} job{'s' if counts['RUNNING'] != 1 else ''} running{queued}."
    if counts["QUEUED"]:
        noun = "job is" if counts["QUEUED"] == 1 else "jobs are"
        return RemoteState.PROVISIONING, f"{counts['QUEUED']} {noun} queued on the market, waiting for a node."
    strategy = item.get("strategy")
    if strategy == "SCHEDULED":
        return RemoteState.RUNNING, "Waiting for the next scheduled run."
    if strategy in SELF_ENDING and (counts["COMPLETED"] or counts["STOPPED"]):
        return RemoteState.STOPPING, "Every job has finished; Nosana is marking it stopped."
    return RemoteState.PROVISIONING, "Listing jobs on the market."


# --- validation ---------------------------------------------------------------------------------


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        return None
    return int(value)


def check_cron(expression: Any) -> str:
    """``""`` if ``expression`` is a 5-field cron the vendor takes, else why not."""
    if not isinstance(expression, str) or not CRON_RE.match(expression):
        return "Five fields: minute hour day-of-month month day-of-week, e.g. 0 * * * *."
    if not croniter.is_valid(expression.strip()):
        return "Not a valid cron expression."
    return ""


def check_spec(spec: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check a ``DeploymentCreateBody`` and return it normalised (strategy-specific fields
    only where they belong). Raises :class:`SpecError` keyed by field path, e.g.
    ``job_definition.ops.0.args.image``. ``partial`` checks the fields present only."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    def required(key: str) -> bool:
        value = spec.get(key)
        if value is None or value == "":
            if not partial:
                err(key, "This field is required.")
            return False
        return True

    if required("name"):
        name = spec["name"]
        if not isinstance(name, str) or not name.strip():
            err("name", "A name is required.")
        elif len(name) > NAME_MAX:
            err("name", f"At most {NAME_MAX} characters.")
        else:
            out["name"] = name.strip()
    if required("market"):
        market = spec["market"].strip() if isinstance(spec["market"], str) else spec["market"]
        if not isinstance(market, str) or not MARKET_RE.match(market):
            err("market", "A market address (base58, 32–44 characters) from Nosana's market list.")
        out["market"] = market
    if required("replicas"):
        replicas = _whole(spec["replicas"])
        if replicas is None:
            err("replicas", "A whole number.")
        elif replicas < REPLICAS_MIN:
            err("replicas", f"At least {REPLICAS_MIN}.")
        else:
            out["replicas"] = replicas
    timeout = None
    if required("timeout"):
        timeout = _whole(spec["timeout"])
        if timeout is None:
            err("timeout", "Whole minutes.")
        elif timeout < TIMEOUT_MIN:
            err("timeout", f"At least {TIMEOUT_MIN} minute.")
        else:
            out["timeout"] = timeout
    strategy = spec.get("strategy")
    if required("strategy"):
        if strategy not in STRATEGIES:
            err("strategy", f"Choose one of: {', '.join(STRATEGIES)}.")
        else:
            out["strategy"] = strategy

    if strategy == "SCHEDULED":
        schedule = spec.get("schedule")
        if schedule in (None, ""):
            err("schedule", "A scheduled deployment needs a cron schedule.")
        else:
            problem = check_cron(schedule)
            if problem:
                err("schedule", problem)
            out["schedule"] = schedule.strip() if isinstance(schedule, str) else schedule
    if strategy == "INFINITE":
        if timeout is not None and timeout < INFINITE_TIMEOUT_MIN:
            err("timeout", "Timeout for infinite deployments must be at least 1 hour.")
        rotation = spec.get("rotation_time")
        if rotation not in (None, ""):
            rotation = _whole(rotation)
            if rotation is None or rotation < 1:
                err("rotation_time", "Whole minutes, 1 or more.")
            else:
                out["rotation_time"] = rotation
        # The server defaults rotation to 20 minutes [V]; the rule holds for that too.
        effective = out.get("rotation_time", ROTATION_DEFAULT)
        if timeout is not None and timeout >= INFINITE_TIMEOUT_MIN and not effective < timeout - ROTATION_GAP:
            err("rotation_time", "Rotation time must be at least 10 minutes less than timeout.")

    confidential = spec.get("confidential")
    if confidential is not None:
        if not isinstance(confidential, bool):
            err("confidential", "Yes or no.")
        else:
            out["confidential"] = confidential

    active = spec.get("active_revision")
    if active not in (None, ""):
        number = _whole(active)
        if number is None or number < 1:
            err("active_revision", "A revision number, 1 or more.")
        else:
            out["active_revision"] = number

    if "job_definition" in spec or not partial:
        job_definition = spec.get("job_definition")
        if job_definition in (None, "", {}):
            err("job_definition", "A job definition is required.")
        else:
            for path, messages in job_definition_errors(job_definition).items():
                errors.setdefault(f"job_definition.{path}" if path else "job_definition", []).extend(messages)
            out["job_definition"] = job_definition

    for key in ("vault", "new_vault"):
        if spec.get(key) not in (None, ""):
            err(key, "Only for wallet sign-in: an API key pays from its credits.")
    if errors:
        raise SpecError(errors)
    return out


# Keys the panel keeps in the spec that are not part of the create body.
PANEL_ONLY_KEYS = ("active_revision",)


def create_body(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in check_spec(spec).items() if k not in PANEL_ONLY_KEYS}


# --- prices ------------------------------------------------------------------------------------------

CENT = Decimal("0.0001")


def market_price(market: dict[str, Any]) -> Decimal | None:
    """USD per hour as Nosana shows it: reward × (1 + network fee %) [V: learn.nosana.com]."""
    reward, fee = market.get("usd_reward_per_hour"), market.get("network_fee_percentage") or 0
    if reward is None:
        return None
    try:
        price = Decimal(str(reward)) * (1 + Decimal(str(fee)) / 100)
    except ArithmeticError:
        return None
    return price.quantize(CENT, rounding=ROUND_HALF_UP)


_DATACENTER = re.compile(r"\b(B200|H200|H100|GH200|A100|A40|A30|A10G?|L40S?|L4|V100|T4)\b", re.IGNORECASE)


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


def _offer_price(spec: dict[str, Any], offers: Iterable[Offer]) -> Decimal | None:
    market = spec.get("market")
    return next((o.price_per_hour for o in offers if o.sku == market and o.price_per_hour is not None), None)


def run_cost(spec: dict[str, Any], unit: Decimal | None) -> Decimal | None:
    """Credits one run reserves: replicas × price × timeout/60 (a job's timeout is the
    deployment's × 60 seconds [V])."""
    replicas, timeout = _whole(spec.get("replicas")), _whole(spec.get("timeout"))
    if unit is None or not replicas or not timeout:
        return None
    return (unit * replicas * Decimal(timeout) / 60).quantize(CENT, rounding=ROUND_HALF_UP)


def _pubkey_short(value: str) -> str:
    return f"{value[:4]}…{value[-4:]}" if isinstance(value, str) and len(value) > 10 else str(value or "")


def _epoch(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    if value > 1e11:  # milliseconds (FlowState times)
        value = value / 1000
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


# --- the adapter ------------------------------------------------------------------------------------


class NosanaProvider(Provider):
    name: ClassVar[str] = "nosana"
    default_base_url: ClassVar[str] = "https://dashboard.k8s.prd.nos.ci"
    sandbox_path: ClassVar[str] = "/nosana"
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.SCALE, Action.UPDATE, Action.DELETE, Action.ARCHIVE, Action.LOGS,
         Action.EVENTS}
    )  # fmt: skip
    # No unique index and no check: a retried create makes a duplicate [V].
    unique_names: ClassVar[bool] = False
    scale_fields: ClassVar[tuple[str, ...]] = ("replicas",)
    scale_keys: ClassVar[tuple[str, ...]] = ("replicas",)

    def __init__(self, api_key: str, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._markets: dict[str, dict[str, Any]] | None = None

    def parse_error(self, response: httpx.Response) -> ProviderError | None:
        """401 is the bare JSON string ``"Unauthorized"``; everything else is
        ``{"error": "..."}``; a 400 lists ``path: message`` pairs joined by ``, `` [V]."""
        body = json_or_none(response)
        status = response.status_code
        if status in (401, 403):
            message = body if isinstance(body, str) and body else (_error_text(body) or "Unauthorized")
            return AuthError(message, status_code=status, body=body)
        message = _error_text(body)
        if not message:
            return None
        if message in MESSAGE_FIELDS:  # 400 or 500: the rule is the same field's
            return SpecError({MESSAGE_FIELDS[message]: [message]}, status_code=status, body=body)
        if status in (400, 422):
            return SpecError(parse_field_errors(message), status_code=status, body=body)
        if status == 404:
            return NotFound(message, status_code=status, body=body)
        if message in REFUSALS or "insufficient" in message.lower():
            # Wrong state, archived, no funds: well-formed but refused, and not worth retrying.
            return Rejected(message, status_code=status, body=body)
        if 400 <= status < 500 and status != 408:
            return Rejected(message, status_code=status, body=body)
        return None  # a genuine 5xx (or 408): the shared mapping makes it Transient

    # --- mapping ----------------------------------------------------------------------
    def to_remote(self, item: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> Remote:
        state, message = remote_state(item, jobs)
        counts = job_counts(jobs) if jobs is not None else None
        running = counts["RUNNING"] if counts is not None else None
        unit = self._unit_price(item.get("market")) if state == RemoteState.RUNNING and running else None
        endpoints = [
            Endpoint(url=str(e.get("url") or ""), port=_whole(e.get("port")), protocol="https",
                     label=f"{e.get('opId') or 'op'}:{e.get('port')}")
            for e in item.get("endpoints") or [] if isinstance(e, dict) and e.get("url")
        ]  # fmt: skip
        return Remote(
            external_id=item.get("id") or "",
            name=item.get("name") or "",
            state=state,
            vendor_state=item.get("status") or "",
            message=message,
            replicas_ready=running,
            replicas_desired=_whole(item.get("replicas")),
            endpoints=endpoints,
            price_per_hour=self._price(state, running, unit),
            created_at=parse_time(item.get("created_at")),
            raw=item,
        )

    @staticmethod
    def _price(state: RemoteState, running: int | None, unit: Decimal | None) -> Decimal | None:
        """Billing follows the jobs running on nodes, each on one GPU of the market."""
        if state == RemoteState.UNKNOWN or (state == RemoteState.RUNNING and running is None):
            return None  # not known: keep what the panel had
        if not running or state != RemoteState.RUNNING:
            return Decimal("0")
        return unit * running if unit is not None else None

    def _unit_price(self, market: str | None) -> Decimal | None:
        markets = self._market_index()
        return market_price(markets[market]) if market in markets else None

    def _market_index(self) -> dict[str, dict[str, Any]]:
        """The public market list, once per adapter (one task): prices for ``Remote``."""
        if self._markets is None:
            try:
                self._markets = {m.get("address"): m for m in self._get_markets() if isinstance(m, dict)}
            except AuthError:
                raise
            except ProviderError as exc:  # a public list that failed: no prices this time, not no list
                logger.info("nosana: no market prices this time: %s", exc.message)
                self._markets = {}
        return self._markets

    def _get_markets(self) -> list[dict[str, Any]]:
        data = self._http.get("/api/markets/").json()
        return data if isinstance(data, list) else list((data or {}).get("markets") or [])

    # --- rules, prices and gates -------------------------------------------------------------
    @classmethod
    def validate_spec(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return check_spec(spec)

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        value = changes.get("replicas", changes.get("min_replicas"))
        if value in (None, ""):
            raise SpecError({"replicas": ["This field is required."]})
        replicas = _whole(value)
        if replicas is None or replicas < REPLICAS_MIN:
            # update-replica-count takes 0 in its schema, but the SDK refuses it: use Stop [I].
            raise SpecError({"replicas": [f"At least {REPLICAS_MIN}; to stop it, use Stop."]})
        return {"replicas": replicas}

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        return _offer_price(spec, list(offers))

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        amount = run_cost(spec, _offer_price(spec, list(offers)))
        if amount is None:
            return []
        replicas, timeout, strategy = spec.get("replicas"), spec.get("timeout"), spec.get("strategy")
        again = {
            "SIMPLE-EXTEND": " It reserves as much again at every extension until stopped or out of credits.",
            "INFINITE": " It reserves as much again for every rotated job until stopped.",
            "SCHEDULED": " It reserves as much again at every scheduled run.",
        }.get(strategy, "")
        noun = "replica" if replicas == 1 else "replicas"
        return [
            Charge(
                amount=amount,
                description=(
                    f"Credits reserved when it starts: {replicas} {noun} × {timeout} minutes at the market price; "
                    f"Nosana settles what the jobs use.{again}"
                ),
            )
        ]

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        """The server's preconditions (notes §3), said before the user tries."""
        status = (raw or {}).get("status") or ""
        if not status:
            return ""
        if status == "ARCHIVED":
            return "Archived at Nosana: nothing can change it any more."
        if action in (Action.DELETE, Action.ARCHIVE) and status != "STOPPED":
            verb = "deletes" if action is Action.DELETE else "archives"
            if status == "DRAFT":
                return f"Nosana {verb} only stopped deployments, and a draft has never run: start it and stop it first."
            return f"Nosana {verb} a deployment only once it is STOPPED; it is {status}. Stop it first."
        if action is Action.STOP and status not in ("RUNNING", "ERROR", "INSUFFICIENT_FUNDS"):
            return f"Nosana stops a deployment only when it is RUNNING (or in error); it is {status}."
        if action is Action.START and status not in ("DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"):
            return f"Nosana starts a deployment only when it is a draft, stopped or in error; it is {status}."
        return ""

    # --- lifecycle ----------------------------------------------------------------------
    def _path(self, external_id: str, suffix: str = "") -> str:
        return f"/api/deployments/{quote(external_id, safe='')}{suffix}"

    def create(self, spec: dict[str, Any]) -> Remote:
        """Create (a DRAFT), then start it: the dashboard's "deploy" in two calls [V].

        ``autostart`` would do both at once but is not in the 2.1.8 schema, so it is not
        sent (notes §5). If start fails after create, the retried task finds the draft
        by name and ``adopt()`` starts it.
        """
        item = self._http.post("/api/deployments/create", json=create_body(spec)).json()
        started = self._start(item.get("id") or "")
        return self.to_remote({**item, **started})

    def adopt(self, remote: Remote, spec: dict[str, Any]) -> Remote:
        if remote.vendor_state == "DRAFT":
            self._start(remote.external_id)
            return self.get(remote.external_id)
        return remote

    def _jobs_page(self, external_id: str, **params: Any) -> list[dict[str, Any]]:
        data = self._http.get(
            self._path(external_id, "/jobs"), params={"limit": PAGE_LIMIT, "sort_order": "desc", **params}
        ).json()
        return [j for j in (data.get("jobs") or []) if isinstance(j, dict)] if isinstance(data, dict) else []

    def _with_jobs(self, item: dict[str, Any]) -> Remote:
        # One extra call, and only for a RUNNING deployment: its newest jobs (a page of
        # 100 holds every active one) tell whether containers are really up.
        jobs = self._jobs_page(item["id"]) if item.get("status") == "RUNNING" and item.get("id") else None
        return self.to_remote(item, jobs)

    def get(self, external_id: str) -> Remote:
        return self._with_jobs(self._http.get(self._path(external_id)).json())

    def _pages(self, **params: Any) -> Iterable[dict[str, Any]]:
        """Every deployment, page by page, following ``cursor_next`` [V]."""
        cursor, seen = None, set()
        for _ in range(MAX_PAGES):
            query = {"limit": PAGE_LIMIT, **params, **({"cursor": cursor} if cursor else {})}
            data = self._http.get("/api/deployments", params=query).json()
            if isinstance(data, list):  # older servers answer a bare array, unpaged
                yield from (d for d in data if isinstance(d, dict))
                return
            yield from (d for d in (data.get("deployments") or []) if isinstance(d, dict))
            cursor = (data.get("pagination") or {}).get("cursor_next")
            if not cursor or cursor in seen:
                return
            seen.add(cursor)
        logger.warning("nosana: stopped paging deployments after %s pages", MAX_PAGES)

    def list_remotes(self) -> Iterable[Remote]:
        # Paged calls for the account, plus one jobs call per RUNNING deployment (and
        # the public market list once, for prices): RUNNING alone is not "containers up".
        return [self._with_jobs(item) for item in self._pages()]

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique [V]: ask with ``name=`` (the server may ignore it, so the
        match is checked here) and take the newest live one."""
        matches = [item for item in self._pages(name=name) if item.get("name") == name]
        live = [m for m in matches if m.get("status") != "ARCHIVED"]
        if not live:
            return None
        newest = max(live, key=lambda m: m.get("created_at") or "")
        return self._with_jobs(newest)

    def _action(self, external_id: str, verb: str, reached: tuple[str, ...]) -> dict[str, Any]:
        """POST a state change; a 500 "incorrect state" whose target is already reached
        (a repeat after a lost answer) counts as done."""
        try:
            return self._http.post(self._path(external_id, f"/{verb}")).json()
        except Rejected as exc:
            if exc.message != REFUSALS[0]:
                raise
            current = self._http.get(self._path(external_id)).json()
            if current.get("status") in reached:
                return {"status": current.get("status"), "updated_at": current.get("updated_at")}
            raise

    def _start(self, external_id: str) -> dict[str, Any]:
        # POST per the schema; the seed's plain GET is the docs' slip (notes §1).
        return self._action(external_id, "start", ("STARTING", "RUNNING"))

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote:
        self._start(external_id)
        return self.get(external_id)

    def stop(self, external_id: str, spec: dict[str, Any]) -> None:
        self._action(external_id, "stop", ("STOPPING", "STOPPED"))

    def archive(self, external_id: str) -> None:
        self._action(external_id, "archive", ("ARCHIVED",))

    def delete(self, external_id: str) -> None:
        self._http.delete(self._path(external_id))  # 204, empty [V]

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote:
        body = self.validate_scale(changes)
        self._http.patch(self._path(external_id, "/update-replica-count"), json=body)
        return self.get(external_id)

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote:
        """Send only the calls that take the deployment from ``previous`` to ``spec``:
        create-revision (a new job definition, which becomes active) or
        update-active-revision, update-timeout, update-schedule, update-replica-count.
        Market, strategy, confidential, name and rotation time have no update route [V]."""
        new = check_spec(spec)
        if previous is None:
            previous = self._current_spec(external_id)
        errors: dict[str, list[str]] = {}
        for key in ("market", "strategy", "confidential", "rotation_time", "name"):
            if key in previous and new.get(key, previous.get(key)) != previous.get(key):
                errors.setdefault(key, []).append(
                    "Nosana cannot change this after create: create a new deployment instead."
                )
        revision_changed = new.get("job_definition") != previous.get("job_definition")
        switch = new.get("active_revision")
        if revision_changed and switch and switch != previous.get("active_revision"):
            errors.setdefault("active_revision", []).append(
                "Change the job definition or switch revisions, not both at once."
            )
        if new["timeout"] != previous.get("timeout") and new["timeout"] < UPDATE_TIMEOUT_MIN:
            errors.setdefault("timeout", []).append(
                f"Nosana changes the timeout of an existing deployment only to {UPDATE_TIMEOUT_MIN} minutes or more."
            )
        if errors:
            raise SpecError(errors)

        if revision_changed:
            # The bare job definition, not wrapped [V]; the new revision becomes active.
            try:
                self._http.post(self._path(external_id, "/create-revision"), json=new["job_definition"])
            except SpecError as exc:
                # The body is the bare job definition, so its paths start inside it.
                exc.fields = {_in_job_definition(k): v for k, v in exc.fields.items()}
                raise
        elif switch and switch != previous.get("active_revision"):
            self._http.patch(self._path(external_id, "/update-active-revision"), json={"active_revision": switch})
        if new["timeout"] != previous.get("timeout"):
            self._http.patch(self._path(external_id, "/update-timeout"), json={"timeout": new["timeout"]})
        if new.get("strategy") == "SCHEDULED" and new.get("schedule") != previous.get("schedule"):
            self._http.patch(self._path(external_id, "/update-schedule"), json={"schedule": new["schedule"]})
        if new["replicas"] != previous.get("replicas"):
            self._http.patch(self._path(external_id, "/update-replica-count"), json={"replicas": new["replicas"]})
        return self.get(external_id)

    def _current_spec(self, external_id: str) -> dict[str, Any]:
        """What Nosana has now, as a spec, for an update that came without ``previous``."""
        item = self._http.get(self._path(external_id)).json()
        current = {k: item[k] for k in ("name", "market", "replicas", "timeout", "strategy", "schedule",
                                        "rotation_time", "confidential", "active_revision") if k in item}  # fmt: skip
        data = self._http.get(
            self._path(external_id, "/revisions"),
            params={"revision": item.get("active_revision"), "limit": PAGE_LIMITS[0]},
        ).json()
        revisions = data.get("revisions") if isinstance(data, dict) else None
        active = next((r for r in revisions or [] if r.get("revision") == item.get("active_revision")), None)
        if active is not None:
            current["job_definition"] = active.get("job_definition")
        return current

    # --- monitoring ---------------------------------------------------------------------
    def jobs(self, external_id: str) -> list[dict[str, Any]]:
        return self._jobs_page(external_id)

    def logs(self, external_id: str, **_: Any) -> LogLines:
        """Container logs exist only for jobs that have ended, in
        ``jobResult.opStates[].logs`` [V]: the newest few finished jobs, oldest first."""
        ended = [j for j in self._jobs_page(external_id) if j.get("state") in JOB_ENDED][:LOG_JOBS]
        lines: list[str] = []
        for job in reversed(ended):
            detail = self._http.get(self._path(external_id, f"/jobs/{quote(str(job.get('job')), safe='')}")).json()
            result = detail.get("jobResult") if isinstance(detail, dict) else None
            tag = _pubkey_short(str(job.get("job") or ""))
            lines.append(f"── job {tag} ({job.get('state', '').lower()}) ──")
            for op in (result or {}).get("opStates") or []:
                op_id = op.get("operationId") or "op"
                for entry in op.get("logs") or []:
                    text = str(entry.get("log") or "").rstrip("\n")
                    stream = entry.get("type") or "stdout"
                    for line in text.splitlines() or [""]:
                        lines.append(f"[{op_id}] {stream}: {line}")
                if op.get("exitCode") is not None:
                    lines.append(f"[{op_id}] exited with code {op.get('exitCode')} ({op.get('status') or 'done'})")
        if not ended:
            lines.append("Nosana publishes container logs when a job ends; no job of this deployment has ended yet.")
        return LogLines(lines=lines, source="finished jobs")

    def events(self, external_id: str) -> list[VendorEvent]:
        """The deployment's own events (/events) and its jobs' state changes (/jobs)."""
        data = self._http.get(
            self._path(external_id, "/events"), params={"limit": PAGE_LIMIT, "sort_order": "desc"}
        ).json()
        out = [
            VendorEvent(message=str(e.get("message") or e.get("type") or ""), at=parse_time(e.get("created_at")),
                        kind=str(e.get("type") or e.get("category") or ""))
            for e in (data.get("events") or [] if isinstance(data, dict) else []) if isinstance(e, dict)
        ]  # fmt: skip
        for job in self._jobs_page(external_id):
            tag = _pubkey_short(str(job.get("job") or ""))
            out.append(VendorEvent(f"Job {tag} listed on the market", parse_time(job.get("created_at")), "job"))
            started = _epoch(job.get("time_start"))
            if started and job.get("state") != "QUEUED":
                node = f" on node {_pubkey_short(job['node'])}" if job.get("node") else ""
                out.append(VendorEvent(f"Job {tag} running{node}", started, "job"))
            if job.get("state") in JOB_ENDED:
                ended = _epoch(job.get("time_end")) or parse_time(job.get("updated_at"))
                out.append(VendorEvent(f"Job {tag} {job['state'].lower()}", ended, "job"))
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        return sorted(out, key=lambda e: e.at or epoch)

    # --- account and catalog ------------------------------------------------------------
    def credits(self) -> dict[str, Decimal]:
        data = self._http.get("/api/credits/balance").json()
        values = {k: Decimal(str(data.get(k) or 0)) for k in ("assignedCredits", "reservedCredits", "settledCredits")}
        values["available"] = values["assignedCredits"] - values["reservedCredits"] - values["settledCredits"]
        return values

    def verify(self) -> AccountInfo:
        c = self.credits()
        return AccountInfo(
            summary=(
                f"Key accepted: ${c['available']:.2f} of credits available "
                f"(${c['assignedCredits']:.2f} assigned, ${c['reservedCredits']:.2f} reserved, "
                f"${c['settledCredits']:.2f} settled)."
            ),
            balance=c["available"],
        )

    def catalog(self) -> list[Offer]:
        """Every market (public list [V]) with Nosana's own price per hour."""
        offers = []
        for market in self._get_markets():
            if not isinstance(market, dict) or not market.get("address"):
                continue
            gpu_types = [str(g) for g in market.get("gpu_types") or []]
            gpu = normalise_gpu(gpu_types[0] if gpu_types else str(market.get("name") or ""))
            nodes = market.get("nodes")
            idle = len(nodes) if isinstance(nodes, list) else None
            offers.append(
                Offer(
                    sku=market["address"],
                    name=str(market.get("name") or market.get("slug") or market["address"]),
                    kind="market",
                    gpu_model=gpu,
                    gpu_count=1,
                    gpu_memory_gb=_whole(market.get("lowest_vram")),
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
            )
        self._markets = {m.sku: m.raw for m in offers}
        return offers


def _in_job_definition(path: str) -> str:
    if path in ("", "body") or path in MESSAGE_FIELDS.values() or path.startswith("job_definition"):
        return "job_definition" if path in ("", "body") else path
    return f"job_definition.{path}"


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str):
        return body
    return ""


_FIELD_AT = re.compile(r"(?:^|,\s+)(?P<path>/?[A-Za-z_][\w-]*(?:/[\w-]+)*):\s")


def parse_field_errors(message: str) -> dict[str, list[str]]:
    """``"replicas: must be >= 1, job_definition/ops/0/args/image: required"`` →
    ``{"replicas": [...], "job_definition.ops.0.args.image": [...]}`` [V: the 400 shape]."""
    matches = list(_FIELD_AT.finditer(message))
    if not matches or matches[0].start() != 0:
        return {MESSAGE_FIELDS.get(message, ""): [message]}
    fields: dict[str, list[str]] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(message)
        path = match.group("path").strip("/").removeprefix("body/").replace("/", ".")
        fields.setdefault(path, []).append(message[match.end() : end].strip())
    return fields
