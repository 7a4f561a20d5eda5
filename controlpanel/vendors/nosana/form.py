"""The Nosana deployment form: every field of ``DeploymentCreateBody``.

The job definition is built from a few fields (image, command, env, exposed ports,
GPU, VRAM) or, when the advanced JSON editor is filled, taken from it whole; both
are checked against the job-definition schema by ``NosanaProvider.validate`` (the
base form calls it; Nosana's rules need no catalog or metadata, so the default
``validation_context()`` serves). The rules live in ``providers.nosana``, used only
through its ``__all__``; fields here only parse types and carry hints (``min``/``max``).
"""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal
from typing import Any

from django import forms

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.base import RowForm, VendorDeploymentForm, normalise_path
from providers.nosana import (
    EXPOSE_TYPES,
    JOB_DEFINITION_VERSION,
    NAME_MAX,
    STRATEGIES,
    STRATEGY_LABELS,
    TIMEOUT_MIN,
    NosanaProvider,
)

JD = "job_definition"
OP = f"{JD}.ops.0"
ARGS = f"{OP}.args"
VRAM_PATH = f"{JD}.meta.system_requirements.required_vram"
# What the builder makes: anything else in a job definition needs the JSON editor.
BUILDER_ARGS = frozenset({"image", "cmd", "entrypoint", "work_dir", "gpu", "expose", "env"})


def _num(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs=attrs)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:60] or "app"


class ShellWordsField(forms.CharField):
    """A command line typed as text, kept as text; split only when sent as words."""

    def prepare_value(self, value: Any) -> Any:
        return shlex.join(value) if isinstance(value, list) else value


class JobDefinitionField(forms.CharField):
    """The advanced editor: JSON text in, a parsed object out (or nothing when empty)."""

    def to_python(self, value: Any) -> dict[str, Any] | None:
        text = super().to_python(value)
        if not text or not text.strip():
            return None
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError("A job definition is a JSON object: {…}.")
        return parsed

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, indent=2) if isinstance(value, dict) else value


class NosanaMainForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        label="Nosana account",
        empty_label=None,
        help_text="Which of the team's Nosana keys pays, from its credits.",
    )
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="Any text; Nosana does not require it to be unique.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "llama-demo"}),
    )
    market = forms.ChoiceField(
        label="GPU market",
        choices=[],
        help_text="One GPU per replica, from this market's hosts. Price per hour includes Nosana's network fee.",
    )
    strategy = forms.ChoiceField(
        choices=[(s, STRATEGY_LABELS[s]) for s in STRATEGIES],
        initial="SIMPLE",
        help_text="Simple and simple-extend stop by themselves once their jobs end.",
    )
    replicas = forms.IntegerField(
        initial=1, help_text="Jobs run side by side, each on its own GPU.", widget=_num(min=1)
    )
    timeout = forms.IntegerField(
        label="Timeout (minutes)",
        initial=60,
        help_text="How long each job may run. Infinite needs 60 or more; changing it later needs 60 or more.",
        widget=_num(min=TIMEOUT_MIN),
    )
    schedule = forms.CharField(
        required=False,
        label="Cron schedule",
        help_text="Five fields, in UTC: minute hour day month weekday.",
        widget=forms.TextInput(attrs={"placeholder": "0 * * * *", "spellcheck": "false"}),
    )
    rotation_time = forms.IntegerField(
        required=False,
        label="Rotation time (minutes)",
        help_text="A replacement job is listed this long before each job's timeout. Default 20; under timeout − 10.",
        widget=_num(min=1),
    )
    confidential = forms.BooleanField(
        required=False, initial=True, help_text="Hosts get the job definition only when a job starts on them."
    )
    image = forms.CharField(
        required=False,
        max_length=500,
        help_text="A Docker image, best with its registry: docker.io/vllm/vllm-openai:v0.5.4",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "docker.io/library/ubuntu:24.04"}),
    )
    cmd_mode = forms.ChoiceField(
        label="Command style",
        required=False,
        initial="shell",
        choices=[("shell", "One line, run by bash"), ("words", "Arguments, split into words")],
        help_text="Bash runs one line as is; words go to the image's entrypoint one by one.",
    )
    cmd = ShellWordsField(
        label="Command",
        required=False,
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "echo hello world"}),
    )
    entrypoint = ShellWordsField(
        required=False,
        help_text="Replaces the image's entrypoint, written as on a shell.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    work_dir = forms.CharField(
        label="Working directory", required=False, widget=forms.TextInput(attrs={"placeholder": "/workspace"})
    )
    gpu = forms.BooleanField(
        label="GPU required", required=False, initial=True, help_text="Pass the host's GPU into the container."
    )
    required_vram = forms.IntegerField(
        label="Required VRAM (GB)",
        required=False,
        help_text="Only hosts with at least this much take the job.",
        widget=_num(min=0),
    )
    op_id = forms.CharField(
        label="Operation id",
        required=False,
        max_length=100,
        help_text="Names the container in logs and endpoints. Defaults to the name, in lowercase and hyphens.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    job_definition_json = JobDefinitionField(
        label="Job definition (JSON)",
        required=False,
        help_text=(
            "Advanced: when filled, this whole job definition is sent instead of the one built above "
            "(several ops, volumes, resources, health checks…). Checked against Nosana's schema."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": '{"version": "0.1", "type": "container", "ops": [...]}',
            }
        ),
    )
    active_revision = forms.IntegerField(
        label="Active revision",
        required=False,
        help_text="Switch back to an earlier revision of the job definition. A changed job definition makes a new one.",
        widget=_num(min=1),
    )


