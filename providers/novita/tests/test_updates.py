"""Updating an instance: edit (ports, disk growth) and upgrade (image, env, command,
volumes), and what neither can change."""

from __future__ import annotations

import pytest

from providers.base import (
    RemoteState,
    SpecError,
)
from providers.novita.mapping import spec_from_instance
from providers.novita.tests.helpers import GPU, ID, NOTES_BODY, ONE, assert_sent, fixture, sent_json

# --- update: edit and upgrade ------------------------------------------------------------------------------

EDIT = f"{GPU}/gpu/instance/edit"


UPGRADE = f"{GPU}/gpu/instance/upgrade"


@pytest.fixture
def read_back(respx_mock, products):
    return respx_mock.get(ONE).respond(200, json=fixture("instance_running"))


def test_novita_update_ports_is_an_edit_with_the_tools_ports(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    remote = novita.update(ID, {**NOTES_BODY, "ports": "8000/http, 22/tcp, 6006/http"}, NOTES_BODY)
    assert_sent(edit, "POST", "/gpu-instance/openapi/v1/gpu/instance/edit")
    assert sent_json(edit) == {
        "instanceId": ID,
        "ports": [
            {"port": 8000, "type": "http"},
            {"port": 22, "type": "tcp"},
            {"port": 6006, "type": "http"},
            {"port": 8888, "type": "http"},
        ],
        "expandRootDisk": 0,
    }
    assert upgrade.call_count == 0
    assert remote is not None
    assert remote.external_id == ID


def test_novita_update_grows_the_root_disk_by_the_difference(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    novita.update(ID, {**NOTES_BODY, "rootfsSize": 250}, NOTES_BODY)
    assert sent_json(edit)["expandRootDisk"] == 150
    assert sent_json(edit)["ports"][:2] == [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}]


def test_novita_update_cannot_shrink_the_root_disk(respx_mock, novita):
    edit = respx_mock.post(EDIT).respond(200, json={})
    with pytest.raises(SpecError) as caught:
        novita.update(ID, {**NOTES_BODY, "rootfsSize": 50}, NOTES_BODY)
    assert caught.value.fields == {"rootfsSize": ["Novita can only grow the root disk: it has 100 GB now."]}
    assert edit.call_count == 0


def test_novita_update_image_env_command_is_a_full_upgrade(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {**NOTES_BODY, "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0", "command": "vllm serve meta-llama/Llama-3-8B"}
    novita.update(ID, new, NOTES_BODY)
    assert_sent(upgrade, "POST", "/gpu-instance/openapi/v1/gpu/instance/upgrade")
    assert sent_json(upgrade) == {
        "instanceId": ID,
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "imageAuthId": "",
        "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "command": "vllm serve meta-llama/Llama-3-8B",
        "entrypoint": "",
        "save": True,
        "networkVolume": {
            "volumeMounts": [{"type": "network", "id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPath": "/network"}]
        },
    }
    assert edit.call_count == 0


def test_novita_update_removing_every_volume_sends_an_empty_list(respx_mock, novita, read_back):
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {k: v for k, v in NOTES_BODY.items() if k != "networkStorages"}
    novita.update(ID, {**new, "imageAuthId": "ra-1"}, NOTES_BODY)
    assert sent_json(upgrade)["networkVolume"] == {"volumeMounts": []}
    assert sent_json(upgrade)["imageAuthId"] == "ra-1"


def test_novita_update_of_ports_and_env_sends_edit_then_upgrade(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {**NOTES_BODY, "ports": "8000/http", "envs": [{"key": "HF_TOKEN", "value": "hf_new"}]}
    novita.update(ID, new, NOTES_BODY)
    assert (edit.call_count, upgrade.call_count) == (1, 1)
    order = [c.request.url.path.rsplit("/", 1)[1] for c in respx_mock.calls if c.request.method == "POST"]
    assert order == ["edit", "upgrade"]


def test_novita_update_refuses_what_cannot_change(respx_mock, novita):
    route = respx_mock.post(url__startswith=f"{GPU}/gpu/instance/").respond(200, json={})
    new = {**NOTES_BODY, "productId": "4090.16c62g", "gpuNum": 2, "name": "renamed", "billingMode": "spot"}
    with pytest.raises(SpecError) as caught:
        novita.update(ID, new, NOTES_BODY)
    assert set(caught.value.fields) == {"productId", "gpuNum", "name", "billingMode"}
    assert caught.value.fields["gpuNum"] == [
        "Novita cannot change this on an existing instance: create a new one instead."
    ]
    assert route.call_count == 0


def test_novita_redeploy_is_an_upgrade_with_the_same_fields(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    remote = novita.redeploy(ID, NOTES_BODY)
    assert sent_json(upgrade)["imageUrl"] == NOTES_BODY["imageUrl"]
    assert sent_json(upgrade)["save"] is True  # the instance's data is kept
    assert edit.call_count == 0
    assert remote is not None


def test_novita_redeploy_cannot_carry_username_password(respx_mock, novita):
    route = respx_mock.post(UPGRADE).respond(200, json={})
    with pytest.raises(SpecError) as caught:
        novita.redeploy(ID, {**NOTES_BODY, "imageAuth": "bot:pw"})
    assert set(caught.value.fields) == {"imageAuth"}
    assert route.call_count == 0


def test_novita_update_cannot_carry_username_password(respx_mock, novita):
    route = respx_mock.post(UPGRADE).respond(200, json={})
    old = {**NOTES_BODY, "imageAuth": "bot:pw"}
    with pytest.raises(SpecError) as caught:
        novita.update(ID, {**old, "imageUrl": "ghcr.io/acme/app:2"}, old)
    assert set(caught.value.fields) == {"imageAuth"}
    assert route.call_count == 0


def test_novita_update_with_nothing_changed_sends_nothing(respx_mock, novita, read_back):
    route = respx_mock.post(url__startswith=f"{GPU}/gpu/instance/").respond(200, json={})
    same = {**NOTES_BODY, "ports": "22/tcp, 8000/HTTP", "month": None, "billingMode": None}
    remote = novita.update(ID, same, NOTES_BODY)
    assert route.call_count == 0
    assert remote is not None
    assert remote.state == RemoteState.RUNNING


def test_novita_update_without_a_previous_spec_reads_the_instance(respx_mock, novita, read_back):
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    current = spec_from_instance(fixture("instance_running"))
    novita.update(ID, {**current, "envs": []}, None)
    assert sent_json(upgrade)["envs"] == []
    assert read_back.call_count == 2  # the current state, then the answer
