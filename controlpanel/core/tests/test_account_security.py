"""Account security: throttled log-in, password change and reset, CSRF (HTMX included),
session and cache settings, and a clean ``check --deploy``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from controlpanel.core import throttle
from controlpanel.deployments.states import State
from tests.factories import PASSWORD, DeploymentFactory, UserFactory

ROOT = Path(__file__).resolve().parents[3]
LOGIN = reverse("login")
NEW_PASSWORD = "quartz-meadow-signal-77"


@pytest.fixture
def person(db):
    """A user of their own (cache counts outlive a test's database) and a clean slate after."""
    user = UserFactory(username=f"t-{uuid.uuid4().hex[:10]}")
    yield user
    for ip in ("127.0.0.1", "203.0.113.7"):
        throttle.login_failures_clear(username=user.username, ip=ip)
        throttle.password_reset_counts_clear(email=user.email, ip=ip)


def fail(client: Client, username: str, **extra):
    return client.post(LOGIN, {"username": username, "password": "wrong-password"}, **extra)


# --- throttling ----------------------------------------------------------------------------------


def test_login_locks_after_five_failures_and_says_for_how_long(client, person):
    for _ in range(4):
        response = fail(client, person.username)
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    locked = fail(client, person.username)
    assert locked.status_code == 429
    assert "Try again in 15 minutes." in locked.content.decode()
    # Now even the right password is not checked.
    right = client.post(LOGIN, {"username": person.username, "password": PASSWORD})
    assert right.status_code == 429
    assert SESSION_KEY not in client.session


def test_lockout_counts_the_username_whatever_its_case(client, person):
    for _ in range(5):
        fail(client, person.username.upper())
    assert client.post(LOGIN, {"username": person.username, "password": PASSWORD}).status_code == 429


def test_lockout_is_per_address(client, person):
    for _ in range(5):
        fail(client, person.username)
    other = client.post(LOGIN, {"username": person.username, "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert other["Location"] == reverse("deployments:dashboard")


def test_a_successful_login_clears_the_count(client, person):
    for _ in range(4):
        fail(client, person.username)
    client.post(LOGIN, {"username": person.username, "password": PASSWORD})
    client.logout()
    for _ in range(4):
        assert fail(client, person.username).status_code == 200
    assert throttle.login_lockout_seconds(username=person.username, ip="127.0.0.1") == 0


def test_the_lockout_ends_after_its_window(client, person, monkeypatch):
    for _ in range(5):
        fail(client, person.username)
    start = throttle._now()
    monkeypatch.setattr(throttle, "_now", lambda: start + 10 * 60)
    assert "Try again in 5 minutes." in fail(client, person.username).content.decode()
    monkeypatch.setattr(throttle, "_now", lambda: start + 15 * 60 + 1)
    assert client.post(LOGIN, {"username": person.username, "password": PASSWORD}).status_code == 302


def test_the_cache_holds_no_username_in_the_clear(person):
    throttle.login_failure_record(username=person.username, ip="127.0.0.1")
    key = throttle._key(person.username, "127.0.0.1")
    assert person.username not in key
    assert key.startswith("login-failures:")


# --- password change and reset -----------------------------------------------------------------


def test_password_change_checks_the_old_one_and_applies_validators(client, person):
    client.force_login(person)
    page = client.get(reverse("password_change"))
    assert 'name="old_password"' in page.content.decode()
    wrong = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert "This password is too common." in weak.content.decode()
    done = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done["Location"] == reverse("password_change_done")
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    assert client.get(reverse("password_change_done")).status_code == 200  # still logged in here


def test_password_change_needs_a_login(client, db):
    assert client.get(reverse("password_change"))["Location"].startswith(LOGIN)


def test_password_reset_mails_a_single_use_link(client, person):
    login_page = client.get(LOGIN).content.decode()
    assert reverse("password_reset") in login_page
    response = client.post(reverse("password_reset"), {"email": person.email})
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [person.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]  # Django swaps the token for a session marker
    page = client.get(form_url).content.decode()
    assert 'name="new_password1"' in page
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("password_reset_complete")
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    assert "This link does not work any more" in Client().get(link, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


@pytest.fixture
def reset_ip():
    """A client address of its own: reset counts live an hour in the cache, across runs."""
    ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    yield ip
    throttle.password_reset_counts_clear(email="", ip=ip)


def test_password_reset_mails_to_one_address_are_capped_per_hour(client, person, reset_ip, settings):
    settings.PANEL_RESET_MAX_PER_HOUR = 3
    answers = [client.post(reverse("password_reset"), {"email": person.email}, REMOTE_ADDR=reset_ip) for _ in range(5)]
    # Past the cap it answers exactly as before (nothing to learn about the address) but sends nothing.
    assert {a["Location"] for a in answers} == {reverse("password_reset_done")}
    assert len(mail.outbox) == 3


def test_password_reset_mails_from_one_client_are_capped_across_addresses(client, reset_ip, settings, db):
    settings.PANEL_RESET_MAX_PER_HOUR = 2
    people = [UserFactory(username=f"r-{uuid.uuid4().hex[:10]}") for _ in range(3)]
    for user in people:
        client.post(reverse("password_reset"), {"email": user.email}, REMOTE_ADDR=reset_ip)
    assert [m.to for m in mail.outbox] == [[people[0].email], [people[1].email]]
    for user in people:
        throttle.password_reset_counts_clear(email=user.email, ip=reset_ip)


# --- CSRF -------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def test_state_changing_posts_without_the_token_are_refused(csrf_client, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep-1")
    url = reverse("deployments:action", args=[deployment.pk, "stop"])
    assert csrf_client.post(url).status_code == 403
    assert csrf_client.post(url, HTTP_HX_REQUEST="true").status_code == 403
    deployment.refresh_from_db()
    assert deployment.pending_action == ""


def test_htmx_posts_carry_the_token_from_the_page_and_are_accepted(
    csrf_client, account, django_capture_on_commit_callbacks
):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep-1")
    page = csrf_client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    headers = json.loads(re.search(r"<body hx-headers='([^']+)'", page).group(1))
    assert set(headers) == {"X-CSRFToken"}
    url = reverse("deployments:action", args=[deployment.pk, "stop"])
    with django_capture_on_commit_callbacks():
        response = csrf_client.post(url, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=headers["X-CSRFToken"])
    assert response.status_code == 200
    deployment.refresh_from_db()
    assert deployment.pending_action == "stop"


def test_the_login_form_itself_needs_the_token(person):
    client = Client(enforce_csrf_checks=True)
    assert client.post(LOGIN, {"username": person.username, "password": PASSWORD}).status_code == 403


# --- settings --------------------------------------------------------------------------------------


def _bare_environment() -> dict[str, str]:
    """Only what a process needs to start: nothing the test run set for itself leaks in
    (DATABASE_URL, REDIS_URL, the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE...)."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")}


def _settings_with(env: dict[str, str], tmp_path: Path) -> dict:
    code = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "print(json.dumps({'cache': s.CACHES['default'], 'close': s.SESSION_EXPIRE_AT_BROWSER_CLOSE,"
        "'age': s.SESSION_COOKIE_AGE}))"
    )
    clean = _bare_environment()
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
            "DEBUG": "true",
            "PANEL_VAR_DIR": str(tmp_path),
            **env,
        },
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cache_is_shared_files_by_default_and_redis_when_configured(tmp_path):
    embedded = _settings_with({}, tmp_path)
    assert embedded["cache"]["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert embedded["cache"]["LOCATION"] == str(tmp_path / "cache")
    redis = _settings_with({"REDIS_URL": "redis://127.0.0.1:6379/0"}, tmp_path)
    assert redis["cache"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert redis["cache"]["LOCATION"] == "redis://127.0.0.1:6379/0"


def test_the_test_suite_uses_the_configured_shared_cache():
    expected = "RedisCache" if settings.REDIS_URL else "FileBasedCache"
    assert settings.CACHES["default"]["BACKEND"].endswith(expected)
    assert settings.CACHES["default"]["KEY_PREFIX"] == "paneltest"


def test_session_expiry_settings_come_from_the_environment(tmp_path):
    assert _settings_with({}, tmp_path)["close"] is False
    configured = _settings_with({"SESSION_EXPIRE_AT_BROWSER_CLOSE": "true", "SESSION_COOKIE_AGE": "900"}, tmp_path)
    assert (configured["close"], configured["age"]) == (True, 900)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    clean = _bare_environment()
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
        "DEBUG": "false",
        "PANEL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "FERNET_KEYS": Fernet.generate_key().decode(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
