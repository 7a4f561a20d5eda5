"""The Replicate deployment form: every field of ``POST /v1/deployments``.

The rules live in ``providers.replicate`` (``ReplicateProvider.validate``, which the
base form calls); fields here only parse types and carry hints to the browser, and
use only the names the package lists in ``__all__``. Hardware choices come from the
account's synced catalog (``GET /hardware`` priced from the maintained table), or
from that table until the first sync.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.base import VendorDeploymentForm
from providers.replicate import (
    CREATE_FIELDS,
    HARDWARE_PRICES,
    MAX_INSTANCES_LIMIT,
    MIN_INSTANCES_LIMIT,
    PRICES_SOURCE,
)


def _num(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs=attrs)


def _hardware_label(name: str, sku: str, price: Decimal | None) -> str:
    cost = f"${price:.2f}/h per instance" if price is not None else "price not published"
    return f"{name} ({sku}) — {cost}"


class ReplicateMainForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        label="Replicate account",
        empty_label=None,
        help_text="Which of the team's Replicate tokens owns and pays for it.",
    )
    name = forms.CharField(
        help_text="Lowercase letters, digits, - _ and . — part of the deployment's URL, so it cannot change.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "my-app-image-generator"}
        ),
    )
    model = forms.CharField(
        help_text="owner/name of the model to run, e.g. stability-ai/sdxl. Fixed once deployed.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "stability-ai/sdxl"}),
    )
    version = forms.CharField(
        help_text="The 64-character version id from the model's Versions tab. You can change it later.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "da77bc59ee60…", "class": "mono"}),
    )
    hardware = forms.ChoiceField(
        choices=(), help_text="Billed per second for every instance that is up: booting, idle or busy."
    )
    min_instances = forms.IntegerField(
        label="Minimum instances",
        initial=0,
        help_text="Kept running (and billed) around the clock. 0 scales to zero when idle; the next prediction cold-starts. "
        f"At most {MIN_INSTANCES_LIMIT} unless Replicate raises your account's limit.",
        widget=_num(min=0),
    )
    max_instances = forms.IntegerField(
        label="Maximum instances",
        initial=1,
        help_text="Replicate adds instances up to this many under load. At least 1 and at least the minimum; "
        f"at most {MAX_INSTANCES_LIMIT} unless Replicate raises your account's limit.",
        widget=_num(min=1),
    )


class ReplicateDeploymentForm(VendorDeploymentForm):
    vendor = "replicate"
    main_form = ReplicateMainForm
    sections = [
        ("Basics", "Where it lives: your Replicate account, under a name that becomes its URL.", ["account", "name"]),
        ("Model", "What it runs: one version of a model. Every change later is a new release.", ["model", "version"]),
        (
            "Hardware and scaling",
            "What it runs on and how many instances. Replicate reports no status for deployments: "
            "the panel derives one from the instances you keep and the recent predictions.",
            ["hardware", "min_instances", "max_instances"],
        ),
    ]
    wide_fields = frozenset({"version"})
    immutable_fields = frozenset({"name", "model"})  # the name is the URL; only the version can change [V]

    def setup_offers(self) -> None:
        field = self.main.fields["hardware"]
        offers = self.unique_offers()
        if offers:
            choices = [(o.sku, _hardware_label(o.name, o.sku, o.price_per_hour)) for o in offers]
        else:  # before the first catalog sync: the maintained price table
            choices = [(sku, _hardware_label(h.name, sku, h.per_hour)) for sku, h in HARDWARE_PRICES.items()]
        current = self.main.initial.get("hardware") or (self.main.data.get("hardware") if self.editing else None)
        if current and current not in {sku for sku, _ in choices}:
            choices.append((current, f"{current} (current; not in the hardware list now)"))
        field.choices = [("", "Choose hardware…"), *choices]

    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for key in CREATE_FIELDS:
            value = data.get(key)
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                spec[key] = value
        return spec

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        return {k: spec[k] for k in CREATE_FIELDS if k in spec}, {}

    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        if unit is None:
            return {}
        low = spec.get("min_instances") if isinstance(spec.get("min_instances"), int) else 0
        high = spec.get("max_instances") if isinstance(spec.get("max_instances"), int) else max(low, 1)
        high = max(high, low, 1)
        note = (
            f"Replicate's published rate for this hardware ({PRICES_SOURCE}), billed per second for every "
            "instance that is up. Nothing is charged at creation."
        )
        if low == 0:
            note += " With a minimum of 0 you pay only while a prediction wakes an instance (cold boot, work, a few idle minutes)."
        return {
            "low": unit * low,
            "high": unit * high,
            "low_replicas": low,
            "high_replicas": high,
            "unit_label": "instance",
            "note": note,
        }


FORM = ReplicateDeploymentForm
