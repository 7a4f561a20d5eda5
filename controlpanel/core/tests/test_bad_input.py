"""What the fuzz suite (tests/test_fuzz.py) found, pinned: each once gave a 500."""

from __future__ import annotations

import pytest

from controlpanel.core.text import plain_int


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("0", 0), ("", None), ("²", None), ("-1", None), (" 1", None), ("9" * 19, None), ("1e3", None)],
)
def test_plain_int_takes_only_ascii_digits(text, value):
    assert plain_int(text) == value


@pytest.mark.parametrize("source", ["abc", "²", "9" * 5000, "-1"])
def test_a_clone_link_with_a_bad_id_is_404(logged_in, account, source):
    assert logged_in.get("/deployments/new/together/", {"from": source}).status_code == 404


def test_team_switch_takes_next_as_a_url_never_a_view_name(logged_in, team):
    response = logged_in.post("/team/switch/", {"team": "²", "next": "99999"})
    assert response.status_code == 302
    assert response["Location"] == "99999"  # relative, same host: harmless, and no NoReverseMatch


def test_prices_ignore_a_count_that_is_no_number(logged_in, team):
    assert logged_in.get("/prices/", {"count": "²"}).status_code == 200


def test_sandbox_answers_deeply_nested_json_with_a_400(client, db):
    response = client.post(
        "/sandbox/together/v1/deployments",
        "[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sandbox-nested",
    )
    assert response.status_code == 400


def test_together_twin_refuses_a_secret_body_that_is_no_object(client, db):
    for body in ('"<script>"', "[1]", '{"name": ["x"], "value": "v"}'):
        response = client.post(
            "/sandbox/together/v1/deployments/secrets",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer sandbox-secret",
        )
        assert response.status_code == 400, body
