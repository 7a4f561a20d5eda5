"""Novita in the panel: the create page (priced products, the key's volumes and
templates), its confirmation naming what monthly billing charges at once and showing
what a template filled in, field checks as you type, the edit page (what Novita cannot
change locked, the disk only growing), the deployment page
(connection details without passwords, Novita's own action gates) and the services
driving the adapter, with respx standing in for Novita."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.models import Offer as CatalogOffer
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.states import State
from providers.base import Action
from providers.novita.mapping import connection_of, endpoints_of, masked, product_offer
from providers.novita.provider import GPU_API
from providers.novita.statuses import remote_state
from providers.testing import load_fixture
from tests.factories import AccountFactory, DeploymentFactory, post_confirmed

HX = {"HTTP_HX_REQUEST": "true"}
GPU = GPU_API
INSTANCE_ID = "8b7f3c2e1a9d4f60"
VOLUME = "d4e82677-3f80-4020-a731-d15b1c589aa8"
METADATA = {
    "clusters": [{"id": "5", "name": "US-CA-06"}],
    "registry_auths": [{"id": "1001", "name": "ghcr.io"}],
    "network_storages": [
        {"id": VOLUME, "name": "llama-weights", "cluster_id": "5", "cluster_name": "US-CA-06", "size_gb": 10}
    ],
    "templates": [],
}
SPEC = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "networkStorages": [{"Id": VOLUME, "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "minCudaVersion": "12.4",
}


@pytest.fixture
def novita_account(team):
    account = AccountFactory(
        team=team, vendor="novita", label="Novita sandbox", api_key="sandbox-novita-panel", metadata=METADATA
    )
    for product in load_fixture("novita", "products")["data"]:
        offer = product_offer(product)
        CatalogOffer.objects.create(
            account=account,
            vendor="novita",
            kind=offer.kind,
            sku=offer.sku,
            name=offer.name,
            gpu_model=offer.gpu_model,
            gpu_count=offer.gpu_count,
            gpu_memory_gb=offer.gpu_memory_gb,
            price_per_hour=offer.price_per_hour,
            available=offer.available,
            extra=offer.extra,
            raw=offer.raw,
            synced_at=timezone.now(),
        )
    return account


def rows(prefix: str, items: list[dict[str, Any]]) -> dict[str, str]:
    data = {f"{prefix}-TOTAL_FORMS": str(len(items)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, item in enumerate(items):
        data.update({f"{prefix}-{i}-{k}": str(v) for k, v in item.items()})
    return data


def form_post(account, **overrides: Any) -> dict[str, Any]:
    data = {
        "account": account.pk,
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "gpuNum": "1",
        "clusterId": "",
        "rootfsSize": "100",
        "minCudaVersion": "12.4",
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "jupyter": "on",
        "jupyter_port": "8888",
        "jupyter_type": "http",
        "billingMode": "onDemand",
        **rows("ports", [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}]),
        **rows("env", [{"key": "HF_TOKEN", "value": "hf_xxx"}]),
        **rows("volumes", [{"Id": VOLUME, "mountPoint": "/network"}]),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def instance(**changes: Any) -> dict[str, Any]:
    return {**load_fixture("novita", "instance_running"), **changes}


def novita_deployment(
    account, *, state=State.RUNNING, spec=None, external_id=INSTANCE_ID, **changes: Any
) -> Deployment:
    """A deployment as the poll leaves it: the adapter's reading of the instance."""
    item = instance(id=external_id, **changes)
    vendor_state, message = item["status"], remote_state(item)[1]
    endpoints = endpoints_of(item)
    return DeploymentFactory(
        account=account,
        name="llama-serve-01",
        spec=copy.deepcopy(spec or SPEC),
        state=state,
        external_id=external_id,
        vendor_state=vendor_state,
        status_message=message,
        raw=masked(item),
        connection=connection_of(item),
        endpoints=[e.as_dict() for e in endpoints],
        endpoint_url=next((e.url for e in endpoints if e.url), ""),
    )


