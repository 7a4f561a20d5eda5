"""A deployment whose key the vendor refused says so, and points to the keys page, never to
"fix the fields"."""

from __future__ import annotations

import respx
from django.urls import reverse

from controlpanel.credentials.models import KeyStatus
from controlpanel.deployments import services
from controlpanel.deployments.states import State
from controlpanel.deployments.tests.test_views import HX
from tests.factories import DeploymentFactory

REFUSAL = "Together AI refused the key “Together sandbox”: Invalid API key provided. Rotate it on the keys page."


def test_deployment_submit_refused_key_names_the_key_and_the_way_out(account):
    deployment = DeploymentFactory(account=account)
    with respx.mock(base_url=account.base_url) as api:
        api.post("/deployments").respond(401, json={"error": {"message": "Invalid API key provided."}})
        services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    account.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.last_error == REFUSAL
    assert deployment.error_fields == {}
    assert deployment.events.filter(to_state=State.FAILED, message=REFUSAL).exists()
    assert account.status == KeyStatus.INVALID
    assert account.status_message == "Together AI refused the key: Invalid API key provided."


def _live(client, deployment) -> str:
    response = client.get(reverse("deployments:detail", args=[deployment.pk]), {"part": "live"}, **HX)
    html = response.content.decode()
    assert "<html" not in html
    return html


def test_detail_of_a_refused_key_failure_links_to_the_keys_page_not_the_fields(logged_in, account):
    account.status = KeyStatus.INVALID
    account.save()
    deployment = DeploymentFactory(account=account, state=State.FAILED, external_id="", last_error=REFUSAL)
    html = _live(logged_in, deployment)
    assert REFUSAL in html
    assert f'href="{reverse("credentials:list")}#key-{account.pk}">Rotate the key on the keys page</a>' in html
    assert "Fix the fields" not in html


def test_detail_after_the_key_was_rotated_offers_to_resubmit_without_fixing_fields(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.FAILED, external_id="", last_error=REFUSAL)
    html = _live(logged_in, deployment)
    assert f'href="{reverse("deployments:edit", args=[deployment.pk])}">Resubmit it</a>' in html
    assert "Fix the fields" not in html
    page = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert "Its reasons are shown on the fields below" not in page
    assert REFUSAL in page


def test_detail_of_a_field_refusal_still_says_fix_the_fields(logged_in, account):
    deployment = DeploymentFactory(
        account=account,
        state=State.FAILED,
        external_id="",
        last_error="volume 'weights' not found",
        error_fields={"volumes.0.name": ["volume 'weights' not found"]},
    )
    html = _live(logged_in, deployment)
    assert "Fix the fields it named and resubmit" in html
    page = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert "Its reasons are shown on the fields below" in page
