"""Nosana's rules for a deployment, said before any request is sent.

The spec *is* a ``DeploymentCreateBody`` (name, market, replicas, timeout, strategy,
schedule, rotation_time, confidential, job_definition); ``active_revision`` may be
added on update to switch revisions. :func:`check_spec` is composed of one small
check per section of that body; each adds its errors, keyed by field path, and the
normalised values. [V] = read in source or schema, [I] = inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from providers.base import Action, SpecError
from providers.coerce import whole
from providers.nosana.schema import job_definition_errors

STRATEGIES: tuple[str, ...] = ("SIMPLE", "SIMPLE-EXTEND", "SCHEDULED", "INFINITE")  # [V]
STRATEGY_LABELS = {
    "SIMPLE": "Simple: run once, for the timeout",
    "SIMPLE-EXTEND": "Simple-extend: extend each job until stopped or out of credits",
    "SCHEDULED": "Scheduled: run at every tick of a cron schedule",
    "INFINITE": "Infinite: keep running, rotating jobs before their timeout",
}
# No server limit on the name (notes §5); ours, so it fits the panel and the dashboard [I].
NAME_MAX = 100
# A market address is a Solana public key: base58, 32–44 characters [I].
MARKET_RE = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")
REPLICAS_MIN = 1  # create schema minimum 1 [V]; update allows 0 but the SDK refuses it: 1 [I]
TIMEOUT_MIN = 1  # minutes [V]
UPDATE_TIMEOUT_MIN = 60  # update-timeout's schema minimum [V]
INFINITE_TIMEOUT_MIN = 60  # [V]
ROTATION_DEFAULT = 20  # minutes, server default [V]
ROTATION_GAP = 10  # rotation_time < timeout - 10 [V]
CRON_RE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")  # the schema's pattern [V]
# Keys the panel keeps in the spec that are not part of the create body.
PANEL_ONLY_KEYS = ("active_revision",)
# What has no update route [V]: changing one needs a new deployment.
IMMUTABLE_KEYS = ("market", "strategy", "confidential", "rotation_time", "name")


def _whole(value: Any) -> int | None:
    # Numbers only: a spec's counts come from the form as numbers, and "1" is not one here.
    return whole(value, strings=False)


@dataclass
class _Check:
    """One run of the rules over ``spec``: what was found wrong, and what was kept."""

    spec: dict[str, Any]
    partial: bool
    errors: dict[str, list[str]] = field(default_factory=dict)
    out: dict[str, Any] = field(default_factory=dict)

    def err(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def given(self, key: str) -> bool:
        """Whether ``key`` has a value; a missing one is an error unless ``partial``."""
        value = self.spec.get(key)
        if value is None or value == "":
            if not self.partial:
                self.err(key, "This field is required.")
            return False
        return True


def check_cron(expression: Any) -> str:
    """``""`` if ``expression`` is a 5-field cron the vendor takes, else why not."""
    if not isinstance(expression, str) or not CRON_RE.match(expression):
        return "Five fields: minute hour day-of-month month day-of-week, e.g. 0 * * * *."
    if not croniter.is_valid(expression.strip()):
        return "Not a valid cron expression."
    return ""


def _check_name(c: _Check) -> None:
    if not c.given("name"):
        return
    name = c.spec["name"]
    if not isinstance(name, str) or not name.strip():
        c.err("name", "A name is required.")
    elif len(name) > NAME_MAX:
        c.err("name", f"At most {NAME_MAX} characters.")
    else:
        c.out["name"] = name.strip()


def _check_market(c: _Check) -> None:
    if not c.given("market"):
        return
    market = c.spec["market"].strip() if isinstance(c.spec["market"], str) else c.spec["market"]
    if not isinstance(market, str) or not MARKET_RE.match(market):
        c.err("market", "A market address (base58, 32–44 characters) from Nosana's market list.")
    c.out["market"] = market


def _check_counts(c: _Check) -> None:
    """Replicas and timeout: whole numbers with the schema's minimums."""
    if c.given("replicas"):
        replicas = _whole(c.spec["replicas"])
        if replicas is None:
            c.err("replicas", "A whole number.")
        elif replicas < REPLICAS_MIN:
            c.err("replicas", f"At least {REPLICAS_MIN}.")
        else:
            c.out["replicas"] = replicas
    if c.given("timeout"):
        timeout = _whole(c.spec["timeout"])
        if timeout is None:
            c.err("timeout", "Whole minutes.")
        elif timeout < TIMEOUT_MIN:
            c.err("timeout", f"At least {TIMEOUT_MIN} minute.")
        else:
            c.out["timeout"] = timeout


def _check_strategy(c: _Check) -> None:
    if not c.given("strategy"):
        return
    if c.spec["strategy"] not in STRATEGIES:
        c.err("strategy", f"Choose one of: {', '.join(STRATEGIES)}.")
    else:
        c.out["strategy"] = c.spec["strategy"]


def _check_schedule(c: _Check) -> None:
    """A SCHEDULED deployment's cron; other strategies carry none."""
    if c.spec.get("strategy") != "SCHEDULED":
        return
    schedule = c.spec.get("schedule")
    if schedule in (None, ""):
        c.err("schedule", "A scheduled deployment needs a cron schedule.")
        return
    problem = check_cron(schedule)
    if problem:
        c.err("schedule", problem)
    c.out["schedule"] = schedule.strip() if isinstance(schedule, str) else schedule