@pytest.fixture
def api(novita_account):
    with respx.mock(base_url=novita_account.base_url, assert_all_called=False) as mock:
        yield mock


# --- creating ---------------------------------------------------------------------------------------------


def test_novita_create_page_renders_every_field(logged_in, novita_account):
    content = logged_in.get(reverse("deployments:create", args=["novita"])).content.decode()
    for name in (
        "account",
        "name",
        "productId",
        "gpuNum",
        "clusterId",
        "rootfsSize",
        "minCudaVersion",
        "networkId",
        "template",
        "imageUrl",
        "imageAuthId",
        "imageAuth",
        "command",
        "entrypoint",
        "jupyter",
        "jupyter_port",
        "jupyter_type",
        "billingMode",
        "month",
        "autoRenew",
        "autoRenewMonth",
        "ports-0-port",
        "ports-0-type",
        "env-0-key",
        "env-0-value",
        "volumes-0-Id",
        "volumes-0-mountPoint",
    ):
        assert f'name="{name}"' in content, name
    assert "A100 SXM 80GB · $1.60/GPU-h on demand · spot $0.80/GPU-h · $950.00/GPU-month" in content
    assert "H100 SXM 80GB · $2.50/GPU-h on demand · $1,500.00/GPU-month" in content
    assert "no capacity now" in content
    assert "llama-weights · US-CA-06 · 10 GB" in content  # the key's volumes, by name
    for button in ("+ Add port", "+ Add variable", "+ Add volume"):
        assert button in content
    assert 'data-show-when="billingMode=monthly"' in content


def test_novita_create_confirms_the_amount_then_queues_the_spec(logged_in, novita_account):
    url = reverse("deployments:create", args=["novita"])
    first = logged_in.post(url, form_post(novita_account, gpuNum="2"), **HX).content.decode()
    assert "Confirm: this spends money" in first
    assert "about <strong>$3.20/hour</strong>" in first
    assert "Charged now" not in first  # on demand: nothing upfront
    response = post_confirmed(logged_in, url, form_post(novita_account, gpuNum="2"))
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=novita_account.team)
    assert (deployment.vendor, deployment.state, deployment.spec) == ("novita", State.QUEUED, {**SPEC, "gpuNum": 2})
    assert deployment.estimated_price_per_hour == Decimal("3.2")


def test_novita_template_fills_the_form_and_the_confirmation_shows_it(logged_in, novita_account):
    vllm = {
        "id": "2",
        "name": "vLLM OpenAI server",
        "channel": "official",
        "image": "docker.io/vllm/vllm-openai:latest",
        "ports": [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}],
        "env_keys": ["HF_TOKEN"],
        "start_command": "--model meta-llama/Llama-3.1-8B-Instruct",
        "rootfs_gb": 100,
        "tools": [],
    }
    novita_account.metadata = {**METADATA, "templates": [vllm]}
    novita_account.save()
    url = reverse("deployments:create", args=["novita"])
    assert "vLLM OpenAI server · docker.io/vllm/vllm-openai:latest" in logged_in.get(url).content.decode()
    values = form_post(
        novita_account,
        template="2",
        imageUrl="",
        rootfsSize="60",
        minCudaVersion="",
        jupyter=None,
        **rows("ports", [{"port": "", "type": "http"}]),
        **rows("env", [{"key": "", "value": ""}]),
        **rows("volumes", []),
    )
    content = logged_in.post(url, values, **HX).content.decode()
    assert "HF_TOKEN has no value: fill it in or remove the row." in content
    assert 'value="docker.io/vllm/vllm-openai:latest"' in content
    assert 'name="rootfsSize" value="100"' in content
    assert 'name="ports-1-port" value="22"' in content
    assert 'name="env-0-key" value="HF_TOKEN"' in content
    values.update({"env-0-key": "HF_TOKEN", "env-0-value": "hf_mine"})  # the user gives it its value
    assert "Confirm: this spends money" in logged_in.post(url, values, **HX).content.decode()
    # Confirming posts the same form: the template fills it the same way, the digest holds.
    post_confirmed(logged_in, url, values)
    assert Deployment.objects.get(team=novita_account.team).spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "ports": "8000/http, 22/tcp",
        "envs": [{"key": "HF_TOKEN", "value": "hf_mine"}],
        "command": "--model meta-llama/Llama-3.1-8B-Instruct",
        "billingMode": "onDemand",
    }


