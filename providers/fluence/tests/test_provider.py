"""The Fluence adapter against respx: its rules (one test per rule), prices, the status
table (one test per row), the action gates, each call's request and parsed result, and
each error class. Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import get_provider_class
from providers.base import (
    Action,
    AuthError,
    NotFound,
    Offer,
    RateLimited,
    Rejected,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
)
from providers.fluence import (
    MASK,
    STATUS_TABLE,
    FluenceProvider,
    check_spec,
    container_offer,
    container_update_body,
    create_body,
    kind_of,
    machine_offers,
    normalise_gpu,
    parse_balance,
    parse_event,
    remote_state,
)
from providers.testing import load_fixture

BASE = "https://api.fluence.dev"
KEY = "fl-unit-test-key-0001"
CONTAINERS = f"{BASE}/gpu/instances/"
VMS = f"{BASE}/gpu/instances/vms"
BAREMETAL = f"{BASE}/gpu/instances/baremetal"
CONTAINER_ID = "b54672e2-0a8b-490f-81ee-7d5a868471fc"
NEW_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
VM_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
BM_ID = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"

# The seed's requests, verbatim, plus our "kind".
SEED_CONTAINER: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        "startup_command": "python3 serve.py --port 8000",
    },
    "constraints": {"location": "US"},
    "ssh_key": SSH,
}
SEED_CURL: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [{"port": "22", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
    },
    "ssh_key": SSH,
}
SEED_PRIVATE: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "private-model",
    "container_settings": {
        "image": "ghcr.io/myorg/private-model:v1",
        "expose": [{"port": "22", "protocol": "tcp"}, {"port": "8080", "protocol": "tcp"}],
        "credentials": {"host": "ghcr.io", "username": "myuser", "password": "ghp_xxxxxxxxxxxx"},
    },
}
SEED_VM: dict[str, Any] = {
    "kind": "vm",
    "plan_id": "e5f00ba8-268e-4279-9672-eabca860f19e",
    "name": "my-gpu-vm",
    "ssh_key": SSH,
    "os_image": "Ubuntu Server 22.04",
}


def fixture(name: str) -> Any:
    return load_fixture("fluence", name)


def spec(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` (the seed's container) with dotted-path changes."""
    out = copy.deepcopy(base or SEED_CONTAINER)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def errors_of(value: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as caught:
        check_spec(value, **kwargs)
    return caught.value.fields


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["X-API-KEY"] == KEY
    assert "Authorization" not in request.headers
    return request


def offers() -> list[Offer]:
    """The fixtures' catalog, as ``catalog()`` makes it."""
    out = [container_offer(p) for p in fixture("plans_containers")]
    out += machine_offers(fixture("plans_vms"), "vm") + machine_offers(fixture("plans_baremetal"), "baremetal")
    return [o for o in out if o is not None]


@pytest.fixture
def fluence() -> Iterator[FluenceProvider]:
    provider = FluenceProvider(api_key=KEY)
    yield provider
    provider.close()


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


@pytest.mark.parametrize(
    ("external_id", "expected"),
    [
        (CONTAINER_ID, ("container", CONTAINER_ID)),
        (f"vms/{VM_ID}", ("vm", VM_ID)),
        (f"baremetal/{BM_ID}", ("baremetal", BM_ID)),
    ],
)
def test_kind_of_reads_the_family_from_the_external_id(external_id, expected):
    assert kind_of(external_id) == expected


@pytest.mark.parametrize("external_id", ["", "vms/", "disks/abc", "vms/a/b"])
def test_kind_of_refuses_ids_that_are_not_fluence_ones(external_id):
    with pytest.raises(NotFound):
        kind_of(external_id)


# --- the seed's examples, as written -------------------------------------------------------------------


@pytest.mark.parametrize(
    "example", [SEED_CONTAINER, SEED_CURL, SEED_PRIVATE, SEED_VM], ids=["full", "curl", "private", "vm"]
)
def test_check_spec_accepts_the_seed_examples_verbatim(example):
    checked = check_spec(example)
    assert checked == example  # nothing added, nothing dropped


def test_check_spec_accepts_the_seed_vm_body_for_bare_metal_too():
    assert check_spec(spec(SEED_VM, kind="baremetal"))["kind"] == "baremetal"


def test_create_body_drops_kind_and_nothing_else():
    kind, body = create_body(SEED_CONTAINER)
    assert kind == "container"
    assert body == {k: v for k, v in SEED_CONTAINER.items() if k != "kind"}


# --- normalisation -------------------------------------------------------------------------------------


def test_check_spec_sends_ports_as_strings_and_defaults_the_protocol():
    checked = check_spec(spec(container_settings__expose=[{"port": 22}, {"port": "8000", "protocol": "UDP"}]))
    assert checked["container_settings"]["expose"] == [
        {"port": "22", "protocol": "tcp"},
        {"port": "8000", "protocol": "udp"},
    ]


def test_check_spec_expands_a_port_range():
    checked = check_spec(spec(container_settings__expose=[{"port": "22"}, {"port": "5000-5002", "protocol": "udp"}]))
    assert [e["port"] for e in checked["container_settings"]["expose"]] == ["22", "5000", "5001", "5002"]


def test_check_spec_leaves_out_empty_optional_keys():
    value = spec(
        container_settings__environment=[],
        container_settings__startup_command="",
        container_settings__credentials={"host": "", "username": "", "password": ""},
        constraints={"location": ""},
        ssh_key="",
    )
    checked = check_spec(value)
    assert set(checked) == {"kind", "name", "plan_id", "container_settings"}
    assert set(checked["container_settings"]) == {"image", "expose"}


def test_check_spec_upper_cases_the_location_and_strips_the_key():
    checked = check_spec(spec(constraints={"location": "us"}, ssh_key=f"  {SSH}\n"))
    assert checked["constraints"] == {"location": "US"}
    assert checked["ssh_key"] == SSH


def test_check_spec_drops_container_keys_from_a_vm():
    checked = check_spec({**SEED_VM, "container_settings": {"image": "x"}, "constraints": {"location": "US"}})
    assert set(checked) == {"kind", "name", "plan_id", "ssh_key", "os_image"}


# --- one test per rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [None, "", "gpu", "VM"])
def test_rule_kind_must_be_one_of_the_three(kind):
    assert "kind" in errors_of(spec(kind=kind))


@pytest.mark.parametrize("name", ["", "My-App", "-app", "app-", "my_app", "a" * 26, "my app", 7])
def test_rule_name_is_1_to_25_lowercase_digits_hyphens_not_at_the_ends(name):
    assert list(errors_of(spec(name=name))) == ["name"]


@pytest.mark.parametrize("name", ["a", "a" * 25, "llama-serve-01", "0-9"])
def test_rule_name_accepts_the_edges(name):
    assert check_spec(spec(name=name))["name"] == name


@pytest.mark.parametrize("plan_id", ["", None, "two words"])
def test_rule_plan_id_is_required(plan_id):
    assert list(errors_of(spec(plan_id=plan_id))) == ["plan_id"]


def test_rule_container_settings_are_required():
    value = spec()
    del value["container_settings"]
    fields = errors_of(value)
    assert "container_settings" in fields
    assert "container_settings.image" in fields


@pytest.mark.parametrize(
    ("image", "words"),
    [
        ("", "required"),
        ("docker.io/FluenceLabs/app:1", "lower case"),
        ("docker.io/app:1 --privileged", "no spaces"),
        ("a" * 256, "255"),
    ],
)
def test_rule_image_is_lower_case_and_at_most_255(image, words):
    fields = errors_of(spec(container_settings__image=image))
    assert words in fields["container_settings.image"][0]


def test_rule_image_of_255_characters_is_accepted():
    image = "docker.io/" + "a" * 245
    assert check_spec(spec(container_settings__image=image))["container_settings"]["image"] == image


def test_rule_expose_needs_at_least_one_port():
    assert "container_settings.expose" in errors_of(spec(container_settings__expose=[]))


def test_rule_expose_takes_at_most_ten_ports():
    ports = [{"port": str(1000 + i), "protocol": "tcp"} for i in range(11)]
    fields = errors_of(spec(container_settings__expose=ports))
    assert fields == {"container_settings.expose": ["At most 10 ports (a range counts each of its ports)."]}
    assert check_spec(spec(container_settings__expose=ports[:10]))


def test_rule_a_port_range_counts_against_the_ten_port_cap():
    fields = errors_of(spec(container_settings__expose=[{"port": "22"}, {"port": "5000-5009"}]))
    assert "container_settings.expose" in fields


@pytest.mark.parametrize("port", ["0", "65536", "999999999", "http", "", -1, True])
def test_rule_port_is_between_1_and_65535(port):
    fields = errors_of(spec(container_settings__expose=[{"port": "22"}, {"port": port, "protocol": "tcp"}]))
    assert list(fields) == ["container_settings.expose.1.port"]


@pytest.mark.parametrize("ports", ["6000-5000", "0-10", "65000-65536"])
def test_rule_a_port_range_runs_low_to_high_within_bounds(ports):
    assert "container_settings.expose.0.port" in errors_of(spec(container_settings__expose=[{"port": ports}]))


def test_rule_protocol_is_tcp_udp_or_http():
    fields = errors_of(spec(container_settings__expose=[{"port": "22", "protocol": "sctp"}]))
    assert fields == {"container_settings.expose.0.protocol": ["Choose one of: tcp, udp, http."]}


@pytest.mark.parametrize("expose", [{"port": "8080", "protocol": "http"}, {"port": "80-81", "protocol": "http"}])
def test_rule_only_port_80_may_use_http(expose):
    fields = errors_of(spec(container_settings__expose=[expose]))
    assert fields["container_settings.expose.0.protocol"] == ["Only port 80 may use http; use tcp or udp."]


def test_rule_a_port_and_protocol_are_listed_once():
    fields = errors_of(spec(container_settings__expose=[{"port": "22"}, {"port": 22, "protocol": "tcp"}]))
    assert list(fields) == ["container_settings.expose.1.port"]
    # The same port over tcp and udp is two different things.
    assert check_spec(spec(container_settings__expose=[{"port": "53"}, {"port": "53", "protocol": "udp"}]))


def test_rule_at_most_64_environment_variables():
    env = [{"name": f"VAR_{i}", "value": "x"} for i in range(65)]
    assert "container_settings.environment" in errors_of(spec(container_settings__environment=env))
    assert check_spec(spec(container_settings__environment=env[:64]))


@pytest.mark.parametrize("name", ["model_path", "1VAR", "_VAR", "MY-VAR", ""])
def test_rule_environment_names_are_upper_case_starting_with_a_letter(name):
    env = [{"name": "OK", "value": "1"}, {"name": name, "value": "x"}]
    assert list(errors_of(spec(container_settings__environment=env))) == ["container_settings.environment.1.name"]


def test_rule_ssh_pubkey_is_reserved():
    env = [{"name": "SSH_PUBKEY", "value": SSH}]
    fields = errors_of(spec(container_settings__environment=env))
    assert "reserved" in fields["container_settings.environment.0.name"][0]


def test_rule_environment_names_are_defined_once():
    env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    assert list(errors_of(spec(container_settings__environment=env))) == ["container_settings.environment.1.name"]


def test_rule_environment_values_are_text():
    env = [{"name": "A", "value": 5}]
    assert list(errors_of(spec(container_settings__environment=env))) == ["container_settings.environment.0.value"]


def test_rule_startup_command_is_at_most_2048_characters():
    assert "container_settings.startup_command" in errors_of(spec(container_settings__startup_command="x" * 2049))
    assert check_spec(spec(container_settings__startup_command="x" * 2048))


def test_rule_registry_host_is_docker_io_or_ghcr_io():
    creds = {"host": "quay.io", "username": "u", "password": "p"}
    fields = errors_of(spec(container_settings__credentials=creds))
    assert fields == {
        "container_settings.credentials.host": ["Fluence pulls private images only from docker.io or ghcr.io."]
    }


@pytest.mark.parametrize("missing", ["host", "username", "password"])
def test_rule_registry_credentials_go_together(missing):
    creds = {"host": "docker.io", "username": "u", "password": "p", missing: ""}
    assert list(errors_of(spec(container_settings__credentials=creds))) == [f"container_settings.credentials.{missing}"]


@pytest.mark.parametrize("location", ["USA", "1", "U"])
def test_rule_location_is_a_two_letter_country_code(location):
    assert list(errors_of(spec(constraints={"location": location}))) == ["constraints.location"]


def test_rule_location_is_one_of_the_plans_locations():
    fields = errors_of(spec(constraints={"location": "FI"}), offers=offers())
    assert fields == {"constraints.location": ["This plan runs in: US, DE."]}
    assert check_spec(spec(constraints={"location": "DE"}), offers=offers())


@pytest.mark.parametrize(
    "key", ["-----BEGIN OPENSSH PRIVATE KEY-----", "AAAAC3NzaC1lZDI1NTE5", f"{SSH}\n{SSH}", "ssh-ed25519"]
)
def test_rule_ssh_key_is_one_public_key_line(key):
    assert list(errors_of(spec(ssh_key=key))) == ["ssh_key"]


@pytest.mark.parametrize(
    "key",
    [
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNh ops@panel",
        "sk-ssh-ed25519@openssh.com AAAAGnNr",
    ],
)
def test_rule_ssh_key_accepts_the_usual_key_types(key):
    assert check_spec(spec(ssh_key=key))["ssh_key"] == key


def test_rule_ssh_key_is_optional_for_a_container():
    value = spec()
    del value["ssh_key"]
    assert "ssh_key" not in check_spec(value)


def test_rule_ssh_key_is_required_by_a_default_image_that_says_so():
    images = fixture("default_images")
    value = spec()
    del value["ssh_key"]
    assert list(errors_of(value, images=images)) == ["ssh_key"]
    jupyter = spec(container_settings__image="docker.io/fluencelabs/jupyter-pytorch:2.4")
    del jupyter["ssh_key"]
    assert check_spec(jupyter, images=images)


@pytest.mark.parametrize("kind", ["vm", "baremetal"])
def test_rule_ssh_key_is_required_for_vms_and_bare_metal(kind):
    assert list(errors_of(spec(SEED_VM, kind=kind, ssh_key=""))) == ["ssh_key"]


@pytest.mark.parametrize("os_image", ["", None, "x" * 201])
def test_rule_os_image_is_required_for_vms(os_image):
    assert list(errors_of(spec(SEED_VM, os_image=os_image))) == ["os_image"]


def test_rule_os_image_is_one_of_the_options_os_options():
    fields = errors_of(spec(SEED_VM, os_image="Windows 11"), offers=offers())
    assert fields == {"os_image": ["This option offers: Ubuntu Server 22.04, Ubuntu Server 24.04."]}
    assert check_spec(spec(SEED_VM, os_image="Ubuntu Server 24.04"), offers=offers())


def test_rule_plan_is_one_of_this_kinds_offers():
    # The seed's VM option id is not a bare-metal option.
    fields = errors_of(spec(SEED_VM, kind="baremetal"), offers=offers())
    assert fields == {"plan_id": ["This plan is no longer offered; choose another."]}


def test_check_spec_reports_every_problem_at_once():
    value = spec(name="Bad", container_settings__image="UP", constraints={"location": "usa"})
    assert set(errors_of(value)) == {"name", "container_settings.image", "constraints.location"}


def test_validate_spec_is_check_spec():
    assert FluenceProvider.validate_spec(SEED_VM) == check_spec(SEED_VM)
    with pytest.raises(SpecError):
        FluenceProvider.validate_spec(spec(name="Bad"))


# --- prices and money before it is spent ------------------------------------------------------------------


def test_estimate_price_is_the_plans_hourly_price():
    assert FluenceProvider.estimate_price(SEED_CONTAINER, offers()) == Decimal("2.44")
    assert FluenceProvider.estimate_price(SEED_VM, offers()) == Decimal("1.25")
    assert FluenceProvider.estimate_price(spec(plan_id="unknown"), offers()) is None
    assert FluenceProvider.estimate_price(SEED_CONTAINER, []) is None


def test_upfront_charges_name_the_three_hours_of_rent():
    [charge] = FluenceProvider.upfront_charges(SEED_CONTAINER, offers())
    assert charge.amount == Decimal("7.32")
    assert charge.currency == "USDC"
    assert "3 hours of rent" in charge.description
    assert "1 h charged now, 2 h held as reserve" in charge.description
    assert "refunded on terminate" in charge.description


def test_upfront_charges_follow_the_plans_upfront_hours():
    plan = next(o for o in offers() if o.sku == SEED_VM["plan_id"])
    longer = Offer(**{**plan.__dict__, "extra": {**plan.extra, "upfront_hours": 5}})
    [charge] = FluenceProvider.upfront_charges(SEED_VM, [longer])
    assert charge.amount == Decimal("6.25")
    assert "5 hours" in charge.description
    assert "4 h held as reserve" in charge.description


def test_upfront_charges_write_a_stored_price_plainly():
    plan = next(o for o in offers() if o.sku == SEED_VM["plan_id"])
    stored = Offer(**{**plan.__dict__, "price_per_hour": Decimal("1.2500")})  # a DecimalField's 4 places
    [charge] = FluenceProvider.upfront_charges(SEED_VM, [stored])
    assert charge.description.startswith("3 hours of rent at 1.25 USDC/hour")
    finer = Offer(**{**plan.__dict__, "price_per_hour": Decimal("1.2375")})
    assert "at 1.2375 USDC/hour" in FluenceProvider.upfront_charges(SEED_VM, [finer])[0].description


def test_upfront_charges_are_unknown_without_the_plan():
    assert FluenceProvider.upfront_charges(SEED_CONTAINER, []) == []


# --- the status table: one test per row ---------------------------------------------------------------------


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()))
def test_status_table_row(status, state):
    item = {"id": "x", "instance_status": status}
    assert remote_state(item, "container", detailed=False)[0] is state


