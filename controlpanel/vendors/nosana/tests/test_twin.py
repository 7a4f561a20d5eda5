"""The Nosana twin, driven two ways: through Django's test client (its routes, shapes,
status codes and the simulated clock) and through the real adapter over HTTP against
``live_server`` (what the panel's workers do). Nosana has no official Python client,
so every answer is held to the shapes of ``@nosana/api``'s generated schema as the
notes transcribe them (``schemas/nosana-api.json``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.vendors.nosana import twin as twin
from providers.base import AuthError, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient
from providers.nosana import NosanaProvider

ROOT = "/sandbox/nosana/api"
KEY = "sandbox-alpha"
M3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
M4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"
SCHEMA_FILE = Path(twin.__file__).parent / "nosana-api.json"
# The seed's create request, exactly as written.
SEED_BODY = """{
    "name": "Hello World",
    "market": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    "timeout": 60,
    "replicas": 1,
    "strategy": "SIMPLE",
    "job_definition": {
      "version": "0.1",
      "type": "container",
      "meta": {
        "trigger": "api"
      },
      "ops": [
        {
          "type": "container/run",
          "id": "hello-world",
          "args": {
            "cmd": ["echo hello world"],
            "image": "ubuntu"
          }
        }
      ]
    }
  }"""
SEED = json.loads(SEED_BODY)
WEB = {
    **SEED,
    "name": "web-demo",
    "market": M4090,
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api", "system_requirements": {"required_vram": 16}},
        "ops": [
            {
                "type": "container/run",
                "id": "vllm",
                "args": {"image": "docker.io/vllm/vllm-openai:v0.5.4", "gpu": True, "expose": 8000},
            }
        ],
    },
}


@cache
def validator(name: str) -> Draft202012Validator:
    doc = json.loads(SCHEMA_FILE.read_text())
    return Draft202012Validator({"$defs": doc["$defs"], "$ref": f"#/$defs/{name}"})


def shaped(response, name: str, status: int = 200) -> Any:
    """The body, held to the @nosana/api shape ``name``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert [e.message for e in validator(name).iter_errors(body)] == [], body
    return body


def error_of(response, status: int) -> str:
    body = shaped(response, "Error", status)
    assert set(body) == {"error"}
    return body["error"]


