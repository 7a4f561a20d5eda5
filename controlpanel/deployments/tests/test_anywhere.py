"""Deploy anywhere: the neutral form, the offers it lists, the vendor form it opens, and
the next offer when a vendor has no capacity."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.models import Offer
from controlpanel.credentials.models import KeyStatus
from controlpanel.deployments.states import State
from tests.factories import AccountFactory, DeploymentFactory

WORKLOAD = {
    "name": "vllm-h100",
    "image": "vllm/vllm-openai:latest",
    "command": "--model Qwen/Qwen2.5-7B-Instruct",
    "env": "MODEL_DIR=/models\nHF_TOKEN=hf_abc",
    "port": "8000",
    "gpu_model": "H100 80GB",
    "gpu_count": "1",
    "memory_gb": "",
    "disk_gb": "",
    "region": "",
    "max_price_per_hour": "",
}


def offer(account, sku, model, price, count=1, **extra):
    return Offer.objects.create(
        account=account,
        vendor=account.vendor,
        sku=sku,
        name=f"{model} {sku}",
        gpu_model=model,
        gpu_count=count,
        price_per_hour=Decimal(price),
        synced_at=timezone.now(),
        **extra,
    )


@pytest.fixture
def fleet(team, account):
    """Together and Novita keys with H100s, a second Together key listing the same offer,
    a refused Nosana key, and an A100 that matches nothing."""
    second = AccountFactory(team=team, vendor="together", label="Together two")
    novita = AccountFactory(team=team, vendor="novita", label="Novita key")
    refused = AccountFactory(team=team, vendor="nosana", label="Nosana refused", status=KeyStatus.INVALID)
    return {
        "together": offer(account, "h100-80gb", "NVIDIA H100 80GB", "3.36"),
        "together_again": offer(second, "h100-80gb", "NVIDIA H100 80GB", "3.36"),
        "novita": offer(
            novita, "1xH100", "H100 SXM 80GB", "2.89", kind="gpu", extra={"minRootFS": 20, "maxRootFS": 500}
        ),
        "refused": offer(refused, "market-h100", "H100", "1.00", kind="market", gpu_memory_gb=80),
        "a100": offer(novita, "1xA100", "A100 80GB", "1.50", kind="gpu"),
    }


def test_anywhere_lists_one_row_per_offer_from_working_keys_cheapest_first(logged_in, fleet):
    response = logged_in.post(reverse("deployments:anywhere"), WORKLOAD, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "<html" not in content
    rows = re.findall(r'data-offer="([^"]+)"', content)
    assert rows == ["novita:1xH100", "together:h100-80gb"]  # one Together row for two keys; no A100
    assert "market-h100" not in content  # the refused key's offer is left out
    assert "$2.89" in content
    assert "Together sandbox, Together two" in content  # both keys named on the one row
    assert "No region choice: the vendor places it." not in content  # no region asked


def test_anywhere_prices_the_gpus_asked_and_drops_offers_over_the_limit(logged_in, fleet):
    data = {**WORKLOAD, "gpu_count": "2", "max_price_per_hour": "6.00"}
    content = logged_in.post(reverse("deployments:anywhere"), data, HTTP_HX_REQUEST="true").content.decode()
    assert re.findall(r'data-offer="([^"]+)"', content) == ["novita:1xH100"]
    assert "$5.78" in content  # 2 × 2.89; Together's 2 × 3.36 is over 6.00


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Bad Name", "Lowercase letters, digits and hyphens"),
        ("image", "", "This field is required."),
        ("env", "no equals sign", "Line 1 is not NAME=value"),
        ("port", "70000", "less than or equal to 65535"),
        ("gpu_count", "0", "greater than or equal to 1"),
        ("command", "'unclosed", "Could not split this into words"),
        ("max_price_per_hour", "-1", "greater than or equal to 0"),
    ],
)
def test_anywhere_names_a_bad_field_on_the_field(logged_in, fleet, field, value, message):
    response = logged_in.post(reverse("deployments:anywhere"), {**WORKLOAD, field: value})
    assert response.status_code == 200
    errors = response.content.decode().split(f'id="err-{field}"')[1].split("</ul>")[0]
    assert message in errors


def test_choosing_an_offer_opens_the_vendor_form_prefilled_and_checked(logged_in, fleet):
    data = {**WORKLOAD, "env": "MODEL_DIR=/models\nHF_TOKEN=", "offer": fleet["novita"].pk}
    response = logged_in.post(reverse("deployments:anywhere_choose"), data)
    content = response.content.decode()
    assert response.status_code == 200
    assert "New Novita AI deployment" in content
    assert f'action="{reverse("deployments:create", args=["novita"])}"' in content
    assert 'value="vllm/vllm-openai:latest"' in content  # imageUrl
    assert 'value="--model Qwen/Qwen2.5-7B-Instruct"' in content  # command
    assert 'value="1xH100" selected' in content
    assert "HF_TOKEN has no value: fill it in or remove the row." in content  # checked, on its row
    assert "From deploy anywhere" in content
    assert "$2.89/hour" in content


def test_choosing_replicate_names_what_it_still_needs(logged_in, team):
    replicate = AccountFactory(team=team, vendor="replicate", label="Replicate key")
    hardware = offer(replicate, "gpu-h100", "Nvidia H100 GPU", "5.49")
    response = logged_in.post(reverse("deployments:anywhere_choose"), {**WORKLOAD, "offer": hardware.pk})
    content = response.content.decode()
    assert "Replicate runs a model, not an image" in content
    model_errors = content.split('id="err-model"')[1].split("</ul>")[0]
    assert "This field is required." in model_errors


def test_choosing_another_teams_or_a_refused_offer_is_404(logged_in, fleet, other_team):
    theirs = offer(other_team["account"], "h100-80gb", "NVIDIA H100 80GB", "0.10")
    for pk in (theirs.pk, fleet["refused"].pk, "x"):
        response = logged_in.post(reverse("deployments:anywhere_choose"), {**WORKLOAD, "offer": pk})
        assert response.status_code == 404


def test_anywhere_starts_from_a_built_in_template(logged_in, fleet):
    content = logged_in.get(reverse("deployments:anywhere"), {"builtin": "vllm-openai"}).content.decode()
    assert 'value="vllm/vllm-openai:latest"' in content
    assert "HF_TOKEN=" in content
    assert logged_in.get(reverse("deployments:anywhere"), {"builtin": "nope"}).status_code == 404


@pytest.mark.parametrize("vendor", ["together", "nosana", "fluence", "novita"])
def test_a_neutral_spec_survives_the_round_trip_through_each_vendor_form(team, vendor):
    """Neutral → the vendor's form → its spec → neutral: what the vendor holds comes back."""
    from controlpanel.credentials.models import ProviderAccount
    from controlpanel.deployments.forms import form_class_for
    from controlpanel.deployments.forms.anywhere import form_data
    from providers.neutral import NeutralSpec, from_vendor, to_form

    spec = NeutralSpec(
        name="roundtrip", image="docker.io/library/nginx:1", command="nginx -g 'daemon off;'", env=(("A", "1"),)
    )
    initial, rows = to_form(vendor, spec)
    form_class = form_class_for(vendor)
    prefilled = form_class(initial=initial, row_initial=rows, accounts=ProviderAccount.objects.none())
    bound = form_class(form_data(prefilled), accounts=ProviderAccount.objects.none())
    bound.is_valid()
    back = from_vendor(vendor, bound.spec or bound.partial_spec())
    assert (back.name, back.image, back.command, back.env) == (spec.name, spec.image, spec.command, spec.env)


