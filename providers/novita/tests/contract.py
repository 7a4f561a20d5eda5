"""Novita AI's documented answers for the contract suite.

Sources: ``shared/vendor-apis/novita.md`` (NOTES; its sources are Novita's GPU instance
API pages and error table, the official MCP server and public clients), the seed
``shared/seeds/004_fec64cfa50edafd2.txt`` and the fixtures in
``providers/tests/fixtures/novita/`` built from NOTES §2's examples and error table.
"""

from __future__ import annotations

from typing import Any

from providers.base import Action, RemoteState
from providers.contract import Call, Case, Error, Expect, Find, Route, with_status
from providers.testing import load_fixture

NOTES = "shared/vendor-apis/novita.md"
GPU = "/gpu-instance/openapi/v1"
ID = "8b7f3c2e1a9d4f60"  # instance_running.json
INSTANCE = f"{GPU}/gpu/instance"
INSTANCES = f"{GPU}/gpu/instances"


def fixture(name: str) -> Any:
    return load_fixture("novita", name)


def cited(name: str, where: str) -> str:
    return f"providers/tests/fixtures/novita/{name}.json: {where}"


# NOTES §2.3's create example, as written there.
SPEC: dict[str, Any] = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "imageAuthId": "",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "command": "",
    "entrypoint": "",
    "clusterId": "",
    "networkStorages": [{"Id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "month": 0,
    "minCudaVersion": "12.4",
}
GET_SOURCE = f"{NOTES} §2.5 get example"
LIST_SOURCE = f"{NOTES} §2.4 list {{instances, total}}, pageNum/pageSize"


def detail(item: dict[str, Any], name: str) -> Route:
    return Route("GET", INSTANCE, item, params={"instanceId": str(item["id"])}, source=cited(name, GET_SOURCE))


RUNNING = detail(fixture("instance_running"), "instance_running")
# The second running instance of the list, as its detail read (the running example's shape).
RUNNING_5 = detail({**fixture("instance_running"), "id": "inst0005", "name": "worker-5"}, "instance_running")


def action(verb: str) -> Route:
    return Route(
        "POST", f"{GPU}/gpu/instance/{verb}", fixture("empty"), source=cited("empty", f"{NOTES} §2.6/§2.7 {{}}")
    )


def removed(item: dict[str, Any], *, instance_id: str, name: str, created_at: str) -> dict[str, Any]:
    """A documented list row, released (NOTES §3: removed)."""
    return {**item, "id": instance_id, "name": name, "status": "removed", "createdAt": created_at}


_row = fixture("instances_page2")["instances"][0]  # llama-serve-01, running
LIVE_AND_REMOVED = {
    "instances": [removed(_row, instance_id="gone0001", name="llama-serve-01", created_at="1772449999"), _row],
    "total": 2,
}
ONLY_REMOVED = {
    "instances": [removed(_row, instance_id="gone0002", name="retired-01", created_at="1772440000")],
    "total": 1,
}


def without_total(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "total"}


_page1, _page2 = fixture("instances_page1"), fixture("instances_page2")
ZERO_BASED = f"{LIST_SOURCE}; 'Corrections': pageNum is documented >= 0 and the cnovita client starts at 0"
NO_TOTAL = f"{LIST_SOURCE}; 'Corrections': page correctly when the server omits total"
ONE_BASED = f"{LIST_SOURCE}; the MCP server counts pageNum from 1 (a server that reads 0 as 1)"
LIST_READINGS = {
    "pageNum counted from 1, 0 read as 1": (
        Route("GET", INSTANCES, _page1, params={"pageNum": "0"}, source=cited("instances_page1", ONE_BASED)),
        Route("GET", INSTANCES, _page1, params={"pageNum": "1"}, source=cited("instances_page1", ONE_BASED)),
        Route("GET", INSTANCES, _page2, params={"pageNum": "2"}, source=cited("instances_page2", ONE_BASED)),
        RUNNING,
        RUNNING_5,
    ),
    "no total": (
        Route(
            "GET", INSTANCES, without_total(_page1), params={"pageNum": "0"}, source=cited("instances_page1", NO_TOTAL)
        ),
        Route(
            "GET", INSTANCES, without_total(_page2), params={"pageNum": "1"}, source=cited("instances_page2", NO_TOTAL)
        ),
        Route("GET", INSTANCES, {"instances": []}, params={"pageNum": "2"}, source=NO_TOTAL),
        RUNNING,
        RUNNING_5,
    ),
}

# NOTES §3's status enum, in its order.
STATUSES = (
    "toCreate",
    "creating",
    "pending",
    "pulling",
    "running",
    "toStart",
    "starting",
    "toStop",
    "stopping",
    "exited",
    "toRestart",
    "restarting",
    "toReset",
    "resetting",
    "migrating",
    "freezing",
    "toRemove",
    "removing",
    "removed",
)


def status_routes(status: str) -> tuple[Route, ...]:
    return with_status((RUNNING,), "status", status)


CASE = Case(
    slug="novita",
    base_url="https://api.novita.ai",  # NOTES §1; the GPU API lives under /gpu-instance/openapi/v1
    key="sk_contract_key_0001",
    auth_header="Authorization",
    auth_value="Bearer sk_contract_key_0001",  # NOTES §1
    spec=SPEC,
    # NOTES §2.3: POST /gpu/instance/create -> {"id"}; the adapter then reads the instance.
    create=(
        Route("POST", f"{GPU}/gpu/instance/create", fixture("create"), source=cited("create", f"{NOTES} §2.3")),
        detail(fixture("instance_creating"), "instance_creating"),
    ),
    created=Expect(ID, "llama-serve-01", RemoteState.PROVISIONING),
    get_id=ID,
    get=(RUNNING,),
    got=Expect(ID, "llama-serve-01", RemoteState.RUNNING),
    # NOTES §2.4 and "Corrections": pageNum is ">= 0" (the cnovita client starts at 0); page
    # until `total` is collected. LIST_READINGS holds the 1-based reading and a missing total.
    paging="page-number",
    listing=(
        Route("GET", INSTANCES, _page1, params={"pageNum": "0"}, source=cited("instances_page1", ZERO_BASED)),
        Route("GET", INSTANCES, _page2, params={"pageNum": "1"}, source=cited("instances_page2", ZERO_BASED)),
        RUNNING,
        RUNNING_5,
    ),
    listed=("inst0001", "inst0002", ID, "inst0004", "inst0005"),
    list_readings=LIST_READINGS,
    # NOTES §2.6/§2.7: start, stop, restart, delete, edit/upgrade and log streams; no scale.
    actions={
        Action.START: Call((action("start"), RUNNING), {"spec": SPEC}),
        Action.STOP: Call((action("stop"), RUNNING), {"spec": SPEC}),
        Action.RESTART: Call((action("restart"), RUNNING), {"spec": SPEC}),
        Action.DELETE: Call((action("delete"),)),
        Action.UPDATE: Call(
            (action("upgrade"), RUNNING),
            {"spec": {**SPEC, "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0"}, "previous": SPEC},
        ),
        Action.LOGS: Call(
            (
                RUNNING,
                Route(
                    "GET",
                    fixture("instance_running")["connectComponentLog"]["systemLogAddress"],
                    text="pulling image docker.io/vllm/vllm-openai:latest\ncontainer started\n",
                    source=f"{NOTES} §2.5 connectComponentLog: logs are HTTP-stream URLs",
                ),
                Route(
                    "GET",
                    fixture("instance_running")["connectComponentLog"]["instanceLogAddress"],
                    text="INFO: Uvicorn running on http://0.0.0.0:8000\n",
                    source=f"{NOTES} §2.5 connectComponentLog: logs are HTTP-stream URLs",
                ),
            )
        ),
    },
    # NOTES §4: error names with their HTTP status, bodies {code, reason, message, metadata}.
    errors={
        400: Error(
            fixture("error_validator_gpunum"), source=cited("error_validator_gpunum", f"{NOTES} §4 VALIDATOR_PARAM")
        ),
        401: Error(fixture("error_unauthorized"), source=cited("error_unauthorized", f"{NOTES} §4 UNAUTHORIZED 401")),
        403: Error(fixture("error_forbidden"), source=cited("error_forbidden", f"{NOTES} §4 FORBIDDEN 403")),
        429: Error(
            fixture("error_rate_limited"), source=cited("error_rate_limited", f"{NOTES} §4 RATE_LIMIT_EXCEEDED")
        ),
        500: Error(fixture("error_unknown"), source=cited("error_unknown", f"{NOTES} §4 UNKNOWN 500")),
    },
    # NOTES §4: RESOURCE_NOT_FOUND is a 400, not a 404.
    not_found=Error(
        fixture("error_not_found"), status=400, source=cited("error_not_found", f"{NOTES} §4 RESOURCE_NOT_FOUND (400)")
    ),
    not_found_readings={
        "nested under error": Error(
            {"error": fixture("error_not_found")},
            status=400,
            source=cited(
                "error_not_found",
                f"{NOTES} 'Corrections': Novita's generic clients read errors nested as {{error: {{code, message}}}}",
            ),
        ),
        "plain 404": Error(
            fixture("error_not_found") | {"code": 404},
            source=cited("error_not_found", f"{NOTES} §3/§4: also handle 404 for unknown paths/ids"),
        ),
    },
    # Names are free text and the name filter fuzzy (NOTES §4): exact, newest, not released.
    find=Find(
        routes=(
            Route(
                "GET",
                INSTANCES,
                LIVE_AND_REMOVED,
                params={"name": "llama-serve-01"},
                source=f"{LIST_SOURCE}; §3 removed",
            ),
            Route("GET", INSTANCES, ONLY_REMOVED, params={"name": "retired-01"}, source=f"{LIST_SOURCE}; §3 removed"),
            RUNNING,
        ),
        name="llama-serve-01",
        external_id=ID,
        gone="retired-01",
    ),
    statuses=STATUSES,
    statuses_source=f"{NOTES} §3: the status enum of the get/list pages, plus `pending` seen by a public client",
    status_routes=status_routes,
    background=(
        Route("GET", f"{GPU}/products", fixture("products"), source=cited("products", f"{NOTES} §2.2 catalog")),
    ),
)