def call(client, method: str, path: str, body: Any = None, *, key: str | None = KEY, raw: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None or raw is not None:
        kwargs.update(data=raw if raw is not None else json.dumps(body), content_type="application/json")
    return getattr(client, method.lower())(f"{ROOT}{path}", **kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # a whole minute, so cron ticks fall on round numbers

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch, settings, db) -> Clock:
    """The twin's time, moved by hand: LIST at +1 s, jobs running at +3 s, and each
    minute of a job's timeout lasts one second."""
    settings.SANDBOX_PROVISION_SECONDS = 3
    settings.SANDBOX_NOSANA_SECONDS_PER_MINUTE = 1
    clock = Clock()
    monkeypatch.setattr(twin, "_now", lambda: clock.now)
    return clock


def create(client, body: dict[str, Any] | None = None, *, key: str = KEY) -> dict[str, Any]:
    return shaped(call(client, "POST", "/deployments/create", body or SEED, key=key), "Deployment")


def get(client, ref: str, *, key: str = KEY) -> dict[str, Any]:
    return shaped(call(client, "GET", f"/deployments/{ref}", key=key), "Deployment")


def jobs_of(client, ref: str, query: str = "") -> list[dict[str, Any]]:
    return shaped(call(client, "GET", f"/deployments/{ref}/jobs{query}"), "JobList")["jobs"]


def started(client, clock, body: dict[str, Any] | None = None) -> str:
    ref = create(client, body)["id"]
    shaped(call(client, "POST", f"/deployments/{ref}/start"), "StatusChange")
    return ref


# --- auth and accounts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nos_live_0123456789", "Basic sandbox-alpha", "Bearer ", "sandbox-alpha"],
    ids=["missing", "not-a-sandbox-key", "wrong-scheme", "empty-token", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/deployments", "/deployments/x/jobs", "/credits/balance"])
def test_nosana_sandbox_refuses_a_bad_key_with_the_bare_string(client, db, authorization, path):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get(f"{ROOT}{path}", headers=headers)
    assert response.status_code == 401
    assert response.content == b'"Unauthorized"'
    shaped(response, "Unauthorized", 401)


def test_nosana_sandbox_markets_are_public(client, db):
    response = client.get(f"{ROOT}/markets/")  # no Authorization header at all
    assert response.status_code == 200
    markets = response.json()
    assert len(markets) >= 14
    for market in markets:
        assert [e.message for e in validator("Market").iter_errors(market)] == []


def test_nosana_sandbox_keys_are_isolated_accounts(client, clock):
    mine = create(client, key="sandbox-alpha")
    create(client, {**SEED, "name": "theirs"}, key="sandbox-beta")
    alpha = shaped(call(client, "GET", "/deployments", key="sandbox-alpha"), "DeploymentList")
    beta = shaped(call(client, "GET", "/deployments", key="sandbox-beta"), "DeploymentList")
    assert [d["name"] for d in alpha["deployments"]] == ["Hello World"]
    assert [d["name"] for d in beta["deployments"]] == ["theirs"]
    assert (
        error_of(call(client, "GET", f"/deployments/{mine['id']}", key="sandbox-beta"), 404) == "Deployment not found."
    )
    assert error_of(call(client, "POST", f"/deployments/{mine['id']}/start", key="sandbox-beta"), 404)
    assert not SandboxObject.objects.filter(account__contains="sandbox").exists()
    assert {account_for_key("sandbox-alpha"), account_for_key("sandbox-beta")} <= set(
        SandboxObject.objects.values_list("account", flat=True)
    )
    assert mine["vault"] != beta["deployments"][0]["vault"]


# --- the seed, lifecycle and the simulated clock ----------------------------------------------------------


def test_nosana_sandbox_accepts_the_seed_request_as_written(client, clock):
    response = call(client, "POST", "/deployments/create", raw=SEED_BODY)
    created = shaped(response, "Deployment")  # 200, not 201 [V]
    assert (created["name"], created["market"], created["status"]) == ("Hello World", M3060, "DRAFT")
    assert (created["replicas"], created["timeout"], created["strategy"]) == (1, 60, "SIMPLE")
    assert (created["active_revision"], created["active_jobs"], created["endpoints"]) == (1, 0, [])


@pytest.mark.parametrize("method", ["POST", "GET"], ids=["schema-post", "seed-get"])
def test_nosana_sandbox_start_takes_the_schemas_post_and_the_seeds_get(client, clock, method):
    ref = create(client)["id"]
    body = shaped(call(client, method, f"/deployments/{ref}/start"), "StatusChange")
    assert body["status"] == "STARTING"
    assert get(client, ref)["status"] == "STARTING"


def test_nosana_sandbox_simple_runs_for_its_timeout_then_stops_by_itself(client, clock):
    ref = started(client, clock)
    clock.advance(1)  # the LIST task: RUNNING, one queued job
    assert (get(client, ref)["status"], get(client, ref)["active_jobs"]) == ("RUNNING", 0)
    [queued] = jobs_of(client, ref)
    assert (queued["state"], queued["node"], queued["market"], queued["revision"]) == ("QUEUED", None, M3060, 1)
    clock.advance(2)  # a node takes it
    running = get(client, ref)
    assert (running["status"], running["active_jobs"]) == ("RUNNING", 1)
    [job] = jobs_of(client, ref)
    assert job["state"] == "RUNNING"
    assert job["node"]
    clock.advance(59)
    assert jobs_of(client, ref)[0]["state"] == "RUNNING"
    clock.advance(2)  # 60 "minutes" of timeout later
    done = get(client, ref)
    assert (done["status"], done["active_jobs"]) == ("STOPPED", 0)
    [ended] = jobs_of(client, ref)
    assert ended["state"] == "COMPLETED"
    assert "time_end" not in ended  # not in the Job schema (job.schema.ts); the job's own page has timeEnd
    detail = shaped(call(client, "GET", f"/deployments/{ref}/jobs/{ended['job']}"), "JobById")
    assert detail["timeEnd"] >= detail["timeStart"] == ended["time_start"]
    assert detail["jobStatus"] == "success"
    logs = [entry["log"] for entry in detail["jobResult"]["opStates"][0]["logs"]]
    assert "hello world\n" in logs
    assert detail["jobDefinition"] == SEED["job_definition"]


def test_nosana_sandbox_stays_starting_while_provisioning(client, clock):
    ref = started(client, clock)
    clock.advance(0.5)
    assert get(client, ref)["status"] == "STARTING"
    assert jobs_of(client, ref) == []


def test_nosana_sandbox_simple_extend_extends_while_credits_last_then_stops(client, clock):
    ref = started(client, clock, {**SEED, "strategy": "SIMPLE-EXTEND"})
    credits = twin._credits(account_for_key(KEY))
    credits.data["assignedCredits"] = 0.2  # room for four periods of 0.044
    credits.save()
    clock.advance(3 + 60 * 5)
    assert get(client, ref)["status"] == "STOPPED"
    events = shaped(call(client, "GET", f"/deployments/{ref}/events?limit=100"), "EventList")["events"]
    types = [e["type"] for e in events]
    assert types.count("JOB_EXTENDED") == 3
    assert "JOB_NOT_EXTENDED" in types
    balance = shaped(call(client, "GET", "/credits/balance"), "CreditsBalance")
    assert balance["reservedCredits"] == 0
    assert balance["settledCredits"] == pytest.approx(0.176)


def test_nosana_sandbox_infinite_lists_a_replacement_before_the_timeout(client, clock):
    ref = started(client, clock, {**SEED, "strategy": "INFINITE", "timeout": 60, "rotation_time": 20})
    clock.advance(3)
    [first] = jobs_of(client, ref)
    clock.advance(40)  # 20 "minutes" before its timeout
    states = sorted(j["state"] for j in jobs_of(client, ref))
    assert states == ["QUEUED", "RUNNING"]
    clock.advance(20)
    jobs = {j["job"]: j["state"] for j in jobs_of(client, ref)}
    assert jobs.pop(first["job"]) == "COMPLETED"
    assert list(jobs.values()) == ["RUNNING"]
    assert get(client, ref)["status"] == "RUNNING"


def test_nosana_sandbox_scheduled_lists_at_each_cron_tick(client, clock):
    ref = started(client, clock, {**SEED, "strategy": "SCHEDULED", "schedule": "* * * * *", "timeout": 10})
    clock.advance(1)
    waiting = get(client, ref)
    assert (waiting["status"], waiting["schedule"]) == ("RUNNING", "* * * * *")
    assert jobs_of(client, ref) == []
    clock.advance(59)  # the next whole minute
    assert [j["state"] for j in jobs_of(client, ref)] == ["QUEUED"]
    clock.advance(2 + 10)
    assert [j["state"] for j in jobs_of(client, ref)] == ["COMPLETED"]
    assert get(client, ref)["status"] == "RUNNING"  # waiting for the next tick


def test_nosana_sandbox_stop_goes_through_stopping(client, clock):
    ref = started(client, clock)
    clock.advance(3)
    body = shaped(call(client, "POST", f"/deployments/{ref}/stop"), "StatusChange")
    assert body["status"] == "STOPPING"
    assert get(client, ref)["status"] == "STOPPING"
    clock.advance(1.5)
    assert get(client, ref)["status"] == "STOPPED"
    assert [j["state"] for j in jobs_of(client, ref)] == ["STOPPED"]


def test_nosana_sandbox_wrong_state_actions_are_500_incorrect_state(client, clock):
    ref = create(client)["id"]
    for action in ("stop", "archive"):
        assert error_of(call(client, "POST", f"/deployments/{ref}/{action}"), 500) == twin.INCORRECT_STATE
    assert error_of(call(client, "DELETE", f"/deployments/{ref}"), 500) == twin.INCORRECT_STATE
    call(client, "POST", f"/deployments/{ref}/start")
    assert error_of(call(client, "POST", f"/deployments/{ref}/start"), 500) == twin.INCORRECT_STATE
    assert error_of(call(client, "POST", f"/deployments/{ref}/stop"), 500) == twin.INCORRECT_STATE  # STARTING


def test_nosana_sandbox_archive_then_every_change_is_refused(client, clock):
    ref = started(client, clock)
    clock.advance(3)
    call(client, "POST", f"/deployments/{ref}/stop")
    clock.advance(2)
    assert shaped(call(client, "POST", f"/deployments/{ref}/archive"), "StatusChange")["status"] == "ARCHIVED"
    assert get(client, ref)["status"] == "ARCHIVED"
    assert error_of(call(client, "POST", f"/deployments/{ref}/stop"), 500) == twin.ARCHIVED
    assert error_of(call(client, "PATCH", f"/deployments/{ref}/update-replica-count", {"replicas": 2}), 500) == (
        twin.ARCHIVED
    )
    assert error_of(call(client, "POST", f"/deployments/{ref}/start"), 500) == twin.INCORRECT_STATE


def test_nosana_sandbox_delete_when_stopped_is_204_then_404(client, clock):
    ref = started(client, clock)
    clock.advance(3 + 61)
    assert get(client, ref)["status"] == "STOPPED"
    response = call(client, "DELETE", f"/deployments/{ref}")
    assert (response.status_code, response.content) == (204, b"")
    assert error_of(call(client, "GET", f"/deployments/{ref}"), 404) == "Deployment not found."


def test_nosana_sandbox_replica_count_lists_the_shortfall_and_stops_the_excess(client, clock):
    ref = started(client, clock, {**SEED, "replicas": 2})
    clock.advance(3)
    body = call(client, "PATCH", f"/deployments/{ref}/update-replica-count", {"replicas": 3}).json()
    assert body["replicas"] == 3
    assert sorted(j["state"] for j in jobs_of(client, ref)) == ["QUEUED", "RUNNING", "RUNNING"]
    call(client, "PATCH", f"/deployments/{ref}/update-replica-count", {"replicas": 1})
    # The queued job goes first, then the oldest running one [V].
    assert sorted(j["state"] for j in jobs_of(client, ref)) == ["RUNNING", "STOPPED", "STOPPED"]
    assert get(client, ref)["replicas"] == 1


def test_nosana_sandbox_timeout_update_needs_an_hour_and_re_extends(client, clock):
    ref = started(client, clock)
    clock.advance(3)
    problem = error_of(call(client, "PATCH", f"/deployments/{ref}/update-timeout", {"timeout": 30}), 400)
    assert problem == "timeout: must be >= 60"
    body = call(client, "PATCH", f"/deployments/{ref}/update-timeout", {"timeout": 120}).json()
    assert body["timeout"] == 120
    clock.advance(100)
    assert jobs_of(client, ref)[0]["state"] == "RUNNING"  # re-extended to 120
    clock.advance(30)
    assert get(client, ref)["status"] == "STOPPED"


def test_nosana_sandbox_schedule_updates_only_a_scheduled_deployment(client, clock):
    simple = create(client)["id"]
    assert error_of(call(client, "PATCH", f"/deployments/{simple}/update-schedule", {"schedule": "0 * * * *"}), 400)
    scheduled = create(client, {**SEED, "strategy": "SCHEDULED", "schedule": "0 * * * *"})["id"]
    body = call(client, "PATCH", f"/deployments/{scheduled}/update-schedule", {"schedule": "*/5 * * * *"}).json()
    assert body["schedule"] == "*/5 * * * *"
    assert get(client, scheduled)["schedule"] == "*/5 * * * *"
    bad = error_of(call(client, "PATCH", f"/deployments/{scheduled}/update-schedule", {"schedule": "0 * *"}), 400)
    assert bad.startswith("schedule: must match pattern")


def test_nosana_sandbox_revisions_are_created_listed_and_switched(client, clock):
    ref = create(client, WEB)["id"]
    new = copy.deepcopy(WEB["job_definition"])
    new["ops"][0]["args"]["expose"] = [{"port": 9000, "type": "api"}]
    body = call(client, "POST", f"/deployments/{ref}/create-revision", new).json()
    assert body["active_revision"] == 2
    assert [e["port"] for e in body["endpoints"]] == [9000]
    assert [r["revision"] for r in body["revisions"]] == [1, 2]
    listed = shaped(call(client, "GET", f"/deployments/{ref}/revisions?sort_order=asc"), "RevisionList")
    assert [r["job_definition"] for r in listed["revisions"]] == [WEB["job_definition"], new]
    switched = call(client, "PATCH", f"/deployments/{ref}/update-active-revision", {"active_revision": 1}).json()
    assert (switched["active_revision"], [e["port"] for e in switched["endpoints"]]) == (1, [8000])
    assert error_of(call(client, "PATCH", f"/deployments/{ref}/update-active-revision", {"active_revision": 9}), 400)


def test_nosana_sandbox_create_revision_is_validated_as_a_bare_job_definition(client, clock):
    ref = create(client)["id"]
    bad = {"version": "0.1", "type": "container", "ops": [{"type": "container/run", "id": "a", "args": {}}]}
    assert error_of(call(client, "POST", f"/deployments/{ref}/create-revision", bad), 400) == (
        "ops/0/args/image: must have required property 'image'"
    )


def test_nosana_sandbox_endpoint_answers_while_a_job_runs(client, clock):
    ref = started(client, clock, WEB)
    [endpoint] = get(client, ref)["endpoints"]
    assert (endpoint["opId"], endpoint["port"]) == ("vllm", 8000)
    path = endpoint["url"].removeprefix("http://testserver")
    assert client.get(path).status_code == 503
    clock.advance(3)
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.json()["deployment"] == ref


def test_nosana_sandbox_events_header_and_tasks(client, clock):
    ref = started(client, clock, {**SEED, "strategy": "SIMPLE-EXTEND"})
    clock.advance(3)
    events = shaped(call(client, "GET", f"/deployments/{ref}/events?category=Deployment&sort_order=asc"), "EventList")
    assert [e["type"] for e in events["events"]] == ["DEPLOYMENT_CREATED", "DEPLOYMENT_STARTING", "DEPLOYMENT_RUNNING"]
    tasks = call(client, "GET", f"/deployments/{ref}/tasks").json()
    assert [t["task"] for t in tasks["tasks"]] == ["EXTEND"]
    assert call(client, "GET", f"/deployments/{ref}/header").json()["header"].startswith("NosanaApiAuthentication:")


def test_nosana_sandbox_failing_image_ends_its_job_with_exit_code_1(client, clock):
    body = copy.deepcopy(SEED)
    body["job_definition"]["ops"][0]["args"]["image"] = "docker.io/acme/does-not-exist:1"
    ref = started(client, clock, body)
    clock.advance(3)
    [job] = jobs_of(client, ref)
    detail = shaped(call(client, "GET", f"/deployments/{ref}/jobs/{job['job']}"), "JobById")
    assert (job["state"], detail["jobStatus"]) == ("COMPLETED", "failed")
    assert detail["jobResult"]["opStates"][0]["exitCode"] == 1
    assert get(client, ref)["status"] == "STOPPED"


def test_nosana_sandbox_without_credits_is_insufficient_funds(client, clock):
    credits = twin._credits(account_for_key(KEY))
    credits.data["assignedCredits"] = 0.01
    credits.save()
    ref = started(client, clock)
    clock.advance(1)
    assert get(client, ref)["status"] == "INSUFFICIENT_FUNDS"
    assert shaped(call(client, "POST", f"/deployments/{ref}/stop"), "StatusChange")["status"] == "STOPPING"


# --- validation, in the vendor's words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replicas": 0}, "replicas: must be >= 1"),
        ({"strategy": "FOREVER"}, "strategy: must be equal to one of the allowed values"),
        ({"strategy": "SCHEDULED"}, "schedule: must have required property 'schedule'"),
        ({"strategy": "SCHEDULED", "schedule": "daily"}, 'schedule: must match pattern "'),
        ({"strategy": "INFINITE", "timeout": 30}, "Timeout for infinite deployments must be at least 1 hour."),
        (
            {"strategy": "INFINITE", "timeout": 60, "rotation_time": 55},
            "Rotation time must be at least 10 minutes less than timeout.",
        ),
        ({"market": "UnknownMarket1111111111111111111111"}, "market: market not found"),
        (
            {
                "job_definition": {
                    "version": "0.1",
                    "type": "container",
                    "ops": [
                        {"type": "container/run", "id": "a", "args": {"image": "x"}},
                        {"type": "container/run", "id": "a", "args": {}},
                    ],
                }
            },
            "job_definition/ops/1/args/image: must have required property 'image', job_definition/ops/1/id: must be unique",
        ),
    ],
)
def test_nosana_sandbox_create_refuses_with_path_messages(client, clock, changes, message):
    assert error_of(call(client, "POST", "/deployments/create", {**SEED, **changes}), 400).startswith(message)


