"""The production packaging says what the code does: compose, Procfile, .env.example, CI."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
READERS = re.compile(r'env_(?:str|bool|int|float|list|secret)\("([A-Z0-9_]+)"')


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def run_django(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "controlpanel.settings"}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def compose_env(service: str, tmp_path: Path) -> dict[str, str]:
    """What the service's container sees: env_file (.env.example as the template) plus
    `environment`, with ${VAR} resolved from .env the way compose does."""
    env = env_example()
    for name, value in COMPOSE["services"][service]["environment"].items():
        env[name] = re.sub(r"\$\{(\w+)(:\?[^}]*)?\}", lambda m: env.get(m.group(1), ""), str(value))
    env["PANEL_VAR_DIR"] = str(tmp_path)  # /var/lib/panel in the image
    return env


def test_settings_load_from_the_compose_environment_alone(tmp_path):
    result = run_django(
        compose_env("web", tmp_path),
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DATABASES['default']['HOST'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql", "redis://redis:6379/0", "db"]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 12 + Fernet.generate_key().decode(),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "panel.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PANEL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FERNET_KEYS"])
def test_production_refuses_to_start_without_a_secret(tmp_path, missing):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "s" * 60,
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "PANEL_VAR_DIR": str(tmp_path),
    }
    del env[missing]
    result = run_django(env, "pass")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set" in result.stderr


def test_every_variable_the_code_reads_is_in_env_example():
    read = set()
    for path in (ROOT / "controlpanel").rglob("*.py"):
        read |= set(READERS.findall(path.read_text()))
    documented = set(env_example())
    assert read, "found no env readers: the pattern is stale"
    assert sorted(read - documented) == []


def _words(command) -> list[str]:
    return command if isinstance(command, list) else shlex.split(command)


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_compose_runs_what_the_procfile_runs(service):
    assert _words(COMPOSE["services"][service]["command"]) == shlex.split(PROCFILE[service])


def test_compose_web_matches_the_procfile_but_for_the_bind_address():
    compose = " ".join(_words(COMPOSE["services"]["web"]["command"])).replace("$$", "$")
    procfile = PROCFILE["web"]
    assert "--bind 0.0.0.0:8000" in compose
    assert "--bind 127.0.0.1:${PORT}" in procfile
    strip = lambda s: re.sub(r"--bind \S+", "", s.removeprefix("sh -c exec ")).split()  # noqa: E731
    assert strip(compose) == strip(procfile)


def test_web_waits_for_migrations_and_services():
    web = COMPOSE["services"]["web"]["depends_on"]
    assert web["migrate"]["condition"] == "service_completed_successfully"
    assert COMPOSE["services"]["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert COMPOSE["services"]["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert COMPOSE["services"]["db"]["image"].startswith("postgres:16")
    assert COMPOSE["services"]["redis"]["image"].startswith("redis:7")


def test_ci_runs_the_readme_command():
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert "exec make test" in ci.read_text()
    assert "make test" in (ROOT / "README.md").read_text().split("\n\n")[1]
