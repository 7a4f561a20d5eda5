"""The Replicate twin, driven two ways: through Django's test client (its routes,
shapes, status codes, paging and simulated progress) and through the real adapter over
HTTP against ``live_server`` (what the panel's workers do). Time moves by patching the
twin's clock (``_now``) or by ageing its records: nothing here sleeps to wait."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.vendors.replicate import twin as twin
from providers.base import Action, AuthError, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient
from providers.replicate import ReplicateProvider
from providers.replicate.errors import field_named_in
from providers.replicate.statuses import DERIVED

ROOT = "/sandbox/replicate/v1"
KEY = "sandbox-alpha"
VERSION = twin.SEED_VERSION
SDXL_OLDER = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
# The seed's create request, exactly as written there.
SEED_CREATE = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}
# The notes' create request (§6).
NOTES_CREATE = {
    "name": "team-sdxl",
    "model": "stability-ai/sdxl",
    "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
    "hardware": "gpu-l40s",
    "min_instances": 0,
    "max_instances": 3,
}
BROKEN = {
    **NOTES_CREATE,
    "name": "broken",
    "model": twin.BROKEN_MODEL,
    "version": twin.MODELS[twin.BROKEN_MODEL]["versions"][0][0],
}


def owner(key: str = KEY) -> str:
    return f"sandbox-{account_for_key(key)[:8]}"


def call(client, method: str, path: str, body: Any = None, *, key: str | None = KEY, scheme: str = "Bearer", **headers):
    if key:
        headers["Authorization"] = f"{scheme} {key}"
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=body if isinstance(body, str) else json.dumps(body), content_type="application/json")
    return getattr(client, method.lower())(f"{ROOT}{path}" if path.startswith("/") else path, **kwargs)


def problem(response, status: int) -> dict[str, Any]:
    """RFC 7807 problem details, as Replicate answers errors."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"title", "detail", "status"}
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def create(client, body: dict[str, Any] | None = None, *, key: str = KEY) -> dict[str, Any]:
    response = call(client, "POST", "/deployments", body or SEED_CREATE, key=key)
    assert response.status_code == 200, response.content
    return response.json()


