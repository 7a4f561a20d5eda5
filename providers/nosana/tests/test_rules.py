"""Nosana's rules (``providers.nosana.rules``): one test per rule, then the scale count
and the server's preconditions for each action."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from providers.base import Action, SpecError, ValidationContext
from providers.nosana import NosanaProvider
from providers.nosana.rules import check_spec
from providers.nosana.tests.samples import M3060, NOTES, SEED


@pytest.mark.parametrize(
    ("changes", "expected"),
    [({"replicas": 2}, {"replicas": 2}), ({"min_replicas": 4, "max_replicas": 9}, {"replicas": 4})],
    ids=["replicas", "min-replicas-alias"],
)
def test_nosana_validate_scale_takes_one_count(changes, expected):
    assert NosanaProvider.validate_scale(changes) == expected


@pytest.mark.parametrize(
    ("action", "status", "blocked"),
    [
        (Action.DELETE, "STOPPED", ""),
        (
            Action.DELETE,
            "RUNNING",
            "Nosana deletes a deployment only once it is STOPPED; it is RUNNING. Stop it first.",
        ),
        (
            Action.DELETE,
            "DRAFT",
            "Nosana deletes only stopped deployments, and a draft has never run: start it and stop it first.",
        ),
        (Action.ARCHIVE, "ERROR", "Nosana archives a deployment only once it is STOPPED; it is ERROR. Stop it first."),
        (Action.ARCHIVE, "STOPPED", ""),
        (Action.STOP, "STARTING", "Nosana stops a deployment only when it is RUNNING (or in error); it is STARTING."),
        (Action.STOP, "INSUFFICIENT_FUNDS", ""),
        (
            Action.START,
            "STOPPING",
            "Nosana starts a deployment only when it is a draft, stopped or in error; it is STOPPING.",
        ),
        (Action.SCALE, "ARCHIVED", "Archived at Nosana: nothing can change it any more."),
        (Action.SCALE, "RUNNING", ""),
    ],
)
def test_nosana_action_blocked_names_the_servers_preconditions(action, status, blocked):
    assert NosanaProvider.action_blocked(action, spec=NOTES, raw={"status": status}, since=None) == blocked


def test_nosana_check_spec_accepts_the_seed_as_written():
    assert check_spec(copy.deepcopy(SEED)) == SEED


def test_nosana_check_spec_keeps_strategy_fields_where_they_belong():
    scheduled = check_spec({**SEED, "strategy": "SCHEDULED", "schedule": " 0 * * * * ", "rotation_time": 20})
    assert scheduled["schedule"] == "0 * * * *"
    assert "rotation_time" not in scheduled
    infinite = check_spec({**SEED, "strategy": "INFINITE", "timeout": 120, "rotation_time": 30, "schedule": "x"})
    assert (infinite["rotation_time"], "schedule" in infinite) == (30, False)


def test_nosana_check_spec_trims_the_market():
    assert check_spec({**SEED, "market": f"  {M3060} "})["market"] == M3060


def jd(**args: Any) -> dict[str, Any]:
    definition = copy.deepcopy(SEED["job_definition"])
    definition["ops"][0]["args"].update(args)
    return definition


RULES = [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 101}, "name", "At most 100 characters."),
    ({"name": "   "}, "name", "A name is required."),
    ({"market": "not a market"}, "market", "A market address (base58, 32–44 characters) from Nosana's market list."),
    ({"market": None}, "market", "This field is required."),
    ({"replicas": 0}, "replicas", "At least 1."),
    ({"replicas": 1.5}, "replicas", "A whole number."),
    ({"timeout": 0}, "timeout", "At least 1 minute."),
    ({"timeout": "60"}, "timeout", "Whole minutes."),
    ({"strategy": "FOREVER"}, "strategy", "Choose one of: SIMPLE, SIMPLE-EXTEND, SCHEDULED, INFINITE."),
    ({"strategy": "SCHEDULED"}, "schedule", "A scheduled deployment needs a cron schedule."),
    (
        {"strategy": "SCHEDULED", "schedule": "0 * * *"},
        "schedule",
        "Five fields: minute hour day-of-month month day-of-week, e.g. 0 * * * *.",
    ),
    ({"strategy": "SCHEDULED", "schedule": "99 * * * *"}, "schedule", "Not a valid cron expression."),
    ({"strategy": "INFINITE", "timeout": 59}, "timeout", "Timeout for infinite deployments must be at least 1 hour."),
    (
        {"strategy": "INFINITE", "timeout": 60, "rotation_time": 50},
        "rotation_time",
        "Rotation time must be at least 10 minutes less than timeout.",
    ),
    (
        {"strategy": "INFINITE", "timeout": 30 + 0},
        "timeout",
        "Timeout for infinite deployments must be at least 1 hour.",
    ),
    ({"strategy": "INFINITE", "timeout": 60, "rotation_time": 0}, "rotation_time", "Whole minutes, 1 or more."),
    ({"confidential": "yes"}, "confidential", "Yes or no."),
    ({"active_revision": 0}, "active_revision", "A revision number, 1 or more."),
    (
        {"vault": "SomeVault1111111111111111111111111"},
        "vault",
        "Only for wallet sign-in: an API key pays from its credits.",
    ),
    ({"job_definition": None}, "job_definition", "A job definition is required."),
    ({"job_definition": {**SEED["job_definition"], "version": "0.2"}}, "job_definition.version", "Must be '0.1'."),
    ({"job_definition": {**SEED["job_definition"], "type": "vm"}}, "job_definition.type", "Must be 'container'."),
    ({"job_definition": {**SEED["job_definition"], "ops": []}}, "job_definition.ops", "Needs at least 1."),
    ({"job_definition": {"version": "0.1", "type": "container"}}, "job_definition.ops", "This field is required."),
    ({"job_definition": jd(image=None)}, "job_definition.ops.0.args.image", "Must be text."),
    (
        {"job_definition": {**SEED["job_definition"], "ops": [{"type": "container/run", "id": "a", "args": {}}]}},
        "job_definition.ops.0.args.image",
        "This field is required.",
    ),
    (
        {"job_definition": jd(image="ubuntu latest")},
        "job_definition.ops.0.args.image",
        "An image reference, no spaces.",
    ),
    ({"job_definition": jd(cmd=5)}, "job_definition.ops.0.args.cmd", "A string, or a list of strings."),
    ({"job_definition": jd(gpu="yes")}, "job_definition.ops.0.args.gpu", "Must be true or false."),
    ({"job_definition": jd(expose=70000)}, "job_definition.ops.0.args.expose", "At most 65535."),
    (
        {"job_definition": jd(expose=[{"port": 8000, "type": "grpc"}])},
        "job_definition.ops.0.args.expose.0.type",
        "Choose one of: api, web, websocket, webapi, none.",
    ),
    (
        {"job_definition": jd(expose=[{"type": "web"}])},
        "job_definition.ops.0.args.expose.0.port",
        "This field is required.",
    ),
    (
        {"job_definition": jd(env={"A B": "1"})},
        "job_definition.ops.0.args.env.A B",
        "A variable name has no spaces and no “=”.",
    ),
    ({"job_definition": jd(env={"PORT": 8000})}, "job_definition.ops.0.args.env.PORT", "Must be text."),
    (
        {"job_definition": jd(resources=[{"type": "HF", "target": "/m"}])},
        "job_definition.ops.0.args.resources.0.repo",
        "This field is required.",
    ),
    (
        {
            "job_definition": {
                **SEED["job_definition"],
                "ops": [
                    {"type": "container/run", "id": "a", "args": {"image": "x"}},
                    {"type": "container/run", "id": "a", "args": {"image": "y"}},
                ],
            }
        },
        "job_definition.ops.1.id",
        "The id 'a' is used by another op.",
    ),
    (
        {
            "job_definition": {
                **SEED["job_definition"],
                "ops": [{"type": "container/sing", "id": "a", "args": {"image": "x"}}],
            }
        },
        "job_definition.ops.0.type",
        "Choose one of: container/run, container/create-volume.",
    ),
    (
        {
            "job_definition": {
                **SEED["job_definition"],
                "ops": [{"type": "container/create-volume", "id": "v", "args": {}}],
            }
        },
        "job_definition.ops.0.args.name",
        "This field is required.",
    ),
    (
        {
            "job_definition": {
                **SEED["job_definition"],
                "ops": [
                    {"type": "container/run", "id": "a", "args": {"image": "x"}, "execution": {"depends_on": ["b"]}}
                ],
            }
        },
        "job_definition.ops.0.execution.depends_on.0",
        "No op has the id 'b'.",
    ),
]


@pytest.mark.parametrize(("changes", "path", "message"), RULES, ids=[f"{i}-{r[1]}" for i, r in enumerate(RULES)])
def test_nosana_check_spec_rule(changes, path, message):
    with pytest.raises(SpecError) as caught:
        check_spec({**copy.deepcopy(SEED), **changes})
    assert message in caught.value.fields.get(path, []), caught.value.fields


def test_nosana_validate_is_the_rules_and_needs_no_context():
    context = ValidationContext(existing=True, previous=copy.deepcopy(SEED))
    assert NosanaProvider.validate(copy.deepcopy(SEED)) == check_spec(copy.deepcopy(SEED))
    assert NosanaProvider.validate(copy.deepcopy(SEED), context) == SEED
    with pytest.raises(SpecError) as caught:
        NosanaProvider.validate({**SEED, "replicas": 0})
    assert caught.value.fields == {"replicas": ["At least 1."]}
    assert "validate_spec" not in vars(NosanaProvider)  # the deprecated hook is gone