def _check_infinite(c: _Check) -> None:
    """An INFINITE deployment's timeout floor and rotation time; others carry none."""
    if c.spec.get("strategy") != "INFINITE":
        return
    timeout = _whole(c.spec.get("timeout"))
    if timeout is not None and timeout < INFINITE_TIMEOUT_MIN:
        c.err("timeout", "Timeout for infinite deployments must be at least 1 hour.")
    rotation = c.spec.get("rotation_time")
    if rotation not in (None, ""):
        rotation = _whole(rotation)
        if rotation is None or rotation < 1:
            c.err("rotation_time", "Whole minutes, 1 or more.")
        else:
            c.out["rotation_time"] = rotation
    # The server defaults rotation to 20 minutes [V]; the rule holds for that too.
    effective = c.out.get("rotation_time", ROTATION_DEFAULT)
    if timeout is not None and timeout >= INFINITE_TIMEOUT_MIN and not effective < timeout - ROTATION_GAP:
        c.err("rotation_time", "Rotation time must be at least 10 minutes less than timeout.")


def _check_flags(c: _Check) -> None:
    """``confidential`` (a boolean) and ``active_revision`` (the update's revision switch)."""
    confidential = c.spec.get("confidential")
    if confidential is not None:
        if not isinstance(confidential, bool):
            c.err("confidential", "Yes or no.")
        else:
            c.out["confidential"] = confidential
    active = c.spec.get("active_revision")
    if active not in (None, ""):
        number = _whole(active)
        if number is None or number < 1:
            c.err("active_revision", "A revision number, 1 or more.")
        else:
            c.out["active_revision"] = number


def _check_job_definition(c: _Check) -> None:
    if "job_definition" not in c.spec and c.partial:
        return
    job_definition = c.spec.get("job_definition")
    if job_definition in (None, "", {}):
        c.err("job_definition", "A job definition is required.")
        return
    for path, messages in job_definition_errors(job_definition).items():
        c.errors.setdefault(f"job_definition.{path}" if path else "job_definition", []).extend(messages)
    c.out["job_definition"] = job_definition


def _check_payment(c: _Check) -> None:
    """A vault is for wallet sign-in; an API key pays from its credits."""
    for key in ("vault", "new_vault"):
        if c.spec.get(key) not in (None, ""):
            c.err(key, "Only for wallet sign-in: an API key pays from its credits.")


SECTIONS = (
    _check_name,
    _check_market,
    _check_counts,
    _check_strategy,
    _check_schedule,
    _check_infinite,
    _check_flags,
    _check_job_definition,
    _check_payment,
)


def check_spec(spec: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check a ``DeploymentCreateBody`` and return it normalised (strategy-specific fields
    only where they belong). Raises :class:`SpecError` keyed by field path, e.g.
    ``job_definition.ops.0.args.image``. ``partial`` checks the fields present only."""
    check = _Check(spec, partial)
    for section in SECTIONS:
        section(check)
    if check.errors:
        raise SpecError(check.errors)
    return check.out


def create_body(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in check_spec(spec).items() if k not in PANEL_ONLY_KEYS}


def check_scale(changes: dict[str, Any]) -> dict[str, Any]:
    """The Scale dialog's one count, for update-replica-count."""
    value = changes.get("replicas", changes.get("min_replicas"))
    if value in (None, ""):
        raise SpecError({"replicas": ["This field is required."]})
    replicas = _whole(value)
    if replicas is None or replicas < REPLICAS_MIN:
        # update-replica-count takes 0 in its schema, but the SDK refuses it: use Stop [I].
        raise SpecError({"replicas": [f"At least {REPLICAS_MIN}; to stop it, use Stop."]})
    return {"replicas": replicas}


def check_update(new: dict[str, Any], previous: dict[str, Any]) -> None:
    """What an update may not do: change what has no update route, switch revisions while
    changing the job definition, or set a timeout under update-timeout's minimum [V]."""
    errors: dict[str, list[str]] = {}
    for key in IMMUTABLE_KEYS:
        if key in previous and new.get(key, previous.get(key)) != previous.get(key):
            errors.setdefault(key, []).append(
                "Nosana cannot change this after create: create a new deployment instead."
            )
    switch = new.get("active_revision")
    if revision_changed(new, previous) and switch and switch != previous.get("active_revision"):
        errors.setdefault("active_revision", []).append(
            "Change the job definition or switch revisions, not both at once."
        )
    if new["timeout"] != previous.get("timeout") and new["timeout"] < UPDATE_TIMEOUT_MIN:
        errors.setdefault("timeout", []).append(
            f"Nosana changes the timeout of an existing deployment only to {UPDATE_TIMEOUT_MIN} minutes or more."
        )
    if errors:
        raise SpecError(errors)


def revision_changed(new: dict[str, Any], previous: dict[str, Any]) -> bool:
    return bool(new.get("job_definition") != previous.get("job_definition"))


def action_blocked(action: Action, status: str) -> str:
    """The server's preconditions for ``action`` on a deployment in ``status`` (notes §3),
    said before the user tries; ``""`` when nothing stands in the way."""
    if not status:
        return ""
    if status == "ARCHIVED":
        return "Archived at Nosana: nothing can change it any more."
    if action in (Action.DELETE, Action.ARCHIVE) and status != "STOPPED":
        verb = "deletes" if action is Action.DELETE else "archives"
        if status == "DRAFT":
            return f"Nosana {verb} only stopped deployments, and a draft has never run: start it and stop it first."
        return f"Nosana {verb} a deployment only once it is STOPPED; it is {status}. Stop it first."
    if action is Action.STOP and status not in ("RUNNING", "ERROR", "INSUFFICIENT_FUNDS"):
        return f"Nosana stops a deployment only when it is RUNNING (or in error); it is {status}."
    if action is Action.START and status not in ("DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"):
        return f"Nosana starts a deployment only when it is a draft, stopped or in error; it is {status}."
    return ""