class Clock:
    """The twin's clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = dt.timedelta()
        monkeypatch.setattr(twin, "_now", lambda: timezone.now() + self.offset)

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def slow(settings, db):
    """Instances take an hour to boot: progress happens only when the clock moves."""
    settings.SANDBOX_PROVISION_SECONDS = 3600
    return settings


@pytest.fixture
def instant(settings, db):
    """Instances boot and predictions finish at once."""
    settings.SANDBOX_PROVISION_SECONDS = 0
    return settings


# --- auth and accounts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer r8_live_0123456789", "Basic sandbox-alpha", "Bearer ", "sandbox-alpha"],
    ids=["missing", "not-a-sandbox-key", "wrong-scheme", "empty-token", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/deployments", "/deployments/x/y", "/hardware", "/account", "/predictions"])
def test_replicate_sandbox_refuses_a_bad_token_like_replicate(client, db, authorization, path):
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = problem(client.get(f"{ROOT}{path}", headers=headers), 401)
    assert (body["title"], body["detail"]) == ("Unauthenticated", "You did not pass a valid authentication token")


def test_replicate_sandbox_takes_the_older_token_scheme(client, db):
    response = call(client, "GET", "/account", scheme="Token")
    assert response.status_code == 200
    assert response.json()["username"] == owner()


def test_replicate_sandbox_account_is_named_from_the_key_digest(client, db):
    body = call(client, "GET", "/account").json()
    assert body == {
        "type": "organization",
        "username": owner(),
        "name": f"Sandbox org {account_for_key(KEY)[:8]}",
        "github_url": None,
    }
    assert "alpha" not in json.dumps(body)


def test_replicate_sandbox_keys_are_isolated_accounts(client, instant):
    mine = create(client, key="sandbox-alpha")
    create(client, key="sandbox-beta")  # the same name, another owner
    alpha = call(client, "GET", "/deployments", key="sandbox-alpha").json()["results"]
    beta = call(client, "GET", "/deployments", key="sandbox-beta").json()["results"]
    assert [d["owner"] for d in alpha] == [owner("sandbox-alpha")]
    assert [d["owner"] for d in beta] == [owner("sandbox-beta")]
    path = f"/deployments/{mine['owner']}/{mine['name']}"
    problem(call(client, "GET", path, key="sandbox-beta"), 404)
    problem(call(client, "PATCH", path, {"min_instances": 0}, key="sandbox-beta"), 404)
    problem(call(client, "POST", f"{path}/predictions", {"input": {}}, key="sandbox-beta"), 404)
    assert call(client, "GET", path, key="sandbox-alpha").status_code == 200
    assert not SandboxObject.objects.filter(account__contains="sandbox").exists()


# --- deployments ------------------------------------------------------------------------------------


def test_replicate_sandbox_accepts_the_seeds_create_request_as_written(client, instant):
    response = call(client, "POST", "/deployments", SEED_CREATE)
    # 200, as the published OpenAPI's deployments.create answers (not 201).
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"owner", "name", "current_release"}
    assert (body["owner"], body["name"]) == (owner(), "my-app-image-generator")
    release = body["current_release"]
    assert set(release) == {"number", "model", "version", "created_at", "created_by", "configuration"}
    assert (release["number"], release["model"], release["version"]) == (1, "some-org/some-model", VERSION)
    assert release["configuration"] == {"hardware": "gpu-t4", "min_instances": 1, "max_instances": 5}
    assert release["created_by"]["type"] == "organization"
    assert release["created_by"]["username"] == owner()
    assert release["created_at"].endswith("Z")


def test_replicate_sandbox_accepts_the_notes_create_request(client, instant):
    body = create(client, NOTES_CREATE)
    assert body["current_release"]["model"] == "stability-ai/sdxl"
    assert body["current_release"]["configuration"] == {"hardware": "gpu-l40s", "min_instances": 0, "max_instances": 3}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        *[pytest.param({key: None}, key, id=f"{key}-required") for key in SEED_CREATE],
        pytest.param({"name": "My App"}, "name", id="name-pattern"),
        pytest.param({"name": "a" * 101}, "name", id="name-length"),
        pytest.param({"model": "some-model"}, "model", id="model-form"),
        pytest.param({"model": "some-org/no-such-model"}, "model", id="model-unknown"),
        pytest.param({"version": "1234"}, "version", id="version-form"),
        pytest.param({"version": "0" * 64}, "version", id="version-unknown"),
        pytest.param(
            {"model": "stability-ai/sdxl", "version": twin.MODELS[twin.BROKEN_MODEL]["versions"][0][0]},
            "version",
            id="version-of-another-model",
        ),
        pytest.param({"hardware": "gpu-z9"}, "hardware", id="hardware-unknown"),
        pytest.param({"min_instances": -1}, "min_instances", id="min-negative"),
        pytest.param({"min_instances": "1"}, "min_instances", id="min-type"),
        pytest.param({"max_instances": -1, "min_instances": 0}, "max_instances", id="max-negative"),
        pytest.param({"min_instances": 3, "max_instances": 2}, "max_instances", id="max-below-min"),
        # The published OpenAPI's deployments.create caps: min_instances 5, max_instances 20.
        pytest.param({"min_instances": 6, "max_instances": 6}, "min_instances", id="min-above-5"),
        pytest.param({"max_instances": 21}, "max_instances", id="max-above-20"),
    ],
)
def test_replicate_sandbox_refuses_invalid_fields_with_422(client, instant, changes, field):
    body = problem(call(client, "POST", "/deployments", {**SEED_CREATE, **changes}), 422)
    assert field_named_in(body["detail"]) == field
    assert not SandboxObject.objects.filter(kind="deployment").exists()


def test_replicate_sandbox_refuses_a_duplicate_name_with_409(client, instant):
    create(client)
    body = problem(call(client, "POST", "/deployments", SEED_CREATE), 409)
    assert "my-app-image-generator" in body["detail"]
    assert SandboxObject.objects.filter(kind="deployment").count() == 1


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_replicate_sandbox_refuses_a_body_that_is_not_an_object(client, instant, raw):
    problem(call(client, "POST", "/deployments", raw), 400)


def test_replicate_sandbox_gets_one_and_404s_the_rest(client, instant):
    made = create(client)
    got = call(client, "GET", f"/deployments/{owner()}/my-app-image-generator")
    assert got.json() == made
    assert problem(call(client, "GET", f"/deployments/{owner()}/nope"), 404)["detail"] == "Deployment not found"
    problem(call(client, "GET", "/deployments/acme/my-app-image-generator"), 404)


def test_replicate_sandbox_lists_newest_first_in_full_url_pages(client, instant, monkeypatch):
    monkeypatch.setattr(twin, "DEPLOYMENTS_PAGE", 2)
    names = [f"d{i}" for i in range(5)]
    for name in names:
        create(client, {**SEED_CREATE, "name": name})
    seen, url, previous = [], "/deployments", None
    while url:
        body = call(client, "GET", url).json()
        assert set(body) == {"next", "previous", "results"}
        seen.append([d["name"] for d in body["results"]])
        if url != "/deployments":
            assert body["previous"].startswith("http://testserver/sandbox/replicate/v1/deployments?cursor=")
            previous = body["previous"]
        url = body["next"]
        assert url is None or url.startswith("http://testserver/sandbox/replicate/v1/deployments?cursor=")
    assert seen == [["d4", "d3"], ["d2", "d1"], ["d0"]]
    back = call(client, "GET", previous).json()
    assert [d["name"] for d in back["results"]] == ["d2", "d1"]


def test_replicate_sandbox_patch_makes_a_new_release_each_time(client, instant):
    create(client)
    path = f"/deployments/{owner()}/my-app-image-generator"
    first = call(client, "PATCH", path, {"min_instances": 2, "max_instances": 6}).json()
    assert first["current_release"]["number"] == 2
    assert first["current_release"]["configuration"] == {"hardware": "gpu-t4", "min_instances": 2, "max_instances": 6}
    second = call(
        client,
        "PATCH",
        path,
        {"version": "4d17c878d1071d9776e1dda94310607e0cc5a5eca545adba41f9612e2668733d", "hardware": "gpu-l40s"},
    ).json()
    release = second["current_release"]
    assert (release["number"], release["model"], release["configuration"]["hardware"]) == (
        3,
        "some-org/some-model",
        "gpu-l40s",
    )
    assert release["version"].startswith("4d17c878")
    assert call(client, "GET", path).json() == second


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "stability-ai/sdxl"}, "model"),
        ({"name": "renamed"}, "name"),
        ({"version": SDXL_OLDER}, "version"),  # a version of another model
        ({"max_instances": 0}, "max_instances"),
        ({"min_instances": 9}, "min_instances"),  # above the published cap of 5
        ({"max_instances": 21}, "max_instances"),  # above the published cap of 20
        ({"hardware": "tpu"}, "hardware"),
        ({"min_instances": True}, "min_instances"),
    ],
)
def test_replicate_sandbox_patch_refuses_invalid_changes(client, instant, body, field):
    create(client)
    path = f"/deployments/{owner()}/my-app-image-generator"
    response = problem(call(client, "PATCH", path, body), 422)
    assert field_named_in(response["detail"]) == field
    assert call(client, "GET", path).json()["current_release"]["number"] == 1


def test_replicate_sandbox_patch_refuses_a_minimum_above_the_current_maximum(client, instant):
    create(client, {**SEED_CREATE, "max_instances": 3})
    path = f"/deployments/{owner()}/my-app-image-generator"
    response = problem(call(client, "PATCH", path, {"min_instances": 4}), 422)
    assert field_named_in(response["detail"]) == "max_instances"


def test_replicate_sandbox_takes_the_published_limits_themselves(client, instant):
    body = create(client, {**SEED_CREATE, "min_instances": 5, "max_instances": 20})
    assert body["current_release"]["configuration"]["max_instances"] == 20


def test_replicate_sandbox_delete_waits_15_minutes_offline_and_unused(client, instant, clock):
    create(client)
    path = f"/deployments/{owner()}/my-app-image-generator"
    refused = problem(call(client, "DELETE", path), 409)
    assert "offline and unused for at least 15 minutes" in refused["detail"]
    call(client, "PATCH", path, {"min_instances": 0})
    clock.advance(minutes=14)
    problem(call(client, "DELETE", path), 409)
    call(client, "POST", f"{path}/predictions", {"input": {"prompt": "late"}})  # used again
    clock.advance(minutes=14)
    problem(call(client, "DELETE", path), 409)
    clock.advance(minutes=1, seconds=30)
    deleted = call(client, "DELETE", path)
    assert (deleted.status_code, deleted.content) == (204, b"")
    problem(call(client, "GET", path), 404)
    problem(call(client, "DELETE", path), 404)


def test_replicate_sandbox_delete_of_one_created_at_zero_waits_from_creation(client, instant, clock):
    create(client, NOTES_CREATE)
    path = f"/deployments/{owner()}/team-sdxl"
    problem(call(client, "DELETE", path), 409)
    clock.advance(minutes=15)
    assert call(client, "DELETE", path).status_code == 204


# --- predictions ---------------------------------------------------------------------------------------


def predict(client, ref: str, body: dict[str, Any] | None = None, **headers) -> dict[str, Any]:
    response = call(
        client, "POST", f"/deployments/{ref}/predictions", body or {"input": {"prompt": "a red bicycle"}}, **headers
    )
    assert response.status_code == 201, response.content
    return response.json()


def prediction(client, pid: str) -> dict[str, Any]:
    response = call(client, "GET", f"/predictions/{pid}")
    assert response.status_code == 200
    return response.json()


# --- max_instances 0: stopped (the published OpenAPI's deployments.update: "minimum": 0) --------------


def test_replicate_sandbox_takes_max_instances_zero_and_then_serves_no_predictions(client, instant):
    create(client)  # the seed: min 1, max 5
    path = f"/deployments/{owner()}/my-app-image-generator"
    stopped = call(client, "PATCH", path, {"min_instances": 0, "max_instances": 0})
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["current_release"]["configuration"]["max_instances"] == 0
    refused = problem(call(client, "POST", f"{path}/predictions", {"input": {"prompt": "x"}}), 409)
    assert refused["detail"].startswith("max_instances is 0")
    assert not SandboxObject.objects.filter(kind="prediction").exists()
    started = call(client, "PATCH", path, {"min_instances": 1, "max_instances": 5})
    assert started.status_code == 200
    assert predict(client, f"{owner()}/my-app-image-generator")["status"] in ("starting", "processing", "succeeded")


def test_replicate_sandbox_creates_a_deployment_at_max_instances_zero(client, instant):
    body = create(client, {**NOTES_CREATE, "max_instances": 0})
    assert body["current_release"]["configuration"] == {"hardware": "gpu-l40s", "min_instances": 0, "max_instances": 0}


def test_replicate_sandbox_prediction_cold_boots_then_runs_then_succeeds(client, slow, clock):
    slow.SANDBOX_PROVISION_SECONDS = 600  # a 10-minute cold boot, then 200 s of work
    create(client, NOTES_CREATE)  # min_instances 0: nothing is up
    made = predict(client, f"{owner()}/team-sdxl")
    assert set(made) >= {
        "id",
        "model",
        "version",
        "deployment",
        "input",
        "output",
        "logs",
        "error",
        "status",
        "data_removed",
        "created_at",
        "started_at",
        "completed_at",
        "urls",
    }
    assert (made["status"], made["deployment"], made["model"]) == (
        "starting",
        f"{owner()}/team-sdxl",
        "stability-ai/sdxl",
    )
    assert (made["output"], made["error"], made["started_at"], made["data_removed"]) == (None, None, None, False)
    assert made["urls"]["get"] == f"http://testserver{ROOT}/predictions/{made['id']}"
    assert made["urls"]["cancel"] == f"http://testserver{ROOT}/predictions/{made['id']}/cancel"
    assert len(made["id"]) == 26
    clock.advance(minutes=9)
    assert prediction(client, made["id"])["status"] == "starting"  # still booting
    clock.advance(minutes=1, seconds=1)
    assert prediction(client, made["id"])["status"] == "processing"
    clock.advance(minutes=4)
    done = prediction(client, made["id"])
    assert done["status"] == "succeeded"
    assert done["output"] == [f"https://replicate.delivery/sandbox/{made['id']}/out-0.png"]
    assert done["metrics"]["predict_time"] == 200.0
    assert done["started_at"] < done["completed_at"]
    assert done["logs"] == "Starting prediction\nPrediction succeeded\n"
    clock.advance(hours=1)
    removed = prediction(client, made["id"])
    assert (removed["data_removed"], removed["input"], removed["output"], removed["logs"]) == (True, None, None, None)


def test_replicate_sandbox_warm_instances_take_predictions_once_booted(client, slow, clock):
    create(client)  # min_instances 1: setting up for an hour
    ref = f"{owner()}/my-app-image-generator"
    early = predict(client, ref)
    clock.advance(hours=1, seconds=1)
    assert prediction(client, early["id"])["status"] == "processing"  # waited for the boot
    later = predict(client, ref)
    assert prediction(client, later["id"])["status"] == "processing"  # an instance is up: no wait


def test_replicate_sandbox_idle_instance_goes_offline_after_a_while(client, slow, clock):
    create(client, NOTES_CREATE)
    ref = f"{owner()}/team-sdxl"
    predict(client, ref)
    clock.advance(hours=2)  # booted, ran, idled
    warm = predict(client, ref)
    assert prediction(client, warm["id"])["status"] == "starting"  # 40 minutes after: offline again, cold boot


def test_replicate_sandbox_broken_model_predictions_fail(client, instant):
    create(client, BROKEN)
    failed = prediction(client, predict(client, f"{owner()}/broken")["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == twin.BROKEN_ERROR
    assert failed["output"] is None


def test_replicate_sandbox_cancel_and_deadlines(client, slow, clock):
    create(client, NOTES_CREATE)
    ref = f"{owner()}/team-sdxl"
    waiting = predict(client, ref)
    canceled = call(client, "POST", f"/predictions/{waiting['id']}/cancel").json()
    assert canceled["status"] == "canceled"
    assert canceled["completed_at"]
    aborted = predict(client, ref, **{"Cancel-After": "1m"})
    clock.advance(minutes=2)
    body = prediction(client, aborted["id"])
    assert (body["status"], body["started_at"]) == ("aborted", None)
    assert body["deadline"] == aborted["deadline"]
    problem(call(client, "POST", f"/deployments/{ref}/predictions", {"input": {}}, **{"Cancel-After": "soon"}), 422)


def test_replicate_sandbox_prefer_wait_answers_when_done(client, instant):
    create(client, NOTES_CREATE)
    done = predict(client, f"{owner()}/team-sdxl", Prefer="wait=5")
    assert done["status"] == "succeeded"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": "a red bicycle"},
        {"input": {}, "webhook": "http://panel.example.com/hook"},
        {"input": {}, "webhook_events_filter": ["start", "finished"]},
    ],
    ids=["no-input", "input-not-object", "webhook-not-https", "bad-event-filter"],
)
def test_replicate_sandbox_refuses_bad_prediction_requests(client, instant, body):
    create(client, NOTES_CREATE)
    problem(call(client, "POST", f"/deployments/{owner()}/team-sdxl/predictions", body), 422)


def test_replicate_sandbox_accepts_the_notes_prediction_request(client, instant):
    create(client, NOTES_CREATE)
    body = {
        "input": {"prompt": "a red bicycle"},
        "webhook": "https://panel.example.com/hooks/replicate",
        "webhook_events_filter": ["start", "completed"],
    }
    made = predict(client, f"{owner()}/team-sdxl", body, Prefer="wait=30")
    assert made["input"] == {"prompt": "a red bicycle"}


def test_replicate_sandbox_lists_predictions_newest_first_and_by_time(client, instant, clock):
    create(client, NOTES_CREATE)
    ref = f"{owner()}/team-sdxl"
    old = predict(client, ref)
    clock.advance(hours=2)
    new = predict(client, ref)
    public = call(client, "POST", "/predictions", {"version": f"stability-ai/sdxl:{SDXL_OLDER}", "input": {}}).json()
    listing = call(client, "GET", "/predictions").json()
    assert [p["id"] for p in listing["results"]] == [public["id"], new["id"], old["id"]]
    assert listing["next"] is None
    assert "logs" not in listing["results"][0]  # list items leave the logs out
    assert "deployment" not in listing["results"][0]  # made on the shared pool, not a deployment
    after = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    recent = call(client, "GET", f"/predictions?created_after={after.replace('+', '%2B')}").json()
    assert [p["id"] for p in recent["results"]] == [public["id"], new["id"]]
    removed = prediction(client, old["id"])
    assert (removed["data_removed"], removed["input"], removed["output"]) == (True, None, None)  # after an hour
    problem(call(client, "GET", "/predictions?created_after=yesterday"), 422)
    problem(call(client, "GET", "/predictions/nope"), 404)


def test_replicate_sandbox_pages_predictions_by_100(client, instant):
    create(client, NOTES_CREATE)
    for _ in range(101):
        predict(client, f"{owner()}/team-sdxl")
    first = call(client, "GET", "/predictions").json()
    assert len(first["results"]) == 100
    second = call(client, "GET", first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_replicate_sandbox_public_prediction_needs_a_known_version(client, instant):
    problem(call(client, "POST", "/predictions", {"version": "stability-ai/sdxl", "input": {}}), 422)
    made = call(client, "POST", "/predictions", {"version": VERSION, "input": {"prompt": "x"}})
    assert made.status_code == 201


# --- catalog -----------------------------------------------------------------------------------------------


def test_replicate_sandbox_hardware_is_a_bare_array_of_name_and_sku(client, db):
    body = call(client, "GET", "/hardware").json()
    assert isinstance(body, list)
    assert {"name": "Nvidia T4 GPU", "sku": "gpu-t4"} in body
    assert all(set(item) == {"name", "sku"} for item in body)


def test_replicate_sandbox_models_and_versions(client, db):
    model = call(client, "GET", "/models/stability-ai/sdxl").json()
    assert (model["owner"], model["name"], model["visibility"]) == ("stability-ai", "sdxl", "public")
    assert model["latest_version"]["id"] == VERSION
    versions = call(client, "GET", "/models/some-org/some-model/versions").json()
    assert set(versions) == {"next", "previous", "results"}
    assert VERSION in [v["id"] for v in versions["results"]]
    one = call(client, "GET", f"/models/some-org/some-model/versions/{VERSION}").json()
    assert set(one) == {"id", "created_at", "cog_version", "openapi_schema"}
    problem(call(client, "GET", "/models/some-org/nope"), 404)
    problem(call(client, "GET", "/models/some-org/nope/versions"), 404)
    problem(call(client, "GET", f"/models/stability-ai/sdxl/versions/{'0' * 64}"), 404)


# --- faults -------------------------------------------------------------------------------------------------


def test_replicate_sandbox_rate_limit_is_the_documented_body(client, db):
    SandboxFault.objects.create(vendor="replicate", rate_limit_rate=1.0, retry_after_seconds=30)
    response = call(client, "GET", "/deployments")
    assert response.status_code == 429
    assert response.json() == {"detail": "Request was throttled. Your rate limit resets in ~30s."}
    assert response.headers["Retry-After"] == "30"


def test_replicate_sandbox_outage_is_a_503_problem(client, db):
    SandboxFault.objects.create(vendor="replicate", error_rate=1.0)
    problem(call(client, "GET", "/deployments"), 503)


# --- the real adapter over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def adapter(live_server, instant) -> Iterator[ReplicateProvider]:
    provider = ReplicateProvider(api_key="sandbox-live-adapter", base_url=f"{live_server.url}{ROOT}", timeout=10)
    yield provider
    provider.close()


def age(kind: str, *, seconds: float, **lookup: Any) -> None:
    """Move a twin record's times back, as if it were made ``seconds`` earlier."""
    for obj in SandboxObject.objects.filter(vendor="replicate", kind=kind, **lookup):
        for key, value in list(obj.data.items()):
            if key in ("created_at", "_start_at", "_done_at", "_zero_since", "_last_active", "_boot_done_at") and value:
                obj.data[key] = twin._iso(twin._time(value) - dt.timedelta(seconds=seconds))
        obj.save()


