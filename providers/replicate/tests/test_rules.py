"""Replicate's spec rules, one case per rule (providers/replicate/rules.py)."""

from __future__ import annotations

import copy

import pytest

from providers.base import SpecError, ValidationContext
from providers.replicate import ReplicateProvider
from providers.replicate.rules import check_spec
from providers.replicate.tests.samples import NOTES_CREATE, SEED_CREATE, VERSION

# --- check_spec: one case per rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [NOTES_CREATE, SEED_CREATE], ids=["notes", "seed"])
def test_replicate_check_spec_accepts_the_documented_examples_as_written(spec):
    assert check_spec(copy.deepcopy(spec)) == spec


def test_replicate_check_spec_normalises_text():
    spec = {**NOTES_CREATE, "name": " acme/team-sdxl ", "version": VERSION.upper(), "model": " stability-ai/sdxl "}
    assert check_spec(spec) == NOTES_CREATE


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        *[
            pytest.param({key: None}, key, "This field is required.", id=f"{key}-required")
            for key in ("name", "model", "version", "hardware", "min_instances", "max_instances")
        ],
        pytest.param({"name": "Team-SDXL"}, "name", "lowercase letters", id="name-lowercase"),
        pytest.param({"name": "-team"}, "name", "starting with a letter or digit", id="name-start"),
        pytest.param({"name": "team sdxl"}, "name", "lowercase letters", id="name-spaces"),
        pytest.param({"name": "a" * 101}, "name", "at most 100", id="name-length"),
        pytest.param({"name": 7}, "name", "Must be text.", id="name-type"),
        pytest.param({"model": "sdxl"}, "model", "owner/name", id="model-owner"),
        pytest.param({"model": "a/b/c"}, "model", "owner/name", id="model-slashes"),
        pytest.param({"version": "abc123"}, "version", "64 hexadecimal characters", id="version-length"),
        pytest.param({"version": "g" * 64}, "version", "64 hexadecimal characters", id="version-hex"),
        pytest.param({"hardware": "Nvidia T4"}, "hardware", "hardware SKU", id="hardware-sku"),
        pytest.param({"min_instances": -1}, "min_instances", "Cannot be negative", id="min-negative"),
        pytest.param({"min_instances": 1.5}, "min_instances", "Must be a whole number.", id="min-whole"),
        pytest.param({"min_instances": True}, "min_instances", "Must be a whole number.", id="min-bool"),
        pytest.param({"max_instances": 0}, "max_instances", "At least 1", id="max-at-least-one"),
        # The published OpenAPI's "maximum"s (deployments.create): 5 and 20.
        pytest.param({"min_instances": 6, "max_instances": 6}, "min_instances", "may raise the limits", id="min-limit"),
        pytest.param({"max_instances": 21}, "max_instances", "At most 20: Replicate's published", id="max-limit"),
        pytest.param(
            {"min_instances": 4, "max_instances": 2}, "max_instances", "at least the minimum", id="max-ge-min"
        ),
    ],
)
def test_replicate_check_spec_rule(changes, path, message):
    with pytest.raises(SpecError) as caught:
        check_spec({**NOTES_CREATE, **changes})
    assert list(caught.value.fields) == [path]
    assert message in " ".join(caught.value.fields[path])


# --- the interface: Provider.validate with its context ------------------------------------------------------


def test_replicate_validate_is_check_spec_without_a_context():
    assert ReplicateProvider.validate(dict(SEED_CREATE)) == check_spec(dict(SEED_CREATE)) == SEED_CREATE
    assert ReplicateProvider.validate(dict(SEED_CREATE), ValidationContext()) == SEED_CREATE
    assert "validate_spec" not in vars(ReplicateProvider)  # the deprecated hook is gone


def test_replicate_validate_of_an_update_refuses_another_model():
    context = ValidationContext(existing=True, previous=dict(NOTES_CREATE))
    with pytest.raises(SpecError) as caught:
        ReplicateProvider.validate({**NOTES_CREATE, "model": "stability-ai/sdxl-turbo"}, context)
    assert caught.value.fields == {"model": ["Replicate cannot change a deployment's model, only its version."]}
    assert ReplicateProvider.validate({**NOTES_CREATE, "max_instances": 4}, context)["max_instances"] == 4


def test_replicate_validate_of_a_new_deployment_ignores_previous():
    context = ValidationContext(existing=False, previous=dict(NOTES_CREATE))
    spec = {**NOTES_CREATE, "model": "stability-ai/sdxl-turbo"}
    assert ReplicateProvider.validate(spec, context)["model"] == "stability-ai/sdxl-turbo"


def test_replicate_check_spec_takes_the_published_limits_themselves():
    spec = check_spec({**NOTES_CREATE, "min_instances": 5, "max_instances": 20})
    assert (spec["min_instances"], spec["max_instances"]) == (5, 20)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_instances": 6, "max_instances": 6}, "min_instances"),
        ({"min_instances": 1, "max_instances": 21}, "max_instances"),
    ],
)
def test_replicate_validate_scale_keeps_to_the_published_limits(changes, field):
    with pytest.raises(SpecError) as caught:
        ReplicateProvider.validate_scale(changes)
    assert list(caught.value.fields) == [field]
    assert "Replicate may raise the limits for an account" in caught.value.fields[field][0]
    assert ReplicateProvider.validate_scale({"min_instances": 5, "max_instances": 20}) == {
        "min_instances": 5,
        "max_instances": 20,
    }
