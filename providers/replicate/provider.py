"""Replicate deployments: a model version kept on your own autoscaled instances.

Contract: ``shared/vendor-apis/replicate.md`` and the seed
``shared/seeds/002_0d69ab0831111b63.txt``. The spec this adapter takes *is* the
create body, ``{name, model, version, hardware, min_instances, max_instances}``
(all six required [V]); ``validate`` enforces the rules the notes give, choosing the
strict reading where they are marked [I].

Replicate has no deployment status, no instance counts and no logs [V]. The state
shown in the panel is *derived* (notes §3): from ``min_instances`` and from the
account's recent predictions (``GET /predictions``, read once per ``list()``, matched
to deployments by their ``deployment`` field). ``Remote.message`` always says so and
why, e.g. "Replicate reports no status; derived: 1 instance kept warm (min_instances 1)".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    Endpoint,
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
# [I] notes §5: the docs only show lowercase, digits and hyphens; the exact server rule is
# not published, so this is the strict reading (a name Replicate would take may be refused
# here, never the other way round).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
NAME_MAX = 100
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")  # "owner/name" [V]
VERSION_RE = re.compile(r"^[0-9a-f]{64}$")  # a 64-character version id [V]
SKU_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # the shape of every sku on /hardware and /pricing
CREATE_FIELDS = ("name", "model", "version", "hardware", "min_instances", "max_instances")  # all required [V]
UPDATE_FIELDS = ("hardware", "min_instances", "max_instances", "version")  # what PATCH takes [V]
# No account-level cap on max_instances is published (notes §5), so none is enforced here:
# a cap Replicate has is its 422 to give, on the field it names.

# "You can only delete deployments that have been offline and unused for at least 15
# minutes" (docs, delete-a-deployment). Read as notes §5: min_instances 0 and no prediction
# for 15 minutes; the sandbox enforces the same rule.
DELETE_AFTER = dt.timedelta(minutes=15)

# --- deriving a status ----------------------------------------------------------------------
# [I] Instances stay warm "for a few minutes" after traffic stops (billing docs).
IDLE_WINDOW = dt.timedelta(minutes=5)
# [I] A prediction still `starting` after this long is waiting for an instance to boot
# (or for a busy one): on a warm instance it starts processing at once.
SLOW_START = dt.timedelta(seconds=5)
# [I] This many failed predictions in a row, newest first, flag the deployment as failing.
FAILING_STREAK = 3
# Predictions read per poll: the last half hour (enough for the 15-minute delete rule),
# at most this many pages of 100, newest first (GET /predictions, cursor paged [V]).
RECENT_WINDOW = dt.timedelta(minutes=30)
MAX_PREDICTION_PAGES = 5
MAX_LIST_PAGES = 200  # a guard against a vendor that never says next: null
RAW_PREDICTIONS = 20  # how many of a deployment's recent predictions are kept in ``raw``

DERIVED = "Replicate reports no status; derived: "

# Derived statuses, in Replicate's own instance-lifecycle words (billing docs: offline,
# setting up, active, idle) plus "failing" from the predictions. One row per status; the
# refinements by min_instances are in ``remote_state``.
STATUS_TABLE: dict[str, RemoteState] = {
    "offline": RemoteState.STOPPED,  # min_instances 0, no recent prediction: scaled to zero, wakes on demand
    "setting up": RemoteState.PROVISIONING,  # a prediction waits for an instance to boot (cold start)
    "active": RemoteState.RUNNING,  # predictions are being processed
    "idle": RemoteState.RUNNING,  # instances up with no work: kept warm by min_instances
    "failing": RemoteState.FAILED,  # the last FAILING_STREAK predictions all failed
}

# Prediction ``status`` [V] (``aborted`` from the 2025-10 changelog [D], not in the SDK's
# Literal) and what each means for the deployment's timeline.
PREDICTION_STATUS: dict[str, str] = {
    "starting": "waiting",  # queued or booting
    "processing": "running",
    "succeeded": "completed",
    "failed": "error",
    "canceled": "cancelled",
    "aborted": "cancelled",  # the deadline passed before it started
}
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})


# --- prices: not in the API, so a maintained table ---------------------------------------------


@dataclass(frozen=True)
class Hardware:
    name: str
    per_second: Decimal
    per_hour: Decimal
    gpu_model: str = ""
    gpu_count: int = 0
    gpu_memory_gb: int | None = None  # per GPU
    cpus: int | None = None
    ram_gb: int | None = None
    note: str = ""


PRICES_SOURCE = "replicate.com/pricing and replicate.com/docs/billing (hardware tables)"
_H100_NOTE = "Additional H100 capacity is reserved for committed-spend contracts."
# sku: per-second and per-hour USD for one instance, as published; GPUs, GPU RAM, CPUs, RAM
# from the same table (the H100 rows give no CPU/RAM figures; 80 GB per H100 is [I]).
# Multi-GPU names follow three styles (notes §2): -large-Nx, gpu-Nx-l40s and gpu-h100-Nx.
HARDWARE_PRICES: dict[str, Hardware] = {
    "cpu": Hardware("CPU", Decimal("0.000100"), Decimal("0.36"), "", 0, None, 4, 8),
    "gpu-t4": Hardware("Nvidia T4 GPU", Decimal("0.000225"), Decimal("0.81"), "T4", 1, 16, 4, 16),
    "gpu-a40-small": Hardware("Nvidia A40 GPU", Decimal("0.000575"), Decimal("2.07"), "A40", 1, 48, 4, 16),
    "gpu-a40-large": Hardware("Nvidia A40 (Large) GPU", Decimal("0.000725"), Decimal("2.61"), "A40", 1, 48, 10, 72),
    "gpu-a40-large-2x": Hardware("2x Nvidia A40 (Large) GPU", Decimal("0.001450"), Decimal("5.22"), "A40", 2, 48, 20, 144),
    "gpu-a40-large-4x": Hardware("4x Nvidia A40 (Large) GPU", Decimal("0.002900"), Decimal("10.44"), "A40", 4, 48, 40, 288),
    "gpu-a40-large-8x": Hardware("8x Nvidia A40 (Large) GPU", Decimal("0.005800"), Decimal("20.88"), "A40", 8, 48, 48, 680),
    "gpu-l40s": Hardware("Nvidia L40S GPU", Decimal("0.000975"), Decimal("3.51"), "L40S", 1, 48, 10, 65),
    "gpu-2x-l40s": Hardware("2x Nvidia L40S GPU", Decimal("0.001950"), Decimal("7.02"), "L40S", 2, 48, 20, 144),
    "gpu-4x-l40s": Hardware("4x Nvidia L40S GPU", Decimal("0.003900"), Decimal("14.04"), "L40S", 4, 48, 40, 288),
    "gpu-8x-l40s": Hardware("8x Nvidia L40S GPU", Decimal("0.007800"), Decimal("28.08"), "L40S", 8, 48, 80, 576),
    "gpu-a100-large": Hardware("Nvidia A100 (80GB) GPU", Decimal("0.001400"), Decimal("5.04"), "A100", 1, 80, 10, 144),
    "gpu-a100-large-2x": Hardware("2x Nvidia A100 (80GB) GPU", Decimal("0.002800"), Decimal("10.08"), "A100", 2, 80, 20, 288),
    "gpu-a100-large-4x": Hardware("4x Nvidia A100 (80GB) GPU", Decimal("0.005600"), Decimal("20.16"), "A100", 4, 80, 40, 576),
    "gpu-a100-large-8x": Hardware("8x Nvidia A100 (80GB) GPU", Decimal("0.011200"), Decimal("40.32"), "A100", 8, 80, 80, 960),
    "gpu-h100": Hardware("Nvidia H100 GPU", Decimal("0.001525"), Decimal("5.49"), "H100", 1, 80, note=_H100_NOTE),
    "gpu-h100-2x": Hardware("2x Nvidia H100 GPU", Decimal("0.003050"), Decimal("10.98"), "H100", 2, 80, note=_H100_NOTE),
    "gpu-h100-4x": Hardware("4x Nvidia H100 GPU", Decimal("0.006100"), Decimal("21.96"), "H100", 4, 80, note=_H100_NOTE),
    "gpu-h100-8x": Hardware("8x Nvidia H100 GPU", Decimal("0.012200"), Decimal("43.92"), "H100", 8, 80, note=_H100_NOTE),
}  # fmt: skip


def hourly_rate(sku: str | None, rates: dict[str, Decimal] | None = None) -> Decimal | None:
    """USD per hour of one instance of ``sku``, from ``rates`` or the maintained table."""
    if not sku:
        return None
    if rates and rates.get(sku) is not None:
        return rates[sku]
    known = HARDWARE_PRICES.get(sku)
    return known.per_hour if known else None


# --- validation ------------------------------------------------------------------------------


def _whole(errors: dict[str, list[str]], key: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        errors.setdefault(key, []).append("Must be a whole number.")
        return None
    return int(value)


def check_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Check a create body and return it normalised, every field present. Raises
    :class:`SpecError` keyed by field (``name``, ``model``, ``version``, ``hardware``,
    ``min_instances``, ``max_instances``)."""
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    def text(key: str) -> str:
        value = spec.get(key)
        return value.strip() if isinstance(value, str) else ""

    for key in CREATE_FIELDS:
        if spec.get(key) is None or spec.get(key) == "":
            err(key, "This field is required.")
    for key in ("name", "model", "version", "hardware"):
        if spec.get(key) not in (None, "") and not isinstance(spec.get(key), str):
            err(key, "Must be text.")

    name = text("name")
    if "/" in name:
        name = name.rsplit("/", 1)[1]  # "owner/name" means name, as the Python client reads it [V]
    if name and (len(name) > NAME_MAX or not NAME_RE.match(name)):
        err(
            "name",
            f"Use at most {NAME_MAX} lowercase letters, digits, hyphens, underscores or periods, "
            "starting with a letter or digit.",
        )
    model = text("model")
    if model and not MODEL_RE.match(model):
        err("model", "Give the model as owner/name, e.g. stability-ai/sdxl.")
    version = text("version").lower()
    if version and not VERSION_RE.match(version):
        err("version", "A version id is 64 hexadecimal characters (see the model's Versions tab).")
    hardware = text("hardware")
    if hardware and not SKU_RE.match(hardware):
        err("hardware", "Choose a hardware SKU from Replicate's list, e.g. gpu-t4.")

    low = _whole(errors, "min_instances", spec.get("min_instances"))
    high = _whole(errors, "max_instances", spec.get("max_instances"))
    if low is not None and low < 0:
        err("min_instances", "Cannot be negative (0 scales to zero when idle).")
    if high is not None and high < 1:
        err("max_instances", "At least 1, or no prediction could ever run.")
    elif high is not None and low is not None and low >= 0 and high < low:
        err("max_instances", "Must be at least the minimum instances.")

    if errors:
        raise SpecError(errors)
    return {
        "name": name,
        "model": model,
        "version": version,
        "hardware": hardware,
        "min_instances": low,
        "max_instances": high,
    }


