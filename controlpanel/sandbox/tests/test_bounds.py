"""The sandbox is bounded: it answers anyone who can reach the panel, so it is off unless
PANEL_SANDBOX turns it on, and a sandbox account holds a limited number of objects."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import clear_url_caches

import controlpanel.urls
from controlpanel.sandbox.models import SandboxFull, SandboxObject
from controlpanel.vendors.together import twin as together_twin


@pytest.fixture
def reload_urls():
    """The URLconf reads PANEL_SANDBOX once; load it again, then as it was."""
    was_on = django_settings.PANEL_SANDBOX
    yield
    with override_settings(PANEL_SANDBOX=was_on):
        clear_url_caches()
        importlib.reload(controlpanel.urls)


def test_sandbox_urls_are_absent_unless_panel_sandbox_is_on(client, db, settings, reload_urls):
    settings.PANEL_SANDBOX = False
    clear_url_caches()
    importlib.reload(controlpanel.urls)
    response = client.post(
        "/sandbox/novita/gpu-instance/openapi/v1/repository/auth/save",
        {"name": "x"},
        HTTP_AUTHORIZATION="Bearer sandbox-anything",
    )
    assert response.status_code == 404
    assert not SandboxObject.objects.exists()


def test_sandbox_urls_answer_when_panel_sandbox_is_on(client, db, settings):
    assert settings.PANEL_SANDBOX  # the test settings turn it on, as `make run` does
    response = client.get("/sandbox/together/v1/deployments", HTTP_AUTHORIZATION="Bearer sandbox-bounds")
    assert response.status_code == 200


def test_sandbox_account_refuses_objects_past_its_limit(db, settings):
    settings.SANDBOX_MAX_OBJECTS_PER_ACCOUNT = 2
    for n in range(2):
        SandboxObject.objects.create(vendor="together", account="a", kind="deployment", object_id=str(n))
    with pytest.raises(SandboxFull):
        SandboxObject.objects.get_or_create(vendor="together", account="a", kind="deployment", object_id="3")
    # Another account, or another vendor's account, has its own room.
    SandboxObject.objects.create(vendor="together", account="b", kind="deployment", object_id="1")
    SandboxObject.objects.create(vendor="novita", account="a", kind="instance", object_id="1")
    assert SandboxObject.objects.count() == 4


def test_sandbox_full_account_answers_409_in_words(client, db, settings):
    limit = len(together_twin.SEEDED_SECRETS) + len(together_twin.SEEDED_VOLUMES) + 2  # the seeds, two deployments
    settings.SANDBOX_MAX_OBJECTS_PER_ACCOUNT = limit
    auth = {"HTTP_AUTHORIZATION": "Bearer sandbox-full"}
    body = {"image": "registry.together.xyz/p/echo:1", "gpu_type": "h100-80gb", "gpu_count": 1}
    answers = [
        client.post(
            "/sandbox/together/v1/deployments",
            {**body, "name": f"d{n}", "min_replicas": 1, "max_replicas": 1},
            content_type="application/json",
            **auth,
        )
        for n in range(6)
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200, statuses
    assert statuses[-1] == 409, statuses
    assert statuses.count(200) == 2
    assert f"holds {limit} objects" in answers[-1].json()["message"]
    assert SandboxObject.objects.filter(vendor="together", kind="deployment").count() == 2


def test_key_form_refuses_the_sandbox_when_it_is_off(settings, team):
    from controlpanel.credentials.forms import AccountForm

    settings.PANEL_SANDBOX = False
    form = AccountForm(
        {"vendor": "together", "label": "Try", "api_key": "sandbox-try-0001", "endpoint": "sandbox"}, team=team
    )
    assert not form.is_valid()
    assert form.errors["endpoint"] == ["The built-in sandbox is switched off on this server (PANEL_SANDBOX)."]


def test_bootstrap_demo_needs_the_sandbox(settings, db):
    from django.core.management import CommandError, call_command

    settings.PANEL_SANDBOX = False
    with pytest.raises(CommandError, match="PANEL_SANDBOX=true"):
        call_command("bootstrap_demo")


def test_sandbox_refuses_a_new_account_past_the_account_limit(client, db, settings):
    settings.SANDBOX_MAX_ACCOUNTS = 2
    for account in ("a", "b"):
        SandboxObject.objects.create(vendor="together", account=account, kind="deployment", object_id="1")
    SandboxObject.objects.create(vendor="together", account="a", kind="deployment", object_id="2")  # known account
    with pytest.raises(SandboxFull, match="holds 2 accounts"):
        SandboxObject.objects.create(vendor="together", account="c", kind="deployment", object_id="1")
    # Through the twin: a key never seen before gets a 409 in words and writes nothing.
    before = SandboxObject.objects.count()
    response = client.post(
        "/sandbox/together/v1/deployments",
        {"name": "d", "image": "registry.together.xyz/p/echo:1", "gpu_type": "h100-80gb", "gpu_count": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sandbox-stranger",
    )
    assert response.status_code == 409
    assert "accounts" in response.json()["message"]
    assert SandboxObject.objects.count() == before


def test_sandbox_refuses_a_body_past_its_size_limit(client, db, settings):
    settings.SANDBOX_MAX_BODY_BYTES = 1000
    response = client.post(
        "/sandbox/novita/gpu-instance/openapi/v1/repository/auth/save",
        {"name": "x" * 2000, "username": "u", "password": "p"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sandbox-big",
    )
    assert response.status_code == 413
    assert "over 1000 bytes" in response.json()["message"]
    assert not SandboxObject.objects.filter(kind="registry_auth").exists()
    assert not SandboxObject.objects.filter(name="x" * 2000).exists()