def test_status_table_has_every_documented_status():
    assert set(STATUS_TABLE) == {"INITIALIZED", "INITIATED", "ACTIVE", "FAILED", "ENDED"}


@pytest.mark.parametrize("status", ["Initiated", "initialized", "Active", "ended"])
def test_status_is_matched_in_any_case(status):
    assert remote_state({"status": status}, "vm", detailed=False)[0] is STATUS_TABLE[status.upper()]


def test_status_active_with_the_container_started_is_running():
    assert remote_state(fixture("container_active"), "container") == (RemoteState.RUNNING, "")


def test_status_active_with_the_container_not_started_is_updating():
    item = fixture("container_not_started")
    now = dt.datetime(2026, 2, 7, 15, 5, tzinfo=dt.UTC)
    state, message = remote_state(item, "container", now=now)
    assert state is RemoteState.UPDATING
    assert "starting" in message


def test_status_not_started_for_long_points_at_the_events():
    now = dt.datetime(2026, 2, 7, 16, 0, tzinfo=dt.UTC)
    state, message = remote_state(fixture("container_not_started"), "container", now=now)
    assert state is RemoteState.UPDATING
    assert "may have failed to start" in message
    assert "events" in message


def test_status_active_without_a_network_is_not_running_yet():
    item = {**fixture("container_active"), "network": None, "domain": None}
    assert remote_state(item, "container")[0] is RemoteState.UPDATING