def check_scale(changes: dict[str, Any]) -> dict[str, int]:
    """New instance bounds; ``min_replicas``/``max_replicas`` (the panel's scale dialog)
    are read as ``min_instances``/``max_instances``."""
    errors: dict[str, list[str]] = {}
    low = _whole(errors, "min_instances", changes.get("min_instances", changes.get("min_replicas")))
    high = _whole(errors, "max_instances", changes.get("max_instances", changes.get("max_replicas")))
    if low is None and "min_instances" not in errors:
        errors["min_instances"] = ["This field is required."]
    elif low is not None and low < 0:
        errors["min_instances"] = ["Cannot be negative (0 scales to zero when idle)."]
    if low is not None and high is None and not errors:
        high = max(low, 1)
    if high is not None and high < 1:
        errors.setdefault("max_instances", []).append("At least 1; to scale to zero set the minimum to 0.")
    elif high is not None and low is not None and high < low:
        errors.setdefault("max_instances", []).append("Must be at least the minimum instances.")
    if errors:
        raise SpecError(errors)
    return {"min_instances": low, "max_instances": high}


# --- status ------------------------------------------------------------------------------------


def configuration(item: dict[str, Any]) -> dict[str, Any]:
    """``current_release.configuration``, also in its pre-March-2024 nested form
    (``configuration.scaling.{min,max}_instances``, replicate-python PR #271)."""
    release = item.get("current_release") or {}
    config = release.get("configuration") or {}
    scaling = config.get("scaling") or {}
    return {
        "hardware": config.get("hardware"),
        "min_instances": config.get("min_instances", scaling.get("min_instances")),
        "max_instances": config.get("max_instances", scaling.get("max_instances")),
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _hhmm(moment: dt.datetime, seconds: bool = False) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def prediction_time(prediction: dict[str, Any]) -> dt.datetime | None:
    """When a prediction last did something: completed, else started, else created."""
    for key in ("completed_at", "started_at", "created_at"):
        moment = parse_time(prediction.get(key))
        if moment is not None:
            return moment
    return None


def _created(prediction: dict[str, Any]) -> dt.datetime:
    return parse_time(prediction.get("created_at")) or dt.datetime.min.replace(tzinfo=dt.UTC)


def derive_status(item: dict[str, Any], predictions: list[dict[str, Any]], *, now: dt.datetime) -> tuple[str, str]:
    """The derived status of a deployment and why, from its configuration and its
    recent predictions (any order). Rows in priority order: failing, setting up,
    active, idle (warm or tailing off), offline."""
    config = configuration(item)
    low, high = _count(config["min_instances"]), _count(config["max_instances"])
    newest_first = sorted(predictions, key=_created, reverse=True)
    for p in newest_first:
        if p.get("status") not in PREDICTION_STATUS:
            logger.warning("replicate: unknown prediction status %r for %s", p.get("status"), p.get("id"))
    finished = [p for p in newest_first if p.get("status") in TERMINAL]
    finished.sort(key=lambda p: prediction_time(p) or _created(p), reverse=True)
    streak = 0
    for p in finished:
        if p.get("status") != "failed":
            break
        streak += 1
    if streak >= FAILING_STREAK:
        error = str(finished[0].get("error") or "no error message")[:300]
        return "failing", f"the last {streak} predictions failed: {error}"

    waiting = [p for p in newest_first if p.get("status") == "starting"]
    running = [p for p in newest_first if p.get("status") == "processing"]
    if waiting and not running:
        since = min(_created(p) for p in waiting)
        if now - since >= SLOW_START:
            return (
                "setting up",
                f"a prediction has waited since {_hhmm(since, seconds=True)} for an instance to boot "
                f"(cold start) or come free (min_instances {low}, max_instances {high})",
            )
    if running or waiting:
        busy = len(running) or len(waiting)
        return "active", f"{_plural(busy, 'prediction')} in progress (min_instances {low}, max_instances {high})"
    if low >= 1:
        return "idle", f"{_plural(low, 'instance')} kept warm (min_instances {low}, max_instances {high})"
    last = max((t for t in (prediction_time(p) for p in finished) if t is not None), default=None)
    if last is not None and now - last < IDLE_WINDOW:
        return (
            "idle",
            f"idle since a prediction ended at {_hhmm(last)}; scales to zero within a few minutes (min_instances 0)",
        )
    minutes = int(IDLE_WINDOW.total_seconds() // 60)
    return (
        "offline",
        f"scaled to zero (min_instances 0), no prediction in the last {minutes} minutes; "
        "the next prediction wakes it with a cold start",
    )


def remote_state(status: str, item: dict[str, Any]) -> RemoteState:
    """The table, refined by ``min_instances``: instances that stay up only because of a
    recent prediction (min 0) are on their way to zero (stopping); a cold start with
    instances kept warm (min ≥ 1) is a new release booting (updating)."""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("replicate: unknown derived status %r for %s/%s", status, item.get("owner"), item.get("name"))
        return RemoteState.UNKNOWN
    warm = _count(configuration(item)["min_instances"]) >= 1
    if status == "idle" and not warm:
        return RemoteState.STOPPING
    if status == "setting up" and warm:
        return RemoteState.UPDATING
    return state


def billed_instances(status: str, item: dict[str, Any]) -> int:
    """Instances we believe are up (and billed: setup, idle and active time [D/I])."""
    low = _count(configuration(item)["min_instances"])
    if status in ("active", "setting up", "idle"):
        return max(low, 1)
    if status == "failing":
        return low
    return 0


def _summary(prediction: dict[str, Any]) -> dict[str, Any]:
    """What ``raw`` keeps of a prediction: no input, output or logs (they may hold data
    the user would not want copied; Replicate deletes them after an hour anyway [V])."""
    keys = ("id", "status", "created_at", "started_at", "completed_at", "error", "source")
    out = {k: prediction.get(k) for k in keys if prediction.get(k) is not None}
    metrics = prediction.get("metrics") or {}
    if isinstance(metrics, dict) and metrics.get("predict_time") is not None:
        out["predict_time"] = metrics["predict_time"]
    return out


def prediction_event(prediction: dict[str, Any]) -> VendorEvent:
    status = str(prediction.get("status") or "")
    message = f"Prediction {prediction.get('id', '?')} {status or 'in an unknown state'}"
    metrics = prediction.get("metrics") or {}
    predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
    if isinstance(predict_time, (int, float)) and status == "succeeded":
        message += f" in {predict_time:.1f} s"
    if prediction.get("error"):
        message += f": {str(prediction['error'])[:300]}"
    return VendorEvent(message=message, at=parse_time(prediction.get("created_at")), kind=status)


# --- errors --------------------------------------------------------------------------------------

_FIELD_RE = re.compile(r"\b(" + "|".join(sorted(CREATE_FIELDS, key=len, reverse=True)) + r")\b")


def field_named_in(detail: str) -> str:
    """The create field a 422's ``detail`` is about (the one it names first), or ``""``."""
    match = _FIELD_RE.search(detail or "")
    return match.group(1) if match else ""


# --- the adapter -----------------------------------------------------------------------------------


class ReplicateProvider(Provider):
    name: ClassVar[str] = "replicate"
    default_base_url: ClassVar[str] = "https://api.replicate.com/v1"
    sandbox_path: ClassVar[str] = "/replicate/v1"
    # No start/stop/restart/logs routes [V]: stop and start are PATCHes of min_instances,
    # scale of both bounds; recent predictions are the event history.
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.SCALE, Action.UPDATE, Action.DELETE, Action.EVENTS}
    )
    unique_names: ClassVar[bool] = True  # owner/name is the URL [V]
    scale_keys: ClassVar[tuple[str, ...]] = ("min_instances", "max_instances")
    scale_unit: ClassVar[str] = "instances"

    def __init__(self, api_key: str, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._owner: str | None = None  # GET /account, once per adapter instance

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}  # [V]; "Token <key>" is the older form

    def parse_error(self, response: httpx.Response) -> ProviderError | None:
        """RFC 7807 problem details ``{type?, title?, status?, detail?, instance?}`` [V]."""
        body = json_or_none(response)
        if not isinstance(body, dict):
            return None
        detail = body.get("detail") or body.get("title") or ""
        detail = detail if isinstance(detail, str) else str(detail)
        if not detail:
            return None
        status = response.status_code
        try:
            method, path = response.request.method, response.request.url.path
        except RuntimeError:  # a response built without a request
            method, path = "", ""
        if status in (400, 422):
            return SpecError({field_named_in(detail): [detail]}, status_code=status, body=body)
        if status == 409:
            # A duplicate name on create [I: 409, as for duplicate model names, issue #323];
            # elsewhere (delete before 15 minutes offline) a refusal of the current state.
            if method == "POST" and path.rstrip("/").endswith("/deployments"):
                return SpecError({"name": [detail]}, status_code=status, body=body)
            return Rejected(detail, status_code=status, body=body)
        if status == 402:
            return Rejected(detail, status_code=status, body=body)
        return None  # 401/403/404/429/5xx: the shared mapping, with this detail as message

    # --- identity ------------------------------------------------------------------------
    def owner(self) -> str:
        """The account's username: every deployment lives under it [V]."""
        if self._owner is None:
            self._owner = str(self._account()["username"])
        return self._owner

    def _account(self) -> dict[str, Any]:
        data = self._http.get("/account").json()
        if isinstance(data, dict) and data.get("username"):
            self._owner = str(data["username"])
        return data

    @staticmethod
    def _split(external_id: str) -> tuple[str, str]:
        owner, _, name = external_id.partition("/")
        if not owner or not name:
            raise NotFound(f"not a Replicate deployment id (owner/name): {external_id!r}")
        return owner, name

    def _path(self, external_id: str) -> str:
        owner, name = self._split(external_id)
        return f"/deployments/{quote(owner, safe='')}/{quote(name, safe='')}"

    # --- paging ----------------------------------------------------------------------------
    def _next(self, url: Any) -> str | None:
        """A ``next`` link is a full URL [V]; follow it with the key only on the API's
        own host (and scheme: the docs' example says http://)."""
        if not url or not isinstance(url, str):
            return None
        base, link = urlsplit(self._http.base_url), urlsplit(url)
        if link.netloc and link.netloc != base.netloc:
            raise Rejected(f"Replicate's next page points at another host ({link.netloc}); not sending the key there")
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    def _pages(self, path: str, *, params: dict[str, Any] | None = None, limit: int = MAX_LIST_PAGES) -> list[Any]:
        results: list[Any] = []
        url: str | None = path
        seen: set[str] = set()
        for _ in range(limit):
            if url is None or url in seen:
                break
            seen.add(url)
            data = self._http.get(url, params=params if url == path else None).json()
            results += (data or {}).get("results") or []
            url = self._next((data or {}).get("next"))
        return results

    def recent_predictions(self, *, now: dt.datetime | None = None) -> list[dict[str, Any]] | None:
        """The account's predictions of the last ``RECENT_WINDOW``, newest first; ``None``
        when they cannot be read (the deployments are still worth showing)."""
        now = now or dt.datetime.now(dt.UTC)
        after = (now - RECENT_WINDOW).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            return self._pages("/predictions", params={"created_after": after}, limit=MAX_PREDICTION_PAGES)
        except AuthError:
            raise
        except ProviderError as exc:
            logger.warning("replicate: recent predictions unavailable: %s", exc.message)
            return None

    def _belongs(self, prediction: dict[str, Any], external_id: str) -> bool:
        # The notes leave open whether ``deployment`` is "owner/name" or "name": accept both.
        owner, name = self._split(external_id)
        value = prediction.get("deployment")
        return value in (external_id, name) if isinstance(value, str) else False

    def _group(self, predictions: list[dict[str, Any]], external_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {ref: [] for ref in external_ids}
        for prediction in predictions:
            for ref in grouped:
                if self._belongs(prediction, ref):
                    grouped[ref].append(prediction)
                    break
        return grouped

    # --- mapping ----------------------------------------------------------------------
    def to_remote(
        self,
        item: dict[str, Any],
        predictions: list[dict[str, Any]] | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> Remote:
        now = now or dt.datetime.now(dt.UTC)
        owner, name = str(item.get("owner") or ""), str(item.get("name") or "")
        external_id = f"{owner}/{name}"
        release = item.get("current_release") or {}
        config = configuration(item)
        status, why = derive_status(item, predictions or [], now=now)
        message = DERIVED + why
        if predictions is None:
            message += " (recent predictions could not be read)"
        rate = hourly_rate(config["hardware"])
        path = f"{self._http.base_url}{self._path(external_id)}/predictions" if owner and name else ""
        connection: dict[str, str] = {}
        if release.get("model") and release.get("version"):
            connection["Model version"] = f"{release['model']}:{release['version']}"
        if path:
            connection["Run a prediction"] = (
                f'curl -s -X POST -H "Authorization: Bearer $REPLICATE_API_TOKEN" -H "Content-Type: application/json" '
                f"-d '{{\"input\": {{}}}}' {path}"
            )
        recent = sorted(predictions or [], key=_created, reverse=True)[:RAW_PREDICTIONS]
        return Remote(
            external_id=external_id,
            name=name,
            state=remote_state(status, item),
            vendor_state=status,
            message=message,
            endpoints=[Endpoint(url=path, protocol="https", label="Predictions (POST)")] if path else [],
            price_per_hour=rate * billed_instances(status, item) if rate is not None else None,
            created_at=parse_time(release.get("created_at")),
            connection=connection,
            # The deployment as Replicate sent it, plus (our addition) a summary of its
            # recent predictions from GET /predictions: the delete rule reads their times.
            raw={**item, "recent_predictions": [_summary(p) for p in recent]},
        )

    def _with_health(self, item: dict[str, Any]) -> Remote:
        ref = f"{item.get('owner')}/{item.get('name')}"
        predictions = self.recent_predictions()
        mine = None if predictions is None else self._group(predictions, [ref])[ref]
        return self.to_remote(item, mine)

    # --- rules and prices ----------------------------------------------------------------
    @classmethod
    def validate_spec(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return check_spec(spec)

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        return check_scale(changes)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """One instance of the spec's hardware per hour (the live catalog first)."""
        rates = {o.sku: o.price_per_hour for o in offers if o.price_per_hour is not None}
        return hourly_rate(spec.get("hardware"), rates)

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        if action is not Action.DELETE:
            return ""
        config = configuration(raw) if raw.get("current_release") else {"min_instances": spec.get("min_instances")}
        rule = "Replicate deletes a deployment only after it has been offline and unused for 15 minutes"
        if _count(config["min_instances"]) > 0:
            return f"{rule}: stop it first (min_instances 0); it can be deleted 15 minutes after that."
        moments = [t for t in (prediction_time(p) for p in raw.get("recent_predictions") or []) if t is not None]
        if since is not None:
            moments.append(since if since.tzinfo else since.replace(tzinfo=dt.UTC))
        if not moments:
            return ""
        ready = max(moments) + DELETE_AFTER
        now = dt.datetime.now(dt.UTC)
        if now >= ready:
            return ""
        minutes = max(1, int((ready - now).total_seconds() // 60) + 1)
        return f"{rule}: possible from {_hhmm(ready)} (in about {_plural(minutes, 'minute')})."

    # --- lifecycle ------------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        body = check_spec(spec)
        item = self._http.post("/deployments", json=body).json()  # 200 or 201: not stated [I]
        return self.to_remote(item, [])  # a new deployment has made no predictions yet

    def get(self, external_id: str) -> Remote:
        return self._with_health(self._http.get(self._path(external_id)).json())

    def list_remotes(self) -> list[Remote]:
        items = self._pages("/deployments")
        now = dt.datetime.now(dt.UTC)
        refs = [f"{i.get('owner')}/{i.get('name')}" for i in items]
        predictions = self.recent_predictions(now=now) if items else []
        grouped = self._group(predictions, refs) if predictions is not None else {}
        return [
            self.to_remote(i, grouped.get(ref) if predictions is not None else None, now=now)
            for i, ref in zip(items, refs, strict=True)
        ]

    def find_by_name(self, name: str) -> Remote | None:
        try:
            return self.get(f"{self.owner()}/{name}")
        except NotFound:
            return None

    def adopt(self, remote: Remote, spec: dict[str, Any]) -> Remote:
        """Take over what an interrupted create made, but only if it is exactly what we
        asked for (notes §4: compare the config before retrying)."""
        release = remote.raw.get("current_release") or {}
        wanted = check_spec(spec)
        have = {"model": release.get("model"), "version": release.get("version"), **configuration(remote.raw)}
        differs = [
            k for k in ("model", "version", "hardware", "min_instances", "max_instances") if have.get(k) != wanted[k]
        ]
        if differs or release.get("number") != 1:
            raise SpecError(
                {
                    "name": [
                        f"{remote.external_id} already exists on Replicate with another configuration; choose another name."
                    ]
                }
            )
        return remote

    def _patch(self, external_id: str, body: dict[str, Any]) -> Remote:
        # Every PATCH makes a new release (current_release.number + 1) [V].
        return self._with_health(self._http.patch(self._path(external_id), json=body).json())

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote:
        """PATCH only what changed among hardware, min/max instances and version; the
        model and the name cannot change [V]."""
        new = check_spec(spec)
        if new["name"] != self._split(external_id)[1]:
            raise SpecError({"name": ["Replicate cannot rename a deployment: its name is part of its URL."]})
        if previous and previous.get("model") and new["model"] != previous["model"]:
            raise SpecError({"model": ["Replicate cannot change a deployment's model, only its version."]})
        body = {k: new[k] for k in UPDATE_FIELDS if previous is None or previous.get(k) != new[k]}
        if not body:
            return self.get(external_id)  # nothing to send: no needless release
        return self._patch(external_id, body)

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote:
        return self._patch(external_id, check_scale(changes))

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote:
        # Scale to zero: instances go offline after their idle period and a prediction
        # wakes them [D/I]. max_instances stays, since whether 0 is accepted is unverified.
        return self._patch(external_id, {"min_instances": 0})

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote:
        low = max(_count(spec.get("min_instances")), 1)  # a spec created at zero starts one
        body: dict[str, int] = {"min_instances": low}
        if _count(spec.get("max_instances")) < low:
            body["max_instances"] = low
        return self._patch(external_id, body)

    def delete(self, external_id: str) -> None:
        self._http.delete(self._path(external_id))  # 204 [V]; 409 before 15 minutes offline

    def events(self, external_id: str) -> list[VendorEvent]:
        """This deployment's recent predictions, oldest first: its only health record."""
        self._split(external_id)
        predictions = self.recent_predictions() or []
        mine = [p for p in predictions if self._belongs(p, external_id)]
        return [prediction_event(p) for p in sorted(mine, key=_created)]

    # --- account and catalog ----------------------------------------------------------------
    def verify(self) -> AccountInfo:
        account = self._account()
        kind = account.get("type") or "account"
        label = f" ({account['name']})" if account.get("name") else ""
        # Replicate publishes no balance endpoint: prepaid credit is only on the web.
        return AccountInfo(
            summary=f"Key accepted: {kind} {account.get('username', '?')}{label}.",
            username=str(account.get("username") or ""),
        )

    def catalog(self) -> list[Offer]:
        """``GET /hardware`` (a bare array of ``{name, sku}`` [V]) priced from the
        maintained table; a sku the table does not know is listed without a price."""
        items = self._http.get("/hardware").json()
        offers = []
        for item in items if isinstance(items, list) else []:
            sku = str(item.get("sku") or "")
            if not sku:
                continue
            known = HARDWARE_PRICES.get(sku)
            extra: dict[str, Any] = {"price_source": PRICES_SOURCE if known else "not in the price table"}
            if known:
                extra.update(price_per_second=str(known.per_second), cpus=known.cpus, ram_gb=known.ram_gb)
                if known.note:
                    extra["note"] = known.note
            offers.append(
                Offer(
                    sku=sku,
                    name=str(item.get("name") or (known.name if known else sku)),
                    gpu_model=known.gpu_model if known else "",
                    gpu_count=known.gpu_count if known else (0 if sku.startswith("cpu") else 1),
                    gpu_memory_gb=known.gpu_memory_gb if known else None,
                    price_per_hour=known.per_hour if known else None,
                    extra=extra,
                    raw=item,
                )
            )
        return offers
