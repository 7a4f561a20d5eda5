"""The new-deployment form never preselects a key the vendor refused."""

from __future__ import annotations

import re

from django.urls import reverse

from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.tests.test_views import HX, valid_post
from tests.factories import AccountFactory, DeploymentFactory


def _option(html: str, account: ProviderAccount) -> str:
    match = re.search(rf'<option value="{account.pk}"[^>]*>[^<]*</option>', html)
    assert match, f"no option for {account}"
    return match.group(0)


def test_account_field_preselects_the_working_key_not_the_refused_one(team):
    refused = AccountFactory(team=team, label="A refused", status=KeyStatus.INVALID)
    working = AccountFactory(team=team, label="B working")
    form = form_class_for("together")(accounts=ProviderAccount.objects.filter(team=team))
    html = str(form.main["account"])
    assert form.main["account"].value() == working.pk
    assert "disabled" in _option(html, refused)
    assert "refused by the vendor" in _option(html, refused)
    assert "selected" in _option(html, working)
    assert "disabled" not in _option(html, working)


def test_account_field_drops_a_refused_key_from_a_clones_initial(team):
    refused = AccountFactory(team=team, label="Refused", status=KeyStatus.INVALID)
    working = AccountFactory(team=team, label="Working")
    form = form_class_for("together")(
        accounts=ProviderAccount.objects.filter(team=team), initial={"account": refused.pk}
    )
    assert form.main["account"].value() == working.pk


def test_create_form_says_when_every_key_of_the_vendor_was_refused(logged_in, team):
    refused = AccountFactory(team=team, label="Only one", status=KeyStatus.INVALID)
    html = logged_in.get(reverse("deployments:create", args=["together"]), **HX).content.decode()
    assert "<html" not in html
    assert "Together AI refused every key the team has for it." in html
    assert f'href="{reverse("credentials:list")}">Rotate one on the keys page</a>' in html
    assert "selected" not in _option(html, refused)
    assert "disabled" in _option(html, refused)


def test_create_post_with_a_refused_key_is_an_error_on_the_account_field(logged_in, team):
    refused = AccountFactory(team=team, label="Prod", status=KeyStatus.INVALID)
    response = logged_in.post(reverse("deployments:create", args=["together"]), valid_post(refused), **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Together AI refused the key “Prod”. Rotate it on the keys page, or choose another key." in html
    assert not Deployment.objects.exists()


def test_clone_of_a_deployment_on_a_refused_key_does_not_preselect_it(logged_in, team):
    refused = AccountFactory(team=team, label="Refused", status=KeyStatus.INVALID)
    source = DeploymentFactory(account=refused, team=team)
    url = reverse("deployments:create", args=["together"]) + f"?from={source.pk}"
    html = logged_in.get(url, **HX).content.decode()
    assert "selected" not in _option(html, refused)
