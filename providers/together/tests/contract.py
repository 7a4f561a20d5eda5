"""Together AI's documented answers for the contract suite.

Sources: the seed's OpenAPI excerpt ``shared/seeds/001_0c9ef9f7f55b23e7.txt``
(``CreateDeploymentRequest``, ``DeploymentResponseItem``, ``DeploymentStatus``; SEED),
``shared/vendor-apis/together.md`` (NOTES; its sources include the official SDK, PyPI
``together`` 3.1.1 ``together/types/beta/*`` and npm ``together-ai``) and the fixtures in
``providers/tests/fixtures/together/`` built from NOTES §6 and the seed's schemas.
"""

from __future__ import annotations

from typing import Any

from providers.base import Action, RemoteState
from providers.contract import Call, Case, Error, Expect, Find, Route, with_status
from providers.testing import load_fixture

NOTES = "shared/vendor-apis/together.md"
SEED = "shared/seeds/001_0c9ef9f7f55b23e7.txt"
IMAGE = "registry.together.xyz/proj_abc123/flux-worker@sha256:4f1c9e9"
ONE = "/deployments/dep_abc123"


def fixture(name: str) -> Any:
    return load_fixture("together", name)


def cited(name: str, where: str) -> str:
    return f"providers/tests/fixtures/together/{name}.json: {where}"


# CreateDeploymentRequest's required fields (SEED: required gpu_type, image, name).
SPEC = {"name": "flux-worker", "image": IMAGE, "gpu_type": "h100-80gb"}
ITEM = f"{SEED} DeploymentResponseItem, values from {NOTES} §6"
READY = Route("GET", ONE, fixture("deployment_ready"), source=cited("deployment_ready", ITEM))
NOT_FOUND = Error(
    fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4 ErrorData; §2 404 if absent")
)


def patch(name: str) -> Route:
    return Route("PATCH", ONE, fixture(name), source=cited(name, f"{NOTES} §2 PATCH -> DeploymentResponseItem"))


def status_routes(status: str) -> tuple[Route, ...]:
    return with_status((READY,), "status", status)


CASE = Case(
    slug="together",
    base_url="https://api.together.ai/v1",  # NOTES §1
    key="tg-contract-key-0001",
    auth_header="Authorization",
    auth_value="Bearer tg-contract-key-0001",  # NOTES §1
    spec=SPEC,
    # NOTES §2: POST /deployments answers the DeploymentResponseItem (200); the first
    # rollout reports Updating (§3).
    create=(Route("POST", "/deployments", fixture("deployment_updating"), source=cited("deployment_updating", ITEM)),),
    created=Expect("dep_abc123", "flux-worker", RemoteState.UPDATING),
    get_id="dep_abc123",
    get=(READY,),
    got=Expect("dep_abc123", "flux-worker", RemoteState.RUNNING),
    # NOTES §2: GET /deployments -> {object: "list", data: [...]}, no pagination parameters.
    paging="none",
    listing=(
        Route("GET", "/deployments", fixture("deployment_list"), source=cited("deployment_list", f"{NOTES} §2 list")),
    ),
    listed=("dep_abc123", "dep_def456"),
    # NOTES §2: no start/stop/scale routes, all three are PATCHes of the replica bounds.
    actions={
        Action.START: Call((patch("deployment_scaling"),), {"spec": {**SPEC, "min_replicas": 1, "max_replicas": 4}}),
        Action.STOP: Call((patch("deployment_stopping"),), {"spec": SPEC}),
        Action.SCALE: Call((patch("deployment_scaling"),), {"changes": {"min_replicas": 2, "max_replicas": 4}}),
        Action.UPDATE: Call((patch("deployment_updating"),), {"spec": SPEC, "previous": SPEC}),
        Action.DELETE: Call((Route("DELETE", ONE, {}, source=f"{NOTES} §2 DELETE -> 200 {{}}"),)),
        Action.LOGS: Call(
            (Route("GET", f"{ONE}/logs", fixture("logs"), source=cited("logs", f"{NOTES} §2 logs -> {{lines}}")),)
        ),
    },
    # NOTES §4: ErrorData {"error": {message, type, param?, code?}}; codes 400/401/402/403/404/429/500/503.
    errors={
        400: Error(fixture("error_invalid_param"), source=cited("error_invalid_param", f"{NOTES} §4 ErrorData, 400")),
        401: Error(fixture("error_unauthorized"), source=cited("error_unauthorized", f"{NOTES} §4 ErrorData, 401")),
        403: Error(fixture("error_forbidden"), source=cited("error_forbidden", f"{NOTES} §4 ErrorData, 403")),
        404: NOT_FOUND,
        429: Error(fixture("error_rate_limited"), source=cited("error_rate_limited", f"{NOTES} §4 ErrorData, 429")),
        500: Error(fixture("error_server"), source=cited("error_server", f"{NOTES} §4 ErrorData, 500")),
        503: Error(fixture("error_server"), source=cited("error_server", f"{NOTES} §4 ErrorData, 503 overloaded")),
    },
    not_found=NOT_FOUND,
    # NOTES §2: `{id}` accepts the name; §3: a deleted deployment is a 404.
    find=Find(
        routes=(
            Route(
                "GET", "/deployments/flux-worker", fixture("deployment_ready"), source=cited("deployment_ready", ITEM)
            ),
            Route(
                "GET",
                "/deployments/retired-worker",
                fixture("error_not_found"),
                status=404,
                source=cited("error_not_found", f"{NOTES} §3: (404 after DELETE) gone"),
            ),
        ),
        name="flux-worker",
        external_id="dep_abc123",
        gone="retired-worker",
    ),
    statuses=("Updating", "Scaling", "Ready", "Failed", "ScaledToZero"),
    statuses_source=(
        f"{SEED} DeploymentStatus enum; ScaledToZero from {NOTES} 'Corrections' (PyPI together 3.1.1 "
        "together/types/beta/container_deployment_status.py, npm together-ai resources/beta/jig/jig.d.ts)"
    ),
    status_routes=status_routes,
)
