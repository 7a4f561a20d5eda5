"""Every answer carries the Content-Security-Policy, and no template needs more than it allows."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted((ROOT / "templates").rglob("*.html")) + sorted((ROOT / "controlpanel").rglob("templates/**/*.html"))


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_pages_carry_a_policy_of_the_panels_own_files(logged_in):
    response = logged_in.get("/")
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"


def test_anonymous_pages_and_errors_carry_it_too(client, db):
    for url in ("/accounts/login/", "/healthz", "/no-such-page/"):
        assert "frame-ancestors 'none'" in client.get(url)["Content-Security-Policy"], url


def test_no_template_has_inline_script_style_or_handlers():
    assert TEMPLATES, "found no templates: the pattern is stale"
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    style = re.compile(r"\sstyle\s*=|<style", re.IGNORECASE)
    # htmx evaluates trigger filters ("every 3s [cond]") and hx-on with Function(): eval.
    evaluated = re.compile(r'hx-trigger="[^"]*\[|hx-on|hx-vals=.js:|hx-vars', re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}: {pattern.pattern}"
        for path in TEMPLATES
        for pattern in (inline_script, handler, style, evaluated)
        if pattern.search(path.read_text())
    ]
    assert found == []


def test_htmx_may_not_eval(logged_in):
    content = logged_in.get("/").content.decode()
    assert '"allowEval":false' in content
    assert '"includeIndicatorStyles":false' in content  # htmx would add a <style> element