def test_status_active_vm_with_its_ssh_connection_is_running():
    assert remote_state(fixture("vm_active"), "vm")[0] is RemoteState.RUNNING


def test_status_unknown_is_logged_and_unknown(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.fluence"):
        state, message = remote_state({"id": "x", "instance_status": "PAUSED"}, "container")
    assert state is RemoteState.UNKNOWN
    assert "PAUSED" in message
    assert "unknown instance status 'PAUSED'" in caplog.text


# --- action gates ------------------------------------------------------------------------------------------


def blocked(action: Action, raw: dict[str, Any], kind: str = "container") -> str:
    return FluenceProvider.action_blocked(action, spec={"kind": kind}, raw=raw, since=None)


def test_action_blocked_terminate_only_when_active():
    assert blocked(Action.DELETE, {"instance_status": "ACTIVE", "container_status": "STARTED"}) == ""
    assert "only ACTIVE" in blocked(Action.DELETE, {"instance_status": "INITIALIZED"})
    assert blocked(Action.DELETE, {"instance_status": "FAILED"}) == ""  # delete() lets it go
    assert "FAILED" in blocked(Action.UPDATE, {"instance_status": "FAILED"})
    assert "ENDED" in blocked(Action.DELETE, {"status": "ENDED"}, "vm")


def test_action_blocked_update_waits_for_a_running_container():
    assert "still starting" in blocked(Action.UPDATE, {"instance_status": "ACTIVE", "container_status": "NOT_STARTED"})
    assert "still starting" in blocked(Action.RESTART, {"instance_status": "ACTIVE", "container_status": "NOT_STARTED"})
    assert blocked(Action.UPDATE, {"instance_status": "ACTIVE", "container_status": "STARTED"}) == ""
    assert blocked(Action.UPDATE, {"status": "ACTIVE"}, "vm") == ""  # a rename


@pytest.mark.parametrize("kind", ["vm", "baremetal"])
def test_action_blocked_restart_logs_and_events_are_for_containers_only(kind):
    raw = {"status": "ACTIVE"}
    assert "reboot it from inside" in blocked(Action.RESTART, raw, kind)
    assert "containers only" in blocked(Action.LOGS, raw, kind)
    assert "containers only" in blocked(Action.EVENTS, raw, kind)
    assert blocked(Action.LOGS, {"instance_status": "INITIALIZED"}) == ""


@pytest.mark.parametrize("action", [Action.START, Action.STOP, Action.SCALE])
def test_action_blocked_says_fluence_has_no_start_stop_or_scale(action):
    assert "Fluence has no" in blocked(action, {"instance_status": "ACTIVE"})


def test_action_blocked_leaves_an_unread_instance_to_fluence():
    assert blocked(Action.DELETE, {"instance_id": NEW_ID, "kind": "container"}) == ""


def test_action_blocked_knows_the_kind_from_raw_when_the_spec_lacks_it():
    reason = FluenceProvider.action_blocked(Action.RESTART, spec={}, raw=fixture("vm_active"), since=None)
    assert "cannot restart" in reason


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


def test_parse_event_reads_a_leading_timestamp():
    event = parse_event("2026-02-07T14:42:31Z [pod]: [Normal] [Pulling] Pulling image")
    assert event.at == dt.datetime(2026, 2, 7, 14, 42, 31, tzinfo=dt.UTC)
    assert event.message == "[pod]: [Normal] [Pulling] Pulling image"
    assert event.kind == "pulling"
    assert parse_event("free text").kind == ""


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


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (12.5, (Decimal("12.5"), "USDC")),
        ({"balance": "7.10", "currency": "usd"}, (Decimal("7.10"), "USD")),
        ({"available": 3, "reserved": 9}, (Decimal("3"), "USDC")),
        ([{"currency": "ETH", "amount": 1}, {"currency": "USDC", "amount": 40}], (Decimal("40"), "USDC")),
        ({"balances": [{"asset": "USDC", "balance": {"available": "8.5"}}]}, (Decimal("8.5"), "USDC")),
        ({"USDC": "99.99"}, (Decimal("99.99"), "USDC")),
        (
            [
                {"balance": "1.00", "usage": "0.00", "featureKey": "storage"},
                {"balance": "987.50", "usage": "12.50", "featureKey": "gpu_cloud", "usageDaysLeft": 13},
            ],
            (Decimal("987.50"), "USDC"),
        ),
        ({"data": {"amount": 5}}, (Decimal("5"), "USDC")),
        ({"something": "else"}, (None, "USDC")),
        ([], (None, "USDC")),
        (None, (None, "USDC")),
    ],
)
def test_parse_balance_tolerates_the_shapes_it_may_have(data, expected):
    assert parse_balance(data) == expected


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


