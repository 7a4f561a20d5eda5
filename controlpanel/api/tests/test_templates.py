"""Templates and deploy anywhere over the API do what the pages do: the same services
(secrets never kept, audit entries, who may change a template), POST /deployments' own
create path for a deploy (field errors, Idempotency-Key, price check), and the Deploy
anywhere page's matching for offers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from controlpanel.api.tests.helpers import call, together_fields, token_for
from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.blueprints.builtins import BUILTINS
from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.catalog.models import Offer
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role

KEY = "template-deploy-key-0001"
ENV = {"env": [{"name": "HF_TOKEN", "source": "value", "value": "hf_secret_value"}, {"name": "MODE", "value": "fast"}]}


@pytest.fixture
def token(owner, team):
    return token_for(owner, team)


def _save(token, account, name="vLLM on H100", **fields):
    body = {"vendor": "together", "name": name, "fields": together_fields(account, **fields), "rows": ENV}
    return call("POST", "/templates", token, body)


def test_save_keeps_no_secret_value_and_is_audited_like_the_page(token, owner, account):
    response = _save(token, account)
    assert response.status_code == 201, response.content
    body = response.json()
    template = DeploymentTemplate.objects.get()
    assert body["id"] == template.pk
    assert body["vendor"] == "together"
    assert body["to_fill"] == ["HF_TOKEN"]
    assert "hf_secret_value" not in response.content.decode()
    assert "hf_secret_value" not in str(template.spec)
    assert {"name": "MODE", "value": "fast"}.items() <= template.spec["environment_variables"][1].items()
    entry = AuditEntry.objects.get(action=AuditAction.TEMPLATE_CREATED)
    assert entry.actor == owner
    assert "to fill when used: HF_TOKEN" in entry.summary
    again = _save(token, account, name="vllm ON h100")
    assert again.status_code == 422
    assert "already has a template" in again.json()["error"]["fields"]["name"][0]


def test_list_has_the_teams_then_the_builtins_and_get_one(token, account, other_team):
    template_id = _save(token, account).json()["id"]
    DeploymentTemplate.objects.create(team=other_team["team"], name="Theirs", vendor="together", spec={})
    listed = call("GET", "/templates", token).json()
    assert [t["name"] for t in listed] == ["vLLM on H100", *(b.name for b in BUILTINS)]
    builtin = listed[1]
    assert builtin["builtin"] is True
    assert builtin["id"] is None
    assert builtin["slug"] == BUILTINS[0].slug
    assert builtin["spec"]["image"] == BUILTINS[0].spec.image
    assert builtin["to_fill"] == ["HF_TOKEN"]
    one = call("GET", f"/templates/{template_id}", token).json()
    assert one["name"] == "vLLM on H100"
    assert one["can_manage"] is True


def test_rename_is_audited_and_only_the_author_or_an_admin_may(token, team, account, make_member):
    template_id = _save(token, account).json()["id"]
    response = call("PATCH", f"/templates/{template_id}", token, {"name": "vLLM big"})
    assert response.status_code == 200
    assert response.json()["name"] == "vLLM big"
    assert response.json()["description"] == ""
    entry = AuditEntry.objects.get(action=AuditAction.TEMPLATE_CHANGED)
    assert "renamed “vLLM on H100” to “vLLM big”" in entry.summary
    blank = call("PATCH", f"/templates/{template_id}", token, {"name": "  "})
    assert blank.status_code == 422
    assert blank.json()["error"]["fields"]["name"]
    deployer = token_for(make_member(Role.DEPLOYER, username="dan"), team)
    refused = call("PATCH", f"/templates/{template_id}", deployer, {"description": "mine now"})
    assert refused.status_code == 403
    assert call("DELETE", f"/templates/{template_id}", deployer).status_code == 403
    assert DeploymentTemplate.objects.get().description == ""


def test_delete_is_audited(token, account):
    template_id = _save(token, account).json()["id"]
    assert call("DELETE", f"/templates/{template_id}", token).status_code == 204
    assert not DeploymentTemplate.objects.exists()
    assert AuditEntry.objects.get(action=AuditAction.TEMPLATE_DELETED).summary == "Deleted the template “vLLM on H100”"
    assert call("GET", f"/templates/{template_id}", token).status_code == 404


def test_deploy_fills_the_secret_creates_once_per_key(token, account, django_capture_on_commit_callbacks):
    template_id = _save(token, account).json()["id"]
    body = {"secrets": {"HF_TOKEN": "hf_new"}, "fields": {"name": "from-template"}}
    with django_capture_on_commit_callbacks() as queued:
        first = call("POST", f"/templates/{template_id}/deploy", token, body, **{"Idempotency-Key": KEY})
        again = call("POST", f"/templates/{template_id}/deploy", token, body, **{"Idempotency-Key": KEY})
    assert first.status_code == 201, first.content
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    deployment = Deployment.objects.get()
    assert deployment.name == "from-template"
    assert deployment.spec["gpu_type"] == "h100-80gb"
    env = {e["name"]: e.get("value") for e in deployment.spec["environment_variables"]}
    assert env == {"HF_TOKEN": "hf_new", "MODE": "fast"}
    assert len(queued) == 1
    other = call(
        "POST", f"/templates/{template_id}/deploy", token, {"fields": {"name": "x2"}}, **{"Idempotency-Key": KEY}
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_deploy_gives_the_forms_field_errors_and_prices_a_dry_run(token, account):
    template_id = _save(token, account).json()["id"]
    bad = call("POST", f"/templates/{template_id}/deploy", token, {"fields": {"name": "Bad Name!", "gpu_count": 99}})
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert {"name", "gpu_count"} <= set(fields)
    assert fields["env-0-value"] == ["HF_TOKEN has no value: fill it in or remove the row."]  # not filled in
    filled = {"HF_TOKEN": "hf_x"}
    quote = call(
        "POST",
        f"/templates/{template_id}/deploy",
        token,
        {"fields": {"name": "priced"}, "secrets": filled, "dry_run": True},
    )
    assert quote.status_code == 200, quote.content
    assert Decimal(quote.json()["estimate"]["low"]) > 0
    dear = call(
        "POST",
        f"/templates/{template_id}/deploy",
        token,
        {"fields": {"name": "dear"}, "secrets": filled, "max_price_per_hour": 0.01},
    )
    assert dear.status_code == 422
    assert "max_price_per_hour" in dear.json()["error"]["fields"]
    assert not Deployment.objects.exists()


def test_offers_anywhere_matches_like_the_page(token, account):
    Offer.objects.create(
        account=account,
        vendor="together",
        sku="h100-80gb",
        name="H100",
        gpu_model="NVIDIA H100 80GB",
        price_per_hour=Decimal("3.36"),
        synced_at=timezone.now(),
    )
    rows = call("GET", "/offers/anywhere?image=docker.io/vllm/vllm-openai:latest&gpu=H100&count=2", token).json()
    assert [(r["vendor"], r["sku"], r["gpu_count"], r["keys"]) for r in rows] == [
        ("together", "h100-80gb", 2, ["Together sandbox"])
    ]
    assert Decimal(rows[0]["price_per_hour"]) == Decimal("6.72")
    assert call("GET", "/offers/anywhere?image=x&gpu=H100&count=1&max_price=1", token).json() == []
    bad = call("GET", "/offers/anywhere?image=has space&count=9", token)
    assert bad.status_code == 422
    assert {"image", "count"} <= set(bad.json()["error"]["fields"])


def test_deploy_on_another_vendor_goes_through_the_translation(token, team, account):
    from tests.factories import AccountFactory

    novita = AccountFactory(team=team, vendor="novita", label="Novita sandbox")
    Offer.objects.create(
        account=novita,
        vendor="novita",
        sku="prod-h100",
        name="H100",
        gpu_model="NVIDIA H100 80GB",
        price_per_hour=Decimal("2.00"),
        synced_at=timezone.now(),
    )
    template_id = _save(token, account).json()["id"]
    body = {"vendor": "novita", "secrets": {"HF_TOKEN": "hf_x"}, "dry_run": True}
    missing = call("POST", f"/templates/{template_id}/deploy", token, body)
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"] == {"productId": ["This field is required."]}
    quote = call("POST", f"/templates/{template_id}/deploy", token, {**body, "fields": {"productId": "prod-h100"}})
    assert quote.status_code == 200, quote.content
    spec = quote.json()["spec"]
    assert (spec["productId"], spec["imageUrl"], spec["name"]) == (
        "prod-h100",
        "registry.together.ai/p/flux:1",
        "flux-worker",
    )
    assert [e["key"] for e in spec["envs"]] == ["HF_TOKEN", "MODE"]  # values masked in the answer
    assert quote.json()["estimate"]["low"] == "2.0000"