def test_replicate_adapter_runs_the_whole_lifecycle_against_the_sandbox(adapter, live_server):
    created = adapter.create(dict(SEED_CREATE))
    ref = f"{owner('sandbox-live-adapter')}/my-app-image-generator"
    assert (created.external_id, created.state, created.vendor_state) == (ref, RemoteState.RUNNING, "idle")
    assert created.message == DERIVED + "1 instance kept warm (min_instances 1, max_instances 5)"
    assert created.primary_url == f"{live_server.url}{ROOT}/deployments/{ref}/predictions"
    assert created.price_per_hour == Decimal("0.81")

    assert adapter.get(ref).state == RemoteState.RUNNING
    assert [r.external_id for r in adapter.list_remotes()] == [ref]
    found = adapter.find_by_name("my-app-image-generator")
    assert found is not None
    assert found.external_id == ref
    assert adapter.find_by_name("nobody") is None

    scaled = adapter.scale(ref, {"min_replicas": 2, "max_replicas": 6})
    assert scaled.raw["current_release"]["number"] == 2
    assert scaled.price_per_hour == Decimal("1.62")
    newer = {**SEED_CREATE, "version": "4d17c878d1071d9776e1dda94310607e0cc5a5eca545adba41f9612e2668733d"}
    updated = adapter.update(ref, newer, previous={**SEED_CREATE, "min_instances": 2, "max_instances": 6})
    release = updated.raw["current_release"]
    assert (release["number"], release["version"]) == (3, newer["version"])
    assert release["configuration"] == {"hardware": "gpu-t4", "min_instances": 1, "max_instances": 5}

    stopped = adapter.stop(ref, newer)
    assert (stopped.state, stopped.vendor_state, stopped.price_per_hour) == (RemoteState.STOPPED, "stopped", 0)
    config = stopped.raw["current_release"]["configuration"]
    assert (config["min_instances"], config["max_instances"]) == (0, 0)
    blocked = ReplicateProvider.action_blocked(Action.DELETE, spec=newer, raw=stopped.raw, since=timezone.now())
    assert "possible from" in blocked
    with pytest.raises(Rejected) as refused:
        adapter.delete(ref)
    assert "offline and unused for at least 15 minutes" in refused.value.message

    started = adapter.start(ref, newer)
    config = started.raw["current_release"]["configuration"]
    assert (started.state, config["min_instances"], config["max_instances"]) == (RemoteState.RUNNING, 1, 5)
    adapter.stop(ref, newer)
    age("deployment", seconds=16 * 60)
    adapter.delete(ref)
    with pytest.raises(NotFound):
        adapter.get(ref)
    assert adapter.find_by_name("my-app-image-generator") is None
    assert adapter.list_remotes() == []