def mock_catalog(respx_mock) -> list[Any]:
    return [
        respx_mock.get(f"{BASE}/gpu/plans/").respond(200, json=fixture("plans_containers")),
        respx_mock.get(f"{BASE}/gpu/plans/vms").respond(200, json=fixture("plans_vms")),
        respx_mock.get(f"{BASE}/gpu/plans/baremetal").respond(200, json=fixture("plans_baremetal")),
    ]


def test_catalog_has_one_offer_per_container_plan(respx_mock, fluence):
    routes = mock_catalog(respx_mock)
    catalog = fluence.catalog()
    assert all(route.call_count == 1 for route in routes)
    containers = [o for o in catalog if o.kind == "container"]
    assert [o.sku for o in containers] == [
        "36cdb646-1246-42d8-b2d1-9480ca546536",
        "075e40d4-2766-4347-833b-205245fe3629",
        "b1f7a0d2-9c41-4e3f-8a55-0c2d6e7f8a90",
    ]
    a100 = containers[1]
    assert a100.name == "2× A100 80 GB PCIe · 32 vCPU · 256 GiB RAM · 500 GiB disk"
    assert (a100.gpu_model, a100.gpu_count, a100.gpu_memory_gb) == ("A100", 2, 80)
    assert a100.price_per_hour == Decimal("2.44")
    assert a100.price_per_gpu_hour == Decimal("1.22")
    assert a100.location == "US, DE"
    assert a100.extra == {
        "plan_name": "a100-80gi-pcie-2gpu-32cpu-256gi-500gi",
        "locations": ["US", "DE"],
        "upfront_hours": 3,
        "currency": "USDC",
        "vcpu": 32,
        "memory_gb": 256,
        "storage_gb": 500,
        "interface": "pcie",
    }
    assert containers[2].gpu_model == "RTX 4090"