class EnvRowForm(RowForm):
    name = forms.CharField(
        required=False,
        label="Variable",
        widget=forms.TextInput(attrs={"placeholder": "HF_TOKEN", "spellcheck": "false"}),
    )
    value = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "value", "spellcheck": "false"})
    )


class PortRowForm(RowForm):
    port = forms.IntegerField(required=False, widget=_num(min=1, max=65535, placeholder="8000"))
    type = forms.ChoiceField(
        required=False,
        label="Kind",
        choices=[("", "(not said)"), *((t, t) for t in EXPOSE_TYPES)],
        widget=forms.Select(attrs={"aria-label": "What the port serves"}),
    )

    def is_blank(self) -> bool:
        return (getattr(self, "cleaned_data", {}) or {}).get("port") in (None, "")


class NosanaDeploymentForm(VendorDeploymentForm):
    vendor = "nosana"
    main_form = NosanaMainForm
    formsets = {"env": (EnvRowForm, f"{ARGS}.env"), "ports": (PortRowForm, f"{ARGS}.expose")}
    sections = [
        ("Basics", "What it is called, who pays and which GPUs it runs on.", ["account", "name", "market"]),
        (
            "Running",
            "How many jobs run, for how long, and what happens when they end.",
            ["strategy", "replicas", "timeout", "schedule", "rotation_time", "confidential"],
        ),
        (
            "Container",
            "The job definition is built from these; the advanced editor below replaces them.",
            ["image", "cmd_mode", "cmd", "entrypoint", "work_dir", "gpu", "required_vram", "op_id"],
        ),
        ("Environment", "Variables set in the container. Confidential keeps them from idle hosts.", ["formset:env"]),
        ("Exposed ports", "Each exposed port gets a public HTTPS endpoint while a job runs.", ["formset:ports"]),
        (
            "Advanced",
            "A whole job definition, and the revision that is live.",
            ["job_definition_json", "active_revision"],
        ),
    ]
    wide_fields = frozenset({"image", "cmd", "job_definition_json", "market", "strategy"})
    show_when = {"schedule": "strategy=SCHEDULED", "rotation_time": "strategy=INFINITE"}
    # No update route changes these [V]; the name's update-name is not on the dashboard host.
    immutable_fields = frozenset({"market", "strategy", "confidential", "rotation_time", "name"})
    path_to_field = {
        f"{ARGS}.image": "image",
        f"{ARGS}.cmd": "cmd",
        f"{ARGS}.entrypoint": "entrypoint",
        f"{ARGS}.work_dir": "work_dir",
        f"{ARGS}.gpu": "gpu",
        f"{OP}.id": "op_id",
        VRAM_PATH: "required_vram",
        JD: "job_definition_json",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.editing:
            del self.main.fields["active_revision"]  # a new deployment has one revision

    def setup_offers(self) -> None:
        field = self.main.fields["market"]
        offers = self.unique_offers("market")
        choices = [(o.sku, self.offer_label(o)) for o in offers]
        # A deployment's own market stays a choice when editing or cloning, even if the
        # catalog no longer lists it; a new one is picked from the catalog.
        current = (self.main.initial or {}).get("market")
        if current and current not in {sku for sku, _ in choices}:
            choices.append((current, f"{current} (not in the synced market list)"))
        field.choices = choices or [("", "No markets yet: the catalog syncs when a Nosana key is verified")]

    @staticmethod
    def offer_label(offer: Any) -> str:
        extra = offer.extra or {}
        parts = [offer.gpu_model or offer.name, offer.name]
        if offer.gpu_memory_gb:
            parts.append(f"{offer.gpu_memory_gb} GB")
        if offer.price_per_hour is not None:
            parts.append(f"${offer.price_per_hour:.4f}/h")
        if extra.get("type") and extra["type"] != "PREMIUM":
            parts.append(extra["type"].lower())
        if extra.get("idle_nodes") is not None:
            parts.append(f"{extra['idle_nodes']} idle hosts" if offer.available else "no idle hosts: jobs will queue")
        return " · ".join(dict.fromkeys(p for p in parts if p))

    # --- building ------------------------------------------------------------------------
    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for key in ("name", "market", "replicas", "timeout", "strategy"):
            if data.get(key) not in (None, ""):
                spec[key] = data[key]
        if spec.get("strategy") == "SCHEDULED":
            spec["schedule"] = data.get("schedule") or ""
        if spec.get("strategy") == "INFINITE" and data.get("rotation_time") is not None:
            spec["rotation_time"] = data["rotation_time"]
        spec["confidential"] = bool(data.get("confidential"))
        advanced = data.get("job_definition_json")
        spec[JD] = advanced if advanced else self.built_job_definition(data, rows)
        if data.get("active_revision"):
            spec["active_revision"] = data["active_revision"]
        return spec

    @staticmethod
    def built_job_definition(data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if (data.get("image") or "").strip():
            args["image"] = data["image"].strip()  # left out when empty: the schema says "required"
        command = (data.get("cmd") or "").strip()
        if command:
            if data.get("cmd_mode") == "words":
                try:
                    args["cmd"] = shlex.split(command)
                except ValueError:
                    args["cmd"] = command.split()
            else:
                args["cmd"] = [command]  # one string: bash runs it as written [D: docs' cmd section]
        entrypoint = (data.get("entrypoint") or "").strip()
        if entrypoint:
            try:
                args["entrypoint"] = shlex.split(entrypoint)
            except ValueError:
                args["entrypoint"] = entrypoint.split()
        if data.get("work_dir"):
            args["work_dir"] = data["work_dir"]
        args["gpu"] = bool(data.get("gpu"))
        ports = [r for r in rows.get("ports", []) if r.get("port") not in (None, "")]
        if len(ports) == 1 and not ports[0].get("type"):
            args["expose"] = ports[0]["port"]  # the notes' short form: one port number
        elif ports:
            args["expose"] = [{"port": r["port"], **({"type": r["type"]} if r.get("type") else {})} for r in ports]
        env = {r.get("name") or "": r.get("value") or "" for r in rows.get("env", []) if r.get("name")}
        if env:
            args["env"] = env
        meta: dict[str, Any] = {"trigger": "api"}
        if data.get("required_vram") is not None:
            # The docs and the dashboard read meta.system_requirements.required_vram (notes §5).
            meta["system_requirements"] = {"required_vram": data["required_vram"]}
        op_id = (data.get("op_id") or "").strip() or slug(data.get("name") or "")
        return {
            "version": JOB_DEFINITION_VERSION,
            "type": "container",
            "meta": meta,
            "ops": [{"type": "container/run", "id": op_id, "args": args}],
        }

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        initial = {
            k: spec[k]
            for k in (
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
            if k in spec
        }
        job_definition = spec.get(JD) or {}
        rows: dict[str, list[dict[str, Any]]] = {"env": [], "ports": []}
        if not cls.buildable(job_definition):
            initial["job_definition_json"] = job_definition
            return initial, rows
        args = job_definition["ops"][0]["args"]
        initial["image"] = args.get("image", "")
        cmd = args.get("cmd")
        if isinstance(cmd, list) and len(cmd) == 1:
            initial.update(cmd_mode="shell", cmd=cmd[0])
        elif isinstance(cmd, list):
            initial.update(cmd_mode="words", cmd=shlex.join(cmd))
        if args.get("entrypoint"):
            initial["entrypoint"] = shlex.join(args["entrypoint"])
        if args.get("work_dir"):
            initial["work_dir"] = args["work_dir"]
        initial["gpu"] = bool(args.get("gpu"))
        vram = ((job_definition.get("meta") or {}).get("system_requirements") or {}).get("required_vram")
        if vram is not None:
            initial["required_vram"] = vram
        initial["op_id"] = job_definition["ops"][0].get("id", "")
        expose = args.get("expose")
        if isinstance(expose, int):
            rows["ports"] = [{"port": expose, "type": ""}]
        elif isinstance(expose, list):
            rows["ports"] = [{"port": p.get("port"), "type": p.get("type", "")} for p in expose]
        rows["env"] = [{"name": k, "value": v} for k, v in (args.get("env") or {}).items()]
        return initial, rows

    @staticmethod
    def buildable(job_definition: Any) -> bool:
        """Whether the builder's fields can say all of this job definition (else: JSON)."""
        if not isinstance(job_definition, dict) or set(job_definition) - {"version", "type", "meta", "ops"}:
            return False
        meta = job_definition.get("meta") or {}
        if set(meta) - {"trigger", "system_requirements"} or meta.get("trigger", "api") != "api":
            return False
        if set(meta.get("system_requirements") or {}) - {"required_vram"}:
            return False
        ops = job_definition.get("ops")
        if not isinstance(ops, list) or len(ops) != 1 or not isinstance(ops[0], dict):
            return False
        op = ops[0]
        args = op.get("args")
        if set(op) - {"type", "id", "args"} or op.get("type") != "container/run" or not isinstance(args, dict):
            return False
        if set(args) - BUILDER_ARGS or not isinstance(args.get("image"), str):
            return False
        cmd, entrypoint, expose = args.get("cmd"), args.get("entrypoint"), args.get("expose")
        if cmd is not None and not (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd)):
            return False
        if entrypoint is not None and not (
            isinstance(entrypoint, list) and all(isinstance(e, str) for e in entrypoint)
        ):
            return False
        if isinstance(expose, list) and any(not isinstance(p, dict) or set(p) - {"port", "type"} for p in expose):
            return False
        env = args.get("env")
        return env is None or (isinstance(env, dict) and all(isinstance(v, str) for v in env.values()))

    # --- errors ---------------------------------------------------------------------------
    def advanced(self) -> bool:
        if self.main.is_bound:
            return bool((self.main.data.get("job_definition_json") or "").strip())
        return bool((self.main.initial or {}).get("job_definition_json"))

    def add_spec_errors(self, fields: dict[str, list[str]], *, only_clean: bool = False) -> None:
        """In the JSON editor's mode, every job-definition problem lands on the editor,
        named by its path inside the job definition (``ops.0.args.image: …``)."""
        if self.advanced():
            moved: dict[str, list[str]] = {}
            for raw_path, messages in fields.items():
                path = normalise_path(raw_path)
                if path == JD or path.startswith(JD + "."):
                    inner = path[len(JD) + 1 :]
                    moved.setdefault(JD, []).extend(f"{inner}: {m}" if inner else m for m in messages)
                else:
                    moved.setdefault(raw_path, []).extend(messages)
            fields = moved
        super().add_spec_errors(fields, only_clean=only_clean)

    def _field_for_path(self, path: str) -> tuple[forms.Form, str | None]:
        env_prefix = f"{ARGS}.env."
        if path.startswith(env_prefix):
            # env is an object, so the vendor names the variable, not the row.
            name = path[len(env_prefix) :]
            for row in self.sets["env"].non_blank_forms():
                if row.cleaned_data.get("name") == name:
                    return row, "name"
        if path == f"{ARGS}.expose":
            rows = self.sets["ports"].non_blank_forms() or self.sets["ports"].forms
            if rows:
                return rows[0], "port"
        return super()._field_for_path(path)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if not self.main.is_bound or self.advanced():
            return valid
        seen: set[str] = set()
        for row in self.sets["env"].non_blank_forms():
            name = row.cleaned_data.get("name")
            if name in seen and "name" not in row.errors:
                row.add_error("name", f"{name} is set twice.")
                valid = False
            seen.add(name)
        if not valid:
            self.spec = None
        return valid

    # --- money ------------------------------------------------------------------------------
    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        if unit is None:
            return {}
        replicas = spec.get("replicas") if isinstance(spec.get("replicas"), int) and spec["replicas"] > 0 else 1
        cost = NosanaProvider.run_cost({**spec, "replicas": replicas}, unit)
        note = "Paid from Nosana credits while jobs run."
        if cost is not None:
            note += f" Each start reserves {replicas} × {spec.get('timeout')} minutes: ${cost:.2f}."
        return {
            "low": unit * replicas,
            "high": unit * replicas,
            "low_replicas": replicas,
            "high_replicas": replicas,
            "note": note,
        }


FORM = NosanaDeploymentForm
