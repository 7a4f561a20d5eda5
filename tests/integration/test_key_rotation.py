"""Key rotation with real parts: the page posts the new key, a real worker asks the sandbox
about it, and only a key the vendor accepts replaces the old one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials import crypto, services
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def keyholder(panel_worker):
    team = TeamFactory(name="Rotation")
    user = UserFactory(username="rita")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key=f"sandbox-rot-{team.pk}-OLD1")
    return user, account


def _settled(account: ProviderAccount) -> ProviderAccount | None:
    fresh = ProviderAccount.objects.get(pk=account.pk)
    return None if fresh.pending_key else fresh


def test_rotation_to_a_key_the_vendor_refuses_keeps_the_old_one(client, keyholder):
    user, account = keyholder
    # The service takes it (the form's sandbox-prefix check is not what is under test here).
    services.account_rotate(account=account, actor=user, api_key="not-a-sandbox-key")
    fresh = wait_for(lambda: _settled(account), what="the worker to check the new key")
    assert crypto.decrypt(fresh.encrypted_key) == f"sandbox-rot-{account.team_id}-OLD1"
    assert fresh.status == KeyStatus.OK
    assert fresh.rotation_message.startswith("Together AI refused the new key: ")
    assert fresh.rotation_message.endswith("; the old key is still in use.")
    client.force_login(user)
    row = client.get(reverse("credentials:row", args=[account.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert fresh.rotation_message in row
    assert "not-a-sandbox-key" not in row


def test_rotation_to_a_working_key_swaps_it_in_through_the_page(client, keyholder):
    user, account = keyholder
    client.force_login(user)
    new_key = f"sandbox-rot-{account.team_id}-NEW2"
    response = client.post(
        reverse("credentials:rotate", args=[account.pk]), {"api_key": new_key}, HTTP_HX_REQUEST="true"
    )
    assert "checking the new key…" in response.content.decode()
    fresh = wait_for(lambda: _settled(account), what="the worker to check the new key")
    assert crypto.decrypt(fresh.encrypted_key) == new_key
    assert fresh.masked_key == "••••NEW2"
    assert fresh.status == KeyStatus.OK
    assert AuditEntry.objects.filter(action=AuditAction.KEY_ROTATED, actor=user).exists()