def test_nosana_sandbox_create_lists_every_failing_field(client, clock):
    body = {k: v for k, v in SEED.items() if k != "name"}
    body["replicas"] = 0
    assert error_of(call(client, "POST", "/deployments/create", body), 400) == (
        "name: must have required property 'name', replicas: must be >= 1"
    )


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_nosana_sandbox_refuses_bodies_that_are_not_json_objects(client, clock, raw):
    assert error_of(call(client, "POST", "/deployments/create", raw=raw), 400)


def test_nosana_sandbox_unknown_method_is_fastifys_404(client, clock):
    response = call(client, "PUT", "/deployments")
    assert response.status_code == 404
    assert response.json() == {
        "message": f"Route PUT:{ROOT}/deployments not found",
        "error": "Not Found",
        "statusCode": 404,
    }


# --- pagination and filters -----------------------------------------------------------------------------------


def test_nosana_sandbox_pages_with_cursors(client, clock):
    for i in range(12):
        clock.advance(1)
        create(client, {**SEED, "name": f"d{i:02d}"})
    first = shaped(call(client, "GET", "/deployments"), "DeploymentList")
    assert [d["name"] for d in first["deployments"]] == [f"d{i:02d}" for i in range(11, 1, -1)]  # 10, newest first
    assert (first["pagination"]["total_items"], first["pagination"]["cursor_prev"]) == (12, None)
    second = shaped(call(client, "GET", f"/deployments?cursor={first['pagination']['cursor_next']}"), "DeploymentList")
    assert [d["name"] for d in second["deployments"]] == ["d01", "d00"]
    assert second["pagination"]["cursor_next"] is None
    assert second["pagination"]["cursor_prev"]
    asc = shaped(call(client, "GET", "/deployments?limit=20&sort_order=asc"), "DeploymentList")
    assert [d["name"] for d in asc["deployments"]][:2] == ["d00", "d01"]
    assert error_of(call(client, "GET", "/deployments?limit=7"), 400) == (
        "querystring/limit: must be equal to one of the allowed values"
    )