def test_novita_monthly_confirmation_names_what_is_charged_at_creation(logged_in, novita_account):
    url = reverse("deployments:create", args=["novita"])
    post = form_post(novita_account, gpuNum="2", billingMode="monthly", month="3")
    content = logged_in.post(url, post, **HX).content.decode()
    assert (
        "<dt>Charged now</dt><dd><strong>$5,400.00</strong> — Charged at creation: 3 months of A100 SXM 80GB" in content
    )
    assert "× 2 GPUs, prepaid." in content
    assert "$2.50/hour" in content  # $2,700 per GPU for 3 months, spread over 2,160 hours, × 2


def test_novita_spot_confirmation_says_it_can_be_reclaimed(logged_in, novita_account):
    url = reverse("deployments:create", args=["novita"])
    content = logged_in.post(url, form_post(novita_account, billingMode="spot"), **HX).content.decode()
    assert "about <strong>$0.80/hour</strong>" in content
    assert "Novita can reclaim a spot instance at short notice." in content


def test_novita_create_shows_rule_errors_on_rows_and_fields(logged_in, novita_account):
    url = reverse("deployments:create", args=["novita"])
    post = form_post(novita_account, **rows("ports", [{"port": 8000, "type": "http"}, {"port": 2222, "type": "tcp"}]))
    content = logged_in.post(url, post, **HX).content.decode()
    assert content.index("2222: 2222, 2223 and 2224 are reserved by Novita.") > content.index('id="err-ports-1-port"')
    content = logged_in.post(url, form_post(novita_account, rootfsSize="2000"), **HX).content.decode()
    assert content.index("A100 SXM 80GB takes a root disk of 10–1024 GB.") > content.index('id="err-rootfsSize"')
    assert not Deployment.objects.exists()


def test_novita_field_checks_as_you_type_with_the_price_comparison(logged_in, novita_account):
    post = {**form_post(novita_account, minCudaVersion="twelve"), "_field": "minCudaVersion"}
    content = logged_in.post(reverse("deployments:validate", args=["novita"]), post, **HX).content.decode()
    assert '<ul class="field-errors" id="err-minCudaVersion"' in content
    assert "A CUDA version like 12.4." in content
    assert "1 × A100 SXM 80GB, on demand. Compare: on demand $1.60/h" in content
    assert "spot $0.80/h, but Novita can reclaim it; monthly $950.00 a month, prepaid at creation." in content


# --- editing -------------------------------------------------------------------------------------------------


def test_novita_edit_locks_what_novita_cannot_change(logged_in, novita_account):
    deployment = novita_deployment(novita_account, spec={**SPEC, "imageAuth": "bot:s3cret", "imageAuthId": None})
    content = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert content.count("Fixed at creation: the vendor cannot change it.") == 14
    assert 'name="rootfsSize" value="100"' in content
    assert "s3cret" not in content  # a stored registry password is never written into a page


def test_novita_edit_sends_an_update_with_the_new_spec(logged_in, novita_account):
    deployment = novita_deployment(novita_account)
    post = {
        "rootfsSize": "150",
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        **rows("ports", [{"port": 8000, "type": "http"}]),
        **rows("env", [{"key": "HF_TOKEN", "value": "hf_new"}]),
        **rows("volumes", [{"Id": VOLUME, "mountPoint": "/network"}]),
    }
    response = logged_in.post(reverse("deployments:edit", args=[deployment.pk]), post)
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.pending_action == "update"
    assert deployment.pending_params["spec"] == {
        **SPEC,
        "rootfsSize": 150,
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "ports": "8000/http",
        "envs": [{"key": "HF_TOKEN", "value": "hf_new"}],
    }


