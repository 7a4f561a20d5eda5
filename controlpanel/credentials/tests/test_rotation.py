"""Rotation proves the new key with the vendor before it replaces the old one."""

from __future__ import annotations

import logging

import respx
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials import crypto, services
from controlpanel.credentials.models import KeyStatus, ProviderAccount

NEW_KEY = "sandbox-rotated-secret-WXYZ"


def _together_ok(api: respx.MockRouter) -> None:
    api.get("/deployments").respond(200, json={"object": "list", "data": []})
    api.get("/deployments/secrets").respond(200, json={"object": "list", "data": [{"name": "hf"}]})
    api.get("/deployments/storage/volumes").respond(200, json={"object": "list", "data": []})


def test_account_verify_rotation_swaps_in_a_key_the_vendor_accepts(owner, account, django_capture_on_commit_callbacks):
    services.account_rotate(account=account, actor=owner, api_key=NEW_KEY)
    with respx.mock(base_url=account.base_url) as api, django_capture_on_commit_callbacks() as callbacks:
        _together_ok(api)
        services.account_verify_rotation(account_id=account.pk, actor_id=owner.pk)
        assert api.calls.last.request.headers["authorization"] == f"Bearer {NEW_KEY}"
    account.refresh_from_db()
    assert crypto.decrypt(account.encrypted_key) == NEW_KEY
    assert account.masked_key == "••••WXYZ"
    assert account.pending_key == ""
    assert account.status == KeyStatus.OK
    assert account.metadata["secrets"] == ["hf"]
    entry = AuditEntry.objects.get(action=AuditAction.KEY_ROTATED, actor=owner)
    assert "••••WXYZ" in entry.summary
    assert NEW_KEY not in entry.summary
    assert len(callbacks) == 1  # the catalog sync of a key that works


def test_account_verify_rotation_keeps_the_old_key_when_the_new_one_is_refused(owner, account):
    old_key = crypto.decrypt(account.encrypted_key)
    services.account_rotate(account=account, actor=owner, api_key="not-a-sandbox-key")
    with respx.mock(base_url=account.base_url) as api:
        api.get("/deployments").respond(401, json={"error": {"message": "Invalid API key provided."}})
        services.account_verify_rotation(account_id=account.pk, actor_id=owner.pk)
    account.refresh_from_db()
    assert crypto.decrypt(account.encrypted_key) == old_key
    assert account.status == KeyStatus.OK
    assert account.pending_key == ""
    assert account.rotation_message == (
        "Together AI refused the new key: Invalid API key provided; the old key is still in use."
    )
    assert not AuditEntry.objects.filter(action=AuditAction.KEY_ROTATED).exists()
    assert AuditEntry.objects.filter(action=AuditAction.KEY_VERIFIED, data__rotation=True).exists()


def test_account_verify_rotation_ignores_a_candidate_replaced_meanwhile(owner, account):
    services.account_rotate(account=account, actor=owner, api_key=NEW_KEY)

    def rotate_again_during_the_call(request):
        # a second rotation lands while the worker talks to the vendor about the first
        ProviderAccount.objects.filter(pk=account.pk).update(pending_key=crypto.encrypt("sandbox-second-3333"))
        return respx.MockResponse(200, json={"object": "list", "data": []})

    with respx.mock(base_url=account.base_url) as api:
        api.get("/deployments").mock(side_effect=rotate_again_during_the_call)
        api.get("/deployments/secrets").respond(200, json={"data": []})
        api.get("/deployments/storage/volumes").respond(200, json={"data": []})
        services.account_verify_rotation(account_id=account.pk, actor_id=owner.pk)
    account.refresh_from_db()
    assert crypto.decrypt(account.pending_key) == "sandbox-second-3333"
    assert crypto.decrypt(account.encrypted_key).startswith("sandbox-test-key-")


def test_account_verify_rotation_never_logs_or_stores_the_key(caplog, owner, account):
    caplog.set_level(logging.DEBUG)
    services.account_rotate(account=account, actor=owner, api_key=NEW_KEY)
    with respx.mock(base_url=account.base_url) as api:
        # the vendor echoes the key in its refusal
        api.get("/deployments").respond(401, json={"error": {"message": f"Invalid API key: {NEW_KEY}"}})
        services.account_verify_rotation(account_id=account.pk, actor_id=owner.pk)
    account.refresh_from_db()
    assert NEW_KEY not in caplog.text
    assert NEW_KEY not in account.rotation_message
    assert "refused the new key" in account.rotation_message
    assert NEW_KEY not in str(list(AuditEntry.objects.values()))


def test_key_rotate_view_shows_checking_and_polls_without_the_key(logged_in, account):
    response = logged_in.post(
        reverse("credentials:rotate", args=[account.pk]), {"api_key": NEW_KEY}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "checking the new key…" in html
    assert reverse("credentials:row", args=[account.pk]) in html  # it polls its row
    assert NEW_KEY not in html
    assert "stays in use" in response.headers["HX-Trigger"]
    account.refresh_from_db()
    assert crypto.decrypt(account.encrypted_key).startswith("sandbox-test-key-")


def test_key_rotate_view_refuses_a_non_sandbox_key_inline(logged_in, account):
    response = logged_in.post(
        reverse("credentials:rotate", args=[account.pk]), {"api_key": "not-a-sandbox-key"}, HTTP_HX_REQUEST="true"
    )
    assert "Sandbox keys start with" in response.headers["HX-Trigger"]
    account.refresh_from_db()
    assert account.pending_key == ""


def test_key_row_says_the_new_key_was_refused_and_stops_polling(logged_in, account):
    ProviderAccount.objects.filter(pk=account.pk).update(
        rotation_message="Together AI refused the new key: Invalid API key provided; the old key is still in use."
    )
    html = logged_in.get(reverse("credentials:row", args=[account.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "Together AI refused the new key: Invalid API key provided; the old key is still in use." in html
    assert "hx-trigger" not in html


def test_rotate_fernet_command_reencrypts_a_pending_key_too(settings, owner, account):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    services.account_rotate(account=account, actor=owner, api_key=NEW_KEY)
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), settings.FERNET_KEYS[0]]
    call_command("rotate_fernet")
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]
    account.refresh_from_db()
    assert crypto.decrypt(account.pending_key) == NEW_KEY
