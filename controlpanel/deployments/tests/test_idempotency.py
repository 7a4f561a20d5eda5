"""Never pay twice: one create per form render, and a retry that adopts what an earlier attempt made.

Each render of a create form carries a fresh idempotency token; a repeated or concurrent
POST with it returns the first deployment. A re-sent submission keeps the first attempt's
start time, so the adoption window still covers what that attempt created.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from unittest import mock

import pytest
import respx
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments import selectors as services_selectors
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, IdempotencyKey
from controlpanel.deployments.services.submission import IDEMPOTENCY_TTL
from controlpanel.deployments.states import State
from controlpanel.deployments.tests.test_views import HX, valid_post
from tests.factories import AccountFactory, DeploymentFactory, TeamFactory, together_spec

TOKEN_RE = re.compile(r'name="idempotency_key" value="([A-Za-z0-9_-]+)"')
CONFIRMED_RE = re.compile(r'name="confirmed" value="([0-9a-f]{20})"')


def create_url() -> str:
    return reverse("deployments:create", args=["together"])


def confirm_data(client: Client, account) -> dict:
    """What the confirmation form posts: the spec, the digest and that render's token."""
    page = client.post(create_url(), valid_post(account), **HX).content.decode()
    return {
        **valid_post(account),
        "confirmed": CONFIRMED_RE.search(page).group(1),
        "idempotency_key": TOKEN_RE.search(page).group(1),
    }


# --- the service ---------------------------------------------------------------------------------


def test_deployment_create_same_key_returns_the_first_deployment(
    owner, team, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.deployment_create(
            team=team, actor=owner, account=account, spec=together_spec(), idempotency_key="k" * 32
        )
        again = services.deployment_create(
            team=team, actor=owner, account=account, spec=together_spec(), idempotency_key="k" * 32
        )
    assert again.pk == first.pk
    assert Deployment.objects.filter(team=team).count() == 1
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_CREATED).count() == 1
    assert len(callbacks) == 1  # one submission enqueued
    assert IdempotencyKey.objects.get(team=team, key="k" * 32).deployment == first


def test_deployment_create_without_a_key_creates_each_time(owner, team, account):
    services.deployment_create(team=team, actor=owner, account=account, spec=together_spec())
    services.deployment_create(team=team, actor=owner, account=account, spec=together_spec())
    assert Deployment.objects.filter(team=team).count() == 2
    assert not IdempotencyKey.objects.exists()


def test_deployment_create_key_is_scoped_to_the_team(owner, team, account, make_member):
    other = TeamFactory(name="Elsewhere")
    other_owner = make_member(in_team=other)
    other_account = AccountFactory(team=other)
    mine = services.deployment_create(
        team=team, actor=owner, account=account, spec=together_spec(), idempotency_key="shared-token-0001"
    )
    theirs = services.deployment_create(
        team=other, actor=other_owner, account=other_account, spec=together_spec(), idempotency_key="shared-token-0001"
    )
    assert mine.pk != theirs.pk
    assert theirs.team == other


def test_deployment_create_expired_keys_are_cleaned_up_on_write(owner, team, account):
    old = services.deployment_create(
        team=team, actor=owner, account=account, spec=together_spec(), idempotency_key="old-token-000001"
    )
    IdempotencyKey.objects.update(created_at=timezone.now() - IDEMPOTENCY_TTL - dt.timedelta(minutes=1))
    new = services.deployment_create(
        team=team, actor=owner, account=account, spec=together_spec(), idempotency_key="old-token-000001"
    )
    assert new.pk != old.pk  # a day later the token no longer answers for the old one
    assert list(IdempotencyKey.objects.values_list("deployment", flat=True)) == [new.pk]


# --- the form ------------------------------------------------------------------------------------


def test_create_each_render_carries_a_new_token(logged_in, account):
    tokens = [TOKEN_RE.search(logged_in.get(create_url()).content.decode()).group(1) for _ in range(2)]
    confirming = logged_in.post(create_url(), valid_post(account), **HX).content.decode()
    tokens.append(TOKEN_RE.search(confirming).group(1))
    assert len(set(tokens)) == 3
    assert all(len(t) >= 32 for t in tokens)


