"""Fluence's spec for an adoption, from its documented instance answers (the fixtures'
sources are named in test_mapping.py): a container's settings and location, a VM's OS
image and key; never the registry password; no plan, which no instance answer names."""

from __future__ import annotations

from providers.fluence.mapping import kind_from, spec_from_detail
from providers.testing import load_fixture


def test_fluence_spec_from_detail_of_a_container():
    item = load_fixture("fluence", "container_active")
    spec = spec_from_detail(item, kind_from(None, {**item, "kind": "container"}))
    assert spec["kind"] == "container"
    assert spec["name"] == "fuchsia-hawk-4706"
    assert spec["constraints"] == {"location": "US"}
    settings = spec["container_settings"]
    assert settings["image"] == "docker.io/fluencelabs/debian-ssh-root:11"
    assert settings["expose"] == [{"port": "22", "protocol": "tcp"}, {"port": "80", "protocol": "http"}]
    assert [e["name"] for e in settings["environment"]] == ["SSH_PUBKEY", "HF_TOKEN", "MODEL_PATH"]
    assert "credentials" not in settings
    assert "ghp_registry_secret" not in repr(spec)
    assert "plan_id" not in spec


def test_fluence_spec_from_detail_of_a_vm():
    item = load_fixture("fluence", "vm_active")
    spec = spec_from_detail(item, kind_from(None, item))
    assert spec == {
        "kind": "vm",
        "name": "train-a100-01",
        "os_image": "Ubuntu Server 22.04",
        "ssh_key": "ssh-ed25519 AAAAC3... ops@panel",
    }