def test_nosana_sandbox_filters_by_status_and_name(client, clock):
    create(client)
    ref = started(client, clock, {**SEED, "name": "other"})
    assert [d["id"] for d in call(client, "GET", "/deployments?status=STARTING,RUNNING").json()["deployments"]] == [ref]
    assert [d["name"] for d in call(client, "GET", "/deployments?name=Hello%20World").json()["deployments"]] == [
        "Hello World"
    ]
    assert [d["name"] for d in call(client, "GET", "/deployments?search=oth").json()["deployments"]] == ["other"]


# --- catalog, money and faults ------------------------------------------------------------------------------


def test_nosana_sandbox_markets_include_the_seeds_and_the_notes_with_premium_gpus(client, db):
    markets = {m["address"]: m for m in client.get(f"{ROOT}/markets/").json()}
    assert markets[M3060]["slug"] == "nvidia-3060"
    assert markets[M4090]["usd_reward_per_hour"] == 0.40
    premium = {m["slug"] for m in markets.values() if m["type"] == "PREMIUM"}
    assert {"nvidia-3060", "nvidia-4090", "nvidia-a100-80gb", "nvidia-h100"} <= premium
    only = client.get(f"{ROOT}/markets/?type=COMMUNITY").json()
    assert {m["type"] for m in only} == {"COMMUNITY"}
    one = client.get(f"{ROOT}/markets/{M4090}/").json()
    assert one["gpu_types"] == ["NVIDIA GeForce RTX 4090"]
    assert client.get(f"{ROOT}/markets/?filterKey=slug&filterValue=nvidia-h100").json()[0]["lowest_vram"] == 80