def test_clone_form_carries_a_token(logged_in, account):
    source = DeploymentFactory(account=account, name="orig", state=State.RUNNING)
    content = logged_in.get(create_url(), {"from": source.pk}).content.decode()
    assert TOKEN_RE.search(content)


def test_edit_form_has_no_token(logged_in, account):
    deployment = DeploymentFactory(account=account, name="orig", state=State.RUNNING, external_id="dep_orig")
    content = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert 'name="idempotency_key"' not in content


def test_create_confirm_button_says_creating_while_in_flight(logged_in, account):
    content = logged_in.post(create_url(), valid_post(account), **HX).content.decode()
    button = re.search(r"<button[^>]*>Confirm and create</button>", content).group(0)
    assert 'data-busy-label="Creating…"' in button


def test_create_repeated_post_with_the_same_token_creates_once(
    logged_in, team, account, django_capture_on_commit_callbacks
):
    data = confirm_data(logged_in, account)
    with django_capture_on_commit_callbacks() as callbacks:
        first = logged_in.post(create_url(), data, **HX)
        second = logged_in.post(create_url(), data, **HX)
    deployment = Deployment.objects.get(team=team)
    assert first["HX-Redirect"] == second["HX-Redirect"] == reverse("deployments:detail", args=[deployment.pk])
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_CREATED).count() == 1
    assert len(callbacks) == 1


def test_create_repeated_plain_post_redirects_to_the_same_deployment(logged_in, team, account):
    data = confirm_data(logged_in, account)
    first = logged_in.post(create_url(), data)
    second = logged_in.post(create_url(), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Deployment.objects.filter(team=team).count() == 1


def test_create_a_twin_post_that_finds_its_name_taken_by_the_first_gets_the_first_answer(logged_in, team, account):
    """Found by the chaos suite: of two posts of one confirmation, the second looked for the
    token before the first had committed, then found the name taken (Together's names are
    unique) and showed the form with an error. It gets the first one's deployment instead."""
    data = confirm_data(logged_in, account)
    first = logged_in.post(create_url(), data)
    real = services_selectors.deployment_for_idempotency_key
    looks = []

    def look(**kwargs):
        looks.append(kwargs)
        # The second post's first look comes before the first post's commit.
        return None if len(looks) == 1 else real(**kwargs)

    with mock.patch.object(services_selectors, "deployment_for_idempotency_key", side_effect=look):
        second = logged_in.post(create_url(), data)
    assert second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Deployment.objects.filter(team=team).count() == 1


def test_create_a_forged_token_is_not_trusted_and_asks_again(logged_in, team, account):
    data = {**confirm_data(logged_in, account), "idempotency_key": "<script>"}
    response = logged_in.post(create_url(), data, **HX)
    assert not Deployment.objects.filter(team=team).exists()
    assert not IdempotencyKey.objects.exists()
    content = response.content.decode()
    assert "Confirm and create" in content  # the amount again, on a page with a real token
    assert re.search(r'name="idempotency_key" value="[A-Za-z0-9_-]{16,}"', content)


def test_create_a_confirmation_without_a_token_creates_nothing(logged_in, team, account):
    data = confirm_data(logged_in, account)
    del data["idempotency_key"]
    response = logged_in.post(create_url(), data, **HX)
    assert not Deployment.objects.filter(team=team).exists()
    assert "Confirm and create" in response.content.decode()


def test_create_refused_by_the_service_is_said_on_the_form(logged_in, team, account, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**kwargs):
        raise ValidationError("This form was just submitted; reload the page to see the result.")

    monkeypatch.setattr(services, "deployment_create", refuse)
    response = logged_in.post(create_url(), confirm_data(logged_in, account), **HX)
    assert response.status_code == 200
    assert "This form was just submitted" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_create_two_concurrent_posts_make_one_deployment(team, owner, account):
    setup = Client()
    setup.force_login(owner)
    data = confirm_data(setup, account)
    start = threading.Barrier(2)
    responses: list = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            client = Client()
            client.force_login(owner)
            start.wait()
            responses.append(client.post(create_url(), data, **HX))
        except BaseException as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    deployment = Deployment.objects.get(team=team)
    assert [r["HX-Redirect"] for r in responses] == [reverse("deployments:detail", args=[deployment.pk])] * 2
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_CREATED).count() == 1


