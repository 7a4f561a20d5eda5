"""Deleting a key asks first, naming what depends on it."""

from __future__ import annotations

import re

from django.urls import reverse

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.states import State
from tests.factories import DeploymentFactory


def _delete_dialog(html: str, pk: int) -> str:
    match = re.search(rf'<dialog id="dlg-key-delete-{pk}".*?</dialog>', html, re.S)
    assert match, "no delete confirmation for the key"
    return match.group(0)


def test_key_list_delete_asks_first_and_names_live_deployments(logged_in, account):
    DeploymentFactory(account=account, state=State.RUNNING, name="flux-prod")
    DeploymentFactory(account=account, state=State.PROVISIONING, name="flux-canary")
    DeploymentFactory(account=account, state=State.FAILED, name="old-try")
    html = logged_in.get(reverse("credentials:list")).content.decode()
    assert f'data-dialog="dlg-key-delete-{account.pk}"' in html  # the button opens the dialog
    dialog = _delete_dialog(html, account.pk)
    assert "2 deployments still use this key" in dialog
    assert "flux-canary" in dialog
    assert "flux-prod" in dialog
    assert "old-try" not in dialog
    assert "1 failed or deleted deployment keeps its history" in dialog
    assert "rotate the key instead" in dialog
    assert re.search(r'<button class="btn btn-danger solid" type="submit" disabled', dialog)


def test_key_row_delete_dialog_for_an_unused_key_can_confirm(logged_in, account):
    html = logged_in.get(reverse("credentials:row", args=[account.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in html
    dialog = _delete_dialog(html, account.pk)
    assert "No running deployment uses this key." in dialog
    assert re.search(r'<button class="btn btn-danger solid" type="submit">', dialog)
    assert reverse("credentials:delete", args=[account.pk]) in dialog


def test_key_delete_dialog_names_at_most_ten_and_counts_all(logged_in, account):
    for i in range(12):
        DeploymentFactory(account=account, state=State.RUNNING, name=f"worker-{i:02d}")
    dialog = _delete_dialog(logged_in.get(reverse("credentials:list")).content.decode(), account.pk)
    assert "12 deployments still use this key" in dialog
    assert "worker-09" in dialog
    assert "worker-11" not in dialog
    assert "(12 in all)" in dialog


def test_key_delete_confirmed_with_htmx_removes_the_row(logged_in, account):
    response = logged_in.post(reverse("credentials:delete", args=[account.pk]), HTTP_HX_REQUEST="true")
    assert response.content == b""
    assert "Deleted" in response.headers["HX-Trigger"]
    assert not ProviderAccount.objects.filter(pk=account.pk).exists()


def test_key_list_queries_do_not_grow_with_keys(logged_in, team, django_assert_max_num_queries):
    from tests.factories import AccountFactory

    for _ in range(5):
        DeploymentFactory(account=AccountFactory(team=team), state=State.RUNNING)
    with django_assert_max_num_queries(12):
        logged_in.get(reverse("credentials:list"))
