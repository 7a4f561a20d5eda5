"""The Together AI deployment form: every field of ``CreateDeploymentRequest``.

The rules themselves live in ``providers.together`` (``TogetherProvider.validate``);
fields here only parse types and carry the limits to the browser as hints
(``min``/``max`` attributes). Only names in that package's ``__all__`` are imported.
"""

from __future__ import annotations

import shlex
from decimal import Decimal
from typing import Any

from django import forms

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.base import RowForm, VendorDeploymentForm
from providers.together import (
    AUTOSCALING_METRICS,
    CAPACITY_TYPES,
    CPU_MIN,
    CUSTOM_METRIC,
    GPU_LABELS,
    GPU_TYPES,
    HTTP_METRICS,
    MAX_GPU_COUNT,
    MEMORY_MAX,
    NAME_MAX,
    QUEUE_METRIC,
    STORAGE_MAX,
)

# The SDK's words for each (together 3.1.1, together/types/beta/jig_deploy_params.py).
CAPACITY_LABELS = {
    "stable": "Stable: replicas stay running after scale-up",
    "preemptible": "Preemptible: replicas may be evicted when capacity is short",
}
# Main-form fields that go into the spec as they are, when given.
PLAIN_FIELDS = (
    "name",
    "description",
    "image",
    "gpu_type",
    "gpu_count",
    "cpu",
    "memory",
    "storage",
    "min_replicas",
    "max_replicas",
    "capacity_type",
    "port",
    "health_check_path",
    "termination_grace_period_seconds",
    "command",
    "args",
)


def _num(attrs: dict[str, Any] | None = None, **kwargs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={**(attrs or {}), **kwargs})


