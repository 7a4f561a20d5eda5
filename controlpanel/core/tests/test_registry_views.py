"""What the registry feeds on the Django side: the vendors' colours and the names in prose."""

from __future__ import annotations

from django.template import engines

from providers.registry import VENDORS


def test_vendor_css_has_one_rule_per_registry_row(client):
    response = client.get("/vendors.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = response.content.decode()
    for row in VENDORS:
        assert f".vendor-dot.v-{row.slug} {{ background: {row.colour}; }}" in body
    assert body.count(".vendor-dot.v-") == len(VENDORS)


def test_vendor_names_lists_every_vendor_once_for_prose():
    out = engines["django"].from_string("{% load panel %}{% vendor_names %}").render({})
    assert out == "Nosana, Together AI, Replicate, Fluence or Novita AI"
    assert (
        engines["django"]
        .from_string('{% load panel %}{% vendor_names "and" %}')
        .render({})
        .endswith("Fluence and Novita AI")
    )
