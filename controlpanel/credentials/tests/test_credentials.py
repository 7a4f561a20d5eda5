from __future__ import annotations

import io
import logging
import sys

import pytest
import respx
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials import crypto, services
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, DeploymentFactory

KEY = "sandbox-Pa55w0rd-very-secret-9x7Q"


def test_encrypt_round_trip_and_ciphertext_hides_the_key():
    token = crypto.encrypt(KEY)
    assert KEY not in token
    assert "very-secret" not in token
    assert crypto.decrypt(token) == KEY


def test_rotation_reencrypts_with_the_new_primary(settings):
    old = settings.FERNET_KEYS[0]
    token = crypto.encrypt(KEY)
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), old]
    rotated = crypto.rotate(token)
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]  # the old key retired
    assert crypto.decrypt(rotated) == KEY
    with pytest.raises(crypto.DecryptionError) as excinfo:
        crypto.decrypt(token)
    assert KEY not in str(excinfo.value)


def test_rotate_fernet_command_reencrypts_every_key(settings, account):
    old = settings.FERNET_KEYS[0]
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), old]
    out = io.StringIO()
    call_command("rotate_fernet", stdout=out)
    assert "Re-encrypted 1 key(s)" in out.getvalue()
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]
    account.refresh_from_db()
    assert crypto.decrypt(account.encrypted_key).startswith("sandbox-test-key-")


def test_account_create_stores_only_ciphertext_and_last_four(owner, team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        account = services.account_create(team=team, actor=owner, vendor="together", label="Prod", api_key=KEY)
    row = ProviderAccount.objects.filter(pk=account.pk).values().get()
    assert all(KEY not in str(value) for value in row.values())
    assert account.masked_key == "••••9x7Q"
    assert account.status == KeyStatus.VERIFYING
    assert len(callbacks) == 1
    entry = AuditEntry.objects.get(action=AuditAction.KEY_ADDED)
    assert KEY not in entry.summary
    assert "9x7Q" in entry.summary


def test_deployer_cannot_manage_keys(make_member, team):
    deployer = make_member(Role.DEPLOYER)
    with pytest.raises(PermissionDenied):
        services.account_create(team=team, actor=deployer, vendor="together", label="X", api_key=KEY)


def test_verify_ok_stores_the_answer_and_metadata(account, owner):
    with respx.mock(base_url=account.base_url) as api:
        api.get("/deployments").respond(200, json={"object": "list", "data": []})
        api.get("/deployments/secrets").respond(200, json={"object": "list", "data": [{"name": "hf-token"}]})
        api.get("/deployments/storage/volumes").respond(200, json={"object": "list", "data": [{"name": "w"}]})
        services.account_verify(account_id=account.pk, actor_id=owner.pk)
    account.refresh_from_db()
    assert account.status == KeyStatus.OK
    assert "0 container deployments" in account.status_message
    assert account.metadata == {"secrets": ["hf-token"], "volumes": ["w"]}
    assert AuditEntry.objects.filter(action=AuditAction.KEY_VERIFIED, actor=owner).exists()


def test_verify_refused_key_shows_the_vendors_words(account):
    with respx.mock(base_url=account.base_url) as api:
        api.get("/deployments").respond(401, json={"error": {"message": "Invalid API key provided."}})
        services.account_verify(account_id=account.pk)
    account.refresh_from_db()
    assert account.status == KeyStatus.INVALID
    assert account.status_message == "Together AI refused the key: Invalid API key provided."


def test_delete_refused_while_deployments_use_the_key(owner, account):
    DeploymentFactory(account=account, state=State.RUNNING)
    with pytest.raises(ValidationError, match="1 deployment still uses this key"):
        services.account_delete(account=account, actor=owner)
    assert ProviderAccount.objects.filter(pk=account.pk).exists()


def test_rotate_keeps_the_old_key_until_the_new_one_is_checked(owner, account, django_capture_on_commit_callbacks):
    old = account.encrypted_key
    with django_capture_on_commit_callbacks() as callbacks:
        services.account_rotate(account=account, actor=owner, api_key="sandbox-new-key-ABCD")
    account.refresh_from_db()
    assert account.encrypted_key == old
    assert account.masked_key != "••••ABCD"
    assert crypto.decrypt(account.pending_key) == "sandbox-new-key-ABCD"
    assert account.pending_masked_key == "••••ABCD"
    assert len(callbacks) == 1
    assert not AuditEntry.objects.filter(action=AuditAction.KEY_ROTATED).exists()


def test_keys_page_never_contains_a_key(logged_in, team):
    AccountFactory(team=team, api_key=KEY, label="Prod")
    for response in (
        logged_in.get(reverse("credentials:list")),
        logged_in.get(reverse("credentials:row", args=[ProviderAccount.objects.get().pk]), HTTP_HX_REQUEST="true"),
        logged_in.get(reverse("deployments:dashboard")),
    ):
        assert KEY.encode() not in response.content
        assert b"very-secret" not in response.content
    assert b"9x7Q" in logged_in.get(reverse("credentials:list")).content


def test_add_key_form_does_not_echo_the_key_on_error(logged_in, team):
    response = logged_in.post(
        reverse("credentials:add"),
        {"vendor": "together", "label": "", "api_key": KEY, "endpoint": EndpointKind.SANDBOX},
    )
    assert response.status_code == 200
    assert KEY.encode() not in response.content
    assert b"This field is required." in response.content


def test_add_key_flow(logged_in, team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = logged_in.post(
            reverse("credentials:add"),
            {
                "vendor": "together",
                "label": "Sandbox",
                "api_key": "sandbox-abc-12345",
                "endpoint": EndpointKind.SANDBOX,
            },
        )
    assert response.status_code == 302
    account = ProviderAccount.objects.get(team=team)
    assert account.is_sandbox
    assert account.base_url.endswith("/sandbox/together/v1")


def test_sandbox_endpoint_requires_a_sandbox_key(logged_in):
    response = logged_in.post(
        reverse("credentials:add"),
        {"vendor": "together", "label": "S", "api_key": "tgp_v1_realkey", "endpoint": "sandbox"},
    )
    assert "Sandbox keys start with" in response.content.decode()


def test_another_teams_key_is_404(logged_in, other_team):
    pk = other_team["account"].pk
    assert logged_in.get(reverse("credentials:row", args=[pk])).status_code == 404
    assert logged_in.post(reverse("credentials:delete", args=[pk])).status_code == 404
    assert ProviderAccount.objects.filter(pk=pk).exists()


def test_error_page_hides_key_locals():
    """With DEBUG on, a traceback page must not show a key held in a local variable."""
    request = RequestFactory().get("/")

    def adapter_call(api_key):
        raise RuntimeError("boom")

    try:
        adapter_call(KEY)
    except RuntimeError:
        html = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert KEY not in html
    assert "********************" in html


def test_key_is_never_logged(caplog, account, owner):
    caplog.set_level(logging.DEBUG)
    with respx.mock(base_url=account.base_url) as api:
        api.get("/deployments").respond(200, json={"object": "list", "data": []})
        api.get("/deployments/secrets").respond(200, json={"data": []})
        api.get("/deployments/storage/volumes").respond(200, json={"data": []})
        services.account_verify(account_id=account.pk, actor_id=owner.pk)
    key = crypto.decrypt(account.encrypted_key)
    assert key not in caplog.text


def test_repr_of_account_and_provider_hide_the_key(account):
    key = crypto.decrypt(account.encrypted_key)
    provider = services.provider_for(account)
    assert key not in repr(account)
    assert key not in repr(provider)
