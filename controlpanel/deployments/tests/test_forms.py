from __future__ import annotations

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.base import normalise_path
from controlpanel.vendors.together.form import TogetherDeploymentForm
from controlpanel.vendors.together.tests.test_form import bound
from providers.registry import SLUGS


def test_normalise_path():
    assert normalise_path("body.environment_variables[2].name") == "environment_variables.2.name"


# --- clone to another vendor: every pair of forms -----------------------------------------------------


def _clone_pairs():
    from controlpanel.vendors import demo_specs

    return [(src, dst) for src in sorted(demo_specs()) for dst in SLUGS if src != dst]


@pytest.mark.parametrize(("source", "target"), _clone_pairs())
def test_clone_carries_name_image_and_env_values_between_every_pair_of_vendors(source, target):
    from controlpanel.vendors import demo_specs
    from providers import neutral

    common = neutral.from_vendor(source, demo_specs()[source])
    initial, rows = neutral.to_form(target, common)
    assert initial["name"]
    image_field = {"together": "image", "nosana": "image", "fluence": "image", "novita": "imageUrl"}.get(target)
    if image_field and common.image:
        assert initial[image_field] == common.image
    if "env" in form_class_for(target).formsets and common.env:
        key = "name" if "name" in form_class_for(target).formsets["env"][0].base_fields else "key"
        assert [(row[key], row["value"]) for row in rows["env"]] == list(common.env)
    # The target form takes what it was given: one it renders without errors.
    form = form_class_for(target)(initial=initial, row_initial=rows)
    assert form.main["name"].value() == initial["name"]


# --- names the vendor keeps unique, checked against what the panel knows ---------------------------


def test_a_name_taken_on_the_same_key_is_refused_with_a_free_one(account):
    from controlpanel.deployments.states import State
    from tests.factories import DeploymentFactory

    DeploymentFactory(account=account, name="qwen-chat", state=State.RUNNING, external_id="dep-1")
    DeploymentFactory(account=account, name="qwen-chat-2", state=State.QUEUED)
    form = bound(account, name="qwen-chat")
    assert not form.is_valid()
    [message] = form.main.errors["name"]
    assert "“qwen-chat” is taken" in message
    assert "“qwen-chat-3” is free" in message
    assert form.errors_for("name") == [message]  # what the field shows as you type


@pytest.mark.parametrize(
    ("state", "external_id"),
    [("deleted", "dep-1"), ("failed", "")],  # gone, or never accepted by the vendor: the name is free
)
def test_a_name_held_by_nothing_at_the_vendor_is_free(account, state, external_id):
    from tests.factories import DeploymentFactory

    DeploymentFactory(account=account, name="qwen-chat", state=state, external_id=external_id)
    assert bound(account, name="qwen-chat").is_valid()


def test_a_name_on_another_key_or_while_editing_is_not_checked(account, team):
    from tests.factories import AccountFactory, DeploymentFactory

    other = AccountFactory(team=team)
    DeploymentFactory(account=other, name="qwen-chat", state="running", external_id="x")
    assert bound(account, name="qwen-chat").is_valid()
    DeploymentFactory(account=account, name="qwen-chat", state="running", external_id="y")
    data = bound(account, name="qwen-chat").main.data
    editing = TogetherDeploymentForm(data, accounts=ProviderAccount.objects.all(), editing=True)
    editing.is_valid()
    assert "name" not in editing.main.errors


@pytest.mark.parametrize("vendor", SLUGS)
def test_names_are_checked_exactly_for_the_vendors_whose_names_are_unique(vendor, team):
    from providers import get_provider_class
    from tests.factories import AccountFactory, DeploymentFactory

    account = AccountFactory(team=team, vendor=vendor)
    DeploymentFactory(account=account, name="taken", state="running", external_id="x", spec={"name": "taken"})
    form = form_class_for(vendor)({"account": account.pk, "name": "taken"}, accounts=ProviderAccount.objects.all())
    form.is_valid()
    refused = any("is taken" in e for e in form.main.errors.get("name", []))
    assert refused is get_provider_class(vendor).unique_names


# --- env rows with a name and no value ----------------------------------------------------------------


@pytest.mark.parametrize("vendor", [s for s in SLUGS if "env" in form_class_for(s).formsets])
def test_an_env_row_without_a_value_is_named_on_its_value_field(vendor, team):
    form_class = form_class_for(vendor)
    key = "name" if "name" in form_class.formsets["env"][0].base_fields else "key"
    data = {f"{p}-TOTAL_FORMS": "0" for p in form_class.formsets} | {
        f"{p}-INITIAL_FORMS": "0" for p in form_class.formsets
    }
    data |= {
        "env-TOTAL_FORMS": "2",
        f"env-0-{key}": "HF_TOKEN",
        "env-0-value": "",
        f"env-1-{key}": "OK",
        "env-1-value": "1",
    }
    form = form_class(data, accounts=ProviderAccount.objects.all())
    assert not form.is_valid()
    assert form.errors_for("env-0-value") == ["HF_TOKEN has no value: fill it in or remove the row."]
    assert form.errors_for("env-1-value") == []


def test_a_together_env_row_from_a_secret_needs_no_value(account):
    form = bound(
        account, **{"env-TOTAL_FORMS": "1", "env-0-name": "HF_TOKEN", "env-0-source": "secret", "env-0-secret": "hf"}
    )
    assert form.is_valid()


def test_first_render_estimate_uses_the_initial_values(account, team):
    from controlpanel.vendors.nosana.form import NosanaDeploymentForm
    from controlpanel.vendors.nosana.tests.test_form import OFFERS
    from tests.factories import AccountFactory

    assert str(TogetherDeploymentForm(accounts=ProviderAccount.objects.all()).estimate()["low"]) == "3.36"
    AccountFactory(team=team, vendor="nosana")
    nosana = NosanaDeploymentForm(accounts=ProviderAccount.objects.all(), offers=OFFERS).estimate()
    assert str(nosana["unit"]) == "0.0440"  # the first market shown, RTX 3060


def test_a_long_paste_is_not_cut_by_the_browser_but_named_on_the_field(account):
    form = bound(account, name="n" * 5000)
    assert "maxlength" not in str(form.main["name"])
    assert not form.is_valid()
    assert form.errors_for("name") == ["At most 100 characters: this has 5000. Shorten it to submit."]