def test_novita_edit_refuses_to_shrink_the_disk(logged_in, novita_account):
    deployment = novita_deployment(novita_account)
    post = {
        "rootfsSize": "50",
        "imageUrl": SPEC["imageUrl"],
        **rows("ports", []),
        **rows("env", []),
        **rows("volumes", []),
    }
    content = logged_in.post(reverse("deployments:edit", args=[deployment.pk]), post).content.decode()
    assert content.index("Novita can only grow the root disk: it has 100 GB now.") > content.index(
        'id="err-rootfsSize"'
    )
    assert Deployment.objects.get(pk=deployment.pk).pending_action == ""


# --- the deployment page --------------------------------------------------------------------------------------


def test_novita_page_shows_how_to_connect_without_passwords(logged_in, novita_account):
    deployment = novita_deployment(novita_account)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "https://8b7f3c2e1a9d4f60-8000.proxy.novita.example" in content  # the http port is the endpoint
    assert "<code>203.0.113.10:31522</code> tcp" in content
    assert "ssh root@203.0.113.10 -p 31522" in content
    assert "https://terminal.novita.example/8b7f3c2e1a9d4f60 (user root)" in content
    assert "https://8b7f3c2e1a9d4f60-8888.proxy.novita.example/lab" in content
    for secret in ("Zq8vR2mKp4Lx", "Tw7nB3cYh9Qe", "tok-sys-91f2", "tok-ins-3c7d", "hf_xxx"):
        assert secret not in content, secret


def test_novita_page_gates_actions_as_novita_does(logged_in, novita_account):
    pulling = novita_deployment(novita_account, state=State.PROVISIONING, status="pulling")
    content = logged_in.get(reverse("deployments:detail", args=[pulling.pk])).content.decode()
    assert (
        'data-dialog="dlg-stop" disabled title="Novita stops an instance only while it is running; it is pulling."'
        in (content)
    )
    assert "Stop: Novita stops an instance only while it is running; it is pulling." in content
    resetting = novita_deployment(novita_account, state=State.UPDATING, status="resetting", external_id="5c0ffee0001")
    assert services.action_refusal(resetting, Action.UPDATE) == (
        "Novita changes an instance only when it is running or stopped; it is resetting."
    )
    running = novita_deployment(novita_account, external_id="5c0ffee0002")
    for action in (Action.STOP, Action.RESTART, Action.UPDATE, Action.DELETE):
        assert services.action_refusal(running, action) == "", action


def test_novita_page_says_a_monthly_instance_is_deleted_only_after_its_term(logged_in, novita_account):
    ends = timezone.now() + dt.timedelta(days=20)
    deployment = novita_deployment(
        novita_account,
        spec={**SPEC, "billingMode": "monthly", "month": 1},
        billingMode="monthly",
        endTime=str(int(ends.timestamp())),
    )
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    when = ends.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    assert f"Novita does not release a monthly (prepaid) instance before its subscription ends on {when} UTC" in content
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "delete"]), **HX)
    assert "before its subscription ends" in response["HX-Trigger"]
    assert Deployment.objects.get(pk=deployment.pk).pending_action == ""


def test_novita_page_explains_a_spot_reclaim_notice(logged_in, novita_account):
    deployment = novita_deployment(novita_account, billingMode="spot", spotStatus="notified", spotReclaimTime="0")
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Novita has announced it will reclaim this spot instance." in content


# --- services driving the adapter --------------------------------------------------------------------------------


