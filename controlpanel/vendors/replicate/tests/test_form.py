"""The Replicate form: the exact create body, one test per rule (its message on its
field), vendor errors on fields, offers as hardware choices, prices, round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.vendors.replicate.form import ReplicateDeploymentForm
from providers.base import Offer
from providers.replicate import HARDWARE_PRICES
from tests.factories import AccountFactory

VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"
SEED_SPEC = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": VERSION,
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}
OFFERS = [
    Offer(sku="gpu-t4", name="Nvidia T4 GPU", gpu_model="T4", price_per_hour=Decimal("0.81")),
    Offer(sku="gpu-l40s", name="Nvidia L40S GPU", gpu_model="L40S", price_per_hour=Decimal("3.51")),
    Offer(sku="gpu-b200", name="Nvidia B200 GPU", gpu_model=""),
]


@pytest.fixture
def replicate_account(team):
    return AccountFactory(team=team, vendor="replicate", label="Replicate sandbox")


def bound(account, offers=OFFERS, **fields):
    data = {
        "account": account.pk,
        "name": "my-app-image-generator",
        "model": "some-org/some-model",
        "version": VERSION,
        "hardware": "gpu-t4",
        "min_instances": "1",
        "max_instances": "5",
    }
    data.update(fields)
    return ReplicateDeploymentForm(data, accounts=ProviderAccount.objects.all(), offers=offers)


def test_form_replicate_is_registered():
    assert form_class_for("replicate") is ReplicateDeploymentForm


def test_form_replicate_builds_the_exact_create_body(replicate_account):
    form = bound(replicate_account)
    assert form.is_valid(), form.main.errors
    assert form.spec == SEED_SPEC
    assert form.account == replicate_account


def test_form_replicate_trims_and_normalises(replicate_account):
    form = bound(replicate_account, name=" acme/my-app-image-generator ", version=f" {VERSION.upper()} ")
    assert form.is_valid(), form.main.errors
    assert form.spec == SEED_SPEC


def test_form_replicate_lists_only_replicate_keys(replicate_account, account):
    form = bound(replicate_account)
    assert list(form.main.fields["account"].queryset) == [replicate_account]  # not the Together key


# --- one test per rule, each on its field --------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("model", "", "This field is required."),
        ("version", "", "This field is required."),
        ("hardware", "", "This field is required."),
        ("min_instances", "", "This field is required."),
        ("max_instances", "", "This field is required."),
        (
            "name",
            "My App",
            "Use at most 100 lowercase letters, digits, hyphens, underscores or periods, "
            "starting with a letter or digit.",
        ),
        ("name", "a" * 101, "Use at most 100 lowercase letters"),
        ("model", "sdxl", "Give the model as owner/name, e.g. stability-ai/sdxl."),
        ("version", "latest", "A version id is 64 hexadecimal characters (see the model's Versions tab)."),
        ("version", "z" * 64, "A version id is 64 hexadecimal characters"),
        ("min_instances", "-1", "Cannot be negative (0 scales to zero when idle)."),
        ("max_instances", "0", "At least 1, or no prediction could ever run."),
        ("max_instances", "21", "At most 20: Replicate's published limit. Replicate may raise the limits"),
        ("hardware", "gpu-nope", "Select a valid choice. gpu-nope is not one of the available choices."),
    ],
)
def test_form_replicate_rule_message_lands_on_its_field(replicate_account, field, value, message):
    form = bound(replicate_account, **{field: value, **({"min_instances": "0"} if field == "max_instances" else {})})
    assert not form.is_valid()
    assert any(m.startswith(message) for m in form.main.errors[field]), form.main.errors
    assert set(form.main.errors) == {field}


def test_form_replicate_max_below_min_lands_on_max(replicate_account):
    form = bound(replicate_account, min_instances="4", max_instances="2")
    assert not form.is_valid()
    assert form.main.errors["max_instances"] == ["Must be at least the minimum instances."]


def test_form_replicate_reports_every_broken_rule_at_once(replicate_account):
    form = bound(replicate_account, name="Bad Name", version="short", max_instances="")
    assert not form.is_valid()
    assert set(form.main.errors) == {"name", "version", "max_instances"}


def test_form_replicate_rules_are_not_django_validators():
    from django.core import validators

    fields = ReplicateDeploymentForm.main_form.base_fields
    rule_types = (
        validators.MinValueValidator,
        validators.MaxValueValidator,
        validators.MaxLengthValidator,
        validators.RegexValidator,
    )
    for name in ("name", "model", "version", "min_instances", "max_instances"):
        assert not [v for v in fields[name].validators if isinstance(v, rule_types)], name
    assert fields["min_instances"].widget.attrs["min"] == 0  # a hint for the browser only


# --- vendor errors land on fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["name", "model", "version", "hardware", "min_instances", "max_instances"])
def test_form_replicate_vendor_error_lands_on_its_field(replicate_account, path):
    form = bound(replicate_account)
    assert form.is_valid()
    form.add_spec_errors({path: ["Replicate's own words"]})
    assert form.main.errors[path] == ["Replicate's own words"]


def test_form_replicate_vendor_error_without_a_field_is_shown_on_the_form(replicate_account):
    form = bound(replicate_account)
    assert form.is_valid()
    form.add_spec_errors({"": ["Request was malformed"]})
    assert "Request was malformed" in form.non_field_errors


# --- offers, editing, round trips --------------------------------------------------------------------------------


def test_form_replicate_offers_become_hardware_choices_with_prices(replicate_account):
    choices = dict(bound(replicate_account).main.fields["hardware"].choices)
    assert list(choices) == ["", "gpu-t4", "gpu-l40s", "gpu-b200"]  # cheapest first, unpriced last
    assert choices["gpu-t4"] == "Nvidia T4 GPU (gpu-t4) — $0.81/h per instance"
    assert choices["gpu-b200"] == "Nvidia B200 GPU (gpu-b200) — price not published"


def test_form_replicate_without_a_catalog_offers_the_price_table(replicate_account):
    choices = dict(bound(replicate_account, offers=[]).main.fields["hardware"].choices)
    assert set(choices) - {""} == set(HARDWARE_PRICES)
    assert choices["gpu-h100-8x"] == "8x Nvidia H100 GPU (gpu-h100-8x) — $43.92/h per instance"


def test_form_replicate_editing_keeps_hardware_gone_from_the_catalog():
    form = ReplicateDeploymentForm(
        initial={**SEED_SPEC, "hardware": "gpu-a40-small"},
        offers=OFFERS,
        editing=True,
        accounts=ProviderAccount.objects.none(),
    )
    assert "gpu-a40-small" in dict(form.main.fields["hardware"].choices)


def test_form_replicate_name_and_model_are_fixed_when_editing(db):
    form = ReplicateDeploymentForm(
        initial=SEED_SPEC, offers=OFFERS, editing=True, accounts=ProviderAccount.objects.none()
    )
    assert form.main.fields["name"].disabled
    assert form.main.fields["model"].disabled
    assert not form.main.fields["version"].disabled
    assert "account" not in form.main.fields


def test_form_replicate_update_post_keeps_name_and_model(replicate_account):
    data = {
        **{k: str(v) for k, v in SEED_SPEC.items()},
        "name": "hijacked",
        "model": "other/model",
        "max_instances": "7",
    }
    form = ReplicateDeploymentForm(
        data, initial=SEED_SPEC, offers=OFFERS, editing=True, accounts=ProviderAccount.objects.all()
    )
    assert form.is_valid(), form.main.errors
    assert form.spec == {**SEED_SPEC, "max_instances": 7}


def test_form_replicate_initial_from_spec_round_trips(replicate_account):
    initial, rows = ReplicateDeploymentForm.initial_from_spec(SEED_SPEC)
    assert rows == {}
    data = {**{k: str(v) for k, v in initial.items()}, "account": replicate_account.pk}
    form = ReplicateDeploymentForm(data, accounts=ProviderAccount.objects.all(), offers=OFFERS)
    assert form.is_valid(), form.main.errors
    assert form.spec == SEED_SPEC


# --- money -------------------------------------------------------------------------------------------------


def test_form_replicate_estimate_is_hardware_times_instances(replicate_account):
    estimate = bound(replicate_account, hardware="gpu-l40s", min_instances="2", max_instances="4").estimate()
    assert estimate["unit"] == Decimal("3.51")
    assert (estimate["low"], estimate["high"]) == (Decimal("7.02"), Decimal("14.04"))
    assert (estimate["low_replicas"], estimate["high_replicas"], estimate["unit_label"]) == (2, 4, "instance")
    assert estimate["day"] == Decimal("7.02") * 24


def test_form_replicate_estimate_at_zero_minimum_costs_nothing_idle(replicate_account):
    estimate = bound(replicate_account, min_instances="0", max_instances="3").estimate()
    assert (estimate["low"], estimate["high"]) == (Decimal("0"), Decimal("2.43"))
    assert "only while a prediction wakes an instance" in estimate["note"]


def test_form_replicate_estimate_before_the_form_is_complete(replicate_account):
    estimate = bound(replicate_account, name="", version="").estimate()
    assert estimate["low"] == Decimal("0.81")


def test_form_replicate_charges_nothing_at_create(replicate_account):
    form = bound(replicate_account)
    assert form.is_valid()
    assert form.charges() == []
