"""The Nosana adapter against respx: what each lifecycle, monitoring and account call
sends, and what it makes of the answers. Fixtures are shaped like the notes' examples (§6)."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers.base import Action, Rejected, RemoteState, SpecError
from providers.nosana import NosanaProvider
from providers.nosana.tests.samples import (
    BASE,
    DEP_ID,
    DEPLOYMENTS,
    DRAFT_ID,
    KEY,
    M3060,
    M4090,
    NOTES,
    ONE,
    SEED,
    assert_sent,
    fixture,
    mock_markets,
    sent_json,
)

# --- lifecycle calls: the request and the parsed Remote -----------------------------------------


def test_nosana_create_posts_the_seed_body_then_starts_the_draft(respx_mock, nosana):
    created = respx_mock.post(f"{DEPLOYMENTS}/create").respond(200, json=fixture("deployment_draft"))
    started = respx_mock.post(f"{DEPLOYMENTS}/{DRAFT_ID}/start").respond(200, json=fixture("start"))
    remote = nosana.create(copy.deepcopy(SEED))
    request = assert_sent(created, "POST", "/api/deployments/create")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(created) == SEED
    start_request = assert_sent(started, "POST", f"/api/deployments/{DRAFT_ID}/start")
    assert start_request.content == b""
    assert (remote.external_id, remote.name) == (DRAFT_ID, "Hello World")
    assert (remote.state, remote.vendor_state) == (RemoteState.PROVISIONING, "STARTING")
    assert remote.replicas_desired == 1
    assert remote.created_at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_nosana_create_sends_the_notes_example_unchanged(respx_mock, nosana):
    created = respx_mock.post(f"{DEPLOYMENTS}/create").respond(200, json=fixture("deployment_draft"))
    respx_mock.post(f"{DEPLOYMENTS}/{DRAFT_ID}/start").respond(200, json=fixture("start"))
    nosana.create(copy.deepcopy(NOTES))
    assert sent_json(created) == NOTES


def test_nosana_create_leaves_panel_only_keys_and_foreign_strategy_fields_out(respx_mock, nosana):
    created = respx_mock.post(f"{DEPLOYMENTS}/create").respond(200, json=fixture("deployment_draft"))
    respx_mock.post(f"{DEPLOYMENTS}/{DRAFT_ID}/start").respond(200, json=fixture("start"))
    nosana.create({**SEED, "active_revision": 2, "schedule": "0 * * * *", "rotation_time": 20, "confidential": False})
    assert sent_json(created) == {**SEED, "confidential": False}


def test_nosana_create_checks_the_spec_before_any_request(respx_mock, nosana):
    route = respx_mock.post(f"{DEPLOYMENTS}/create").respond(200, json=fixture("deployment_draft"))
    with pytest.raises(SpecError) as caught:
        nosana.create({**SEED, "replicas": 0})
    assert set(caught.value.fields) == {"replicas"}
    assert route.call_count == 0


def test_nosana_get_of_a_running_deployment_with_a_running_job_reads_no_jobs(respx_mock, nosana):
    # active_jobs: 1 is the server's count of RUNNING jobs (list.ts, getDeploymentById.ts).
    route = respx_mock.get(ONE).respond(200, json=fixture("deployment_running"))
    jobs = respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    markets = mock_markets(respx_mock)
    remote = nosana.get(DEP_ID)
    assert_sent(route, "GET", f"/api/deployments/{DEP_ID}")
    assert jobs.call_count == 0
    assert markets.call_count == 1
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "RUNNING")
    assert (remote.replicas_ready, remote.replicas_desired) == (1, 1)
    assert remote.message == "1 job running."
    assert remote.primary_url == "https://3mZq7dK2hash.node.k8s.prd.nos.ci"
    assert remote.endpoints[0].label == "vllm:8000"
    assert remote.endpoints[0].port == 8000
    assert remote.price_per_hour == Decimal("0.4400")  # 0.40 × (1 + 10 %)
    assert remote.raw == fixture("deployment_running")


def test_nosana_get_of_running_with_only_queued_jobs_is_provisioning(respx_mock, nosana):
    # Queued jobs are not active (active_jobs counts RUNNING ones): only the jobs say why none runs.
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "active_jobs": 0})
    jobs = respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_queued"))
    markets = mock_markets(respx_mock)
    remote = nosana.get(DEP_ID)
    jobs_request = assert_sent(jobs, "GET", f"/api/deployments/{DEP_ID}/jobs")
    assert dict(jobs_request.url.params) == {"limit": "100", "sort_order": "desc"}
    assert remote.state == RemoteState.PROVISIONING
    assert remote.message == "2 jobs are queued on the market, waiting for a node."
    assert remote.replicas_ready == 0
    assert remote.price_per_hour == Decimal("0")
    assert markets.call_count == 0  # no price needed while nothing runs


def test_nosana_get_of_a_stopped_deployment_asks_for_no_jobs(respx_mock, nosana):
    item = {**fixture("deployment_running"), "status": "STOPPED", "active_jobs": 0}
    respx_mock.get(ONE).respond(200, json=item)
    jobs = respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    remote = nosana.get(DEP_ID)
    assert remote.state == RemoteState.STOPPED
    assert remote.replicas_ready is None
    assert jobs.call_count == 0


def test_nosana_get_of_a_deployment_short_of_replicas_needs_no_jobs_and_keeps_its_endpoints(respx_mock, nosana):
    item = {**fixture("deployment_running"), "replicas": 3, "active_jobs": 2}
    respx_mock.get(ONE).respond(200, json=item)
    jobs = respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    mock_markets(respx_mock)
    remote = nosana.get(DEP_ID)
    assert jobs.call_count == 0
    assert (remote.state, remote.replicas_ready, remote.replicas_desired) == (RemoteState.RUNNING, 2, 3)
    assert remote.message == "2 of 3 jobs running."
    assert remote.price_per_hour == Decimal("0.8800")  # 2 × 0.44
    assert remote.primary_url == "https://3mZq7dK2hash.node.k8s.prd.nos.ci"  # the deployment's own endpoints


def test_nosana_get_from_a_server_without_active_jobs_still_reads_the_jobs(respx_mock, nosana):
    item = {k: v for k, v in fixture("deployment_running").items() if k != "active_jobs"}
    respx_mock.get(ONE).respond(200, json=item)
    jobs = respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    mock_markets(respx_mock)
    remote = nosana.get(DEP_ID)
    assert jobs.call_count == 1
    assert (remote.state, remote.replicas_ready, remote.message) == (RemoteState.RUNNING, 1, "1 job running.")


def test_nosana_get_escapes_the_id_in_the_path(respx_mock, nosana):
    route = respx_mock.get(f"{DEPLOYMENTS}/a%2Fb").respond(200, json={**fixture("deployment_draft"), "id": "a/b"})
    nosana.get("a/b")
    assert route.calls.last.request.url.raw_path == b"/api/deployments/a%2Fb"


def test_nosana_list_follows_every_page_and_asks_jobs_only_for_running(respx_mock, nosana):
    second = fixture("deployment_list_page1")["pagination"]["cursor_next"]
    pages = respx_mock.get(DEPLOYMENTS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=fixture(
                "deployment_list_page2" if request.url.params.get("cursor") == second else "deployment_list_page1"
            ),
        )
    )
    jobs = respx_mock.get(url__regex=rf"{DEPLOYMENTS}/\w+/jobs").respond(200, json=fixture("jobs_running"))
    mock_markets(respx_mock)
    remotes = list(nosana.list_remotes())
    assert pages.call_count == 2
    assert [dict(c.request.url.params) for c in pages.calls] == [{"limit": "100"}, {"limit": "100", "cursor": second}]
    assert all(c.request.headers["Authorization"] == f"Bearer {KEY}" for c in pages.calls)
    # One jobs call per RUNNING deployment with no job running: the scheduled one on
    # page 2 (active_jobs 0); page 1's llama-demo says active_jobs 1, so none for it.
    assert jobs.call_count == 1
    assert (
        jobs.calls.last.request.url.path
        == f"/api/deployments/{fixture('deployment_list_page2')['deployments'][0]['id']}/jobs"
    )
    assert [(r.name, r.state, r.vendor_state) for r in remotes] == [
        ("llama-demo", RemoteState.RUNNING, "RUNNING"),
        ("Hello World", RemoteState.STOPPED, "DRAFT"),
        ("nightly", RemoteState.RUNNING, "RUNNING"),
        ("old-batch", RemoteState.STOPPED, "STOPPED"),
    ]
    assert remotes[1].message == "Draft: created but never started."


def test_nosana_list_reads_a_bare_array_as_one_page(respx_mock, nosana):
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=[fixture("deployment_draft")])
    assert [r.external_id for r in nosana.list_remotes()] == [DRAFT_ID]
    assert route.call_count == 1


def test_nosana_list_stops_on_a_repeated_cursor(respx_mock, nosana):
    page = {**fixture("deployment_list_page1"), "deployments": [fixture("deployment_draft")]}
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=page)
    assert len(list(nosana.list_remotes())) == 2
    assert route.call_count == 2


def test_nosana_find_by_name_asks_by_name_and_takes_the_newest_live_match(respx_mock, nosana):
    older = {
        **fixture("deployment_draft"),
        "id": "OldDraft1111111111111111111111111",
        "created_at": "2026-03-01T00:00:00.000Z",
    }
    archived = {
        **fixture("deployment_draft"),
        "id": "Archived111111111111111111111111",
        "status": "ARCHIVED",
        "created_at": "2026-03-03T00:00:00.000Z",
    }
    other = {**fixture("deployment_running"), "name": "Hello World 2"}
    page = {
        "deployments": [older, fixture("deployment_draft"), archived, other],
        "pagination": {"cursor_next": None, "cursor_prev": None, "total_items": 4},
    }
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=page)
    found = nosana.find_by_name("Hello World")
    assert dict(route.calls.last.request.url.params) == {"limit": "100", "name": "Hello World"}
    assert found.external_id == DRAFT_ID
    assert found.vendor_state == "DRAFT"


def test_nosana_find_by_name_returns_none_when_absent(respx_mock, nosana):
    respx_mock.get(DEPLOYMENTS).respond(200, json=fixture("deployment_list_page2"))
    assert nosana.find_by_name("Hello World") is None


def test_nosana_adopt_starts_a_draft_left_by_an_interrupted_attempt(respx_mock, nosana):
    started = respx_mock.post(f"{DEPLOYMENTS}/{DRAFT_ID}/start").respond(200, json=fixture("start"))
    respx_mock.get(f"{DEPLOYMENTS}/{DRAFT_ID}").respond(200, json={**fixture("deployment_draft"), "status": "STARTING"})
    draft = nosana.to_remote(fixture("deployment_draft"))
    remote = nosana.adopt(draft, SEED)
    assert started.call_count == 1
    assert (remote.state, remote.vendor_state) == (RemoteState.PROVISIONING, "STARTING")


def test_nosana_adopt_leaves_a_started_deployment_alone(respx_mock, nosana):
    started = respx_mock.post(f"{ONE}/start").respond(200, json=fixture("start"))
    remote = nosana.to_remote({**fixture("deployment_running"), "status": "STARTING"})
    assert nosana.adopt(remote, NOTES) is remote
    assert started.call_count == 0


def test_nosana_start_posts_and_reads_the_deployment_back(respx_mock, nosana):
    started = respx_mock.post(f"{ONE}/start").respond(200, json=fixture("start"))
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STARTING"})
    remote = nosana.start(DEP_ID, NOTES)
    assert_sent(started, "POST", f"/api/deployments/{DEP_ID}/start")
    assert remote.state == RemoteState.PROVISIONING


def test_nosana_start_repeated_after_a_lost_answer_counts_as_done(respx_mock, nosana):
    respx_mock.post(f"{ONE}/start").respond(500, json=fixture("error_incorrect_state"))
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STARTING"})
    assert nosana.start(DEP_ID, NOTES).vendor_state == "STARTING"


def test_nosana_start_in_a_truly_wrong_state_is_rejected(respx_mock, nosana):
    route = respx_mock.post(f"{ONE}/start").respond(500, json=fixture("error_incorrect_state"))
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STOPPING"})
    with pytest.raises(Rejected) as caught:
        nosana.start(DEP_ID, NOTES)
    assert caught.value.message == "Deployment is in the incorrect state."
    assert not caught.value.retryable
    assert route.call_count == 1  # a refusal is not retried


def test_nosana_stop_posts_and_returns_nothing(respx_mock, nosana):
    route = respx_mock.post(f"{ONE}/stop").respond(200, json=fixture("stop"))
    assert nosana.stop(DEP_ID, NOTES) is None
    request = assert_sent(route, "POST", f"/api/deployments/{DEP_ID}/stop")
    assert request.content == b""


def test_nosana_stop_repeated_when_already_stopped_counts_as_done(respx_mock, nosana):
    respx_mock.post(f"{ONE}/stop").respond(500, json=fixture("error_incorrect_state"))
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STOPPED"})
    assert nosana.stop(DEP_ID, NOTES) is None


def test_nosana_archive_posts(respx_mock, nosana):
    route = respx_mock.post(f"{ONE}/archive").respond(200, json=fixture("archive"))
    assert nosana.archive(DEP_ID) is None
    assert_sent(route, "POST", f"/api/deployments/{DEP_ID}/archive")


def test_nosana_archive_of_an_archived_one_is_rejected(respx_mock, nosana):
    respx_mock.post(f"{ONE}/archive").respond(500, json=fixture("error_archived"))
    with pytest.raises(Rejected) as caught:
        nosana.archive(DEP_ID)
    assert caught.value.message == "Cannot modify an archived deployment."


def test_nosana_delete_sends_delete_and_takes_204(respx_mock, nosana):
    route = respx_mock.delete(ONE).respond(204)
    assert nosana.delete(DEP_ID) is None
    assert_sent(route, "DELETE", f"/api/deployments/{DEP_ID}")


def test_nosana_scale_patches_the_replica_count(respx_mock, nosana):
    route = respx_mock.patch(f"{ONE}/update-replica-count").respond(200, json={"replicas": 3, "updated_at": "x"})
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STOPPED", "replicas": 3})
    remote = nosana.scale(DEP_ID, {"replicas": 3})
    assert_sent(route, "PATCH", f"/api/deployments/{DEP_ID}/update-replica-count")
    assert sent_json(route) == {"replicas": 3}
    assert remote.replicas_desired == 3


@pytest.mark.parametrize("changes", [{}, {"replicas": 0}, {"replicas": 1.5}, {"replicas": -1}])
def test_nosana_validate_scale_refuses_below_one(respx_mock, nosana, changes):
    route = respx_mock.patch(f"{ONE}/update-replica-count").respond(200, json={})
    with pytest.raises(SpecError) as caught:
        nosana.scale(DEP_ID, changes)
    assert set(caught.value.fields) == {"replicas"}
    assert route.call_count == 0


# --- update: only the calls that changed ---------------------------------------------------------------


@pytest.fixture
def update_routes(respx_mock):
    names = ("update-timeout", "update-schedule", "update-replica-count", "update-active-revision")
    routes = {name: respx_mock.patch(f"{ONE}/{name}").respond(200, json={"updated_at": "x"}) for name in names}
    routes["create-revision"] = respx_mock.post(f"{ONE}/create-revision").respond(200, json={"active_revision": 2})
    respx_mock.get(ONE).respond(200, json={**fixture("deployment_running"), "status": "STOPPED"})
    return routes


def called(routes) -> dict[str, Any]:
    return {name: sent_json(route) for name, route in routes.items() if route.call_count}


def test_nosana_update_with_nothing_changed_sends_no_change(update_routes, nosana):
    remote = nosana.update(DEP_ID, copy.deepcopy(NOTES), copy.deepcopy(NOTES))
    assert called(update_routes) == {}
    assert remote.external_id == DEP_ID


def test_nosana_update_sends_only_the_changed_calls(update_routes, nosana):
    new_definition = copy.deepcopy(NOTES["job_definition"])
    new_definition["ops"][0]["args"]["image"] = "docker.io/vllm/vllm-openai:v0.6.0"
    spec = {**NOTES, "timeout": 120, "replicas": 2, "job_definition": new_definition}
    nosana.update(DEP_ID, spec, copy.deepcopy(NOTES))
    # The revision body is the bare job definition, not wrapped [V].
    assert called(update_routes) == {
        "create-revision": new_definition,
        "update-timeout": {"timeout": 120},
        "update-replica-count": {"replicas": 2},
    }


def test_nosana_update_of_a_schedule_patches_it(update_routes, nosana):
    previous = {**NOTES, "strategy": "SCHEDULED", "schedule": "0 * * * *"}
    nosana.update(DEP_ID, {**previous, "schedule": "*/15 * * * *"}, previous)
    assert called(update_routes) == {"update-schedule": {"schedule": "*/15 * * * *"}}


def test_nosana_update_switches_the_active_revision(update_routes, nosana):
    previous = {**NOTES, "active_revision": 3}
    nosana.update(DEP_ID, {**previous, "active_revision": 1}, previous)
    assert called(update_routes) == {"update-active-revision": {"active_revision": 1}}


def test_nosana_update_refuses_a_new_definition_and_a_switch_at_once(update_routes, nosana):
    definition = copy.deepcopy(NOTES["job_definition"])
    definition["ops"][0]["args"]["gpu"] = False
    with pytest.raises(SpecError) as caught:
        nosana.update(DEP_ID, {**NOTES, "job_definition": definition, "active_revision": 1}, NOTES)
    assert set(caught.value.fields) == {"active_revision"}
    assert called(update_routes) == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [("market", M3060), ("strategy", "SIMPLE-EXTEND"), ("confidential", False), ("name", "renamed")],
)
def test_nosana_update_refuses_what_has_no_update_route(update_routes, nosana, key, value):
    previous = {**NOTES, "confidential": True}
    with pytest.raises(SpecError) as caught:
        nosana.update(DEP_ID, {**previous, key: value}, previous)
    assert caught.value.fields == {key: ["Nosana cannot change this after create: create a new deployment instead."]}
    assert called(update_routes) == {}


def test_nosana_update_timeout_below_an_hour_is_refused(update_routes, nosana):
    previous = {**NOTES, "timeout": 90}
    with pytest.raises(SpecError) as caught:
        nosana.update(DEP_ID, {**previous, "timeout": 30}, previous)
    assert set(caught.value.fields) == {"timeout"}
    assert called(update_routes) == {}


def test_nosana_update_without_previous_compares_with_what_nosana_has(update_routes, respx_mock, nosana):
    revisions = respx_mock.get(f"{ONE}/revisions").respond(200, json=fixture("revisions"))
    definition = fixture("revisions")["revisions"][0]["job_definition"]
    spec = {**NOTES, "replicas": 1, "timeout": 60, "job_definition": definition, "confidential": True}
    nosana.update(DEP_ID, {**spec, "replicas": 4}, None)
    assert dict(revisions.calls.last.request.url.params) == {"revision": "1", "limit": "10"}
    assert called(update_routes) == {"update-replica-count": {"replicas": 4}}


def test_nosana_update_revision_errors_are_paths_inside_the_job_definition(respx_mock, nosana):
    body = {"error": "ops/0/args/image: must NOT have fewer than 1 characters"}
    respx_mock.post(f"{ONE}/create-revision").respond(400, json=body)
    definition = copy.deepcopy(NOTES["job_definition"])
    definition["ops"][0]["args"]["gpu"] = False
    with pytest.raises(SpecError) as caught:
        nosana.update(DEP_ID, {**NOTES, "job_definition": definition}, NOTES)
    assert caught.value.fields == {"job_definition.ops.0.args.image": ["must NOT have fewer than 1 characters"]}


# --- monitoring: logs, events, jobs -----------------------------------------------------------------------


def test_nosana_logs_come_from_the_results_of_finished_jobs(respx_mock, nosana):
    respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_mixed"))
    done = respx_mock.get(f"{ONE}/jobs/6CompLeTeDjOb1234567890abcdefghij").respond(200, json=fixture("job_completed"))
    stopped = respx_mock.get(f"{ONE}/jobs/5StoPPedJob1234567890abcdefghijk").respond(
        200, json={**fixture("job_completed"), "state": "STOPPED", "jobResult": None}
    )
    logs = nosana.logs(DEP_ID)
    assert (done.call_count, stopped.call_count) == (1, 1)
    assert logs.lines == [
        "── job 5Sto…hijk (stopped) ──",
        "── job 6Com…ghij (completed) ──",
        "[vllm] stdout: INFO: Started server process",
        "[vllm] stdout: INFO: Uvicorn running on http://0.0.0.0:8000",
        "[vllm] stderr: WARNING: timeout reached",
        "[vllm] exited with code 0 (success)",
    ]


def test_nosana_logs_before_any_job_ended_say_why_there_are_none(respx_mock, nosana):
    respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    logs = nosana.logs(DEP_ID)
    assert logs.lines == ["Nosana publishes container logs when a job ends; no job of this deployment has ended yet."]


def test_nosana_events_date_a_job_s_end_by_its_last_update(respx_mock, nosana):
    # A listed job has no time_end (job.schema.ts): an ended job was last updated when it ended.
    respx_mock.get(f"{ONE}/events").respond(200, json={"events": [], "pagination": {}})
    respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_mixed"))
    ended = [e for e in nosana.events(DEP_ID) if e.message.endswith(("completed", "stopped"))]
    assert [(e.message, e.at) for e in ended] == [
        ("Job 5Sto…hijk stopped", dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)),
        ("Job 6Com…ghij completed", dt.datetime(2026, 3, 2, 11, 0, 5, tzinfo=dt.UTC)),
    ]


def test_nosana_events_merge_the_deployment_events_and_job_changes(respx_mock, nosana):
    events_route = respx_mock.get(f"{ONE}/events").respond(200, json=fixture("events"))
    respx_mock.get(f"{ONE}/jobs").respond(200, json=fixture("jobs_running"))
    events = nosana.events(DEP_ID)
    assert dict(events_route.calls.last.request.url.params) == {"limit": "100", "sort_order": "desc"}
    assert [(e.kind, e.message) for e in events] == [
        ("DEPLOYMENT_STARTING", "Deployment started."),
        ("DEPLOYMENT_RUNNING", "Jobs listed on the market."),
        ("job", "Job 9AbC…4567 listed on the market"),
        ("job", "Job 9AbC…4567 running on node HnoD…pqrs"),
    ]
    assert events[-1].at == dt.datetime.fromtimestamp(1772445605, tz=dt.UTC)


# --- account and catalog ---------------------------------------------------------------------------------


def test_nosana_verify_reads_the_credit_balance(respx_mock, nosana):
    route = respx_mock.get(f"{BASE}/api/credits/balance").respond(200, json=fixture("credits_balance"))
    info = nosana.verify()
    assert_sent(route, "GET", "/api/credits/balance")
    assert info.balance == Decimal("35.35")  # assigned − reserved − settled
    assert info.summary == (
        "Key accepted: $35.35 of credits available ($50.00 assigned, $4.40 reserved, $10.25 settled)."
    )


def test_nosana_catalog_prices_every_market_with_its_network_fee(respx_mock, nosana):
    route = mock_markets(respx_mock)
    offers = nosana.catalog()
    assert route.calls.last.request.url.path == "/api/markets/"
    assert [(o.sku, o.gpu_model, o.price_per_hour, o.available, o.gpu_memory_gb) for o in offers] == [
        (M4090, "RTX 4090", Decimal("0.4400"), True, None),  # no node list: availability unknown
        (M3060, "RTX 3060", Decimal("0.0440"), True, 12),
        ("Crop49jpc7prcgAcS82WbWyGHwbN5GgDym3uFbxxCTZg", "H100", Decimal("1.8700"), False, 80),
    ]
    assert offers[1].extra["idle_nodes"] == 2
    assert offers[1].extra["type"] == "PREMIUM"
    assert "nodes" not in offers[1].raw
    assert {o.kind for o in offers} == {"market"}


def test_nosana_offers_every_lifecycle_action():
    assert NosanaProvider.actions == {
        Action.START,
        Action.STOP,
        Action.SCALE,
        Action.UPDATE,
        Action.DELETE,
        Action.ARCHIVE,
        Action.LOGS,
        Action.EVENTS,
    }
    assert NosanaProvider.unique_names is False
    assert (NosanaProvider.default_base_url, NosanaProvider.sandbox_path) == (BASE, "/nosana")


def test_nosana_listing_makes_no_jobs_call_and_flags_a_running_one_with_none_running(respx_mock, nosana):
    second = fixture("deployment_list_page1")["pagination"]["cursor_next"]
    respx_mock.get(DEPLOYMENTS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=fixture(
                "deployment_list_page2" if request.url.params.get("cursor") == second else "deployment_list_page1"
            ),
        )
    )
    jobs = respx_mock.get(url__regex=rf"{DEPLOYMENTS}/\w+/jobs").respond(200, json=fixture("jobs_running"))
    mock_markets(respx_mock)
    listing = nosana.listing()
    assert listing.complete  # the last page has no cursor_next
    assert jobs.call_count == 0  # active_jobs is in every listed deployment (list.ts)
    flagged = {r.name: r.detail_needed for r in listing.remotes}
    assert flagged == {"llama-demo": False, "Hello World": False, "nightly": True, "old-batch": False}
    nightly = next(r for r in listing.remotes if r.name == "nightly")
    assert nosana.detail(nightly).state == RemoteState.RUNNING  # its jobs, read only now
    assert jobs.call_count == 1


def test_nosana_listing_on_a_repeated_cursor_is_incomplete(respx_mock, nosana):
    page = {**fixture("deployment_list_page1"), "deployments": [fixture("deployment_draft")]}
    respx_mock.get(DEPLOYMENTS).respond(200, json=page)
    assert nosana.listing().complete is False
