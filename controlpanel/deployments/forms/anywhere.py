"""Deploy anywhere: one vendor-neutral form, read as ``providers.neutral.NeutralSpec``."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal
from typing import Any

from django import forms

from providers.gpus import normalise_gpu
from providers.neutral import NeutralSpec

ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _num(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs=attrs)


class EnvLinesField(forms.CharField):
    """``NAME=value`` a line, read as pairs; a line that is not one is named."""

    def to_python(self, value: Any) -> list[tuple[str, str]]:
        text = super().to_python(value) or ""
        pairs, seen = [], set()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            found = ENV_LINE.match(line.strip())
            if not found:
                raise forms.ValidationError(f"Line {number} is not NAME=value: “{line.strip()[:40]}”.")
            name, val = found.group(1), found.group(2)
            if name in seen:
                raise forms.ValidationError(f"{name} is set twice.")
            seen.add(name)
            pairs.append((name, val))
        return pairs

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return "\n".join(f"{k}={v}" for k, v in value)
        return value


class AnywhereForm(forms.Form):
    name = forms.CharField(
        max_length=25,
        help_text="Lowercase letters, digits and hyphens, up to 25: a name every vendor takes.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "vllm-h100"}),
    )
    image = forms.CharField(
        max_length=500,
        help_text="A container image with its registry: docker.io/vllm/vllm-openai:latest",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "docker.io/vllm/vllm-openai:latest"}),
    )
    command = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Replaces the image's command, as on a shell: --model Qwen/Qwen2.5-7B-Instruct",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    env = EnvLinesField(
        label="Environment",
        required=False,
        help_text="NAME=value, one a line. Values are sent to the vendor you choose; leave secrets empty to fill there.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "mono"}),
    )
    port = forms.IntegerField(
        label="Exposed port",
        required=False,
        min_value=1,
        max_value=65535,
        help_text="The port the container serves on.",
        widget=_num(min=1, max=65535, placeholder="8000"),
    )
    gpu_model = forms.ChoiceField(label="GPU model", required=False, choices=())
    gpu_count = forms.IntegerField(
        label="GPUs", initial=1, min_value=1, max_value=8, help_text="Per instance, 1 to 8.", widget=_num(min=1, max=8)
    )
    memory_gb = forms.IntegerField(
        label="Memory (GB)", required=False, min_value=1, max_value=2048, widget=_num(min=1, max=2048)
    )
    disk_gb = forms.IntegerField(
        label="Disk (GB)", required=False, min_value=1, max_value=10000, widget=_num(min=1, max=10000)
    )
    region = forms.CharField(
        label="Region preference",
        required=False,
        max_length=50,
        help_text="A country or region as the vendors name them (US, DE, Europe): offers there come first.",
    )
    max_price_per_hour = forms.DecimalField(
        label="Max price per hour (USD)",
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=4,
        help_text="For all the GPUs asked for. Empty: any price.",
        widget=_num(min=0, step="0.01"),
    )

    def __init__(self, *args: Any, gpu_models: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        models = list(gpu_models or [])
        chosen = self.data.get("gpu_model") if self.is_bound else (self.initial or {}).get("gpu_model")
        if chosen and chosen not in models and normalise_gpu(chosen):
            models.append(chosen)
        self.fields["gpu_model"].choices = [("", "Any GPU"), *((m, m) for m in models)]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", name):
            raise forms.ValidationError("Lowercase letters, digits and hyphens, not at either end.")
        return name

    def clean_image(self) -> str:
        image = self.cleaned_data["image"].strip()
        if any(c.isspace() for c in image):
            raise forms.ValidationError("An image name has no spaces.")
        return image

    def clean_command(self) -> str:
        command = self.cleaned_data.get("command", "").strip()
        try:
            shlex.split(command)
        except ValueError as exc:
            raise forms.ValidationError(f"Could not split this into words: {exc}.") from None
        return command

    def neutral(self) -> NeutralSpec:
        data = self.cleaned_data
        return NeutralSpec(
            name=data["name"],
            image=data["image"],
            command=data.get("command") or "",
            env=tuple(data.get("env") or ()),
            port=data.get("port"),
            gpu_model=data.get("gpu_model") or "",
            gpu_count=data.get("gpu_count") or 1,
            memory_gb=data.get("memory_gb"),
            disk_gb=data.get("disk_gb"),
            region=(data.get("region") or "").strip(),
            max_price_per_hour=data.get("max_price_per_hour"),
        )


def neutral_initial(spec: NeutralSpec) -> dict[str, Any]:
    """The form's initial values for ``spec`` (a built-in template, a failed deployment)."""
    initial: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "command": spec.command,
        "env": list(spec.env),
        "gpu_count": spec.gpu_count,
    }
    gpu = spec.gpu
    if gpu is not None:
        initial["gpu_model"] = gpu.display_name
    for key in ("port", "memory_gb", "disk_gb", "max_price_per_hour"):
        if getattr(spec, key) is not None:
            initial[key] = getattr(spec, key)
    if spec.region:
        initial["region"] = spec.region
    return initial


def form_data(form: Any) -> dict[str, Any]:
    """What an unbound vendor form would post as it stands (its initial values and rows),
    so that it can be bound and checked: "prefilled and checked"."""
    data: dict[str, Any] = {}
    for name, field in form.main.fields.items():
        if field.disabled:
            continue
        value = field.prepare_value(form.main[name].value())
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else str(value)
    for prefix, formset in form.sets.items():
        rows = list(formset.forms)
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        for row in rows:
            for name, field in row.fields.items():
                value = field.prepare_value(row[name].value())
                if isinstance(field, forms.BooleanField):
                    if value:
                        data[row.add_prefix(name)] = "on"
                    continue
                data[row.add_prefix(name)] = "" if value is None else str(value)
    return data