def test_replicate_adapter_derives_health_from_the_twins_predictions(adapter, client, settings):
    settings.SANDBOX_PROVISION_SECONDS = 3600
    created = adapter.create(dict(NOTES_CREATE))
    ref = created.external_id
    headers = {"Authorization": "Bearer sandbox-live-adapter"}
    response = client.post(
        f"{ROOT}/deployments/{ref}/predictions",
        json.dumps({"input": {"prompt": "x"}}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201
    assert adapter.get(ref).vendor_state == "active"  # just asked: not yet a slow start
    age("prediction", seconds=40)
    waiting = adapter.get(ref)
    assert (waiting.state, waiting.vendor_state) == (RemoteState.PROVISIONING, "setting up")
    assert "cold start" in waiting.message
    assert waiting.price_per_hour == Decimal("3.51")  # the booting instance bills
    [event] = adapter.events(ref)
    assert (event.kind, event.message) == ("starting", f"Prediction {response.json()['id']} starting")


def test_replicate_adapter_flags_repeated_failures(adapter, client):
    created = adapter.create(dict(BROKEN))
    headers = {"Authorization": "Bearer sandbox-live-adapter"}
    for _ in range(3):
        client.post(
            f"{ROOT}/deployments/{created.external_id}/predictions",
            json.dumps({"input": {}}),
            content_type="application/json",
            headers=headers,
        )
    failing = adapter.list_remotes()[0]
    assert (failing.state, failing.vendor_state) == (RemoteState.FAILED, "failing")
    assert failing.message == DERIVED + f"the last 3 predictions failed: {twin.BROKEN_ERROR}"
    assert [e.kind for e in adapter.events(created.external_id)] == ["failed"] * 3


def test_replicate_adapter_lists_every_page(adapter, monkeypatch):
    monkeypatch.setattr(twin, "DEPLOYMENTS_PAGE", 2)
    for i in range(5):
        adapter.create({**SEED_CREATE, "name": f"page-{i}"})
    assert [r.name for r in adapter.list_remotes()] == [f"page-{i}" for i in (4, 3, 2, 1, 0)]


def test_replicate_adapter_bad_key_is_an_auth_error(live_server, db):
    provider = ReplicateProvider(api_key="r8_not_a_sandbox_key", base_url=f"{live_server.url}{ROOT}")
    with provider, pytest.raises(AuthError) as caught:
        provider.verify()
    assert caught.value.status_code == 401
    assert caught.value.message == "You did not pass a valid authentication token"


def test_replicate_adapter_two_keys_are_two_accounts(live_server, instant):
    base = f"{live_server.url}{ROOT}"
    with (
        ReplicateProvider(api_key="sandbox-one", base_url=base) as one,
        ReplicateProvider(api_key="sandbox-two", base_url=base) as two,
    ):
        made = one.create(dict(SEED_CREATE))
        assert [r.external_id for r in one.list_remotes()] == [made.external_id]
        assert two.list_remotes() == []
        with pytest.raises(NotFound):
            two.get(made.external_id)
        assert two.find_by_name("my-app-image-generator") is None
        assert (
            two.verify().summary
            == f"Key accepted: organization {owner('sandbox-two')} (Sandbox org {account_for_key('sandbox-two')[:8]})."
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"version": "0" * 64}, "version"), ({"model": "some-org/nope"}, "model"), ({"hardware": "gpu-z9"}, "hardware")],
)
def test_replicate_adapter_sandbox_refusal_lands_on_the_field(adapter, changes, field):
    with pytest.raises(SpecError) as caught:
        adapter.create({**SEED_CREATE, **changes})
    assert list(caught.value.fields) == [field]
    assert caught.value.status_code == 422