def test_a_capacity_refusal_offers_the_next_offer_with_its_price(logged_in, fleet, account):
    from tests.factories import together_spec

    env = [{"name": "HF_TOKEN", "value": "hf_never_on_the_page"}, {"name": "MODEL", "value": "qwen"}]
    failed = DeploymentFactory(
        account=account,
        name="no-gpus",
        spec=together_spec(name="no-gpus", environment_variables=env),
        state=State.FAILED,
        external_id="dep-x",
        status_message="Unschedulable: 0/12 nodes are available: 12 Insufficient nvidia.com/gpu.",
    )
    content = logged_in.get(reverse("deployments:detail", args=[failed.pk])).content.decode()
    box = content.split('id="capacity-alternative"')[1].split("</form>")[0]
    assert "Deploy on Novita AI for $2.89/hour" in box
    assert f'value="{fleet["novita"].pk}"' in box
    assert 'name="image" value="registry.together.ai/proj_demo/flux@sha256:abc"' in box
    assert "MODEL=qwen" in box
    assert "hf_never_on_the_page" not in content  # the secret is asked for again, never written out
    # One click: the post it makes opens Novita's form filled in.
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', box))
    fields["offer"] = str(fleet["novita"].pk)
    fields["env"] = re.search(r'<textarea name="env" hidden>([^<]*)</textarea>', box).group(1)
    chosen = logged_in.post(reverse("deployments:anywhere_choose"), fields).content.decode()
    assert "New Novita AI deployment" in chosen
    assert "HF_TOKEN has no value: fill it in or remove the row." in chosen
    assert 'value="registry.together.ai/proj_demo/flux@sha256:abc"' in chosen