def test_novita_submit_creates_the_instance(novita_account, api):
    deployment = DeploymentFactory(account=novita_account, name="llama-serve-01", spec=copy.deepcopy(SPEC))
    create = api.post(f"{GPU}/gpu/instance/create").respond(200, json={"id": INSTANCE_ID})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(
        200, json=instance(status="creating", portMappings=[])
    )
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert json.loads(create.calls.last.request.content) == SPEC
    assert (deployment.state, deployment.vendor_state, deployment.external_id) == (
        State.PROVISIONING,
        "creating",
        INSTANCE_ID,
    )


def test_novita_submit_vendor_field_error_lands_on_the_edit_page(logged_in, novita_account, api):
    deployment = DeploymentFactory(account=novita_account, name="llama-serve-01", spec=copy.deepcopy(SPEC))
    api.post(f"{GPU}/gpu/instance/create").respond(400, json=load_fixture("novita", "error_validator_gpunum"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.error_fields == {"gpuNum": ["gpuNum must be between 1 and 8 (VALIDATOR_PARAM)"]}
    page = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert page.index("gpuNum must be between 1 and 8 (VALIDATOR_PARAM)") > page.index('id="err-gpuNum"')


def test_novita_submit_refused_for_balance_fails_in_novitas_words(novita_account, api):
    deployment = DeploymentFactory(account=novita_account, name="llama-serve-01", spec=copy.deepcopy(SPEC))
    api.post(f"{GPU}/gpu/instance/create").respond(400, json=load_fixture("novita", "error_balance"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.last_error) == (State.FAILED, "balance is not enough (BALANCE_NOT_ENOUGH)")


def test_novita_refresh_reads_the_list_and_the_running_instance(novita_account, api):
    deployment = novita_deployment(novita_account, state=State.PROVISIONING, status="pulling")
    api.get(f"{GPU}/gpu/instances").respond(200, json={"instances": [instance()], "total": 1})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(200, json=instance())
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.account_refresh(account_id=novita_account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state, deployment.price_per_hour) == (
        State.RUNNING,
        "running",
        Decimal("1.6"),
    )
    assert deployment.connection["SSH"] == "ssh root@203.0.113.10 -p 31522"
    assert deployment.raw["connectComponentSSH"]["password"] == "******"


@pytest.mark.parametrize(
    ("action", "verb", "after", "state"),
    [
        (Action.STOP, "stop", "stopping", State.STOPPING),
        (Action.RESTART, "restart", "restarting", State.UPDATING),
    ],
)
def test_novita_stop_and_restart_post_the_instance_id(owner, novita_account, api, action, verb, after, state):
    deployment = novita_deployment(novita_account)
    services.deployment_request_action(deployment=deployment, actor=owner, action=action)
    call = api.post(f"{GPU}/gpu/instance/{verb}").respond(200, json={})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(200, json=instance(status=after))
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(call.calls.last.request.content) == {"instanceId": INSTANCE_ID}
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state, deployment.pending_action) == (state, after, "")


def test_novita_start_resubmits_and_posts_start(owner, novita_account, api):
    deployment = novita_deployment(novita_account, state=State.STOPPED, status="exited")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.START)
    start = api.post(f"{GPU}/gpu/instance/start").respond(200, json={})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(200, json=instance(status="starting"))
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-start")
    assert json.loads(start.calls.last.request.content) == {"instanceId": INSTANCE_ID}
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state) == (State.PROVISIONING, "starting")


def test_novita_update_edits_ports_and_disk_then_upgrades_the_image(owner, novita_account, api):
    deployment = novita_deployment(novita_account)
    new = {**SPEC, "rootfsSize": 150, "ports": "8000/http", "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0"}
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.UPDATE, params={"spec": new})
    edit = api.post(f"{GPU}/gpu/instance/edit").respond(200, json={})
    upgrade = api.post(f"{GPU}/gpu/instance/upgrade").respond(200, json={})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(200, json=instance(status="toReset"))
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(edit.calls.last.request.content) == {
        "instanceId": INSTANCE_ID,
        "ports": [{"port": 8000, "type": "http"}, {"port": 8888, "type": "http"}],
        "expandRootDisk": 50,
    }
    body = json.loads(upgrade.calls.last.request.content)
    assert (body["imageUrl"], body["envs"], body["save"]) == (new["imageUrl"], SPEC["envs"], True)
    assert body["networkVolume"] == {"volumeMounts": [{"type": "network", "id": VOLUME, "mountPath": "/network"}]}
    deployment.refresh_from_db()
    assert (deployment.spec, deployment.state, deployment.vendor_state) == (new, State.UPDATING, "toReset")


