"""Fluence's rules: the seed's examples accepted as written, the normalisation, and one test per rule.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import pytest

from providers.base import (
    SpecError,
    ValidationContext,
)
from providers.fluence import FluenceProvider
from providers.fluence.rules import check_spec
from providers.fluence.tests.helpers import (
    SEED_CONTAINER,
    SEED_CURL,
    SEED_PRIVATE,
    SEED_VM,
    SSH,
    errors_of,
    fixture,
    offers,
    spec,
)

# --- the seed's examples, as written -------------------------------------------------------------------


@pytest.mark.parametrize(
    "example", [SEED_CONTAINER, SEED_CURL, SEED_PRIVATE, SEED_VM], ids=["full", "curl", "private", "vm"]
)
def test_check_spec_accepts_the_seed_examples_verbatim(example):
    checked = check_spec(example)
    assert checked == example  # nothing added, nothing dropped


def test_check_spec_accepts_the_seed_vm_body_for_bare_metal_too():
    assert check_spec(spec(SEED_VM, kind="baremetal"))["kind"] == "baremetal"


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


def test_validate_is_check_spec():
    assert "validate_spec" not in vars(FluenceProvider)  # the deprecated hook is gone
    assert FluenceProvider.validate(SEED_VM) == check_spec(SEED_VM)
    with pytest.raises(SpecError):
        FluenceProvider.validate(spec(name="Bad"))


def test_validate_reads_the_catalog_from_the_context():
    context = ValidationContext(offers=tuple(offers()))
    with pytest.raises(SpecError) as caught:
        FluenceProvider.validate(spec(SEED_VM, kind="baremetal"), context)
    assert caught.value.fields == {"plan_id": ["This plan is no longer offered; choose another."]}
    assert FluenceProvider.validate(SEED_VM, context) == check_spec(SEED_VM, offers=offers())


def test_validate_reads_the_default_images_from_the_context_metadata():
    value = spec()
    del value["ssh_key"]
    assert FluenceProvider.validate(value)  # no metadata: the key stays optional
    context = ValidationContext(metadata={"default_images": fixture("default_images")})
    with pytest.raises(SpecError) as caught:
        FluenceProvider.validate(value, context)
    assert list(caught.value.fields) == ["ssh_key"]


def test_validate_of_an_update_refuses_what_fluence_keeps_as_deployed():
    context = ValidationContext(existing=True, previous=SEED_CONTAINER)
    assert FluenceProvider.validate(spec(name="renamed"), context)["name"] == "renamed"
    with pytest.raises(SpecError) as caught:
        FluenceProvider.validate(spec(constraints={"location": "DE"}), context)
    assert list(caught.value.fields) == ["constraints.location"]
