"""Nosana's documented answers for the contract suite.

Sources: ``shared/vendor-apis/nosana.md`` (NOTES; its own sources are the deployment
manager's server code ``nosana-ci/nosana-deployment-manager`` ``src/router/schema/**`` and
``src/errors/index.ts``, and ``@nosana/api`` 2.1.8 ``dist/client/schema.d.ts``), the seed
``shared/seeds/000_cd5f2f8cf4f11fc3.txt`` (SEED) and the fixtures in
``providers/tests/fixtures/nosana/`` built from NOTES §6's examples.
"""

from __future__ import annotations

import copy
from typing import Any

from providers.base import Action, RemoteState
from providers.contract import Call, Case, Error, Expect, Find, Route, with_status
from providers.nosana.tests.samples import NOTES as SAMPLE_SPEC
from providers.testing import load_fixture

NOTES = "shared/vendor-apis/nosana.md"
SEED = "shared/seeds/000_cd5f2f8cf4f11fc3.txt"
DEPLOYMENTS = "/api/deployments"
DEP_ID = "5Fz1mJr2wQh8oV4yXkTq9cBd3NeLuA7sRpW6gHxYzK1M"  # deployment_running.json
DRAFT_ID = "9Hq3xV7kLm2PnR4tWz8yBc5dFg6jKs1uNe3aQw7rTy2E"  # deployment_draft.json
NIGHTLY_ID = "7PqR2sT5uV8wX1yZ4aB7cD2eF5gH8jK1mN4pQ7rS2tV5"  # deployment_list_page2.json, RUNNING
ONE = f"{DEPLOYMENTS}/{DEP_ID}"


def fixture(name: str) -> Any:
    return load_fixture("nosana", name)


def cited(name: str, where: str) -> str:
    return f"providers/tests/fixtures/nosana/{name}.json: {where}"


# The seed's create request, as written (the POST /api/deployments/create body).
SPEC: dict[str, Any] = {
    "name": "Hello World",
    "market": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    "timeout": 60,
    "replicas": 1,
    "strategy": "SIMPLE",
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
        "ops": [
            {"type": "container/run", "id": "hello-world", "args": {"cmd": ["echo hello world"], "image": "ubuntu"}}
        ],
    },
}
# NOTES §6's create request (the samples the vendor's own tests use): the spec of the
# deployment the get answers describe.
NOTES_SPEC: dict[str, Any] = SAMPLE_SPEC

RUNNING = Route(
    "GET", ONE, fixture("deployment_running"), source=cited("deployment_running", f"{NOTES} §6 create/get response")
)
JOBS = Route("GET", f"{ONE}/jobs", fixture("jobs_running"), source=cited("jobs_running", f"{NOTES} §6 Jobs example"))
JOBS_ENDED = Route(
    "GET",
    f"{ONE}/jobs",
    fixture("jobs_mixed"),
    source=cited("jobs_mixed", f"{NOTES} §3 job states (QUEUED/RUNNING/COMPLETED/STOPPED), §6 Jobs shape"),
)
# A RUNNING deployment's list/get row carries ``active_jobs`` (deployment-manager
# src/router/routes/get/deployments/list.ts, getDeploymentById.ts), so the adapter reads
# no jobs for it; only a RUNNING one with no running job has its jobs read.
GET = (RUNNING,)


def job_detail(job: str) -> Route:
    return Route(
        "GET",
        f"{ONE}/jobs/{job}",
        fixture("job_completed"),
        source=cited(
            "job_completed", f"{NOTES} §2 GET /api/deployments/{{id}}/jobs/{{job}}; logs in jobResult.opStates"
        ),
    )


def archived_twin(name: str, created_at: str, deployment_id: str) -> dict[str, Any]:
    """NOTES §6's deployment, archived (§3: ARCHIVED is terminal), under another id."""
    item = fixture("deployment_running")
    item.update(id=deployment_id, name=name, status="ARCHIVED", created_at=created_at, active_jobs=0, endpoints=[])
    return item


def page(*items: dict[str, Any]) -> dict[str, Any]:
    # NOTES §2: {deployments, pagination: {cursor_next, cursor_prev, total_items}}.
    return {
        "deployments": list(items),
        "pagination": {"cursor_next": None, "cursor_prev": None, "total_items": len(items)},
    }


FIND_SOURCE = f"{NOTES} §2 list shape and §3 ARCHIVED, on fixtures deployment_running.json"
LIVE_AND_ARCHIVED = page(
    archived_twin("llama-demo", "2026-03-03T10:00:00.000Z", "2ArchivedNewerTwin1111111111111111111111111"),
    fixture("deployment_running"),
)
ONLY_ARCHIVED = page(
    archived_twin("retired-demo", "2026-02-01T10:00:00.000Z", "3ArchivedOnly11111111111111111111111111111")
)
PAGE_1 = fixture("deployment_list_page1")


def status_routes(status: str) -> tuple[Route, ...]:
    return with_status(GET, "status", status)