def test_catalog_has_one_offer_per_vm_and_bare_metal_option(respx_mock, fluence):
    mock_catalog(respx_mock)
    catalog = fluence.catalog()
    vms = [o for o in catalog if o.kind == "vm"]
    metal = [o for o in catalog if o.kind == "baremetal"]
    assert [o.sku for o in vms] == [
        "d8312018-c50c-4278-89db-69e40013414d",
        "e5f00ba8-268e-4279-9672-eabca860f19e",
        "7a1c3e55-0b2d-4f6e-9a8b-1c2d3e4f5a6b",
    ]
    seed = vms[1]
    assert (seed.gpu_model, seed.gpu_count, seed.location, seed.price_per_hour) == (
        "A100",
        1,
        "tokyo-japan-2",
        Decimal("1.25"),
    )
    assert seed.extra["os_options"] == ["Ubuntu Server 22.04", "Ubuntu Server 24.04"]
    assert (seed.extra["provider"], seed.extra["nvlink"], seed.extra["location"]) == (
        "sesterce",
        False,
        "tokyo-japan-2",
    )
    assert (seed.extra["vcpu"], seed.extra["memory_gb"], seed.extra["storage_gb"]) == (16, 120, 700)
    assert vms[2].gpu_count == 8
    assert vms[2].extra["nvlink"] is True
    [bm] = metal
    assert (bm.sku, bm.gpu_model, bm.gpu_count, bm.location) == (
        "c0ffee00-1111-4222-8333-444455556666",
        "H100",
        8,
        "Texas",
    )
    assert bm.extra["deployment_type"] == "baremetal"
    assert "cudo" in bm.name


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("h200", "H200"),
        ("a100", "A100"),
        ("rtx4090", "RTX 4090"),
        ("rtx_4080_super", "RTX 4080 Super"),
        ("rtx-a6000", "RTX A6000"),
        ("rtx6000ada", "RTX 6000 Ada"),
        ("l40s", "L40S"),
    ],
)
def test_normalise_gpu(model, expected):
    assert normalise_gpu(model) == expected