def test_nosana_sandbox_credits_are_reserved_when_listed_and_settled_when_done(client, clock):
    assert shaped(call(client, "GET", "/credits/balance"), "CreditsBalance") == {
        "assignedCredits": 100.0,
        "reservedCredits": 0.0,
        "settledCredits": 0.0,
    }
    ref = started(client, clock, {**SEED, "replicas": 2})
    clock.advance(1)
    assert call(client, "GET", "/credits/balance").json()["reservedCredits"] == pytest.approx(0.088)
    clock.advance(2 + 60)
    assert get(client, ref)["status"] == "STOPPED"
    balance = call(client, "GET", "/credits/balance").json()
    assert (balance["reservedCredits"], balance["settledCredits"]) == (0.0, pytest.approx(0.088))


def test_nosana_sandbox_fault_rate_limit_answers_429_with_retry_after(client, db):
    SandboxFault.objects.create(vendor="nosana", rate_limit_rate=1.0, retry_after_seconds=4)
    response = call(client, "GET", "/deployments")
    assert error_of(response, 429) == "Too Many Requests"
    assert response.headers["Retry-After"] == "4"


def test_nosana_sandbox_fault_error_rate_answers_503(client, db):
    SandboxFault.objects.create(vendor="*", error_rate=1.0)
    assert error_of(call(client, "GET", "/deployments"), 503) == "Service Unavailable"