# --- the worker: adoption ------------------------------------------------------------------------


def together_item(name: str, created_at: dt.datetime) -> dict:
    return {
        "id": f"dep_{name}",
        "object": "deployment",
        "name": name,
        "status": "Updating",
        "image": "img",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "ready_replicas": 0,
        "desired_replicas": 1,
        "created_at": created_at.isoformat(),
    }


@pytest.fixture
def api(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as mock_api:
        yield mock_api


def test_submit_adoption_is_worded_as_an_adoption(account, api):
    deployment = DeploymentFactory(account=account, name="flux-worker", state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_started_at=timezone.now())
    api.get("/deployments/flux-worker").respond(200, json=together_item("flux-worker", timezone.now()))
    create = api.post("/deployments").respond(200, json=together_item("flux-worker", timezone.now()))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    messages = list(deployment.events.values_list("message", flat=True))
    assert "Adopted what an earlier attempt created (dep_flux-worker)" in messages
    assert not any(m.startswith("Created on") for m in messages)
    assert create.call_count == 0


def test_submit_a_fresh_create_is_still_worded_created(account, api):
    deployment = DeploymentFactory(account=account, name="flux-worker")
    api.post("/deployments").respond(200, json=together_item("flux-worker", timezone.now()))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    assert deployment.events.filter(message="Created on Together AI as dep_flux-worker").exists()


def test_requeue_stale_keeps_the_first_attempts_start_time(account):
    first_start = timezone.now() - dt.timedelta(minutes=5)
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="old")
    Deployment.objects.filter(pk=deployment.pk).update(submit_started_at=first_start, state_changed_at=first_start)
    with mock.patch("controlpanel.deployments.tasks.submit_deployment_task.apply_async") as apply_async:
        assert services.deployments_requeue_stale() == 1
        assert services.deployments_requeue_stale() == 0  # just re-sent: the next sweep waits its interval
    deployment.refresh_from_db()
    assert deployment.submit_started_at == first_start
    assert deployment.next_attempt_at > first_start  # the sweep waits from the re-send, not the start
    apply_async.assert_called_once_with((deployment.pk,), task_id=deployment.submit_task_id)


def test_resent_submission_adopts_what_the_first_attempt_made_minutes_ago(account, api):
    """The first attempt began 5 minutes ago and created it 4 minutes ago; the sweep's re-send
    must adopt it, not refuse it as someone else's and create (and bill) a second one."""
    now = timezone.now()
    deployment = DeploymentFactory(account=account, name="flux-worker", state=State.SUBMITTING, submit_task_id="old")
    Deployment.objects.filter(pk=deployment.pk).update(
        submit_started_at=now - dt.timedelta(minutes=5), state_changed_at=now - dt.timedelta(minutes=5)
    )
    with mock.patch("controlpanel.deployments.tasks.submit_deployment_task.apply_async"):
        services.deployments_requeue_stale()
    deployment.refresh_from_db()
    api.get("/deployments/flux-worker").respond(200, json=together_item("flux-worker", now - dt.timedelta(minutes=4)))
    create = api.post("/deployments").respond(200, json=together_item("flux-worker", now))
    services.deployment_submit(deployment_id=deployment.pk, task_id=deployment.submit_task_id)
    deployment.refresh_from_db()
    assert create.call_count == 0
    assert deployment.external_id == "dep_flux-worker"
    assert deployment.state == State.PROVISIONING
