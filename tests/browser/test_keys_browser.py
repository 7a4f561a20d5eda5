"""Deleting a key asks first: the dialog names the deployments that use it, and only a key
nothing runs on can be deleted from it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.browser.test_team_browser import log_in
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_delete_key_confirmation_names_what_depends_on_it(page, live_server):
    team = TeamFactory(name="Key crew")
    MembershipFactory(team=team, user=UserFactory(username="kai"), role=Role.OWNER)
    used = AccountFactory(team=team, label="Used key")
    spare = AccountFactory(team=team, label="Spare key")
    # An external id the sandbox does not know: a session worker left running by an earlier
    # browser test may poll it and find it lost; either way it still depends on the key.
    DeploymentFactory(team=team, account=used, state=State.RUNNING, name="flux-prod", external_id="dep-kb-1")
    log_in(page, live_server.url, "kai", PASSWORD)
    page.goto(f"{live_server.url}/keys/")

    used_row = page.locator(f"#key-{used.pk}")
    used_row.get_by_role("button", name="Manage").click()
    used_row.get_by_role("button", name="Delete this key…").click()
    dialog = page.get_by_role("dialog", name="Delete the key Used key?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("1 deployment still uses this key:")
    expect(dialog).to_contain_text("flux-prod")
    expect(dialog).to_contain_text("rotate the key instead")
    expect(dialog.get_by_role("button", name="Delete the key")).to_be_disabled()
    shot(page, "keys-delete-refused")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert ProviderAccount.objects.filter(pk=used.pk).exists()

    page.keyboard.press("Escape")  # the Manage dialog underneath
    spare_row = page.locator(f"#key-{spare.pk}")
    spare_row.get_by_role("button", name="Manage").click()
    spare_row.get_by_role("button", name="Delete this key…").click()
    dialog = page.get_by_role("dialog", name="Delete the key Spare key?")
    expect(dialog).to_contain_text("No running deployment uses this key.")
    dialog.get_by_role("button", name="Delete the key").click()
    expect(page.locator("#toasts")).to_contain_text("Deleted “Spare key”.")
    expect(spare_row).to_have_count(0)
    assert not ProviderAccount.objects.filter(pk=spare.pk).exists()
    assert ProviderAccount.objects.filter(pk=used.pk).exists()