def test_nosana_sandbox_active_jobs_counts_running_jobs_only(client, clock):
    # list.ts and getDeploymentById.ts count RUNNING jobs; queued ones are not active.
    fault = SandboxFault.objects.create(vendor="nosana", no_capacity=True)
    ref = started(client, clock, {**SEED, "replicas": 2})
    clock.advance(30)
    assert [j["state"] for j in jobs_of(client, ref)] == ["QUEUED", "QUEUED"]
    listed = shaped(call(client, "GET", "/deployments"), "DeploymentList")["deployments"]
    assert [(d["status"], d["active_jobs"]) for d in listed] == [("RUNNING", 0)]
    assert get(client, ref)["active_jobs"] == 0
    fault.delete()
    jobs_of(client, ref)  # capacity is back: a node takes both
    clock.advance(2)
    assert [j["state"] for j in jobs_of(client, ref)] == ["RUNNING", "RUNNING"]
    assert get(client, ref)["active_jobs"] == 2


def test_nosana_sandbox_fault_no_capacity_leaves_jobs_queued(client, clock):
    fault = SandboxFault.objects.create(vendor="nosana", no_capacity=True)
    ref = started(client, clock)
    clock.advance(30)
    assert [j["state"] for j in jobs_of(client, ref)] == ["QUEUED"]
    assert all(m["nodes"] == [] for m in client.get(f"{ROOT}/markets/").json())
    fault.delete()
    jobs_of(client, ref)  # capacity is back: a node will take it
    clock.advance(2)
    assert [j["state"] for j in jobs_of(client, ref)] == ["RUNNING"]


