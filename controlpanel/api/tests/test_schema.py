"""Schemathesis against the running app, in-process over WSGI: for every operation of
/api/v1/openapi.json, generated requests (valid ones and, through the schema's own
types, the edges of them) never get a 500 and every answer matches the document:
its status code is one the operation lists, its body that status's schema, its type JSON.

Path ids point at a real deployment (or template) of the token's team half the time, so answers
other than 404 are checked too. Examples are capped (8 per operation) to keep the run short."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from controlpanel.api.tests.helpers import token_for
from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.deployments.states import State
from controlpanel.wsgi import application
from tests.factories import AccountFactory, DeploymentFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def _keep_the_test_connection():
    """Django's WSGI handler closes the database connection after each request (its test
    client switches that off): keep it, or the test's transaction goes with it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(db, team, owner, account, settings, monkeypatch, _keep_the_test_connection):
    from controlpanel.deployments import tasks

    monkeypatch.setattr(tasks.fetch_logs_task, "delay", lambda *a, **k: None)
    settings.PANEL_API_RATE_PER_MINUTE = 0
    AccountFactory(team=team, vendor="replicate", label="Replicate key")
    running = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1", created_by=owner)
    template = DeploymentTemplate.objects.create(
        team=team, name="vLLM", vendor="together", spec={"name": "vllm", "gpu_type": "h100-80gb"}, created_by=owner
    )
    return {"token": token_for(owner, team), "deployment": running, "template": template}


def test_schemathesis_sees_every_operation_the_access_rules_name():
    from tests.test_url_access import API_RULES

    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert operations == {(method, "/api/v1" + path) for method, path in API_RULES}


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_match_its_schema(case, api_world, django_capture_on_commit_callbacks):
    pk = (case.path_parameters or {}).get("pk")
    if isinstance(pk, int) and pk % 2 == 0:
        what = "template" if case.operation.path.startswith("/api/v1/templates") else "deployment"
        case.path_parameters["pk"] = api_world[what].pk
    with django_capture_on_commit_callbacks():  # queued tasks are not sent anywhere
        case.call_and_validate(headers={"Authorization": f"Bearer {api_world['token']}"}, checks=CHECKS)