def test_a_failure_that_is_not_capacity_offers_nothing(logged_in, fleet, account):
    failed = DeploymentFactory(
        account=account, name="bad-image", state=State.FAILED, status_message="ImagePullBackOff: manifest unknown"
    )
    content = logged_in.get(reverse("deployments:detail", args=[failed.pk])).content.decode()
    assert "capacity-alternative" not in content


def test_a_capacity_failure_told_in_the_vendors_events_offers_the_next_offer(logged_in, fleet, team):
    from controlpanel.deployments.models import LogSnapshot

    fluence = AccountFactory(team=team, vendor="fluence", label="Fluence key")
    spec = {
        "kind": "container",
        "name": "fl-vllm",
        "plan_id": "plan-h100",
        "container_settings": {"image": "vllm/vllm-openai:latest", "expose": [{"port": "8000", "protocol": "tcp"}]},
    }
    offer(fluence, "plan-h100", "H100", "2.00", kind="container", gpu_memory_gb=80)
    failed = DeploymentFactory(account=fluence, name="fl-vllm", spec=spec, state=State.FAILED, external_id="fl-1")
    LogSnapshot.objects.create(
        deployment=failed,
        events=[{"message": "[pod]: [Warning] [FailedScheduling] 0/4 nodes are available", "at": "", "kind": ""}],
    )
    content = logged_in.get(reverse("deployments:detail", args=[failed.pk])).content.decode()
    box = content.split('id="capacity-alternative"')[1].split("</form>")[0]
    assert "Deploy on Novita AI for $2.89/hour" in box  # the cheapest other H100 that is available
    assert 'name="port" value="8000"' in box


def test_anywhere_starts_from_a_deployment_or_a_team_template(logged_in, fleet, account, team, owner, other_team):
    from controlpanel.blueprints.services import template_create
    from tests.factories import together_spec

    source = DeploymentFactory(account=account, name="source", spec=together_spec(name="source", port=8000))
    page = logged_in.get(reverse("deployments:anywhere"), {"from": source.pk}).content.decode()
    assert "Filled in from the deployment “source”" in page
    assert 'value="registry.together.ai/proj_demo/flux@sha256:abc"' in page
    assert 'value="H100 80GB" selected' in page
    template = template_create(team=team, actor=owner, name="Saved", vendor_slug="together", spec=together_spec())
    page = logged_in.get(reverse("deployments:anywhere"), {"template": template.pk}).content.decode()
    assert "Filled in from the template “Saved”" in page
    assert logged_in.get(reverse("deployments:anywhere"), {"from": other_team["deployment"].pk}).status_code == 404