# --- the real adapter over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def adapter(live_server, clock) -> Iterator[NosanaProvider]:
    provider = NosanaProvider(api_key="sandbox-live-adapter", base_url=f"{live_server.url}/sandbox/nosana", timeout=10)
    yield provider
    provider.close()


def test_nosana_adapter_runs_the_whole_lifecycle_against_the_sandbox(adapter, clock):
    created = adapter.create(copy.deepcopy(WEB))
    ref = created.external_id
    assert (created.state, created.vendor_state) == (RemoteState.PROVISIONING, "STARTING")
    clock.advance(1)
    queued = adapter.get(ref)
    assert (queued.state, queued.vendor_state) == (RemoteState.PROVISIONING, "RUNNING")
    assert queued.message == "1 job is queued on the market, waiting for a node."
    clock.advance(2)
    running = adapter.get(ref)
    assert (running.state, running.replicas_ready, running.replicas_desired) == (RemoteState.RUNNING, 1, 1)
    assert running.price_per_hour == Decimal("0.4400")
    assert running.primary_url.endswith(f"/sandbox/nosana/node/{ref}-vllm-8000/")
    assert httpx.get(running.primary_url, timeout=10).status_code == 200
    assert [r.external_id for r in adapter.list_remotes()] == [ref]
    found = adapter.find_by_name("web-demo")
    assert found is not None
    assert found.external_id == ref
    assert adapter.find_by_name("nobody") is None

    scaled = adapter.scale(ref, {"replicas": 2})
    assert (scaled.replicas_desired, scaled.replicas_ready, scaled.state) == (2, 1, RemoteState.RUNNING)
    new = copy.deepcopy(WEB)
    new["timeout"] = 120
    new["replicas"] = 2
    new["job_definition"]["ops"][0]["args"]["env"] = {"MODE": "fast"}
    updated = adapter.update(ref, new, {**WEB, "replicas": 2})
    assert (updated.raw["timeout"], updated.raw["active_revision"]) == (120, 2)
    revisions = adapter._http.get(f"/api/deployments/{ref}/revisions").json()["revisions"]
    assert revisions[0]["job_definition"]["ops"][0]["args"]["env"] == {"MODE": "fast"}

    events = adapter.events(ref)
    assert any(e.kind == "REVISION_CREATED" for e in events)
    assert any(e.message.startswith("Job ") and "running on node" in e.message for e in events)
    assert adapter.logs(ref).lines == [
        "Nosana publishes container logs when a job ends; no job of this deployment has ended yet."
    ]

    assert adapter.stop(ref, new) is None
    assert adapter.get(ref).state == RemoteState.STOPPING
    clock.advance(2)
    stopped = adapter.get(ref)
    assert (stopped.state, stopped.vendor_state, stopped.price_per_hour) == (RemoteState.STOPPED, "STOPPED", 0)
    logs = adapter.logs(ref)
    assert "[vllm] stdout: Container stopped" in logs.lines
    with pytest.raises(Rejected) as caught:
        adapter._http.post(f"/api/deployments/{ref}/stop")  # a plain repeat, without the adapter's check
    assert caught.value.message == "Deployment is in the incorrect state."
    adapter.stop(ref, new)  # a repeat that finds it stopped counts as done

    adapter.archive(ref)
    archived = adapter.get(ref)
    assert (archived.state, archived.vendor_state) == (RemoteState.DELETED, "ARCHIVED")
    assert adapter.find_by_name("web-demo") is None


