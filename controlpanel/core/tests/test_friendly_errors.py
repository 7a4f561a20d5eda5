"""``make run`` runs with DEBUG on; PANEL_FRIENDLY_ERRORS (which it sets) still shows the
panel's own 404 and 500 pages instead of Django's technical ones."""

from __future__ import annotations

import logging

import pytest
from django.urls import path

from controlpanel.urls import urlpatterns as panel_urls
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [*panel_urls, path("boom/", boom)]


@pytest.fixture
def friendly(settings):
    settings.DEBUG = True
    settings.PANEL_FRIENDLY_ERRORS = True
    return settings


def test_an_unknown_address_gets_the_panels_404_page(client, friendly):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body
    assert "Back to the dashboard" in body
    assert "technical_404" not in body
    assert "Django tried these URL patterns" not in body


def test_a_missing_object_gets_the_panels_404_page(client, friendly):
    membership = MembershipFactory()
    client.login(username=membership.user.username, password=PASSWORD)
    response = client.get("/deployments/999999/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


def test_a_crash_gets_the_panels_500_page_and_the_traceback_is_logged(client, friendly, caplog):
    friendly.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


def test_a_missing_slash_is_still_redirected(client, friendly):
    response = client.get("/team")
    assert response.status_code == 301
    assert response.url == "/team/"


def test_off_by_default_so_debug_keeps_djangos_pages(client, settings):
    settings.DEBUG = True
    settings.PANEL_FRIENDLY_ERRORS = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Django tried these URL patterns" in response.content.decode()
