"""Together's revisions on the deployment page and a rollback to one: confirmed in a dialog,
sent by the worker as POST /deployments/{id}/rollback, on the timeline and the audit log."""

from __future__ import annotations

import pytest
import respx
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import LogSnapshot
from controlpanel.deployments.services.actions import deployment_run_action
from controlpanel.deployments.services.logs import deployment_fetch_logs
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.factories import DeploymentFactory, together_spec

pytestmark = pytest.mark.django_db

IMAGE = "registry.together.ai/proj_demo/flux@sha256:abc"


def event(number: int, action: str, image: str) -> dict:
    return {
        "event_number": number,
        "action": action,
        "activated_at": f"2026-12-04T1{number}:00:00Z",
        "image": image,
        "revision_id": f"rev-uuid-{number}",
        "revision_number": number,
    }


HISTORY = [event(2, "update", f"{IMAGE}-v2"), event(1, "create", IMAGE)]


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    from controlpanel.deployments import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.deployment_action_task, "delay_on_commit", lambda pk: sent.append(pk))
    monkeypatch.setattr(tasks.fetch_logs_task, "delay_on_commit", lambda pk: None)
    return sent


@pytest.fixture
def running(account):
    deployment = DeploymentFactory(
        account=account, state=State.RUNNING, external_id="dep_abc", spec=together_spec(image=f"{IMAGE}-v2")
    )
    LogSnapshot.objects.create(deployment=deployment, revisions=HISTORY)
    return deployment


def test_the_page_lists_revisions_and_offers_the_earlier_ones(client, owner, running):
    client.force_login(owner)
    page = client.get(reverse("deployments:detail", args=[running.pk])).content.decode()
    assert 'Revision 2 <span class="chip">active</span>' in page
    assert 'id="dlg-rollback"' in page
    assert '<option value="1">1 · ' in page
    assert '<option value="2">' not in page  # the active one is not a target


def test_a_rollback_is_confirmed_then_pending_and_audited(client, owner, running, queued):
    client.force_login(owner)
    url = reverse("deployments:action", args=[running.pk, "rollback"])
    for wrong in ("2", "9", ""):
        client.post(url, {"revision": wrong})
        running.refresh_from_db()
        assert running.pending_action == ""
    client.post(url, {"revision": "1"})
    running.refresh_from_db()
    assert (running.pending_action, running.pending_params) == ("update", {"rollback": "1"})
    assert queued == [running.pk]
    assert running.events.first().message == "Roll back to revision 1 requested"
    entry = AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_ROLLED_BACK)
    assert entry.summary == f"Roll back to revision 1: {running.name}"


def test_a_viewer_cannot_roll_back(client, make_member, running):
    client.force_login(make_member(Role.VIEWER, username="vic"))
    assert (
        client.post(reverse("deployments:action", args=[running.pk, "rollback"]), {"revision": "1"}).status_code == 403
    )


def test_the_worker_posts_the_rollback_and_keeps_the_revisions_spec(client, owner, running):
    client.force_login(owner)
    client.post(reverse("deployments:action", args=[running.pk, "rollback"]), {"revision": "1"})
    answer = {
        "id": "dep_abc",
        "object": "deployment",
        "name": running.name,
        "status": "Updating",
        "image": IMAGE,
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "desired_replicas": 1,
        "ready_replicas": 0,
    }
    with respx.mock(base_url=running.account.base_url) as api:
        route = api.post("/deployments/dep_abc/rollback").respond(200, json=answer)
        deployment_run_action(deployment_id=running.pk)
    assert route.calls.last.request.content == b'{"revision_identifier":"1"}'
    running.refresh_from_db()
    assert running.pending_action == ""
    assert running.spec["image"] == IMAGE
    assert running.state == State.UPDATING
    assert running.events.filter(message="Roll back to revision 1: accepted by Together AI").exists()


def test_the_logs_fetch_brings_the_revision_history(running):
    LogSnapshot.objects.filter(deployment=running).update(revisions=[])
    history = {"object": "list", "data": [{**e, "object": "revision_event"} for e in HISTORY]}
    with respx.mock(base_url=running.account.base_url) as api:
        api.get("/deployments/dep_abc/logs").respond(200, json={"lines": ["INFO ready"]})
        api.get("/deployments/dep_abc/revisions").respond(200, json=history)
        deployment_fetch_logs(deployment_id=running.pk)
    snapshot = LogSnapshot.objects.get(deployment=running)
    assert [r["revision_number"] for r in snapshot.revisions] == [2, 1]
    assert snapshot.lines == ["INFO ready"]