def test_nosana_adapter_creates_the_seed_and_deletes_it_once_stopped(adapter, clock):
    created = adapter.create(copy.deepcopy(SEED))
    clock.advance(3 + 61)
    assert adapter.get(created.external_id).state == RemoteState.STOPPED
    logs = adapter.logs(created.external_id)
    assert "[hello-world] stdout: hello world" in logs.lines
    adapter.delete(created.external_id)
    with pytest.raises(NotFound):
        adapter.get(created.external_id)


def test_nosana_adapter_adopts_a_draft_an_interrupted_attempt_left(adapter, clock):
    draft = adapter._http.post("/api/deployments/create", json=SEED).json()
    found = adapter.find_by_name("Hello World")
    assert (found.external_id, found.vendor_state) == (draft["id"], "DRAFT")
    adopted = adapter.adopt(found, SEED)
    assert adopted.vendor_state == "STARTING"


def test_nosana_adapter_verify_and_catalog(adapter, clock):
    info = adapter.verify()
    assert info.balance == Decimal("100.0")
    assert info.summary.startswith("Key accepted: $100.00 of credits available")
    offers = {o.sku: o for o in adapter.catalog()}
    assert offers[M3060].price_per_hour == Decimal("0.0440")
    assert offers[M3060].gpu_model == "RTX 3060"
    assert offers["Crop49jpc7prcgAcS82WbWyGHwbN5GgDym3uFbxxCTZg"].gpu_model == "H100"
    assert offers["GLJHzqRN9fKGBsvsFzmGnaQGknUtLN1dqaFR8n3YdM22"].gpu_memory_gb == 80


def test_nosana_adapter_bad_key_is_an_auth_error(live_server, db):
    provider = NosanaProvider(api_key="nos_not_a_sandbox_key", base_url=f"{live_server.url}/sandbox/nosana")
    with provider, pytest.raises(AuthError) as caught:
        provider.verify()
    assert (caught.value.status_code, caught.value.message) == (401, "Unauthorized")
    assert "nos_not_a_sandbox_key" not in str(caught.value)


def test_nosana_adapter_two_keys_are_two_accounts(live_server, clock):
    base = f"{live_server.url}/sandbox/nosana"
    with (
        NosanaProvider(api_key="sandbox-one", base_url=base) as one,
        NosanaProvider(api_key="sandbox-two", base_url=base) as two,
    ):
        made = one.create(copy.deepcopy(SEED))
        assert [r.external_id for r in one.list_remotes()] == [made.external_id]
        assert list(two.list_remotes()) == []
        with pytest.raises(NotFound):
            two.get(made.external_id)


def test_nosana_adapter_sandbox_refusal_lands_on_the_field(adapter):
    body = copy.deepcopy(SEED)
    body["job_definition"]["ops"][0]["args"].pop("image")
    # The adapter's own check would stop this first; post it raw to see the twin's 400.
    with pytest.raises(SpecError) as caught:
        adapter._http.post("/api/deployments/create", json={**body, "replicas": 0})
    assert caught.value.fields == {
        "job_definition.ops.0.args.image": ["must have required property 'image'"],
        "replicas": ["must be >= 1"],
    }


def test_nosana_adapter_rate_limit_is_raised_with_its_wait(adapter):
    SandboxFault.objects.create(vendor="nosana", rate_limit_rate=1.0, retry_after_seconds=60)
    with pytest.raises(RateLimited) as caught:
        adapter.list_remotes()
    assert caught.value.retry_after == 60


def test_nosana_adapter_outage_is_transient(adapter):
    SandboxFault.objects.create(vendor="nosana", error_rate=1.0)
    with pytest.raises(Transient) as caught:
        adapter.create(copy.deepcopy(SEED))
    assert caught.value.status_code == 503