# --- errors: each class ---------------------------------------------------------------------------------------


def test_422_detail_lands_on_spec_paths_in_fluences_words(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(422, json=fixture("error_validation"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_CONTAINER)
    assert caught.value.fields == {
        "container_settings.expose.0.port": ["Port must be between 1 and 65535"],
        "name": ["String should match pattern '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'"],
    }
    assert caught.value.status_code == 422


def test_400_insufficient_balance_is_a_refusal(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(400, json=fixture("error_insufficient_balance"))
    with pytest.raises(Rejected) as caught:
        fluence.create(SEED_CONTAINER)
    assert caught.value.message == "Insufficient balance to deploy instance"


def test_400_os_image_lands_on_os_image(respx_mock, fluence):
    respx_mock.post(VMS).respond(400, json=fixture("error_os_image"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_VM)
    assert list(caught.value.fields) == ["os_image"]
    assert "Available OS images: Ubuntu Server 22.04" in caught.value.fields["os_image"][0]


def test_400_plan_gone_lands_on_plan_id(respx_mock, fluence):
    respx_mock.post(CONTAINERS).respond(400, json=fixture("error_plan_gone"))
    with pytest.raises(SpecError) as caught:
        fluence.create(SEED_CONTAINER)
    assert list(caught.value.fields) == ["plan_id"]


def test_400_ssh_pubkey_lands_on_the_row_that_defined_it(fluence):
    # Our check refuses SSH_PUBKEY first; this is Fluence's answer if it ever got through.
    body = {"container_settings": {"environment": [{"name": "A", "value": "1"}, {"name": "SSH_PUBKEY", "value": "x"}]}}
    request = httpx.Request("POST", CONTAINERS, json=body)
    response = httpx.Response(400, json=fixture("error_ssh_pubkey"), request=request)
    error = fluence.parse_error(response)
    assert isinstance(error, SpecError)
    assert list(error.fields) == ["container_settings.environment.1.name"]


def test_400_location_lands_on_the_location(fluence):
    message = "Location FI is not available for the selected plan. Available locations: US, DE"
    error = fluence.parse_error(httpx.Response(400, json={"detail": message}))
    assert isinstance(error, SpecError)
    assert error.fields == {"constraints.location": [message]}


def test_400_without_a_field_is_a_refusal(fluence):
    response = httpx.Response(400, json={"detail": "Something is not possible right now"})
    error = fluence.parse_error(response)
    assert isinstance(error, Rejected)


@pytest.mark.parametrize(
    ("status", "name"), [(401, "error_unauthorized"), (403, "error_forbidden"), (400, "error_missing_key")]
)
def test_key_problems_are_auth_errors(respx_mock, fluence, status, name):
    respx_mock.get(CONTAINERS).respond(status, json=fixture(name))
    with pytest.raises(AuthError) as caught:
        fluence.list_remotes()
    assert caught.value.message == fixture(name)["detail"]


def test_account_route_errors_keep_their_words(respx_mock, fluence):
    # /v1 and /v2 answer {"code", "error"}, not FastAPI's {"detail"}.
    respx_mock.get(f"{BASE}/v2/users/balances").respond(401, json={"code": "unauthorized", "error": "Invalid API key"})
    with pytest.raises(AuthError, match="Invalid API key"):
        fluence.verify()


def test_404_is_not_found(respx_mock, fluence):
    respx_mock.get(f"{CONTAINERS}{CONTAINER_ID}").respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound, match="Instance not found"):
        fluence.get(CONTAINER_ID)


def test_409_is_a_refusal(respx_mock, fluence):
    respx_mock.put(f"{CONTAINERS}{CONTAINER_ID}").respond(409, json={"detail": "Update in flight"})
    with pytest.raises(Rejected, match="Update in flight"):
        fluence.restart(CONTAINER_ID, SEED_CONTAINER)


def test_429_is_rate_limited_with_retry_after(respx_mock, fluence, sleeps):
    respx_mock.get(CONTAINERS).respond(429, json={"detail": "Too many requests"}, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        fluence.list_remotes()
    assert caught.value.retry_after == 30
    assert sleeps == []  # longer than an inline wait: the task reschedules


def test_5xx_is_transient_after_the_get_is_retried(respx_mock, fluence, sleeps):
    route = respx_mock.get(CONTAINERS).respond(502, json=fixture("error_server"))
    with pytest.raises(Transient):
        fluence.list_remotes()
    assert route.call_count == 3
    assert len(sleeps) == 2


def test_a_timeout_is_transient(respx_mock, fluence):
    respx_mock.get(CONTAINERS).mock(side_effect=httpx.ConnectTimeout("no answer"))
    with pytest.raises(Transient, match="did not answer in time"):
        fluence.list_remotes()
