"""Replicate's documented answers for the contract suite.

Sources: ``shared/vendor-apis/replicate.md`` (NOTES; its sources are the HTTP API docs and
replicate-python's types, e.g. ``replicate/deployment.py``, ``replicate/prediction.py``,
``ReplicateError.from_response``), the seed ``shared/seeds/002_0d69ab0831111b63.txt`` and
the fixtures in ``providers/tests/fixtures/replicate/`` built from NOTES §6 and the seed's
deployment object.

Replicate reports no deployment status [NOTES §3]: the adapter derives one from
``min_instances`` and the account's recent predictions, so ``status_routes`` builds the
deployment and predictions that make each derived status, and an unknown status can only
reach it as a prediction status it does not know (which it must ignore without raising).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from providers.base import Action, RemoteState
from providers.contract import Call, Case, Error, Expect, Find, Route
from providers.testing import load_fixture

NOTES = "shared/vendor-apis/replicate.md"
SEED = "shared/seeds/002_0d69ab0831111b63.txt"
ONE = "/deployments/acme/team-sdxl"
VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"


def fixture(name: str) -> Any:
    return load_fixture("replicate", name)


def cited(name: str, where: str) -> str:
    return f"providers/tests/fixtures/replicate/{name}.json: {where}"


# NOTES §6's create request (all six fields required, NOTES §2).
SPEC = {
    "name": "team-sdxl",
    "model": "stability-ai/sdxl",
    "version": VERSION,
    "hardware": "gpu-l40s",
    "min_instances": 0,
    "max_instances": 3,
}
DEPLOYMENT = f"{NOTES} §2 Deployment object"
COLD = Route("GET", ONE, fixture("deployment"), source=cited("deployment", f"{DEPLOYMENT}, min_instances 0"))
WARM = Route("GET", ONE, fixture("deployment_scaled"), source=cited("deployment_scaled", f"{DEPLOYMENT}, min 1"))
PREDICTIONS_SHAPE = f"{NOTES} §2 GET /predictions, Pagination {{next, previous, results}}"
NO_PREDICTIONS = Route("GET", "/predictions", {"next": None, "previous": None, "results": []}, source=PREDICTIONS_SHAPE)


def predictions(*items: dict[str, Any]) -> Route:
    return Route(
        "GET",
        "/predictions",
        {"next": None, "previous": None, "results": list(items)},
        source=f"{PREDICTIONS_SHAPE}; predictions from prediction_*.json ({NOTES} §2 Prediction object)",
    )


def prediction(status: str, *, ago: float, n: int = 0) -> dict[str, Any]:
    """The documented prediction (prediction_starting.json) of this deployment, ``status``,
    created ``ago`` seconds before now (and finished a second later if terminal)."""
    created = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)
    item = fixture("prediction_starting")
    item.update(id=f"contract{n}{status}".replace(" ", ""), status=status, created_at=_iso(created))
    if status != "starting":
        item["started_at"] = _iso(created + dt.timedelta(seconds=0.5))
    if status in ("succeeded", "failed", "canceled", "aborted"):
        item["completed_at"] = _iso(created + dt.timedelta(seconds=1))
    if status == "failed":
        item["error"] = fixture("prediction_failed")["error"]
    return item


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def status_routes(status: str) -> tuple[Route, ...]:
    """The deployment and recent predictions behind each derived status (NOTES §3's table)."""
    if status == "offline":  # min_instances 0, no recent prediction
        return (COLD, NO_PREDICTIONS)
    if status == "idle":  # instances kept warm by min_instances, no work
        return (WARM, NO_PREDICTIONS)
    if status == "active":  # a prediction being processed
        return (WARM, predictions(prediction("processing", ago=2)))
    if status == "setting up":  # a prediction waiting a minute for an instance to boot
        return (COLD, predictions(prediction("starting", ago=60)))
    if status == "failing":  # repeated failed predictions
        return (COLD, predictions(*(prediction("failed", ago=30 + i, n=i) for i in range(3))))
    # A prediction status Replicate may add (NOTES §3: `aborted` is not in the SDK's
    # Literal, so accept unknown strings): ignored, the cold deployment reads offline.
    return (COLD, predictions(prediction(status, ago=30)))


PAGE_1 = fixture("deployments_page1")
CURSOR = PAGE_1["next"].rsplit("cursor=", 1)[1]
HTTP_NEXT = f"{NOTES} §2 Pagination: the docs' example `next` is http://api.replicate.com/v1/deployments?cursor=..."

CASE = Case(
    slug="replicate",
    base_url="https://api.replicate.com/v1",  # NOTES §1
    key="r8_contract_token_0001",
    auth_header="Authorization",
    auth_value="Bearer r8_contract_token_0001",  # NOTES §1
    spec=SPEC,
    # NOTES "Corrections": deployments.create answers 200 with the Deployment object.
    create=(Route("POST", "/deployments", fixture("deployment"), source=cited("deployment", DEPLOYMENT)),),
    created=Expect("acme/team-sdxl", "team-sdxl", RemoteState.STOPPED),
    get_id="acme/team-sdxl",
    get=(WARM, NO_PREDICTIONS),
    got=Expect("acme/team-sdxl", "team-sdxl", RemoteState.RUNNING),
    # NOTES §2 "Pagination": `next` is a full URL, null on the last page.
    paging="next-url",
    listing=(
        Route("GET", "/deployments", PAGE_1, source=cited("deployments_page1", f"{NOTES} §2 GET /deployments")),
        Route(
            "GET",
            "/deployments",
            fixture("deployments_page2"),
            params={"cursor": CURSOR},
            source=cited("deployments_page2", f"{NOTES} §2 Pagination: next null on the last page"),
        ),
        NO_PREDICTIONS,
    ),
    listed=("acme/team-sdxl", "acme/my-app-image-generator"),
    list_readings={
        "next link in http:// as the docs write it": (
            Route(
                "GET",
                "/deployments",
                {**PAGE_1, "next": PAGE_1["next"].replace("https://", "http://")},
                source=cited("deployments_page1", HTTP_NEXT),
            ),
            Route(
                "GET",
                "/deployments",
                fixture("deployments_page2"),
                params={"cursor": CURSOR},
                source=cited("deployments_page2", HTTP_NEXT),
            ),
            NO_PREDICTIONS,
        ),
    },
    # NOTES §2: no start/stop/restart/logs routes; start, stop and scale are PATCHes of the
    # instance bounds, recent predictions the only history.
    actions={
        Action.START: Call(
            (
                Route("PATCH", ONE, fixture("deployment_scaled"), source=cited("deployment_scaled", DEPLOYMENT)),
                NO_PREDICTIONS,
            ),
            {"spec": SPEC},
        ),
        Action.STOP: Call(
            (Route("PATCH", ONE, fixture("deployment"), source=cited("deployment", DEPLOYMENT)), NO_PREDICTIONS),
            {"spec": SPEC},
        ),
        Action.SCALE: Call(
            (
                Route("PATCH", ONE, fixture("deployment_scaled"), source=cited("deployment_scaled", DEPLOYMENT)),
                NO_PREDICTIONS,
            ),
            {"changes": {"min_instances": 1, "max_instances": 5}},
        ),
        Action.UPDATE: Call(
            (
                Route("PATCH", ONE, fixture("deployment_scaled"), source=cited("deployment_scaled", DEPLOYMENT)),
                NO_PREDICTIONS,
            ),
            {"spec": {**SPEC, "max_instances": 5}, "previous": SPEC},
        ),
        Action.DELETE: Call((Route("DELETE", ONE, status=204, source=f"{NOTES} §2 DELETE -> 204 empty"),)),
        Action.EVENTS: Call(
            (Route("GET", "/predictions", fixture("predictions"), source=cited("predictions", PREDICTIONS_SHAPE)),)
        ),
    },
    # NOTES §4: RFC 7807 problem details {type?, title?, status?, detail?, instance?}.
    errors={
        401: Error(fixture("error_unauthorized"), source=cited("error_unauthorized", f"{NOTES} §4: 401 bad token")),
        404: Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404 unknown owner/name")),
        422: Error(fixture("error_invalid_version"), source=cited("error_invalid_version", f"{NOTES} §4: 422")),
        429: Error(fixture("error_throttled"), source=cited("error_throttled", f"{NOTES} §4: the 429 body")),
        500: Error(fixture("error_server"), source=cited("error_server", f"{NOTES} §4 problem details")),
    },
    not_found=Error(fixture("error_not_found"), source=cited("error_not_found", f"{NOTES} §4: 404")),
    # owner/name is the URL (NOTES §4), so find_by_name is a get under the key's account;
    # a deleted deployment is a 404 (NOTES §3: DELETE 204 / GET 404).
    find=Find(
        routes=(
            Route("GET", "/account", fixture("account"), source=cited("account", f"{NOTES} §2 GET /account")),
            WARM,
            NO_PREDICTIONS,
            Route(
                "GET",
                "/deployments/acme/retired-sdxl",
                fixture("error_not_found"),
                status=404,
                source=cited("error_not_found", f"{NOTES} §3: GET 404 after DELETE"),
            ),
        ),
        name="team-sdxl",
        external_id="acme/team-sdxl",
        gone="retired-sdxl",
    ),
    statuses=("offline", "setting up", "active", "idle"),
    statuses_source=f"{NOTES} §3: the instance lifecycle of Replicate's billing docs (no status field in the API)",
    status_routes=status_routes,
    unknown_state=RemoteState.STOPPED,
    background=(NO_PREDICTIONS,),
)
