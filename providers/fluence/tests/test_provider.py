"""The Fluence adapter against respx: each call's request and parsed result, the
lifecycle, and the account.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import get_provider_class
from providers.base import (
    Action,
    AuthError,
    NotFound,
    Rejected,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
)
from providers.fluence import FluenceProvider
from providers.fluence.bodies import container_update_body
from providers.fluence.mapping import MASK
from providers.fluence.tests.helpers import (
    BAREMETAL,
    BASE,
    BM_ID,
    CONTAINER_ID,
    CONTAINERS,
    KEY,
    NEW_ID,
    SEED_CONTAINER,
    SEED_CURL,
    SEED_VM,
    SSH,
    VM_ID,
    VMS,
    assert_sent,
    fixture,
    sent_json,
    spec,
)

# --- registry and interface ------------------------------------------------------------------------


def test_fluence_is_registered_with_its_real_base_url_and_actions():
    cls = get_provider_class("fluence")
    assert cls is FluenceProvider
    assert cls.default_base_url == "https://api.fluence.dev"
    assert cls.sandbox_path == "/fluence"
    assert cls.unique_names is False
    # No start, stop or scale at Fluence: the page must not offer them.
    assert cls.actions == {Action.UPDATE, Action.RESTART, Action.DELETE, Action.LOGS, Action.EVENTS}


def test_fluence_repr_and_errors_never_show_the_key(respx_mock, fluence):
    respx_mock.get(CONTAINERS).respond(401, json={"detail": f"Invalid API key {KEY}"})
    assert KEY not in repr(fluence)
    with pytest.raises(AuthError) as caught:
        fluence.list_remotes()
    assert KEY not in caught.value.message
    assert KEY not in json.dumps(caught.value.body)


# --- lifecycle: the request sent and the Remote parsed ---------------------------------------------------------


def test_create_container_posts_the_body_without_kind(respx_mock, fluence):
    route = respx_mock.post(CONTAINERS).respond(200, json=fixture("create"))
    remote = fluence.create(SEED_CONTAINER)
    request = assert_sent(route, "POST", "/gpu/instances/")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == {k: v for k, v in SEED_CONTAINER.items() if k != "kind"}
    assert remote.external_id == NEW_ID
    assert remote.name == "my-gpu-container"
    assert remote.state is RemoteState.PROVISIONING
    assert remote.raw == {"instance_id": NEW_ID, "kind": "container"}


@pytest.mark.parametrize(("kind", "url", "prefix"), [("vm", VMS, "vms/"), ("baremetal", BAREMETAL, "baremetal/")])
def test_create_vm_and_bare_metal_post_to_their_paths(respx_mock, fluence, kind, url, prefix):
    route = respx_mock.post(url).respond(201, json=fixture("create"))
    remote = fluence.create(spec(SEED_VM, kind=kind))
    assert_sent(route, "POST", url.removeprefix(BASE))
    assert sent_json(route) == {k: v for k, v in SEED_VM.items() if k != "kind"}
    assert remote.external_id == f"{prefix}{NEW_ID}"


def test_create_checks_the_spec_before_sending(respx_mock, fluence):
    route = respx_mock.post(CONTAINERS).respond(200, json=fixture("create"))
    with pytest.raises(SpecError):
        fluence.create(spec(name="Bad Name"))
    assert not route.called


@pytest.mark.parametrize("failure", [httpx.Response(503, json=fixture("error_server")), httpx.ReadTimeout("slow")])
def test_create_is_never_retried(respx_mock, fluence, failure, sleeps):
    route = respx_mock.post(CONTAINERS).mock(side_effect=[failure, httpx.Response(200, json=fixture("create"))])
    with pytest.raises(Transient):
        fluence.create(SEED_CONTAINER)
    assert route.call_count == 1
    assert sleeps == []


def test_create_without_an_instance_id_is_left_to_reconciliation(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(200, json={})
    with pytest.raises(Transient, match="no instance id"):
        fluence.create(SEED_CONTAINER)


def test_get_container_parses_connection_price_and_masks_secrets(respx_mock, fluence):
    route = respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_active"))
    remote = fluence.get(CONTAINER_ID)
    assert_sent(route, "GET", f"/gpu/instances/{CONTAINER_ID}")
    assert remote.external_id == CONTAINER_ID
    assert remote.name == "fuchsia-hawk-4706"
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "ACTIVE")
    assert remote.price_per_hour == Decimal("1.22")
    assert remote.created_at == dt.datetime(2026, 2, 7, 14, 42, 29, 472381, tzinfo=dt.UTC)
    assert remote.connection == {
        "SSH": "ssh -p 32345 root@provider.a100.pub",
        "HTTP": "https://b54672e2.provider.a100.pub",
    }
    assert remote.primary_url == "https://b54672e2.provider.a100.pub"
    assert [(e.host, e.port, e.protocol) for e in remote.endpoints if e.host] == [
        ("provider.a100.pub", 32345, "tcp"),
        ("provider.a100.pub", 32346, "http"),
    ]
    env = {e["name"]: e["value"] for e in remote.raw["container_info"]["environment"]}
    assert env == {"SSH_PUBKEY": MASK, "HF_TOKEN": MASK, "MODEL_PATH": "/models/llama"}
    assert remote.raw["container_info"]["credentials"]["password"] == MASK
    assert "ghp_registry_secret" not in json.dumps(remote.raw)
    assert remote.raw["kind"] == "container"


def test_get_vm_uses_its_path_and_ssh_connection(respx_mock, fluence):
    route = respx_mock.get(f"{VMS}/{VM_ID}").respond(200, json=fixture("vm_active"))
    remote = fluence.get(f"vms/{VM_ID}")
    assert_sent(route, "GET", f"/gpu/instances/vms/{VM_ID}")
    assert remote.external_id == f"vms/{VM_ID}"
    assert remote.state is RemoteState.RUNNING
    assert remote.connection == {"SSH": "ssh ubuntu@216.81.248.90"}
    assert [(e.host, e.port) for e in remote.endpoints] == [("216.81.248.90", 22)]
    assert remote.price_per_hour == Decimal("1.07")


def test_get_bare_metal_uses_its_path(respx_mock, fluence):
    item = {**fixture("vm_active"), "id": BM_ID, "availability": "baremetal", "status": "INITIALIZED"}
    item.update(ssh_connection=None, network=None)
    route = respx_mock.get(f"{BAREMETAL}/{BM_ID}").respond(200, json=item)
    remote = fluence.get(f"baremetal/{BM_ID}")
    assert_sent(route, "GET", f"/gpu/instances/baremetal/{BM_ID}")
    assert (remote.external_id, remote.state) == (f"baremetal/{BM_ID}", RemoteState.PROVISIONING)
    assert remote.connection == {}


def test_list_merges_the_three_families_and_reads_details_of_active_ones(respx_mock, fluence):
    lists = [
        respx_mock.get(CONTAINERS).respond(200, json=fixture("instances_containers")),
        respx_mock.get(VMS).respond(200, json=fixture("instances_vms")),
        respx_mock.get(BAREMETAL).respond(200, json=fixture("instances_baremetal")),
    ]
    container = respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_active"))
    vm = respx_mock.get(f"{VMS}/{VM_ID}").respond(200, json=fixture("vm_active"))
    remotes = {r.external_id: r for r in fluence.list_remotes()}
    assert all(route.call_count == 1 for route in [*lists, container, vm])
    assert len(respx_mock.calls) == 5  # no detail call for INITIALIZED, ENDED or FAILED ones
    assert {k: r.state for k, r in remotes.items()} == {
        CONTAINER_ID: RemoteState.RUNNING,
        NEW_ID: RemoteState.PROVISIONING,
        "0d9c8b7a-6f5e-4d3c-2b1a-098765432100": RemoteState.DELETED,  # ENDED stays listed
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d": RemoteState.FAILED,
        f"vms/{VM_ID}": RemoteState.RUNNING,
        f"baremetal/{BM_ID}": RemoteState.PROVISIONING,
    }
    assert remotes[CONTAINER_ID].connection["SSH"] == "ssh -p 32345 root@provider.a100.pub"
    assert remotes["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"].price_per_hour == Decimal("0")
    assert remotes[NEW_ID].price_per_hour is None  # unknown: the panel keeps what it had


def test_list_keeps_an_instance_that_ended_between_the_two_calls(respx_mock, fluence):
    respx_mock.get(CONTAINERS).respond(200, json=fixture("instances_containers")[:1])
    respx_mock.get(VMS).respond(200, json=[])
    respx_mock.get(BAREMETAL).respond(200, json=[])
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(404, json=fixture("error_not_found"))
    [remote] = fluence.list_remotes()
    assert (remote.external_id, remote.state) == (CONTAINER_ID, RemoteState.RUNNING)


def test_list_fails_whole_when_a_family_fails(respx_mock, fluence):
    # A partial list would make the panel mark the missing family's deployments lost.
    respx_mock.get(CONTAINERS).respond(200, json=[])
    respx_mock.get(VMS).respond(403, json=fixture("error_forbidden"))
    with pytest.raises(AuthError):
        fluence.list_remotes()


def test_find_by_name_takes_the_newest_instance_that_has_not_ended(respx_mock, fluence):
    respx_mock.get(CONTAINERS).respond(200, json=fixture("instances_containers"))
    respx_mock.get(VMS).respond(200, json=fixture("instances_vms"))
    respx_mock.get(BAREMETAL).respond(200, json=fixture("instances_baremetal"))
    detail = {**fixture("container_not_started"), "instance_status": "INITIALIZED", "container_status": None}
    route = respx_mock.get(f"{CONTAINERS}{NEW_ID}").respond(200, json=detail)
    found = fluence.find_by_name("llama-serve-01")
    assert route.called
    assert found is not None
    assert found.external_id == NEW_ID
    assert found.created_at == dt.datetime(2026, 2, 7, 15, 2, tzinfo=dt.UTC)


def test_find_by_name_finds_vms_too_and_nothing_for_a_stranger(respx_mock, fluence):
    respx_mock.get(CONTAINERS).respond(200, json=[])
    respx_mock.get(VMS).respond(200, json=fixture("instances_vms"))
    respx_mock.get(BAREMETAL).respond(200, json=[])
    respx_mock.get(f"{VMS}/{VM_ID}").respond(200, json=fixture("vm_active"))
    assert fluence.find_by_name("train-a100-01").external_id == f"vms/{VM_ID}"
    assert fluence.find_by_name("nobody") is None


def updated_container() -> dict[str, Any]:
    return spec(
        container_settings__image="docker.io/fluencelabs/debian-ssh-root:12",
        container_settings__environment=[{"name": "MODEL_PATH", "value": "/models/mistral"}],
        container_settings__credentials={"host": "docker.io", "username": "acme", "password": "dckr_pat_x"},
        name="my-gpu-container-2",
    )


def test_update_container_puts_a_full_replacement_without_expose(respx_mock, fluence):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_not_started"))
    remote = fluence.update(CONTAINER_ID, updated_container(), SEED_CONTAINER)
    assert_sent(put, "PUT", f"/gpu/instances/{CONTAINER_ID}")
    assert sent_json(put) == {
        "name": "my-gpu-container-2",
        "container_settings": {
            "image": "docker.io/fluencelabs/debian-ssh-root:12",
            "environment": [{"name": "MODEL_PATH", "value": "/models/mistral"}],
            "startup_command": "python3 serve.py --port 8000",
            "credentials": {"host": "docker.io", "username": "acme", "password": "dckr_pat_x"},
        },
        "ssh_key": SSH,
    }
    assert remote is not None
    assert remote.state is RemoteState.UPDATING


def test_update_container_sends_an_empty_environment_to_clear_it(respx_mock, fluence):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_active"))
    fluence.update(CONTAINER_ID, spec(SEED_CURL), SEED_CURL)
    assert sent_json(put)["container_settings"] == {
        "image": SEED_CURL["container_settings"]["image"],
        "environment": [],
    }


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"container_settings__expose": [{"port": "22", "protocol": "tcp"}]}, "container_settings.expose"),
        ({"plan_id": "36cdb646-1246-42d8-b2d1-9480ca546536"}, "plan_id"),
        ({"constraints": {"location": "DE"}}, "constraints.location"),
    ],
)
def test_update_container_refuses_what_fluence_keeps(respx_mock, fluence, change, path):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    with pytest.raises(SpecError) as caught:
        fluence.update(CONTAINER_ID, spec(**change), SEED_CONTAINER)
    assert list(caught.value.fields) == [path]
    assert not put.called


def test_update_accepts_the_same_ports_written_differently(respx_mock, fluence):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_active"))
    before = spec(SEED_CURL, container_settings__expose=[{"port": "80", "protocol": "HTTP"}, {"port": 22}])
    fluence.update(
        CONTAINER_ID, spec(SEED_CURL, constraints={"location": "us"}), {**before, "constraints": {"location": "US"}}
    )
    assert put.called


def test_update_vm_is_a_rename(respx_mock, fluence):
    put = respx_mock.put(f"{VMS}/{VM_ID}").respond(204)
    respx_mock.get(f"{VMS}/{VM_ID}").respond(200, json={**fixture("vm_active"), "name": "renamed-vm"})
    remote = fluence.update(f"vms/{VM_ID}", spec(SEED_VM, name="renamed-vm"), SEED_VM)
    assert_sent(put, "PUT", f"/gpu/instances/vms/{VM_ID}")
    assert sent_json(put) == {"name": "renamed-vm"}
    assert remote is not None
    assert remote.name == "renamed-vm"


@pytest.mark.parametrize("change", [{"os_image": "Ubuntu Server 24.04"}, {"ssh_key": "ssh-rsa AAAAB3 other@host"}])
def test_update_vm_refuses_anything_but_the_name(respx_mock, fluence, change):
    put = respx_mock.put(f"{BAREMETAL}/{BM_ID}").respond(204)
    base = spec(SEED_VM, kind="baremetal")
    with pytest.raises(SpecError) as caught:
        fluence.update(f"baremetal/{BM_ID}", spec(base, **change), base)
    assert "only rename" in str(caught.value.fields)
    assert not put.called


def test_update_refuses_another_kind(respx_mock, fluence):
    with pytest.raises(SpecError) as caught:
        fluence.update(f"vms/{VM_ID}", SEED_CONTAINER, None)
    assert "kind" in caught.value.fields


def test_update_that_landed_is_not_resent_when_the_read_back_fails(respx_mock, fluence):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    get = respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(503, json=fixture("error_server"))
    assert fluence.update(CONTAINER_ID, SEED_CONTAINER, SEED_CONTAINER) is None
    assert put.call_count == 1
    assert get.call_count == 3  # the GET itself is retried


def test_update_while_one_applies_is_refused_in_fluences_words(respx_mock, fluence):
    respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(400, json=fixture("error_update_in_progress"))
    with pytest.raises(Rejected, match="already in progress"):
        fluence.update(CONTAINER_ID, SEED_CONTAINER, SEED_CONTAINER)


def test_restart_container_redeploys_its_current_config(respx_mock, fluence):
    put = respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(204)
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=fixture("container_not_started"))
    remote = fluence.restart(CONTAINER_ID, SEED_CONTAINER)
    assert sent_json(put) == container_update_body(SEED_CONTAINER)
    assert "expose" not in sent_json(put)["container_settings"]
    assert remote is not None
    assert remote.state is RemoteState.UPDATING


@pytest.mark.parametrize("external_id", [f"vms/{VM_ID}", f"baremetal/{BM_ID}"])
def test_restart_vm_is_unsupported(respx_mock, fluence, external_id):
    with pytest.raises(Unsupported, match="cannot restart"):
        fluence.restart(external_id, SEED_VM)
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("external_id", "url"),
    [
        (CONTAINER_ID, f"{CONTAINERS}{CONTAINER_ID}"),
        (f"vms/{VM_ID}", f"{VMS}/{VM_ID}"),
        (f"baremetal/{BM_ID}", f"{BAREMETAL}/{BM_ID}"),
    ],
)
def test_delete_terminates_at_the_kinds_path(respx_mock, fluence, external_id, url):
    route = respx_mock.delete(url).respond(204)
    assert fluence.delete(external_id) is None
    assert_sent(route, "DELETE", url.removeprefix(BASE))


def test_delete_of_an_instance_that_is_not_active_is_refused(respx_mock, fluence):
    respx_mock.delete(f"{CONTAINERS}{CONTAINER_ID}").respond(400, json=fixture("error_terminate_not_active"))
    provisioning = {**fixture("container_not_started"), "instance_status": "INITIALIZED"}
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(200, json=provisioning)
    with pytest.raises(Rejected, match="Only ACTIVE instances"):
        fluence.delete(CONTAINER_ID)


@pytest.mark.parametrize("status", ["FAILED", "ENDED"])
def test_delete_of_a_failed_or_ended_instance_reports_it_gone(respx_mock, fluence, status):
    url = f"{CONTAINERS}{CONTAINER_ID}"
    detail = {"detail": f"Only ACTIVE instances can be terminated; this instance is {status}"}
    delete = respx_mock.delete(url).respond(400, json=detail)
    get = respx_mock.get(url).respond(200, json={**fixture("container_active"), "instance_status": status})
    with pytest.raises(NotFound, match=f"Nothing to terminate: the instance is {status}"):
        fluence.delete(CONTAINER_ID)
    assert (delete.call_count, get.call_count) == (1, 1)


def test_logs_reads_the_last_lines(respx_mock, fluence):
    route = respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}/logs").respond(200, json=fixture("logs"))
    logs = fluence.logs(CONTAINER_ID)
    request = assert_sent(route, "GET", f"/gpu/instances/{CONTAINER_ID}/logs")
    assert request.url.params["last"] == "500"
    assert logs.lines == fixture("logs")
    assert logs.source == "container"
    fluence.logs(CONTAINER_ID, last=None)
    assert "last" not in route.calls.last.request.url.params


def test_events_are_parsed_into_vendor_events(respx_mock, fluence):
    route = respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}/events").respond(200, json=fixture("events"))
    events = fluence.events(CONTAINER_ID)
    assert route.calls.last.request.url.params["last"] == "200"
    assert [e.kind for e in events] == ["scheduled", "pulled", "started", "warning"]
    assert events[1].message.startswith("[pod]: [Normal] [Pulled] Container image")
    assert all(e.at is None for e in events)


@pytest.mark.parametrize("method", ["logs", "events"])
def test_logs_and_events_are_for_containers_only(respx_mock, fluence, method):
    with pytest.raises(Unsupported, match="containers only"):
        getattr(fluence, method)(f"vms/{VM_ID}")
    assert not respx_mock.calls


# --- account and catalog -------------------------------------------------------------------------------------


def test_verify_reads_the_balance_and_who_the_key_is(respx_mock, fluence):
    balances = respx_mock.get(f"{BASE}/v2/users/balances").respond(200, json=fixture("balances"))
    me = respx_mock.get(f"{BASE}/v1/users/me").respond(200, json=fixture("users_me"))
    info = fluence.verify()
    assert_sent(balances, "GET", "/v2/users/balances")
    assert_sent(me, "GET", "/v1/users/me")
    assert info.balance == Decimal("412.58")
    assert info.currency == "USDC"
    assert info.username == "ops@acme.example"
    assert info.summary == (
        "Key accepted for ops@acme.example; balance 412.58 USDC; permissions: gpu:read, gpu:write, billing:read."
    )


def test_verify_with_a_key_that_may_not_read_the_balance(respx_mock, fluence):
    respx_mock.get(f"{BASE}/v2/users/balances").respond(403, json=fixture("error_forbidden"))
    instances = respx_mock.get(CONTAINERS).respond(200, json=[])
    respx_mock.get(f"{BASE}/v1/users/me").respond(403, json=fixture("error_forbidden"))
    info = fluence.verify()
    assert instances.called
    assert info.balance is None
    assert info.summary == "Key accepted; this key may not read the balance."


def test_verify_fails_on_a_bad_key(respx_mock, fluence):
    respx_mock.get(f"{BASE}/v2/users/balances").respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError, match="Invalid API key"):
        fluence.verify()


def test_verify_does_not_fail_when_only_the_account_details_do(respx_mock, fluence):
    respx_mock.get(f"{BASE}/v2/users/balances").respond(200, json={"balance": 25})
    respx_mock.get(f"{BASE}/v1/users/me").respond(500, json=fixture("error_server"))
    info = fluence.verify()
    assert info.balance == Decimal("25")
    assert info.summary == "Key accepted; balance 25.00 USDC."


def test_account_metadata_lists_default_images_with_names_only(respx_mock, fluence):
    route = respx_mock.get(f"{BASE}/gpu/default-images/").respond(200, json=fixture("default_images"))
    metadata = fluence.account_metadata()
    assert_sent(route, "GET", "/gpu/default-images/")
    assert metadata["default_images"] == [
        {
            "slug": "debian-ssh-11",
            "name": "Debian SSH 11",
            "description": "",
            "image": "docker.io/fluencelabs/debian-ssh-root:11",
            "expose": [{"port": "22", "protocol": "tcp"}],
            "environment": [],
            "startup_command": "",
            "requires_ssh": True,
        },
        {
            "slug": "jupyter-pytorch",
            "name": "Jupyter + PyTorch",
            "description": "JupyterLab with CUDA PyTorch",
            "image": "docker.io/fluencelabs/jupyter-pytorch:2.4",
            "expose": [{"port": "8888", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
            "environment": ["JUPYTER_TOKEN"],
            "startup_command": "start-notebook.sh",
            "requires_ssh": False,
        },
    ]
    assert "change-me" not in json.dumps(metadata)


def test_listing_reads_the_three_families_alone_and_flags_active_containers(respx_mock, fluence):
    # VM and bare-metal rows carry status and domain; container rows no container_status.
    respx_mock.get(CONTAINERS).respond(200, json=fixture("instances_containers"))
    respx_mock.get(VMS).respond(200, json=fixture("instances_vms"))
    respx_mock.get(BAREMETAL).respond(200, json=fixture("instances_baremetal"))
    listing = fluence.listing()
    assert len(respx_mock.calls) == 3  # no per-row call
    assert listing.complete  # unpaged: every collection read is the whole account
    remotes = {r.external_id: r for r in listing.remotes}
    assert remotes[f"vms/{VM_ID}"].state == RemoteState.RUNNING
    assert not remotes[f"vms/{VM_ID}"].detail_needed
    assert remotes[CONTAINER_ID].detail_needed  # ACTIVE: started or not, only its detail says
    assert not remotes[NEW_ID].detail_needed  # INITIALIZED: the list says it
    assert remotes["0d9c8b7a-6f5e-4d3c-2b1a-098765432100"].state == RemoteState.DELETED
