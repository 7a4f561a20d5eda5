from __future__ import annotations

import datetime as dt

from django.utils import timezone

from controlpanel.core.heartbeat import beat
from controlpanel.core.models import Heartbeat


def test_healthz_ok_when_every_part_reports(client, db):
    beat("worker", "w1")
    beat("beat", "b1")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"}


def test_healthz_503_names_what_is_missing(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["worker"] == "no worker has reported yet"
    assert checks["database"] == "ok"


def test_healthz_503_when_the_worker_went_quiet(client, db):
    beat("beat", "b1")
    Heartbeat.objects.create(kind="worker", hostname="w1", seen_at=timezone.now() - dt.timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"].startswith("last seen 3")


def test_healthz_needs_no_login_and_shows_no_settings(client, db, settings):
    body = client.get("/healthz").content.decode()
    assert settings.SECRET_KEY not in body
    assert settings.FERNET_KEYS[0] not in body
