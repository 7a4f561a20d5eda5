"""Fluence GPU Cloud's documented answers for the contract suite.

Sources: ``shared/vendor-apis/fluence.md`` (NOTES; its sources are the vendor docs,
``fluencelabs/docs`` ``docs/build/api/gpu_cloud/**`` "Deploy instance", "Manage GPU
instances" and the errors overview), the seed ``shared/seeds/003_e6650c0f53784ee2.txt``
(SEED) and the fixtures in ``providers/tests/fixtures/fluence/`` built from NOTES §2's
examples and the seed.
"""

from __future__ import annotations

from typing import Any

from providers.base import Action, RemoteState
from providers.contract import Call, Case, Error, Expect, Find, Route, with_status
from providers.testing import load_fixture

NOTES = "shared/vendor-apis/fluence.md"
SEED = "shared/seeds/003_e6650c0f53784ee2.txt"
CONTAINERS = "/gpu/instances/"
CONTAINER_ID = "b54672e2-0a8b-490f-81ee-7d5a868471fc"  # container_active.json
VM_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"  # vm_active.json
ONE = f"{CONTAINERS}{CONTAINER_ID}"


def fixture(name: str) -> Any:
    return load_fixture("fluence", name)


def cited(name: str, where: str) -> str:
    return f"providers/tests/fixtures/fluence/{name}.json: {where}"


# The seed's container request, plus the adapter's own key "kind" (which path it goes to).
SPEC: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        "startup_command": "python3 serve.py --port 8000",
    },
    "constraints": {"location": "US"},
    "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host",
}
DETAIL = f"{NOTES} §2.7 container details"
ACTIVE = Route("GET", ONE, fixture("container_active"), source=cited("container_active", DETAIL))
LISTED = f"{NOTES} §2.6 list (a bare array; ENDED/FAILED instances stay listed)"


def ended(item: dict[str, Any], *, name: str, instance_id: str, created_at: str) -> dict[str, Any]:
    """A documented list row, terminated (NOTES §3: ENDED)."""
    return {
        **item,
        "id": instance_id,
        "name": name,
        "instance_status": "ENDED",
        "domain": None,
        "created_at": created_at,
    }


_rows = fixture("instances_containers")
FIND_CONTAINERS = [
    *_rows,
    # A newer, terminated instance of the same name as the live fuchsia-hawk-4706.
    ended(
        _rows[0],
        name="fuchsia-hawk-4706",
        instance_id="e0e0e0e0-0000-4000-8000-000000000001",
        created_at="2026-03-01T00:00:00Z",
    ),
    ended(
        _rows[0],
        name="retired-box",
        instance_id="e0e0e0e0-0000-4000-8000-000000000002",
        created_at="2026-01-01T00:00:00Z",
    ),
]


def status_routes(status: str) -> tuple[Route, ...]:
    return with_status((ACTIVE,), "instance_status", status)


CASE = Case(
    slug="fluence",
    base_url="https://api.fluence.dev",  # NOTES §1: every GPU path starts with /gpu
    key="fl_contract_key_0001",
    auth_header="X-API-KEY",  # NOTES §1
    auth_value="fl_contract_key_0001",
    spec=SPEC,
    # NOTES §2.4: POST /gpu/instances/ -> {"instance_id"}.
    create=(Route("POST", CONTAINERS, fixture("create"), source=cited("create", f"{NOTES} §2.4 response")),),
    created=Expect("3fa85f64-5717-4562-b3fc-2c963f66afa6", "my-gpu-container", RemoteState.PROVISIONING),
    get_id=CONTAINER_ID,
    get=(ACTIVE,),
    got=Expect(CONTAINER_ID, "fuchsia-hawk-4706", RemoteState.RUNNING),
    # NOTES §2.6: three collections, whole account, no pagination; the detail call per
    # ACTIVE instance is the adapter's (only details carry container_status, NOTES "Corrections").
    paging="none",
    listing=(
        Route("GET", CONTAINERS, _rows, source=cited("instances_containers", LISTED)),
        Route("GET", "/gpu/instances/vms", fixture("instances_vms"), source=cited("instances_vms", LISTED)),
        Route(
            "GET",
            "/gpu/instances/baremetal",
            fixture("instances_baremetal"),
            source=cited("instances_baremetal", LISTED),
        ),
        ACTIVE,
        Route(
            "GET",
            f"/gpu/instances/vms/{VM_ID}",
            fixture("vm_active"),
            source=cited("vm_active", f"{NOTES} §2.7 VM details"),
        ),
    ),
    listed=(
        CONTAINER_ID,
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "0d9c8b7a-6f5e-4d3c-2b1a-098765432100",
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        f"vms/{VM_ID}",
        "baremetal/1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    ),
    # NOTES §2: no start, stop or scale; update is a PUT (204) that redeploys a container,
    # which is also the adapter's restart; logs and events for containers.
    actions={
        Action.UPDATE: Call(
            (Route("PUT", ONE, status=204, source=f"{NOTES} §2.8 PUT -> 204, no body"), ACTIVE),
            {"spec": SPEC, "previous": SPEC},
        ),
        Action.RESTART: Call(
            (Route("PUT", ONE, status=204, source=f"{NOTES} §2.8 PUT -> 204 (a redeploy)"), ACTIVE), {"spec": SPEC}
        ),
        Action.DELETE: Call((Route("DELETE", ONE, status=204, source=f"{NOTES} §2.9 terminate -> 204"),)),
        Action.LOGS: Call(
            (Route("GET", f"{ONE}/logs", fixture("logs"), source=cited("logs", f"{NOTES} §2.10 array of strings")),)
        ),
        Action.EVENTS: Call(
            (
                Route(
                    "GET", f"{ONE}/events", fixture("events"), source=cited("events", f"{NOTES} §2.10 array of strings")
                ),
            )
        ),
    },
    # NOTES §4: 422 FastAPI {"detail": [{loc, msg, ...}]}, 400 {"detail": "<string>"}.
    errors={
        400: Error(
            fixture("error_ssh_pubkey"),
            source=cited("error_ssh_pubkey", f"{NOTES} §2.4: SSH_PUBKEY is reserved; §4 400 {{detail}}"),
        ),
        401: Error(fixture("error_unauthorized"), source=cited("error_unauthorized", f"{NOTES} §1 missing/bad key")),
        403: Error(fixture("error_forbidden"), source=cited("error_forbidden", f"{NOTES} §1 key lacks the scope")),
        404: Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404 on GET is gone")),
        422: Error(fixture("error_validation"), source=cited("error_validation", f"{NOTES} §4: 422 example")),
        500: Error(fixture("error_server"), source=cited("error_server", "FastAPI's default 500 body (NOTES §1)")),
    },
    not_found=Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404 on GET is gone")),
    # Names are not unique (NOTES §4): the newest instance of the name that has not ENDED.
    find=Find(
        routes=(
            Route("GET", CONTAINERS, FIND_CONTAINERS, source=cited("instances_containers", f"{LISTED}; §3 ENDED")),
            Route("GET", "/gpu/instances/vms", [], source=f"{NOTES} §2.6 list, empty"),
            Route("GET", "/gpu/instances/baremetal", [], source=f"{NOTES} §2.6 list, empty"),
            ACTIVE,
        ),
        name="fuchsia-hawk-4706",
        external_id=CONTAINER_ID,
        gone="retired-box",
    ),
    statuses=("INITIALIZED", "INITIATED", "ACTIVE", "FAILED", "ENDED"),
    statuses_source=f"{NOTES} §3: the API enum of 'Manage GPU instances', and 'Initiated' of the concept pages",
    status_routes=status_routes,
)
