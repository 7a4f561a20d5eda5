"""Fluence in the panel: the create page (kinds, catalog choices, the 3-hour charge
confirmed before anything is sent), editing (containers: settings; VMs: the name), the
deployment page (no start, stop or scale; blocked actions say why), and the services
that run its lifecycle, with respx standing in for Fluence."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal

import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.models import Offer as CatalogOffer
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.states import State
from controlpanel.vendors.fluence.tests.test_form import (
    BM_H100,
    DEFAULT_IMAGES,
    KEY,
    OFFERS,
    PLAN_A100,
    SEED_CONTAINER,
    VM_A100,
    data,
    env,
    machine,
    ports,
)
from providers.base import Action
from tests.factories import AccountFactory, DeploymentFactory, post_confirmed

HX = {"HTTP_HX_REQUEST": "true"}
CONTAINER_SPEC = {"kind": "container", **SEED_CONTAINER}
VM_SPEC = {"kind": "vm", "plan_id": VM_A100, "name": "train-a100-01", "ssh_key": KEY, "os_image": "Ubuntu Server 22.04"}
CONTAINER_ID = "b54672e2-0a8b-490f-81ee-7d5a868471fc"
VM_ID = "5d2c7a1e-9f1b-4a8e-b1c2-3d4e5f60718a"


@pytest.fixture
def fluence_account(team):
    account = AccountFactory(
        team=team,
        vendor="fluence",
        label="Fluence sandbox",
        api_key="sandbox-fluence-panel",
        metadata={"default_images": DEFAULT_IMAGES},
    )
    now = timezone.now()
    for offer in OFFERS:
        CatalogOffer.objects.create(
            account=account,
            vendor="fluence",
            kind=offer.kind,
            sku=offer.sku,
            name=offer.name,
            gpu_model=offer.gpu_model,
            gpu_count=offer.gpu_count,
            gpu_memory_gb=offer.gpu_memory_gb,
            price_per_hour=offer.price_per_hour,
            location=offer.location,
            extra=offer.extra,
            synced_at=now,
        )
    return account


def fluence_deployment(account, spec=CONTAINER_SPEC, *, external_id=CONTAINER_ID, raw=None, **fields):
    raw = (
        raw
        if raw is not None
        else {"id": external_id.rpartition("/")[2], "instance_status": "ACTIVE", "container_status": "STARTED"}
    )
    fields.setdefault("state", State.RUNNING)
    return DeploymentFactory(account=account, name=spec["name"], spec=spec, external_id=external_id, raw=raw, **fields)


# --- creating ---------------------------------------------------------------------------------------------


def test_fluence_create_page_renders_every_field_by_kind(logged_in, fluence_account):
    content = logged_in.get(reverse("deployments:create", args=["fluence"])).content.decode()
    for name in (
        "account",
        "kind",
        "name",
        "plan_id",
        "location",
        "machine_plan_id",
        "os_image",
        "default_image",
        "image",
        "startup_command",
        "registry_host",
        "registry_username",
        "registry_password",
        "ssh_key",
        "ports-0-port",
        "ports-0-protocol",
        "env-0-name",
        "env-0-value",
    ):
        assert f'name="{name}"' in content, name
    assert '<fieldset class="form-section u-border-0 u-m0" data-show-when="kind=container">' in content
    assert 'data-show-when="kind=vm,baremetal"' in content
    assert "1× A100 80 GB SXM · 16 vCPU · 128 GiB RAM · 120 GiB disk · US · $1.22/h" in content
    assert "Debian SSH 11 · docker.io/fluencelabs/debian-ssh-root:11 · ports 22/tcp · needs an SSH key" in content


def test_fluence_create_confirms_the_three_hour_charge_then_queues_the_spec(logged_in, fluence_account):
    url = reverse("deployments:create", args=["fluence"])
    first = logged_in.post(url, data(fluence_account), **HX).content.decode()
    assert "Confirm: this spends money" in first
    assert "about <strong>$1.22/hour</strong>" in first
    assert "<strong>$3.66</strong>" in first
    assert "3 hours of rent at 1.22 USDC/hour move to the instance: 1 h charged now, 2 h held as reserve" in first
    assert not Deployment.objects.exists()
    response = post_confirmed(logged_in, url, data(fluence_account))
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=fluence_account.team)
    assert (deployment.vendor, deployment.state, deployment.name) == ("fluence", State.QUEUED, "my-gpu-container")
    assert deployment.spec == CONTAINER_SPEC
    assert deployment.estimated_price_per_hour == Decimal("1.22")


def test_fluence_create_bare_metal_names_its_charge(logged_in, fluence_account):
    url = reverse("deployments:create", args=["fluence"])
    values = machine(fluence_account, "baremetal", machine_plan_id=BM_H100, name="bm-h100-01")
    content = logged_in.post(url, values, **HX).content.decode()
    assert "<strong>$58.80</strong>" in content  # 3 × 19.60
    post_confirmed(logged_in, url, values)
    deployment = Deployment.objects.get(team=fluence_account.team)
    assert deployment.spec == {
        "kind": "baremetal",
        "plan_id": BM_H100,
        "name": "bm-h100-01",
        "ssh_key": KEY,
        "os_image": "Ubuntu Server 22.04",
    }


def test_fluence_create_shows_rule_errors_on_their_fields(logged_in, fluence_account):
    url = reverse("deployments:create", args=["fluence"])
    values = data(fluence_account, name="GPU_1", **ports(("22", "tcp"), ("8080", "http")))
    content = logged_in.post(url, values, **HX).content.decode()
    assert content.index("1–25 lowercase letters, digits or hyphens") > content.index('id="err-name"')
    assert content.index("Only port 80 may use http; use tcp or udp.") > content.index('id="err-ports-1-protocol"')
    assert "Confirm: this spends money" not in content
    assert not Deployment.objects.exists()


def test_fluence_validate_as_you_type_names_the_rule_and_prices_the_plan(logged_in, fluence_account):
    url = reverse("deployments:validate", args=["fluence"])
    values = data(fluence_account, **env(("SSH_PUBKEY", "x")), _field="env-0-name")
    content = logged_in.post(url, values, **HX).content.decode()
    assert '<ul class="field-errors" id="err-env-0-name"' in content
    assert "SSH_PUBKEY is reserved: Fluence injects the SSH key through it." in content
    assert "$1.22<small> /hour</small>" in content
    assert "1 h charged now, 2 h held as reserve" in content


def test_fluence_default_image_fills_the_form_when_it_is_checked(logged_in, fluence_account):
    url = reverse("deployments:create", args=["fluence"])
    values = data(
        fluence_account,
        default_image="vllm",
        image="",
        startup_command="",
        ssh_key="",
        **ports(("", "tcp")),
        **env(("", "")),
    )
    content = logged_in.post(url, values, **HX).content.decode()
    assert "Confirm: this spends money" not in content  # HF_TOKEN has no value yet
    assert "HF_TOKEN has no value: fill it in or remove the row." in content
    assert 'value="docker.io/vllm/vllm-openai:latest"' in content
    assert 'name="ports-1-port" value="80"' in content
    assert 'name="env-0-name" value="HF_TOKEN"' in content
    values.update({"env-0-name": "HF_TOKEN", "env-0-value": "hf_mine"})
    assert "Confirm: this spends money" in logged_in.post(url, values, **HX).content.decode()


# --- editing ------------------------------------------------------------------------------------------------


def test_fluence_edit_container_shows_the_fixed_ports_and_sends_an_update(logged_in, fluence_account):
    deployment = fluence_deployment(fluence_account)
    url = reverse("deployments:edit", args=[deployment.pk])
    page = logged_in.get(url).content.decode()
    assert 'value="22/tcp, 80/http, 443/tcp, 8000/tcp"' in page
    assert "Fluence keeps the ports a container was deployed with." in page
    assert 'name="ports-0-port"' not in page
    values = {
        "name": "my-gpu-container",
        "image": "docker.io/fluencelabs/debian-ssh-root:12",
        "ssh_key": KEY,
        "startup_command": "",
        **env(("MODEL_PATH", "/models/qwen")),
    }
    response = logged_in.post(url, values, **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("deployments:detail", args=[deployment.pk])
    deployment.refresh_from_db()
    assert deployment.pending_action == "update"
    new_spec = deployment.pending_params["spec"]
    assert new_spec["container_settings"] == {
        "image": "docker.io/fluencelabs/debian-ssh-root:12",
        "expose": SEED_CONTAINER["container_settings"]["expose"],
        "environment": [{"name": "MODEL_PATH", "value": "/models/qwen"}],
    }
    assert (new_spec["plan_id"], new_spec["constraints"]) == (PLAN_A100, {"location": "US"})


def test_fluence_edit_vm_offers_only_the_name(logged_in, fluence_account):
    deployment = fluence_deployment(
        fluence_account, VM_SPEC, external_id=f"vms/{VM_ID}", raw={"id": VM_ID, "status": "ACTIVE"}
    )
    url = reverse("deployments:edit", args=[deployment.pk])
    page = logged_in.get(url).content.decode()
    for name in ("kind", "machine_plan_id", "os_image"):
        assert f'<select name="{name}" disabled' in page, name
    assert re.search(r'<textarea name="ssh_key"[^>]* disabled', page)
    assert re.search(r'<input type="text" name="name" value="train-a100-01"(?![^>]*disabled)[^>]*>', page)
    logged_in.post(url, {"name": "train-a100-02"}, **HX)
    deployment.refresh_from_db()
    assert deployment.pending_params["spec"] == {**VM_SPEC, "name": "train-a100-02"}


# --- the deployment page -----------------------------------------------------------------------------------


def test_fluence_container_page_offers_what_fluence_has(logged_in, fluence_account):
    deployment = fluence_deployment(fluence_account)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    for present in (
        'data-dialog="dlg-restart"',
        'data-dialog="dlg-delete"',
        reverse("deployments:edit", args=[deployment.pk]),
    ):
        assert present in content, present
    # Restart is Fluence's own "Redeploy" (a PUT of the same settings): offered once, as Restart.
    for absent in (
        'data-dialog="dlg-start"',
        'data-dialog="dlg-stop"',
        'data-dialog="dlg-scale"',
        'data-dialog="dlg-archive"',
        'data-dialog="dlg-redeploy"',
    ):
        assert absent not in content, absent


def test_fluence_vm_page_says_why_it_cannot_restart(logged_in, fluence_account):
    deployment = fluence_deployment(
        fluence_account, VM_SPEC, external_id=f"vms/{VM_ID}", raw={"id": VM_ID, "status": "ACTIVE"}
    )
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    reason = "Fluence cannot restart a virtual machine through its API: reboot it from inside, over SSH."
    assert f'data-dialog="dlg-restart" disabled title="{reason}"' in content
    assert f"Restart: {reason}" in content
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "restart"]), **HX)
    assert reason in response["HX-Trigger"]
    assert Deployment.objects.get(pk=deployment.pk).pending_action == ""


def test_fluence_terminate_waits_until_the_instance_is_active(logged_in, fluence_account):
    deployment = fluence_deployment(
        fluence_account, state=State.PROVISIONING, raw={"id": CONTAINER_ID, "instance_status": "INITIALIZED"}
    )
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "delete"]), **HX)
    assert "Fluence terminates only ACTIVE instances; this one is INITIALIZED" in response["HX-Trigger"]
    assert Deployment.objects.get(pk=deployment.pk).pending_action == ""


# --- services, with respx standing in for Fluence ------------------------------------------------------------


def instance(kind: str = "container", status: str = "ACTIVE", **fields):
    """A Fluence instance as ``GET /gpu/instances/{id}`` (or ``/vms/{id}``) answers [contract §2.7]."""
    common = {
        "name": "my-gpu-container" if kind == "container" else "train-a100-01",
        "resources": {
            "supply": {
                "vcpu": {"count": 16},
                "memory": {"count": 128, "units": "Gi"},
                "storage": {"count": 120, "units": "Gi"},
                "gpu_count": 1,
            },
            "gpu_model": {"vendor": "nvidia", "model": "a100", "vram": "80Gi", "interface": "sxm"},
        },
        "created_at": "2026-02-07T14:42:29.472381Z",
        "updated_at": "2026-02-07T14:43:41.901135Z",
        "billing": {
            "hourly_usage": 1.22,
            "total_spendings": 1.22,
            "reserved_amount": 2.44,
            "next_billing_period": "2026-02-07T15:00:00Z",
        },
    }
    if kind == "container":
        item = {
            **common,
            "id": CONTAINER_ID,
            "instance_status": status,
            "location": "US",
            "container_status": "STARTED" if status == "ACTIVE" else "NOT_STARTED",
            "container_info": {
                **SEED_CONTAINER["container_settings"],
                "environment": [{"name": "SSH_PUBKEY", "value": KEY}],
            },
            "network": {
                "domain": "provider.a100.pub",
                "uri": "http://my-gpu-container.provider.a100.pub",
                "forwarded_ports": [{"port": "22", "external_port": "32345", "protocol": "tcp"}],
            }
            if status == "ACTIVE"
            else None,
        }
    else:
        item = {
            **common,
            "id": VM_ID,
            "status": status,
            "availability": kind,
            "location": "us-central-3",
            "os_image": "Ubuntu Server 22.04",
            "ssh_key": KEY,
            "ssh_connection": "ssh ubuntu@216.81.248.90" if status == "ACTIVE" else None,
            "network": {"domain": "216.81.248.90", "forwarded_ports": [], "uri": None} if status == "ACTIVE" else None,
        }
    item.update(fields)
    return item


def listed(item):
    return {
        k: v
        for k, v in item.items()
        if k
        not in (
            "container_status",
            "container_info",
            "billing",
            "network",
            "ssh_connection",
            "os_image",
            "ssh_key",
            "availability",
        )
    }


@pytest.fixture
def api(fluence_account):
    with respx.mock(base_url=fluence_account.base_url, assert_all_called=False) as mock:
        yield mock


def lists(api, containers=(), vms=(), baremetal=()):
    api.get("/gpu/instances/").respond(200, json=[listed(i) for i in containers])
    api.get("/gpu/instances/vms").respond(200, json=[listed(i) for i in vms])
    api.get("/gpu/instances/baremetal").respond(200, json=[listed(i) for i in baremetal])


def test_fluence_submit_posts_the_create_body_without_our_kind(fluence_account, api):
    deployment = fluence_deployment(fluence_account, external_id="", raw={}, state=State.QUEUED)
    create = api.post("/gpu/instances/").respond(201, json={"instance_id": CONTAINER_ID})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    request = create.calls.last.request
    assert request.headers["X-API-KEY"] == "sandbox-fluence-panel"
    assert json.loads(request.content) == SEED_CONTAINER
    deployment.refresh_from_db()
    assert (deployment.state, deployment.external_id) == (State.PROVISIONING, CONTAINER_ID)


def test_fluence_submit_vm_goes_to_its_path_and_keeps_the_kind_in_the_id(fluence_account, api):
    deployment = fluence_deployment(fluence_account, VM_SPEC, external_id="", raw={}, state=State.QUEUED)
    create = api.post("/gpu/instances/vms").respond(201, json={"instance_id": VM_ID})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    assert json.loads(create.calls.last.request.content) == {k: v for k, v in VM_SPEC.items() if k != "kind"}
    deployment.refresh_from_db()
    assert (deployment.state, deployment.external_id) == (State.PROVISIONING, f"vms/{VM_ID}")


def test_fluence_submit_refused_for_money_fails_in_fluences_words(fluence_account, api):
    deployment = fluence_deployment(fluence_account, external_id="", raw={}, state=State.QUEUED)
    api.post("/gpu/instances/").respond(400, json={"detail": "Insufficient balance to deploy instance"})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.last_error) == (State.FAILED, "Insufficient balance to deploy instance")


def test_fluence_submit_422_lands_on_the_field_when_fixing(logged_in, fluence_account, api):
    deployment = fluence_deployment(fluence_account, external_id="", raw={}, state=State.QUEUED)
    api.post("/gpu/instances/").respond(
        422,
        json={
            "detail": [
                {
                    "type": "value_error",
                    "loc": ["body", "container_settings", "expose", 2, "port"],
                    "msg": "Value error, Port must be between 1 and 65535",
                    "input": "443",
                    "ctx": {"error": {}},
                }
            ]
        },
    )
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert list(deployment.error_fields) == ["container_settings.expose.2.port"]
    page = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert page.index("Port must be between 1 and 65535") > page.index('id="err-ports-2-port"')


def test_fluence_refresh_reads_running_with_ssh_and_price(fluence_account, api):
    deployment = fluence_deployment(fluence_account, state=State.PROVISIONING, raw={})
    item = instance()
    lists(api, containers=[item])
    api.get(f"/gpu/instances/{CONTAINER_ID}").respond(200, json=item)
    services.account_refresh(account_id=fluence_account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state) == (State.RUNNING, "ACTIVE")
    assert deployment.connection["SSH"] == "ssh -p 32345 root@provider.a100.pub"
    assert deployment.price_per_hour == Decimal("1.22")
    assert KEY not in json.dumps(deployment.raw)  # the injected SSH_PUBKEY is masked


def test_fluence_terminate_then_ended_is_deleted(owner, fluence_account, api):
    deployment = fluence_deployment(fluence_account, raw=instance())
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    delete = api.delete(f"/gpu/instances/{CONTAINER_ID}").respond(204)
    services.deployment_run_action(deployment_id=deployment.pk)
    assert delete.call_count == 1
    deployment.refresh_from_db()
    assert deployment.state == State.DELETING
    lists(api, containers=[instance(status="ENDED")])
    services.account_refresh(account_id=fluence_account.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED


def test_fluence_update_container_puts_the_full_replacement(owner, fluence_account, api):
    deployment = fluence_deployment(fluence_account, raw=instance())
    new_spec = copy.deepcopy(CONTAINER_SPEC)
    new_spec["container_settings"].update(image="docker.io/fluencelabs/debian-ssh-root:12", environment=[])
    services.deployment_request_action(
        deployment=deployment, actor=owner, action=Action.UPDATE, params={"spec": new_spec}
    )
    put = api.put(f"/gpu/instances/{CONTAINER_ID}").respond(204)
    api.get(f"/gpu/instances/{CONTAINER_ID}").respond(200, json=instance(container_status="NOT_STARTED"))
    services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(put.calls.last.request.content) == {
        "name": "my-gpu-container",
        "container_settings": {
            "image": "docker.io/fluencelabs/debian-ssh-root:12",
            "environment": [],
            "startup_command": "python3 serve.py --port 8000",
        },
        "ssh_key": KEY,
    }
    deployment.refresh_from_db()
    assert deployment.spec["container_settings"]["image"] == "docker.io/fluencelabs/debian-ssh-root:12"
    assert deployment.state == State.UPDATING  # redeploying: the container is starting again


def test_fluence_restart_redeploys_the_current_configuration(owner, fluence_account, api):
    deployment = fluence_deployment(fluence_account, raw=instance())
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.RESTART)
    put = api.put(f"/gpu/instances/{CONTAINER_ID}").respond(204)
    api.get(f"/gpu/instances/{CONTAINER_ID}").respond(200, json=instance())
    services.deployment_run_action(deployment_id=deployment.pk)
    body = json.loads(put.calls.last.request.content)
    assert body["container_settings"]["image"] == SEED_CONTAINER["container_settings"]["image"]
    assert "expose" not in body["container_settings"]  # fixed at deploy: not sent


def test_fluence_update_refused_while_one_applies_is_said(owner, fluence_account, api):
    deployment = fluence_deployment(fluence_account, raw=instance())
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.RESTART)
    api.put(f"/gpu/instances/{CONTAINER_ID}").respond(400, json={"detail": "Instance update is already in progress"})
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.last_error == "Restart failed: Instance update is already in progress"
    assert deployment.state == State.RUNNING


def test_fluence_rename_vm_puts_only_the_name(owner, fluence_account, api):
    deployment = fluence_deployment(fluence_account, VM_SPEC, external_id=f"vms/{VM_ID}", raw=instance("vm"))
    services.deployment_request_action(
        deployment=deployment, actor=owner, action=Action.UPDATE, params={"spec": {**VM_SPEC, "name": "train-02"}}
    )
    put = api.put(f"/gpu/instances/vms/{VM_ID}").respond(204)
    api.get(f"/gpu/instances/vms/{VM_ID}").respond(200, json=instance("vm", name="train-02"))
    services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(put.calls.last.request.content) == {"name": "train-02"}
    deployment.refresh_from_db()
    assert (deployment.name, deployment.connection["SSH"]) == ("train-02", "ssh ubuntu@216.81.248.90")


def test_fluence_logs_and_events_of_a_container(logged_in, fluence_account, api):
    deployment = fluence_deployment(fluence_account, raw=instance())
    logs = api.get(f"/gpu/instances/{CONTAINER_ID}/logs").respond(
        200, json=["[service-1-b4fcd99f7-f5xr5] Server listening on 0.0.0.0 port 22."]
    )
    api.get(f"/gpu/instances/{CONTAINER_ID}/events").respond(
        200,
        json=['[pod]: [Normal] [Pulled] Container image "docker.io/fluencelabs/debian-ssh-root:11" already present'],
    )
    services.deployment_fetch_logs(deployment_id=deployment.pk)
    assert "last" in logs.calls.last.request.url.params
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert snapshot.error == ""
    assert snapshot.lines == ["[service-1-b4fcd99f7-f5xr5] Server listening on 0.0.0.0 port 22."]
    assert len(snapshot.events) == 1
    assert "already present" in snapshot.events[0]["message"]
    content = logged_in.get(reverse("deployments:logs", args=[deployment.pk])).content.decode()
    assert "Server listening on 0.0.0.0 port 22." in content


def test_fluence_vm_has_no_logs_and_says_so_without_asking(fluence_account, api):
    deployment = fluence_deployment(fluence_account, VM_SPEC, external_id=f"vms/{VM_ID}", raw=instance("vm"))
    services.deployment_fetch_logs(deployment_id=deployment.pk)
    assert not api.calls  # Fluence has no VM logs route: nothing is sent
    assert LogSnapshot.objects.get(deployment=deployment).error == "Fluence offers no logs for this deployment."
