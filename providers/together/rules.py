"""Together's rules for a ``CreateDeploymentRequest``, and for the PATCHes that change one.

The spec this adapter takes *is* a ``CreateDeploymentRequest`` body (the OpenAPI excerpt
in ``shared/seeds/001_0c9ef9f7f55b23e7.txt``, kept as ``openapi.json`` beside this
module). :func:`check_spec` enforces the schema's rules [V] and the ones the notes
(``shared/vendor-apis/together.md``) mark as ours [I]. It is a short list of section
checks, each reading a few fields and reporting on the paths it owns; every error is
collected before :class:`SpecError` is raised, so a form shows them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from providers.base import SpecError
from providers.coerce import whole

# --- the vendor's rules (the form reads these too) -----------------------------------------
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
NAME_MAX = 100
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CUSTOM_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# The enum of the 2026-04 spec (seed) plus h200-140gb, in the official SDK's order
# (PyPI together 3.1.1, together/types/beta/jig_deploy_params.py, JigDeployParams.gpu_type;
# npm together-ai 0.52.0, resources/beta/jig/jig.d.ts). Older docs had a100-80gb: the
# list changes between versions, so a type not listed here is the vendor's 400 to give.
GPU_TYPES: tuple[str, ...] = ("h100-80gb", "h100-40gb-mig", "h200-140gb", "b200-192gb")
GPU_LABELS = {
    "h100-80gb": "NVIDIA H100 80GB",
    "h100-40gb-mig": "NVIDIA H100 40GB (MIG slice)",
    "h200-140gb": "NVIDIA H200 140GB",
    "b200-192gb": "NVIDIA B200 192GB",
}
MAX_GPU_COUNT = 8  # [I] one node's worth; the spec sets no maximum
CPU_MIN = 0.1
MEMORY_MAX = 1000  # GiB
STORAGE_MAX = 400  # GiB
PORT_RANGE = (1, 65535)
HTTP_METRICS = ("HTTPTotalRequests", "HTTPAvgRequestDuration")
QUEUE_METRIC = "QueueBacklogPerWorker"
CUSTOM_METRIC = "CustomMetric"
AUTOSCALING_METRICS = (*HTTP_METRICS, QUEUE_METRIC, CUSTOM_METRIC)
AUTOSCALING_DEFAULT_TARGET = {
    "HTTPTotalRequests": 100,
    "HTTPAvgRequestDuration": 500,
    QUEUE_METRIC: 1.01,
    CUSTOM_METRIC: 500,
}
AUTOSCALING_DEFAULT_INTERVAL = 10
# How replicas above reserved capacity behave: "stable" ones stay running after scale-up,
# "preemptible" ones may be evicted during capacity contention. Not in the seed; the SDK
# has it on create, update and the deployment (PyPI together 3.1.1,
# together/types/beta/jig_deploy_params.py, jig_update_params.py, deployment.py). It
# names no default, so leaving it out leaves it to Together.
CAPACITY_TYPES = ("stable", "preemptible")
# model_mounts ids, by the prefixes the SDK's docstrings give (ml_..., rv_...).
MODEL_ID_RE = re.compile(r"^ml_[A-Za-z0-9_-]+$")
MODEL_REVISION_RE = re.compile(r"^rv_[A-Za-z0-9_-]+$")

# Reports one problem on one spec path ("name", "environment_variables.0.value").
Report = Callable[[str, str], None]
Section = Callable[[dict[str, Any], Report, bool], dict[str, Any]]


def check_spec(spec: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check a ``CreateDeploymentRequest`` (or, with ``partial``, an update) and return it
    without empty optional fields. Raises :class:`SpecError` keyed by field path."""
    errors: dict[str, list[str]] = {}

    def report(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    out: dict[str, Any] = {}
    for section in SECTIONS:
        out.update(section(spec, report, partial))
    if errors:
        raise SpecError(errors)
    return out


def check_scale(changes: dict[str, Any]) -> dict[str, Any]:
    """New replica bounds for a running deployment: a minimum, and a maximum of at least
    one (zero for both is what Stop sends, not Scale)."""
    body = check_spec({k: changes.get(k) for k in ("min_replicas", "max_replicas")}, partial=True)
    if "min_replicas" not in body:
        raise SpecError({"min_replicas": ["This field is required."]})
    body.setdefault("max_replicas", max(body["min_replicas"], 1))
    if body["max_replicas"] < 1:
        raise SpecError({"max_replicas": ["At least 1; to stop it, use Stop."]})
    return body


# --- reading numbers ---------------------------------------------------------------------------


def _number(spec: dict[str, Any], key: str, report: Report, *, integer: bool) -> float | int | None:
    """The number at ``key``, or ``None`` when absent. JSON numbers only: the API takes no
    numeric strings, so neither do we (hence not ``coerce.decimal``, which reads them)."""
    value = spec.get(key)
    if value is None or value == "":
        return None
    if integer:
        number = whole(value, strings=False)
        if number is None:
            report(key, "Must be a whole number.")
        return number
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        report(key, "Must be a number.")
        return None
    return value


def _is_given(value: Any) -> bool:
    # Not coerce.is_empty: 0 is a value here and [] / {} are not "nothing" but wrong types.
    return value not in (None, "")


# --- the sections, in the order the form shows them ----------------------------------------------


def _required(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    for key in ("name", "image", "gpu_type"):
        if not partial and not spec.get(key):
            report(key, "This field is required.")
    return {}


def _what_runs(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = spec.get("name")
    if name:
        if not isinstance(name, str) or not NAME_RE.match(name):
            report("name", "Use 1–100 letters, digits, underscores or hyphens.")
        out["name"] = name
    if spec.get("description"):
        out["description"] = str(spec["description"])
    image = spec.get("image")
    if image:
        if not isinstance(image, str) or any(ch.isspace() for ch in image):
            report("image", "An image reference has no spaces, e.g. registry.together.ai/<project>/<image>:<tag>.")
        out["image"] = image
    return out


def _resources(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gpu_type = spec.get("gpu_type")
    if gpu_type:
        if gpu_type not in GPU_TYPES:
            report("gpu_type", f"Choose one of: {', '.join(GPU_TYPES)}.")
        out["gpu_type"] = gpu_type
    gpu_count = _number(spec, "gpu_count", report, integer=True)
    if gpu_count is not None:
        if not 1 <= gpu_count <= MAX_GPU_COUNT:
            report("gpu_count", f"Between 1 and {MAX_GPU_COUNT} GPUs per replica.")
        out["gpu_count"] = gpu_count
    cpu = _number(spec, "cpu", report, integer=False)
    if cpu is not None:
        if cpu < CPU_MIN:
            report("cpu", f"At least {CPU_MIN} cores (0.1 = 100 millicores).")
        out["cpu"] = cpu
    memory = _number(spec, "memory", report, integer=False)
    if memory is not None:
        if not 0 < memory <= MEMORY_MAX:
            report("memory", f"More than 0 and at most {MEMORY_MAX} GiB.")
        out["memory"] = memory
    storage = _number(spec, "storage", report, integer=True)
    if storage is not None:
        if not 0 <= storage <= STORAGE_MAX:
            report("storage", f"Between 0 and {STORAGE_MAX} GiB.")
        out["storage"] = storage
    return out


def _replicas(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    low = _number(spec, "min_replicas", report, integer=True)
    high = _number(spec, "max_replicas", report, integer=True)
    if low is not None:
        if low < 0:
            report("min_replicas", "Cannot be negative (0 scales to zero).")
        out["min_replicas"] = low
    if high is not None:
        if high < 0:
            report("max_replicas", "Cannot be negative.")
        elif not partial and high < 1:
            report("max_replicas", "At least 1, or nothing will ever run.")
        out["max_replicas"] = high
    if low is not None and high is not None and high < low:
        report("max_replicas", "Must be at least the minimum replicas.")
    return out


def _capacity(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    capacity = spec.get("capacity_type")
    if not _is_given(capacity):
        return {}
    if capacity not in CAPACITY_TYPES:
        report("capacity_type", f"Choose one of: {', '.join(CAPACITY_TYPES)}.")
    return {"capacity_type": capacity}


def _traffic(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    port = _number(spec, "port", report, integer=True)
    if port is not None:
        if not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
            report("port", "A port between 1 and 65535.")
        out["port"] = port
    health = spec.get("health_check_path")
    if _is_given(health):
        if not isinstance(health, str) or not health.startswith("/") or any(ch.isspace() for ch in health):
            report("health_check_path", "A path such as /health.")
        out["health_check_path"] = health
    elif partial and health == "":
        out["health_check_path"] = ""  # PATCH "" turns health checks off [V]
    grace = _number(spec, "termination_grace_period_seconds", report, integer=True)
    if grace is not None:
        if grace < 0:
            report("termination_grace_period_seconds", "Cannot be negative.")
        out["termination_grace_period_seconds"] = grace
    return out


def _command_line(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("command", "args"):
        value = spec.get(key)
        if value in (None, []):
            continue
        if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
            report(key, "A list of strings.")
        else:
            out[key] = value
    return out


def _environment(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    env = spec.get("environment_variables")
    if env is None:
        return {}
    if not isinstance(env, list):
        report("environment_variables", "A list of variables.")
        return {"environment_variables": []}
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(env):
        out.append(_env_variable(item if isinstance(item, dict) else {}, f"environment_variables.{i}", seen, report))
    return {"environment_variables": out}


def _env_variable(item: dict[str, Any], where: str, seen: set[str], report: Report) -> dict[str, str]:
    name = item.get("name") or ""
    if not isinstance(name, str) or not ENV_NAME_RE.match(name):
        report(f"{where}.name", "Start with a letter or underscore; then letters, digits, underscores.")
    elif name in seen:
        report(f"{where}.name", f"{name} is set twice.")
    seen.add(name)
    has_value = _is_given(item.get("value"))
    has_secret = _is_given(item.get("value_from_secret"))
    if has_value == has_secret:
        report(f"{where}.value", "Give either a value or a secret, not both and not neither.")
    entry = {"name": name}
    if has_secret:
        entry["value_from_secret"] = item["value_from_secret"]
    else:
        entry["value"] = "" if item.get("value") is None else str(item["value"])
    return entry


def _volumes(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    volumes = spec.get("volumes")
    if volumes is None:
        return {}
    if not isinstance(volumes, list):
        report("volumes", "A list of volume mounts.")
        return {"volumes": []}
    out: list[dict[str, Any]] = []
    paths: set[str] = set()
    for i, item in enumerate(volumes):
        out.append(_volume(item if isinstance(item, dict) else {}, f"volumes.{i}", paths, report))
    return {"volumes": out}


def _volume(item: dict[str, Any], where: str, paths: set[str], report: Report) -> dict[str, Any]:
    name, path = item.get("name") or "", item.get("mount_path") or ""
    if not name or not isinstance(name, str):
        report(f"{where}.name", "Name an existing volume (name or id).")
    if not isinstance(path, str) or not path.startswith("/"):
        report(f"{where}.mount_path", "An absolute path such as /models.")
    elif path in paths:
        report(f"{where}.mount_path", f"{path} is mounted twice.")
    paths.add(path)
    entry: dict[str, Any] = {"name": name, "mount_path": path}
    version = item.get("version")
    if _is_given(version):
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            report(f"{where}.version", "A version number of 1 or more.")
        entry["version"] = version
    return entry


def _model_mounts(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    """``model_mounts``: weights preloaded from Together's model registry (together 3.1.1,
    types/beta/jig_deploy_params.py ``ModelMount``: ``model_id`` "Model registry identifier
    (``ml_...``)", ``mount_path``, optional ``revision_id`` "(``rv_...``) to pin"; "At most one
    mount is supported, and it cannot be used with volumes")."""
    mounts = spec.get("model_mounts")
    if mounts is None or mounts == [] and not partial:
        return {}
    if not isinstance(mounts, list):
        report("model_mounts", "A list of model mounts.")
        return {"model_mounts": []}
    if len(mounts) > 1:
        report("model_mounts", "Together mounts at most one model.")
    if mounts and spec.get("volumes"):
        report("model_mounts", "A model mount cannot be used with volumes: remove the volumes or the mount.")
    out = []
    for i, item in enumerate(mounts):
        item = item if isinstance(item, dict) else {}
        where = f"model_mounts.{i}"
        model_id, path, revision = item.get("model_id") or "", item.get("mount_path") or "", item.get("revision_id")
        if not isinstance(model_id, str) or not MODEL_ID_RE.match(model_id):
            report(f"{where}.model_id", "A model registry id, such as ml_abc123.")
        if not isinstance(path, str) or not path.startswith("/"):
            report(f"{where}.mount_path", "An absolute path such as /models.")
        entry = {"model_id": model_id, "mount_path": path}
        if _is_given(revision):
            if not isinstance(revision, str) or not MODEL_REVISION_RE.match(revision):
                report(f"{where}.revision_id", "A validated revision id, such as rv_abc123, or empty for the latest.")
            entry["revision_id"] = revision
        out.append(entry)
    return {"model_mounts": out}


def _autoscaling(spec: dict[str, Any], report: Report, partial: bool) -> dict[str, Any]:
    config = spec.get("autoscaling")
    if not config:
        # PATCH {} turns autoscaling off [V]; on create, nothing means off.
        return {"autoscaling": {}} if partial and config == {} else {}
    if not isinstance(config, dict):
        report("autoscaling", "An autoscaling configuration.")
        return {"autoscaling": {}}
    metric = config.get("metric")
    if metric not in AUTOSCALING_METRICS:
        report("autoscaling.metric", f"Choose one of: {', '.join(AUTOSCALING_METRICS)}.")
        return {"autoscaling": {}}
    target = config.get("target")
    if not _is_given(target):
        target = AUTOSCALING_DEFAULT_TARGET[metric]
    if isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0:
        report("autoscaling.target", "A number above 0.")
    return {"autoscaling": {"metric": metric, "target": target, **_metric_options(metric, config, report)}}


def _metric_options(metric: str, config: dict[str, Any], report: Report) -> dict[str, Any]:
    """What each kind of metric takes besides its target."""
    if metric in HTTP_METRICS:
        interval = config.get("time_interval_minutes")
        if not _is_given(interval):
            return {}
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            report("autoscaling.time_interval_minutes", "Whole minutes, 1 or more.")
        return {"time_interval_minutes": interval}
    if metric == QUEUE_METRIC:
        return {"model": str(config["model"])} if config.get("model") else {}
    custom = config.get("custom_metric_name") or ""
    if not isinstance(custom, str) or not CUSTOM_METRIC_RE.match(custom):
        report(
            "autoscaling.custom_metric_name",
            "A Prometheus metric name: letters, digits, _ and :, not starting with a digit.",
        )
    return {"custom_metric_name": custom}


SECTIONS: tuple[Section, ...] = (
    _required,
    _what_runs,
    _resources,
    _replicas,
    _capacity,
    _traffic,
    _command_line,
    _environment,
    _volumes,
    _model_mounts,
    _autoscaling,
)
