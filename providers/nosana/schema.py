"""The job definition Nosana runs: a JSON Schema and the checks the schema cannot say.

Written from the notes (``shared/vendor-apis/nosana.md`` §5) and the docs' schema page.
Errors are keyed by the job definition's own dotted path (``ops.0.args.image``); the
rules (``providers.nosana.rules``) put them under ``job_definition.``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

OP_TYPES: tuple[str, ...] = ("container/run", "container/create-volume")
EXPOSE_TYPES: tuple[str, ...] = ("api", "web", "websocket", "webapi", "none")
RESOURCE_TYPES: tuple[str, ...] = ("S3", "HF", "Ollama")
JOB_DEFINITION_VERSION = "0.1"
PORT_RANGE = (1, 65535)
ENV_NAME_RE = re.compile(r"^[^=\s]+$")  # docker takes any name without "=" or spaces [I]

# --- the job definition: a JSON Schema written from the notes (§5) and the docs' schema page ---------
_STR_OR_LIST = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "x-message": "A string, or a list of strings.",
}
_PORT = {"type": "integer", "minimum": PORT_RANGE[0], "maximum": PORT_RANGE[1]}
_ENV = {"type": "object", "additionalProperties": {"type": "string"}, "x-message": "An object of string values."}
JOB_DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Nosana job definition",
    "type": "object",
    "required": ["version", "type", "ops"],
    "properties": {
        "version": {"const": JOB_DEFINITION_VERSION},
        "type": {"const": "container"},
        "meta": {
            "type": "object",
            "properties": {
                "trigger": {"type": "string"},  # free text: the docs say cli|dashboard, the seed "api"
                # The schema calls it system_resources, the docs and the dashboard use
                # system_requirements.required_vram (notes §5): both are accepted.
                "system_requirements": {
                    "type": "object",
                    "properties": {"required_vram": {"type": "number", "minimum": 0}},
                },
                "system_resources": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
            },
        },
        "global": {
            "type": "object",
            "properties": {
                "image": {"type": "string"},
                "gpu": {"type": "boolean"},
                "entrypoint": _STR_OR_LIST,
                "env": _ENV,
                "work_dir": {"type": "string"},
            },
        },
        "ops": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/op"}},
    },
    "$defs": {
        "op": {
            "type": "object",
            "required": ["id", "type", "args"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "type": {"enum": list(OP_TYPES)},
                "args": {"type": "object"},
                "execution": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string"},
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "results": {"type": "object"},
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "container/run"}}, "required": ["type"]},
                    "then": {"properties": {"args": {"$ref": "#/$defs/run_args"}}},
                },
                {
                    "if": {"properties": {"type": {"const": "container/create-volume"}}, "required": ["type"]},
                    "then": {"properties": {"args": {"$ref": "#/$defs/volume_args"}}},
                },
            ],
        },
        "run_args": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {
                    "type": "string",
                    "minLength": 1,
                    "allOf": [{"pattern": r"^\S*$", "x-message": "An image reference, no spaces."}],
                },
                "cmd": _STR_OR_LIST,
                "entrypoint": _STR_OR_LIST,
                "gpu": {"type": "boolean"},
                "expose": {
                    "anyOf": [_PORT, {"type": "array", "items": {"$ref": "#/$defs/exposed_port"}}],
                    "x-message": "A port number (1–65535), or a list of {port, type}.",
                },
                "env": _ENV,
                "work_dir": {"type": "string"},
                "volumes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "dest"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "dest": {"type": "string", "minLength": 1},
                        },
                    },
                },
                "resources": {"type": "array", "items": {"$ref": "#/$defs/resource"}},
                "authentication": {
                    "type": "object",
                    "properties": {
                        "docker": {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                                "email": {"type": "string"},
                                "server": {"type": "string"},
                            },
                        }
                    },
                },
                "restart_policy": {"type": "string"},
                "private": {"type": "boolean"},
                "required_vram": {"type": "number", "minimum": 0},
            },
        },
        "volume_args": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
        },
        "exposed_port": {
            "type": "object",
            "required": ["port"],
            "properties": {
                "port": _PORT,
                "type": {"enum": list(EXPOSE_TYPES)},
                "health_checks": {"type": "array", "items": {"type": "object"}},
            },
        },
        "resource": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(RESOURCE_TYPES)}, "target": {"type": "string"}},
            "allOf": [
                {"if": {"properties": {"type": {"const": "HF"}}}, "then": {"required": ["repo"]}},
                {"if": {"properties": {"type": {"const": "Ollama"}}}, "then": {"required": ["model"]}},
            ],
        },
    },
}


@cache
def _job_definition_validator() -> Draft202012Validator:
    return Draft202012Validator(JOB_DEFINITION_SCHEMA)


TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


def _schema_message(error: Any) -> str:
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom:
        return custom
    value, kind = error.validator_value, error.validator
    if kind == "required":
        return "This field is required."
    if kind == "const":
        return f"Must be {value!r}."
    if kind == "enum":
        return f"Choose one of: {', '.join(str(v) for v in value)}."
    if kind == "minItems":
        return f"Needs at least {value}."
    if kind in ("minimum", "maximum"):
        return f"{'At least' if kind == 'minimum' else 'At most'} {value}."
    if kind == "minLength":
        return "Cannot be empty."
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return f"Must be {' or '.join(TYPE_WORDS.get(str(n), str(n)) for n in names)}."
    return error.message


def _leaf_errors(error: Any) -> Iterable[Any]:
    """For an anyOf (a port or a list of ports), the problems inside the branch the value
    was meant for, rather than "matches none of them"."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        deeper = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        if deeper:
            for sub in deeper:
                yield from _leaf_errors(sub)
            return
    yield error


def job_definition_errors(job_definition: Any) -> dict[str, list[str]]:
    """Problems with a job definition, keyed by its own dotted path (``ops.0.args.image``)."""
    if not isinstance(job_definition, dict):
        return {"": ["A job definition is a JSON object."]}
    errors: dict[str, list[str]] = {}
    for error in (e for top in _job_definition_validator().iter_errors(job_definition) for e in _leaf_errors(top)):
        parts = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            missing = next((f for f in error.validator_value if f not in error.instance), "")
            parts.append(missing)
        errors.setdefault(".".join(parts), []).append(_schema_message(error))
    ops = job_definition.get("ops")
    if isinstance(ops, list):
        _op_errors(ops, errors)
    return errors


def _op_errors(ops: list[Any], errors: dict[str, list[str]]) -> None:
    """What the schema cannot say about ops: unique ids, env names, known dependencies."""
    ids = [op.get("id") for op in ops if isinstance(op, dict)]
    seen: set[str] = set()
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("id"), str):
            continue
        if op["id"] in seen:
            errors.setdefault(f"ops.{i}.id", []).append(f"The id {op['id']!r} is used by another op.")
        seen.add(op["id"])
        args = _object(op.get("args"))
        for name in _object(args.get("env")):
            if not ENV_NAME_RE.match(name):
                errors.setdefault(f"ops.{i}.args.env.{name}", []).append("A variable name has no spaces and no “=”.")
        for j, dependency in enumerate(_object(op.get("execution")).get("depends_on") or []):
            if isinstance(dependency, str) and dependency not in ids:
                errors.setdefault(f"ops.{i}.execution.depends_on.{j}", []).append(f"No op has the id {dependency!r}.")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
