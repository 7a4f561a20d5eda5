"""The API end to end with real parts: a script's create (retried with its Idempotency-Key)
-> the real worker submits to the sandbox over HTTP -> polling -> GET shows it running;
then stop and delete through the API, each retried, each done once."""

from __future__ import annotations

import pytest

from controlpanel.api.tests.helpers import call, together_fields, token_for
from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_api_create_runs_then_stops_and_deletes_once_each(panel_worker, settings):
    settings.PANEL_API_RATE_PER_MINUTE = 0  # the waits below poll GET several times a second
    team = TeamFactory(name="API integration")
    user = UserFactory(username="scripty")
    MembershipFactory(team=team, user=user, role=Role.DEPLOYER)
    account = AccountFactory(team=team, label="Together sandbox", api_key=f"sandbox-api-it-{team.pk}")
    token = token_for(user, team)
    body = {"vendor": "together", "fields": together_fields(account, name="api-echo", max_replicas=1)}

    first = call("POST", "/deployments", token, body, **{"Idempotency-Key": "it-create-000000001"})
    again = call("POST", "/deployments", token, body, **{"Idempotency-Key": "it-create-000000001"})
    assert first.status_code == again.status_code == 201, first.content
    pk = first.json()["id"]
    assert again.json()["id"] == pk

    def state() -> str:
        return call("GET", f"/deployments/{pk}", token).json()["state"]

    wait_for(lambda: state() == State.RUNNING, what="the worker to submit and the poll to see Ready")
    assert Deployment.objects.filter(team=team).count() == 1
    assert SandboxObject.objects.filter(kind="deployment", name="api-echo").count() == 1

    for action, landed in (("stop", State.STOPPED), ("delete", State.DELETED)):
        key = f"it-{action}-0000000001"
        answers = [call("POST", f"/deployments/{pk}/{action}", token, {}, **{"Idempotency-Key": key}) for _ in (1, 2)]
        assert [a.status_code for a in answers] == [202, 202]
        wait_for(lambda landed=landed: state() == landed, what=f"the {action} to land")
    for kind in (AuditAction.DEPLOYMENT_CREATED, AuditAction.DEPLOYMENT_STOPPED, AuditAction.DEPLOYMENT_DELETED):
        assert AuditEntry.objects.filter(team=team, action=kind, actor=user).count() == 1, kind
    assert not SandboxObject.objects.filter(kind="deployment", name="api-echo").exists()
