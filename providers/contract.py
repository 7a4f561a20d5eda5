"""Case data for the contract suite (``providers/tests/test_contract.py``).

One module per vendor, ``providers/<slug>/tests/contract.py``, exposes ``CASE``: what the
vendor's documentation says its API answers, as routes and bodies, with the source of each
body. The bodies come from the fixtures the vendor tests use (``providers.testing.
load_fixture``; each was built from the vendor's documented example or SDK type, see
``shared/vendor-apis/<vendor>.md`` §6) and from the vendor documents themselves — never
from the panel's twins (``controlpanel/vendors/*/twin.py``), or the suite would only prove
that an adapter agrees with itself.

Plain Python like the adapters (tests/test_layering.py): nothing here imports Django.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from providers.base import Action, RemoteState


@dataclass(frozen=True)
class Route:
    """One documented answer: ``method`` ``path`` (under the base URL, or a full URL)
    answers ``status`` with ``json`` (or ``text``). ``params`` narrows the match to a
    query (a page cursor, a page number); ``source`` names where the body comes from."""

    method: str
    path: str
    json: Any = None
    status: int = 200
    params: Mapping[str, str] | None = None
    text: str | None = None
    source: str = ""

    def has_body(self) -> bool:
        return self.json is not None or self.text is not None


@dataclass(frozen=True)
class Error:
    """A documented error answer: its body and where it is documented. ``status`` is the
    HTTP status it comes with when that differs from the case it stands for (Novita's
    not-found is a 400)."""

    json: Any = None
    text: str | None = None
    source: str = ""
    status: int | None = None


@dataclass(frozen=True)
class Expect:
    """What the ``Remote`` made of a documented answer must say."""

    external_id: str
    name: str
    state: RemoteState


@dataclass(frozen=True)
class Call:
    """One action: the routes it calls and its arguments beyond the external id."""

    routes: tuple[Route, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Find:
    """``find_by_name``: with ``routes`` served, ``name`` finds ``external_id`` (while a
    deleted resource of the same name is ignored), and ``gone`` (a name only a deleted
    resource has) finds nothing."""

    routes: tuple[Route, ...]
    name: str
    external_id: str
    gone: str


# How a vendor signals the next page of a list.
PAGING = ("none", "cursor", "next-url", "page-number")


@dataclass(frozen=True)
class Case:
    slug: str
    # The vendor's documented base URL and auth: the header the key goes in and its value.
    base_url: str
    key: str
    auth_header: str
    auth_value: str
    # A minimal valid spec (the vendor's documented create body, as the adapter takes it).
    spec: Mapping[str, Any]
    create: tuple[Route, ...]
    created: Expect
    get_id: str
    get: tuple[Route, ...]
    got: Expect
    # Every page of the list, in order (then any per-item reads the adapter makes, such as
    # a detail call per running deployment); ``listed`` the external ids, in order.
    paging: str
    listing: tuple[Route, ...]
    listed: tuple[str, ...]
    # The actions the vendor has (its docs' endpoint table), each with its routes.
    actions: Mapping[Action, Call]
    # Documented error bodies by HTTP status; a status the vendor does not document is
    # answered with a bare text body by the suite.
    errors: Mapping[int, Error]
    # The vendor's documented answer to a get of an id it does not know.
    not_found: Error
    find: Find
    # The status values the vendor documents, and where.
    statuses: tuple[str, ...]
    statuses_source: str
    # The routes that make ``get(get_id)`` see the vendor report ``status``.
    status_routes: Callable[[str], tuple[Route, ...]]
    # What ``get`` makes of a status the table does not know: UNKNOWN wherever the vendor
    # reports a status itself.
    unknown_state: RemoteState = RemoteState.UNKNOWN
    # Answers any call may need besides its own (public catalogs read for prices, the
    # account behind the key); served after the case's routes, so those win.
    background: tuple[Route, ...] = ()
    # Other readings of the paging that the vendor's documents leave open (a page index
    # counted from 0 or 1, a `next` link in another scheme): the same ``listed`` under each.
    list_readings: Mapping[str, tuple[Route, ...]] = field(default_factory=dict)
    # Other documented shapes of that not-found answer (an error object nested under
    # "error", a plain 404 for an unknown path): each is NotFound too.
    not_found_readings: Mapping[str, Error] = field(default_factory=dict)
    # Contract cases this vendor's adapter fails today (real bugs), by test function name,
    # with the reason: each runs as a strict xfail, so the fix turns it red until removed here.
    known_failures: Mapping[str, str] = field(default_factory=dict)

    def all_routes(self) -> list[Route]:
        routes = [*self.create, *self.get, *self.listing, *self.find.routes, *self.background]
        for call in self.actions.values():
            routes += call.routes
        for reading in self.list_readings.values():
            routes += reading
        return routes


def load_case(slug: str) -> Case:
    """The ``CASE`` of ``providers/<slug>/tests/contract.py``: the vendor's own folder."""
    module = importlib.import_module(f"providers.{slug}.tests.contract")
    case = module.CASE
    if not isinstance(case, Case) or case.slug != slug:
        raise TypeError(f"providers/{slug}/tests/contract.py must define CASE = Case(slug={slug!r}, ...)")
    return case


def url_for(base_url: str, path: str) -> str:
    return path if path.startswith(("http://", "https://")) else f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def serve(mock: respx.MockRouter, base_url: str, *groups: tuple[Route, ...] | list[Route]) -> list[respx.Route]:
    """Register ``groups`` of routes in order: where two routes match the same request
    the earlier wins (respx would let the later replace it). Within a group a route with
    ``params`` goes before one without, so a page-2 route is not shadowed by page 1.
    Returns the respx route behind each given route, in the order given."""
    seen: dict[tuple[str, str, tuple[tuple[str, str], ...] | None], respx.Route] = {}
    registered: list[respx.Route] = []
    for group in groups:
        for route in sorted(group, key=lambda r: r.params is None):
            url = url_for(base_url, route.path)
            params = tuple(sorted(route.params.items())) if route.params is not None else None
            key = (route.method.upper(), url, params)
            if key not in seen:
                pattern: dict[str, Any] = {"method": route.method, "url": url}
                if route.params is not None:
                    pattern["params"] = dict(route.params)
                seen[key] = mock.route(**pattern).mock(return_value=response(route))
        for route in group:
            params = tuple(sorted(route.params.items())) if route.params is not None else None
            registered.append(seen[(route.method.upper(), url_for(base_url, route.path), params)])
    return registered


def response(
    route: Route | Error, status: int | None = None, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    code = status if status is not None else getattr(route, "status", None) or 200
    if route.json is not None:
        return httpx.Response(code, json=copy.deepcopy(route.json), headers=headers)
    if route.text is not None:
        return httpx.Response(code, text=route.text, headers=headers)
    return httpx.Response(code, headers=headers)


def with_status(routes: tuple[Route, ...], key: str, status: str) -> tuple[Route, ...]:
    """``routes`` with the first route's body reporting ``status`` under ``key``."""
    first, *rest = routes
    body = copy.deepcopy(first.json)
    body[key] = status
    return (Route(first.method, first.path, body, first.status, first.params, first.text, first.source), *rest)