CASE = Case(
    slug="nosana",
    base_url="https://dashboard.k8s.prd.nos.ci",  # NOTES §1 (mainnet)
    key="nos_contract_key_0001",
    auth_header="Authorization",
    auth_value="Bearer nos_contract_key_0001",  # NOTES §1: API key, credit-funded
    spec=SPEC,
    # NOTES §2: create answers the Deployment in DRAFT (200); the adapter then starts it.
    create=(
        Route(
            "POST",
            f"{DEPLOYMENTS}/create",
            fixture("deployment_draft"),
            source=cited("deployment_draft", f"{NOTES} §6 create response, status DRAFT"),
        ),
        Route(
            "POST",
            f"{DEPLOYMENTS}/{DRAFT_ID}/start",
            fixture("start"),
            source=cited("start", f"{NOTES} §2 POST /start -> {{status: STARTING, updated_at}}"),
        ),
    ),
    created=Expect(DRAFT_ID, "Hello World", RemoteState.PROVISIONING),
    get_id=DEP_ID,
    get=GET,
    got=Expect(DEP_ID, "llama-demo", RemoteState.RUNNING),
    # NOTES §2 "Pagination": keyset cursor, `cursor=<cursor_next>` until it is null.
    paging="cursor",
    listing=(
        Route("GET", DEPLOYMENTS, PAGE_1, source=cited("deployment_list_page1", f"{NOTES} §6 List example")),
        Route(
            "GET",
            DEPLOYMENTS,
            fixture("deployment_list_page2"),
            params={"cursor": PAGE_1["pagination"]["cursor_next"]},
            source=cited("deployment_list_page2", f"{NOTES} §2 Pagination: cursor_next null on the last page"),
        ),
        Route(
            "GET",
            f"{DEPLOYMENTS}/{NIGHTLY_ID}/jobs",
            {"jobs": [], "pagination": {"cursor_next": None, "cursor_prev": None, "total_items": 0}},
            source=f"{NOTES} §6 Jobs shape, no jobs (a SCHEDULED deployment between runs, §3)",
        ),
    ),
    listed=(DEP_ID, DRAFT_ID, NIGHTLY_ID, "3JkL9mN2pQ5rS8tV1wX4yZ7aB6cD9eF2gH5jK8mN1pQ4"),
    # NOTES §2's lifecycle and monitoring tables; no restart route.
    actions={
        Action.START: Call(
            (
                Route("POST", f"{ONE}/start", fixture("start"), source=cited("start", f"{NOTES} §2 POST /start")),
                *GET,
            ),
            {"spec": NOTES_SPEC},
        ),
        Action.STOP: Call(
            (Route("POST", f"{ONE}/stop", fixture("stop"), source=cited("stop", f"{NOTES} §6 Stop")),),
            {"spec": NOTES_SPEC},
        ),
        Action.SCALE: Call(
            (
                Route(
                    "PATCH",
                    f"{ONE}/update-replica-count",
                    {"replicas": 2, "updated_at": "2026-03-02T10:30:00.000Z"},
                    source=f"{NOTES} §2 PATCH update-replica-count -> {{replicas, updated_at}}",
                ),
                *GET,
            ),
            {"changes": {"replicas": 2}},
        ),
        Action.UPDATE: Call(
            (
                Route(
                    "PATCH",
                    f"{ONE}/update-replica-count",
                    {"replicas": 2, "updated_at": "2026-03-02T10:30:00.000Z"},
                    source=f"{NOTES} §2 PATCH update-replica-count -> {{replicas, updated_at}}",
                ),
                *GET,
            ),
            {"spec": {**copy.deepcopy(NOTES_SPEC), "replicas": 2}, "previous": NOTES_SPEC},
        ),
        Action.DELETE: Call((Route("DELETE", ONE, status=204, source=f"{NOTES} §2 DELETE -> 204 empty"),)),
        Action.ARCHIVE: Call(
            (Route("POST", f"{ONE}/archive", fixture("archive"), source=cited("archive", f"{NOTES} §2 POST /archive")),)
        ),
        Action.LOGS: Call(
            (
                JOBS_ENDED,
                job_detail("6CompLeTeDjOb1234567890abcdefghij"),
                job_detail("5StoPPedJob1234567890abcdefghijk"),
            )
        ),
        Action.EVENTS: Call(
            (
                Route(
                    "GET",
                    f"{ONE}/events",
                    fixture("events"),
                    source=cited("events", f"{NOTES} §2 GET /events -> {{events, pagination}}"),
                ),
                JOBS_ENDED,
            )
        ),
    },
    # NOTES §4 "Errors": {"error": "..."}; 401 the bare JSON string; 400 lists path: message.
    errors={
        400: Error(fixture("error_validation"), source=cited("error_validation", f"{NOTES} §4: 400 on create")),
        401: Error(fixture("error_unauthorized"), source=cited("error_unauthorized", f"{NOTES} §4: 401")),
        404: Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404")),
        500: Error(fixture("error_server"), source=cited("error_server", f"{NOTES} §4 src/errors/index.ts")),
    },
    not_found=Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404")),
    find=Find(
        routes=(
            Route("GET", DEPLOYMENTS, LIVE_AND_ARCHIVED, params={"name": "llama-demo"}, source=FIND_SOURCE),
            Route("GET", DEPLOYMENTS, ONLY_ARCHIVED, params={"name": "retired-demo"}, source=FIND_SOURCE),
            JOBS,
        ),
        name="llama-demo",
        external_id=DEP_ID,
        gone="retired-demo",
    ),
    statuses=("DRAFT", "STARTING", "RUNNING", "STOPPING", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS", "ARCHIVED"),
    statuses_source=f"{NOTES} §3 DeploymentStatus enum (deployment manager src/types/deployment.ts)",
    status_routes=status_routes,
    background=(
        Route(
            "GET",
            "/api/markets/",
            fixture("markets"),
            source=cited("markets", f"{NOTES} §2 GET /api/markets/ (public) and §6 Market item"),
        ),
    ),
)