def test_replicate_adapter_duplicate_name_is_a_spec_error_on_name(adapter):
    adapter.create(dict(SEED_CREATE))
    with pytest.raises(SpecError) as caught:
        adapter.create(dict(SEED_CREATE))
    assert list(caught.value.fields) == ["name"]
    assert caught.value.status_code == 409


def test_replicate_adapter_rate_limit_is_raised_with_its_wait(adapter):
    SandboxFault.objects.create(vendor="replicate", rate_limit_rate=1.0, retry_after_seconds=60)
    with pytest.raises(RateLimited) as caught:
        adapter.list_remotes()
    assert caught.value.retry_after == 60.0
    assert caught.value.message == "Request was throttled. Your rate limit resets in ~60s."


def test_replicate_adapter_server_error_is_transient(adapter):
    SandboxFault.objects.create(vendor="replicate", error_rate=1.0)
    with pytest.raises(Transient) as caught:
        adapter.create(dict(SEED_CREATE))
    assert caught.value.status_code == 503


def test_replicate_adapter_no_capacity_leaves_predictions_waiting(adapter, client):
    SandboxFault.objects.create(vendor="replicate", no_capacity=True)
    created = adapter.create(dict(NOTES_CREATE))
    client.post(
        f"{ROOT}/deployments/{created.external_id}/predictions",
        json.dumps({"input": {}}),
        content_type="application/json",
        headers={"Authorization": "Bearer sandbox-live-adapter"},
    )
    age("prediction", seconds=120)
    assert adapter.get(created.external_id).vendor_state == "setting up"


def test_replicate_adapter_reads_the_catalog_with_prices(adapter):
    offers = {o.sku: o for o in adapter.catalog()}
    assert set(offers) == twin.HARDWARE_SKUS
    assert offers["gpu-t4"].price_per_hour == Decimal("0.81")
    assert offers["gpu-a100-large-2x"].price_per_hour == Decimal("10.08")
    assert offers["gpu-h100"].extra["note"].startswith("Additional H100 capacity")