def test_novita_redeploy_from_the_page_is_an_upgrade_with_the_same_spec(logged_in, owner, novita_account, api):
    deployment = novita_deployment(novita_account)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'data-dialog="dlg-redeploy"' in content
    logged_in.post(reverse("deployments:action", args=[deployment.pk, "redeploy"]))
    edit = api.post(f"{GPU}/gpu/instance/edit").respond(200, json={})
    upgrade = api.post(f"{GPU}/gpu/instance/upgrade").respond(200, json={})
    api.get(f"{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(200, json=instance(status="toReset"))
    api.get(f"{GPU}/products").respond(200, json=load_fixture("novita", "products"))
    services.deployment_run_action(deployment_id=deployment.pk)
    body = json.loads(upgrade.calls.last.request.content)
    assert (body["instanceId"], body["imageUrl"], body["save"]) == (INSTANCE_ID, SPEC["imageUrl"], True)
    assert edit.call_count == 0
    deployment.refresh_from_db()
    assert (deployment.spec, deployment.state, deployment.vendor_state) == (SPEC, State.UPDATING, "toReset")


def test_novita_delete_of_a_subscription_is_refused_in_novitas_words(owner, novita_account, api):
    deployment = novita_deployment(novita_account, state=State.STOPPED, status="exited")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    api.post(f"{GPU}/gpu/instance/delete").respond(400, json=load_fixture("novita", "error_prepaid"))
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.STOPPED
    assert deployment.last_error == (
        "Delete failed: prepaid instance can not be released before expiration (PREPAID_INSTANCE_NOT_SUPPORT_RELEASE)"
    )


def test_novita_delete_goes_through_releasing_to_deleted(owner, novita_account, api):
    deployment = novita_deployment(novita_account)
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    delete = api.post(f"{GPU}/gpu/instance/delete").respond(200, json={})
    services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(delete.calls.last.request.content) == {"instanceId": INSTANCE_ID}
    assert Deployment.objects.get(pk=deployment.pk).state == State.DELETING
    # Released: the list no longer has it and get answers RESOURCE_NOT_FOUND (a 400).
    api.get(f"{GPU}/gpu/instances").respond(200, json={"instances": [], "total": 0})
    api.get(f"{GPU}/gpu/instance").respond(400, json=load_fixture("novita", "error_not_found"))
    services.account_refresh(account_id=novita_account.pk)
    assert Deployment.objects.get(pk=deployment.pk).state == State.DELETED


def test_novita_logs_are_read_from_the_stream_addresses_without_the_key(novita_account):
    deployment = novita_deployment(novita_account)
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{novita_account.base_url}{GPU}/gpu/instance", params={"instanceId": INSTANCE_ID}).respond(
            200, json=instance()
        )
        system = mock.get("https://logs.novita.example/s/8b7f3c2e1a9d4f60/tok-sys-91f2").respond(
            200, text="pulling image\nimage pulled\n"
        )
        own = mock.get("https://logs.novita.example/i/8b7f3c2e1a9d4f60/tok-ins-3c7d").respond(
            200, text="INFO: Uvicorn running on http://0.0.0.0:8000\n"
        )
        services.deployment_fetch_logs(deployment_id=deployment.pk)
    for route in (system, own):
        assert "authorization" not in route.calls.last.request.headers
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert snapshot.error == ""
    assert snapshot.lines == [
        "── system log ──",
        "pulling image",
        "image pulled",
        "── instance log ──",
        "INFO: Uvicorn running on http://0.0.0.0:8000",
    ]