class ShellListField(forms.CharField):
    """A command line typed as text, sent as the string array the API wants."""

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        if not text:
            return []
        try:
            return shlex.split(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Could not split this into words: {exc}.") from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return shlex.join(value)
        return value


class TogetherMainForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        label="Together account",
        empty_label=None,
        help_text="Which of the team's Together keys pays for it.",
    )
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="Unique in the project: letters, digits, _ and -. Also the path of its endpoint.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "flux-worker"}),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    image = forms.CharField(
        max_length=500,
        help_text="An image in Together's registry, best pinned by digest: registry.together.ai/<project>/<image>@sha256:…",
        widget=forms.TextInput(
            attrs={"spellcheck": "false", "placeholder": "registry.together.ai/proj_…/flux-worker:latest"}
        ),
    )
    gpu_type = forms.ChoiceField(
        label="GPU type", choices=[(g, GPU_LABELS[g]) for g in GPU_TYPES], initial=GPU_TYPES[0]
    )
    gpu_count = forms.IntegerField(label="GPUs per replica", initial=1, widget=_num(min=1, max=MAX_GPU_COUNT))
    cpu = forms.FloatField(
        label="CPU cores",
        required=False,
        help_text="Per replica; 0.1 = 100 millicores.",
        widget=_num(min=CPU_MIN, step="0.1"),
    )
    memory = forms.FloatField(
        label="Memory (GiB)",
        required=False,
        help_text="Per replica; 0.5 = 512 MiB.",
        widget=_num(min="0.5", max=MEMORY_MAX, step="0.5"),
    )
    storage = forms.IntegerField(label="Ephemeral disk (GiB)", required=False, widget=_num(min=0, max=STORAGE_MAX))
    min_replicas = forms.IntegerField(
        label="Minimum replicas", initial=1, help_text="0 lets it scale to zero when idle.", widget=_num(min=0)
    )
    max_replicas = forms.IntegerField(
        label="Maximum replicas", required=False, help_text="Defaults to the minimum.", widget=_num(min=1)
    )
    capacity_type = forms.ChoiceField(
        label="Replicas above reserved capacity",
        required=False,
        choices=[("", "Together's default"), *((c, CAPACITY_LABELS[c]) for c in CAPACITY_TYPES)],
    )
    # One model mount (together 3.1.1, types/beta/jig_deploy_params.py ModelMount: "At most
    # one mount is supported, and it cannot be used with volumes").
    model_mount_id = forms.CharField(
        label="Model from Together's registry",
        required=False,
        max_length=200,
        help_text="Its weights are preloaded into every replica; a registry id such as ml_abc123. Not with volumes.",
        widget=forms.TextInput(attrs={"placeholder": "ml_…", "autocomplete": "off"}),
    )
    model_mount_path = forms.CharField(
        label="Mounted at",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "/models"}),
    )
    model_mount_revision = forms.CharField(
        label="Model revision",
        required=False,
        max_length=200,
        help_text="A validated revision (rv_…) to pin; empty for the latest.",
        widget=forms.TextInput(attrs={"placeholder": "latest"}),
    )
    autoscaling_metric = forms.ChoiceField(
        label="Autoscaling",
        required=False,
        choices=[
            ("", "Off: keep the minimum running"),
            ("HTTPTotalRequests", "HTTP requests per replica"),
            ("HTTPAvgRequestDuration", "Average request duration (ms)"),
            ("QueueBacklogPerWorker", "Queue backlog per worker"),
            ("CustomMetric", "A custom Prometheus metric"),
        ],
    )
    autoscaling_target = forms.FloatField(
        label="Target",
        required=False,
        help_text="Defaults: 100 requests, 500 ms, 1.01 queued jobs per worker, 500 for a custom metric.",
        widget=_num(step="any", min=0),
    )
    autoscaling_time_interval_minutes = forms.IntegerField(
        label="Rate window (minutes)", required=False, help_text="HTTP metrics only. Default 10.", widget=_num(min=1)
    )
    autoscaling_model = forms.CharField(
        label="Queue name", required=False, help_text="Queue metric only. Defaults to the deployment's name."
    )
    autoscaling_custom_metric_name = forms.CharField(
        label="Custom metric name", required=False, help_text="Custom metric only, e.g. my_app:queue_depth."
    )
    port = forms.IntegerField(
        required=False,
        help_text="The port your app listens on. Needed if it serves traffic.",
        widget=_num(min=1, max=65535),
    )
    health_check_path = forms.CharField(
        label="Health check path", required=False, widget=forms.TextInput(attrs={"placeholder": "/health"})
    )
    termination_grace_period_seconds = forms.IntegerField(
        label="Shutdown grace period (s)",
        required=False,
        help_text="Time to finish work before being killed. Together's CLI uses 300.",
        widget=_num(min=0),
    )
    command = ShellListField(
        required=False,
        help_text="Replaces the image's ENTRYPOINT, written as on a shell: /bin/sh -c",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    args = ShellListField(
        required=False,
        help_text="Replaces the image's CMD: python serve.py --port 8000",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )


class EnvRowForm(RowForm):
    name = forms.CharField(
        required=False,
        label="Variable",
        widget=forms.TextInput(attrs={"placeholder": "MODEL_PATH", "spellcheck": "false"}),
    )
    source = forms.ChoiceField(
        choices=[("value", "Value"), ("secret", "Secret")],
        initial="value",
        required=False,
        widget=forms.Select(attrs={"aria-label": "Where the value comes from"}),
    )
    value = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "value", "spellcheck": "false"})
    )
    secret = forms.CharField(
        required=False,
        label="Secret name",
        widget=forms.TextInput(attrs={"placeholder": "secret name or id", "list": "together-secrets"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value"].show_when = "source=value"
        self.fields["secret"].show_when = "source=secret"

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not (data.get("name") or data.get("value") or data.get("secret"))


class VolumeRowForm(RowForm):
    name = forms.CharField(
        required=False,
        label="Volume",
        widget=forms.TextInput(attrs={"placeholder": "volume name or id", "list": "together-volumes"}),
    )
    mount_path = forms.CharField(
        required=False, label="Mount path", widget=forms.TextInput(attrs={"placeholder": "/models"})
    )
    version = forms.IntegerField(required=False, help_text="Latest if empty.", widget=_num(min=1))


class TogetherDeploymentForm(VendorDeploymentForm):
    vendor = "together"
    main_form = TogetherMainForm
    formsets = {"env": (EnvRowForm, "environment_variables"), "volumes": (VolumeRowForm, "volumes")}
    sections = [
        ("Basics", "What runs, and under which name.", ["account", "name", "description", "image"]),
        (
            "Resources",
            "What each replica gets. GPUs are what you pay for.",
            ["gpu_type", "gpu_count", "cpu", "memory", "storage"],
        ),
        (
            "Scaling",
            "How many replicas run. With autoscaling, Together moves between the minimum and maximum.",
            [
                "min_replicas",
                "max_replicas",
                "capacity_type",
                "autoscaling_metric",
                "autoscaling_target",
                "autoscaling_time_interval_minutes",
                "autoscaling_model",
                "autoscaling_custom_metric_name",
            ],
        ),
        ("Environment", "Variables set in the container. Use a secret for anything sensitive.", ["formset:env"]),
        ("Volumes", "Read-only volumes of preloaded files, mounted into every replica.", ["formset:volumes"]),
        (
            "Model weights",
            "Or, instead of volumes, one model's weights from Together's model registry.",
            ["model_mount_id", "model_mount_path", "model_mount_revision"],
        ),
        (
            "Advanced",
            "Traffic, health and the container's command line.",
            ["port", "health_check_path", "termination_grace_period_seconds", "command", "args"],
        ),
    ]
    wide_fields = frozenset({"description", "image", "command", "args"})
    show_when = {
        "autoscaling_target": "autoscaling_metric=" + ",".join(AUTOSCALING_METRICS),
        "autoscaling_time_interval_minutes": "autoscaling_metric=" + ",".join(HTTP_METRICS),
        "autoscaling_model": f"autoscaling_metric={QUEUE_METRIC}",
        "autoscaling_custom_metric_name": f"autoscaling_metric={CUSTOM_METRIC}",
    }
    path_to_field = {
        "autoscaling": "autoscaling_metric",
        "autoscaling.metric": "autoscaling_metric",
        "autoscaling.target": "autoscaling_target",
        "autoscaling.time_interval_minutes": "autoscaling_time_interval_minutes",
        "autoscaling.model": "autoscaling_model",
        "autoscaling.custom_metric_name": "autoscaling_custom_metric_name",
        "model_mounts": "model_mount_id",
        "model_mounts.0.model_id": "model_mount_id",
        "model_mounts.0.mount_path": "model_mount_path",
        "model_mounts.0.revision_id": "model_mount_revision",
    }

    def row_path_to_field(self, prefix: str, leaf: str) -> str:
        return {"value_from_secret": "secret"}.get(leaf, leaf) if prefix == "env" else leaf

    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for key in PLAIN_FIELDS:
            value = data.get(key)
            if value not in (None, "", []):
                spec[key] = value
        if "max_replicas" not in spec and "min_replicas" in spec:
            spec["max_replicas"] = max(spec["min_replicas"], 1)
        metric = data.get("autoscaling_metric")
        if metric:
            spec["autoscaling"] = {
                "metric": metric,
                "target": data.get("autoscaling_target"),
                "time_interval_minutes": data.get("autoscaling_time_interval_minutes"),
                "model": data.get("autoscaling_model"),
                "custom_metric_name": data.get("autoscaling_custom_metric_name"),
            }
        env = []
        for row in rows.get("env", []):
            if row.get("source") == "secret":
                env.append({"name": row.get("name") or "", "value_from_secret": row.get("secret") or ""})
            else:
                env.append({"name": row.get("name") or "", "value": row.get("value") or ""})
        spec["environment_variables"] = env
        spec["volumes"] = [
            {"name": r.get("name") or "", "mount_path": r.get("mount_path") or "", "version": r.get("version")}
            for r in rows.get("volumes", [])
        ]
        # Always said, so an update that removes the mount sends an empty list.
        spec["model_mounts"] = []
        if data.get("model_mount_id") or data.get("model_mount_path"):
            mount = {"model_id": data.get("model_mount_id") or "", "mount_path": data.get("model_mount_path") or ""}
            if data.get("model_mount_revision"):
                mount["revision_id"] = data["model_mount_revision"]
            spec["model_mounts"] = [mount]
        return spec

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        initial = {k: v for k, v in spec.items() if not isinstance(v, (dict, list)) or k in ("command", "args")}
        for key, value in (spec.get("autoscaling") or {}).items():
            initial[f"autoscaling_{key}"] = value
        env = [
            {"name": e.get("name"), "source": "secret", "secret": e["value_from_secret"]}
            if e.get("value_from_secret")
            else {"name": e.get("name"), "source": "value", "value": e.get("value", "")}
            for e in spec.get("environment_variables") or []
        ]
        volumes = [dict(v) for v in spec.get("volumes") or []]
        for mount in (spec.get("model_mounts") or [])[:1]:
            initial.update(
                model_mount_id=mount.get("model_id", ""),
                model_mount_path=mount.get("mount_path", ""),
                model_mount_revision=mount.get("revision_id", ""),
            )
        return initial, {"env": env, "volumes": volumes}

    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        if unit is None:
            return {}
        low = spec.get("min_replicas", 1) if isinstance(spec.get("min_replicas"), int) else 1
        high = spec.get("max_replicas", low) if isinstance(spec.get("max_replicas"), int) else low
        return {
            "low": unit * low,
            "high": unit * max(high, low),
            "low_replicas": low,
            "high_replicas": max(high, low),
            "note": "Estimated from Together's dedicated hardware rates; billed per running replica.",
        }


FORM = TogetherDeploymentForm
