from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from controlpanel.sandbox.models import SandboxFault


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("sandbox_faults", *args, stdout=out)
    return out.getvalue()


def test_sandbox_faults_set_show_and_clear(db):
    assert "No sandbox faults" in run()
    run("together", "--error-rate", "0.25", "--latency-ms", "150", "--no-capacity")
    fault = SandboxFault.objects.get(vendor="together")
    assert (fault.error_rate, fault.latency_ms, fault.no_capacity) == (0.25, 150, True)
    assert "together: latency_ms=150, error_rate=0.25" in run()
    run("together", "--clear")
    assert not SandboxFault.objects.exists()


def test_sandbox_faults_refuse_a_share_above_one(db):
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("together", "--error-rate", "3")


def test_lost_response_fault_does_the_work_then_answers_502(client, db):
    from controlpanel.sandbox.models import SandboxObject

    SandboxFault.objects.create(vendor="together", lost_response_rate=1.0)
    body = {"name": "lost-one", "image": "registry.together.ai/p/x:1", "gpu_type": "h100-80gb"}
    response = client.post(
        "/sandbox/together/v1/deployments",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sandbox-lost",
    )
    assert response.status_code == 502
    assert SandboxObject.objects.filter(kind="deployment", name="lost-one").exists()
